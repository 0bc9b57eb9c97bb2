//! The shared crate's error type.
//!
//! Every message says what was expected and what was found, and names the file when there is
//! one, so that a user can act on it without reading the code.

use std::path::PathBuf;

/// Result alias for the shared crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the shared crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written. The operating-system error is part of the message
    /// (not a separate `source()`, so that a report printing the whole chain says it once).
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating-system error.
        error: std::io::Error,
    },
    /// A file's bytes are not a decodable image (corrupt, truncated, empty or unsupported).
    #[error("{path}: not a readable image: {reason}")]
    ImageDecode {
        /// The file (or a label such as `<stdin>` for in-memory data).
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// An image is larger than the configured limit (protects against decompression bombs).
    #[error(
        "{path}: image is {width}x{height} ({pixels} pixels), above the limit of {limit} pixels"
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// Width in pixels from the header.
        width: u32,
        /// Height in pixels from the header.
        height: u32,
        /// width × height.
        pixels: u64,
        /// The configured maximum number of pixels.
        limit: u64,
    },
    /// An image has a zero dimension.
    #[error("{path}: image is empty ({width}x{height})")]
    EmptyImage {
        /// The file or a label.
        path: PathBuf,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// An image could not be encoded (for example an unsupported output extension).
    #[error("{path}: cannot encode image: {reason}")]
    ImageEncode {
        /// The destination file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An array did not have the shape a function needs.
    #[error("{what}: expected shape {expected}, found {found:?}")]
    Shape {
        /// The argument or tensor concerned.
        what: String,
        /// The expected shape, in words (e.g. `[3, H, W] with H, W > 0`).
        expected: String,
        /// The shape that was found.
        found: Vec<usize>,
    },
    /// A value was outside its allowed range or otherwise invalid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The parameter concerned.
        what: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// A policy card could not be decoded.
    #[error("{path}: bad policy card: {reason}")]
    Card {
        /// The card file or a label.
        path: PathBuf,
        /// What is wrong (truncated, wrong magic, unsupported version, ...).
        reason: String,
    },
    /// An ONNX model could not be read, optimised or run.
    #[error("{path}: ONNX model: {reason}")]
    Onnx {
        /// The model file (or a label).
        path: PathBuf,
        /// What tract reported, or what was expected and found.
        reason: String,
    },
    /// A TOML or JSON configuration could not be parsed.
    #[error("{path}: bad configuration: {reason}")]
    Config {
        /// The configuration file or a label.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
}

impl Error {
    /// Builds an [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }
}
