//! The reference sample a package carries for monitoring: a seeded sample of
//! the training rows, raw (before the pipeline), with the package's own
//! predictions on them, and its predictions on a sample of the held-out
//! test rows. `optbench drift --model PKG` compares production data with it
//! when the training file is no longer at hand.
//!
//! Production features are compared with the training rows (what the model
//! learned from); production predictions with the held-out predictions,
//! because a model is more confident on the rows it was fitted to than on
//! any new row — a forest's predictions on its own training rows differ
//! from its predictions on fresh rows of the same law, which would read as
//! prediction drift on every window. The predictions on the training rows
//! serve to check that the package still scores as it did when it was made.
//!
//! ```text
//! reference.bin   zstd(postcard(ReferenceSample)), its SHA-256 in
//!                 metadata.json's `reference_sample`
//! ```
//!
//! The file is read only by `drift` (serving never pays for it) and checked
//! against its hash when read.

use super::{Artifact, Metadata};
use crate::data::{Dataset, FeatureKind};
use crate::error::{Error, Result};
use crate::fsutil::sha256_hex;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const REFERENCE_FILE: &str = "reference.bin";
/// Rows kept at most. A KS test on 10,000 reference rows has the power of
/// the full training set for any current window up to a few thousand rows,
/// and the file stays a fraction of a megabyte to a few megabytes.
pub const REFERENCE_SAMPLE_ROWS: usize = 10_000;
/// Mixed into the run's seed so that the sample does not reuse the split's
/// random stream.
const SAMPLE_STREAM: u64 = 0x7265_6665_7265_6e63; // "referenc"

/// What `metadata.json` says about `reference.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceInfo {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// Rows in the sample.
    pub rows: usize,
    /// Rows of the training set it was drawn from (uniformly, without
    /// replacement; every row when there were at most
    /// [`REFERENCE_SAMPLE_ROWS`]).
    pub training_rows: usize,
    pub seed: u64,
}

/// The sample itself: the training rows as read (numbers as `f64`, a
/// categorical cell as the index of its text in `levels`, `NaN` for a
/// missing cell), their labels, and what the package predicted for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSample {
    /// Rows of the training set the sample was drawn from.
    pub training_rows: usize,
    pub seed: u64,
    pub feature_names: Vec<String>,
    pub kinds: Vec<FeatureKind>,
    pub levels: Vec<Vec<String>>,
    /// Row-major, `rows × features`.
    pub x: Vec<f64>,
    /// Index into the package's classes.
    pub labels: Vec<u32>,
    pub predicted: Vec<u32>,
    /// Row-major, `rows × classes`.
    pub proba: Vec<f32>,
    /// Up to as many held-out test rows (their features are not kept):
    /// their labels, the package's predictions and its probabilities,
    /// row-major.
    pub holdout_labels: Vec<u32>,
    pub holdout_predicted: Vec<u32>,
    pub holdout_proba: Vec<f32>,
}

impl ReferenceSample {
    /// Up to `max_rows` rows of `train` drawn with `seed`, in their training
    /// order, with `artifact`'s predictions on them, and its predictions on
    /// up to `max_rows` rows of `holdout`. `train` and `holdout` are the
    /// data the package's model was fitted and tested on (their classes are
    /// the package's).
    pub fn draw(
        artifact: &Artifact,
        train: &Dataset,
        holdout: &Dataset,
        max_rows: usize,
        seed: u64,
    ) -> Result<ReferenceSample> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SAMPLE_STREAM);
        let part = train.subset(&pick(&mut rng, train.n_rows(), max_rows));
        let (predicted, proba) = score(artifact, &part)?;
        let held = holdout.subset(&pick(&mut rng, holdout.n_rows(), max_rows));
        let (holdout_predicted, holdout_proba) = score(artifact, &held)?;
        Ok(ReferenceSample {
            training_rows: train.n_rows(),
            seed,
            feature_names: part.feature_names,
            kinds: part.kinds,
            levels: part.levels,
            x: part.x,
            labels: part.y,
            predicted,
            proba,
            holdout_labels: held.y,
            holdout_predicted,
            holdout_proba,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// The file's bytes at `zstd_level`.
    pub(super) fn encode(&self, zstd_level: i32) -> Result<Vec<u8>> {
        let raw = postcard::to_stdvec(self).map_err(|e| Error::Artifact {
            path: REFERENCE_FILE.into(),
            message: format!("cannot encode the reference sample: {e}"),
        })?;
        zstd::bulk::compress(&raw, zstd_level).map_err(|e| Error::io(REFERENCE_FILE, e))
    }

    /// Reads and verifies the sample of the package in `dir`, whose metadata
    /// is `metadata`; `Ok(None)` when the package has none (written before
    /// packages carried one).
    pub fn load(dir: &Path, metadata: &Metadata) -> Result<Option<ReferenceSample>> {
        let Some(info) = &metadata.reference_sample else {
            return Ok(None);
        };
        let bad = |message: String| Error::Artifact {
            path: dir.into(),
            message,
        };
        let path = dir.join(&info.file);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let digest = sha256_hex(&bytes);
        if digest != info.sha256 {
            return Err(bad(format!(
                "{} is damaged or was altered: SHA-256 {digest}, metadata says {}",
                info.file, info.sha256
            )));
        }
        let raw = zstd::stream::decode_all(&bytes[..])
            .map_err(|e| bad(format!("cannot decompress {}: {e}", info.file)))?;
        let s: ReferenceSample = postcard::from_bytes(&raw)
            .map_err(|e| bad(format!("cannot decode {}: {e}", info.file)))?;
        let d = s.feature_names.len();
        let k = metadata.classes.len();
        let fits = s.kinds.len() == d
            && s.levels.len() == d
            && s.x.len() == s.n_rows() * d
            && s.predicted.len() == s.n_rows()
            && s.proba.len() == s.n_rows() * k
            && s.holdout_proba.len() == s.holdout_predicted.len() * k
            && s.holdout_labels.len() == s.holdout_predicted.len()
            && s.n_rows() == info.rows
            && s.training_rows == info.training_rows
            && s.feature_names
                .iter()
                .eq(metadata.features.features.iter().map(|f| &f.name))
            && s.labels
                .iter()
                .chain(&s.predicted)
                .all(|&c| (c as usize) < k);
        if !fits {
            return Err(bad(format!(
                "{} does not fit the package's schema and classes",
                info.file
            )));
        }
        Ok(Some(s))
    }

    /// The sample as a table (for scoring it again).
    pub fn dataset(&self, classes: &[String]) -> Dataset {
        Dataset {
            feature_names: self.feature_names.clone(),
            kinds: self.kinds.clone(),
            levels: self.levels.clone(),
            x: self.x.clone(),
            y: self.labels.clone(),
            classes: classes.to_vec(),
        }
    }
}

/// `max_rows` of `0..n` drawn without replacement (all of them when there
/// are no more), in order.
fn pick(rng: &mut ChaCha8Rng, n: usize, max_rows: usize) -> Vec<usize> {
    let mut rows: Vec<usize> = if n <= max_rows {
        (0..n).collect()
    } else {
        sample(rng, n, max_rows).into_vec()
    };
    rows.sort_unstable();
    rows
}

/// The package's class and probabilities for every row of `data`.
fn score(artifact: &Artifact, data: &Dataset) -> Result<(Vec<u32>, Vec<f32>)> {
    let k = artifact.metadata.classes.len();
    let requests = data.requests();
    let mut predictor = artifact.predictor();
    let mut predicted = Vec::with_capacity(data.n_rows());
    let mut proba = vec![0f32; data.n_rows() * k];
    for (i, p) in proba.chunks_exact_mut(k).enumerate() {
        // Rows the package was fitted or tested on pass its checks; a
        // failure here is a bug, reported as the row it happened on.
        let class = predictor
            .predict_proba_request(requests.row(i), p)
            .map_err(|e| e.to_error(&artifact.schema, i + 1))?;
        predicted.push(class);
    }
    Ok((predicted, proba))
}
