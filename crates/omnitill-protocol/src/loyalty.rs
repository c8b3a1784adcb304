//! Membership on the wire: the brand's loyalty rules, the member record a till caches, and the
//! member blocks that sale and refund operations carry.
//!
//! The cloud owns members, their points ledger and their coupons. A till caches what checkout
//! needs (`CachedMember`): look-up keys only as keyed hashes, phone and e-mail masked, the
//! confirmed balance as of the feed entry, the tier and the coupons that can still be used.
//! The rules travel as one brand-wide feed change, so a till applies the same rules offline.

use serde::{Deserialize, Serialize};

/// How fractional points round when earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PointsRounding {
    /// Down to the whole point below (the usual rule: never promise a point not fully earned).
    Floor,
    /// To the nearest whole point, halves up.
    Nearest,
}

/// A tier, reached by rolling 12-month spend across both channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierRule {
    pub code: String,
    pub name: String,
    /// Spend over the last 12 months (minor units, both channels) from which the tier applies.
    pub min_spend_minor: i64,
    /// Points multiplier in percent: 100 earns the base rate, 150 earns half as much again.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 1_000))]
    pub multiplier_pct: u32,
    /// The tier's discount on a whole sale, in basis points (500 = 5 %).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 10_000))]
    pub discount_bp: u32,
}

/// Extra points for purchases made within a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsPromotion {
    pub id: String,
    pub name: String,
    /// Unix ms; the promotion applies from `starts_at_ms` up to, not including, `ends_at_ms`.
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    /// Multiplier in percent applied on top of the tier's (200 = double points).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 1_000))]
    pub multiplier_pct: u32,
}

/// The brand's loyalty rules. One set per brand; both channels apply the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoyaltyRules {
    /// The version the cloud published these rules under (1, 2, ...); a till's sale names the
    /// version it applied. 0 in rules that were never published.
    #[serde(default)]
    pub version: i64,
    /// Spend (minor units) that earns one point at the base rate.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub earn_minor_per_point: i64,
    /// What one redeemed point pays, in minor units.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub point_value_minor: i64,
    pub rounding: PointsRounding,
    /// Ascending by `min_spend_minor`; one of them starts at 0.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub tiers: Vec<TierRule>,
    /// SKUs that earn no points (gift cards, deposits, tobacco).
    pub no_earn_skus: Vec<String>,
    pub promotions: Vec<PointsPromotion>,
    /// Points expire this many months after they were earned (0: never).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4_294_967_295_i64))]
    pub expiry_months: u32,
    /// The most points one member may redeem at one till while it is offline, until it syncs.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub offline_member_cap_points: i64,
    /// The points a store's tills may redeem offline between syncs, shared among its tills.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub offline_store_allowance_points: i64,
    /// The calling code of phone numbers typed without one (886 for Taiwan).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 65_535))]
    pub default_calling_code: u16,
}

/// A coupon as a till caches it for its member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CachedCoupon {
    pub id: String,
    /// `welcome`, `birthday` or `campaign`.
    pub kind: String,
    pub title: String,
    /// `percent` (value in basis points) or `amount` (value in minor units).
    pub discount_kind: String,
    pub value: i64,
    /// The least the sale must come to before the coupon applies (minor units).
    pub min_spend_minor: i64,
    pub valid_from_ms: i64,
    pub valid_to_ms: i64,
}

/// A member as a till caches it. No phone number, e-mail or card number in the clear: the card
/// look-up key is HMAC-SHA-256 under the brand's member key, hex, and display values are
/// masked. The brand-wide feed sends no phone or e-mail hash (`None`): those are memory-hard
/// hashes a store's tills get only for members who shop there (`MemberLookupKeys`), and the
/// answer to a till's online look-up carries them for the member it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CachedMember {
    pub id: String,
    pub card_hash: String,
    pub phone_hash: Option<String>,
    pub email_hash: Option<String>,
    /// "••••5678".
    pub phone_masked: Option<String>,
    /// "m•••@example.com".
    pub email_masked: Option<String>,
    pub name: String,
    pub tier: String,
    /// The sum of the member's points entries when this change was written.
    pub balance: i64,
    /// Coupons the member can still use.
    pub coupons: Vec<CachedCoupon>,
}

/// A member's phone and e-mail look-up hashes for one store's tills (argon2id,
/// `omnitill_core::lookup_keys`): sent for members who shop at the store or were looked up
/// there, and sent again with both `None` when the store no longer keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLookupKeys {
    pub member_id: String,
    pub phone_hash: Option<String>,
    pub email_hash: Option<String>,
}

/// The brand's keys a till needs to look members up and check their QR codes offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberKeys {
    /// The HMAC key of look-up hashes, hex.
    pub member_key_hex: String,
    /// The Ed25519 public key that signs member QR tokens, hex.
    pub qr_public_key_hex: String,
}

/// How a redemption was authorised at the till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authorisation {
    /// Reserved at the cloud before the sale completed (keyed by the sale id).
    Online,
    /// Granted by the till alone, within its offline bounds.
    Offline,
}

/// The member part of a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleMember {
    pub member_id: String,
    /// The tier the till applied.
    pub tier: String,
    pub tier_discount_minor: i64,
    /// Points the receipt promised.
    pub points_earned: i64,
    pub points_redeemed: i64,
    /// Present when points were redeemed.
    pub redemption: Option<Authorisation>,
    /// A coupon used on the sale.
    pub coupon: Option<SaleCoupon>,
    /// The spend that counts toward the member's tier (minor units).
    pub spend_minor: i64,
    /// The version of the loyalty rules the till earned points by (absent from tills that
    /// predate versions: the cloud's current rules apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleCoupon {
    pub coupon_id: String,
    pub discount_minor: i64,
    pub authorisation: Authorisation,
}

/// The member part of a refund: what it takes back and gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundMember {
    pub member_id: String,
    /// Earned points the refund reverses.
    pub points_reversed: i64,
    /// Redeemed points the refund restores.
    pub points_restored: i64,
    pub spend_minor: i64,
}

/// A conflict the cloud found while applying operations, for a store's review list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictNotice {
    pub id: String,
    /// `overdraft`, `coupon_double_use` or `merged_enrolment`.
    pub conflict: String,
    pub member_id: String,
    /// What happened, in words a manager understands.
    pub summary: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// A till's offline redemption allowance: points it may redeem offline in all, counted from
/// its enrolment. What is left is `granted_points - used_points - ` the offline redemptions
/// the till has not yet had applied. The cloud raises `granted_points` at each pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Allowance {
    pub granted_points: i64,
    /// Offline redemptions of this till the cloud has applied (up to the write checkpoint).
    pub used_points: i64,
}

/// A till asking the cloud for a member its cache does not hold. A till sends the normalised
/// key it was given (`key`) over its authenticated link: the cloud keeps members' keys in the
/// clear and finds them by index. A till of an earlier version sends only the keyed `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberLookupRequest {
    /// `phone`, `email` or `card`.
    #[cfg_attr(feature = "openapi", schema(value_type = LookupKind))]
    pub kind: String,
    /// The keyed hash (HMAC-SHA-256, 32 hex digits) an earlier till sends; empty from a till
    /// that sends `key`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 32, pattern = "^([0-9A-Fa-f]{32})?$")
    )]
    pub hash: String,
    /// The normalised phone (E.164), e-mail or card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The kinds of look-up key, as the document states them (`MemberLookupRequest::kind`).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LookupKind {
    Phone,
    Email,
    Card,
}

/// A till's online reservation of points for the sale it is completing (the sale id is the
/// key: asking again answers the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldRequest {
    #[cfg_attr(feature = "openapi", schema(format = "uuid"))]
    pub sale_id: String,
    pub member_id: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000_000))]
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Held {
    /// The member the points were held for (the survivor, if the id was merged).
    pub member_id: String,
    pub points: i64,
    /// The member's balance less every live hold, this one included.
    pub available_after: i64,
}

/// A till reserving a member's coupon for the sale it is completing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CouponHoldRequest {
    pub coupon_id: String,
    pub sale_id: String,
}

/// One line of a member's history: a points entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub kind: String,
    pub points: i64,
    /// `online` or the store's code.
    pub channel: String,
    pub ref_id: Option<String>,
    pub at_ms: i64,
    /// Why, in words, for an adjustment or an expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A purchase or refund that counted toward the tier, in either channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Purchase {
    pub reference: String,
    pub channel: String,
    pub spend_minor: i64,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    pub member_id: String,
    pub balance: i64,
    pub points: Vec<HistoryEntry>,
    pub purchases: Vec<Purchase>,
}

/// A product a member saved in the e-shop, with its price when they saved it (to tell them
/// when it is cheaper).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Favourite {
    pub sku: String,
    pub saved_at_ms: i64,
    /// The product's price in minor units when it was saved, if it had one.
    pub price_at_save_minor: Option<i64>,
}

/// A product a member looked at in the e-shop, and when they last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Viewed {
    pub sku: String,
    pub viewed_at_ms: i64,
}

/// What a member keeps and looks at in the e-shop, for the shop floor: their favourites, newest
/// first, and the products they viewed most recently. A store's tills get it for the members
/// whose look-up keys they keep; both lists empty withdraws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberInterests {
    pub member_id: String,
    pub favourites: Vec<Favourite>,
    pub viewed: Vec<Viewed>,
}
