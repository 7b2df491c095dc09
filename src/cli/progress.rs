//! Progress bars (indicatif) behind the library's `Progress` observer.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            bar: Mutex::new(None),
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
        self.with(|b| match b {
            Some(bar) => bar.println(format!("  {message}")),
            None => eprintln!("  {message}"),
        });
    }

    fn finish_stage(&self) {
        self.with(|b| {
            if let Some(bar) = b.take() {
                bar.finish_and_clear();
            }
        });
    }
}
