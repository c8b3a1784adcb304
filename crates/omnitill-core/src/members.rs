//! Members at the till: the private member cache the feed fills, look-up by phone, e-mail,
//! card or QR code, and the balance a cashier sees.
//!
//! The cache (migration 0005) holds only what checkout needs. A look-up normalises what was
//! typed or scanned, hashes it (`lookup_keys::key_hash`: the fast keyed hash for a card,
//! memory-hard argon2id for a phone or an e-mail) and finds the hash; a QR token is checked
//! against the brand's public key and names the member id. Phone and e-mail hashes live in
//! `member_lookup` (migration 0006), only for members who shop at this store, were looked up
//! here or were enrolled here; the store-scoped feed keeps that table (`apply_lookup_keys`).
//! A key that is not in the cache comes back as `Lookup::NotCached` with the normalised key,
//! for the shell to ask the cloud when the link is up.
//!
//! The balance shown is the cloud's confirmed balance as of the last sync plus this till's
//! points entries the cloud has not yet included (`member_points_pending` above the member's
//! `as_of_seq`). Writes from the feed are in `apply_*`, called by `sync::apply_pull` inside
//! its transaction.
//!
//! Layout: this file holds look-up and the member view; `cache` the feed's writes, `ledger` a
//! member's part of a sale or refund, `enrolment` a member enrolled here, `conflicts` the
//! review list.

mod cache;
mod conflicts;
mod enrolment;
mod interests;
mod ledger;
#[cfg(test)]
mod tests;

pub use cache::*;
pub use conflicts::*;
pub use enrolment::*;
pub use interests::*;
pub use ledger::*;

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::{CachedCoupon, LoyaltyRules};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{CoreError, CoreResult};
use crate::lookup_keys;
use crate::loyalty::{self, KeyKind, OfflineFacts};

/// A member as the cashier sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub tier_name: String,
    /// The tier's discount on the sale, in basis points.
    pub tier_discount_bp: u32,
    pub phone_masked: Option<String>,
    pub email_masked: Option<String>,
    /// The cloud's balance as of the last sync that brought this member.
    pub confirmed_balance: i64,
    /// When that was (Unix ms).
    pub confirmed_at_ms: i64,
    /// This till's entries not yet in the confirmed balance (signed).
    pub pending_points: i64,
    /// `confirmed_balance + pending_points`.
    pub balance: i64,
    /// Coupons the member can use now (this till's unconfirmed uses hidden).
    pub coupons: Vec<CachedCoupon>,
    /// Enrolled at this till and not yet confirmed by the cloud.
    pub local_only: bool,
}

/// What a look-up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Box<MemberView>),
    /// A valid key that is not in this till's cache: the cloud may know it. `key` is the
    /// normalised phone, e-mail or card number, to ask the cloud with.
    NotCached {
        kind: KeyKind,
        key: String,
    },
}

/// The brand's keys, once the feed has brought them.
pub fn keys(conn: &Connection) -> CoreResult<Option<(Vec<u8>, Vec<u8>)>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT member_key_hex, qr_public_key_hex FROM member_keys WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(member, qr)| Some((loyalty::unhex(&member)?, loyalty::unhex(&qr)?))))
}

/// The brand's loyalty rules, or rules that earn and allow nothing before the feed sent any.
pub fn rules(conn: &Connection) -> CoreResult<LoyaltyRules> {
    let text: Option<String> = conn
        .prepare_cached("SELECT rules FROM loyalty_rules WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(text
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(loyalty::no_rules))
}

fn no_keys() -> CoreError {
    CoreError::BadInput(
        "members cannot be looked up yet: this till has not synced with the cloud".to_owned(),
    )
}

/// Finds a member by what the cashier typed or scanned: a QR token, a card number, an e-mail
/// or a phone number, told apart by their shape.
pub fn lookup(conn: &Connection, input: &str, now: DateTime<Utc>) -> CoreResult<Lookup> {
    let input = input.trim();
    if input.is_empty() {
        return Err(CoreError::BadInput(
            "type a phone number, e-mail or card number, or scan the member's code".to_owned(),
        ));
    }
    let (member_key, qr_key) = keys(conn)?.ok_or_else(no_keys)?;
    if loyalty::looks_like_qr(input) {
        let id = loyalty::verify_qr(&qr_key, input, now)?;
        return match view(conn, &id)? {
            Some(member) => Ok(Lookup::Found(Box::new(member))),
            None => Err(CoreError::NotFound(
                "the member of this QR code (not in this till's member list yet; sync and try again)"
                    .to_owned(),
            )),
        };
    }
    let (kind, normalised) = if input.chars().all(|c| c.is_ascii_digit()) && input.len() == 13 {
        (KeyKind::Card, loyalty::parse_card(input)?)
    } else if input.contains('@') {
        (KeyKind::Email, loyalty::normalise_email(input)?)
    } else {
        let calling_code = rules(conn)?.default_calling_code;
        (
            KeyKind::Phone,
            loyalty::normalise_phone(input, calling_code)?,
        )
    };
    let hash = lookup_keys::key_hash(&member_key, kind, &normalised)?;
    let query = match kind {
        KeyKind::Card => "SELECT id FROM member WHERE card_hash = ?1",
        KeyKind::Email => "SELECT member_id FROM member_lookup WHERE email_hash = ?1",
        KeyKind::Phone => "SELECT member_id FROM member_lookup WHERE phone_hash = ?1",
    };
    let id: Option<String> = conn
        .prepare_cached(query)?
        .query_row([&hash], |row| row.get(0))
        .optional()?;
    let not_cached = || Lookup::NotCached {
        kind,
        key: normalised.clone(),
    };
    match id {
        Some(id) => match view(conn, &id)? {
            Some(member) => Ok(Lookup::Found(Box::new(member))),
            None => Ok(not_cached()),
        },
        None => Ok(not_cached()),
    }
}

/// A cached member as the cashier sees them, or `None` if the cache does not hold the id.
pub fn view(conn: &Connection, id: &str) -> CoreResult<Option<MemberView>> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        String,
        bool,
    );
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT name, tier, phone_masked, email_masked, balance, as_of_seq, synced_at, coupons,
                    local_only
             FROM member WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
            ))
        })
        .optional()?;
    let Some((
        name,
        tier,
        phone_masked,
        email_masked,
        balance,
        as_of_seq,
        synced_at,
        coupons,
        local_only,
    )) = row
    else {
        return Ok(None);
    };
    let pending_points: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(points), 0) FROM member_points_pending
             WHERE member_id = ?1 AND op_seq > ?2",
        )?
        .query_row(params![id, as_of_seq], |row| row.get(0))?;
    let used_here: Vec<String> = conn
        .prepare_cached("SELECT coupon_id FROM coupon_use_pending WHERE member_id = ?1")?
        .query_map([id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let coupons: Vec<CachedCoupon> = serde_json::from_str::<Vec<CachedCoupon>>(&coupons)
        .unwrap_or_default()
        .into_iter()
        .filter(|coupon| !used_here.contains(&coupon.id))
        .collect();
    let rules = rules(conn)?;
    let tier_rule = loyalty::tier(&rules, &tier);
    Ok(Some(MemberView {
        id: id.to_owned(),
        name,
        tier_name: tier_rule.map_or_else(|| tier.clone(), |t| t.name.clone()),
        tier_discount_bp: tier_rule.map_or(0, |t| t.discount_bp),
        tier,
        phone_masked,
        email_masked,
        confirmed_balance: balance,
        confirmed_at_ms: synced_at,
        pending_points,
        balance: balance + pending_points,
        coupons,
        local_only,
    }))
}

/// What bounds an offline redemption for `member_id` at this till (see
/// `loyalty::offline_limit`).
pub fn offline_facts(conn: &Connection, member_id: &str) -> CoreResult<OfflineFacts> {
    let member =
        view(conn, member_id)?.ok_or_else(|| CoreError::NotFound(format!("member {member_id}")))?;
    let (pending_redeemed, pending_offline_redeemed): (i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(-SUM(p.points), 0),
                    COALESCE(-SUM(CASE WHEN p.offline = 1 THEN p.points END), 0)
             FROM member_points_pending p JOIN member m ON m.id = p.member_id
             WHERE p.member_id = ?1 AND p.kind = 'redeem' AND p.op_seq > m.as_of_seq",
        )?
        .query_row([member_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(OfflineFacts {
        confirmed_balance: member.confirmed_balance,
        pending_redeemed,
        pending_offline_redeemed,
        member_cap: rules(conn)?.offline_member_cap_points,
        allowance_left: allowance_left(conn)?,
    })
}

/// What is left of this till's offline allowance: granted, less what the cloud counted as
/// used, less this till's offline redemptions the cloud had not applied at that count.
pub fn allowance_left(conn: &Connection) -> CoreResult<i64> {
    let state: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT allowance_granted, allowance_used, allowance_as_of_seq
             FROM sync_state WHERE id = 1",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((granted, used, as_of_seq)) = state else {
        return Ok(0);
    };
    let pending: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(-SUM(points), 0) FROM member_points_pending
             WHERE kind = 'redeem' AND offline = 1 AND op_seq > ?1",
        )?
        .query_row([as_of_seq], |row| row.get(0))?;
    Ok(granted - used - pending)
}
