//! Click-and-collect orders on the wire: an order as a store's tills cache it, from the
//! store's change feed (`pull::Change::Pickup`).
//!
//! The cloud creates orders (the e-shop places them) and is their authority; tills move them
//! through picking and handover with their own operations. An order's status and its lines'
//! states are the words below, so a till of an older version shows a newer word as it is.

use serde::{Deserialize, Serialize};

/// An order's statuses. `collected`, `partially_collected`, `expired` and `cancelled` are
/// final.
pub const STATUSES: [&str; 7] = [
    "new",
    "picking",
    "ready",
    "collected",
    "partially_collected",
    "expired",
    "cancelled",
];

/// Whether `status` ends an order: nothing moves it any more (but a handover recorded at a
/// store offline, which always stands).
pub fn is_final(status: &str) -> bool {
    matches!(
        status,
        "collected" | "partially_collected" | "expired" | "cancelled"
    )
}

/// One line of a pickup order. `state` is to_pick, picked, missing or put_back. A missing
/// line carries the store's reason and what the cloud decided: `refund`, or `substitute` with
/// the SKU offered instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupLine {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub total_minor: i64,
    pub state: String,
    pub missing_reason: Option<String>,
    pub resolution: Option<String>,
    pub substitute_sku: Option<String>,
}

/// A pickup order as the cloud holds it and a store's tills cache it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupOrder {
    pub id: String,
    /// The e-shop's order number.
    pub order_ref: String,
    pub store_id: String,
    /// The short code the customer says (`omnitill_core::pickup_code`).
    pub code: String,
    pub status: String,
    /// `paid_online` or `pay_at_pickup`.
    pub payment: String,
    pub member_id: Option<String>,
    pub guest_name: Option<String>,
    /// The guest's phone or e-mail, masked ("••••5678").
    pub contact_masked: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    pub promised_at_ms: i64,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Why a person must look at it, if anyone must: `refund_after_handover`, `short`.
    pub review: Option<String>,
    pub lines: Vec<PickupLine>,
}
