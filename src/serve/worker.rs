//! The package being served, and one predictor per worker thread over it.
//!
//! A [`Predictor`] holds its own buffers and borrows the package; the
//! server keeps each worker thread's predictor beside the package it
//! borrows from ([`self_cell`] makes that pair a value), so a request
//! takes its thread's predictor without a lock and allocates nothing for
//! it. After a reload, a thread's next request finds its predictor over
//! the old package and makes a new one; the old package is freed when the
//! last request and predictor holding it are done.

use super::{OnInvalid, Options};
use crate::artifact::{Artifact, Predictor, ProfileChecks, ScoreOptions};
use crate::data::{FeatureProfile, Value};
use crate::error::{Error, Result};
use self_cell::self_cell;
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A package loaded, verified and compiled, with what serving needs
/// beside it.
pub(super) struct Loaded {
    pub artifact: Artifact,
    /// The first 12 hex digits of the model file's SHA-256.
    pub version: String,
    pub checks: ProfileChecks,
    /// The class an invalid row gets under `--on-invalid fallback`.
    pub fallback: Option<u32>,
    /// Reading, verifying, decoding and compiling (warming is timed apart).
    pub load_seconds: f64,
}

impl Loaded {
    /// Loads the package at `path` (verifying its format and SHA-256) and
    /// resolves the fallback class against its classes.
    pub fn open(path: &Path, options: &Options) -> Result<Loaded> {
        let started = Instant::now();
        let artifact = Artifact::load(path)?;
        let version: String = artifact
            .metadata
            .model_file
            .sha256
            .chars()
            .take(12)
            .collect();
        let checks = ProfileChecks::new(
            &artifact,
            ScoreOptions {
                strict: options.strict,
                ..Default::default()
            },
        );
        let fallback = match options.on_invalid {
            OnInvalid::Reject => None,
            OnInvalid::Fallback => Some(fallback_class(
                &artifact,
                options.fallback_class.as_deref(),
                path,
            )?),
        };
        Ok(Loaded {
            artifact,
            version,
            checks,
            fallback,
            load_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Predicts a row built from the training profile `n` times, so the
    /// first client request meets warm caches and a loaded page set.
    pub fn warm(&self, n: usize) {
        let artifact = &self.artifact;
        let row: Vec<Value<'_>> = artifact
            .metadata
            .training_profile
            .iter()
            .map(|p| match p {
                FeatureProfile::Numeric { mean, .. } => mean.map_or(Value::Missing, Value::Number),
                FeatureProfile::Categorical { categories, .. } => categories
                    .first()
                    .map_or(Value::Missing, |c| Value::Text(&c.value)),
            })
            .collect();
        let mut predictor = artifact.predictor();
        let mut proba = vec![0.0f32; artifact.metadata.classes.len()];
        for _ in 0..n {
            let _ = std::hint::black_box(predictor.predict_proba(&row, &mut proba));
        }
    }
}

/// The fallback class's index: `--fallback-class` when given (it must be
/// one of the package's classes), else the training majority class.
fn fallback_class(artifact: &Artifact, asked: Option<&str>, path: &Path) -> Result<u32> {
    let classes = &artifact.metadata.classes;
    if let Some(name) = asked {
        return classes
            .iter()
            .position(|c| c == name)
            .map(|k| k as u32)
            .ok_or_else(|| Error::Flag {
                flag: "--fallback-class".into(),
                message: format!(
                    "`{name}` is not a class of the package at {}; its classes are: {}",
                    path.display(),
                    classes.join(", ")
                ),
            });
    }
    let counts = &artifact.metadata.class_counts;
    if counts.len() != classes.len() {
        return Err(Error::Flag {
            flag: "--fallback-class".into(),
            message: format!(
                "the package at {} does not record its training class counts (it was written before they were), so it has no majority class; name the fallback class (one of: {})",
                path.display(),
                classes.join(", ")
            ),
        });
    }
    // The first of equally frequent classes, as `classes` orders them.
    let (k, _) = counts.iter().enumerate().fold(
        (0, 0),
        |best, (k, &c)| if c > best.1 { (k, c) } else { best },
    );
    Ok(k as u32)
}

type PredictorOf<'a> = Predictor<'a>;

self_cell!(
    /// A worker thread's predictor and the package it borrows from.
    struct Worker {
        owner: Arc<Loaded>,
        #[covariant]
        dependent: PredictorOf,
    }
);

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's predictor over `loaded`, making it first
/// when the thread has none, or one over another package.
pub(super) fn with_predictor<R>(
    loaded: &Arc<Loaded>,
    f: impl FnOnce(&Loaded, &mut Predictor<'_>) -> R,
) -> R {
    WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .is_some_and(|w| !Arc::ptr_eq(w.borrow_owner(), loaded))
        {
            *slot = None;
        }
        let worker =
            slot.get_or_insert_with(|| Worker::new(loaded.clone(), |l| l.artifact.predictor()));
        worker.with_dependent_mut(|owner, predictor| f(owner, predictor))
    })
}
