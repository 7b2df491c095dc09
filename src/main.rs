//! The `optbench` binary: parse, call the library, map the outcome to an
//! exit code. No logic of its own.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
