//! `optbench bench` and `optbench bench --cold-start`: a saved package's
//! latency on the rows of a CSV file, measured by the same harness as a
//! run, and its cold start in fresh processes.
//!
//! Uses `artifact`, `data` and `measure`. Key types: [`BenchOutcome`],
//! [`ColdStart`].

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::measure::{measure_latency, MonotonicClock, Nanos, Subject};
use crate::progress::Progress;

/// What `optbench bench` measured on a saved package.
#[derive(Debug, Clone)]
pub struct BenchOutcome {
    pub rows: usize,
    /// Accuracy on the rows, when the file has the target column, beside
    /// the accuracy the package recorded.
    pub accuracy: Option<f64>,
    pub recorded_accuracy: Option<f64>,
    pub latency: crate::measure::LatencyRun,
    /// Load (read, check SHA-256, decompress, decode, check) of the whole
    /// package, median of `load_repeats`.
    pub load: Nanos,
}

/// `optbench bench`: the latency measurement of `run`, on a saved package,
/// with the rows of `input` (read as the package's schema types them).
pub fn bench_artifact(
    dir: &std::path::Path,
    input: &std::path::Path,
    settings: &crate::measure::MeasureSettings,
    seed: u64,
    progress: &dyn Progress,
) -> Result<BenchOutcome> {
    settings.validate().map_err(Error::Measure)?;
    let mut loads = Vec::with_capacity(settings.load_repeats);
    let mut artifact = Artifact::load(dir)?;
    for _ in 0..settings.load_repeats {
        let t = std::time::Instant::now();
        artifact = Artifact::load(dir)?;
        loads.push(t.elapsed().as_nanos() as u64);
    }
    loads.sort_unstable();
    let table = crate::data::read_rows_with_schema(
        input,
        &artifact.metadata.target,
        &artifact.reference_table(),
        &artifact.metadata.ignored_columns,
    )?;
    let rows = &table.data;
    let x = artifact.pipeline.transform(rows);
    let accuracy = table.labelled.then(|| {
        let mut pred = Vec::with_capacity(rows.n_rows());
        artifact.compiled().predict_batch(&x, &mut pred);
        crate::measure::accuracy(&rows.y, &pred)
    });
    let subject = Subject {
        schema: &artifact.schema,
        pipeline: &artifact.pipeline,
        model: artifact.model(),
        compiled: artifact.compiled(),
    };
    let latency = measure_latency(
        &[subject],
        rows,
        &x,
        settings,
        seed,
        &MonotonicClock::default(),
        progress,
    )?;
    Ok(BenchOutcome {
        rows: rows.n_rows(),
        accuracy,
        recorded_accuracy: artifact.metadata.metrics.get("accuracy").copied(),
        latency,
        load: Nanos(loads.get(loads.len() / 2).copied().unwrap_or(0)),
    })
}

/// Cold start of a package, measured inside a fresh process: from before
/// reading the package to after its first prediction on the first row of
/// `input` (read before the clock starts). `optbench bench --cold-start N`
/// runs this in N fresh processes.
pub fn cold_start_probe(dir: &std::path::Path, input: &std::path::Path) -> Result<ColdStart> {
    // The row is read with a throwaway load of the metadata only, so the
    // timed part is the package load itself.
    let text = std::fs::read_to_string(dir.join(crate::artifact::METADATA_FILE))
        .map_err(|e| Error::io(dir, e))?;
    let meta: crate::artifact::Metadata =
        serde_json::from_str(&text).map_err(|e| Error::Artifact {
            path: dir.into(),
            message: format!("metadata.json is malformed: {e}"),
        })?;
    let (mut rdr, header) = crate::data::open_csv(input)?;
    let record = rdr
        .records()
        .next()
        .ok_or_else(|| Error::data(input, "no data rows after the header"))?
        .map_err(|e| crate::data::csv_error(input, e))?;
    let mut fields = Vec::with_capacity(meta.features.len());
    for f in &meta.features.features {
        let j = header.iter().position(|h| *h == f.name).ok_or_else(|| {
            Error::data(
                input,
                format!(
                    "missing column `{}`, which the model needs{}",
                    f.name,
                    crate::data::column_hint(&f.name, &header)
                ),
            )
        })?;
        fields.push(record[j].to_string());
    }

    let t0 = std::time::Instant::now();
    let artifact = Artifact::load(dir)?;
    let t1 = std::time::Instant::now();
    let row: Vec<crate::data::Value<'_>> = fields
        .iter()
        .enumerate()
        .map(|(j, f)| artifact.schema.parse_field(j, f))
        .collect();
    let class = artifact
        .predictor()
        .predict(&row)
        .map_err(|e| e.to_error(&artifact.schema, 1))?;
    let t2 = std::time::Instant::now();
    std::hint::black_box(class);
    Ok(ColdStart {
        load: Nanos((t1 - t0).as_nanos() as u64),
        first_prediction: Nanos((t2 - t1).as_nanos() as u64),
    })
}

/// One fresh process's cold start.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColdStart {
    /// Read, verify (SHA-256), decompress and decode the package.
    pub load: Nanos,
    /// Validate, preprocess and predict the first row, with cold caches.
    pub first_prediction: Nanos,
}

/// Cold starts in `n` fresh processes of `exe` (an optbench binary), each
/// running the hidden `cold-start-probe` command; also the wall time of each
/// whole process (exec, load, first prediction, exit) as the parent sees it.
pub fn cold_starts(
    exe: &std::path::Path,
    dir: &std::path::Path,
    input: &std::path::Path,
    n: usize,
) -> Result<Vec<(ColdStart, Nanos)>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let o = std::process::Command::new(exe)
            .arg("cold-start-probe")
            .arg(dir)
            .arg(input)
            .output()
            .map_err(|e| Error::io(exe, e))?;
        let wall = Nanos(t.elapsed().as_nanos() as u64);
        if !o.status.success() {
            return Err(Error::Measure(format!(
                "cold-start process failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        let c: ColdStart = serde_json::from_slice(&o.stdout).map_err(|e| {
            Error::Measure(format!(
                "cold-start process printed something unexpected: {e}"
            ))
        })?;
        out.push((c, wall));
    }
    Ok(out)
}
