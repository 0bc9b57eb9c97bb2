//! `lrpo-edge`: on-camera face restoration with tract, and offline evaluation.
//!
//! - [`runtime`]: a restoration policy (ONNX + policy card), validated at load, restoring
//!   aligned crops (one-step students, or ε-models sampled with DDIM);
//! - [`flicker`]: how much a restored still-camera clip changes from frame to frame;
//! - [`in_place`]: a photo's faces restored in its 8-bit buffer (no full-frame f32 copy);
//! - [`memory`]: the memory budget and the largest photo it allows;
//! - [`models`]: the shipped model folder (default policy, detector);
//! - [`pipeline`]: detect → align → restore → paste back;
//! - [`tracking`]: faces followed across the frames of a stream;
//! - [`threads`]: how many threads tract's matrix products use;
//! - [`allocator`]: the allocator settings that keep freed tensors for reuse.
//!
//! Every public function returns [`Result`], with the typed [`Error`]. The `lrpo-edge` binary
//! (its subcommands, input listing and the offline evaluation) is a layer over this library.

pub mod allocator;
pub mod error;
pub mod flicker;
pub mod in_place;
pub mod memory;
pub mod models;
pub mod pipeline;
pub mod runtime;
pub mod threads;
pub mod tracking;

pub use error::{Error, Result};
