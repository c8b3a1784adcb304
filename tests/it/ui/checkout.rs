//! A cashier at checkout in the real window: a sale with a split payment and a refund of a
//! line, an unknown barcode, and malformed IPC calls.

use super::*;

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
