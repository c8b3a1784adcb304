//! UI flows in the real app window: the debug build of the till under tauri-driver and
//! WebKitWebDriver on its own Xvfb display, with a fresh demo ledger per test.
//!
//! Each test drives the window the way a cashier does (a scanner types a barcode and Enter,
//! function keys open the dialogs) and then checks what the screen shows and what the ledger
//! file holds, read with a second, read-only SQLite connection while the app runs. Only one
//! window runs at a time (`WINDOW`), since two tills on two cores make each other's timeouts
//! flaky. Screenshots of key steps go to target/ui-shots/<test>/.
//!
//! This file holds what the flows share: the window lock, demo products, a cashier's steps and
//! the ledger read beside the app. The flows: `checkout` (a sale, a refund, bad input),
//! `sync` (an outage, a refused operation, a restored cloud), `members` (a member at
//! checkout), `ledger` (a damaged ledger), `screen` (the till filling its screen), `pickups`
//! (click-and-collect and the member on the shop floor).

mod checkout;
mod ledger;
mod members;
mod pickups;
mod screen;
mod sync;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use omnitill_core::{barcode, demo};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};

use crate::support::till_window::TillWindow;
use crate::support::webdriver::{WebDriver, keys, poll_until};

/// Held by every test that opens a window, so they run one after another.
static WINDOW: Mutex<()> = Mutex::new(());

fn one_window_at_a_time() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock leaves nothing behind that matters here.
    WINDOW
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A demo product as the catalog seeds it: its number, SKU, name and price in minor units.
struct DemoProduct {
    n: u64,
    sku: &'static str,
    name: &'static str,
    price_minor: i64,
}

const DONGDING_75G: DemoProduct = DemoProduct {
    n: 1,
    sku: "TEA-DDO-75g",
    name: "凍頂烏龍茶 Dongding Oolong 75g",
    price_minor: 480 * 100,
};
const ALISHAN_75G: DemoProduct = DemoProduct {
    n: 4,
    sku: "TEA-ALS-75g",
    name: "阿里山高山茶 Alishan High Mountain Tea 75g",
    price_minor: 650 * 100,
};
const SUN_MOON_LAKE_75G: DemoProduct = DemoProduct {
    n: 10,
    sku: "TEA-SML-75g",
    name: "日月潭紅茶 Sun Moon Lake Black Tea 75g",
    price_minor: 420 * 100,
};

/// `numerator / denominator` rounded half away from zero, as the till rounds discounts.
fn div_round_half_away(numerator: i64, denominator: i64) -> i64 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator.abs() {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    }
}

/// An amount as the receipt prints it: 196500 -> "1,965.00".
fn receipt_money(minor: i64) -> String {
    omnitill_core::money::format_minor(minor, 2)
}

/// The text with every kind of white space removed, so that a name wrapped over two receipt
/// lines still matches.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

// --- Steps a cashier takes ----------------------------------------------------------------------

fn sign_in(driver: &WebDriver, code: &str, pin: &str) {
    driver
        .wait_for("#login-code")
        .send_keys(&format!("{code}{}", keys::ENTER));
    driver
        .find("#login-pin")
        .send_keys(&format!("{pin}{}", keys::ENTER));
    driver.wait_for("#checkout #scan");
    driver.wait_until("the checkout to have loaded the cart", || {
        cart_line_count(driver).filter(|_| driver.find_all("#login").is_empty())
    });
}

/// Types a barcode into the scan field and ends it with Enter in one go, as a scanner does.
fn scan(driver: &WebDriver, code: &str) {
    driver
        .find("#scan")
        .send_keys(&format!("{code}{}", keys::ENTER));
}

/// Presses a key where the focus is; the checkout's function keys listen on the window.
fn press(driver: &WebDriver, key: &str) {
    driver.type_into_focus(key);
}

fn cart_line_count(driver: &WebDriver) -> Option<usize> {
    driver
        .try_find("#cart-lines")
        .ok()?
        .attr("data-count")?
        .parse()
        .ok()
}

fn cart_total_minor(driver: &WebDriver) -> i64 {
    driver
        .find("#total")
        .attr("data-minor")
        .and_then(|v| v.parse().ok())
        .expect("#total carries the cart total in minor units in data-minor")
}

/// The quantity of the cart line of `sku`, None when there is no such line.
fn line_quantity(driver: &WebDriver, sku: &str) -> Option<i64> {
    driver
        .find_all(&format!("tr[data-testid='cart-line'][data-sku='{sku}']"))
        .first()?
        .attr("data-quantity")?
        .parse()
        .ok()
}

fn wait_for_cart(driver: &WebDriver, expected: &[(&str, i64)]) {
    let what = format!("the cart to hold exactly {expected:?}");
    driver.wait_until(&what, || {
        let count_ok = cart_line_count(driver) == Some(expected.len());
        let lines_ok = expected
            .iter()
            .all(|(sku, quantity)| line_quantity(driver, sku) == Some(*quantity));
        (count_ok && lines_ok).then_some(())
    });
}

/// Waits for the message banner to show an error with `code`; returns its visible text.
fn wait_for_message(driver: &WebDriver, code: &str) -> String {
    let selector = format!("#message[data-code='{code}'] .text");
    // innerText, not WebDriver's element text: WebKit's visible-text atom reads nothing from a
    // line-clamped box, though the screen shows the sentence.
    driver.wait_until(
        &format!("{selector} to show a sentence for the cashier"),
        || {
            let text = driver.try_find(&selector).ok()?.prop("innerText");
            text.as_str()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned)
        },
    )
}

/// Calls a till command straight through the IPC bridge, as a broken or hostile page could, and
/// returns `{"ok": value}` or `{"err": rejection}`.
fn invoke_raw(driver: &WebDriver, command: &str, args: Value) -> Value {
    driver.execute_async(
        "const [command, args, done] = arguments;
         window.__TAURI_INTERNALS__.invoke(command, args).then(
           (value) => done({ ok: value === undefined ? null : value }),
           (error) => done({ err: error === undefined ? null : error }),
         );",
        vec![json!(command), args],
    )
}

// --- The ledger, read beside the running app --------------------------------------------------

fn open_ledger_read_only(window: &TillWindow) -> Connection {
    let path = window.ledger_path();
    // WAL lets a reader in while the app holds its own connection open.
    Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("the ledger {} should open read-only: {e}", path.display()))
}

fn product_id(ledger: &Connection, sku: &str) -> i64 {
    ledger
        .query_row("SELECT id FROM product WHERE sku = ?1", [sku], |row| {
            row.get(0)
        })
        .unwrap_or_else(|e| panic!("the demo catalog should have {sku}: {e}"))
}

/// Pays the whole cart in cash (the prefilled amount) and starts the next sale.
fn pay_cash_and_start_next_sale(driver: &WebDriver) {
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    driver
        .wait_for("#tender-amount[data-kind='cash']")
        .send_keys(keys::ENTER);
    driver.wait_for("#receipt[data-kind='sale']");
    press(driver, keys::ENTER);
    driver.wait_for("#checkout #scan");
}

/// How long the status bar may take to follow the link: the engine retries at most every 10 s
/// (with jitter) and the UI polls every 2 s.
const SYNC_WAIT: Duration = Duration::from_secs(40);

fn sync_state(driver: &WebDriver) -> Option<(String, i64)> {
    let status = driver.try_find("#sync-status").ok()?;
    let state = status.attr("data-state")?;
    let pending = status.attr("data-pending")?.parse().ok()?;
    Some((state, pending))
}
