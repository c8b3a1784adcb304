//! Receipts as data: the document a sale or refund produces, read back from the ledger.
//!
//! `Receipt` is what the screen shows and what the renderers in `receipt_text`, `escpos` and
//! `code128` turn into 42-column text, printer bytes and a barcode. It carries everything needed
//! to print, so rendering never touches the store.

use serde::Serialize;

use crate::money::Minor;
use crate::settings::TaxMode;

/// Whether a receipt records money taken (a sale) or money given back (a refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Sale,
    Refund,
}

/// How a customer paid, or how a refund was paid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    Cash,
    Card,
    /// A member's points, at the brand's point value.
    Points,
}

impl TenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::Card => "card",
            TenderKind::Points => "points",
        }
    }

    pub fn parse(text: &str) -> Option<TenderKind> {
        match text {
            "cash" => Some(TenderKind::Cash),
            "card" => Some(TenderKind::Card),
            "points" => Some(TenderKind::Points),
            _ => None,
        }
    }
}

/// One payment on a receipt. For cash, `tendered_minor` is what the customer handed over and
/// `change_minor` what went back; `amount_minor` is what the sale kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReceiptTender {
    pub kind: TenderKind,
    pub amount_minor: Minor,
    pub tendered_minor: Minor,
    pub change_minor: Minor,
    pub reference: Option<String>,
    /// Points a points tender used (a refund: gave back).
    pub points: i64,
}

/// The member part of a receipt. For a sale: points earned and redeemed and the balance after;
/// for a refund: points taken back (earned on the refunded part) and given back (redeemed on
/// it). `balance_pending` marks a balance that includes entries the cloud has not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReceiptMember {
    pub name: String,
    pub tier_name: String,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub balance_after: i64,
    pub balance_pending: bool,
    pub tier_discount_minor: Minor,
    pub coupon_title: Option<String>,
    pub coupon_discount_minor: Minor,
}

/// One line of a receipt. Amounts are for the whole line; `total_minor` is what the customer
/// paid for it (or got back), tax included when the store's prices include tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReceiptLine {
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: Minor,
    pub discount_minor: Minor,
    pub total_minor: Minor,
}

/// A complete receipt: header, lines, totals, tenders. Refund receipts carry positive amounts
/// and name the sale they refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Receipt {
    pub kind: ReceiptKind,
    pub receipt_no: String,
    pub original_receipt_no: Option<String>,
    /// RFC 3339 in the store's local offset.
    pub created_at: String,
    pub store_name: String,
    pub staff_name: String,
    pub approved_by: Option<String>,
    pub currency: String,
    pub currency_exponent: u32,
    pub tax_mode: TaxMode,
    pub lines: Vec<ReceiptLine>,
    pub subtotal_minor: Minor,
    pub discount_minor: Minor,
    pub tax_minor: Minor,
    pub rounding_minor: Minor,
    pub total_minor: Minor,
    pub tenders: Vec<ReceiptTender>,
    pub change_minor: Minor,
    pub member: Option<ReceiptMember>,
}
