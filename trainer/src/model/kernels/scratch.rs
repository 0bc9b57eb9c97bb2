//! Per-thread scratch buffers for the kernels' large temporaries (im2col columns), so that a
//! training step does not map, fault in and zero tens of megabytes per layer and image.
//!
//! A buffer is taken out of the thread's pool and put back after use (never borrowed across a
//! call), so a kernel that work-steals another kernel's job on the same thread gets a buffer of
//! its own instead of a conflict.

use std::cell::RefCell;

/// Buffers kept per thread.
const KEEP: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` values with unspecified contents: the caller overwrites all of them.
pub fn take(len: usize) -> Vec<f32> {
    let mut v = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v.truncate(len);
    v
}

/// Returns a buffer from [`take`] to this thread's pool.
pub fn give(v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_have_the_asked_length_and_are_reused() {
        let a = take(1000);
        assert_eq!(a.len(), 1000);
        let ptr = a.as_ptr();
        give(a);
        let b = take(500);
        assert_eq!(b.len(), 500);
        assert_eq!(b.as_ptr(), ptr, "the pooled allocation is reused");
        let c = take(10);
        assert_eq!(c.len(), 10);
        give(b);
        give(c);
    }
}
