//! Unit tests of `sale::check`: sales priced by omnitill-core's own `Cart` (as a real till
//! prices them) pass, in both tax modes, with discounts, cash rounding and mixed payments; each
//! tampered figure is refused.

use omnitill_core::cart::{Cart, Discount, PricedItem, PricingRules};
use omnitill_core::{TaxMode, TenderKind};
use omnitill_protocol::ops::{SaleCompleted, SaleLineOp, TenderOp};

use super::check;
use crate::push::PushingDevice;

fn device() -> PushingDevice {
    PushingDevice {
        id: "cloud-device".into(),
        store_id: "store".into(),
        till_id: Some("till-1".into()),
        prefixes: vec!["AB12".into(), "LOCL".into()],
        cash_rounding_minor: 100,
        now_ms: 1,
    }
}

fn item(id: i64, price: i64, rate: u32) -> PricedItem {
    PricedItem {
        product_id: id,
        sku: format!("SKU-{id}"),
        name: format!("Product {id}"),
        barcode: None,
        unit_price_minor: price,
        tax_rate_bp: rate,
    }
}

/// The operation `omnitill_core::ledger::complete_sale` writes for a paid cart.
fn sale_of(cart: &Cart, rules: PricingRules) -> SaleCompleted {
    let totals = cart.totals(rules);
    assert!(totals.fully_paid, "the test cart must be paid");
    SaleCompleted {
        sale_id: "sale-1".into(),
        receipt_no: "AB12-000001".into(),
        device_id: "till-1".into(),
        staff_id: "staff".into(),
        created_at_ms: 1_733_000_000_000,
        currency: "TWD".into(),
        tax_mode: rules.tax_mode.as_str().into(),
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        rounding_minor: totals.rounding_minor,
        total_minor: totals.total_minor + totals.rounding_minor,
        lines: cart
            .lines()
            .iter()
            .zip(&totals.lines)
            .enumerate()
            .map(|(index, (line, figures))| SaleLineOp {
                line_no: index as i64 + 1,
                sku: line.item.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: line.item.unit_price_minor,
                discount_minor: figures.discount_minor(),
                tax_rate_bp: line.item.tax_rate_bp,
                tax_minor: figures.tax_minor,
                total_minor: figures.total_minor,
            })
            .collect(),
        tenders: cart
            .tenders()
            .iter()
            .map(|t| TenderOp {
                kind: t.kind.as_str().into(),
                amount_minor: t.amount_minor,
                reference: t.reference.clone(),
            })
            .collect(),
        member: None,
    }
}

/// Carts a real till could complete: (why, rules, cart).
fn real_sales() -> Vec<(&'static str, PricingRules, Cart)> {
    let inclusive = PricingRules {
        tax_mode: TaxMode::Inclusive,
        cash_rounding_minor: 100,
    };
    let exclusive = PricingRules {
        tax_mode: TaxMode::Exclusive,
        cash_rounding_minor: 100,
    };
    let mut sales = Vec::new();

    let mut cart = Cart::new();
    cart.add_item(item(1, 12_345, 500), 3).expect("scan");
    cart.add_tender(
        inclusive,
        TenderKind::Card,
        cart.totals(inclusive).due_minor,
        Some("AUTH1"),
    )
    .expect("card");
    sales.push(("an inclusive card sale", inclusive, cart));

    let mut cart = Cart::new();
    let line = cart.add_item(item(1, 9_999, 500), 7).expect("scan");
    cart.add_item(item(2, 333, 0), 2).expect("scan");
    cart.set_line_discount(
        line,
        Some(Discount::Percent {
            basis_points: 1_250,
        }),
    )
    .expect("line discount");
    cart.set_cart_discount(Some(Discount::Amount { minor: 1_001 }))
        .expect("cart discount");
    cart.add_tender(exclusive, TenderKind::Cash, 1_000_000, None)
        .expect("cash with change");
    sales.push((
        "an exclusive sale with discounts, rounded cash and change",
        exclusive,
        cart,
    ));

    let mut cart = Cart::new();
    cart.add_item(item(3, 10_649, 500), 1).expect("scan");
    let due = cart.totals(inclusive).due_minor;
    cart.add_tender(inclusive, TenderKind::Card, 5_000, Some("AUTH2"))
        .expect("part by card");
    cart.add_tender(inclusive, TenderKind::Cash, due, None)
        .expect("the rest in cash, rounded down");
    sales.push(("card then cash, the rest rounded", inclusive, cart));

    let mut cart = Cart::new();
    cart.add_item(item(4, 10_660, 500), 1).expect("scan");
    cart.add_tender(inclusive, TenderKind::Cash, 10_680, None)
        .expect("cash short of the rounded due, over the exact due");
    assert!(
        cart.totals(inclusive).fully_paid,
        "cash over the exact due but short of the rounded due settles the sale"
    );
    sales.push(("a cash overpayment short of the increment", inclusive, cart));
    sales
}

#[test]
fn sales_priced_by_a_real_till_pass_the_check() {
    for (why, rules, cart) in real_sales() {
        let sale = sale_of(&cart, rules);
        assert_eq!(
            check(&sale, &device()),
            Ok(()),
            "{why}: what a correct till produces must be accepted: {sale:?}"
        );
    }
}

#[test]
fn every_tampered_figure_is_refused() {
    let (_, rules, cart) = real_sales().swap_remove(1);
    let good = sale_of(&cart, rules);
    type Tamper = (&'static str, fn(&mut SaleCompleted));
    let tampers: Vec<Tamper> = vec![
        ("another till's device id", |s| {
            s.device_id = "till-2".into()
        }),
        ("another till's prefix", |s| {
            s.receipt_no = "ZZ99-000001".into()
        }),
        ("the e-shop's prefix", |s| {
            s.receipt_no = "WEB-000001".into()
        }),
        ("a receipt without a number", |s| {
            s.receipt_no = "AB12".into()
        }),
        ("an empty sale id", |s| s.sale_id = String::new()),
        ("no lines", |s| s.lines.clear()),
        ("a zero quantity", |s| s.lines[0].quantity = 0),
        ("a quantity of 10,000", |s| s.lines[0].quantity = 10_000),
        ("a quantity near 2^63", |s| {
            s.lines[0].quantity = i64::MAX - 5
        }),
        ("a negative quantity", |s| s.lines[0].quantity = -1),
        ("a line numbered 0", |s| s.lines[0].line_no = 0),
        ("lines numbered out of order", |s| s.lines.swap(0, 1)),
        ("a price that overflows", |s| {
            s.lines[0].unit_price_minor = i64::MAX / 2
        }),
        ("a negative price", |s| s.lines[0].unit_price_minor = -1),
        ("a discount above the gross", |s| {
            s.lines[1].discount_minor = 1_000_000
        }),
        ("a line total off by one", |s| s.lines[0].total_minor += 1),
        ("a line tax off by one", |s| s.lines[0].tax_minor -= 1),
        ("a subtotal that is not the lines'", |s| {
            s.subtotal_minor += 1
        }),
        ("a discount that is not the lines'", |s| {
            s.discount_minor += 1
        }),
        ("a tax that is not the lines'", |s| s.tax_minor += 1),
        ("a total that is not lines plus rounding", |s| {
            s.total_minor += 1
        }),
        ("a rounding past half the increment", |s| {
            s.rounding_minor += 100;
            s.total_minor += 100;
            s.tenders[0].amount_minor += 100;
        }),
        ("payments short of the total", |s| {
            s.tenders[0].amount_minor -= 1
        }),
        ("payments far over the total", |s| {
            s.tenders[0].amount_minor += 1_000
        }),
        ("a payment of an unknown kind", |s| {
            s.tenders[0].kind = "iou".into()
        }),
        ("a negative payment", |s| {
            s.tenders.push(TenderOp {
                kind: "cash".into(),
                amount_minor: -5,
                reference: None,
            })
        }),
        ("an unknown tax mode", |s| s.tax_mode = "none".into()),
    ];
    for (why, tamper) in tampers {
        let mut sale = good.clone();
        tamper(&mut sale);
        assert!(
            check(&sale, &device()).is_err(),
            "{why} must be refused: no correct till produces it"
        );
    }
}
