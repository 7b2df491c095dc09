//! Progress bars (indicatif) behind the library's `Progress` observer; on
//! a standard error that is not a terminal (a log file, CI), plain lines
//! instead: a hidden bar would swallow the notes too.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    /// Plain lines: the stage under way and when it began.
    plain: Option<Mutex<Option<(String, Instant)>>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            bar: Mutex::new(None),
            plain: (!std::io::stderr().is_terminal()).then(|| Mutex::new(None)),
        }
    }

    /// Ends the plain stage under way with its time.
    fn end_plain(stage: &mut Option<(String, Instant)>) {
        if let Some((name, started)) = stage.take() {
            eprintln!("{name}: done in {:.1} s", started.elapsed().as_secs_f64());
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Option<ProgressBar>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update;
        // the bar itself is still usable.
        let mut guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl optbench::progress::Progress for Bars {
    fn stage(&self, name: &str, total: u64) {
        if let Some(p) = &self.plain {
            let mut stage = p.lock().unwrap_or_else(|e| e.into_inner());
            Bars::end_plain(&mut stage);
            if total > 0 {
                eprintln!("{name} ({total})…");
            } else {
                eprintln!("{name}…");
            }
            *stage = Some((name.to_string(), Instant::now()));
            return;
        }
        self.with(|b| {
            if let Some(old) = b.take() {
                old.finish_and_clear();
            }
            let bar = if total > 0 {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            } else {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            };
            bar.set_message(name.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            *b = Some(bar);
        });
    }

    fn advance(&self, n: u64) {
        self.with(|b| {
            if let Some(bar) = b {
                bar.inc(n);
            }
        });
    }

    fn note(&self, message: &str) {
        if self.plain.is_some() {
            eprintln!("  {message}");
            return;
        }
        self.with(|b| match b {
            Some(bar) => bar.println(format!("  {message}")),
            None => eprintln!("  {message}"),
        });
    }

    fn finish_stage(&self) {
        if let Some(p) = &self.plain {
            Bars::end_plain(&mut p.lock().unwrap_or_else(|e| e.into_inner()));
            return;
        }
        self.with(|b| {
            if let Some(bar) = b.take() {
                bar.finish_and_clear();
            }
        });
    }
}
