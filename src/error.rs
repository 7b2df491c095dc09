//! The library's one error type. Every variant says *where* the problem is
//! (file, line, column, flag, model) and what was expected, so the CLI can print
//! it as is and tests can assert on the place.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A cell (or a whole line) of a CSV file is not what was expected.
    /// `line` is 1-based and counts the header line, as an editor shows it.
    #[error("{}, line {line}, column `{column}`: {message}", path.display())]
    Cell {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
    /// A line of a data file broken as a whole (the wrong number of fields,
    /// not UTF-8), whatever its columns hold.
    #[error("{}, line {line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A problem with a data file as a whole (no target column, too few rows…).
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    /// The configuration file (or the values it ends up with) is invalid.
    #[error("config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    /// A command-line flag has a value that cannot be used.
    #[error("{flag}: {message}")]
    Flag { flag: String, message: String },
    /// A trainer failed on a candidate.
    #[error("training candidate `{candidate}`: {message}")]
    Train { candidate: String, message: String },
    /// A saved model package is damaged, foreign or from a newer format.
    #[error("package {}: {message}", path.display())]
    Artifact { path: PathBuf, message: String },
    /// A row given for prediction does not match the model's input schema.
    #[error("row {row}, column `{column}`: {message}")]
    Input {
        row: usize,
        column: String,
        message: String,
    },
    /// A measurement request that cannot give a trustworthy figure.
    #[error("measurement: {0}")]
    Measure(String),
    /// An ONNX model that cannot be written or read; `what` names the file,
    /// node or attribute.
    #[error("ONNX {what}: {message}")]
    Onnx { what: String, message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Flag {
            flag: flag.into(),
            message: message.into(),
        }
    }

    pub(crate) fn onnx(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Onnx {
            what: what.into(),
            message: message.into(),
        }
    }

    pub(crate) fn train(candidate: impl Into<String>, message: impl ToString) -> Self {
        Error::Train {
            candidate: candidate.into(),
            message: message.to_string(),
        }
    }
}
