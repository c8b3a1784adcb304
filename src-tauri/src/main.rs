// Hides the console window on Windows release builds; the till is a desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    omnitill_app::run();
}
