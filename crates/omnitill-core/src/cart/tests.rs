//! The cart's pricing rules: discounts, tax, cash rounding and tenders.

use super::*;

fn item(product_id: i64, price: Minor, tax_rate_bp: u32) -> PricedItem {
    PricedItem {
        product_id,
        sku: format!("SKU-{product_id}"),
        name: format!("Product {product_id}"),
        barcode: None,
        unit_price_minor: price,
        tax_rate_bp,
    }
}

const INCLUSIVE: PricingRules = PricingRules {
    tax_mode: TaxMode::Inclusive,
    cash_rounding_minor: 1,
};
const EXCLUSIVE: PricingRules = PricingRules {
    tax_mode: TaxMode::Exclusive,
    cash_rounding_minor: 1,
};

#[test]
fn scanning_the_same_item_again_adds_to_its_line() {
    let mut cart = Cart::new();
    let first = cart.add_item(item(1, 100, 500), 1).expect("first scan");
    let second = cart.add_item(item(1, 100, 500), 1).expect("second scan");
    assert_eq!(first, second, "a repeat scan must not open a new line");
    assert_eq!(cart.lines()[0].quantity, 2);
}

#[test]
fn quantities_outside_the_range_are_refused_and_leave_the_cart_alone() {
    let mut cart = Cart::new();
    let line = cart.add_item(item(1, 100, 500), 1).expect("scan");
    for bad in [0, -1, 10_000, 100_000] {
        assert!(
            matches!(cart.set_quantity(line, bad), Err(CoreError::BadQuantity(q)) if q == bad),
            "quantity {bad} must be refused"
        );
        assert_eq!(
            cart.lines()[0].quantity,
            1,
            "a refused quantity must not change the line"
        );
    }
}

/// (tax mode, lines as (price, qty, rate, line discount), cart discount,
///  expected subtotal, discount, tax, total)
type PricingCase = (
    TaxMode,
    Vec<(Minor, i64, u32, Option<Discount>)>,
    Option<Discount>,
    [Minor; 4],
);

#[test]
fn pricing_table() {
    let pct = |bp| Some(Discount::Percent { basis_points: bp });
    let amt = |minor| Some(Discount::Amount { minor });
    let cases: Vec<PricingCase> = vec![
        // Plain inclusive sale: 105.00 at 5 % holds 5.00 tax.
        (
            TaxMode::Inclusive,
            vec![(10_500, 1, 500, None)],
            None,
            [10_500, 0, 500, 10_500],
        ),
        // Exclusive adds tax on top.
        (
            TaxMode::Exclusive,
            vec![(10_000, 1, 500, None)],
            None,
            [10_000, 0, 500, 10_500],
        ),
        // Line percent discount rounds half away from zero: 10 % of 0.05 = 0.005 -> 0.01.
        (
            TaxMode::Inclusive,
            vec![(5, 1, 0, pct(1_000))],
            None,
            [5, 1, 0, 4],
        ),
        // 33.33 % of 1.00 = 0.3333 -> 0.33.
        (
            TaxMode::Inclusive,
            vec![(100, 1, 0, pct(3_333))],
            None,
            [100, 33, 0, 67],
        ),
        // Amount discount on a line with quantity.
        (
            TaxMode::Inclusive,
            vec![(1_000, 3, 500, amt(500))],
            None,
            [3_000, 500, 119, 2_500],
        ),
        // Cart discount of 1.00 over three equal lines of 1.00: shares 34, 33, 33.
        (
            TaxMode::Inclusive,
            vec![(100, 1, 0, None), (100, 1, 0, None), (100, 1, 0, None)],
            amt(100),
            [300, 100, 0, 200],
        ),
        // Cart percent on top of a line discount: (2000 - 200) * 10 % = 180.
        (
            TaxMode::Exclusive,
            vec![(2_000, 1, 1_000, pct(1_000))],
            pct(1_000),
            [2_000, 380, 162, 1_782],
        ),
        // Mixed tax rates, exclusive: per-line tax 0.50 + 0 = 0.50.
        (
            TaxMode::Exclusive,
            vec![(1_000, 1, 500, None), (1_000, 1, 0, None)],
            None,
            [2_000, 0, 50, 2_050],
        ),
        // 100 % discount makes a free line with no tax.
        (
            TaxMode::Inclusive,
            vec![(999, 2, 500, pct(10_000))],
            None,
            [1_998, 1_998, 0, 0],
        ),
    ];
    for (index, (mode, lines, cart_discount, expected)) in cases.into_iter().enumerate() {
        let mut cart = Cart::new();
        for (n, (price, qty, rate, discount)) in lines.into_iter().enumerate() {
            let id = cart
                .add_item(item(n as i64 + 1, price, rate), qty)
                .expect("add");
            cart.set_line_discount(id, discount).expect("line discount");
        }
        cart.set_cart_discount(cart_discount)
            .expect("cart discount");
        let rules = PricingRules {
            tax_mode: mode,
            cash_rounding_minor: 1,
        };
        let t = cart.totals(rules);
        assert_eq!(
            [
                t.subtotal_minor,
                t.discount_minor,
                t.tax_minor,
                t.total_minor
            ],
            expected,
            "case {index}: subtotal, discount, tax, total"
        );
        let line_sum: Minor = t.lines.iter().map(|l| l.total_minor).sum();
        assert_eq!(
            line_sum, t.total_minor,
            "case {index}: the total is the sum of the lines"
        );
    }
}

#[test]
fn allocation_adds_up_exactly_and_favours_larger_remainders() {
    let cases: &[(Minor, &[Minor], &[Minor])] = &[
        (100, &[100, 100, 100], &[34, 33, 33]),
        (10, &[1, 2, 7], &[1, 2, 7]),
        (1, &[50, 50], &[1, 0]),
        (7, &[0, 10], &[0, 7]),
        (0, &[5, 5], &[0, 0]),
        (5, &[0, 0], &[0, 0]),
    ];
    for (amount, weights, expected) in cases {
        let shares = allocate(*amount, weights);
        assert_eq!(
            &shares[..],
            *expected,
            "allocating {amount} over {weights:?}"
        );
    }
}

#[test]
fn oversized_discounts_are_refused() {
    let mut cart = Cart::new();
    let line = cart.add_item(item(1, 1_000, 500), 1).expect("add");
    for bad in [
        Discount::Percent { basis_points: 0 },
        Discount::Percent {
            basis_points: 10_001,
        },
        Discount::Amount { minor: 0 },
        Discount::Amount { minor: -5 },
        Discount::Amount { minor: 1_001 },
    ] {
        assert!(
            matches!(
                cart.set_line_discount(line, Some(bad)),
                Err(CoreError::BadDiscount(_))
            ),
            "{bad:?} must be refused on a 10.00 line"
        );
        assert!(
            matches!(
                cart.set_cart_discount(Some(bad)),
                Err(CoreError::BadDiscount(_))
            ),
            "{bad:?} must be refused on a 10.00 cart"
        );
    }
    assert_eq!(
        cart.totals(INCLUSIVE).total_minor,
        1_000,
        "refusals leave the cart as it was"
    );
}

#[test]
fn cash_settles_with_rounding_and_change() {
    let rules = PricingRules {
        tax_mode: TaxMode::Inclusive,
        cash_rounding_minor: 10,
    };
    // (total, cash handed over, expected rounding, change, kept)
    let cases: &[(Minor, Minor, Minor, Minor, Minor)] = &[
        (1_234, 2_000, -4, 770, 1_230),
        (1_235, 2_000, 5, 760, 1_240),
        (1_230, 1_230, 0, 0, 1_230),
        (1_236, 1_240, 4, 0, 1_240),
    ];
    for &(total, handed, rounding, change, kept) in cases {
        let mut cart = Cart::new();
        cart.add_item(item(1, total, 0), 1).expect("add");
        cart.add_tender(rules, TenderKind::Cash, handed, None)
            .expect("cash");
        let t = cart.totals(rules);
        assert!(t.fully_paid, "{handed} cash for {total} settles the sale");
        assert_eq!(t.rounding_minor, rounding, "rounding of {total}");
        assert_eq!(t.change_minor, change, "change for {handed} on {total}");
        assert_eq!(t.paid_minor, kept, "the sale keeps the rounded amount");
    }
}

#[test]
fn split_payment_cash_then_card_pays_exactly() {
    let rules = PricingRules {
        tax_mode: TaxMode::Inclusive,
        cash_rounding_minor: 10,
    };
    let mut cart = Cart::new();
    cart.add_item(item(1, 1_234, 500), 1).expect("add");
    cart.add_tender(rules, TenderKind::Cash, 600, None)
        .expect("part cash");
    let t = cart.totals(rules);
    assert_eq!(t.due_minor, 634, "card pays the exact rest");
    assert_eq!(t.cash_due_minor, 630, "cash would pay the rounded rest");
    assert!(
        matches!(
            cart.add_tender(rules, TenderKind::Card, 635, Some("T1")),
            Err(CoreError::CardExceedsDue {
                card: 635,
                due: 634
            })
        ),
        "a card tender above the due must be refused"
    );
    cart.add_tender(rules, TenderKind::Card, 634, Some("AUTH-77"))
        .expect("card");
    let t = cart.totals(rules);
    assert!(t.fully_paid);
    assert_eq!(t.rounding_minor, 0, "no rounding when a card settles");
}

#[test]
fn bad_tenders_are_refused_without_changing_the_cart() {
    let mut cart = Cart::new();
    assert!(matches!(
        cart.add_tender(INCLUSIVE, TenderKind::Cash, 100, None),
        Err(CoreError::EmptyCart)
    ));
    cart.add_item(item(1, 1_000, 500), 1).expect("add");
    let cases: &[(TenderKind, Minor, Option<&str>)] = &[
        (TenderKind::Cash, 0, None),
        (TenderKind::Cash, -100, None),
        (TenderKind::Cash, 1_000 + MAX_CHANGE_MINOR + 1, None),
        (TenderKind::Card, 0, Some("ref")),
        (TenderKind::Card, 500, None),
        (TenderKind::Card, 500, Some("   ")),
    ];
    for &(kind, amount, reference) in cases {
        assert!(
            cart.add_tender(INCLUSIVE, kind, amount, reference).is_err(),
            "{kind:?} {amount} {reference:?} must be refused"
        );
    }
    assert!(cart.tenders().is_empty(), "refused tenders leave no trace");
    assert_eq!(cart.totals(EXCLUSIVE).due_minor, 1_050);
}

#[test]
fn the_cart_is_frozen_while_payments_are_taken() {
    let mut cart = Cart::new();
    let line = cart.add_item(item(1, 1_000, 0), 1).expect("add");
    cart.add_tender(INCLUSIVE, TenderKind::Cash, 500, None)
        .expect("part cash");
    assert!(
        cart.set_quantity(line, 2).is_err(),
        "quantity cannot change after payment"
    );
    assert!(
        cart.add_item(item(2, 10, 0), 1).is_err(),
        "lines cannot be added after payment"
    );
    cart.remove_tender(0).expect("remove payment");
    cart.set_quantity(line, 2).expect("editable again");
}

/// A refusal's words reach the cashier under the translated headline. Amounts there would be
/// minor units ("200000" for NT$2,000.00), which the cashier would misread, so no refusal
/// quotes one: the screen beside it shows the amounts, formatted.
#[test]
fn refusals_never_quote_amounts_in_minor_units() {
    let mut cart = Cart::new();
    let line = cart.add_item(item(1, 12_345, 500), 3).expect("scan");
    let due = cart.totals(INCLUSIVE).due_minor;
    let mut refusals = vec![
        cart.set_line_discount(line, Some(Discount::Amount { minor: 987_654 })),
        cart.set_cart_discount(Some(Discount::Amount { minor: 987_654 })),
        cart.add_tender(INCLUSIVE, TenderKind::Card, 987_654, Some("T-1")),
        cart.add_tender(INCLUSIVE, TenderKind::Cash, 98_765_432, None),
    ];
    cart.set_member(Some(CartMember {
        member_id: "m-1".into(),
        name: "M".into(),
        tier: "member".into(),
        tier_name: "Member".into(),
        tier_discount_bp: 0,
    }))
    .expect("a member");
    refusals.push(cart.add_points_tender(INCLUSIVE, 98_765, 100, false));
    for (index, refused) in refusals.into_iter().enumerate() {
        let message = refused.expect_err("every attempt is refused").to_string();
        for amount in [987_654, 98_765_432, 9_876_500, 12_345, 37_035, due] {
            assert!(
                !message.contains(&amount.to_string()),
                "refusal {index} quotes {amount} in minor units: {message}"
            );
        }
    }
}
