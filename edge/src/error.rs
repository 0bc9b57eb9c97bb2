//! The edge library's error type.
//!
//! [`crate::runtime`] and [`crate::pipeline`] return [`Result`]; the `lrpo-edge` binary turns
//! an [`Error`] into its message and an exit code. Each message is complete on its own (names
//! the model, card or input and says what was expected), so a report of the whole chain says
//! each thing once.

use std::path::PathBuf;

/// Result alias for the edge library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the edge library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the shared crate (images, ONNX, cards, alignment, detection).
    #[error(transparent)]
    Shared(#[from] lrpo_shared::Error),
    /// The model file does not exist.
    #[error("{}: model file not found", path.display())]
    ModelNotFound {
        /// The model path given.
        path: PathBuf,
    },
    /// The model has no readable policy card beside it.
    #[error("{}: every policy needs its card next to it: {error}", model.display())]
    MissingCard {
        /// The model.
        model: PathBuf,
        /// Why the card could not be read.
        error: lrpo_shared::Error,
    },
    /// The model and its card disagree (inputs, outputs, sizes, kind), or a card lacks a
    /// section its kind needs.
    #[error("{} does not match its card {}: {reason}", model.display(), card.display())]
    CardMismatch {
        /// The model.
        model: PathBuf,
        /// The card.
        card: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The model ran but gave an output that cannot be used (wrong shape, NaN or infinite).
    #[error("{}: {reason}", model.display())]
    BadOutput {
        /// The model.
        model: PathBuf,
        /// What was expected and what was found.
        reason: String,
    },
    /// An input or option the pipeline cannot take (a crop the policy does not accept, a
    /// non-square aligned face, an upscaling factor, a frame too large to upscale).
    #[error("{what}: {reason}")]
    Input {
        /// The input or option.
        what: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// Detection was asked of a pipeline built without a face detector.
    #[error("no face detector loaded")]
    NoDetector,
    /// An array did not have the shape an operation on it needs (a bug, not an input problem:
    /// inputs are checked before).
    #[error("array shape: {0}")]
    Shape(ndarray::ShapeError),
}

impl Error {
    /// Builds an [`Error::Input`].
    pub fn input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Input {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl From<ndarray::ShapeError> for Error {
    fn from(e: ndarray::ShapeError) -> Self {
        Error::Shape(e)
    }
}
