//! The exponential and logistic functions of the fused SiLU kernels, written so that loops over
//! them vectorise (no call into libm, no branches).
//!
//! `e^x = 2^n · e^r` with `n = round(x·log₂e)` and `r = x − n·ln 2 ∈ [−ln2/2, ln2/2]` (Cody–Waite:
//! `ln 2` in two parts so that `r` is exact); `e^r` is its degree-6 Taylor polynomial (truncation
//! error < 1.3e-7 relative), and `2^n` is built in the exponent bits. Inputs are clamped to [−87, 88], the range where `e^x` is a
//! normal f32.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³: adding and subtracting it rounds an f32 of magnitude < 2²² to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// `ln 2` = `LN2_HI + LN2_LO`, the high part with few enough bits that `n·LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1/k!`, k = 2..6.
const C: [f32; 5] = [0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0];

/// `e^x` to within 3e-7 relative for x in [−87, 88] (clamped outside; NaN stays NaN).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (C[0] + r * (C[1] + r * (C[2] + r * (C[3] + r * C[4])))));
    // The integer n sits in the low mantissa bits of `shifted`: 2^n from integer operations
    // only (a float-to-int conversion would not vectorise).
    let n_int = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((n_int.wrapping_add(127) as u32) << 23);
    p * scale
}

/// `σ(z) = 1 / (1 + e^(−z))`, to within 3e-7 (saturating towards 0 and 1).
#[inline(always)]
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_sigmoid_match_the_f64_functions_over_the_whole_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(((sigmoid(x) as f64) - s).abs() < 3e-7, "sigmoid({x})");
            x += 0.013;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-1000.0) > 0.0 && exp(1000.0).is_finite());
        assert_eq!(sigmoid(-1000.0), 0.0f32.max(sigmoid(-1000.0)));
        assert!((sigmoid(1000.0) - 1.0).abs() < 1e-7);
    }
}
