// Hides the console window on Windows release builds; the till is a desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The till's screen is plain 2-D; WebKitGTK's DMA-BUF renderer only adds shared buffers
    // (about 8 MB) and is a known cause of blank windows on some GPU drivers. A value set in
    // the environment wins.
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        // SAFETY: this runs first in main, before any other thread exists, so nothing can read
        // the environment concurrently.
        unsafe { std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1") };
    }
    // Not set here: GDK_GL=disable would save about 1.1 MB, but made about one start in ten wait
    // an extra ~500 ms before it was ready (cold start up to 1.08 s) under Xvfb; cause unknown.
    // glibc raises its mmap threshold after large frees, so each log-in's 19 MiB argon2 buffer
    // then stays in a malloc arena (+19 MiB per log-in, up to one per tokio worker). Fixing the
    // threshold at glibc's default (128 KiB) keeps such buffers in mmap, returned on free.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        // Two malloc arenas rather than one per thread (up to 8 per core): the till's threads
        // (UI, a few tokio workers, sync, checkpoints) seldom allocate at once, and each idle
        // arena keeps about 130 KB resident.
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    omnitill_shell::run();
}
