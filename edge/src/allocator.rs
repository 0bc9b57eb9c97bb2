//! The process allocator's settings for the runtime.

/// Largest allocation glibc serves from its heap instead of mapping it on its own (32 MiB,
/// the most it accepts on 64-bit targets): tract allocates every intermediate tensor afresh,
/// and with glibc's default (blocks over 128 KiB mapped and unmapped one by one) each run
/// faults every page of its activations in again: 27 % of MTCNN's O-Net time on a batch of 32
/// crops (26.5 → 19.3 ms), a share of every frame.
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Free memory at the top of the heap that glibc keeps instead of returning it (64 MiB): what
/// a frame's work frees is reused by the next frame, while a board's memory is not held past
/// that.
pub const TRIM_THRESHOLD: usize = 64 << 20;

/// Applies [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`] (glibc on Linux; elsewhere nothing). Call
/// once at start-up, before other threads exist.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}
