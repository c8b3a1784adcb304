//! The Omnitill desktop shell: Tauri v2 window, IPC commands, and app state.
//!
//! This crate is the only one that knows IPC. `run` parses the command line, opens the till's
//! ledger through omnitill-core (keeping the refusal to show on screen if it cannot), and
//! registers the commands in `commands`, each a few lines that call core and map the result
//! with `views` and `error`. `printer` sends ESC/POS bytes to a network receipt printer.

pub mod args;
pub mod commands;
pub mod error;
pub mod printer;
pub mod state;
pub mod views;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use omnitill_core::{Cart, SystemClock, Till, demo};

use crate::args::Options;
use crate::error::ApiError;
use crate::state::{AppState, Shell};

/// The ledger file's name inside the data directory.
pub const LEDGER_FILE: &str = "till.sqlite3";

/// Opens the till for `options`, creating the data directory on first use.
pub fn open_till(options: &Options) -> Result<Till, ApiError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|e| {
        ApiError::new(
            "database_refused",
            format!("the data directory {} cannot be created: {e}", options.data_dir.display()),
        )
    })?;
    let mut till = Till::open(&options.data_dir.join(LEDGER_FILE), Arc::new(SystemClock))?;
    if options.seed_demo {
        demo::seed_demo(&mut till)?;
    }
    Ok(till)
}

pub fn run() {
    let started = Instant::now();
    let options = match args::parse(
        std::env::args(),
        std::env::var("OMNITILL_DATA_DIR").ok(),
        std::env::var("HOME").ok(),
    ) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("omnitill: {message}");
            std::process::exit(2);
        }
    };
    let (shell, startup_error) = match open_till(&options) {
        Ok(till) => (
            Some(Mutex::new(Shell {
                till,
                session: None,
                cart: Cart::new(),
            })),
            None,
        ),
        Err(error) => {
            eprintln!("omnitill: {}", error.message);
            (None, Some(error))
        }
    };
    let state = AppState {
        shell,
        startup_error,
        options,
        started,
        ready_reported: AtomicBool::new(false),
    };
    let result = tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::ui_ready,
            commands::login,
            commands::lock,
            commands::cart_get,
            commands::cart_scan,
            commands::cart_add_product,
            commands::cart_set_quantity,
            commands::cart_remove_line,
            commands::cart_set_line_discount,
            commands::cart_set_cart_discount,
            commands::cart_clear,
            commands::cart_add_tender,
            commands::cart_remove_tender,
            commands::sale_complete,
            commands::catalog_search,
            commands::receipt_get,
            commands::receipt_print,
            commands::receipts_recent,
            commands::refund_lookup,
            commands::refund_complete,
            commands::settings_update,
            commands::set_language,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("omnitill: the window could not start: {error}");
        std::process::exit(1);
    }
}
