//! The README and docs/ tell the truth about the CLI: every `optbench
//! <subcommand>` their shell blocks name exists, every `--flag` given to it
//! is one `optbench <subcommand> --help` lists, every relative link resolves
//! to a file in the repository, and none points outside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 7, "docs/ has {} pages", docs.len());
    out.extend(docs);
    out
}

/// The fenced blocks that hold commands: ```sh, ```bash, ```console or
/// unlabelled ones. Output (```text), configs and code are skipped.
fn shell_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Inside a fence: `Some(true)` for a shell block, `Some(false)` for another.
    let mut inside: Option<bool> = None;
    let mut block = String::new();
    for line in text.lines() {
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            inside = match inside {
                Some(true) => {
                    out.push(std::mem::take(&mut block));
                    None
                }
                Some(false) => None,
                None => Some(matches!(
                    lang.trim(),
                    "" | "sh" | "bash" | "console" | "shell"
                )),
            };
        } else if inside == Some(true) {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// Each command of a block: continuation lines joined (after a `\`, or an
/// indented line of `[--flag]`s continuing a synopsis), split at `|`, `;`,
/// `&&`, comments dropped.
fn commands(block: &str) -> Vec<Vec<String>> {
    let mut joined = String::new();
    for line in block.replace("\\\n", " ").lines() {
        let t = line.trim_start();
        if line.starts_with(' ') && (t.starts_with('[') || t.starts_with("--")) {
            joined.push(' ');
        } else if !joined.is_empty() {
            joined.push('\n');
        }
        joined.push_str(line);
    }
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or("");
        // A pipe or `;` between commands has spaces around it; `bh|bonferroni`
        // in a synopsis is one word.
        for part in line
            .split(" | ")
            .flat_map(|p| p.split("; "))
            .flat_map(|p| p.split("&&"))
        {
            let words: Vec<String> = part.split_whitespace().map(str::to_string).collect();
            if !words.is_empty() {
                out.push(words);
            }
        }
    }
    out
}

/// The subcommand and the flags of an optbench invocation in `words`:
/// `optbench SUB …`, `target/release/optbench SUB …` or `cargo run … -- SUB …`.
fn invocation(words: &[String]) -> Option<(String, Vec<String>)> {
    let start = words
        .iter()
        .position(|w| w == "optbench" || w.ends_with("/optbench"));
    let start = match start {
        Some(i) => i + 1,
        None if words.first().is_some_and(|w| w == "cargo")
            && words.get(1).is_some_and(|w| w == "run")
            && !words
                .iter()
                .any(|w| w == "--example" || w == "--manifest-path") =>
        {
            words.iter().position(|w| w == "--")? + 1
        }
        None => return None,
    };
    let sub = words.get(start)?.clone();
    let flags = words[start + 1..]
        .iter()
        .map(|w| w.trim_start_matches('['))
        .filter(|w| w.starts_with("--"))
        .map(|w| {
            w.split(['=', ']'])
                .next()
                .unwrap_or(w)
                .trim_end_matches(',')
                .to_string()
        })
        .filter(|f| f.len() > 2)
        .collect();
    Some((sub, flags))
}

fn help(sub: &str) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_optbench"))
        .args([sub, "--help"])
        .output()
        .expect("run optbench");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let next = help[i + flag.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_subcommand_and_flag_the_docs_name_exists() {
    let mut helps: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut checked = 0;
    let mut problems = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for block in shell_blocks(&text) {
            for words in commands(&block) {
                let Some((sub, flags)) = invocation(&words) else {
                    continue;
                };
                if sub.starts_with('-') {
                    continue; // `optbench --help`, `--version`
                }
                let help = helps.entry(sub.clone()).or_insert_with(|| help(&sub));
                let Some(help) = help else {
                    problems.push(format!("{name}: `optbench {sub}` is not a subcommand"));
                    continue;
                };
                for f in flags {
                    checked += 1;
                    if f != "--help" && !lists_flag(help, &f) {
                        problems.push(format!(
                            "{name}: `optbench {sub} {f}` — `optbench {sub} --help` has no {f}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked > 40,
        "only {checked} flags found: is the extraction broken?"
    );
    for sub in ["run", "predict", "drift", "export", "import", "serve"] {
        assert!(
            helps.contains_key(sub),
            "the docs show no `optbench {sub}` command"
        );
    }
}

/// `[text](target)` links of a Markdown page.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find(')') {
            out.push(rest[..j].to_string());
        }
    }
    out
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let repo = root().canonicalize().unwrap();
    let mut problems = Vec::new();
    for page in pages().into_iter().chain([root().join("BENCHMARKS.md")]) {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for bad in ["../shared", "CRATES.md"] {
            if text.contains(bad) {
                problems.push(format!(
                    "{name} mentions `{bad}`, which is not in the repository"
                ));
            }
        }
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with('#')
            {
                continue;
            }
            let file = link.split('#').next().unwrap();
            let target = page.parent().unwrap().join(file);
            match target.canonicalize() {
                Ok(t) if t.starts_with(&repo) => {}
                Ok(t) => problems.push(format!(
                    "{name}: `{link}` leaves the repository ({})",
                    t.display()
                )),
                Err(_) => problems.push(format!("{name}: `{link}` does not exist")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_is_short_and_its_test_command_is_what_ci_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 200,
        "README.md has {} lines",
        readme.lines().count()
    );
    assert!(readme.contains("```sh\ncargo run --release -- run --budget-ms 50\n```"));
    assert!(readme.contains("```sh\ncargo test\n```"));
    assert!(readme.contains("cargo install --path ."));
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run no longer runs the README's `cargo test`"
    );
}

#[test]
fn the_extraction_sees_what_it_should() {
    let blocks = shell_blocks("```sh\noptbench run --out x \\\n  --seed 1\n```\n```toml\nx = 1\n```\n```text\noptbench nope\n```\n");
    assert_eq!(blocks.len(), 1);
    let cmds = commands(&blocks[0]);
    assert_eq!(
        invocation(&cmds[0]),
        Some(("run".into(), vec!["--out".into(), "--seed".into()]))
    );
    let w: Vec<String> = "cargo run --release -- predict [--proba] --model=d"
        .split(' ')
        .map(str::to_string)
        .collect();
    assert_eq!(
        invocation(&w),
        Some(("predict".into(), vec!["--proba".into(), "--model".into()]))
    );
    assert!(lists_flag("  --out <DIR>", "--out"));
    assert!(!lists_flag("  --output <DIR>", "--out"));
}
