//! Command-line interface: clap definitions, progress bars and exit codes.
//!
//! Exit codes, one table for every subcommand (README, "Exit codes"): 0
//! success; 1 an error (bad input, I/O; the message names the file, line
//! and column, or the flag); 2 a usage error (clap); from 3 up, a finished
//! job whose result asks for action, each with its own code so that cron
//! and CI can tell them apart.

mod drift;
mod export;
mod import;
mod loadtest;
mod package;
mod progress;
mod run;
mod serve;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

pub const EXIT_ERROR: u8 = 1;
/// `run`, `import`: no candidate fits the budget (the report is written).
pub const EXIT_NOTHING_FITS: u8 = 3;
/// `run --serve-check`: fits in process, not as served.
pub const EXIT_SERVED_OVER_BUDGET: u8 = 4;
/// `drift`: drift found.
pub const EXIT_DRIFT: u8 = 5;
/// `drift`: too few rows to judge (the figures are written).
pub const EXIT_TOO_FEW_ROWS: u8 = 6;
/// `predict`: more rows rejected than `--max-rejected` allows (every row,
/// by default).
pub const EXIT_REJECTED: u8 = 7;

#[derive(Parser)]
#[command(
    name = "optbench",
    version,
    about = "Find the most accurate classifier that fits a latency budget, measured honestly, and package it for serving.",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train candidates, measure them, pick the best within the budget, write
    /// the report and package the chosen model.
    Run(run::RunArgs),
    /// Compare current data with a reference: which features drifted, how
    /// much, and whether to retrain (exit 0 no drift, 5 drift, 6 too few rows).
    Drift(drift::DriftArgs),
    /// Score a CSV file with a saved model package (validated against its schema).
    Predict(package::PredictArgs),
    /// Describe a saved model package (verifying it first).
    Inspect(package::InspectArgs),
    /// Time a saved model package on rows of a CSV file, as `run` measures.
    Bench(package::BenchArgs),
    /// Serve a saved model package over HTTP (Open Inference Protocol, plain JSON).
    Serve(serve::ServeArgs),
    /// Served latency under open-loop load: p50/p99 against offered rate,
    /// and where the time goes (client, network, server stages).
    Loadtest(loadtest::LoadtestArgs),
    /// (Internal) one cold start: load a package and predict one row, print the times as JSON.
    #[command(hide = true)]
    ColdStartProbe {
        model: std::path::PathBuf,
        input: std::path::PathBuf,
    },
    /// Write a packaged model in a standard format (ONNX).
    Export(export::ExportArgs),
    /// Measure, optimize and package a model trained elsewhere (ONNX), like optbench's own.
    Import(import::ImportArgs),
    /// Print a shell completion script (e.g. `optbench completions bash >
    /// ~/.local/share/bash-completion/completions/optbench`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (optbench.1 and one per subcommand) into a folder.
    Man {
        /// Folder to write into (created if needed).
        #[arg(long, value_name = "DIR", default_value = "man")]
        out: std::path::PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Drift(_)
            | Command::Predict(_)
            | Command::Inspect(_)
            | Command::Bench(_)
            | Command::Export(_)
            | Command::Completions { .. }
            | Command::Man { .. }
    ) {
        default_sigpipe();
    }
    match cli.command {
        Command::Run(args) => run::execute(args),
        Command::Drift(args) => drift::execute(args),
        Command::Predict(args) => package::predict(args),
        Command::Inspect(args) => package::inspect(args),
        Command::Bench(args) => package::bench(args),
        Command::Serve(args) => serve::execute(args),
        Command::Loadtest(args) => loadtest::execute(args),
        Command::ColdStartProbe { model, input } => {
            match optbench::run::cold_start_probe(&model, &input) {
                Ok(c) => {
                    println!("{}", serde_json::json!(c));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Export(args) => export::execute(args),
        Command::Import(args) => import::execute(args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "optbench", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { out } => match man_pages(&out) {
            Ok(n) => {
                println!("wrote {n} man pages into {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
    }
}

/// `optbench.1` and `optbench-<command>.1` for every visible subcommand,
/// each written atomically; the number written.
fn man_pages(out: &std::path::Path) -> Result<usize, optbench::Error> {
    let cmd = Cli::command();
    let mut pages = vec![("optbench.1".to_string(), clap_mangen::Man::new(cmd.clone()))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("optbench-{}", sub.get_name());
        let bin = format!("optbench {}", sub.get_name());
        let page = clap_mangen::Man::new(sub.clone().bin_name(bin)).title(name.clone());
        pages.push((format!("{name}.1"), page));
    }
    std::fs::create_dir_all(out).map_err(|e| optbench::Error::Io {
        path: out.into(),
        source: e,
    })?;
    for (file, page) in &pages {
        let mut text = Vec::new();
        let path = out.join(file);
        page.render(&mut text).map_err(|e| optbench::Error::Io {
            path: path.clone(),
            source: e,
        })?;
        optbench::fsutil::write_atomic(&path, &text)?;
    }
    Ok(pages.len())
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`optbench inspect
/// … | head`) panics; with the default action the process ends quietly, as
/// other command-line tools do. Not for the subcommands that hold sockets
/// (`serve`, `loadtest`, `run --serve-check`): a peer closing its end must
/// be an error there, not the end of the process.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: sets a signal's disposition to its default; called before
    // this process starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Standard input saved to a temporary file, for a `-` where a CSV is read
/// (the readers go over a file more than once: header first, then rows);
/// removed when dropped.
pub(crate) struct Stdin(std::path::PathBuf);

impl Stdin {
    /// `path` itself, or for `-` standard input saved under a temporary name
    /// (kept alive by the returned guard).
    pub(crate) fn resolve(
        path: &std::path::Path,
    ) -> Result<(std::path::PathBuf, Option<Stdin>), optbench::Error> {
        if path.as_os_str() != "-" {
            return Ok((path.to_path_buf(), None));
        }
        let tmp = std::env::temp_dir().join(format!("optbench-stdin-{}.csv", std::process::id()));
        let io = |e| optbench::Error::Io {
            path: "<stdin>".into(),
            source: e,
        };
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        let guard = Stdin(tmp.clone());
        std::io::copy(&mut std::io::stdin().lock(), &mut file).map_err(io)?;
        Ok((tmp, Some(guard)))
    }
}

impl Drop for Stdin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Prints an error the way every subcommand does.
pub(crate) fn fail(e: &optbench::Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_ERROR)
}
