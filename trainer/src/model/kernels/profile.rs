//! Time spent in each CPU kernel, for `lrpo-train bench`'s per-operation breakdown. Off unless
//! [`enable`]d; when off, a kernel pays one relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The kernels timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Convolution, forward.
    ConvForward,
    /// Convolution, gradients.
    ConvBackward,
    /// GroupNorm (+ SiLU), forward.
    NormForward,
    /// GroupNorm (+ SiLU), gradients.
    NormBackward,
    /// Channel concatenation and its gradient split.
    Concat,
}

impl Kernel {
    /// Every kernel, in report order.
    pub const ALL: [Kernel; 5] = [
        Kernel::ConvForward,
        Kernel::ConvBackward,
        Kernel::NormForward,
        Kernel::NormBackward,
        Kernel::Concat,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::ConvForward => "convolution forward",
            Kernel::ConvBackward => "convolution backward",
            Kernel::NormForward => "GroupNorm+SiLU forward",
            Kernel::NormBackward => "GroupNorm+SiLU backward",
            Kernel::Concat => "skip concatenation (both ways)",
        }
    }
}

static ON: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// Starts (or stops) counting.
pub fn enable(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Clears the counters.
pub fn reset() {
    for n in &NANOS {
        n.store(0, Ordering::Relaxed);
    }
}

/// Milliseconds counted per kernel since the last [`reset`].
pub fn read() -> Vec<(Kernel, f64)> {
    Kernel::ALL
        .iter()
        .map(|&k| (k, NANOS[k as usize].load(Ordering::Relaxed) as f64 / 1e6))
        .collect()
}

/// Runs `f`, adding its wall time to `kernel` when counting is on.
#[inline]
pub fn timed<R>(kernel: Kernel, f: impl FnOnce() -> R) -> R {
    if !ON.load(Ordering::Relaxed) {
        return f();
    }
    let t = Instant::now();
    let r = f();
    NANOS[kernel as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    r
}
