//! Membership rules both channels share: normalising look-up keys, member card numbers, keyed
//! look-up hashes, signed QR tokens, points earned, tiers and the offline redemption bound.
//!
//! Everything here is pure: no store, no clock of its own (times are passed in). The till uses it
//! at checkout and the cloud uses it for e-shop orders, so a member earns by one rule anywhere.
//!
//! - Phone numbers are normalised to E.164 (`+886912345678`). A number typed without a country
//!   code takes the store's (`default_calling_code`); a national trunk `0` is dropped.
//! - E-mails are trimmed and lower-cased, and must look like `local@domain.tld`.
//! - Member cards are EAN-13 numbers in the in-store range `29…`, so the scan field tells a card
//!   from a product by its prefix, and a mistyped digit fails the check digit.
//! - Card look-up hashes are HMAC-SHA-256 under the brand's member key, hex. Phone and e-mail
//!   look-up hashes are memory-hard (`lookup_keys`): a till keeps no phone book, only hashes it
//!   can match a typed key against, each guess costing milliseconds.
//! - QR tokens are `OMQ1.<member id>.<expires, Unix s>.<Ed25519 signature, hex>`, signed by the
//!   cloud; a till checks them offline with the brand's public key. They expire within minutes.
//! - Points: eligible spend (lines that earn, less what points paid) / `earn_minor_per_point`,
//!   times the tier's multiplier and the best promotion running, rounded by the brand's rule.
//! - Offline redemption is bounded by the least of the member's confirmed balance less this
//!   till's pending redemptions, the per-member offline cap less this till's pending offline
//!   redemptions for the member, and this till's remaining allowance (DESIGN.md).
//!
//! Layout: `identifiers` names a member (keys, cards, QR tokens); this file holds the points
//! rules.

mod identifiers;
#[cfg(test)]
mod tests;

pub use identifiers::*;

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::{LoyaltyRules, PointsRounding, TierRule};

use crate::money::Minor;

/// The tier `spend_minor` over the last 12 months reaches (the lowest if the rules have no
/// tier for it).
pub fn tier_for_spend(rules: &LoyaltyRules, spend_minor: i64) -> Option<&TierRule> {
    rules
        .tiers
        .iter()
        .filter(|tier| tier.min_spend_minor <= spend_minor)
        .max_by_key(|tier| tier.min_spend_minor)
        .or_else(|| rules.tiers.iter().min_by_key(|tier| tier.min_spend_minor))
}

/// The rule of a tier by its code.
pub fn tier<'a>(rules: &'a LoyaltyRules, code: &str) -> Option<&'a TierRule> {
    rules.tiers.iter().find(|tier| tier.code == code)
}

/// A line as the earning rule sees it: its SKU and what it finally came to.
#[derive(Debug, Clone, Copy)]
pub struct EarningLine<'a> {
    pub sku: &'a str,
    pub total_minor: Minor,
}

/// Points a purchase earns: eligible spend (lines that earn, less `paid_with_points_minor`),
/// per `earn_minor_per_point`, times the tier's multiplier and the best promotion at `at`,
/// rounded by the brand's rule. Never negative.
pub fn points_earned(
    rules: &LoyaltyRules,
    tier_code: &str,
    lines: &[EarningLine<'_>],
    paid_with_points_minor: Minor,
    at: DateTime<Utc>,
) -> i64 {
    if rules.earn_minor_per_point <= 0 {
        return 0;
    }
    let eligible: i128 = lines
        .iter()
        .filter(|line| !rules.no_earn_skus.iter().any(|sku| sku == line.sku))
        .map(|line| i128::from(line.total_minor.max(0)))
        .sum::<i128>()
        - i128::from(paid_with_points_minor.max(0));
    if eligible <= 0 {
        return 0;
    }
    let tier_pct = i128::from(tier(rules, tier_code).map_or(100, |t| t.multiplier_pct));
    let at_ms = at.timestamp_millis();
    let promo_pct = i128::from(
        rules
            .promotions
            .iter()
            .filter(|p| p.starts_at_ms <= at_ms && at_ms < p.ends_at_ms)
            .map(|p| p.multiplier_pct)
            .max()
            .unwrap_or(100),
    );
    let numerator = eligible * tier_pct * promo_pct;
    let denominator = i128::from(rules.earn_minor_per_point) * 100 * 100;
    let points = match rules.rounding {
        PointsRounding::Floor => numerator / denominator,
        PointsRounding::Nearest => (numerator + denominator / 2) / denominator,
    };
    i64::try_from(points).unwrap_or(i64::MAX)
}

/// What paying with `points` comes to, in minor units.
pub fn points_value(rules: &LoyaltyRules, points: i64) -> Minor {
    points.saturating_mul(rules.point_value_minor)
}

/// The fewest points that pay at least `amount_minor` (what a cashier asks for to pay an
/// amount).
pub fn points_for_amount(rules: &LoyaltyRules, amount_minor: Minor) -> i64 {
    if rules.point_value_minor <= 0 || amount_minor <= 0 {
        return 0;
    }
    (amount_minor + rules.point_value_minor - 1) / rules.point_value_minor
}

/// The most points a payment may take now: no more than what is still due, in whole points of
/// `point_value_minor`, nor the member's balance, nor, offline, the offline bound. The pay
/// dialog offers this; it computes nothing of its own.
pub fn points_usable(
    due_minor: Minor,
    point_value_minor: Minor,
    balance: i64,
    offline_bound: Option<i64>,
) -> i64 {
    if point_value_minor <= 0 || due_minor <= 0 {
        return 0;
    }
    let mut most = (due_minor / point_value_minor).min(balance);
    if let Some(bound) = offline_bound {
        most = most.min(bound);
    }
    most.max(0)
}

/// Which bound limits an offline redemption, for the cashier's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OfflineBound {
    /// The member's confirmed balance, less what this till redeemed and has not synced.
    Balance,
    /// The brand's per-member cap on offline redemption.
    MemberCap,
    /// What is left of this till's offline allowance.
    TillAllowance,
}

/// The most points a till may redeem offline for a member, and which bound sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct OfflineLimit {
    pub points: i64,
    pub bound: OfflineBound,
    pub balance_left: i64,
    pub member_cap_left: i64,
    pub allowance_left: i64,
}

/// What the till knows when it bounds an offline redemption.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineFacts {
    /// The member's balance as of the last sync.
    pub confirmed_balance: i64,
    /// Points this till redeemed for the member (online or offline) not yet in that balance.
    pub pending_redeemed: i64,
    /// Points this till redeemed for the member offline and has not synced.
    pub pending_offline_redeemed: i64,
    /// The brand's per-member offline cap.
    pub member_cap: i64,
    /// This till's allowance: granted, less used as the cloud counted it, less this till's
    /// offline redemptions (for any member) not yet counted.
    pub allowance_left: i64,
}

/// The offline redemption bound of DESIGN.md: the least of the three, never below zero. On a
/// tie the bound reported is the first of balance, member cap, allowance.
pub fn offline_limit(facts: OfflineFacts) -> OfflineLimit {
    let balance_left = (facts.confirmed_balance - facts.pending_redeemed).max(0);
    let member_cap_left = (facts.member_cap - facts.pending_offline_redeemed).max(0);
    let allowance_left = facts.allowance_left.max(0);
    let (points, bound) = [
        (balance_left, OfflineBound::Balance),
        (member_cap_left, OfflineBound::MemberCap),
        (allowance_left, OfflineBound::TillAllowance),
    ]
    .into_iter()
    .fold((i64::MAX, OfflineBound::Balance), |best, next| {
        if next.0 < best.0 { next } else { best }
    });
    OfflineLimit {
        points,
        bound,
        balance_left,
        member_cap_left,
        allowance_left,
    }
}

/// The brand's rules when the cloud has not sent any yet: no earning, no redemption offline.
pub fn no_rules() -> LoyaltyRules {
    LoyaltyRules {
        version: 0,
        earn_minor_per_point: 0,
        point_value_minor: 0,
        rounding: PointsRounding::Floor,
        tiers: Vec::new(),
        no_earn_skus: Vec::new(),
        promotions: Vec::new(),
        expiry_months: 0,
        offline_member_cap_points: 0,
        offline_store_allowance_points: 0,
        default_calling_code: 886,
    }
}
