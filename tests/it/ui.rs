//! UI flows in the real app window: the debug build of the till under tauri-driver and
//! WebKitWebDriver on its own Xvfb display, with a fresh demo ledger per test.
//!
//! Each test drives the window the way a cashier does (a scanner types a barcode and Enter,
//! function keys open the dialogs) and then checks what the screen shows and what the ledger
//! file holds, read with a second, read-only SQLite connection while the app runs. Only one
//! window runs at a time (`WINDOW`), since two tills on two cores make each other's timeouts
//! flaky. Screenshots of key steps go to target/ui-shots/<test>/.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use omnitill_core::{barcode, demo};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};

use crate::support::webdriver::{TillWindow, WebDriver, keys, poll_until};

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

pub(crate) fn sign_in(driver: &WebDriver, code: &str, pin: &str) {
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

// --- The tests --------------------------------------------------------------------------------

#[test]
fn cashier_sells_with_split_payment_and_refunds_a_line_in_the_real_window() {
    let _window_lock = one_window_at_a_time();
    let window = TillWindow::start("cashier_sells_with_split_payment_and_refunds_a_line");
    window.shot("sign-in");
    let driver = window.driver();

    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    assert_eq!(
        cart_line_count(driver),
        Some(0),
        "a fresh till starts with an empty cart"
    );

    // Four scans as fast as a scanner sends them; the Dongding Oolong twice.
    for product in [
        &DONGDING_75G,
        &ALISHAN_75G,
        &DONGDING_75G,
        &SUN_MOON_LAKE_75G,
    ] {
        scan(driver, &demo::demo_barcode(product.n));
    }
    wait_for_cart(
        driver,
        &[
            (DONGDING_75G.sku, 2),
            (ALISHAN_75G.sku, 1),
            (SUN_MOON_LAKE_75G.sku, 1),
        ],
    );
    assert_eq!(
        cart_total_minor(driver),
        2 * DONGDING_75G.price_minor + ALISHAN_75G.price_minor + SUN_MOON_LAKE_75G.price_minor,
        "the cart total is the sum of the scanned prices before any discount"
    );

    // 10 % off the Alishan line: select it, F4, type 10, Enter.
    let alishan_row = format!(
        "tr[data-testid='cart-line'][data-sku='{}']",
        ALISHAN_75G.sku
    );
    driver.find(&format!("{alishan_row} td.item")).click();
    driver.wait_until("the clicked Alishan line to be selected", || {
        (driver.find(&alishan_row).attr("aria-selected").as_deref() == Some("true")).then_some(())
    });
    let scan_field_focused = driver.execute("return document.activeElement?.id ?? null;", vec![]);
    assert_eq!(
        scan_field_focused,
        json!("scan"),
        "clicking a line must leave the focus in the scan field, or the next scan is lost"
    );
    press(driver, keys::F4);
    driver.wait_for("#discount-dialog");
    window.shot("line-discount-dialog");
    driver
        .find("#discount-value")
        .send_keys(&format!("10{}", keys::ENTER));
    driver.wait_gone("#discount-dialog");

    let percent = 10;
    let discount = div_round_half_away(ALISHAN_75G.price_minor * percent, 100);
    let line_totals = [
        2 * DONGDING_75G.price_minor,
        ALISHAN_75G.price_minor - discount,
        SUN_MOON_LAKE_75G.price_minor,
    ];
    // Tax is included in the prices, so the total is the sum of what each line charges.
    let total: i64 = line_totals.iter().sum();
    driver.wait_until("the cart total to include the 10 % line discount", || {
        (cart_total_minor(driver) == total).then_some(())
    });
    let discount_cell = driver.find(&format!("{alishan_row} td.discount")).text();
    assert!(
        discount_cell.contains(&receipt_money(discount)) && discount_cell.contains("10%"),
        "the discounted line shows the amount off and the percentage, shows {discount_cell:?}"
    );
    window.shot("cart-with-discount");
    let hidden = driver.execute(
        "const scroller = document.querySelector('#cart-lines').parentElement;
         const edge = scroller.getBoundingClientRect().right;
         return [...document.querySelectorAll('#cart-lines td.line-total')]
           .filter((cell) => cell.getBoundingClientRect().right > edge + 0.5)
           .map((cell) => cell.closest('tr').dataset.sku);",
        vec![],
    );
    assert_eq!(
        hidden,
        json!([]),
        "at 1280x800 every line's total is on screen without scrolling sideways, even with a long product name"
    );

    // F12: about half in cash, the exact rest by card.
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    let amount = driver.wait_for("#tender-amount[data-kind='cash']");
    let cash = total / 2 / 100 * 100;
    let card = total - cash;
    assert_eq!(
        amount.prop("value"),
        json!(receipt_money(total).replace(',', "")),
        "the cash amount is prefilled with what is due (already a whole dollar here)"
    );
    amount.clear();
    amount.send_keys(&format!("{}{}", cash / 100, keys::ENTER));
    driver.wait_for("li[data-testid='tender'][data-kind='cash']");
    driver.wait_for_text("#pay-due", "the rest due after the cash", |text| {
        text.contains(&receipt_money(card))
    });
    window.shot("pay-after-cash");

    press(driver, "k");
    let amount = driver.wait_for("#tender-amount[data-kind='card']");
    driver.wait_until(
        "the card amount to be prefilled with the exact rest",
        || (amount.prop("value") == json!(receipt_money(card).replace(',', ""))).then_some(()),
    );
    amount.clear();
    amount.send_keys(&receipt_money(card).replace(',', ""));
    driver
        .find("#tender-reference")
        .send_keys(&format!("AUTH-123{}", keys::ENTER));

    // Fully paid: the sale completes by itself and the receipt shows.
    driver.wait_for("#receipt[data-kind='sale']");
    window.shot("sale-receipt");
    let ledger = open_ledger_read_only(&window);
    let prefix: String = ledger
        .query_row(
            "SELECT receipt_prefix FROM device WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .expect("the till has a device row with its receipt prefix");
    let receipt_no = driver.find("#receipt-no").text();
    assert_eq!(
        receipt_no,
        format!("{prefix}-000001"),
        "the first sale of a new till gets the till's prefix and number 1"
    );
    let receipt_text = driver
        .find("#receipt-text")
        .prop("textContent")
        .as_str()
        .expect("the receipt text is a string")
        .to_owned();
    let squeezed_receipt = squeezed(&receipt_text);
    for product in [&DONGDING_75G, &ALISHAN_75G, &SUN_MOON_LAKE_75G] {
        assert!(
            squeezed_receipt.contains(&squeezed(product.name)),
            "the receipt names every product sold, {:?} is missing:\n{receipt_text}",
            product.name
        );
    }
    let discount_text = format!("-{}", receipt_money(discount));
    assert!(
        receipt_text
            .lines()
            .any(|l| l.trim_start().starts_with("discount")
                && l.trim_end().ends_with(&discount_text)),
        "the receipt shows the line discount {discount_text}:\n{receipt_text}"
    );
    assert!(
        receipt_text
            .lines()
            .any(|l| l.starts_with("Cash") && l.trim_end().ends_with(&receipt_money(cash))),
        "the receipt shows the cash tender of {}:\n{receipt_text}",
        receipt_money(cash)
    );
    assert!(
        receipt_text
            .lines()
            .any(|l| l.starts_with("Card ref AUTH-123")
                && l.trim_end().ends_with(&receipt_money(card))),
        "the receipt shows the card tender of {} with its terminal reference:\n{receipt_text}",
        receipt_money(card)
    );
    let total_text = format!("TWD {}", receipt_money(total));
    assert!(
        receipt_text
            .lines()
            .any(|l| l.starts_with("TOTAL") && l.trim_end().ends_with(&total_text)),
        "the receipt's TOTAL is {total_text}, the sum of the line amounts:\n{receipt_text}"
    );
    assert!(
        driver.find_all("#change-due").is_empty(),
        "a card that pays the exact rest leaves no change to hand back"
    );

    // The sale in the ledger, read while the app keeps running.
    let (sale_id, sale_total, op_seq): (String, i64, i64) = ledger
        .query_row(
            "SELECT id, total_minor, op_seq FROM sale WHERE receipt_no = ?1",
            [&receipt_no],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap_or_else(|e| panic!("the ledger should hold sale {receipt_no}: {e}"));
    assert_eq!(
        sale_total, total,
        "the ledger keeps the total the receipt printed"
    );
    let mut statement = ledger
        .prepare(
            "SELECT sku, quantity, total_minor FROM sale_line WHERE sale_id = ?1 ORDER BY line_no",
        )
        .expect("sale lines can be queried");
    let lines: Vec<(String, i64, i64)> = statement
        .query_map([&sale_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .expect("sale lines can be read")
        .collect::<Result<_, _>>()
        .expect("every sale line reads");
    assert_eq!(
        lines,
        vec![
            (DONGDING_75G.sku.to_owned(), 2, line_totals[0]),
            (ALISHAN_75G.sku.to_owned(), 1, line_totals[1]),
            (SUN_MOON_LAKE_75G.sku.to_owned(), 1, line_totals[2]),
        ],
        "the sale keeps one line per product in scan order, with its quantity and amount"
    );
    let mut statement = ledger
        .prepare("SELECT kind, amount_minor, reference FROM sale_tender WHERE sale_id = ?1 ORDER BY tender_no")
        .expect("tenders can be queried");
    let tenders: Vec<(String, i64, Option<String>)> = statement
        .query_map([&sale_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .expect("tenders can be read")
        .collect::<Result<_, _>>()
        .expect("every tender reads");
    assert_eq!(
        tenders,
        vec![
            ("cash".to_owned(), cash, None),
            ("card".to_owned(), card, Some("AUTH-123".to_owned())),
        ],
        "the sale keeps both payments in the order they were taken"
    );
    assert_eq!(
        tenders.iter().map(|t| t.1).sum::<i64>(),
        total,
        "the payments add up to the total exactly"
    );
    let mut statement = ledger
        .prepare("SELECT product_id, delta FROM stock_movement WHERE kind = 'sale' AND ref_id = ?1 ORDER BY id")
        .expect("stock movements can be queried");
    let movements: Vec<(i64, i64)> = statement
        .query_map([&sale_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("stock movements can be read")
        .collect::<Result<_, _>>()
        .expect("every movement reads");
    assert_eq!(
        movements,
        vec![
            (product_id(&ledger, DONGDING_75G.sku), -2),
            (product_id(&ledger, ALISHAN_75G.sku), -1),
            (product_id(&ledger, SUN_MOON_LAKE_75G.sku), -1),
        ],
        "each sold line takes its quantity out of stock"
    );
    let sale_ops: Vec<(i64, String)> = ledger
        .prepare("SELECT seq, op_type FROM outbox WHERE json_extract(payload, '$.sale_id') = ?1 ORDER BY seq")
        .expect("the outbox can be queried")
        .query_map([&sale_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("the outbox can be read")
        .collect::<Result<_, _>>()
        .expect("every outbox row reads");
    assert_eq!(
        sale_ops,
        vec![(op_seq, omnitill_core::outbox::SALE_COMPLETED.to_owned())],
        "the sale was written with exactly one outbox operation for the cloud"
    );

    // Enter starts the next sale; F9 opens refunds.
    press(driver, keys::ENTER);
    driver.wait_for("#checkout #scan");
    press(driver, keys::F9);
    driver.wait_for("#refund");
    driver
        .wait_for("#refund-receipt-no")
        .send_keys(&format!("{receipt_no}{}", keys::ENTER));
    driver.wait_for(&format!("#refund-sale[data-receipt-no='{receipt_no}']"));
    let refund_row = format!(
        "tr[data-testid='refund-line'][data-sku='{}']",
        DONGDING_75G.sku
    );
    assert_eq!(
        driver.find(&format!("{refund_row} td.refundable")).text(),
        "2",
        "both Dongding Oolong packs sold can still be refunded"
    );
    let quantity = driver.find(&format!("{refund_row} input.refund-qty"));
    quantity.clear();
    quantity.send_keys("1");
    let unit_refund = line_totals[0] / 2;
    driver.wait_for_text(
        "#refund-value",
        "the value of one Dongding Oolong",
        |text| text.contains(&receipt_money(unit_refund)),
    );
    driver
        .find("#refund-manager-code")
        .send_keys(demo::MANAGER.0);
    window.shot("refund-form");
    driver
        .find("#refund-manager-pin")
        .send_keys(&format!("{}{}", demo::MANAGER.1, keys::ENTER));

    driver.wait_for("#receipt[data-kind='refund']");
    window.shot("refund-receipt");
    let refund_no = driver.find("#receipt-no").text();
    assert_eq!(
        refund_no,
        format!("{prefix}-000002"),
        "a refund takes the next number of the till's receipt series"
    );
    let refunded = driver.find("#refund-amount").text();
    assert!(
        refunded.contains(&receipt_money(unit_refund)),
        "the refund screen shows the amount to give back, {}, shows {refunded:?}",
        receipt_money(unit_refund)
    );
    let refund_text = driver
        .find("#receipt-text")
        .prop("textContent")
        .as_str()
        .expect("the refund receipt text is a string")
        .to_owned();
    assert!(
        refund_text.contains("REFUND") && refund_text.contains(&format!("Refund of {receipt_no}")),
        "the refund receipt says what it is and which sale it refunds:\n{refund_text}"
    );
    assert!(
        squeezed(&refund_text).contains(&squeezed(DONGDING_75G.name)),
        "the refund receipt names the returned product:\n{refund_text}"
    );

    let (refund_id, refund_sale, refund_total, approver_code): (String, String, i64, String) =
        ledger
            .query_row(
                "SELECT r.id, r.sale_id, r.total_minor, s.code FROM refund r
             JOIN staff s ON s.id = r.approved_by WHERE r.receipt_no = ?1",
                [&refund_no],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap_or_else(|e| panic!("the ledger should hold refund {refund_no}: {e}"));
    assert_eq!(
        refund_sale, sale_id,
        "the refund points at the sale it refunds"
    );
    assert_eq!(
        refund_total, unit_refund,
        "the refund gives back one pack's share of the line"
    );
    assert_eq!(
        approver_code,
        demo::MANAGER.0,
        "the manager who typed the PIN approved the refund"
    );
    let refund_movements: Vec<(i64, i64)> = ledger
        .prepare(
            "SELECT product_id, delta FROM stock_movement WHERE kind = 'refund' AND ref_id = ?1",
        )
        .expect("stock movements can be queried")
        .query_map([&refund_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("stock movements can be read")
        .collect::<Result<_, _>>()
        .expect("every movement reads");
    assert_eq!(
        refund_movements,
        vec![(product_id(&ledger, DONGDING_75G.sku), 1)],
        "the returned pack goes back into stock"
    );
    let ops: Vec<String> = ledger
        .prepare(
            "SELECT op_type FROM outbox WHERE json_extract(payload, '$.sale_id') = ?1 ORDER BY seq",
        )
        .expect("the outbox can be queried")
        .query_map(params![sale_id], |row| row.get(0))
        .expect("the outbox can be read")
        .collect::<Result<_, _>>()
        .expect("every outbox row reads");
    assert_eq!(
        ops,
        vec![
            omnitill_core::outbox::SALE_COMPLETED.to_owned(),
            omnitill_core::outbox::REFUND_COMPLETED.to_owned()
        ],
        "the refund adds a second outbox operation and leaves the sale's own alone"
    );
}

#[test]
fn unknown_barcode_shows_a_message_and_leaves_the_cart_as_it_was() {
    let _window_lock = one_window_at_a_time();
    let window = TillWindow::start("unknown_barcode_shows_a_message");
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);

    scan(driver, &demo::demo_barcode(DONGDING_75G.n));
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1)]);
    let total_before = cart_total_minor(driver);
    assert_eq!(
        total_before, DONGDING_75G.price_minor,
        "one scanned item costs its price"
    );

    let unknown = barcode::ean13_from_payload(999_000_000_001);
    assert!(
        barcode::parse(&unknown).is_ok(),
        "{unknown} is a well-formed EAN-13"
    );
    scan(driver, &unknown);
    let text = wait_for_message(driver, "unknown_barcode");
    assert!(
        text.to_lowercase().contains("barcode") && !text.contains("unknown_barcode"),
        "the cashier reads a sentence about the barcode, not an error code: {text:?}"
    );
    window.shot("unknown-barcode");
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1)]);
    assert_eq!(
        cart_total_minor(driver),
        total_before,
        "a barcode the catalog does not know adds nothing"
    );
    assert_eq!(
        driver.find("#scan").prop("value"),
        json!(""),
        "the scan field is empty again, ready for the next scan"
    );

    let valid = demo::demo_barcode(2);
    let last = valid
        .chars()
        .last()
        .and_then(|c| c.to_digit(10))
        .expect("an EAN-13 ends in a digit");
    let wrong = format!("{}{}", &valid[..valid.len() - 1], (last + 1) % 10);
    scan(driver, &wrong);
    let text = wait_for_message(driver, "bad_check_digit");
    assert!(
        text.to_lowercase().contains("check digit"),
        "the cashier is told the check digit is wrong: {text:?}"
    );
    window.shot("bad-check-digit");
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1)]);
    assert_eq!(
        cart_total_minor(driver),
        total_before,
        "a misread barcode adds nothing, not even a look-alike product"
    );
}

#[test]
fn malformed_ipc_calls_get_a_typed_error() {
    let _window_lock = one_window_at_a_time();
    let window = TillWindow::start("malformed_ipc_calls_get_a_typed_error");
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    driver.set_script_timeout(Duration::from_secs(10));

    let calls = [
        (
            "cart_set_quantity",
            json!({"lineId": "x", "quantity": "many"}),
            "lineId",
        ),
        ("cart_set_quantity", json!({"lineId": 1}), "quantity"),
        ("cart_set_quantity", json!({}), "lineId"),
        ("cart_scan", json!({"code": 4_711}), "code"),
        ("cart_add_tender", json!({"kind": "cash"}), "amountMinor"),
    ];
    for (command, args, argument) in calls {
        let answer = invoke_raw(driver, command, args.clone());
        let error = answer.get("err").unwrap_or_else(|| {
            panic!("{command} with {args} must be refused, it answered {answer}")
        });
        assert_eq!(
            error.get("code"),
            Some(&json!("bad_input")),
            "{command} with {args} is refused with the typed code the UI switches on, got {error}"
        );
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            message.contains(argument),
            "the message of {command} with {args} names the argument {argument}, got {message:?}"
        );
    }

    let cart = invoke_raw(driver, "cart_get", json!({}));
    assert_eq!(
        cart.pointer("/ok/lines")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(0),
        "refused calls leave the cart as it was, got {cart}"
    );
    scan(driver, &demo::demo_barcode(SUN_MOON_LAKE_75G.n));
    wait_for_cart(driver, &[(SUN_MOON_LAKE_75G.sku, 1)]);
    assert_eq!(
        cart_total_minor(driver),
        SUN_MOON_LAKE_75G.price_minor,
        "after the malformed calls the till still sells"
    );
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

#[test]
fn sales_made_while_the_cloud_is_down_wait_as_pending_and_reach_it_when_it_returns() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let mut cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "offline_then_online",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    poll_until("the till to be online with the cloud", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "online")
    });

    cloud.stop();
    for product in [&DONGDING_75G, &ALISHAN_75G, &SUN_MOON_LAKE_75G] {
        scan(driver, &demo::demo_barcode(product.n));
        wait_for_cart(driver, &[(product.sku, 1)]);
        pay_cash_and_start_next_sale(driver);
    }
    let (state, pending) = poll_until(
        "the status bar to show offline with 3 pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "offline" && *pending == 3),
    );
    assert_eq!(
        (state.as_str(), pending),
        ("offline", 3),
        "three sales wait while the cloud is down"
    );
    let words = driver.find("#sync-status").text();
    assert!(
        words.contains('3'),
        "the status bar says how many wait: {words:?}"
    );
    window.shot("offline-three-pending");
    let sales = cloud_sales(&cloud, &key);
    assert!(
        sales.is_none(),
        "the cloud is down, so its API does not answer"
    );

    cloud.restart();
    poll_until(
        "the status bar to show online with nothing pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "online" && *pending == 0),
    );
    window.shot("online-nothing-pending");
    let sales = cloud_sales(&cloud, &key).expect("the cloud answers again");
    assert_eq!(
        sales.len(),
        3,
        "the three offline sales are in the cloud, once each"
    );
}

/// The store's sales through the cloud's API, or None when it does not answer.
fn cloud_sales(cloud: &crate::support::cloud::CloudProcess, key: &str) -> Option<Vec<Value>> {
    let response = crate::support::cloud::http()
        .get(format!("{}/v1/stores/TPE-XINYI/sales", cloud.base_url))
        .bearer_auth(key)
        .send()
        .ok()?;
    response.json::<Vec<Value>>().ok()
}

#[test]
fn a_manager_reviews_an_operation_the_cloud_refused() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "review_refusal",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::MANAGER.0, demo::MANAGER.1);
    poll_until("the till to be online with the cloud", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "online")
    });

    // A newer till's kind of operation, which this cloud cannot apply, queued beside the app's
    // own connection (WAL lets a second writer in between the app's transactions).
    let mut ledger = Connection::open(window.ledger_path()).expect("the ledger opens for writing");
    ledger
        .busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    let tx = ledger.transaction().expect("a transaction");
    let seq: i64 = tx
        .query_row(
            "UPDATE counter SET value = value + 1 WHERE name = 'outbox' RETURNING value",
            [],
            |row| row.get(0),
        )
        .unwrap_or(1);
    if seq == 1 {
        tx.execute("INSERT INTO counter (name, value) VALUES ('outbox', 1)", [])
            .expect("the first outbox number");
    }
    tx.execute(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at) VALUES (?1, ?2, 'member.points_redeemed.v9', '{\"receipt_no\":\"W-77\"}', ?3)",
        params![seq, uuid::Uuid::now_v7().to_string(), chrono::Utc::now().timestamp_millis()],
    )
    .expect("the operation is queued");
    tx.commit().expect("commit");

    // The next sale wakes the engine, which pushes both; the refusal does not hold the sale back.
    scan(driver, &demo::demo_barcode(DONGDING_75G.n));
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1)]);
    pay_cash_and_start_next_sale(driver);
    let flagged = poll_until(
        "the status bar to flag one refusal for review",
        SYNC_WAIT,
        || {
            let flag = driver.try_find("#sync-review").ok()?;
            (flag.attr("data-count")?.as_str() == "1").then(|| flag.text())
        },
    );
    assert!(
        flagged.contains('1'),
        "the status bar says how many refusals wait: {flagged:?}"
    );
    poll_until("nothing pending after the refusal", SYNC_WAIT, || {
        sync_state(driver).filter(|(_, pending)| *pending == 0)
    });

    press(driver, keys::F11);
    driver.wait_for("#settings #open-review");
    window.shot("settings-with-refusal");
    press(driver, keys::F9);
    let row = driver.wait_for(&format!("#review-list tr[data-seq='{seq}']"));
    let text = row.text();
    assert!(
        text.contains("W-77") && text.contains("member.points_redeemed.v9"),
        "the row names the receipt and the cloud's reason: {text:?}"
    );
    window.shot("review-list");
    driver
        .wait_for("#review-note")
        .send_keys("points redeemed by hand in the e-shop admin");
    driver.find("#review-note").send_keys(keys::ENTER);
    driver.wait_for("#review-empty");
    poll_until("the status bar flag to clear", SYNC_WAIT, || {
        driver.try_find("#sync-review").err().map(|_| ())
    });
    window.shot("review-done");
    let reader = open_ledger_read_only(&window);
    let (resolved_by, note): (String, String) = reader
        .query_row(
            "SELECT resolved_by, note FROM op_outcome WHERE seq = ?1",
            [seq],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the refusal's outcome is in the ledger");
    assert!(
        !resolved_by.is_empty(),
        "the ledger records which manager reviewed it"
    );
    assert_eq!(note, "points redeemed by hand in the e-shop admin");
}

/// The demo's gold member, 陳美玲 Mei-ling Chen, as the e-shop API sees her.
fn demo_member(cloud: &crate::support::cloud::CloudProcess, key: &str) -> Value {
    cloud.get_with_key(key, "/v1/members?phone=0912-345-678")
}

/// A fresh QR token from the member app, made by the cloud (signed, valid for minutes).
fn member_qr(cloud: &crate::support::cloud::CloudProcess, key: &str, member_id: &str) -> String {
    let response = crate::support::cloud::http()
        .post(format!("{}/v1/members/{member_id}/qr", cloud.base_url))
        .bearer_auth(key)
        .send()
        .expect("the QR request is answered");
    assert!(
        response.status().is_success(),
        "the cloud issues a QR token for a member: {}",
        response.status()
    );
    let body: Value = response.json().expect("QR JSON");
    body["token"].as_str().expect("a token").to_owned()
}

/// Opens the payment dialog, pays `points` of the attached member's points (P), and returns
/// the dialog still open for the rest.
fn pay_points(driver: &WebDriver, points: i64) {
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    press(driver, "p");
    let field = driver.wait_for("#tender-amount[data-kind='points']");
    field.clear();
    field.send_keys(&format!("{points}{}", keys::ENTER));
}

#[test]
fn a_member_scanned_by_qr_pays_with_points_and_offline_meets_the_limit_in_words() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let mut cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let member = demo_member(&cloud, &key);
    let member_id = member["id"].as_str().expect("the member's id").to_owned();
    // Customer service gave her points for a late parcel; the till shows why her points moved.
    let (status, answer) = crate::support::members::api_call(
        &cloud,
        &key,
        reqwest::Method::POST,
        &format!("/v1/members/{member_id}/adjust"),
        Some(json!({ "reference": "CS-77", "points": 50, "reason": "Late parcel 包裹延遲" })),
    );
    assert_eq!(status, 200, "customer service adjusts her points: {answer}");
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "member_points",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    poll_until(
        "the till to be online with nothing pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "online" && *pending == 0),
    );

    // 0. Bad look-ups in the member dialog: each says why, and attaches nobody.
    press(driver, keys::F6);
    let unknown_card = omnitill_core::loyalty::card_number(7_654_321);
    let mut wrong_digit = unknown_card.clone();
    let last = wrong_digit.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    wrong_digit.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    for (typed, code, says) in [
        ("09x2", "member_input", "not a phone number"),
        ("mei@", "member_input", "not an e-mail address"),
        (wrong_digit.as_str(), "member_input", "check digit"),
        (unknown_card.as_str(), "member_not_found", "No member found"),
    ] {
        let field = driver.wait_for("#member-input");
        field.clear();
        field.send_keys(&format!("{typed}{}", keys::ENTER));
        let message = wait_for_message(driver, code);
        let detail = driver.find("#message").prop("innerText");
        let detail = detail.as_str().unwrap_or_default();
        assert!(
            message.contains(says) || detail.contains(says),
            "{typed:?}: the cashier is told why ({message:?} / {detail:?})"
        );
        assert!(
            driver.find_all("#cart-member").is_empty(),
            "{typed:?}: a failed look-up attaches nobody"
        );
    }
    window.shot("member-bad-lookup");
    press(driver, keys::ESCAPE);
    driver.wait_until("the member dialog to close", || {
        driver.find_all("#member-dialog").is_empty().then_some(())
    });

    // 1. The member's QR code, scanned into the ordinary scan field, attaches her.
    scan(driver, &member_qr(&cloud, &key, &member_id));
    // innerText: WebKit's visible-text atom skips the name's ellipsis box.
    let strip = driver.wait_for("#cart-member").prop("innerText");
    let strip = strip.as_str().unwrap_or_default();
    assert!(
        strip.contains("Mei-ling Chen"),
        "one scan of the QR code attaches the member, shown beside the total: {strip:?}"
    );
    // F6 shows her tier, her balance as of the last sync and her coupons.
    press(driver, keys::F6);
    let card = driver.wait_for("#member-card").text();
    assert!(
        card.contains("Mei-ling Chen") && card.contains("pts"),
        "the member dialog shows the member and her points: {card:?}"
    );
    // Her purchases from both channels, asked of the cloud while online.
    let channels: Vec<String> = driver.wait_until("the member's purchases from the cloud", || {
        let rows = driver.find_all("#member-history tr[data-channel]");
        (!rows.is_empty()).then(|| rows.iter().filter_map(|r| r.attr("data-channel")).collect())
    });
    assert!(
        channels.iter().any(|c| c == "online") && channels.iter().any(|c| c != "online"),
        "the look-up shows purchases from the e-shop and from stores: {channels:?}"
    );
    let adjusted = driver.wait_for("#member-points tr[data-kind='adjust']");
    let adjusted = adjusted.prop("innerText");
    let adjusted = adjusted.as_str().unwrap_or_default();
    assert!(
        adjusted.contains("+50") && adjusted.contains("Late parcel"),
        "the points movements show the adjustment with its reason: {adjusted:?}"
    );
    window.shot("member-dialog");
    press(driver, keys::ESCAPE);
    driver.wait_until("the member dialog to close", || {
        driver.find_all("#member-dialog").is_empty().then_some(())
    });

    // 2. Sell two items; her tier discount applies.
    scan(driver, &demo::demo_barcode(DONGDING_75G.n));
    scan(driver, &demo::demo_barcode(ALISHAN_75G.n));
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1), (ALISHAN_75G.sku, 1)]);
    let gross = DONGDING_75G.price_minor + ALISHAN_75G.price_minor;
    assert!(
        cart_total_minor(driver) < gross,
        "a gold member's tier discount lowers the total below {gross}"
    );
    window.shot("member-attached");

    // 3. 100 points pay part of it, held at the cloud; cash pays the rest.
    pay_points(driver, 100);
    let tender = driver.wait_for("li[data-testid='tender'][data-kind='points']");
    assert!(
        tender.text().contains("100"),
        "the payment list shows the points used: {:?}",
        tender.text()
    );
    window.shot("points-tender");
    driver
        .wait_for("#tender-amount[data-kind='cash']")
        .send_keys(keys::ENTER);

    // 4. The receipt's points lines.
    driver.wait_for("#receipt[data-kind='sale']");
    let text = driver.find("#receipt-text").text();
    assert!(
        text.contains("Points redeemed") && text.contains("100"),
        "the receipt says 100 points were redeemed:\n{text}"
    );
    assert!(
        text.contains("Points earned") && text.contains("Points balance"),
        "the receipt says the points earned and the balance after:\n{text}"
    );
    assert!(
        text.contains("(pending)"),
        "the balance is marked pending until the cloud confirms the sale:\n{text}"
    );
    window.shot("receipt-points");
    press(driver, keys::ENTER);
    driver.wait_for("#checkout #scan");
    let reader = open_ledger_read_only(&window);
    let redeemed: i64 = reader
        .query_row(
            "SELECT points_redeemed FROM sale_member ORDER BY rowid DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .expect("the sale's member block is in the ledger");
    assert_eq!(redeemed, 100, "the ledger records the points redeemed");

    // 5. Offline, redeeming past the offline limit is refused with the reason in words.
    let qr = member_qr(&cloud, &key, &member_id);
    cloud.stop();
    poll_until("the status bar to show offline", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "offline")
    });
    scan(driver, &qr);
    driver.wait_for("#cart-member");
    scan(driver, &demo::demo_barcode(ALISHAN_75G.n));
    wait_for_cart(driver, &[(ALISHAN_75G.sku, 1)]);
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    press(driver, "p");
    let limit = driver.wait_for("#points-offline-limit").text();
    assert!(
        limit.contains("Offline") && limit.contains("at most"),
        "offline, the payment dialog states the limit and why before anything is typed: {limit:?}"
    );
    let field = driver.wait_for("#tender-amount[data-kind='points']");
    field.clear();
    field.send_keys(&format!("600{}", keys::ENTER));
    let message = wait_for_message(driver, "offline_points_limit");
    assert!(
        message.contains("offline") || message.contains("Offline"),
        "the cashier is told points are limited offline: {message:?}"
    );
    let detail = driver.find("#message .detail").prop("innerText");
    let detail = detail.as_str().unwrap_or_default();
    assert!(
        detail.contains("at most") && detail.contains("600"),
        "the message gives the limit and what was asked: {detail:?}"
    );
    window.shot("offline-limit");
    assert!(
        driver
            .find_all("li[data-testid='tender'][data-kind='points']")
            .is_empty(),
        "a refused redemption adds no payment"
    );

    // 6. Still offline, a new customer enrols at the counter and is attached to the sale.
    press(driver, keys::ESCAPE);
    driver.wait_until("the payment dialog to close", || {
        driver.find_all("#pay-dialog").is_empty().then_some(())
    });
    press(driver, keys::F6);
    driver.wait_for("#member-dialog");
    press(driver, keys::F7);
    driver.wait_for("#enrol-name").send_keys("吳小華 Wu");
    // WebDriver's key typing drops characters outside the BMP; an emoji arrives the way an input
    // method or the emoji picker commits it: as text inserted into the field, with an input event.
    driver.execute(
        "const field = document.querySelector('#enrol-name');
         field.focus();
         field.setRangeText(arguments[0], field.value.length, field.value.length, 'end');
         field.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: arguments[0] }));",
        vec![json!(" 🌸")],
    );
    driver.find("#enrol-phone").send_keys("0977-555-222");
    // Without consent to the terms the till refuses, in words, and enrols nobody.
    driver.find("#enrol-name").send_keys(keys::ENTER);
    wait_for_message(driver, "member_input");
    let refused = driver.find("#message .detail").prop("innerText");
    assert!(
        refused.as_str().unwrap_or_default().contains("terms"),
        "the cashier is told consent to the terms is needed: {refused:?}"
    );
    driver.find("#enrol-terms").click();
    driver.find("#enrol-name").send_keys(keys::ENTER);
    driver.wait_until("the new member to be attached", || {
        let strip = driver.try_find("#cart-member").ok()?.prop("innerText");
        strip
            .as_str()
            .filter(|s| s.contains("吳小華"))
            .map(str::to_owned)
    });
    window.shot("enrolled-offline");
    let enrolled: i64 = reader
        .query_row(
            "SELECT count(*) FROM outbox WHERE op_type = 'member.enrolled.v1' AND acked_at IS NULL",
            [],
            |row| row.get(0),
        )
        .expect("the outbox");
    assert_eq!(
        enrolled, 1,
        "the offline enrolment waits in the outbox as one operation"
    );
    let name: String = reader
        .query_row("SELECT name FROM member WHERE local_only = 1", [], |row| {
            row.get(0)
        })
        .expect("the enrolled member is cached");
    assert_eq!(
        name, "吳小華 Wu 🌸",
        "the name is kept as typed, emoji and all"
    );
}

/// A demo ledger in `dir` (in `language`) with one index page overwritten: it opens, and the
/// background check finds the damage. Returns the ledger's bytes.
fn damaged_demo_ledger(dir: &std::path::Path, language: omnitill_core::Language) -> Vec<u8> {
    let path = dir.join("till.sqlite3");
    {
        let mut till =
            omnitill_core::Till::open(&path, std::sync::Arc::new(omnitill_core::SystemClock))
                .expect("a new ledger");
        demo::seed_demo(&mut till).expect("the demo store");
        till.set_language(language).expect("the language");
        till.connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("a checkpoint");
    }
    let (root, page_size): (i64, i64) = {
        let conn = Connection::open(&path).expect("the ledger");
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'barcode_by_product'",
                [],
                |row| row.get(0),
            )
            .expect("the index");
        let size = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("the page size");
        (root, size)
    };
    let mut bytes = std::fs::read(&path).expect("the ledger");
    let end = usize::try_from(root * page_size).expect("an offset");
    for byte in &mut bytes[end - 40..end - 8] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("the damaged ledger");
    assert!(
        !omnitill_core::health::check_ledger(&path)
            .expect("the check runs")
            .is_empty(),
        "the overwritten index page is damage the check finds"
    );
    bytes
}

#[test]
fn a_damaged_ledger_stops_selling_with_the_managers_screen_in_both_languages() {
    let _window_lock = one_window_at_a_time();
    for (language, title) in [
        (omnitill_core::Language::English, "Selling has stopped"),
        (omnitill_core::Language::TraditionalChinese, "已停止銷售"),
    ] {
        let dir = tempfile::tempdir().expect("a data directory");
        let before = damaged_demo_ledger(dir.path(), language);
        let data_dir = dir.path().display().to_string();
        let name = match language {
            omnitill_core::Language::English => "damaged-ledger-en",
            _ => "damaged-ledger-zh",
        };
        let window = TillWindow::start_with_args(name, &["--data-dir", &data_dir]);
        let driver = window.driver();
        let screen = driver.wait_for("#fatal-error[data-code='ledger_damaged']");
        let text = screen.prop("innerText");
        let text = text.as_str().unwrap_or_default();
        assert!(
            text.contains(title) && text.contains("--recover"),
            "the screen says selling stopped, in the till's language, and how the manager recovers: {text}"
        );
        assert!(
            driver.find_all("#login").is_empty() && driver.find_all("#checkout").is_empty(),
            "nothing to sell with is on screen"
        );
        let refused = invoke_raw(
            driver,
            "login",
            json!({ "staffCode": "1001", "pin": "1234" }),
        );
        assert_eq!(
            refused["err"]["code"], "ledger_damaged",
            "core refuses a sign-in's write to the damaged ledger: {refused}"
        );
        window.shot("damaged-ledger");
        drop(window);
        assert!(
            std::fs::read(dir.path().join("till.sqlite3")).expect("the ledger") == before,
            "the damaged ledger is left byte for byte as it was"
        );
    }
}

#[test]
fn the_status_bar_says_the_restored_cloud_gets_sales_again_in_both_languages() {
    use crate::support::cloud::{Backend, CloudProcess};
    use crate::support::proxy::Fault;
    use crate::support::tills::{self, SyncedTill};

    let _window_lock = one_window_at_a_time();
    for (language, words) in [
        (
            omnitill_core::Language::English,
            "The cloud was restored from a backup",
        ),
        (
            omnitill_core::Language::TraditionalChinese,
            "雲端已從備份還原",
        ),
    ] {
        let runtime = tills::runtime();
        let mut cloud = CloudProcess::start(Backend::Sqlite);
        let key = cloud.api_key();
        let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", true);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        till.sell_randomly(&mut rng, 2);
        till.sync(&runtime).expect("seq 1-2 reach the cloud");
        let backup = cloud.backup();
        till.sell_randomly(&mut rng, 3);
        till.sync(&runtime).expect("seq 3-5 reach the cloud");
        cloud.restore(&backup);
        // A sale made meanwhile is what the app's engine pushes first.
        let receipts = till.sell_randomly(&mut rng, 1);
        till.temp.till.set_language(language).expect("the language");
        // Each request waits a second and a half on its way, so the re-sending is on screen.
        till.proxy().set(Fault::Delay(Duration::from_millis(1_500)));

        let data_dir = till.temp._dir.path().display().to_string();
        let name = match language {
            omnitill_core::Language::English => "resending-en",
            _ => "resending-zh",
        };
        let window = TillWindow::start_with_args(name, &["--data-dir", &data_dir]);
        let driver = window.driver();
        sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
        let line = driver.wait_until("the status bar to say the sales are sent again", || {
            let text = driver.try_find("#sync-resending").ok()?.prop("innerText");
            text.as_str()
                .filter(|t| t.contains(words))
                .map(str::to_owned)
        });
        let total = driver.find("#sync-resending").attr("data-total");
        assert_eq!(
            total.as_deref(),
            Some("3"),
            "it says how many: the three the restored cloud forgot (seq 3-5; the new sale was never sent): {line}"
        );
        window.shot("resending");
        till.proxy().pass();
        driver.wait_until("everything to be in the restored cloud", || {
            let gone = driver.find_all("#sync-resending").is_empty();
            (gone && sync_state(driver).is_some_and(|(_, pending)| pending == 0)).then_some(())
        });
        let in_cloud = tills::cloud_receipts(&cloud, &key, "TPE-XINYI");
        let mut ours = till.sale_receipts();
        ours.sort();
        assert_eq!(
            in_cloud, ours,
            "the restored cloud holds every sale of the till exactly once (new sale {receipts:?})"
        );
        drop(window);
    }
}
