//! Ledger scenarios on real SQLite files: what a completed sale and a refund write, receipt
//! numbering, scheduled prices, search, migrations from zero, and refusal of unusable files.

use std::fs;

use chrono::Duration;
use omnitill_core::db::{self, MIGRATIONS};
use omnitill_core::{CoreError, Discount, ManualClock, TenderKind, Till, demo};
use rusqlite::Connection;

use crate::support::{TempTill, ledger_path};

fn count(conn: &Connection, sql: &str, param: &str) -> i64 {
    conn.query_row(sql, [param], |row| row.get(0))
        .expect("a count query runs")
}

#[test]
fn completing_a_sale_writes_sale_lines_tenders_stock_and_one_outbox_operation() {
    let mut t = TempTill::demo();
    let cashier = t.cashier();
    let mut cart = t.cart_of(&[1, 2, 3, 2]);
    let rules = t.till.pricing_rules().expect("rules");
    let first_line = cart.lines()[0].line_id;
    cart.set_line_discount(
        first_line,
        Some(Discount::Percent {
            basis_points: 1_000,
        }),
    )
    .expect("a 10 % line discount");
    let total = cart.totals(rules).total_minor;
    cart.add_tender(rules, TenderKind::Cash, total / 2, None)
        .expect("half in cash");
    let due = cart.totals(rules).due_minor;
    cart.add_tender(rules, TenderKind::Card, due, Some("AUTH-1"))
        .expect("the rest by card");
    let stock_before = t.till.stock_on_hand("TEA-DDO-150g").expect("stock");

    let receipt = t
        .till
        .complete_sale(&cashier, &cart)
        .expect("a paid sale completes");

    let conn = t.till.connection();
    assert_eq!(
        receipt.lines.len(),
        3,
        "a repeated scan adds to its line, so 3 lines"
    );
    assert_eq!(
        receipt.total_minor, total,
        "the receipt total is the cart total"
    );
    let sale_id: String = conn
        .query_row(
            "SELECT id FROM sale WHERE receipt_no = ?1",
            [&receipt.receipt_no],
            |r| r.get(0),
        )
        .expect("the sale row exists under its receipt number");
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM sale_line WHERE sale_id = ?1",
            &sale_id
        ),
        3
    );
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM sale_tender WHERE sale_id = ?1",
            &sale_id
        ),
        2
    );
    assert_eq!(
        count(
            conn,
            "SELECT COALESCE(sum(amount_minor), 0) FROM sale_tender WHERE sale_id = ?1",
            &sale_id
        ),
        total,
        "the tenders pay exactly the total"
    );
    assert_eq!(
        count(
            conn,
            "SELECT COALESCE(-sum(delta), 0) FROM stock_movement WHERE ref_id = ?1",
            &sale_id
        ),
        4,
        "one unit of stock leaves per item sold"
    );
    assert_eq!(
        t.till.stock_on_hand("TEA-DDO-150g").expect("stock"),
        stock_before - 2,
        "the item scanned twice leaves stock twice"
    );
    let payload: String = conn
        .query_row("SELECT payload FROM outbox WHERE seq = 1", [], |r| r.get(0))
        .expect("the sale's outbox operation is seq 1");
    let op: serde_json::Value = serde_json::from_str(&payload).expect("the payload is JSON");
    assert_eq!(
        op["sale_id"],
        serde_json::json!(sale_id),
        "the operation describes this sale"
    );
    assert_eq!(op["total_minor"], serde_json::json!(total));
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM outbox WHERE op_type LIKE ?1",
            "sale.%"
        ),
        1
    );
}

#[test]
fn an_unpaid_or_empty_cart_writes_nothing() {
    let mut t = TempTill::demo();
    let cashier = t.cashier();
    let cart = t.cart_of(&[5]);
    assert!(
        matches!(
            t.till.complete_sale(&cashier, &cart),
            Err(CoreError::NotPaid { .. })
        ),
        "an unpaid sale must not complete"
    );
    assert!(matches!(
        t.till.complete_sale(&cashier, &omnitill_core::Cart::new()),
        Err(CoreError::EmptyCart)
    ));
    let conn = t.till.connection();
    for table in ["sale", "sale_line", "sale_tender", "outbox"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "a refused sale leaves nothing in {table}");
    }
}

fn sell(t: &mut TempTill, items: &[u64], quantity_of_first: i64) -> String {
    let cashier = t.cashier();
    let mut cart = t.cart_of(items);
    let first = cart.lines()[0].line_id;
    cart.set_quantity(first, quantity_of_first)
        .expect("quantity");
    let rules = t.till.pricing_rules().expect("rules");
    let due = cart.totals(rules).cash_due_minor;
    cart.add_tender(rules, TenderKind::Cash, due + 1_000, None)
        .expect("cash with change");
    t.till
        .complete_sale(&cashier, &cart)
        .expect("sale")
        .receipt_no
}

#[test]
fn refunds_never_exceed_what_was_sold_and_give_back_exactly_the_line_total() {
    let mut t = TempTill::demo();
    let receipt_no = sell(&mut t, &[1, 2], 3);
    let cashier = t.cashier();
    let manager = t.manager();
    let approval =
        omnitill_core::ManagerApproval::from_session(&manager).expect("a manager approves");
    let sold = t.till.receipt(&receipt_no).expect("the sale's receipt");
    let line_total = sold.lines[0].total_minor;

    let mut refunded = 0;
    for _ in 0..3 {
        let refund = t
            .till
            .refund(&cashier, &approval, &receipt_no, &[(1, 1)])
            .expect("one unit back");
        refunded += refund.total_minor;
        assert_eq!(
            refund.original_receipt_no.as_deref(),
            Some(receipt_no.as_str())
        );
    }
    assert_eq!(
        refunded, line_total,
        "three one-unit refunds give back exactly the line total"
    );
    let over = t.till.refund(&cashier, &approval, &receipt_no, &[(1, 1)]);
    assert!(
        matches!(
            over,
            Err(CoreError::RefundExceedsSold {
                line_no: 1,
                requested: 1,
                refundable: 0
            })
        ),
        "a fourth unit was never sold and must not be refunded: {over:?}"
    );
    let too_many = t.till.refund(&cashier, &approval, &receipt_no, &[(2, 2)]);
    assert!(
        matches!(too_many, Err(CoreError::RefundExceedsSold { .. })),
        "line 2 sold only 1"
    );
    let refundable = t.till.refundable(&receipt_no).expect("refundable view");
    assert_eq!(refundable.lines[0].refundable_quantity, 0);
    assert_eq!(refundable.lines[1].refundable_quantity, 1);
    let outbox_ops: i64 = t
        .till
        .connection()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        outbox_ops, 4,
        "one sale and three refunds, each one operation"
    );
}

#[test]
fn the_refund_quote_is_what_the_refund_gives_back_to_the_cent() {
    let mut t = TempTill::demo();
    let receipt_no = sell(&mut t, &[1, 2], 3);
    let cashier = t.cashier();
    let manager = t.manager();
    let approval =
        omnitill_core::ManagerApproval::from_session(&manager).expect("a manager approves");
    for request in [vec![(1, 1)], vec![(1, 2), (2, 1)]] {
        let quote = t
            .till
            .refund_quote(&receipt_no, &request)
            .expect("a quote of what is left");
        assert_eq!(
            quote.lines.iter().map(|l| l.amount_minor).sum::<i64>() + quote.rounding_minor,
            quote.total_minor,
            "the quote's lines and rounding add up to its total"
        );
        let refund = t
            .till
            .refund(&cashier, &approval, &receipt_no, &request)
            .expect("the refund");
        assert_eq!(
            quote.total_minor, refund.total_minor,
            "the screen shows what the refund gives back, not its own arithmetic ({request:?})"
        );
    }
    assert!(
        matches!(
            t.till.refund_quote(&receipt_no, &[(1, 1)]),
            Err(CoreError::RefundExceedsSold { .. })
        ),
        "a quote of more than is left is refused as the refund would be"
    );
}

#[test]
fn a_refund_needs_a_manager_and_returns_money_to_the_sale_tenders() {
    let mut t = TempTill::demo();
    let cashier = t.cashier();
    let mut cart = t.cart_of(&[10, 11]);
    let rules = t.till.pricing_rules().expect("rules");
    cart.add_tender(
        rules,
        TenderKind::Card,
        cart.totals(rules).due_minor,
        Some("CARD-9"),
    )
    .expect("card");
    let receipt_no = t
        .till
        .complete_sale(&cashier, &cart)
        .expect("sale")
        .receipt_no;

    assert!(
        matches!(
            t.till.approve_as_manager(demo::CASHIER.0, demo::CASHIER.1),
            Err(CoreError::NotManager)
        ),
        "a cashier's PIN cannot approve a refund"
    );
    assert!(matches!(
        t.till.approve_as_manager(demo::MANAGER.0, "0000"),
        Err(CoreError::WrongPin)
    ));
    let approval = t
        .till
        .approve_as_manager(demo::MANAGER.0, demo::MANAGER.1)
        .expect("manager approves");
    let refund = t
        .till
        .refund(&cashier, &approval, &receipt_no, &[(2, 1)])
        .expect("refund line 2");
    assert_eq!(refund.tenders.len(), 1);
    assert_eq!(
        refund.tenders[0].kind,
        TenderKind::Card,
        "a card sale is refunded to the card"
    );
    assert_eq!(refund.tenders[0].reference.as_deref(), Some("CARD-9"));
    assert_eq!(refund.tenders[0].amount_minor, refund.total_minor);
}

#[test]
fn receipt_numbers_carry_the_device_prefix_and_never_repeat() {
    let mut a = TempTill::demo();
    let mut b = TempTill::demo();
    let mut seen = std::collections::HashSet::new();
    for t in [&mut a, &mut b] {
        let prefix = t.till.device().receipt_prefix.clone();
        for _ in 0..3 {
            let receipt_no = sell(t, &[4], 1);
            assert!(
                receipt_no.starts_with(&format!("{prefix}-")),
                "{receipt_no} starts with {prefix}"
            );
            assert!(
                seen.insert(receipt_no.clone()),
                "{receipt_no} is unique across tills"
            );
        }
    }
    assert_ne!(
        a.till.device().device_id,
        b.till.device().device_id,
        "each ledger is its own device"
    );
}

#[test]
fn a_scheduled_price_applies_from_its_time_and_a_sale_keeps_the_price_it_charged() {
    let mut t = TempTill::demo();
    // Demo product 7 goes 10 % off from tomorrow.
    let today = t
        .till
        .scan(&demo::demo_barcode(7))
        .expect("scan")
        .unit_price_minor;
    t.clock.advance(Duration::days(1) + Duration::minutes(1));
    let tomorrow = t
        .till
        .scan(&demo::demo_barcode(7))
        .expect("scan")
        .unit_price_minor;
    assert_eq!(
        tomorrow,
        today - today / 10,
        "the scheduled promotion applies tomorrow, offline"
    );
    let receipt_no = sell(&mut t, &[7], 1);
    let receipt = t.till.receipt(&receipt_no).expect("receipt");
    assert_eq!(
        receipt.lines[0].unit_price_minor, tomorrow,
        "the sale keeps the price charged"
    );
}

#[test]
fn search_finds_chinese_substrings_of_any_length_and_english_words() {
    let t = TempTill::demo();
    let cases: &[(&str, &str)] = &[
        ("烏龍", "烏龍"),
        ("茶", "茶"),
        ("高山茶", "高山茶"),
        ("鳳梨酥", "鳳梨酥"),
        ("oolong", "Oolong"),
        ("cotton tee", "Cotton Tee"),
        ("te", "Te"),
        ("TEA-DDO", "凍頂烏龍茶"),
        ("烏龍 75g", "Oolong 75g"),
        ("oolong 凍頂", "凍頂烏龍茶"),
        ("tee 棉", "Cotton Tee"),
    ];
    for (query, expected) in cases {
        let hits = t.till.search(query).expect("search runs");
        assert!(!hits.is_empty(), "{query:?} must find something");
        assert!(
            hits.iter()
                .any(|h| h.name.contains(expected) || h.sku.contains(expected)),
            "{query:?} must find a product containing {expected:?}: {:?}",
            hits.iter().map(|h| &h.name).take(3).collect::<Vec<_>>()
        );
    }
    assert!(
        t.till
            .search("不存在的商品名稱")
            .expect("search")
            .is_empty(),
        "no false hits"
    );
    assert!(matches!(
        t.till.search(&"x".repeat(101)),
        Err(CoreError::BadInput(_))
    ));
}

#[test]
fn bad_scans_are_told_apart() {
    let t = TempTill::demo();
    let unknown = omnitill_core::barcode::ean13_from_payload(999_000_000_001);
    let mut bad_check = demo::demo_barcode(1);
    let last = bad_check
        .pop()
        .and_then(|c| c.to_digit(10))
        .expect("a digit");
    bad_check.push(char::from_digit((last + 1) % 10, 10).expect("a digit"));
    assert!(matches!(
        t.till.scan(&unknown),
        Err(CoreError::UnknownBarcode(_))
    ));
    assert!(matches!(
        t.till.scan(&bad_check),
        Err(CoreError::BadCheckDigit(_))
    ));
    assert!(matches!(
        t.till.scan("hello"),
        Err(CoreError::BadBarcode(_))
    ));
    assert!(
        t.till.scan("036000291452").is_ok(),
        "a UPC-A scan finds its product"
    );
    assert!(
        t.till.scan("0036000291452").is_ok(),
        "so does its EAN-13 spelling"
    );
}

#[test]
fn an_empty_file_migrates_from_zero_to_the_latest_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    fs::write(&path, b"").expect("an empty file");
    let till =
        Till::open(&path, std::sync::Arc::new(omnitill_core::SystemClock)).expect("migrates");
    let conn = till.connection();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, MIGRATIONS.len() as i64, "every migration ran");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal", "the ledger runs in WAL mode");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("sync");
    assert_eq!(
        sync, 2,
        "synchronous=FULL so a returned commit survives power loss"
    );
    assert_eq!(
        db::integrity_check(conn).expect("check"),
        vec!["ok".to_owned()]
    );
}

fn assert_refused_and_untouched(path: &std::path::Path, what: &str) {
    let before = fs::read(path).expect("read the file");
    let clock = std::sync::Arc::new(ManualClock::new(chrono::Utc::now()));
    match Till::open(path, clock) {
        Err(CoreError::DatabaseRefused(message)) => {
            assert!(
                message.contains("not changed"),
                "the message says the file was kept: {message}"
            )
        }
        Err(other) => panic!("{what} must be refused as unusable, got {other}"),
        Ok(_) => panic!("{what} must not open"),
    }
    assert_eq!(
        fs::read(path).expect("read again"),
        before,
        "{what} must be left byte for byte"
    );
    let wal = path.with_file_name("till.sqlite3-wal");
    assert!(
        !wal.exists() || fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "no log written"
    );
}

#[test]
fn a_corrupt_foreign_or_newer_ledger_is_refused_and_left_as_it_was() {
    // Not SQLite at all.
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = ledger_path(dir.path());
    fs::write(
        &garbage,
        b"this is not a database, it is a shopping list\n".repeat(100),
    )
    .expect("write");
    assert_refused_and_untouched(&garbage, "a text file");

    // An SQLite file of another program.
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = ledger_path(dir.path());
    {
        let conn = Connection::open(&foreign).expect("open");
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .expect("write");
    }
    assert_refused_and_untouched(&foreign, "another program's database");

    // A ledger from a newer Omnitill.
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = ledger_path(dir.path());
    {
        let till = Till::open(&newer, std::sync::Arc::new(omnitill_core::SystemClock))
            .expect("new ledger");
        till.connection()
            .execute_batch("PRAGMA user_version = 999; PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("pretend a newer version");
    }
    let _ = fs::remove_file(newer.with_file_name("till.sqlite3-wal"));
    let _ = fs::remove_file(newer.with_file_name("till.sqlite3-shm"));
    assert_refused_and_untouched(&newer, "a newer ledger");

    // A real ledger whose schema page was overwritten.
    let dir = tempfile::tempdir().expect("tempdir");
    let damaged = ledger_path(dir.path());
    {
        let t = Till::open(&damaged, std::sync::Arc::new(omnitill_core::SystemClock))
            .expect("new ledger");
        t.connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    let _ = fs::remove_file(damaged.with_file_name("till.sqlite3-wal"));
    let _ = fs::remove_file(damaged.with_file_name("till.sqlite3-shm"));
    let mut bytes = fs::read(&damaged).expect("read");
    for byte in bytes.iter_mut().take(4096).skip(100) {
        *byte = 0xA5;
    }
    fs::write(&damaged, &bytes).expect("damage the schema page");
    assert_refused_and_untouched(&damaged, "a ledger with a damaged schema page");
}
