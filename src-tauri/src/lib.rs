//! The Omnitill desktop shell: Tauri v2 window, IPC commands, and app state.
//!
//! This crate is the only one that knows IPC. `run` parses the command line, opens the till's
//! ledger through omnitill-core (keeping the refusal to show on screen if it cannot), and
//! registers the commands in `commands`, each a few lines that call core and map the result
//! with `views` and `error`. `printer` sends ESC/POS bytes to a network receipt printer.
//! A background thread checks the ledger's integrity after start and every 30 minutes; damage
//! stops selling (core refuses every write) and the window shows the damaged-ledger screen.
//! `recover` is the `--recover LEDGER` command that brings a damaged store back.

pub mod args;
pub mod bindings;
pub mod checkout;
pub mod commands;
pub mod error;
pub mod members;
pub mod printer;
pub mod recover;
pub mod state;
pub mod sync_link;
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
    // Private to this user (0700), as the ledger is (0600): it holds the device token and the
    // brand's member key.
    omnitill_core::db::prepare_data_dir(&options.data_dir)?;
    let mut till = Till::open(&options.data_dir.join(LEDGER_FILE), Arc::new(SystemClock))?;
    if options.seed_demo {
        demo::seed_demo(&mut till)?;
    }
    Ok(till)
}

/// How often the background thread copies the write-ahead log into the ledger file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Checkpoints the ledger from its own connection every few seconds, so commits at the counter
/// never stall on a checkpoint. The thread ends with the process.
fn spawn_checkpointer(path: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ledger-checkpoint".into())
        .spawn(move || {
            let checkpointer = match omnitill_core::db::Checkpointer::open(&path) {
                Ok(checkpointer) => checkpointer,
                Err(error) => {
                    eprintln!("omnitill: background checkpoints are off: {error}");
                    return;
                }
            };
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                // A busy moment only defers the copy to the next round.
                let _ = checkpointer.checkpoint();
            }
        });
    if let Err(error) = spawned {
        eprintln!("omnitill: background checkpoints are off: {error}");
    }
}

/// How often the ledger's integrity is checked while the app runs (the first check starts
/// right after the ledger opens).
const HEALTH_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Checks the ledger in the background, right away and then every 30 minutes, so a large
/// ledger does not delay the first screen. Damage found is recorded in the ledger's shared
/// health: core refuses every write from then on and the UI shows the damaged-ledger screen.
fn spawn_health_checks(path: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ledger-health".into())
        .spawn(move || {
            loop {
                let now = chrono::Utc::now().timestamp_millis();
                match omnitill_core::health::check_and_record(&path, now) {
                    Ok(findings) if findings.is_empty() => {}
                    Ok(findings) => {
                        eprintln!(
                            "omnitill: the ledger is damaged, selling stopped: {}",
                            findings.join("; ")
                        );
                        return;
                    }
                    Err(error) => eprintln!("omnitill: the ledger check could not run: {error}"),
                }
                std::thread::sleep(HEALTH_CHECK_EVERY);
            }
        });
    if let Err(error) = spawned {
        eprintln!("omnitill: the ledger check cannot run: {error}");
    }
}

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
    let mut sync = None;
    let (shell, startup_error) = match open_till(&options) {
        Ok(till) => {
            spawn_health_checks(till.path().to_owned());
            spawn_checkpointer(till.path().to_owned());
            sync = Some(sync_link::SyncLink::new(till.path().to_owned()));
            (
                Some(Mutex::new(Shell {
                    till,
                    session: None,
                    cart: Cart::new(),
                })),
                None,
            )
        }
        Err(error) => {
            eprintln!("omnitill: {}", error.message);
            (None, Some(error))
        }
    };
    let enrol = options.enrol.clone();
    let linked = shell.as_ref().is_some_and(|shell| {
        let guard = shell.lock().unwrap_or_else(|p| p.into_inner());
        guard.till.sync_link().ok().flatten().is_some()
    });
    let state = AppState {
        shell,
        startup_error,
        options,
        started,
        ready_reported: AtomicBool::new(false),
        sync,
    };
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
            if let Some(sync) = &state.sync
                && (linked || enrol.is_some())
                && let Err(error) = sync.start(enrol)
            {
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
            members::member_attach,
            members::member_detach,
            members::member_enrol,
            members::member_history,
            members::cart_apply_coupon,
            members::cart_remove_coupon,
            members::cart_pay_points,
            members::member_conflicts,
            members::conflict_resolve,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("omnitill: the window could not start: {error}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            use tauri::Manager;
            if let Some(sync) = &handle.state::<AppState>().sync {
                sync.stop();
            }
        }
    });
}

#[cfg(test)]
mod print_tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    use omnitill_core::{Cart, SystemClock, TenderKind, Till, demo, escpos};

    /// A real sale's receipt, rendered as ESC/POS and sent over TCP, arrives byte for byte at a
    /// printer listening on loopback.
    #[test]
    fn a_sale_receipt_reaches_a_loopback_printer_as_escpos_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut till = Till::open(
            &dir.path().join("till.sqlite3"),
            std::sync::Arc::new(SystemClock),
        )
        .expect("a new ledger");
        demo::seed_demo(&mut till).expect("demo store");
        let cashier = till.login(demo::CASHIER.0, demo::CASHIER.1).expect("login");
        let mut cart = Cart::new();
        cart.add_item(till.scan(&demo::demo_barcode(1)).expect("scan"), 2)
            .expect("add");
        let rules = till.pricing_rules().expect("rules");
        let due = cart.totals(rules).cash_due_minor;
        cart.add_tender(rules, TenderKind::Cash, due + 100, None)
            .expect("cash");
        let receipt = till.complete_sale(&cashier, &cart).expect("sale");
        let bytes = escpos::render_escpos(&receipt);

        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback printer");
        let address = listener.local_addr().expect("address").to_string();
        let printer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("the till connects");
            let mut received = Vec::new();
            stream.read_to_end(&mut received).expect("the job arrives");
            received
        });
        crate::printer::send_to_printer(&address, &bytes, Duration::from_secs(5)).expect("printed");
        let received = printer.join().expect("printer thread");

        assert_eq!(
            received, bytes,
            "the printer gets exactly the rendered receipt"
        );
        assert!(
            received.starts_with(&[0x1B, b'@']),
            "the job starts by initialising the printer"
        );
        let (big5_name, _, _) = encoding_rs::BIG5.encode("凍頂烏龍茶");
        assert!(
            received
                .windows(big5_name.len())
                .any(|w| w == &big5_name[..]),
            "the Chinese product name is printed in Big5"
        );
        assert!(
            received
                .windows(receipt.receipt_no.len())
                .any(|w| w == receipt.receipt_no.as_bytes()),
            "the receipt number is printed"
        );
        assert!(
            received.ends_with(&[0x1D, b'V', 66, 0]),
            "the job ends with a paper cut"
        );
    }
}
