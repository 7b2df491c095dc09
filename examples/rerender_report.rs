//! Rebuilds a run's `report.html` and `pareto.svg` from its `results.json`
//! without measuring again: `cargo run --example rerender_report -- DIR`.

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: rerender_report DIR   (a run's output folder, with results.json)");
        return std::process::ExitCode::from(2);
    };
    let dir = std::path::Path::new(&dir);
    let done = optbench::report::read_json(&dir.join("results.json"))
        .and_then(|r| optbench::report::write_all(dir, &r));
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
