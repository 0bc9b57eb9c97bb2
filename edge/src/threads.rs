//! Thread count for tract's matrix products.

/// Runs tract's convolutions and matrix products on `n` threads (1 = the calling thread only).
/// Applies to the whole process; call once at start-up.
pub fn set_threads(n: usize) {
    use tract_linalg::multithread::{Executor, set_default_executor};
    if n > 1 {
        set_default_executor(Executor::multithread(n));
    } else {
        set_default_executor(Executor::SingleThread);
    }
}
