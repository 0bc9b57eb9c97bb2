//! The trainer library's error type.
//!
//! Every public function of the library returns [`Result`]; the `lrpo-train` binary turns an
//! [`Error`] into its message and an exit code. Messages say what was expected and what was
//! found and name the file, config key or run folder involved. Each variant's message is
//! complete on its own (an error wrapped in [`Error::Context`] is printed inside the outer
//! message, not again as a separate `source()`), so a report of the whole chain says each
//! thing once.

use std::path::{Path, PathBuf};

/// Returns an [`Error::Config`] with the formatted message unless the condition holds: the
/// configuration validators' `ensure`.
macro_rules! ensure_config {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err($crate::error::Error::config(format!($($msg)+)));
        }
    };
}
pub(crate) use ensure_config;

/// Returns the given error (any `Into<Error>`) unless the condition holds.
macro_rules! ensure_or {
    ($cond:expr, $err:expr) => {
        let holds: bool = $cond;
        if !holds {
            return Err($err.into());
        }
    };
}
pub(crate) use ensure_or;

/// Result alias for the trainer library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the trainer library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the shared crate (images, degradation, ONNX, cards, metrics).
    #[error(transparent)]
    Shared(#[from] lrpo_shared::Error),
    /// A file or folder could not be read, written, listed or created.
    #[error("{}: {action}: {error}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What was being done (`cannot read`, `cannot create`, ...).
        action: String,
        /// The operating-system error.
        error: std::io::Error,
    },
    /// A configuration value is out of range or inconsistent with another (the message names the
    /// key, e.g. `distill.pool must be at least 1, found 0`).
    #[error("{reason}")]
    Config {
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A file exists but its contents are not what it should hold (bad TOML or JSON, a corrupt
    /// checkpoint record, a weights manifest that does not match its shards).
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        reason: String,
    },
    /// A run folder cannot be used as asked: no checkpoint to resume from, already complete,
    /// not a run of the expected stage.
    #[error("{}: {reason}", path.display())]
    Run {
        /// The run folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A data folder or face set cannot be used (no images, missing hold-out files, a manifest
    /// that does not match its crops).
    #[error("{}: {reason}", path.display())]
    Data {
        /// The folder or manifest.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A network's parameters or outputs do not have the shapes or values the operation needs
    /// (conversion, export and the export's runtime check).
    #[error("{what}: {reason}")]
    Model {
        /// The model, layer or tensor concerned.
        what: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// Training produced a value that cannot be continued from (a NaN or infinite loss or
    /// reward, a collapsed reward group).
    #[error("{what}: {reason}")]
    Diverged {
        /// Which quantity, at which step or iteration.
        what: String,
        /// What it became.
        reason: String,
    },
    /// The tensor backend or the device failed (reading tensor data, selecting a device,
    /// starting a worker thread).
    #[error("{what}: {reason}")]
    Backend {
        /// The operation.
        what: String,
        /// What the backend reported.
        reason: String,
    },
    /// A value of the library's own could not be written as JSON (not expected to happen; the
    /// values written are plain records).
    #[error("JSON: {0}")]
    Json(serde_json::Error),
    /// An array did not have the shape an operation on it needs (a bug, not an input problem:
    /// inputs are checked before).
    #[error("array shape: {0}")]
    Shape(ndarray::ShapeError),
    /// An error with the step it happened in (`exporting lrpo_student`, `iteration 3: reward`).
    #[error("{context}: {inner}")]
    Context {
        /// What was being done.
        context: String,
        /// The error itself.
        inner: Box<Error>,
    },
}

impl Error {
    /// Builds an [`Error::Io`]: `action` on `path` failed with `error`.
    pub fn io(path: impl AsRef<Path>, action: impl Into<String>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            action: action.into(),
            error,
        }
    }

    /// Builds an [`Error::Config`].
    pub fn config(reason: impl Into<String>) -> Self {
        Error::Config {
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Format`] for `path`.
    pub fn format(path: impl AsRef<Path>, reason: impl std::fmt::Display) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            reason: reason.to_string(),
        }
    }

    /// Builds an [`Error::Run`] for the run folder `path`.
    pub fn run(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Run {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Data`] for `path`.
    pub fn data(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Model`].
    pub fn model(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Model {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Diverged`].
    pub fn diverged(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Diverged {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Backend`].
    pub fn backend(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Backend {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Backend`] for tensor data that could not be read back (burn's data errors
    /// are `Debug` only).
    pub fn tensor_data(error: impl std::fmt::Debug) -> Self {
        Error::Backend {
            what: "reading tensor data".into(),
            reason: format!("{error:?}"),
        }
    }

    /// The error under any [`Error::Context`] layers: the kind of failure, for matching.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { inner, .. } => inner.root(),
            e => e,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}

impl From<ndarray::ShapeError> for Error {
    fn from(e: ndarray::ShapeError) -> Self {
        Error::Shape(e)
    }
}

/// Adds the step an error happened in, as [`Error::Context`].
pub trait Context<T> {
    /// Wraps an error with `context`.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// Wraps an error with the context `f` builds (only called on error).
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            inner: Box::new(e.into()),
        })
    }

    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().into(),
            inner: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_error_says_each_part_once_and_keeps_its_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e: Result<()> =
            Err(Error::io("run/config.toml", "cannot read", io)).context("loading the run");
        let e = e.unwrap_err();
        assert_eq!(
            e.to_string(),
            "loading the run: run/config.toml: cannot read: gone"
        );
        assert!(std::error::Error::source(&e).is_none());
        assert!(matches!(e.root(), Error::Io { .. }));
    }
}
