//! Drift detection statistics (the analysis and the report follow).

pub mod ks;
pub mod stats;
