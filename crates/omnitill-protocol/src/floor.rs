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
