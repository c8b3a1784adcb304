//! A receipt as lines of fixed-width text, the layout both the screen and the printer use.
//!
//! `render_text` lays a `Receipt` out in a given number of terminal columns (the till prints
//! 42), measured with `unicode-width`, so a CJK character takes two columns. The layout is, top
//! to bottom: the store name centred; the kind and number; date and time; staff, the approving
//! manager and, for a refund, the sale it refunds; a rule; each line as its name (wrapped), its
//! quantity and unit price with the amount right-aligned, and its discount; a rule; subtotal,
//! discount, tax, rounding and total; a rule and the tenders; then "Thank you" and the receipt
//! number, under which the barcode is drawn separately. Amounts are right-aligned so they end
//! in the last column, and zero discounts and rounding are left out. Every printed word comes
//! from one `Labels` table (`ENGLISH` for now), so a translation is one more table.
//!
//! Text is wrapped at spaces and between wide characters, and a word longer than a line is
//! broken between characters, never inside one. Control characters are printed as spaces. No
//! returned line is wider than the width asked for; a character wider than the whole line,
//! which only a width below 2 can cause, is left out rather than overflow. The layout itself
//! takes a measuring function, so the ESC/POS renderer can lay the same receipt out in the
//! columns a Big5 printer actually uses (see `render_parts`).

use unicode_width::UnicodeWidthStr;

use crate::money::{Minor, format_minor};
use crate::receipt::{Receipt, ReceiptKind, TenderKind};
use crate::settings::TaxMode;

/// Every word printed on a receipt, in one language.
#[derive(Debug)]
pub(crate) struct Labels {
    pub sale: &'static str,
    pub refund: &'static str,
    pub date: &'static str,
    pub staff: &'static str,
    pub approved_by: &'static str,
    /// Printed before the number of the sale a refund refunds.
    pub refund_of: &'static str,
    /// The discount under a single line.
    pub line_discount: &'static str,
    pub subtotal: &'static str,
    /// The discount in the totals.
    pub discount: &'static str,
    /// The tax contained in prices that include tax.
    pub tax_inclusive: &'static str,
    /// The tax added to prices that exclude tax.
    pub tax_exclusive: &'static str,
    pub rounding: &'static str,
    pub total: &'static str,
    pub cash: &'static str,
    /// A card payment without a reference.
    pub card: &'static str,
    /// Printed before a card payment's reference.
    pub card_reference: &'static str,
    pub tendered: &'static str,
    pub change: &'static str,
    pub thank_you: &'static str,
    /// Printed before the number of points a points tender used.
    pub points: &'static str,
    pub member: &'static str,
    pub tier_discount: &'static str,
    pub coupon: &'static str,
    pub points_earned: &'static str,
    pub points_redeemed: &'static str,
    /// On a refund: points earned on what came back, taken off again.
    pub points_reversed: &'static str,
    /// On a refund: points redeemed on what came back, given back.
    pub points_restored: &'static str,
    pub points_balance: &'static str,
    /// After a balance the cloud has not confirmed yet.
    pub pending: &'static str,
}

/// The printed receipt's words in English, the only language receipts are printed in so far.
pub(crate) const ENGLISH: Labels = Labels {
    sale: "SALE",
    refund: "REFUND",
    date: "Date",
    staff: "Staff",
    approved_by: "Approved by",
    refund_of: "Refund of",
    line_discount: "discount",
    subtotal: "Subtotal",
    discount: "Discount",
    tax_inclusive: "Incl. tax",
    tax_exclusive: "Tax",
    rounding: "Rounding",
    total: "TOTAL",
    cash: "Cash",
    card: "Card",
    card_reference: "Card ref",
    tendered: "Tendered",
    change: "Change",
    thank_you: "Thank you",
    points: "Points",
    member: "Member",
    tier_discount: "Member discount",
    coupon: "Coupon",
    points_earned: "Points earned",
    points_redeemed: "Points redeemed",
    points_reversed: "Points taken back",
    points_restored: "Points given back",
    points_balance: "Points balance",
    pending: "(pending)",
};

/// Measures how many columns a piece of text takes where it is shown.
pub(crate) type Measure = fn(&str) -> usize;

/// The columns `text` takes in a terminal, by `unicode-width`: CJK characters take two.
pub(crate) fn terminal_columns(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The receipt as lines of at most `width` terminal columns, without trailing spaces.
pub fn render_text(receipt: &Receipt, width: usize) -> Vec<String> {
    let parts = render_parts(receipt, width, terminal_columns);
    let layout = Layout::new(width, terminal_columns);
    let mut lines: Vec<String> = parts
        .title
        .iter()
        .map(|line| layout.centre_one(line))
        .collect();
    lines.extend(parts.body);
    lines
}

/// A laid-out receipt in two parts, so a printer can print the title in a larger font.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiptParts {
    /// The store name wrapped to the width, not yet centred.
    pub title: Vec<String>,
    /// Everything under the store name, finished lines.
    pub body: Vec<String>,
}

/// Lays `receipt` out in `width` columns as `measure` counts them, with the English labels.
pub(crate) fn render_parts(receipt: &Receipt, width: usize, measure: Measure) -> ReceiptParts {
    let layout = Layout::new(width, measure);
    let title = layout.wrap(&receipt.store_name, width);
    let body = layout.body(receipt, &ENGLISH);
    ReceiptParts {
        title: title
            .into_iter()
            .flat_map(|line| layout.fit(line))
            .collect(),
        body: body.into_iter().flat_map(|line| layout.fit(line)).collect(),
    }
}

/// Lays out text in a fixed number of columns as one measuring function counts them.
struct Layout {
    width: usize,
    measure: Measure,
}

/// A piece of text that wrapping keeps whole where it can.
enum Unit {
    /// One or more spaces, where a line may break.
    Space,
    /// A run of narrow characters, or a single wide one.
    Word(String),
}

impl Layout {
    fn new(width: usize, measure: Measure) -> Layout {
        Layout { width, measure }
    }

    fn columns(&self, text: &str) -> usize {
        (self.measure)(text)
    }

    /// Every line of the receipt under the store name.
    fn body(&self, receipt: &Receipt, labels: &Labels) -> Vec<String> {
        let money = |amount: Minor| format_minor(amount, receipt.currency_exponent);
        let mut lines = Vec::new();

        let kind = match receipt.kind {
            ReceiptKind::Sale => labels.sale,
            ReceiptKind::Refund => labels.refund,
        };
        lines.extend(self.row("", kind, &receipt.receipt_no));
        lines.extend(self.row("", labels.date, &short_time(&receipt.created_at)));
        lines.extend(self.row("", labels.staff, &receipt.staff_name));
        if let Some(manager) = &receipt.approved_by {
            lines.extend(self.row("", labels.approved_by, manager));
        }
        if receipt.kind == ReceiptKind::Refund
            && let Some(original) = &receipt.original_receipt_no
        {
            lines.extend(self.wrap(&format!("{} {original}", labels.refund_of), self.width));
        }
        lines.push(self.rule());

        for line in &receipt.lines {
            let name = if line.name.trim().is_empty() {
                &line.sku
            } else {
                &line.name
            };
            lines.extend(self.wrap(name, self.width));
            // The amount before the line's discount, so the discount below subtracts from it.
            let before_discount = line.total_minor.saturating_add(line.discount_minor);
            let quantity = format!("{} x {}", line.quantity, money(line.unit_price_minor));
            lines.extend(self.row("  ", &quantity, &money(before_discount)));
            if line.discount_minor != 0 {
                lines.extend(self.row(
                    "  ",
                    labels.line_discount,
                    &money(line.discount_minor.saturating_neg()),
                ));
            }
        }
        lines.push(self.rule());

        lines.extend(self.row("", labels.subtotal, &money(receipt.subtotal_minor)));
        if receipt.discount_minor != 0 {
            lines.extend(self.row(
                "",
                labels.discount,
                &money(receipt.discount_minor.saturating_neg()),
            ));
        }
        let tax = match receipt.tax_mode {
            TaxMode::Inclusive => labels.tax_inclusive,
            TaxMode::Exclusive => labels.tax_exclusive,
        };
        lines.extend(self.row("", tax, &money(receipt.tax_minor)));
        if receipt.rounding_minor != 0 {
            lines.extend(self.row("", labels.rounding, &money(receipt.rounding_minor)));
        }
        let total = format!("{} {}", receipt.currency, money(receipt.total_minor));
        lines.extend(self.row("", labels.total, &total));

        if !receipt.tenders.is_empty() {
            lines.push(self.rule());
        }
        for tender in &receipt.tenders {
            let reference = tender
                .reference
                .as_deref()
                .map(str::trim)
                .filter(|reference| !reference.is_empty());
            let label = match (tender.kind, reference) {
                (TenderKind::Cash, _) => labels.cash.to_string(),
                (TenderKind::Card, Some(reference)) => {
                    format!("{} {reference}", labels.card_reference)
                }
                (TenderKind::Card, None) => labels.card.to_string(),
                (TenderKind::Points, _) => format!("{} {}", labels.points, tender.points),
            };
            lines.extend(self.row("", &label, &money(tender.amount_minor)));
            // Nothing is handed over for a refund, so only a sale shows tendered and change.
            if tender.kind == TenderKind::Cash && receipt.kind == ReceiptKind::Sale {
                lines.extend(self.row("  ", labels.tendered, &money(tender.tendered_minor)));
                lines.extend(self.row("  ", labels.change, &money(tender.change_minor)));
            }
        }

        if let Some(member) = &receipt.member {
            lines.push(self.rule());
            lines.extend(self.row("", labels.member, &member.name));
            if member.tier_discount_minor != 0 {
                let label = format!("{} ({})", labels.tier_discount, member.tier_name);
                lines.extend(self.row(
                    "",
                    &label,
                    &money(member.tier_discount_minor.saturating_neg()),
                ));
            }
            if let Some(title) = &member.coupon_title {
                lines.extend(self.wrap(&format!("{} {title}", labels.coupon), self.width));
                lines.extend(self.row(
                    "",
                    "",
                    &money(member.coupon_discount_minor.saturating_neg()),
                ));
            }
            let (earned, redeemed) = match receipt.kind {
                ReceiptKind::Sale => (labels.points_earned, labels.points_redeemed),
                ReceiptKind::Refund => (labels.points_reversed, labels.points_restored),
            };
            lines.extend(self.row("", earned, &member.points_earned.to_string()));
            if member.points_redeemed != 0 {
                lines.extend(self.row("", redeemed, &member.points_redeemed.to_string()));
            }
            let balance = if member.balance_pending {
                format!("{} {}", member.balance_after, labels.pending)
            } else {
                member.balance_after.to_string()
            };
            lines.extend(self.row("", labels.points_balance, &balance));
        }

        lines.push(String::new());
        lines.extend(self.centred(labels.thank_you));
        lines.extend(self.centred(&receipt.receipt_no));
        lines
    }

    /// A line of '-' across the whole width.
    fn rule(&self) -> String {
        "-".repeat(self.width)
    }

    /// `text` wrapped, each line centred.
    fn centred(&self, text: &str) -> Vec<String> {
        self.wrap(text, self.width)
            .iter()
            .map(|line| self.centre_one(line))
            .collect()
    }

    /// One line that already fits, padded on the left to sit in the middle.
    fn centre_one(&self, line: &str) -> String {
        let margin = self.width.saturating_sub(self.columns(line)) / 2;
        format!("{}{line}", " ".repeat(margin))
    }

    /// `left` after `indent`, wrapped, with `right` ending in the last column of the last line,
    /// or on a line of its own when the two do not fit together with a space between.
    fn row(&self, indent: &str, left: &str, right: &str) -> Vec<String> {
        let indent = if self.columns(indent) < self.width {
            indent
        } else {
            ""
        };
        let inner = self.width - self.columns(indent);
        let mut lines: Vec<String> = self
            .wrap(left, inner)
            .into_iter()
            .map(|line| format!("{indent}{line}"))
            .collect();
        let right_lines = self.wrap(right, self.width);
        if let [right] = right_lines.as_slice()
            && let Some(last) = lines.last_mut()
            && self.columns(last) + 1 + self.columns(right) <= self.width
        {
            let gap = self.width - self.columns(last) - self.columns(right);
            last.push_str(&" ".repeat(gap));
            last.push_str(right);
            return lines;
        }
        for right in right_lines {
            let margin = self.width.saturating_sub(self.columns(&right));
            lines.push(format!("{}{right}", " ".repeat(margin)));
        }
        lines
    }

    /// `text` broken into lines of at most `width` columns, at spaces and between wide
    /// characters where it can, and between any two characters where a word is too long.
    fn wrap(&self, text: &str, width: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = String::new();
        let mut space_before = false;
        for unit in self.units(text) {
            let word = match unit {
                Unit::Space => {
                    space_before = !current.is_empty();
                    continue;
                }
                Unit::Word(word) => word,
            };
            let mut candidate = current.clone();
            if space_before {
                candidate.push(' ');
            }
            candidate.push_str(&word);
            space_before = false;
            if self.columns(&candidate) <= width {
                current = candidate;
                continue;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            if self.columns(&word) <= width {
                current = word;
                continue;
            }
            for character in word.chars() {
                let mut candidate = current.clone();
                candidate.push(character);
                if self.columns(&candidate) <= width {
                    current = candidate;
                    continue;
                }
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                let alone = character.to_string();
                if self.columns(&alone) <= width {
                    current = alone;
                }
            }
        }
        if !current.is_empty() {
            lines.push(current);
        }
        lines
    }

    /// `text` as spaces, runs of narrow characters and single wide characters. Control
    /// characters count as spaces.
    fn units(&self, text: &str) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut narrow = String::new();
        let mut buffer = [0u8; 4];
        for character in text.chars() {
            if character.is_whitespace() || character.is_control() {
                if !narrow.is_empty() {
                    units.push(Unit::Word(std::mem::take(&mut narrow)));
                }
                units.push(Unit::Space);
            } else if self.columns(character.encode_utf8(&mut buffer)) >= 2 {
                if !narrow.is_empty() {
                    units.push(Unit::Word(std::mem::take(&mut narrow)));
                }
                units.push(Unit::Word(character.to_string()));
            } else {
                narrow.push(character);
            }
        }
        if !narrow.is_empty() {
            units.push(Unit::Word(narrow));
        }
        units
    }

    /// A finished line, split between characters if measuring it whole finds it too wide.
    /// Lines built by this layout fit already; this keeps the promise if a measure is not
    /// additive for some unusual sequence of characters.
    fn fit(&self, line: String) -> Vec<String> {
        if self.columns(&line) <= self.width {
            return vec![line];
        }
        let mut lines = Vec::new();
        let mut current = String::new();
        for character in line.chars() {
            let mut candidate = current.clone();
            candidate.push(character);
            if self.columns(&candidate) <= self.width {
                current = candidate;
            } else {
                lines.push(std::mem::take(&mut current));
                if self.columns(&character.to_string()) <= self.width {
                    current.push(character);
                }
            }
        }
        lines.push(current);
        lines
    }
}

/// "YYYY-MM-DD HH:MM" from an RFC 3339 time, in the offset it was written in. Text that does
/// not start like one is shown as it is.
fn short_time(created_at: &str) -> String {
    let bytes = created_at.as_bytes();
    let shaped = bytes.len() >= 16
        && bytes[..16]
            .iter()
            .enumerate()
            .all(|(index, &byte)| match index {
                4 | 7 => byte == b'-',
                10 => matches!(byte, b'T' | b't' | b' '),
                13 => byte == b':',
                _ => byte.is_ascii_digit(),
            });
    match (shaped, created_at.get(..10), created_at.get(11..16)) {
        (true, Some(date), Some(time)) => format!("{date} {time}"),
        _ => created_at.to_string(),
    }
}

#[cfg(test)]
mod tests;
