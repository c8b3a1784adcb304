//! Errors as the UI sees them: `{code, message}` with a closed set of codes, `ErrorCode`.
//!
//! The UI switches on the code to pick a translated message. Its TypeScript type is generated
//! from this enum (`bindings.rs`, into `ui/src/lib/generated/`), so a code added here is a code
//! the UI's type check and dictionaries must know. Every core error maps to exactly one code
//! here and nowhere else.

use omnitill_core::CoreError;
use serde::Serialize;
use ts_rs::TS;

/// Every way an IPC command can fail, as the UI switches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A malformed request or value the UI should never send.
    BadInput,
    /// A well-formed barcode that is not in the catalog.
    UnknownBarcode,
    /// An EAN-13, EAN-8 or UPC-A check digit is wrong.
    BadCheckDigit,
    /// Not a barcode's shape at all (letters, wrong length).
    BadBarcode,
    /// 0, negative, or above the largest line quantity.
    BadQuantity,
    /// A discount below zero or above the line's or cart's amount.
    BadDiscount,
    /// An empty, zero, negative or absurd tender amount.
    BadTender,
    /// More points than may be redeemed offline; the message says which bound.
    OfflinePointsLimit,
    /// The cloud says the member has fewer points than asked for.
    PointsUnavailable,
    /// The cloud says the coupon is used, expired or not this member's.
    CouponUnavailable,
    /// A member look-up or enrolment the till cannot use (bad phone, e-mail, card, QR).
    MemberInput,
    /// No member with that phone, e-mail or card (or not reachable offline).
    MemberNotFound,
    /// A card tender larger than what is still due.
    CardExceedsDue,
    /// Completing a sale that is not fully paid.
    NotPaid,
    /// Paying or completing with no lines.
    EmptyCart,
    /// The product exists but is not for sale.
    InactiveProduct,
    /// A receipt number, product or line that does not exist.
    NotFound,
    /// The staff code and PIN do not match.
    WrongPin,
    /// Too many wrong PINs for this staff code; wait a minute.
    LockedOut,
    /// A manager is needed for this action.
    NotManager,
    /// A pickup step this order does not allow (a product not on it, a line picked already,
    /// an order collected, cancelled or expired, another store's); the message says which.
    PickupRefused,
    /// No staff session (the till is locked).
    NotLoggedIn,
    /// A refund quantity above what remains refundable.
    RefundExceedsSold,
    /// The network receipt printer failed or is not configured.
    Printer,
    /// The cloud could not be reached, or refused an enrolment.
    Sync,
    /// The ledger file is corrupt or from a newer version.
    DatabaseRefused,
    /// The ledger failed (disk full, I/O).
    Store,
    /// The background check found the ledger damaged: selling stopped until recovery.
    LedgerDamaged,
    /// Anything else.
    Internal,
}

/// What a use case of the shell answers: its result, or the error the UI receives.
pub type Reply<T> = Result<T, ApiError>;

/// A failed IPC command, as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadInput, message)
    }
}

/// The code for each core error.
pub fn code_of(error: &CoreError) -> ErrorCode {
    match error {
        CoreError::DatabaseRefused(_) => ErrorCode::DatabaseRefused,
        CoreError::Store(_) => ErrorCode::Store,
        CoreError::LedgerDamaged(_) => ErrorCode::LedgerDamaged,
        CoreError::BadInput(_) => ErrorCode::BadInput,
        CoreError::BadBarcode(_) => ErrorCode::BadBarcode,
        CoreError::BadCheckDigit(_) => ErrorCode::BadCheckDigit,
        CoreError::UnknownBarcode(_) => ErrorCode::UnknownBarcode,
        CoreError::InactiveProduct(_) => ErrorCode::InactiveProduct,
        CoreError::BadQuantity(_) => ErrorCode::BadQuantity,
        CoreError::BadDiscount(_) => ErrorCode::BadDiscount,
        CoreError::BadTender(_) => ErrorCode::BadTender,
        CoreError::OfflinePointsLimit(_) => ErrorCode::OfflinePointsLimit,
        CoreError::CardExceedsDue { .. } => ErrorCode::CardExceedsDue,
        CoreError::NotPaid { .. } => ErrorCode::NotPaid,
        CoreError::EmptyCart => ErrorCode::EmptyCart,
        CoreError::NotFound(_) => ErrorCode::NotFound,
        CoreError::WrongPin => ErrorCode::WrongPin,
        CoreError::LockedOut(_) => ErrorCode::LockedOut,
        CoreError::NotManager => ErrorCode::NotManager,
        CoreError::RefundExceedsSold { .. } => ErrorCode::RefundExceedsSold,
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
    fn an_error_reaches_the_ui_as_its_snake_case_code_and_message() {
        let error = ApiError::from(CoreError::UnknownBarcode("4710000000000".into()));
        assert_eq!(
            serde_json::to_value(&error).ok(),
            Some(serde_json::json!({
                "code": "unknown_barcode",
                "message": error.message.clone(),
            })),
            "the UI matches on the code as written in the generated ErrorCode type"
        );
    }
}
