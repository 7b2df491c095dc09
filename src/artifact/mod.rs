//! The model package: everything needed to serve a model the way it was
//! measured, in one folder.
//!
//! ```text
//! <out>/model/
//!   model.bin       zstd(postcard({ schema, pipeline, model }))
//!   metadata.json   who, when, from which data, what it scored, and the
//!                   SHA-256 of model.bin (checked on every load)
//! ```
//!
//! Uses `data`, `pipeline`, `model`. Key types: [`Artifact`], [`Metadata`].
//! The folder is written atomically (filled under a temporary name, then
//! renamed), and a damaged, altered or newer-format package is refused.

mod columns;
mod describe;
mod reference;
mod score;

pub use columns::{score_columns, ColumnScores, Columns, RejectedRow};
pub use describe::{describe, describe_quantiles};
pub use reference::{ReferenceInfo, ReferenceSample, REFERENCE_FILE, REFERENCE_SAMPLE_ROWS};
pub use score::{
    predict_csv, score_csv, score_csv_with, ColumnNotes, PredictFiles, ProfileChecks, RowOutcome,
    ScoreOptions, ScoreSummary, Unusual,
};

use crate::data::{FeatureProfile, InputSchema, Invalid, Request, Value};
use crate::error::{Error, Result};
use crate::fsutil::{replace_dir_atomic, sha256_hex, write_atomic};
use crate::model::{CompiledModel, Model, Scratch};
use crate::pipeline::{FittedPipeline, RowPlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::build_info::{CRATE_VERSIONS, RUSTC_VERSION};

/// Version of the package layout; a loader reads only its own version.
/// 2: tree ensembles carry their output rule (averaged or boosted), and
/// quantized models exist. 3: categorical columns (one-hot steps in the
/// pipeline), the target's name, ignored columns and the training profile.
pub const FORMAT_VERSION: u32 = 3;
pub const MODEL_FILE: &str = "model.bin";
pub const METADATA_FILE: &str = "metadata.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub format_version: u32,
    pub optbench_version: String,
    pub created_utc: String,
    pub model: ModelInfo,
    pub training_data: TrainingData,
    /// The label column of the training data (a file to score may carry it;
    /// `predict` then also reports accuracy).
    pub target: String,
    /// Input columns, in order, with their kinds: the input schema.
    pub features: InputSchema,
    /// Columns the training data had but the config told optbench to ignore
    /// (ids, timestamps): read past when serving, never an "unknown column".
    pub ignored_columns: Vec<String>,
    /// The model's input after the pipeline: numeric columns by name,
    /// one-hot outputs as `column=category`.
    pub pipeline_outputs: Vec<String>,
    /// Per feature: training range and quantiles (numeric), categories seen
    /// and their counts (categorical), missing cells. For serving-time range
    /// checks and for monitoring.
    pub training_profile: Vec<FeatureProfile>,
    pub classes: Vec<String>,
    /// Training rows per class, in the order of `classes` (the majority
    /// class is `serve`'s default fallback). Empty in packages written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_counts: Vec<u64>,
    /// Test-set figures measured by the run that chose this model.
    pub metrics: BTreeMap<String, f64>,
    pub crate_versions: BTreeMap<String, String>,
    pub model_file: FileInfo,
    /// The training sample `drift` compares production data with; absent
    /// in packages written before packages carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_sample: Option<ReferenceInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub family: String,
    pub params: serde_json::Value,
    /// The candidate this model was derived from, and how (as in
    /// `results.json`).
    pub parent: Option<String>,
    pub transform: Option<serde_json::Value>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    pub sha256: String,
    pub rows: usize,
    pub source: serde_json::Value,
}

/// The model file of a package; [`Artifact::save`] fills it in (the
/// default is the placeholder before saving).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// zstd level the file was written with.
    pub zstd_level: i32,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    schema: InputSchema,
    pipeline: FittedPipeline,
    model: Model,
}

/// A loaded (or about to be saved) package. The model is kept in both its
/// forms: saved (written, described, exported) and compiled (what predicts),
/// made together by [`Artifact::new`] so that they cannot disagree.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub metadata: Metadata,
    pub schema: InputSchema,
    pub pipeline: FittedPipeline,
    model: Model,
    compiled: CompiledModel,
    /// Written by [`Artifact::save`] when set; [`Artifact::load`] leaves it
    /// on disk ([`ReferenceSample::load`] reads it).
    reference: Option<ReferenceSample>,
}

/// Versions recorded in every package: the compiler and the crates that
/// shape a model.
pub fn crate_versions() -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = CRATE_VERSIONS
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    m.insert("rustc".into(), RUSTC_VERSION.into());
    m
}

impl Artifact {
    /// A package of `model` (checked and compiled here) with its
    /// preprocessing and metadata.
    pub fn new(
        metadata: Metadata,
        schema: InputSchema,
        pipeline: FittedPipeline,
        model: Model,
    ) -> std::result::Result<Artifact, String> {
        let compiled = model.compile()?;
        Ok(Artifact {
            metadata,
            schema,
            pipeline,
            model,
            compiled,
            reference: None,
        })
    }

    /// Makes [`Artifact::save`] write `sample` into the package too.
    pub fn set_reference_sample(&mut self, sample: ReferenceSample) {
        self.reference = Some(sample);
    }

    /// The model as saved.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model's run-time form, compiled once when the package was made
    /// or loaded.
    pub fn compiled(&self) -> &CompiledModel {
        &self.compiled
    }

    /// Writes the package into `dir` (the model file compressed with zstd at
    /// `zstd_level`), replacing any package there only once the new one is
    /// complete. Fills in `metadata.model_file`.
    pub fn save(&mut self, dir: &Path, zstd_level: i32) -> Result<()> {
        let payload = Payload {
            schema: self.schema.clone(),
            pipeline: self.pipeline.clone(),
            model: self.model.clone(),
        };
        let raw = postcard::to_stdvec(&payload).map_err(|e| Error::Artifact {
            path: dir.into(),
            message: format!("cannot encode the model: {e}"),
        })?;
        let bytes = zstd::bulk::compress(&raw, zstd_level)
            .map_err(|e| Error::io(dir.join(MODEL_FILE), e))?;
        self.metadata.model_file = FileInfo {
            name: MODEL_FILE.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            zstd_level,
        };
        let reference = match &self.reference {
            Some(r) => {
                let bytes = r.encode(zstd_level)?;
                self.metadata.reference_sample = Some(ReferenceInfo {
                    file: REFERENCE_FILE.into(),
                    bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                    rows: r.n_rows(),
                    training_rows: r.training_rows,
                    seed: r.seed,
                });
                Some(bytes)
            }
            None => {
                self.metadata.reference_sample = None;
                None
            }
        };
        // Plain data with string keys: serialisation cannot fail.
        let meta =
            serde_json::to_string_pretty(&self.metadata).expect("metadata serialises") + "\n";
        replace_dir_atomic(dir, |tmp| {
            write_atomic(&tmp.join(MODEL_FILE), &bytes)?;
            if let Some(r) = &reference {
                write_atomic(&tmp.join(REFERENCE_FILE), r)?;
            }
            write_atomic(&tmp.join(METADATA_FILE), meta.as_bytes())
        })
    }

    /// Loads and verifies a package: format version, file hash, decoding and
    /// the consistency of schema, pipeline and model.
    pub fn load(dir: &Path) -> Result<Artifact> {
        let bad = |message: String| Error::Artifact {
            path: dir.into(),
            message,
        };
        let meta_path = dir.join(METADATA_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                bad(format!("no {METADATA_FILE}: not an optbench model folder"))
            }
            _ => Error::io(&meta_path, e),
        })?;
        // Look at the version before the rest, so a newer package gets the
        // right message rather than a field error.
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| bad(format!("{METADATA_FILE} is not valid JSON: {e}")))?
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad(format!("{METADATA_FILE} has no format_version")))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(bad(format!(
                "written in package format {version}, newer than this optbench reads ({FORMAT_VERSION}); upgrade optbench"
            )));
        }
        if version < u64::from(FORMAT_VERSION) {
            return Err(bad(format!(
                "written in package format {version}, older than this optbench reads ({FORMAT_VERSION}); re-run `optbench run` to package the model again"
            )));
        }
        let metadata: Metadata = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{METADATA_FILE} is malformed: {e}")))?;
        let model_path = dir.join(&metadata.model_file.name);
        let bytes = std::fs::read(&model_path).map_err(|e| Error::io(&model_path, e))?;
        let digest = sha256_hex(&bytes);
        if digest != metadata.model_file.sha256 {
            return Err(bad(format!(
                "{} is damaged or was altered: SHA-256 {digest}, metadata says {}",
                metadata.model_file.name, metadata.model_file.sha256
            )));
        }
        let raw = zstd::stream::decode_all(&bytes[..])
            .map_err(|e| bad(format!("cannot decompress the model: {e}")))?;
        let payload: Payload =
            postcard::from_bytes(&raw).map_err(|e| bad(format!("cannot decode the model: {e}")))?;
        let compiled = payload
            .model
            .compile()
            .map_err(|m| bad(format!("inconsistent model: {m}")))?;
        payload
            .pipeline
            .check()
            .map_err(|m| bad(format!("inconsistent pipeline: {m}")))?;
        let n_in = payload.schema.features.len();
        let names_agree = payload
            .pipeline
            .steps
            .iter()
            .zip(&payload.schema.features)
            .all(|(s, f)| s.name() == f.name)
            && metadata
                .training_profile
                .iter()
                .map(FeatureProfile::name)
                .eq(payload.schema.features.iter().map(|f| f.name.as_str()));
        if payload.pipeline.n_inputs() != n_in
            || payload.pipeline.n_outputs() != payload.model.n_features()
            || payload.model.n_classes() != metadata.classes.len()
            || metadata.features != payload.schema
            || metadata.pipeline_outputs != payload.pipeline.output_names()
            || !names_agree
        {
            return Err(bad(
                "schema, pipeline, model and metadata do not fit together".into(),
            ));
        }
        Ok(Artifact {
            metadata,
            schema: payload.schema,
            pipeline: payload.pipeline,
            model: payload.model,
            compiled,
            reference: None,
        })
    }

    /// An empty table typed like the training data (its categories are the
    /// ones training saw), for reading rows to serve or time.
    pub fn reference_table(&self) -> crate::data::Dataset {
        let m = &self.metadata;
        crate::data::Dataset {
            feature_names: self
                .schema
                .features
                .iter()
                .map(|f| f.name.clone())
                .collect(),
            kinds: self.schema.features.iter().map(|f| f.kind).collect(),
            levels: m
                .training_profile
                .iter()
                .map(|p| match p {
                    FeatureProfile::Categorical { categories, .. } => {
                        categories.iter().map(|c| c.value.clone()).collect()
                    }
                    FeatureProfile::Numeric { .. } => Vec::new(),
                })
                .collect(),
            x: Vec::new(),
            y: Vec::new(),
            classes: m.classes.clone(),
        }
    }

    /// A serving handle with its own buffers: after this, predicting a row
    /// allocates nothing.
    pub fn predictor(&self) -> Predictor<'_> {
        Predictor {
            artifact: self,
            plan: self.pipeline.row_plan(),
            features: vec![0.0; self.pipeline.n_outputs()],
            scratch: self.compiled.scratch(),
        }
    }
}

/// Serves raw rows through an artifact: validate → preprocess → predict,
/// the path `run` measured.
pub struct Predictor<'a> {
    artifact: &'a Artifact,
    plan: RowPlan<'a>,
    features: Vec<f32>,
    scratch: Scratch,
}

impl Predictor<'_> {
    /// Validate → preprocess: the model's input for one request.
    #[inline]
    fn prepare(&mut self, request: Request<'_, '_>) -> std::result::Result<(), Invalid> {
        // The pipeline's one-pass check refuses what the schema refuses
        // (`load` checked that they describe the same columns).
        self.plan.serve(request, &mut self.features)
    }

    /// The predicted class (an index into the package's `classes`) of a
    /// request in either form.
    #[inline]
    pub fn predict_request(
        &mut self,
        request: Request<'_, '_>,
    ) -> std::result::Result<u32, Invalid> {
        self.prepare(request)?;
        Ok(self
            .artifact
            .compiled
            .predict(&self.features, &mut self.scratch))
    }

    /// The predicted class and the class probabilities (into `proba`, one
    /// per class) of a request in either form: exactly what `predict` and
    /// the model's `predict_proba` give, so a served probability is the one
    /// measured in `run`.
    pub fn predict_proba_request(
        &mut self,
        request: Request<'_, '_>,
        proba: &mut [f32],
    ) -> std::result::Result<u32, Invalid> {
        self.prepare(request)?;
        Ok(self.predict_prepared(proba))
    }

    /// Validate → preprocess alone: the first half of
    /// [`Self::predict_proba_request`], for a caller that times the halves
    /// apart (`serve`'s stage metrics); [`Self::predict_prepared`] is the
    /// second.
    #[inline]
    pub fn prepare_request(
        &mut self,
        request: Request<'_, '_>,
    ) -> std::result::Result<(), Invalid> {
        self.prepare(request)
    }

    /// The class and probabilities of the request last prepared
    /// successfully by [`Self::prepare_request`].
    #[inline]
    pub fn predict_prepared(&mut self, proba: &mut [f32]) -> u32 {
        self.artifact
            .compiled
            .predict_with_proba(&self.features, &mut self.scratch, proba)
    }

    /// The predicted class of a row of typed cells (any schema).
    pub fn predict(&mut self, raw: &[Value<'_>]) -> std::result::Result<u32, Invalid> {
        self.predict_request(Request::Cells(raw))
    }

    /// The predicted class of a row of numbers, `NaN` for a missing value
    /// (all-numeric schemas; the faster form, see [`Request`]).
    pub fn predict_numbers(&mut self, row: &[f64]) -> std::result::Result<u32, Invalid> {
        self.predict_request(Request::Numbers(row))
    }

    /// [`Self::predict_proba_request`] for a row of typed cells.
    pub fn predict_proba(
        &mut self,
        raw: &[Value<'_>],
        proba: &mut [f32],
    ) -> std::result::Result<u32, Invalid> {
        self.predict_proba_request(Request::Cells(raw), proba)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SyntheticSpec;
    use crate::pipeline::PipelineConfig;
    use crate::train::{train, CandidateSpec, TrainData};

    fn artifact() -> (Artifact, crate::data::Dataset) {
        let data = SyntheticSpec {
            n_samples: 300,
            seed: 3,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let pipeline = FittedPipeline::fit(&data, &PipelineConfig::default()).unwrap();
        let x = pipeline.transform(&data);
        let spec = CandidateSpec::DecisionTree {
            max_depth: Some(4),
            min_samples_leaf: 1,
            class_weight: Default::default(),
        };
        let t = train(
            &spec,
            &TrainData {
                x: &x,
                n_features: 20,
                y: &data.y,
                n_classes: 2,
            },
            1,
        )
        .unwrap();
        let a = Artifact::new(
            Metadata {
                format_version: FORMAT_VERSION,
                optbench_version: "test".into(),
                created_utc: crate::timefmt::utc_now(),
                model: ModelInfo {
                    id: t.id,
                    family: "decision tree".into(),
                    params: spec.params(),
                    parent: None,
                    transform: None,
                    description: t.model.describe(),
                },
                training_data: TrainingData {
                    sha256: data.sha256(),
                    rows: data.n_rows(),
                    source: serde_json::Value::Null,
                },
                target: "y".into(),
                features: data.schema(),
                ignored_columns: Vec::new(),
                pipeline_outputs: pipeline.output_names(),
                training_profile: crate::data::profile(&data),
                classes: data.classes.clone(),
                class_counts: Vec::new(),
                metrics: BTreeMap::new(),
                crate_versions: crate_versions(),
                model_file: FileInfo::default(),
                reference_sample: None,
            },
            data.schema(),
            pipeline,
            t.model,
        )
        .unwrap();
        (a, data)
    }

    #[test]
    fn save_then_load_is_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, data) = artifact();
        a.save(&dir.path().join("model"), 3).unwrap();
        let b = Artifact::load(&dir.path().join("model")).unwrap();
        assert_eq!(a.metadata, b.metadata);
        assert_eq!((&a.pipeline, &a.model), (&b.pipeline, &b.model));
        let (mut pa, mut pb) = (a.predictor(), b.predictor());
        let (mut qa, mut qb) = ([0f32; 2], [0f32; 2]);
        let mut raw = Vec::new();
        for i in 0..data.n_rows() {
            data.raw_row(i, &mut raw);
            assert_eq!(
                pa.predict_proba(&raw, &mut qa).unwrap(),
                pb.predict_proba(&raw, &mut qb).unwrap()
            );
            assert_eq!(qa, qb);
            assert_eq!(pa.predict(&raw).unwrap(), pb.predict(&raw).unwrap());
            // The numeric form of the same row: the same class and bits.
            let numbers = data.row(i);
            assert_eq!(
                pb.predict_proba_request(Request::Numbers(numbers), &mut qb)
                    .unwrap(),
                pa.predict(&raw).unwrap()
            );
            assert_eq!(qa.map(f32::to_bits), qb.map(f32::to_bits));
            assert_eq!(pb.predict_numbers(numbers), pa.predict(&raw));
        }
        assert!(b.metadata.crate_versions.contains_key("argmin"));
    }

    #[test]
    fn altered_truncated_or_newer_packages_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model");
        let (mut a, _) = artifact();
        a.save(&path, 19).unwrap();
        let bin = path.join(MODEL_FILE);
        let bytes = std::fs::read(&bin).unwrap();
        std::fs::write(&bin, &bytes[..bytes.len() / 2]).unwrap();
        let e = Artifact::load(&path).unwrap_err().to_string();
        assert!(e.contains("damaged or was altered"), "{e}");
        std::fs::write(&bin, &bytes).unwrap();
        Artifact::load(&path).unwrap();

        let meta = path.join(METADATA_FILE);
        let text = std::fs::read_to_string(&meta).unwrap();
        std::fs::write(
            &meta,
            text.replace(
                &format!("\"format_version\": {FORMAT_VERSION}"),
                "\"format_version\": 99",
            ),
        )
        .unwrap();
        let e = Artifact::load(&path).unwrap_err().to_string();
        assert!(e.contains("package format 99, newer"), "{e}");
        std::fs::write(
            &meta,
            text.replace(
                &format!("\"format_version\": {FORMAT_VERSION}"),
                "\"format_version\": 1",
            ),
        )
        .unwrap();
        let e = Artifact::load(&path).unwrap_err().to_string();
        assert!(e.contains("package format 1, older"), "{e}");
        let e = Artifact::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not an optbench model folder"), "{e}");
    }
}
