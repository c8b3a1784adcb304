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
    omnitill_app::run();
}
