//! The LRPO objective's pieces on burn tensors (DESIGN §4, steps 6–7).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Per item: the mean over all elements of `log N(x; μ, σ²)`
/// `= −mean((x − μ)²)/(2σ²) − ln σ − ½·ln 2π`, as a `[N]` tensor.
pub fn gaussian_logprob_mean<B: Backend>(
    x: Tensor<B, 4>,
    mu: Tensor<B, 4>,
    sigma: f64,
) -> Tensor<B, 1> {
    let [n, c, h, w] = x.dims();
    let msq = (x - mu)
        .powf_scalar(2.0)
        .reshape([n, c * h * w])
        .mean_dim(1)
        .reshape([n]);
    msq.div_scalar(-2.0 * sigma * sigma)
        .sub_scalar(sigma.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln())
}

/// PPO-clip: `mean(max(−Â·r, −Â·clip(r, 1 − ε, 1 + ε)))` with `r = exp(log π − log π_old)`.
/// Returns the loss (a 1-element tensor) and the ratios.
pub fn ppo_clip_loss<B: Backend>(
    logp: Tensor<B, 1>,
    logp_old: Tensor<B, 1>,
    adv: Tensor<B, 1>,
    eps: f64,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let ratio = (logp - logp_old).exp();
    let unclipped = adv.clone().neg() * ratio.clone();
    let clipped = adv.neg() * ratio.clone().clamp(1.0 - eps, 1.0 + eps);
    (unclipped.max_pair(clipped).mean(), ratio)
}

/// The GT-guided likelihood term `1 − exp(ℓ/τ)`, averaged over items.
pub fn gt_loss<B: Backend>(ell: Tensor<B, 1>, tau: f64) -> Tensor<B, 1> {
    ell.div_scalar(tau).exp().neg().add_scalar(1.0).mean()
}

/// KL divergence between `N(μ, σ²)` and `N(μ_ref, σ²)` per element, averaged:
/// `mean((μ − μ_ref)²) / (2σ²)`.
pub fn kl_same_sigma<B: Backend>(
    mu: Tensor<B, 4>,
    mu_ref: Tensor<B, 4>,
    sigma: f64,
) -> Tensor<B, 1> {
    (mu - mu_ref)
        .powf_scalar(2.0)
        .mean()
        .div_scalar(2.0 * sigma * sigma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::tensor::{ElementConversion, TensorData};
    type B = crate::backend::Cpu;
    type A = Autodiff<B>;

    fn t1<Bk: Backend>(v: &[f32]) -> Tensor<Bk, 1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Default::default())
    }

    fn scalar<Bk: Backend>(t: Tensor<Bk, 1>) -> f64 {
        t.into_scalar().elem::<f64>()
    }

    #[test]
    fn log_prob_of_a_ddim_step_matches_the_closed_form() {
        let dev = Default::default();
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(vec![0.5f32, -0.25, 1.0, 0.0], [1, 1, 2, 2]),
            &dev,
        );
        let mu = Tensor::<B, 4>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 0.5, 0.5], [1, 1, 2, 2]),
            &dev,
        );
        let sigma = 0.4545;
        let got = scalar(gaussian_logprob_mean(x, mu, sigma));
        let msq = (0.25 + 0.0625 + 0.25 + 0.25) / 4.0;
        let want =
            -msq / (2.0 * sigma * sigma) - f64::ln(sigma) - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Agrees with the shared crate's f64 version.
        let shared = lrpo_shared::schedule::gaussian_log_prob_mean(
            &[0.5, -0.25, 1.0, 0.0],
            &[0.0, 0.0, 0.5, 0.5],
            sigma,
        );
        assert!((got - shared).abs() < 1e-6);
    }

    #[test]
    fn ratio_one_gives_zero_loss_for_zero_mean_advantages() {
        let lp = t1::<B>(&[-1.2, -0.7, 0.3]);
        let (l, r) = ppo_clip_loss(lp.clone(), lp, t1(&[1.5, -0.5, -1.0]), 1e-4);
        assert!(scalar(l).abs() < 1e-7);
        assert!(
            r.into_data()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .all(|&x| x == 1.0)
        );
    }

    #[test]
    fn ppo_clip_values_and_gradient_signs() {
        let eps = 0.1;
        // ratio 1.5 with A = +1: clipped at 1.1, loss −1.1, no gradient (clipped branch).
        // ratio 0.5 with A = +1: unclipped branch (max(−0.5, −0.9) = −0.5), gradient pushes log π up.
        // ratio 0.5 with A = −1: clipped at 0.9, loss 0.9, no gradient.
        // ratio 1.05 with A = −1: within the clip, loss 1.05, gradient pushes log π down.
        let old = [0.0f32; 4];
        let logp_v = [1.5f32.ln(), 0.5f32.ln(), 0.5f32.ln(), 1.05f32.ln()];
        let adv = [1.0f32, 1.0, -1.0, -1.0];
        let logp = t1::<A>(&logp_v).require_grad();
        let (l, _) = ppo_clip_loss(logp.clone(), t1(&old), t1(&adv), eps);
        let want = (-1.1 + -0.5 + 0.9 + 1.05) / 4.0;
        assert!(
            (scalar(l.clone()) - want).abs() < 1e-6,
            "{}",
            scalar(l.clone())
        );
        let g = l.backward();
        let grad: Vec<f32> = logp.grad(&g).unwrap().into_data().to_vec().unwrap();
        // d loss / d log π = −A·r/4 on unclipped entries, 0 on clipped ones.
        assert!(grad[0].abs() < 1e-7);
        assert!(
            grad[1] < 0.0 && (grad[1] + 0.5 / 4.0).abs() < 1e-6,
            "{grad:?}"
        );
        assert!(grad[2].abs() < 1e-7);
        assert!(
            grad[3] > 0.0 && (grad[3] - 1.05 / 4.0).abs() < 1e-6,
            "{grad:?}"
        );
    }

    #[test]
    fn the_gt_term_decreases_as_mu_approaches_the_noised_gt() {
        let dev = Default::default();
        let target = Tensor::<B, 4>::from_data(
            TensorData::new(vec![0.3f32, -0.2, 0.1, 0.4], [1, 1, 2, 2]),
            &dev,
        );
        let sigma = 0.05;
        let mut last = f64::INFINITY;
        for k in [1.0f32, 0.5, 0.25, 0.0] {
            // μ moves from 0.2 away from the target towards it.
            let mu = target.clone().add_scalar(0.2 * k);
            let l = scalar(gt_loss(
                gaussian_logprob_mean(target.clone(), mu, sigma),
                40.0,
            ));
            assert!(l < last, "{l} !< {last}");
            last = l;
        }
    }

    #[test]
    fn kl_is_zero_for_the_same_mean_and_quadratic_otherwise() {
        let dev = Default::default();
        let a = Tensor::<B, 4>::zeros([1, 1, 2, 2], &dev);
        assert_eq!(scalar(kl_same_sigma(a.clone(), a.clone(), 0.3)), 0.0);
        let b = a.clone().add_scalar(0.6);
        assert!((scalar(kl_same_sigma(a, b, 0.3)) - 0.36 / 0.18).abs() < 1e-6);
    }
}
