//! Keeps the process's resident memory equal to what the pipeline actually holds.
//!
//! glibc serves allocations above its mmap threshold (128 KiB) with `mmap`, and returns them to
//! the OS on free. But every free of such a block *raises* the threshold to that block's size
//! (up to 32 MiB), after which the pipeline's message and request buffers (hundreds of KiB to a
//! few MiB) come from the arenas instead, where freed space fragments and stays resident. With
//! the SQS sink that made peak RSS creep upward with file size (56 MiB at 5 MB, 65 MiB at 50 MB);
//! pinning the threshold turns it off.

/// Pins glibc's mmap threshold. Call once, first thing in `main`; a no-op on other C libraries.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter, under glibc's own arena lock, and
        // M_MMAP_THRESHOLD accepts any value up to 32 MiB.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
        if ok != 1 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) was refused; RSS may grow with file size");
        }
    }
}
