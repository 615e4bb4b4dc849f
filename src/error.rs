//! The crate's one error type.
//!
//! Every variant carries what a user needs to find the problem: the file, the row,
//! the offending value or the shapes involved. Library code returns [`Result`] and
//! never panics on bad input.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in smalldata.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while reading or writing `path`.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file exists but its content is not what its format requires.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },

    /// A dataset could not be found in any of the places searched.
    #[error("{what} not found; looked in: {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound { what: String, searched: Vec<PathBuf> },

    /// A CSV cell, row or header problem. `row` counts data rows from 1 (the header is row 0).
    #[error("{path}, row {row}, column {column:?}: {reason}")]
    Csv { path: PathBuf, row: usize, column: String, reason: String },

    /// An image in a folder that could not be decoded.
    #[error("{path}: cannot decode image: {reason}")]
    Image { path: PathBuf, reason: String },

    /// A parameter outside the range it may take.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter { name: String, value: String, reason: String },

    /// Two things whose sizes must agree do not.
    #[error("shape mismatch in {context}: expected {expected}, got {got}")]
    Shape { context: String, expected: String, got: String },

    /// A request for more samples than the data holds, or for a class that has none.
    #[error("class {class}: asked for {asked} samples, only {available} available")]
    NotEnoughSamples { class: i64, asked: usize, available: usize },

    /// A non-finite value (NaN or infinity) in data that must be finite.
    #[error("non-finite value {value} in {context}")]
    NonFinite { context: String, value: f64 },

    /// A metric or statistic that is mathematically undefined for this input (for
    /// example AUC when only one class is present), reported instead of a NaN.
    #[error("{what} is undefined: {reason}")]
    Undefined { what: String, reason: String },

    /// The device asked for is not available.
    #[error("device {asked:?} requested but {reason}")]
    Device { asked: String, reason: String },

    /// An error reported by libtorch.
    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),

    /// An error reported by linfa.
    #[error("linfa: {0}")]
    Linfa(#[from] linfa::Error),

    /// One run of an experiment failed; `key` names its grid cell (size, arm, seed)
    /// and `source` is the original error, kept whole so its variant and message
    /// reach the caller.
    #[error("run {key}: {source}")]
    Run {
        key: String,
        #[source]
        source: Box<Error>,
    },

    /// Serialising or parsing JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::InvalidParameter { name: name.into(), value: value.to_string(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Format { path: path.into(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Undefined`].
    pub fn undefined(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Undefined { what: what.into(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(context: impl Into<String>, expected: impl std::fmt::Display, got: impl std::fmt::Display) -> Self {
        Error::Shape { context: context.into(), expected: expected.to_string(), got: got.to_string() }
    }
}

/// Attach a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { path: path.into(), source })
    }
}
