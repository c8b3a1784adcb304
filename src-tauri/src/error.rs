//! Errors as the UI sees them: `{code, message}` with a closed set of codes.
//!
//! The codes are the `ErrorCode` union in `ui/src/lib/api.ts`; the UI switches on them to pick
//! a translated message. Every core error maps to exactly one code here and nowhere else.

use omnitill_core::CoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::new("bad_input", message)
    }
}

/// The code for each core error.
pub fn code_of(error: &CoreError) -> &'static str {
    match error {
        CoreError::DatabaseRefused(_) => "database_refused",
        CoreError::Store(_) => "store",
        CoreError::LedgerDamaged(_) => "ledger_damaged",
        CoreError::BadInput(_) => "bad_input",
        CoreError::BadBarcode(_) => "bad_barcode",
        CoreError::BadCheckDigit(_) => "bad_check_digit",
        CoreError::UnknownBarcode(_) => "unknown_barcode",
        CoreError::InactiveProduct(_) => "inactive_product",
        CoreError::BadQuantity(_) => "bad_quantity",
        CoreError::BadDiscount(_) => "bad_discount",
        CoreError::BadTender(_) => "bad_tender",
        CoreError::OfflinePointsLimit(_) => "offline_points_limit",
        CoreError::CardExceedsDue { .. } => "card_exceeds_due",
        CoreError::NotPaid { .. } => "not_paid",
        CoreError::EmptyCart => "empty_cart",
        CoreError::NotFound(_) => "not_found",
        CoreError::WrongPin => "wrong_pin",
        CoreError::LockedOut(_) => "locked_out",
        CoreError::NotManager => "not_manager",
        CoreError::RefundExceedsSold { .. } => "refund_exceeds_sold",
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> ApiError {
        ApiError::new(code_of(&error), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_one_the_ui_knows() {
        let api_ts = include_str!("../../ui/src/lib/api.ts");
        let samples = [
            CoreError::DatabaseRefused(String::new()),
            CoreError::LedgerDamaged(String::new()),
            CoreError::BadInput(String::new()),
            CoreError::BadBarcode(String::new()),
            CoreError::BadCheckDigit(String::new()),
            CoreError::UnknownBarcode(String::new()),
            CoreError::InactiveProduct(String::new()),
            CoreError::BadQuantity(0),
            CoreError::BadDiscount(String::new()),
            CoreError::BadTender(String::new()),
            CoreError::OfflinePointsLimit(String::new()),
            CoreError::CardExceedsDue { card: 0, due: 0 },
            CoreError::NotPaid { due: 0 },
            CoreError::EmptyCart,
            CoreError::NotFound(String::new()),
            CoreError::WrongPin,
            CoreError::LockedOut(String::new()),
            CoreError::NotManager,
            CoreError::RefundExceedsSold {
                line_no: 0,
                requested: 0,
                refundable: 0,
            },
        ];
        for error in &samples {
            let code = code_of(error);
            assert!(
                api_ts.contains(&format!("\"{code}\"")),
                "code {code} must be in the UI's ErrorCode union so the UI can show it"
            );
        }
        for code in [
            "store",
            "internal",
            "printer",
            "sync",
            "not_logged_in",
            "member_input",
            "member_not_found",
            "coupon_unavailable",
            "points_unavailable",
        ] {
            assert!(
                api_ts.contains(&format!("\"{code}\"")),
                "code {code} is in the union"
            );
        }
    }
}
