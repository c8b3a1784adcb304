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
mod tests {
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
}
