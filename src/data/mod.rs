//! Tables and where they come from: CSV files, the synthetic
//! `make_classification` generator, seeded stratified splits, and the SHA-256
//! that identifies a training set.
//!
//! Uses nothing else in the crate. Key types: [`Dataset`] (raw feature values,
//! `NaN` for a missing cell, class indices), [`Split`] and [`InputSchema`] (what
//! a serving row must look like).

mod csv;
mod profile;
mod schema;
mod synthetic;

pub use self::csv::column_hint;
pub(crate) use self::csv::{csv_error, fields_message};
pub use self::csv::{
    open_csv, open_csv_with, read_csv, read_csv_with_schema, read_header, read_rows_with_schema,
    ColumnType, ColumnTypes, CrlfToLf, CsvReader, CsvTable,
};
pub use profile::{profile, CategoryCount, FeatureProfile, Quantile, PROFILE_QUANTILES};
pub use schema::{
    is_missing, FeatureKind, FeatureSpec, InputSchema, Invalid, Request, RequestForm, Value,
    MISSING_TOKENS,
};
pub use synthetic::SyntheticSpec;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The rows of a table as requests, row-major, `width` values a row.
#[derive(Debug, Clone)]
pub enum Requests<'a> {
    Cells(Vec<Value<'a>>, usize),
    Numbers(&'a [f64], usize),
}

impl<'a> Requests<'a> {
    /// Row `i`.
    #[inline(always)]
    pub fn row(&self, i: usize) -> Request<'_, 'a> {
        match self {
            Requests::Cells(v, w) => Request::Cells(&v[i * w..(i + 1) * w]),
            Requests::Numbers(v, w) => Request::Numbers(&v[i * w..(i + 1) * w]),
        }
    }

    pub fn n_rows(&self) -> usize {
        match self {
            Requests::Cells(v, w) => v.len() / w.max(&1),
            Requests::Numbers(v, w) => v.len() / w.max(&1),
        }
    }

    /// What the rows are.
    pub fn form(&self) -> RequestForm {
        match self {
            Requests::Cells(..) => RequestForm::Cells,
            Requests::Numbers(..) => RequestForm::Numbers,
        }
    }
}

/// A table of numeric and categorical features with a class target.
///
/// Numeric values are kept as `f64` exactly as read; a categorical cell holds
/// the index of its text in `levels[j]` (as an `f64`, so one matrix holds
/// every column); a missing cell is `NaN` in both. `y[i]` indexes `classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub feature_names: Vec<String>,
    pub kinds: Vec<FeatureKind>,
    /// For a categorical column, the distinct texts its cells index (in the
    /// order first met, or any order: the pipeline goes by the text); empty
    /// for a numeric column.
    pub levels: Vec<Vec<String>>,
    /// Row-major, `n_rows × n_features`.
    pub x: Vec<f64>,
    pub y: Vec<u32>,
    pub classes: Vec<String>,
}

impl Dataset {
    /// A table whose features are all numeric.
    pub fn numeric(
        feature_names: Vec<String>,
        x: Vec<f64>,
        y: Vec<u32>,
        classes: Vec<String>,
    ) -> Dataset {
        let d = feature_names.len();
        Dataset {
            feature_names,
            kinds: vec![FeatureKind::Numeric; d],
            levels: vec![Vec::new(); d],
            x,
            y,
            classes,
        }
    }

    /// The raw cells of row `i` as a serving request would carry them.
    pub fn raw_row<'a>(&'a self, i: usize, out: &mut Vec<Value<'a>>) {
        out.clear();
        for (j, &v) in self.row(i).iter().enumerate() {
            out.push(self.value(j, v));
        }
    }

    /// Every row's raw cells, row-major (the latency harness preloads these).
    pub fn raw_rows(&self) -> Vec<Value<'_>> {
        let mut out = Vec::with_capacity(self.x.len());
        for i in 0..self.n_rows() {
            for (j, &v) in self.row(i).iter().enumerate() {
                out.push(self.value(j, v));
            }
        }
        out
    }

    /// Every row as the request a client would send (the latency harness
    /// and batch measurement preload these): plain numbers when every column
    /// is numeric (the rows themselves), typed cells otherwise.
    pub fn requests(&self) -> Requests<'_> {
        let width = self.n_features();
        if self.kinds.iter().all(|&k| k == FeatureKind::Numeric) {
            Requests::Numbers(&self.x, width)
        } else {
            Requests::Cells(self.raw_rows(), width)
        }
    }

    #[inline]
    fn value(&self, j: usize, v: f64) -> Value<'_> {
        if v.is_nan() {
            Value::Missing
        } else {
            match self.kinds[j] {
                FeatureKind::Numeric => Value::Number(v),
                FeatureKind::Categorical => Value::Text(&self.levels[j][v as usize]),
            }
        }
    }

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
            kinds: self.kinds.clone(),
            levels: self.levels.clone(),
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

    /// SHA-256 over a canonical encoding of the table: feature names and
    /// kinds, class names, then every row's values (IEEE-754 bits, little
    /// endian, or a category's text) and label. The same rows give the same
    /// hash whatever file or generator they came from (and whatever order the
    /// categories were met in), and any changed cell changes it.
    pub fn sha256(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let put_str = |h: &mut sha2::Sha256, s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        h.update((self.n_features() as u64).to_le_bytes());
        for (n, k) in self.feature_names.iter().zip(&self.kinds) {
            put_str(&mut h, n);
            put_str(&mut h, &k.to_string());
        }
        h.update((self.n_classes() as u64).to_le_bytes());
        for c in &self.classes {
            put_str(&mut h, c);
        }
        for i in 0..self.n_rows() {
            for (j, v) in self.row(i).iter().enumerate() {
                // All NaNs hash alike: a missing cell is a missing cell.
                if v.is_nan() {
                    h.update(f64::NAN.to_bits().to_le_bytes());
                } else if self.kinds[j] == FeatureKind::Categorical {
                    put_str(&mut h, &self.levels[j][*v as usize]);
                } else {
                    h.update(v.to_bits().to_le_bytes());
                }
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
                .zip(&self.kinds)
                .map(|(n, &kind)| FeatureSpec {
                    name: n.clone(),
                    kind,
                })
                .collect(),
        }
    }
}

/// Where the data of a run came from, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    Synthetic(SyntheticSpec),
    Csv {
        path: PathBuf,
        test_fraction: f64,
    },
    TrainTest {
        train: PathBuf,
        test: PathBuf,
    },
    /// `optbench import`: the model's own file, the rows it is measured on,
    /// and (optionally) the rows it was trained on.
    Imported {
        model: PathBuf,
        test: PathBuf,
        train: Option<PathBuf>,
    },
}

/// A train/test split and its provenance.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
    pub source: DataSource,
    /// The label column's name (`y` for synthetic data).
    pub target: String,
    /// Columns read past because the config said `ignore`.
    pub ignored: Vec<String>,
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
        Dataset::numeric(
            vec!["a".into(), "b".into()],
            (0..n * 2).map(|v| v as f64).collect(),
            (0..n).map(|i| (i % 3 == 0) as u32).collect(),
            vec!["no".into(), "yes".into()],
        )
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
    fn categorical_cells_hash_by_text_and_serve_as_text() {
        let mut d = toy(3);
        d.kinds[1] = FeatureKind::Categorical;
        d.levels[1] = vec!["x".into(), "y".into(), "z".into()];
        d.x = vec![1.0, 0.0, 2.0, 2.0, 3.0, f64::NAN];
        let mut e = d.clone();
        // The same texts under other codes: the same table.
        e.levels[1] = vec!["z".into(), "x".into(), "y".into()];
        e.x = vec![1.0, 1.0, 2.0, 0.0, 3.0, f64::NAN];
        assert_eq!(d.sha256(), e.sha256());
        let mut row = Vec::new();
        e.raw_row(1, &mut row);
        assert_eq!(row, [Value::Number(2.0), Value::Text("z")]);
        assert_eq!(d.raw_rows()[4..], [Value::Number(3.0), Value::Missing]);
        assert_eq!(d.schema().features[1].kind, FeatureKind::Categorical);
    }
}
