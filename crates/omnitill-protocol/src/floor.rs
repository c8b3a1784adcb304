//! What the shop floor is told beyond the catalog: which products are bought together, from
//! both channels' sales (`pull::Change::BoughtTogether`).

use serde::{Deserialize, Serialize};

/// A product bought in the same sale as another, and in how many sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Companion {
    pub sku: String,
    /// How many sales, in stores and online, held both products.
    pub sales: i64,
}

/// A product's most frequent companions, most frequent first. An empty list withdraws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoughtTogether {
    pub sku: String,
    pub companions: Vec<Companion>,
}

/// How many of a product another store has for sale (on hand less what pickup orders hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreStock {
    pub sku: String,
    pub store_code: String,
    pub store_name: String,
    pub available: i64,
}

/// What the cloud adds to a member's view on the shop floor while the till is online: their
/// newest e-shop lists (a till keeps them only for members who shop at its store), the brand's
/// tags for them, the points that lapse soon, and the other stores' stock of their favourites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberFloor {
    pub member_id: String,
    pub tags: Vec<String>,
    pub interests: crate::loyalty::MemberInterests,
    /// Points that lapse before `points_expiring_by_ms` unless the member uses them.
    pub points_expiring: i64,
    pub points_expiring_by_ms: i64,
    /// Each favourite's stock at the brand's other stores that have some, most first.
    pub stock_elsewhere: Vec<StoreStock>,
    /// The member's newest purchases and refunds in both channels.
    #[serde(default)]
    pub purchases: Vec<crate::loyalty::Purchase>,
}
