//! What a code scanned or typed into the checkout's scan field is, decided in one place: a
//! member's card (an EAN-13 in the in-store 29 range), a member's QR token (`OMQ1.`), or an
//! item (a barcode or SKU, which the catalog then finds or refuses). The UI sends what it got
//! and follows the answer; it keeps no prefixes of its own.

use serde::Serialize;

use crate::loyalty;

/// The kind of a scanned code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    MemberCard,
    MemberQr,
    Item,
}

impl ScanKind {
    /// Whether the code names a member (to attach to the sale) rather than an item.
    pub fn is_member(self) -> bool {
        matches!(self, ScanKind::MemberCard | ScanKind::MemberQr)
    }
}

/// Classifies a scanned or typed code.
pub fn classify(code: &str) -> ScanKind {
    if loyalty::looks_like_qr(code) {
        ScanKind::MemberQr
    } else if loyalty::looks_like_card(code) {
        ScanKind::MemberCard
    } else {
        ScanKind::Item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_codes_are_told_from_items_by_core_alone() {
        for (code, kind) in [
            ("2900000000012", ScanKind::MemberCard),
            (" 2900000000012 ", ScanKind::MemberCard),
            ("OMQ1.abc.123.def", ScanKind::MemberQr),
            ("4710000000011", ScanKind::Item),
            ("290000000001", ScanKind::Item),
            ("TEA-DDO-75g", ScanKind::Item),
            ("", ScanKind::Item),
        ] {
            assert_eq!(classify(code), kind, "{code:?}");
        }
    }
}
