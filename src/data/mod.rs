//! Tables and where they come from: CSV files, the synthetic
//! `make_classification` generator, seeded stratified splits, and the SHA-256
//! that identifies a training set.
//!
//! Uses nothing else in the crate. Key types: [`Dataset`] (raw feature values,
//! `NaN` for a missing cell, class indices), [`Split`] and [`InputSchema`] (what
//! a serving row must look like).

mod csv;
mod synthetic;

pub(crate) use self::csv::{csv_error, is_missing};
pub use self::csv::{read_csv, read_csv_with_classes, CsvTable};
pub use synthetic::SyntheticSpec;

use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A table of numeric features with a class target.
///
/// Values are kept as `f64` exactly as read; a missing cell is `NaN`.
/// `y[i]` indexes `classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub feature_names: Vec<String>,
    /// Row-major, `n_rows × n_features`.
    pub x: Vec<f64>,
    pub y: Vec<u32>,
    pub classes: Vec<String>,
}

impl Dataset {
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.n_features();
        &self.x[i * d..(i + 1) * d]
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(indices.len() * self.n_features());
        for &i in indices {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            feature_names: self.feature_names.clone(),
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// Rows per class, indexed like `classes`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &c in &self.y {
            counts[c as usize] += 1;
        }
        counts
    }

    /// SHA-256 over a canonical encoding of the table: feature names, class
    /// names, then every row's values (IEEE-754 bits, little endian) and label.
    /// The same rows give the same hash whatever file or generator they came
    /// from, and any changed cell changes it.
    pub fn sha256(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let put_str = |h: &mut sha2::Sha256, s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        h.update((self.n_features() as u64).to_le_bytes());
        for n in &self.feature_names {
            put_str(&mut h, n);
        }
        h.update((self.n_classes() as u64).to_le_bytes());
        for c in &self.classes {
            put_str(&mut h, c);
        }
        for i in 0..self.n_rows() {
            for v in self.row(i) {
                // All NaNs hash alike: a missing cell is a missing cell.
                let bits = if v.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    v.to_bits()
                };
                h.update(bits.to_le_bytes());
            }
            h.update(self.y[i].to_le_bytes());
        }
        crate::fsutil::hex(&h.finalize())
    }

    /// The serving schema of this table's features.
    pub fn schema(&self) -> InputSchema {
        InputSchema {
            features: self
                .feature_names
                .iter()
                .map(|n| FeatureSpec {
                    name: n.clone(),
                    kind: FeatureKind::Numeric,
                })
                .collect(),
        }
    }
}

/// What kind of values a feature column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: FeatureKind,
}

/// What a row must look like to be served: one value per feature, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSchema {
    pub features: Vec<FeatureSpec>,
}

impl InputSchema {
    /// Checks one raw row. `NaN` means missing and is allowed (the pipeline
    /// imputes it); infinities are not. Never allocates on success: this runs
    /// on every served request.
    pub fn validate_row(&self, row_number: usize, row: &[f64]) -> Result<()> {
        if row.len() != self.features.len() {
            return Err(Error::Input {
                row: row_number,
                column: "*".into(),
                message: format!(
                    "expected {} values, found {}",
                    self.features.len(),
                    row.len()
                ),
            });
        }
        for (v, f) in row.iter().zip(&self.features) {
            if v.is_infinite() {
                return Err(Error::Input {
                    row: row_number,
                    column: f.name.clone(),
                    message: format!("expected a finite number, found {v}"),
                });
            }
        }
        Ok(())
    }
}

/// Where the data of a run came from, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    Synthetic(SyntheticSpec),
    Csv { path: PathBuf, test_fraction: f64 },
    TrainTest { train: PathBuf, test: PathBuf },
}

/// A train/test split and its provenance.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
    pub source: DataSource,
}

/// Seeded stratified split: each class is shuffled and `test_fraction` of it
/// (rounded, at least one row when the class has two or more) goes to the test
/// set, so small classes are represented on both sides. Rows keep their
/// original relative order within each side.
pub fn stratified_split(data: &Dataset, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.n_classes()];
    for (i, &c) in data.y.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    let mut is_test = vec![false; data.n_rows()];
    for rows in &mut by_class {
        rows.shuffle(&mut rng);
        let mut k = (rows.len() as f64 * test_fraction).round() as usize;
        if rows.len() >= 2 {
            k = k.clamp(1, rows.len() - 1);
        } else {
            k = 0;
        }
        for &i in &rows[..k] {
            is_test[i] = true;
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..data.n_rows()).partition(|&i| is_test[i]);
    (data.subset(&train), data.subset(&test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        Dataset {
            feature_names: vec!["a".into(), "b".into()],
            x: (0..n * 2).map(|v| v as f64).collect(),
            y: (0..n).map(|i| (i % 3 == 0) as u32).collect(),
            classes: vec!["no".into(), "yes".into()],
        }
    }

    #[test]
    fn split_is_stratified_seeded_and_complete() {
        let d = toy(300);
        let (tr, te) = stratified_split(&d, 0.2, 7);
        assert_eq!(tr.n_rows() + te.n_rows(), 300);
        assert_eq!(te.class_counts(), vec![40, 20]);
        let (tr2, te2) = stratified_split(&d, 0.2, 7);
        assert_eq!((&tr, &te), (&tr2, &te2));
        let (_, te3) = stratified_split(&d, 0.2, 8);
        assert_ne!(te2, te3);
    }

    #[test]
    fn hash_changes_with_any_cell_and_ignores_nan_payload() {
        let d = toy(10);
        let mut e = d.clone();
        e.x[7] += 1e-9;
        assert_ne!(d.sha256(), e.sha256());
        let mut a = d.clone();
        let mut b = d.clone();
        a.x[0] = f64::NAN;
        b.x[0] = -f64::NAN;
        assert_eq!(a.sha256(), b.sha256());
    }

    #[test]
    fn validation_names_the_column() {
        let s = toy(1).schema();
        s.validate_row(1, &[1.0, f64::NAN]).unwrap();
        let e = s.validate_row(3, &[1.0, f64::INFINITY]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 3, column `b`: expected a finite number, found inf"
        );
        assert!(s.validate_row(1, &[1.0]).is_err());
    }
}
