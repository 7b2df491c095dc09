//! Records, for artifact metadata, the versions of the crates that shape a
//! model (read from Cargo.lock) and of the compiler.

use std::io::Write;

const TRACKED: [&str; 9] = [
    "linfa",
    "linfa-logistic",
    "smartcore",
    "ndarray",
    "postcard",
    "zstd",
    "serde",
    "plotters",
    "statrs",
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
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}
