//! Supervised pretraining of the diffusion policy: the DDPM ε-prediction loss
//! `E‖ε − ε_θ(sqrt(ᾱ_t)·x_0 + sqrt(1−ᾱ_t)·ε, t, lq)‖²` with t uniform over the training steps,
//! AdamW with warm-up + cosine learning rate, global gradient clipping and EMA weights.
//!
//! - [`train`]: the loop (a [`crate::backend::BackendTask`]), resumable exactly;
//! - [`validate`]: the held-out check and its sample grids;
//! - [`plots`]: the run's plots from its log;
//! - [`sample`]: restoring crops with a trained policy.

pub mod plots;
pub mod sample;
pub mod train;
pub mod validate;

pub use plots::plot_run;
pub use sample::sample_images;
pub use train::{Pretrain, Summary, ema_decay_at};
pub use validate::{Validation, validate};
