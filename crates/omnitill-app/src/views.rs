//! The shapes the UI receives: the cart with its figures, and receipts with their renderings.
//!
//! The UI imports their TypeScript, generated from them (`bindings`). They only copy and combine what core computed; no price,
//! tax or rule is worked out here.

use omnitill_core::cart::{Cart, CartTotals, Discount, PricingRules};
use omnitill_core::loyalty::{self, OfflineLimit};
use omnitill_core::members::MemberView;
use omnitill_core::{Receipt, TenderKind, code128, receipt_text};
use serde::Serialize;
use ts_rs::TS;

/// Printed receipts are 42 columns wide.
pub const RECEIPT_COLUMNS: usize = 42;

#[derive(Debug, Serialize, TS)]
pub struct CartLineView {
    pub line_id: u32,
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub barcode: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub gross_minor: i64,
    pub line_discount: Option<Discount>,
    pub discount_minor: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
}

#[derive(Debug, Serialize, TS)]
pub struct TenderView {
    pub kind: TenderKind,
    pub amount_minor: i64,
    pub tendered_minor: i64,
    pub change_minor: i64,
    pub reference: Option<String>,
    /// Points redeemed (points tenders only).
    pub points: i64,
    /// Points held at the cloud for this sale (false: redeemed offline).
    pub reserved_online: bool,
}

/// The member attached to the cart, as the cashier sees them, with what the sale gives them.
#[derive(Debug, Serialize, TS)]
pub struct CartMemberView {
    #[serde(flatten)]
    pub member: MemberView,
    /// The most points this till may redeem for them offline, and which bound sets it.
    pub offline_limit: OfflineLimit,
    /// The value of one point in minor units.
    pub point_value_minor: i64,
    /// The most points this payment may take while the till asks the cloud, and while it
    /// cannot (`loyalty::points_usable`): the pay dialog offers one of them.
    pub points_usable_online: i64,
    pub points_usable_offline: i64,
    pub tier_discount_minor: i64,
    pub coupon_id: Option<String>,
    pub coupon_title: Option<String>,
    pub coupon_discount_minor: i64,
    pub coupon_reserved_online: bool,
}

/// What the cart view needs to know of the attached member besides the cart itself.
pub struct MemberFacts {
    pub member: MemberView,
    pub offline_limit: OfflineLimit,
    pub point_value_minor: i64,
}

#[derive(Debug, Serialize, TS)]
pub struct CartView {
    pub currency: String,
    pub lines: Vec<CartLineView>,
    pub cart_discount: Option<Discount>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub rounding_minor: i64,
    pub tenders: Vec<TenderView>,
    pub paid_minor: i64,
    pub due_minor: i64,
    pub cash_due_minor: i64,
    pub change_minor: i64,
    pub fully_paid: bool,
    pub member: Option<CartMemberView>,
}

impl CartView {
    pub fn new(
        cart: &Cart,
        rules: PricingRules,
        currency: &str,
        member: Option<MemberFacts>,
    ) -> CartView {
        let totals: CartTotals = cart.totals(rules);
        let member = member.map(|facts| CartMemberView {
            points_usable_online: loyalty::points_usable(
                totals.due_minor,
                facts.point_value_minor,
                facts.member.balance,
                None,
            ),
            points_usable_offline: loyalty::points_usable(
                totals.due_minor,
                facts.point_value_minor,
                facts.member.balance,
                Some(facts.offline_limit.points),
            ),
            member: facts.member,
            offline_limit: facts.offline_limit,
            point_value_minor: facts.point_value_minor,
            tier_discount_minor: totals.tier_discount_minor,
            coupon_id: cart.coupon().map(|c| c.coupon_id.clone()),
            coupon_title: cart.coupon().map(|c| c.title.clone()),
            coupon_discount_minor: totals.coupon_discount_minor,
            coupon_reserved_online: cart.coupon().is_some_and(|c| c.reserved_online),
        });
        let lines = cart
            .lines()
            .iter()
            .zip(&totals.lines)
            .map(|(line, figures)| CartLineView {
                line_id: line.line_id,
                product_id: line.item.product_id,
                sku: line.item.sku.clone(),
                name: line.item.name.clone(),
                barcode: line.item.barcode.clone(),
                quantity: line.quantity,
                unit_price_minor: line.item.unit_price_minor,
                gross_minor: figures.gross_minor,
                line_discount: line.discount,
                discount_minor: figures.discount_minor(),
                total_minor: figures.total_minor,
                tax_minor: figures.tax_minor,
            })
            .collect();
        CartView {
            currency: currency.to_owned(),
            lines,
            cart_discount: cart.cart_discount(),
            subtotal_minor: totals.subtotal_minor,
            discount_minor: totals.discount_minor,
            tax_minor: totals.tax_minor,
            total_minor: totals.total_minor,
            rounding_minor: totals.rounding_minor,
            tenders: cart
                .tenders()
                .iter()
                .map(|t| TenderView {
                    kind: t.kind,
                    amount_minor: t.amount_minor,
                    tendered_minor: t.tendered_minor,
                    change_minor: t.change_minor,
                    reference: t.reference.clone(),
                    points: t.points,
                    reserved_online: t.reserved_online,
                })
                .collect(),
            paid_minor: totals.paid_minor,
            due_minor: totals.due_minor,
            cash_due_minor: totals.cash_due_minor,
            change_minor: totals.change_minor,
            fully_paid: totals.fully_paid,
            member,
        }
    }
}

#[derive(Debug, Serialize, TS)]
pub struct ReceiptView {
    #[serde(flatten)]
    pub receipt: Receipt,
    pub barcode_modules: String,
    pub text_lines: Vec<String>,
}

impl ReceiptView {
    pub fn new(receipt: Receipt) -> ReceiptView {
        // Receipt numbers are ASCII by construction; an empty pattern only hides the barcode.
        let barcode_modules = code128::encode(&receipt.receipt_no).unwrap_or_default();
        let text_lines = receipt_text::render_text(&receipt, RECEIPT_COLUMNS);
        ReceiptView {
            receipt,
            barcode_modules,
            text_lines,
        }
    }
}
