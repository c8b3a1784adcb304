//! What the shell keeps for its commands: the till's use cases (`omnitill_app::App`, over the
//! cloud by HTTP) and the few facts of this process (its options, when it started, whether
//! the first screen was reported).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use omnitill_app::{App, HttpCloud};

use crate::args::Options;

pub struct AppState {
    pub app: App<HttpCloud>,
    pub options: Options,
    pub started: Instant,
    pub ready_reported: AtomicBool,
}
