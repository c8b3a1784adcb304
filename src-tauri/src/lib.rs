//! The Omnitill desktop shell: the Tauri v2 window and the IPC commands.
//!
//! This crate is the only one that knows IPC, and nothing else. `run` parses the command line,
//! opens the till's ledger (keeping the refusal to show on screen if it cannot), starts the
//! ledger's upkeep and the sync engine, and registers the commands in `commands`, each a few
//! lines that decode their arguments and call one use case of `omnitill_app::App`.
//! `--recover LEDGER` runs the recovery of a damaged store (`omnitill_app::recover`) instead
//! of the window.

pub mod args;
pub mod commands;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use omnitill_app::{App, HttpCloud, SyncEngine, recover, upkeep};

use crate::state::AppState;

/// Kiosk style: the window covers the monitor it opens on, without decorations. A window
/// manager is asked for full screen; without one (a bare X server) the window is placed and
/// sized to the monitor itself.
fn fill_screen(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    window.set_decorations(false)?;
    let monitor = match window.current_monitor()? {
        Some(monitor) => Some(monitor),
        None => window.primary_monitor()?,
    };
    if let Some(monitor) = monitor {
        window.set_position(*monitor.position())?;
        window.set_size(*monitor.size())?;
    }
    window.set_fullscreen(true)
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
    if let Some(ledger) = &options.recover {
        std::process::exit(recover::run(ledger));
    }
    let till = upkeep::open_till(&options.data_dir, options.seed_demo);
    if let Err(error) = &till {
        eprintln!("omnitill: {}", error.message);
    }
    let ledger = options.data_dir.join(upkeep::LEDGER_FILE);
    if till.is_ok() {
        upkeep::spawn_health_checks(ledger.clone());
        upkeep::spawn_checkpointer(ledger.clone());
    }
    let opened = till.is_ok();
    let engine = Arc::new(SyncEngine::new(
        ledger,
        tauri::async_runtime::handle().inner().clone(),
    ));
    let app = App::new(till, HttpCloud::new(engine.clone()));
    let enrol = options.enrol.clone();
    let start_sync = opened && (app.is_linked() || enrol.is_some());
    let state = AppState {
        app,
        options,
        started,
        ready_reported: AtomicBool::new(false),
    };
    let stopping = engine.clone();
    let app = tauri::Builder::default()
        .setup(move |app| {
            use tauri::Manager;
            let state = app.state::<AppState>();
            if !state.options.windowed
                && let Some(window) = app.get_webview_window("main")
                && let Err(error) = fill_screen(&window)
            {
                eprintln!("omnitill: the till cannot fill the screen: {error}");
            }
            if start_sync && let Err(error) = engine.start(enrol) {
                eprintln!("omnitill: sync cannot start: {}", error.message);
            }
            Ok(())
        })
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::ui_ready,
            commands::login,
            commands::lock,
            commands::cart_get,
            commands::cart_scan,
            commands::checkout_scan,
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
            commands::refund_quote,
            commands::refund_complete,
            commands::settings_update,
            commands::set_language,
            commands::enrol,
            commands::refusals_list,
            commands::refusal_review,
            commands::member_attach,
            commands::member_detach,
            commands::member_enrol,
            commands::member_history,
            commands::cart_apply_coupon,
            commands::cart_remove_coupon,
            commands::cart_pay_points,
            commands::member_conflicts,
            commands::conflict_resolve,
            commands::pickup_queue,
            commands::pickup_order,
            commands::pickup_find,
            commands::pickup_scan,
            commands::pickup_mark_line,
            commands::pickup_put_back,
            commands::pickup_ready,
            commands::pickup_hand_over,
            commands::pickup_checkout,
            commands::member_floor,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("omnitill: the window could not start: {error}");
            std::process::exit(1);
        }
    };
    app.run(move |_, event| {
        if let tauri::RunEvent::Exit = event {
            stopping.stop();
        }
    });
}
