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

use crate::data::InputSchema;
use crate::error::{Error, Result};
use crate::fsutil::{replace_dir_atomic, sha256_hex, write_atomic};
use crate::model::Model;
use crate::pipeline::FittedPipeline;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/versions.rs"));

/// Version of the package layout; a loader reads only its own version.
/// 2: tree ensembles carry their output rule (averaged or boosted), and
/// quantized models exist.
pub const FORMAT_VERSION: u32 = 2;
pub const MODEL_FILE: &str = "model.bin";
pub const METADATA_FILE: &str = "metadata.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub format_version: u32,
    pub optbench_version: String,
    pub created_utc: String,
    pub model: ModelInfo,
    pub training_data: TrainingData,
    /// Input columns, in order, with their kinds.
    pub features: InputSchema,
    pub classes: Vec<String>,
    /// Test-set figures measured by the run that chose this model.
    pub metrics: BTreeMap<String, f64>,
    pub crate_versions: BTreeMap<String, String>,
    pub model_file: FileInfo,
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

/// A loaded (or about to be saved) package.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub metadata: Metadata,
    pub schema: InputSchema,
    pub pipeline: FittedPipeline,
    pub model: Model,
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
        // Plain data with string keys: serialisation cannot fail.
        let meta =
            serde_json::to_string_pretty(&self.metadata).expect("metadata serialises") + "\n";
        replace_dir_atomic(dir, |tmp| {
            write_atomic(&tmp.join(MODEL_FILE), &bytes)?;
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
        payload
            .model
            .check()
            .map_err(|m| bad(format!("inconsistent model: {m}")))?;
        let n_in = payload.schema.features.len();
        if payload.pipeline.n_inputs() != n_in
            || payload.pipeline.n_outputs() != payload.model.n_features()
            || payload.model.n_classes() != metadata.classes.len()
            || metadata.features != payload.schema
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
        })
    }

    /// Serves one raw row: validate → preprocess → predict. `row_number` is
    /// used in error messages.
    pub fn predict_row(&self, row_number: usize, raw: &[f64]) -> Result<u32> {
        let features = self.features(row_number, raw)?;
        Ok(self.model.predict(&features, &mut self.model.scratch()))
    }

    /// Class probabilities for one raw row.
    pub fn predict_proba_row(&self, row_number: usize, raw: &[f64]) -> Result<Vec<f32>> {
        let features = self.features(row_number, raw)?;
        let mut proba = vec![0.0f32; self.model.n_classes()];
        self.model
            .predict_proba(&features, &mut self.model.scratch(), &mut proba);
        Ok(proba)
    }

    /// Validate → preprocess: the model's input for one raw row.
    fn features(&self, row_number: usize, raw: &[f64]) -> Result<Vec<f32>> {
        self.schema.validate_row(row_number, raw)?;
        let mut features = vec![0.0f32; self.pipeline.n_outputs()];
        self.pipeline.transform_row(raw, &mut features);
        Ok(features)
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
        let a = Artifact {
            metadata: Metadata {
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
                features: data.schema(),
                classes: data.classes.clone(),
                metrics: BTreeMap::new(),
                crate_versions: crate_versions(),
                model_file: FileInfo::default(),
            },
            schema: data.schema(),
            pipeline,
            model: t.model,
        };
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
        for i in 0..data.n_rows() {
            assert_eq!(
                a.predict_proba_row(i, data.row(i)).unwrap(),
                b.predict_proba_row(i, data.row(i)).unwrap()
            );
        }
        assert!(b.metadata.crate_versions.contains_key("smartcore"));
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
