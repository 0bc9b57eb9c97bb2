//! Group-relative advantages and their noise-level assignment (DESIGN §4, steps 4–5).

use super::config::{AdvantageStd, StepWeights};

/// Advantages of one iteration's rewards, grouped as `rewards[group][candidate]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Advantages {
    /// `A[group][candidate]`; dropped groups are absent.
    pub values: Vec<Vec<f64>>,
    /// Indices of the groups kept (rewards not all equal).
    pub kept: Vec<usize>,
    /// The std that normalised them (global variant) or the mean of the group stds.
    pub std: f64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// The control arm's rewards: `rewards` permuted at random (a Fisher–Yates permutation from
/// its own sub-stream of `seed` for iteration `it`), so that advantages keep their
/// distribution but no longer follow the samples they are applied to.
pub fn shuffled(rewards: &[f64], seed: u64, it: u64) -> Vec<f64> {
    const CONTROL_STREAM: u64 = 0x0000_C0DE_0000_0011;
    let mut out = rewards.to_vec();
    let mut r = lrpo_shared::rng::Rng::derive(seed ^ CONTROL_STREAM, it);
    for i in (1..out.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// `A_i = (R_i − mean(group)) / (std + 1e-4)` with the std over all rewards of the iteration
/// (or each group's own), groups with all-equal rewards dropped. Population stds (÷ n).
pub fn advantages(rewards: &[Vec<f64>], mode: AdvantageStd) -> Advantages {
    let all: Vec<f64> = rewards.iter().flatten().copied().collect();
    let global = std(&all);
    let mut values = Vec::new();
    let mut kept = Vec::new();
    let mut stds = Vec::new();
    for (g, r) in rewards.iter().enumerate() {
        let first = r[0];
        if r.iter().all(|&x| x == first) {
            continue;
        }
        let m = mean(r);
        let s = match mode {
            AdvantageStd::Global => global,
            AdvantageStd::Group => std(r),
        };
        stds.push(s);
        values.push(r.iter().map(|x| (x - m) / (s + 1e-4)).collect());
        kept.push(g);
    }
    Advantages {
        values,
        kept,
        std: if stds.is_empty() { 0.0 } else { mean(&stds) },
    }
}

/// Per-step weights: `σ_j / mean σ` (they average 1) or all ones.
pub fn step_weights(sigmas: &[f64], mode: StepWeights) -> Vec<f64> {
    match mode {
        StepWeights::Sigma => lrpo_shared::schedule::noise_level_weights(sigmas),
        StepWeights::Uniform => vec![1.0; sigmas.len()],
    }
}

/// `clip(A·w, −c, c)`.
pub fn assign(a: f64, w: f64, clip: f64) -> f64 {
    (a * w).clamp(-clip, clip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_shuffles_rewards_as_a_seeded_permutation() {
        let r: Vec<f64> = (0..9).map(|i| i as f64 * 0.1).collect();
        let a = shuffled(&r, 4, 2);
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, r);
        assert_ne!(a, r);
        assert_eq!(a, shuffled(&r, 4, 2));
        assert_ne!(a, shuffled(&r, 4, 3));
    }
    use lrpo_shared::schedule::{NoiseSchedule, step_std_devs};

    #[test]
    fn group_normalisation_by_the_global_std_and_dropping_flat_groups() {
        let r = vec![
            vec![1.0, 2.0, 3.0],
            vec![5.0, 5.0, 5.0],
            vec![0.0, 4.0, 2.0],
        ];
        let a = advantages(&r, AdvantageStd::Global);
        assert_eq!(a.kept, vec![0, 2]);
        // Global std over all 9 rewards (population): mean 3, squares sum 4+1+0+4+4+4+9+1+1 = 28.
        let s = (28.0f64 / 9.0).sqrt();
        let want0 = [-1.0 / (s + 1e-4), 0.0, 1.0 / (s + 1e-4)];
        for (x, w) in a.values[0].iter().zip(want0) {
            assert!((x - w).abs() < 1e-12);
        }
        assert!((a.values[1][1] - 2.0 / (s + 1e-4)).abs() < 1e-12);
        // Each kept group's advantages sum to zero.
        for v in &a.values {
            assert!(v.iter().sum::<f64>().abs() < 1e-12);
        }
        let g = advantages(&r, AdvantageStd::Group);
        let s0 = (2.0f64 / 3.0).sqrt();
        assert!((g.values[0][2] - 1.0 / (s0 + 1e-4)).abs() < 1e-12);
        assert!(
            advantages(&[vec![1.0, 1.0]], AdvantageStd::Global)
                .values
                .is_empty()
        );
    }

    #[test]
    fn weights_match_the_design_table_and_clip() {
        let sig = step_std_devs(
            &NoiseSchedule::stable_diffusion()
                .ddim_steps(50, 1.0)
                .unwrap(),
        );
        let w = step_weights(&sig, StepWeights::Sigma);
        for (j, want) in [
            (0, 1.6027),
            (1, 1.5809),
            (47, 0.3523),
            (48, 0.1392),
            (49, 0.0728),
        ] {
            assert!((w[j] - want).abs() < 1e-4, "w_{j} = {}", w[j]);
        }
        assert!(
            step_weights(&sig, StepWeights::Uniform)
                .iter()
                .all(|&x| x == 1.0)
        );
        assert_eq!(assign(4.0, 1.6, 5.0), 5.0);
        assert_eq!(assign(-4.0, 1.6, 5.0), -5.0);
        assert!((assign(2.0, 0.5, 5.0) - 1.0).abs() < 1e-15);
    }
}
