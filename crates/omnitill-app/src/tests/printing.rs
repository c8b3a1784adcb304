//! A receipt reaches a network printer byte for byte.

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
