//! Records, for artifact metadata and results.json, the versions of the
//! crates that shape a model (read from Cargo.lock), of the compiler, and
//! the git commit the binary was built from.

use std::io::Write;

const TRACKED: [&str; 7] = [
    "argmin", "ndarray", "postcard", "zstd", "serde", "plotters", "statrs",
];

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let lock = std::fs::read_to_string(format!("{dir}/Cargo.lock")).unwrap_or_default();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if TRACKED.contains(&n.as_str()) && !found.iter().any(|(f, _)| *f == n) {
                    found.push((n, v.trim_matches('"').to_string()));
                }
            }
        }
    }
    found.sort();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_else(|| "unknown".into());
    // The commit, when built from a git checkout with git installed.
    let commit = std::process::Command::new("git")
        .args(["-C", &dir, "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut f = std::fs::File::create(format!("{out}/versions.rs")).expect("write versions.rs");
    writeln!(
        f,
        "/// Crate versions this build was made with (from Cargo.lock)."
    )
    .unwrap();
    writeln!(f, "pub const CRATE_VERSIONS: &[(&str, &str)] = &[").unwrap();
    for (n, v) in &found {
        writeln!(f, "    ({n:?}, {v:?}),").unwrap();
    }
    writeln!(f, "];").unwrap();
    writeln!(f, "/// The compiler that built this binary.").unwrap();
    writeln!(
        f,
        "pub const RUSTC_VERSION: &str = {:?};",
        rustc_version.trim()
    )
    .unwrap();
    writeln!(
        f,
        "/// The git commit this binary was built from (`unknown` outside a checkout)."
    )
    .unwrap();
    writeln!(f, "pub const GIT_COMMIT: &str = {commit:?};").unwrap();
    println!("cargo:rerun-if-changed=Cargo.lock");
    // A new commit moves HEAD or the branch it names (loose or packed).
    for git in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(&dir).join(git).exists() {
            println!("cargo:rerun-if-changed={git}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
