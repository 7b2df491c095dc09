//! How the library reports progress without printing: a small observer whose
//! methods do nothing by default (criterion's `Report` works the same way).
//! The CLI implements it with progress bars; tests and library users can pass
//! [`Silent`].

pub trait Progress: Sync {
    /// A new stage begins with `total` steps (0 when unknown).
    fn stage(&self, _name: &str, _total: u64) {}
    /// `n` more steps of the current stage are done.
    fn advance(&self, _n: u64) {}
    /// A line worth showing the user (e.g. which candidate finished).
    fn note(&self, _message: &str) {}
    /// The current stage is over.
    fn finish_stage(&self) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
