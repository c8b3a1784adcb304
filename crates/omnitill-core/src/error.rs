//! The one error type of omnitill-core.
//!
//! Core fails only on its store (the SQLite ledger) or on bad input. Each variant carries what a
//! person needs to understand the refusal; the desktop shell maps variants to the closed set of
//! error codes the UI switches on.

use crate::money::Minor;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The ledger file exists but cannot be used: not SQLite, corrupt, or from a newer version.
    /// The file is left exactly as it was.
    #[error("the ledger cannot be opened: {0}")]
    DatabaseRefused(String),
    #[error("the ledger failed: {0}")]
    Store(#[from] rusqlite::Error),
    /// The background check found the ledger damaged: every write is refused and the file is
    /// left as it is until a manager recovers the store. The message says how.
    #[error("{0}")]
    LedgerDamaged(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0:?} is not a barcode: use 8, 12 or 13 digits")]
    BadBarcode(String),
    #[error("barcode {0} has a wrong check digit")]
    BadCheckDigit(String),
    #[error("barcode {0} is not in the catalog")]
    UnknownBarcode(String),
    #[error("{0} is not for sale (inactive)")]
    InactiveProduct(String),
    #[error("quantity {0} is not allowed: use 1 to {max}", max = crate::cart::MAX_LINE_QUANTITY)]
    BadQuantity(i64),
    #[error("{0}")]
    BadDiscount(String),
    #[error("{0}")]
    BadTender(String),
    /// Points asked for offline past the offline bound; the message names the bound.
    #[error("{0}")]
    OfflinePointsLimit(String),
    #[error("the card payment is more than is still due")]
    CardExceedsDue { card: Minor, due: Minor },
    #[error("the sale is not fully paid yet")]
    NotPaid { due: Minor },
    #[error("the cart is empty")]
    EmptyCart,
    #[error("{0} was not found")]
    NotFound(String),
    #[error("wrong staff code or PIN")]
    WrongPin,
    #[error("staff {0} is locked out after too many wrong PINs; try again in a minute")]
    LockedOut(String),
    #[error("a manager must approve this")]
    NotManager,
    #[error("line {line_no} has only {refundable} left to refund, not {requested}")]
    RefundExceedsSold {
        line_no: i64,
        requested: i64,
        refundable: i64,
    },
}

pub type CoreResult<T> = Result<T, CoreError>;
