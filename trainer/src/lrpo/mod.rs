//! LRPO: Likelihood-Regularized Policy Optimization (arXiv 2509.23339) of the diffusion
//! restoration policy, as DESIGN §4 specifies it. One iteration:
//!
//! 1. M HQ faces, each degraded once; its LQ shared by G candidates ([`rollout`]).
//! 2. Every candidate sampled from independent noise with K DDIM steps (η = 1), storing
//!    `(x_t, x_prev, log π_old)` per step; `log π` is the per-element mean of
//!    `log N(x_prev; μ, σ_t²)`.
//! 3. The composite reward of each final image (`lrpo_shared::reward`).
//! 4. Advantages `A_i = (R_i − mean(group)) / (std(all rewards) + 1e-4)`; groups whose rewards
//!    are all equal are dropped ([`advantage`]).
//! 5. Noise-level assignment: step j gets `A·w_j`, `w_j = σ_j / mean σ`; clipped to ±5.
//! 6. PPO-clip on each of the first ⌊0.99·K⌋ steps, ratio clip ε = 1e-4 ([`loss`]).
//! 7. GT-guided likelihood regularisation on the last 5 trained steps:
//!    `L_GT = 1 − exp(ℓ/τ)`, `ℓ = mean log N(x^GT_prev; μ_θ(x_t), σ_t²)`, total
//!    `L = L_pol + λ·L_GT` (τ = 40, λ = 0.001).
//! 8. AdamW (lr 1e-6 for a large pretrained policy), gradient-norm clip 1.0, one update per
//!    (mini-batch, step) ([`update`]; the loop: [`train`]).

pub mod advantage;
pub mod config;
pub mod loss;
pub mod records;
pub mod rollout;
pub mod train;
pub mod update;
pub mod validate;
