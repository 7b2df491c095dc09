//! `optbench._native`: the compiled half of the Python package. It loads a
//! package with the library's own loader and scores Arrow record batches
//! with the library's `score_columns`, so Python gets the classes and
//! probabilities `optbench predict` writes, bit for bit. The batches are
//! read through Arrow's C data interface (the `__arrow_c_array__`
//! capsules pyarrow hands out): columns are read where pyarrow holds them.
//! The Python half (`optbench/__init__.py`) turns pandas frames and tables
//! into record batches and class indices into class names.

mod table;

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use optbench::artifact::{score_columns, Artifact, ColumnScores, Columns, ScoreOptions};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
use table::Table;

create_exception!(
    _native,
    OptbenchError,
    PyValueError,
    "An error from optbench: bad input, a package it cannot use."
);
create_exception!(
    _native,
    PackageError,
    OptbenchError,
    "A package folder that cannot be loaded: missing, damaged, altered or of another format version."
);
create_exception!(
    _native,
    InvalidRowError,
    OptbenchError,
    "A row the package's schema refuses; `row` (0-based position), `column` and `reason` say where and why."
);

/// The library's error as the Python exception that fits it.
fn to_py(py: Python<'_>, e: optbench::Error) -> PyErr {
    match e {
        optbench::Error::Input {
            row,
            column,
            message,
        } => {
            let err = InvalidRowError::new_err(format!("row {row}, column `{column}`: {message}"));
            let value = err.value(py);
            // Setting attributes on a fresh exception object cannot fail
            // short of memory exhaustion; the message carries them anyway.
            let _ = value.setattr("row", row);
            let _ = value.setattr("column", column);
            let _ = value.setattr("reason", message);
            err
        }
        e @ (optbench::Error::Artifact { .. } | optbench::Error::Io { .. }) => {
            PackageError::new_err(e.to_string())
        }
        e => OptbenchError::new_err(e.to_string()),
    }
}

/// A loaded, verified package.
#[pyclass(frozen, module = "optbench._native")]
struct Package {
    artifact: Artifact,
}

/// Loads and verifies the package folder `path` (format version, SHA-256 of
/// the model file, consistency), as `optbench predict` does.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Package> {
    let artifact = py
        .detach(|| Artifact::load(&path))
        .map_err(|e| to_py(py, e))?;
    Ok(Package { artifact })
}

#[pymethods]
impl Package {
    /// The class names, in the order of the probability columns.
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.artifact.metadata.classes.clone()
    }

    /// The input columns, in order, as `(name, kind)`; kind is `numeric` or
    /// `categorical`.
    #[getter]
    fn schema(&self) -> Vec<(String, String)> {
        self.artifact
            .schema
            .features
            .iter()
            .map(|f| (f.name.clone(), f.kind.to_string()))
            .collect()
    }

    /// `metadata.json`, as verified on load.
    #[getter]
    fn metadata_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.artifact.metadata)
            .map_err(|e| OptbenchError::new_err(format!("cannot encode the metadata: {e}")))
    }

    /// Scores record batches (objects with `__arrow_c_array__`, in table
    /// order): class indices, probabilities `[n, classes]` when `proba`, and
    /// the rejected rows as `(row, column, reason)` (only with
    /// `skip_invalid`; otherwise the first invalid row raises
    /// `InvalidRowError`). Rows are 0-based positions over all the batches.
    #[pyo3(signature = (batches, proba, skip_invalid, strict, range_margin))]
    #[allow(clippy::type_complexity)]
    fn score<'py>(
        &self,
        py: Python<'py>,
        batches: Vec<Bound<'py, PyAny>>,
        proba: bool,
        skip_invalid: bool,
        strict: bool,
        range_margin: f64,
    ) -> PyResult<(
        Bound<'py, PyArray1<u32>>,
        Option<Bound<'py, PyArray2<f32>>>,
        Vec<(usize, String, String)>,
    )> {
        if !(range_margin.is_finite() && range_margin >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "range_margin: expected a share ≥ 0, e.g. 0.1, found {range_margin}"
            )));
        }
        let options = ScoreOptions {
            strict,
            range_margin,
        };
        let tables = batches
            .iter()
            .map(|b| Table::import(b, &self.artifact.schema))
            .collect::<PyResult<Vec<Table>>>()?;
        let artifact = &self.artifact;
        let source = Path::new("<input table>");
        let scored = py.detach(|| {
            let mut all = ColumnScores::default();
            let mut offset = 0;
            for t in &tables {
                let mut s = match score_columns(artifact, t, source, options, skip_invalid, proba) {
                    Ok(s) => s,
                    Err(optbench::Error::Input {
                        row,
                        column,
                        message,
                    }) => {
                        return Err(optbench::Error::Input {
                            row: row + offset,
                            column,
                            message,
                        })
                    }
                    Err(e) => return Err(e),
                };
                all.classes.append(&mut s.classes);
                all.proba.append(&mut s.proba);
                all.rejected.extend(s.rejected.into_iter().map(|mut r| {
                    r.row += offset;
                    r
                }));
                offset += t.n_rows();
            }
            Ok(all)
        });
        let scored = scored.map_err(|e| to_py(py, e))?;
        let n = scored.classes.len();
        let k = artifact.metadata.classes.len();
        let probabilities = if proba {
            Some(PyArray1::from_vec(py, scored.proba).reshape([n, k])?)
        } else {
            None
        };
        let rejected = scored
            .rejected
            .into_iter()
            .map(|r| (r.row, r.column, r.reason))
            .collect();
        Ok((
            PyArray1::from_vec(py, scored.classes),
            probabilities,
            rejected,
        ))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_class::<Package>()?;
    m.add("OptbenchError", py.get_type::<OptbenchError>())?;
    m.add("PackageError", py.get_type::<PackageError>())?;
    m.add("InvalidRowError", py.get_type::<InvalidRowError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
