//! The refund screen's preview is core's quote, and the quote is what the refund gives back,
//! to the cent, for every line shape: odd quantities, line and cart discounts, units refunded
//! one by one or all at once.

use omnitill_core::{Discount, demo};

use crate::receipts::{RefundLineRequest, RefundRequest};

use super::Counter;

/// A sale's line: the demo product, how many, and its line discount.
struct Line {
    product: u64,
    quantity: i64,
    discount: Option<Discount>,
}

struct Case {
    name: &'static str,
    lines: Vec<Line>,
    cart_discount: Option<Discount>,
    /// The refunds made one after the other: (line number, units) each.
    refunds: Vec<Vec<(i64, i64)>>,
}

fn line(product: u64, quantity: i64, discount: Option<Discount>) -> Line {
    Line {
        product,
        quantity,
        discount,
    }
}

fn cases() -> Vec<Case> {
    let amount = |minor| Some(Discount::Amount { minor });
    let percent = |basis_points| Some(Discount::Percent { basis_points });
    vec![
        Case {
            name: "one unit, no discount",
            lines: vec![line(1, 1, None)],
            cart_discount: None,
            refunds: vec![vec![(1, 1)]],
        },
        Case {
            name: "three units whose total does not divide by three, one at a time",
            lines: vec![line(1, 3, amount(1))],
            cart_discount: None,
            refunds: vec![vec![(1, 1)], vec![(1, 1)], vec![(1, 1)]],
        },
        Case {
            name: "seven units at 12.5 % off, two then five",
            lines: vec![line(2, 7, percent(1_250))],
            cart_discount: None,
            refunds: vec![vec![(1, 2)], vec![(1, 5)]],
        },
        Case {
            name: "a cart discount shared over two lines, partly refunded",
            lines: vec![line(1, 5, None), line(3, 3, None)],
            cart_discount: amount(37),
            refunds: vec![vec![(1, 2), (2, 1)], vec![(1, 3)], vec![(2, 2)]],
        },
        Case {
            name: "line and cart percentage discounts, everything at once",
            lines: vec![line(4, 3, percent(333)), line(5, 11, amount(7))],
            cart_discount: percent(1_001),
            refunds: vec![vec![(1, 3), (2, 11)]],
        },
        Case {
            name: "an odd quantity refunded unit by unit under a cart amount discount",
            lines: vec![line(6, 3, None)],
            cart_discount: amount(100),
            refunds: vec![vec![(1, 1)], vec![(1, 1)], vec![(1, 1)]],
        },
    ]
}

#[tokio::test]
async fn the_refund_preview_equals_the_refunded_amount_for_every_line_shape() {
    for case in cases() {
        let counter = Counter::with_cashier().await;
        let app = &counter.app;
        for (index, wanted) in case.lines.iter().enumerate() {
            let cart = app
                .scan_item(&demo::demo_barcode(wanted.product))
                .expect("a demo product scans");
            let line_id = cart.lines[index].line_id;
            app.set_quantity(line_id, wanted.quantity)
                .expect("the quantity is set");
            app.set_line_discount(line_id, wanted.discount)
                .expect("the line discount is set");
        }
        let cart = app
            .set_cart_discount(case.cart_discount)
            .expect("the cart discount is set");
        app.add_tender("cash", cart.cash_due_minor, None)
            .expect("paid in cash");
        let sale = app.complete_sale().expect("the sale completes");
        let mut refunded = 0;
        for lines in &case.refunds {
            let request: Vec<RefundLineRequest> = lines
                .iter()
                .map(|&(line_no, quantity)| RefundLineRequest { line_no, quantity })
                .collect();
            let quote = app
                .refund_quote(&sale.receipt.receipt_no, &request)
                .expect("a quote");
            let refund = app
                .refund(&RefundRequest {
                    receipt_no: sale.receipt.receipt_no.clone(),
                    lines: request,
                    manager_code: demo::MANAGER.0.into(),
                    manager_pin: demo::MANAGER.1.into(),
                })
                .expect("the refund");
            assert_eq!(
                quote.total_minor, refund.receipt.total_minor,
                "{}: the preview of {lines:?} must be what the refund gives back",
                case.name
            );
            for quoted in &quote.lines {
                let line = &refund.receipt.lines[refund_line_index(lines, quoted.line_no)];
                assert_eq!(
                    quoted.amount_minor, line.total_minor,
                    "{}: each previewed line must be that line of the refund",
                    case.name
                );
            }
            refunded += refund.receipt.total_minor;
        }
        // What the customer paid (the total, cash rounding included), less a rounding up,
        // which stays with the store: never more than was paid, nor than the goods came to.
        let sold: i64 = sale.receipt.total_minor - sale.receipt.rounding_minor.max(0);
        let all_units = case.lines.iter().map(|l| l.quantity).sum::<i64>();
        let refunded_units: i64 = case.refunds.iter().flatten().map(|&(_, units)| units).sum();
        if refunded_units == all_units {
            assert_eq!(
                refunded, sold,
                "{}: refunding every unit gives back the goods' total, never more than was paid",
                case.name
            );
        }
    }
}

/// Where the refund of `lines` lists line `line_no`: refunds list lines in request order.
fn refund_line_index(lines: &[(i64, i64)], line_no: i64) -> usize {
    lines
        .iter()
        .position(|&(no, _)| no == line_no)
        .expect("a quoted line was asked for")
}
