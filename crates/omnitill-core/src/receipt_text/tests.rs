//! The receipt's 42-column text.

use super::*;
use crate::receipt::{ReceiptLine, ReceiptTender};

const WIDTH: usize = 42;

fn line(name: &str, quantity: i64, unit: Minor, discount: Minor) -> ReceiptLine {
    ReceiptLine {
        name: name.to_string(),
        sku: format!("SKU-{quantity}"),
        quantity,
        unit_price_minor: unit,
        discount_minor: discount,
        total_minor: quantity * unit - discount,
    }
}

fn cash(amount: Minor, tendered: Minor) -> ReceiptTender {
    ReceiptTender {
        kind: TenderKind::Cash,
        amount_minor: amount,
        tendered_minor: tendered,
        change_minor: tendered - amount,
        reference: None,
        points: 0,
    }
}

/// A sale of a long-named Chinese tea and a plain item, paid in cash.
fn sale() -> Receipt {
    Receipt {
        kind: ReceiptKind::Sale,
        receipt_no: "S01-20250301-0007".to_string(),
        original_receipt_no: None,
        created_at: "2025-03-01T14:05:09+08:00".to_string(),
        store_name: "Omnitill 茶館 Daan Store".to_string(),
        staff_name: "Alice Wang".to_string(),
        approved_by: None,
        currency: "TWD".to_string(),
        currency_exponent: 2,
        tax_mode: TaxMode::Inclusive,
        lines: vec![
            line(
                "阿里山高山烏龍茶特級手採茶葉禮盒裝三百公克附提袋",
                2,
                123_450,
                10_000,
            ),
            line("Paper bag", 1, 200, 0),
        ],
        subtotal_minor: 237_100,
        discount_minor: 0,
        tax_minor: 11_290,
        rounding_minor: 0,
        total_minor: 237_100,
        tenders: vec![cash(237_100, 250_000)],
        change_minor: 12_900,
        member: None,
    }
}

/// A refund of the sale above, approved by a manager, paid back by card.
fn refund() -> Receipt {
    Receipt {
        kind: ReceiptKind::Refund,
        receipt_no: "R01-20250302-0001".to_string(),
        original_receipt_no: Some("S01-20250301-0007".to_string()),
        approved_by: Some("Manager Lin".to_string()),
        lines: vec![line("Paper bag", 1, 200, 0)],
        subtotal_minor: 200,
        tax_minor: 10,
        total_minor: 200,
        tenders: vec![ReceiptTender {
            kind: TenderKind::Card,
            amount_minor: 200,
            tendered_minor: 200,
            change_minor: 0,
            reference: Some("4821".to_string()),
            points: 0,
        }],
        change_minor: 0,
        ..sale()
    }
}

fn columns(line: &str) -> usize {
    UnicodeWidthStr::width(line)
}

fn find<'a>(lines: &'a [String], start: &str) -> Option<&'a String> {
    lines
        .iter()
        .find(|line| line.trim_start().starts_with(start))
}

#[test]
fn no_line_is_wider_than_asked_and_long_chinese_names_wrap() {
    let receipts = [sale(), refund()];
    for receipt in &receipts {
        for width in [42, 32, 20, 7, 2, 1, 0] {
            for line in render_text(receipt, width) {
                assert!(
                    columns(&line) <= width,
                    "{line:?} is {} columns, wider than {width}: paper cannot hold it",
                    columns(&line)
                );
            }
        }
    }

    let lines = render_text(&sale(), WIDTH);
    let name = "阿里山高山烏龍茶特級手採茶葉禮盒裝三百公克附提袋";
    let first = lines
        .iter()
        .position(|line| line.starts_with("阿里山"))
        .unwrap_or(usize::MAX);
    assert!(
        first < lines.len(),
        "the name must start a line of its own: {lines:#?}"
    );
    let wrapped = format!("{}{}", lines[first], lines[first + 1]);
    assert_eq!(
        wrapped, name,
        "a 48-column name must wrap onto a second line with no character lost or split"
    );
    assert_eq!(
        columns(&lines[first]),
        WIDTH,
        "two-column characters fill the first line exactly to 42 columns"
    );
}

#[test]
fn amounts_end_in_the_last_column() {
    let lines = render_text(&sale(), WIDTH);
    // (line start, amount, why)
    let cases: &[(&str, &str, &str)] = &[
        (
            "2 x 1,234.50",
            "2,469.00",
            "the amount before the line discount",
        ),
        (
            "discount",
            "-100.00",
            "a line discount is shown as a subtraction",
        ),
        ("1 x 2.00", "2.00", "a plain line"),
        ("Subtotal", "2,371.00", "the subtotal"),
        (
            "Incl. tax",
            "112.90",
            "inclusive prices show the tax they contain",
        ),
        (
            "TOTAL",
            "TWD 2,371.00",
            "the total carries the currency code",
        ),
        ("Cash", "2,371.00", "the cash the sale kept"),
        ("Tendered", "2,500.00", "what the customer handed over"),
        ("Change", "129.00", "what went back"),
    ];
    for (start, amount, why) in cases {
        let found = find(&lines, start);
        assert!(found.is_some(), "no line starts with {start:?}: {lines:#?}");
        let found = found.map(String::as_str).unwrap_or_default();
        assert!(
            found.ends_with(amount),
            "{why}: {found:?} must end with {amount:?}"
        );
        assert_eq!(
            columns(found),
            WIDTH,
            "{why}: {found:?} must end exactly in column 42 so amounts line up"
        );
    }
    assert_eq!(
        lines.iter().filter(|line| line.ends_with(' ')).count(),
        0,
        "no line has trailing spaces"
    );
}

#[test]
fn header_and_footer_say_what_and_when() {
    let lines = render_text(&sale(), WIDTH);
    // (expected line, why)
    let cases: &[(&str, &str)] = &[
        (
            "         Omnitill 茶館 Daan Store",
            "the store name is centred on the 42-column width",
        ),
        (
            "SALE                     S01-20250301-0007",
            "the kind on the left and the receipt number on the right",
        ),
        (
            "Date                      2025-03-01 14:05",
            "the time as written, without seconds or offset",
        ),
        (
            "Staff                           Alice Wang",
            "who made the sale",
        ),
        ("                Thank you", "the closing line is centred"),
        (
            "            S01-20250301-0007",
            "the receipt number closes the text, above the barcode",
        ),
    ];
    for (expected, why) in cases {
        assert!(
            lines.iter().any(|line| line == expected),
            "{why}: expected {expected:?} in {lines:#?}"
        );
    }
    assert_eq!(
        lines.first().map(String::as_str),
        Some(cases[0].0),
        "the store name is the first line"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some(cases[5].0),
        "the receipt number is the last line"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| *line == &"-".repeat(WIDTH))
            .count(),
        3,
        "rules separate header, lines, totals and tenders"
    );
}

#[test]
fn a_refund_names_the_sale_and_the_manager() {
    let lines = render_text(&refund(), WIDTH);
    // (expected line, why)
    let cases: &[(&str, &str)] = &[
        (
            "REFUND                   R01-20250302-0001",
            "a refund says so next to its own number",
        ),
        (
            "Refund of S01-20250301-0007",
            "a refund names the sale it refunds",
        ),
        (
            "Approved by                    Manager Lin",
            "a refund names the manager who approved it",
        ),
        (
            "Card ref 4821                         2.00",
            "a card refund shows the terminal reference",
        ),
    ];
    for (expected, why) in cases {
        assert!(
            lines.iter().any(|line| line == expected),
            "{why}: expected {expected:?} in {lines:#?}"
        );
    }
    assert!(
        find(&lines, "Tendered").is_none() && find(&lines, "Change").is_none(),
        "a refund hands nothing over, so it has no tendered or change lines: {lines:#?}"
    );
}

#[test]
fn zero_discounts_and_rounding_are_left_out() {
    // (receipt, line start, expected count, why)
    let mut rounded = sale();
    rounded.discount_minor = 5_000;
    rounded.rounding_minor = -2;
    let cases: Vec<(Receipt, &str, usize, &str)> = vec![
        (
            sale(),
            "Discount",
            0,
            "a zero receipt discount is not printed",
        ),
        (sale(), "Rounding", 0, "zero rounding is not printed"),
        (
            sale(),
            "discount",
            1,
            "only the line that has a discount shows one",
        ),
        (
            rounded.clone(),
            "Discount",
            1,
            "a receipt discount is printed",
        ),
        (
            rounded.clone(),
            "Rounding",
            1,
            "non-zero rounding is printed",
        ),
    ];
    for (receipt, start, expected, why) in &cases {
        let lines = render_text(receipt, WIDTH);
        let count = lines
            .iter()
            .filter(|line| line.trim_start().starts_with(start))
            .count();
        assert_eq!(count, *expected, "{why}: {lines:#?}");
    }
    let lines = render_text(&rounded, WIDTH);
    assert_eq!(
        find(&lines, "Discount").map(String::as_str),
        Some("Discount                            -50.00"),
        "a receipt discount is shown as a subtraction"
    );
    assert_eq!(
        find(&lines, "Rounding").map(String::as_str),
        Some("Rounding                             -0.02"),
        "rounding keeps its sign"
    );
}

#[test]
fn exclusive_tax_is_labelled_tax() {
    let mut receipt = sale();
    receipt.tax_mode = TaxMode::Exclusive;
    let lines = render_text(&receipt, WIDTH);
    assert!(
        find(&lines, "Tax ").is_some() && find(&lines, "Incl. tax").is_none(),
        "tax added on top of prices is labelled Tax, not incl. tax: {lines:#?}"
    );
}

#[test]
fn times_are_shortened_only_when_they_look_like_rfc_3339() {
    // (created_at, shown, why)
    let cases: &[(&str, &str, &str)] = &[
        (
            "2025-03-01T14:05:09+08:00",
            "2025-03-01 14:05",
            "offset and seconds dropped, the clock time kept",
        ),
        (
            "2025-12-31 23:59:59Z",
            "2025-12-31 23:59",
            "a space separator is accepted",
        ),
        ("2025-03-01", "2025-03-01", "too short: shown as given"),
        (
            "yesterday at noon",
            "yesterday at noon",
            "not a time: shown as given",
        ),
        (
            "2025-03-01T14:0é:09",
            "2025-03-01T14:0é:09",
            "a non-ASCII byte where a digit belongs: shown as given, no panic",
        ),
    ];
    for (created_at, shown, why) in cases {
        assert_eq!(short_time(created_at), *shown, "{why}");
    }
}

#[test]
fn control_characters_and_long_words_cannot_break_the_layout() {
    let mut receipt = sale();
    receipt.lines = vec![line(
        "Tea\nwith\ttabs and a_very_long_word_that_is_wider_than_the_whole_paper_roll",
        1,
        100,
        0,
    )];
    receipt.staff_name = "A\u{1b}[2J".to_string();
    let lines = render_text(&receipt, WIDTH);
    for line in &lines {
        assert!(
            !line.chars().any(char::is_control),
            "{line:?} must not carry control characters to the printer"
        );
        assert!(columns(line) <= WIDTH, "{line:?} must fit in 42 columns");
    }
    assert!(
        lines.iter().any(|line| line == "Tea with tabs and"),
        "control characters become spaces and the long word starts a new line: {lines:#?}"
    );
}
