//! Time spent in each CPU kernel, for `lrpo-train bench`'s per-operation breakdown. Off unless
//! [`enable`]d; when off, a kernel pays one thread-local read.
//!
//! Counting is per thread: [`enable`], [`reset`] and [`read`] act on the calling thread's
//! counters, and a kernel counts on the thread that calls it (burn runs a step's operations
//! on the thread that runs the step; a kernel's own parallel work is inside its wall time).
//! Kernels that other threads run meanwhile (another training or test in the same process)
//! are not counted.

use std::cell::Cell;
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

thread_local! {
    /// Counting is on for this thread.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Nanoseconds per kernel counted on this thread.
    static NANOS: [Cell<u64>; 5] = const { [const { Cell::new(0) }; 5] };
}

/// Starts (or stops) counting on this thread.
pub fn enable(on: bool) {
    ON.with(|c| c.set(on));
}

/// Clears this thread's counters.
pub fn reset() {
    NANOS.with(|n| n.iter().for_each(|c| c.set(0)));
}

/// Milliseconds counted per kernel on this thread since the last [`reset`].
pub fn read() -> Vec<(Kernel, f64)> {
    NANOS.with(|n| {
        Kernel::ALL
            .iter()
            .map(|&k| (k, n[k as usize].get() as f64 / 1e6))
            .collect()
    })
}

/// Runs `f`, adding its wall time to `kernel` when counting is on.
#[inline]
pub fn timed<R>(kernel: Kernel, f: impl FnOnce() -> R) -> R {
    if !ON.with(Cell::get) {
        return f();
    }
    let t = Instant::now();
    let r = f();
    let ns = t.elapsed().as_nanos() as u64;
    NANOS.with(|n| {
        let c = &n[kernel as usize];
        c.set(c.get() + ns);
    });
    r
}
