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

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::{
    Allowance, Authorisation, CachedCoupon, CachedMember, ConflictNotice, LoyaltyRules, MemberKeys,
    MemberLookupKeys, RefundMember, SaleCoupon, SaleMember,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::cart::{Cart, CartTotals, Tender};
use crate::error::{CoreError, CoreResult};
use crate::lookup_keys;
use crate::loyalty::{self, KeyKind, OfflineFacts};
use crate::money::{self, Minor};
use crate::outbox;
use crate::receipt::{ReceiptMember, TenderKind};

/// A member as the cashier sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Stores the brand's keys from the feed.
pub fn apply_keys(conn: &Connection, keys: &MemberKeys) -> CoreResult<()> {
    if loyalty::unhex(&keys.member_key_hex).is_none()
        || loyalty::unhex(&keys.qr_public_key_hex).is_none()
    {
        return Err(CoreError::BadInput(
            "the cloud sent member keys that are not hex".to_owned(),
        ));
    }
    conn.execute(
        "INSERT INTO member_keys (id, member_key_hex, qr_public_key_hex) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET member_key_hex = excluded.member_key_hex,
             qr_public_key_hex = excluded.qr_public_key_hex",
        params![keys.member_key_hex, keys.qr_public_key_hex],
    )?;
    Ok(())
}

/// Stores the brand's loyalty rules from the feed.
pub fn apply_rules(conn: &Connection, rules: &LoyaltyRules) -> CoreResult<()> {
    let text = serde_json::to_string(rules)
        .map_err(|e| CoreError::BadInput(format!("loyalty rules cannot be stored: {e}")))?;
    conn.execute(
        "INSERT INTO loyalty_rules (id, rules) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET rules = excluded.rules",
        [text],
    )?;
    Ok(())
}

/// Caches a member from the feed. `as_of_seq` is the page's write checkpoint: the balance
/// includes this till's operations up to it, so its pending entries up to it are dropped.
/// Phone and e-mail hashes in `member` are ignored: the old fast hashes are never stored, and
/// the memory-hard ones come with `apply_lookup_keys`.
pub fn apply_member(
    conn: &Connection,
    member: &CachedMember,
    as_of_seq: i64,
    now_ms: i64,
) -> CoreResult<()> {
    let coupons = serde_json::to_string(&member.coupons)
        .map_err(|e| CoreError::BadInput(format!("a member's coupons cannot be stored: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO member (id, card_hash, phone_hash, email_hash, phone_masked, email_masked,
             name, tier, balance, as_of_seq, synced_at, coupons, local_only)
         VALUES (?1, ?2, NULL, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)
         ON CONFLICT (id) DO UPDATE SET card_hash = excluded.card_hash,
             phone_hash = NULL, email_hash = NULL,
             phone_masked = excluded.phone_masked, email_masked = excluded.email_masked,
             name = excluded.name, tier = excluded.tier, balance = excluded.balance,
             as_of_seq = excluded.as_of_seq, synced_at = excluded.synced_at,
             coupons = excluded.coupons, local_only = 0",
    )?
    .execute(params![
        member.id,
        member.card_hash,
        member.phone_masked,
        member.email_masked,
        member.name,
        member.tier,
        member.balance,
        as_of_seq,
        now_ms,
        coupons,
    ])?;
    conn.prepare_cached("DELETE FROM member_points_pending WHERE member_id = ?1 AND op_seq <= ?2")?
        .execute(params![member.id, as_of_seq])?;
    conn.prepare_cached("DELETE FROM coupon_use_pending WHERE member_id = ?1 AND op_seq <= ?2")?
        .execute(params![member.id, as_of_seq])?;
    Ok(())
}

/// Stores a member's memory-hard phone and e-mail hashes for look-up at this store, or (both
/// `None`) forgets them: the member is then found online or by card. Hashes that are not 32
/// hex digits are refused.
pub fn apply_lookup_keys(conn: &Connection, keys: &MemberLookupKeys) -> CoreResult<()> {
    let well_formed = |hash: &Option<String>| {
        hash.as_deref().is_none_or(|h| {
            h.len() == 2 * lookup_keys::HASH_BYTES && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    if !well_formed(&keys.phone_hash) || !well_formed(&keys.email_hash) {
        return Err(CoreError::BadInput(format!(
            "the cloud sent look-up hashes for member {} that are not 32 hex digits",
            keys.member_id
        )));
    }
    if keys.phone_hash.is_none() && keys.email_hash.is_none() {
        conn.prepare_cached("DELETE FROM member_lookup WHERE member_id = ?1")?
            .execute([&keys.member_id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO member_lookup (member_id, phone_hash, email_hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (member_id) DO UPDATE SET phone_hash = excluded.phone_hash,
             email_hash = excluded.email_hash",
    )?
    .execute(params![keys.member_id, keys.phone_hash, keys.email_hash])?;
    Ok(())
}

/// Members whose phone or e-mail this till can look up offline.
pub fn keyed_count(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM member_lookup", [], |row| row.get(0))?)
}

/// Forgets a member the cloud merged into another or erased. Entries this till has not had
/// confirmed follow the surviving member.
pub fn apply_member_gone(conn: &Connection, id: &str, merged_into: Option<&str>) -> CoreResult<()> {
    conn.execute("DELETE FROM member WHERE id = ?1", [id])?;
    conn.execute("DELETE FROM member_lookup WHERE member_id = ?1", [id])?;
    if let Some(survivor) = merged_into {
        conn.execute(
            "UPDATE member_points_pending SET member_id = ?2 WHERE member_id = ?1",
            params![id, survivor],
        )?;
        conn.execute(
            "UPDATE coupon_use_pending SET member_id = ?2 WHERE member_id = ?1",
            params![id, survivor],
        )?;
    }
    Ok(())
}

/// Records a conflict (or its resolution) from the feed for the review list.
pub fn apply_conflict(conn: &Connection, notice: &ConflictNotice) -> CoreResult<()> {
    conn.execute(
        "INSERT INTO member_conflict (id, conflict, member_id, summary, created_at, resolved_at,
             note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET summary = excluded.summary,
             resolved_at = COALESCE(excluded.resolved_at, member_conflict.resolved_at),
             note = COALESCE(excluded.note, member_conflict.note)",
        params![
            notice.id,
            notice.conflict,
            notice.member_id,
            notice.summary,
            notice.created_at_ms,
            notice.resolved_at_ms,
            notice.note,
        ],
    )?;
    Ok(())
}

/// Records this till's allowance as of the page's write checkpoint.
pub fn apply_allowance(conn: &Connection, allowance: &Allowance, as_of_seq: i64) -> CoreResult<()> {
    conn.execute(
        "UPDATE sync_state SET allowance_granted = ?1, allowance_used = ?2,
             allowance_as_of_seq = ?3
         WHERE id = 1",
        params![allowance.granted_points, allowance.used_points, as_of_seq],
    )?;
    Ok(())
}

/// Whether a pull page's allowance differs from the one stored (a page that changes nothing
/// else must still record it).
pub fn allowance_changed(conn: &Connection, allowance: Option<&Allowance>) -> CoreResult<bool> {
    let Some(allowance) = allowance else {
        return Ok(false);
    };
    let stored: Option<(i64, i64)> = conn
        .prepare_cached("SELECT allowance_granted, allowance_used FROM sync_state WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(stored != Some((allowance.granted_points, allowance.used_points)))
}

/// Members in the cache.
pub fn cached_count(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM member", [], |row| row.get(0))?)
}

/// Writes the member part of a completed sale inside its transaction and returns the member
/// block of its operation: points earned by the brand's rules, points redeemed (an offline
/// redemption checked against the offline bound once more), the coupon used, and this till's
/// pending entries for the balance it shows. `None` when the cart has no member.
pub(crate) fn record_sale(
    tx: &Connection,
    cart: &Cart,
    totals: &CartTotals,
    sale_id: &str,
    op_seq: i64,
    now: DateTime<Utc>,
) -> CoreResult<Option<SaleMember>> {
    let Some(member) = cart.member() else {
        return Ok(None);
    };
    let rules = rules(tx)?;
    let points_tenders: Vec<&Tender> = cart
        .tenders()
        .iter()
        .filter(|t| t.kind == TenderKind::Points)
        .collect();
    let points_redeemed: i64 = points_tenders.iter().map(|t| t.points).sum();
    let paid_with_points: Minor = points_tenders.iter().map(|t| t.amount_minor).sum();
    let online = !points_tenders.is_empty() && points_tenders.iter().all(|t| t.reserved_online);
    if points_redeemed > 0 && !online {
        let limit = loyalty::offline_limit(offline_facts(tx, &member.member_id)?);
        if points_redeemed > limit.points {
            return Err(CoreError::OfflinePointsLimit(offline_limit_message(
                &limit,
                points_redeemed,
            )));
        }
    }
    let lines: Vec<loyalty::EarningLine> = cart
        .lines()
        .iter()
        .zip(&totals.lines)
        .map(|(line, figures)| loyalty::EarningLine {
            sku: &line.item.sku,
            total_minor: figures.total_minor,
        })
        .collect();
    let points_earned = loyalty::points_earned(&rules, &member.tier, &lines, paid_with_points, now);
    let mut insert = tx.prepare_cached(
        "INSERT INTO member_points_pending (op_seq, member_id, kind, points, offline)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    if points_earned > 0 {
        insert.execute(params![
            op_seq,
            member.member_id,
            "earn",
            points_earned,
            false
        ])?;
    }
    if points_redeemed > 0 {
        insert.execute(params![
            op_seq,
            member.member_id,
            "redeem",
            -points_redeemed,
            !online
        ])?;
    }
    if let Some(coupon) = cart.coupon() {
        tx.prepare_cached(
            "INSERT INTO coupon_use_pending (coupon_id, op_seq, member_id, offline)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            coupon.coupon_id,
            op_seq,
            member.member_id,
            !coupon.reserved_online
        ])?;
    }
    let balance_after = view(tx, &member.member_id)?.map_or(0, |m| m.balance);
    let balance_pending = points_earned > 0 || points_redeemed > 0 || balance_after != 0;
    tx.prepare_cached(
        "INSERT INTO sale_member (sale_id, member_id, member_name, tier, tier_discount_minor,
             points_earned, points_redeemed, redemption, coupon_id, coupon_title,
             coupon_discount_minor, balance_after, balance_pending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        sale_id,
        member.member_id,
        member.name,
        member.tier,
        totals.tier_discount_minor,
        points_earned,
        points_redeemed,
        (points_redeemed > 0).then_some(if online { "online" } else { "offline" }),
        cart.coupon().map(|c| c.coupon_id.as_str()),
        cart.coupon().map(|c| c.title.as_str()),
        totals.coupon_discount_minor,
        balance_after,
        balance_pending,
    ])?;
    let authorisation = |reserved: bool| {
        if reserved {
            Authorisation::Online
        } else {
            Authorisation::Offline
        }
    };
    Ok(Some(SaleMember {
        member_id: member.member_id.clone(),
        tier: member.tier.clone(),
        tier_discount_minor: totals.tier_discount_minor,
        points_earned,
        points_redeemed,
        redemption: (points_redeemed > 0).then_some(authorisation(online)),
        coupon: cart.coupon().map(|c| SaleCoupon {
            coupon_id: c.coupon_id.clone(),
            discount_minor: totals.coupon_discount_minor,
            authorisation: authorisation(c.reserved_online),
        }),
        spend_minor: (totals.total_minor + totals.rounding_minor - paid_with_points).max(0),
        rules_version: (rules.version > 0).then_some(rules.version),
    }))
}

/// The cashier's words for an offline redemption past its bound.
pub fn offline_limit_message(limit: &loyalty::OfflineLimit, asked: i64) -> String {
    let why = match limit.bound {
        loyalty::OfflineBound::Balance => format!(
            "the member's balance as of the last sync, less what this till redeemed since, is {}",
            limit.balance_left
        ),
        loyalty::OfflineBound::MemberCap => format!(
            "while offline a member may redeem at most {} more points at this till",
            limit.member_cap_left
        ),
        loyalty::OfflineBound::TillAllowance => format!(
            "this till's offline allowance has {} points left until it syncs",
            limit.allowance_left
        ),
    };
    format!(
        "Offline, at most {} points can be redeemed, not {asked}: {why}",
        limit.points
    )
}

/// The member part of a refund of a member's sale, written inside the refund's transaction:
/// points earned on the refunded share taken back, points redeemed on it given back.
/// `before`/`after` are the sale's refunded line totals before and after this refund, of
/// `sold` in all; `restored` the points going back to points tenders.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_refund(
    tx: &Connection,
    sale_id: &str,
    refund_id: &str,
    op_seq: i64,
    before: Minor,
    after: Minor,
    sold: Minor,
    restored: i64,
) -> CoreResult<Option<RefundMember>> {
    let row: Option<(String, String, i64)> = tx
        .prepare_cached(
            "SELECT member_id, member_name, points_earned FROM sale_member WHERE sale_id = ?1",
        )?
        .query_row([sale_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((member_id, name, earned)) = row else {
        return Ok(None);
    };
    // A member merged away since the sale: entries follow the survivor the feed named.
    let reversed = if sold > 0 {
        money::pro_rata_floor(earned, after, sold) - money::pro_rata_floor(earned, before, sold)
    } else {
        0
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO member_points_pending (op_seq, member_id, kind, points, offline)
         VALUES (?1, ?2, ?3, ?4, 0)",
    )?;
    if reversed > 0 {
        insert.execute(params![op_seq, member_id, "reverse", -reversed])?;
    }
    if restored > 0 {
        insert.execute(params![op_seq, member_id, "restore", restored])?;
    }
    let balance_after = view(tx, &member_id)?.map_or(0, |m| m.balance);
    tx.prepare_cached(
        "INSERT INTO refund_member (refund_id, member_id, member_name, points_reversed,
             points_restored, balance_after, balance_pending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
    )?
    .execute(params![
        refund_id,
        member_id,
        name,
        reversed,
        restored,
        balance_after
    ])?;
    Ok(Some(RefundMember {
        member_id,
        points_reversed: reversed,
        points_restored: restored,
        spend_minor: after - before,
    }))
}

/// The member part of a sale's receipt.
pub(crate) fn sale_receipt_member(
    conn: &Connection,
    sale_id: &str,
) -> CoreResult<Option<ReceiptMember>> {
    type Row = (
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        i64,
        i64,
        bool,
    );
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT member_name, tier, tier_discount_minor, points_earned, points_redeemed,
                    coupon_title, coupon_discount_minor, balance_after, balance_pending
             FROM sale_member WHERE sale_id = ?1",
        )?
        .query_row([sale_id], |row| {
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
        tier_discount,
        earned,
        redeemed,
        coupon_title,
        coupon_discount,
        balance,
        pending,
    )) = row
    else {
        return Ok(None);
    };
    let rules = rules(conn)?;
    let tier_name = loyalty::tier(&rules, &tier).map_or(tier.clone(), |t| t.name.clone());
    Ok(Some(ReceiptMember {
        name,
        tier_name,
        points_earned: earned,
        points_redeemed: redeemed,
        balance_after: balance,
        balance_pending: pending,
        tier_discount_minor: tier_discount,
        coupon_title,
        coupon_discount_minor: coupon_discount,
    }))
}

/// The member part of a refund's receipt.
pub(crate) fn refund_receipt_member(
    conn: &Connection,
    refund_id: &str,
) -> CoreResult<Option<ReceiptMember>> {
    let row: Option<(String, i64, i64, i64, bool)> = conn
        .prepare_cached(
            "SELECT member_name, points_reversed, points_restored, balance_after, balance_pending
             FROM refund_member WHERE refund_id = ?1",
        )?
        .query_row([refund_id], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()?;
    Ok(row.map(
        |(name, reversed, restored, balance, pending)| ReceiptMember {
            name,
            tier_name: String::new(),
            points_earned: reversed,
            points_redeemed: restored,
            balance_after: balance,
            balance_pending: pending,
            tier_discount_minor: 0,
            coupon_title: None,
            coupon_discount_minor: 0,
        },
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use omnitill_protocol::enrol::EnrolResponse;
    use ring::signature::{self, KeyPair};

    use super::*;
    use crate::loyalty::OfflineBound;

    const MEMBER_KEY: &str = "6d656d6265722d6b6579";

    struct Fixture {
        _dir: tempfile::TempDir,
        conn: Connection,
        qr: signature::Ed25519KeyPair,
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, 0)
            .single()
            .expect("a valid time")
    }

    fn member(id: &str, phone: &str, email: &str, card: &str, balance: i64) -> CachedMember {
        let key = loyalty::unhex(MEMBER_KEY).expect("hex");
        CachedMember {
            id: id.into(),
            card_hash: loyalty::lookup_hash(&key, KeyKind::Card, card),
            phone_hash: Some(loyalty::lookup_hash(&key, KeyKind::Phone, phone)),
            email_hash: Some(loyalty::lookup_hash(&key, KeyKind::Email, email)),
            phone_masked: Some(loyalty::mask_phone(phone)),
            email_masked: Some(loyalty::mask_email(email)),
            name: "林美玲 Mei-ling 🌸".into(),
            tier: "gold".into(),
            balance,
            coupons: vec![CachedCoupon {
                id: "coupon-1".into(),
                kind: "birthday".into(),
                title: "Birthday 10 %".into(),
                discount_kind: "percent".into(),
                value: 1_000,
                min_spend_minor: 0,
                valid_from_ms: 0,
                valid_to_ms: i64::MAX,
            }],
        }
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut conn =
            crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a new ledger");
        conn.execute(
            "INSERT INTO device (id, device_id, receipt_prefix, created_at) VALUES (1, 'd', 'X', 0)",
            [],
        )
        .expect("a device");
        let enrolment = EnrolResponse {
            device_id: "device".into(),
            store_id: "store".into(),
            store_name: "Store".into(),
            token: "token".into(),
            receipt_prefix: "AB12".into(),
        };
        crate::sync::record_enrolment(&mut conn, "http://127.0.0.1:1", &enrolment, at(0))
            .expect("an enrolment");
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
        let qr = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair");
        apply_keys(
            &conn,
            &MemberKeys {
                member_key_hex: MEMBER_KEY.into(),
                qr_public_key_hex: loyalty::hex(qr.public_key().as_ref()),
            },
        )
        .expect("keys");
        let mut rules = loyalty::no_rules();
        rules.offline_member_cap_points = 500;
        rules.tiers = vec![omnitill_protocol::loyalty::TierRule {
            code: "gold".into(),
            name: "Gold".into(),
            min_spend_minor: 0,
            multiplier_pct: 150,
            discount_bp: 500,
        }];
        apply_rules(&conn, &rules).expect("rules");
        apply_member(
            &conn,
            &member(
                "m-1",
                "+886912345678",
                "mei@example.com",
                &loyalty::card_number(7),
                1_000,
            ),
            0,
            at(0).timestamp_millis(),
        )
        .expect("a member");
        let key = loyalty::unhex(MEMBER_KEY).expect("hex");
        apply_lookup_keys(
            &conn,
            &MemberLookupKeys {
                member_id: "m-1".into(),
                phone_hash: Some(
                    lookup_keys::key_hash(&key, KeyKind::Phone, "+886912345678").expect("hash"),
                ),
                email_hash: Some(
                    lookup_keys::key_hash(&key, KeyKind::Email, "mei@example.com").expect("hash"),
                ),
            },
        )
        .expect("the member's look-up keys");
        Fixture {
            _dir: dir,
            conn,
            qr,
        }
    }

    /// An outbox operation to hang pending entries on.
    fn operation(conn: &Connection, seq: i64) {
        conn.execute(
            "INSERT INTO outbox (seq, op_id, op_type, payload, created_at)
             VALUES (?1, ?2, 'sale.completed.v2', '{}', 0)",
            params![seq, format!("op-{seq}")],
        )
        .expect("an operation");
    }

    fn pending(conn: &Connection, seq: i64, kind: &str, points: i64, offline: bool) {
        operation(conn, seq);
        conn.execute(
            "INSERT INTO member_points_pending (op_seq, member_id, kind, points, offline)
             VALUES (?1, 'm-1', ?2, ?3, ?4)",
            params![seq, kind, points, offline],
        )
        .expect("a pending entry");
    }

    fn found(result: CoreResult<Lookup>, why: &str) -> MemberView {
        match result {
            Ok(Lookup::Found(member)) => *member,
            other => panic!("{why}: {other:?}"),
        }
    }

    #[test]
    fn a_member_is_found_by_phone_e_mail_card_or_qr_however_it_is_typed() {
        let f = fixture();
        let card = loyalty::card_number(7);
        let qr = loyalty::sign_qr(&f.qr, "m-1", at(5).timestamp());
        for input in [
            "0912-345-678",
            "+886 912 345 678",
            " MEI@Example.com ",
            card.as_str(),
            qr.as_str(),
        ] {
            let member = found(lookup(&f.conn, input, at(1)), input);
            assert_eq!(member.id, "m-1", "{input:?} finds the member");
            assert_eq!(member.phone_masked.as_deref(), Some(loyalty::PHONE_MASK));
            assert_eq!(member.tier_name, "Gold");
            assert_eq!(member.tier_discount_bp, 500);
            assert_eq!(member.coupons.len(), 1, "the member's coupon shows");
        }
        assert!(
            matches!(
                lookup(&f.conn, "0987 654 321", at(1)),
                Ok(Lookup::NotCached {
                    kind: KeyKind::Phone,
                    ..
                })
            ),
            "a valid number not in the cache is for the cloud to answer"
        );
    }

    #[test]
    fn a_phone_is_found_only_by_its_memory_hard_hash_and_not_once_the_store_drops_it() {
        let f = fixture();
        let key = loyalty::unhex(MEMBER_KEY).expect("hex");
        // A member change that still carries the old fast hashes (an earlier cloud) stores none.
        let mut old_style = member(
            "m-2",
            "+886911111111",
            "two@example.com",
            "2900000000021",
            0,
        );
        old_style.phone_hash = Some(loyalty::lookup_hash(&key, KeyKind::Phone, "+886911111111"));
        apply_member(&f.conn, &old_style, 0, 0).expect("a member");
        assert!(
            matches!(lookup(&f.conn, "0911111111", at(1)), Ok(Lookup::NotCached { kind: KeyKind::Phone, ref key }) if key == "+886911111111"),
            "a fast keyed hash is never trusted: the member is asked of the cloud by the typed number"
        );
        let stored: Option<String> = f
            .conn
            .query_row("SELECT phone_hash FROM member WHERE id = 'm-2'", [], |r| {
                r.get(0)
            })
            .expect("the row");
        assert_eq!(stored, None, "the old fast hash is not stored");
        apply_lookup_keys(
            &f.conn,
            &MemberLookupKeys {
                member_id: "m-1".into(),
                phone_hash: None,
                email_hash: None,
            },
        )
        .expect("withdrawn");
        assert!(
            matches!(
                lookup(&f.conn, "0912345678", at(1)),
                Ok(Lookup::NotCached { .. })
            ),
            "a member whose keys the store withdrew is found online, not offline"
        );
        assert!(
            matches!(
                lookup(&f.conn, &loyalty::card_number(7), at(1)),
                Ok(Lookup::Found(_))
            ),
            "the card still finds them offline"
        );
        let bad = MemberLookupKeys {
            member_id: "m-1".into(),
            phone_hash: Some("not hex".into()),
            email_hash: None,
        };
        assert!(
            matches!(
                apply_lookup_keys(&f.conn, &bad),
                Err(CoreError::BadInput(_))
            ),
            "a malformed hash from the feed is refused"
        );
    }

    #[test]
    fn bad_look_ups_are_refused_with_a_message() {
        let f = fixture();
        let expired = loyalty::sign_qr(&f.qr, "m-1", at(5).timestamp());
        let mut wrong_card = loyalty::card_number(7).into_bytes();
        wrong_card[12] = if wrong_card[12] == b'9' {
            b'0'
        } else {
            wrong_card[12] + 1
        };
        let wrong_card = String::from_utf8(wrong_card).expect("digits");
        let cases = [
            ("", "type a phone number"),
            ("mei@", "not an e-mail address"),
            ("09x2", "not a phone number"),
            (wrong_card.as_str(), "check digit"),
            (expired.as_str(), "expired"),
            ("OMQ1.m-1.1.00", "not a member code"),
        ];
        for (input, message) in cases {
            let now = if input == expired { at(30) } else { at(1) };
            match lookup(&f.conn, input, now) {
                Err(CoreError::BadInput(text)) => assert!(
                    text.contains(message),
                    "{input:?}: the message says why ({text})"
                ),
                other => panic!("{input:?} must be refused, not {other:?}"),
            }
        }
    }

    #[test]
    fn before_the_first_sync_a_look_up_says_the_till_has_no_members_yet() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
        assert!(
            matches!(lookup(&conn, "0912345678", at(1)), Err(CoreError::BadInput(m)) if m.contains("not synced")),
            "without the brand's keys nothing can be matched"
        );
    }

    #[test]
    fn the_cache_keeps_no_phone_number_e_mail_or_card_number_in_the_clear() {
        let f = fixture();
        let card = loyalty::card_number(7);
        let dump: Vec<String> = f
            .conn
            .prepare("SELECT quote(id) || quote(card_hash) || quote(phone_hash) || quote(email_hash) || quote(phone_masked) || quote(email_masked) || quote(name) || coupons || (SELECT group_concat(quote(phone_hash) || quote(email_hash)) FROM member_lookup) FROM member")
            .expect("a dump")
            .query_map([], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        let text = dump.join("\n");
        for secret in [
            "912345678",
            "886912345678",
            "mei@example.com",
            card.as_str(),
        ] {
            assert!(
                !text.contains(secret),
                "{secret} must not be stored: {text}"
            );
        }
    }

    #[test]
    fn the_balance_is_the_confirmed_one_plus_this_tills_entries_the_cloud_has_not_counted() {
        let f = fixture();
        pending(&f.conn, 5, "redeem", -300, true);
        pending(&f.conn, 6, "earn", 20, false);
        let seen = view(&f.conn, "m-1").expect("a view").expect("cached");
        assert_eq!(
            (seen.confirmed_balance, seen.pending_points, seen.balance),
            (1_000, -280, 720),
            "both unsynced entries count until the cloud has them"
        );
        // The cloud's balance now includes operation 5 (1,000 - 300), not yet 6.
        apply_member(
            &f.conn,
            &member(
                "m-1",
                "+886912345678",
                "mei@example.com",
                &loyalty::card_number(7),
                700,
            ),
            5,
            at(2).timestamp_millis(),
        )
        .expect("a newer member");
        let seen = view(&f.conn, "m-1").expect("a view").expect("cached");
        assert_eq!(
            (seen.confirmed_balance, seen.pending_points, seen.balance),
            (700, 20, 720),
            "the redemption is counted once, in the confirmed balance"
        );
    }

    #[test]
    fn offline_redemption_is_bounded_by_balance_cap_and_allowance() {
        let f = fixture();
        apply_allowance(
            &f.conn,
            &Allowance {
                granted_points: 2_000,
                used_points: 1_800,
            },
            0,
        )
        .expect("an allowance");
        let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
        assert_eq!(
            (limit.points, limit.bound),
            (200, OfflineBound::TillAllowance),
            "200 of the till's allowance is left"
        );
        pending(&f.conn, 5, "redeem", -150, true);
        let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
        assert_eq!(
            (limit.points, limit.allowance_left, limit.member_cap_left),
            (50, 50, 350),
            "an offline redemption uses the allowance and the member's cap"
        );
        apply_allowance(
            &f.conn,
            &Allowance {
                granted_points: 12_000,
                used_points: 1_950,
            },
            5,
        )
        .expect("a topped-up allowance");
        let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
        assert_eq!(
            (limit.points, limit.bound),
            (350, OfflineBound::MemberCap),
            "after a top-up the member's cap binds; the member's pending redemption still counts"
        );
    }

    #[test]
    fn a_merged_member_is_forgotten_and_its_unsynced_entries_follow_the_survivor() {
        let f = fixture();
        pending(&f.conn, 5, "earn", 40, false);
        apply_member(
            &f.conn,
            &member(
                "m-2",
                "+886900000001",
                "other@example.com",
                &loyalty::card_number(8),
                10,
            ),
            0,
            0,
        )
        .expect("a second member");
        apply_member_gone(&f.conn, "m-1", Some("m-2")).expect("a merge");
        assert!(
            view(&f.conn, "m-1").expect("a view").is_none(),
            "m-1 is gone"
        );
        let survivor = view(&f.conn, "m-2").expect("a view").expect("cached");
        assert_eq!(
            survivor.balance, 50,
            "the entry moved to the surviving member"
        );
    }
}

/// What the cashier enters to enrol a new member at the till.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Enrolment {
    /// The member's name, in any script.
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `YYYY-MM-DD`, optional.
    pub birthday: Option<String>,
    /// The member agreed to the membership terms (required).
    pub consent_terms: bool,
    /// The member agreed to marketing messages (optional).
    pub consent_marketing: bool,
}

/// The longest member name the till accepts, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// An enrolment checked and normalised: what the operation and the cache row carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEnrolment {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<String>,
}

/// Checks an enrolment: a name (any script, emoji included, no control characters), a phone
/// number or an e-mail (normalised), an optional real birthday, and consent to the terms.
pub fn check_enrolment(
    request: &Enrolment,
    default_calling_code: u16,
    today: chrono::NaiveDate,
) -> CoreResult<CheckedEnrolment> {
    let name = request.name.trim();
    if name.is_empty() {
        return Err(CoreError::BadInput("enter the member's name".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CoreError::BadInput(format!(
            "a name can have at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::BadInput(
            "a name cannot contain control characters".into(),
        ));
    }
    let filled = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let phone = filled(&request.phone)
        .map(|p| loyalty::normalise_phone(&p, default_calling_code))
        .transpose()?;
    let email = filled(&request.email)
        .map(|e| loyalty::normalise_email(&e))
        .transpose()?;
    if phone.is_none() && email.is_none() {
        return Err(CoreError::BadInput(
            "a phone number or an e-mail is needed to enrol a member".into(),
        ));
    }
    let birthday = filled(&request.birthday)
        .map(|text| {
            let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                CoreError::BadInput(format!(
                    "the birthday {text:?} is not a date like 1990-05-31"
                ))
            })?;
            let earliest = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(date);
            if date > today || date < earliest {
                return Err(CoreError::BadInput(format!(
                    "the birthday {text} is not a possible birthday"
                )));
            }
            Ok(date.format("%Y-%m-%d").to_string())
        })
        .transpose()?;
    if !request.consent_terms {
        return Err(CoreError::BadInput(
            "the member must agree to the membership terms to enrol".into(),
        ));
    }
    Ok(CheckedEnrolment {
        name: name.to_owned(),
        phone,
        email,
        birthday,
    })
}

/// Enrols a member at this till, online or offline, in one transaction: the member in the
/// cache (marked local until the cloud sends them back) and a `member.enrolled` operation.
/// A phone or e-mail this till already knows is refused with the member's name, to attach
/// them instead; one only the cloud knows is merged there, and the feed names the survivor.
#[allow(clippy::too_many_arguments)]
pub(crate) fn enrol(
    conn: &mut Connection,
    request: &Enrolment,
    staff_id: &str,
    member_id: &str,
    op_id: &str,
    now: DateTime<Utc>,
) -> CoreResult<MemberView> {
    let (member_key, _) = keys(conn)?.ok_or_else(no_keys)?;
    let rules = rules(conn)?;
    let checked = check_enrolment(request, rules.default_calling_code, now.date_naive())?;
    let phone_hash = checked
        .phone
        .as_deref()
        .map(|p| lookup_keys::key_hash(&member_key, KeyKind::Phone, p))
        .transpose()?;
    let email_hash = checked
        .email
        .as_deref()
        .map(|e| lookup_keys::key_hash(&member_key, KeyKind::Email, e))
        .transpose()?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .prepare_cached(
            "SELECT m.name FROM member_lookup k JOIN member m ON m.id = k.member_id
             WHERE k.phone_hash = ?1 OR k.email_hash = ?2 LIMIT 1",
        )?
        .query_row(params![phone_hash, email_hash], |row| row.get(0))
        .optional()?;
    if let Some(name) = existing {
        return Err(CoreError::BadInput(format!(
            "{name} is already a member with this phone number or e-mail: attach them instead"
        )));
    }
    let tier = loyalty::tier_for_spend(&rules, 0)
        .map(|t| t.code.clone())
        .unwrap_or_else(|| "member".to_owned());
    let now_ms = now.timestamp_millis();
    tx.prepare_cached(
        "INSERT INTO member (id, card_hash, phone_hash, email_hash, phone_masked, email_masked,
             name, tier, balance, as_of_seq, synced_at, coupons, local_only)
         VALUES (?1, NULL, NULL, NULL, ?2, ?3, ?4, ?5, 0, 0, 0, '[]', 1)",
    )?
    .execute(params![
        member_id,
        checked.phone.as_deref().map(loyalty::mask_phone),
        checked.email.as_deref().map(loyalty::mask_email),
        checked.name,
        tier,
    ])?;
    apply_lookup_keys(
        &tx,
        &MemberLookupKeys {
            member_id: member_id.to_owned(),
            phone_hash,
            email_hash,
        },
    )?;
    let seq = outbox::next_counter(&tx, "outbox")?;
    let op = omnitill_protocol::ops::MemberEnrolled {
        member_id: member_id.to_owned(),
        phone: checked.phone.clone(),
        email: checked.email.clone(),
        name: checked.name.clone(),
        birthday: checked.birthday.clone(),
        consent_terms: request.consent_terms,
        consent_marketing: request.consent_marketing,
        staff_id: staff_id.to_owned(),
        enrolled_at_ms: now_ms,
    };
    outbox::append(
        &tx,
        seq,
        op_id,
        omnitill_protocol::ops::MEMBER_ENROLLED,
        &op,
        now_ms,
    )?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'member.enrolled', ?3)",
        params![now_ms, staff_id, format!("member {member_id} enrolled")],
    )?;
    tx.commit()?;
    view(conn, member_id)?
        .ok_or_else(|| CoreError::NotFound(format!("member {member_id} after enrolment")))
}

/// A member conflict of the manager's review list: an offline overdraft, a coupon used twice,
/// an enrolment merged into an existing member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub id: String,
    /// `overdraft`, `coupon_double_use` or `merged_enrolment`.
    pub conflict: String,
    pub member_id: String,
    /// The member's name, when this till caches them.
    pub member_name: Option<String>,
    pub summary: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// Member conflicts, newest first: those still open, or all of them.
pub fn conflicts(
    conn: &Connection,
    include_resolved: bool,
    limit: usize,
) -> CoreResult<Vec<Conflict>> {
    let mut statement = conn.prepare_cached(
        "SELECT c.id, c.conflict, c.member_id, m.name, c.summary, c.created_at, c.resolved_at,
                c.note
         FROM member_conflict c LEFT JOIN member m ON m.id = c.member_id
         WHERE ?1 OR c.resolved_at IS NULL
         ORDER BY c.created_at DESC, c.id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![include_resolved, limit as i64], |row| {
        Ok(Conflict {
            id: row.get(0)?,
            conflict: row.get(1)?,
            member_id: row.get(2)?,
            member_name: row.get(3)?,
            summary: row.get(4)?,
            created_at_ms: row.get(5)?,
            resolved_at_ms: row.get(6)?,
            note: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Open member conflicts, for the status bar's flag.
pub fn open_conflicts(conn: &Connection) -> CoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM member_conflict WHERE resolved_at IS NULL")?
        .query_row([], |row| row.get(0))?)
}

/// The longest note a manager may write on a resolved conflict, in characters.
pub const MAX_CONFLICT_NOTE_CHARS: usize = 500;

/// A manager marks a member conflict resolved with a note, in one transaction: the row here
/// and a `conflict.resolved` operation, which the cloud applies for every channel.
pub(crate) fn resolve_conflict(
    conn: &mut Connection,
    manager_id: &str,
    conflict_id: &str,
    note: &str,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<Conflict> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_CONFLICT_NOTE_CHARS {
        return Err(CoreError::BadInput(format!(
            "write what was done about it (1 to {MAX_CONFLICT_NOTE_CHARS} characters)"
        )));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let resolved: Option<Option<i64>> = tx
        .prepare_cached("SELECT resolved_at FROM member_conflict WHERE id = ?1")?
        .query_row([conflict_id], |row| row.get(0))
        .optional()?;
    match resolved {
        None => {
            return Err(CoreError::NotFound(format!(
                "member conflict {conflict_id}"
            )));
        }
        Some(Some(_)) => {
            return Err(CoreError::BadInput(
                "this conflict was already resolved".into(),
            ));
        }
        Some(None) => {}
    }
    tx.prepare_cached(
        "UPDATE member_conflict SET resolved_at = ?2, note = ?3, resolved_here = 1 WHERE id = ?1",
    )?
    .execute(params![conflict_id, now_ms, note])?;
    let seq = outbox::next_counter(&tx, "outbox")?;
    let op = omnitill_protocol::ops::ConflictResolved {
        conflict_id: conflict_id.to_owned(),
        note: note.to_owned(),
        resolved_by: manager_id.to_owned(),
        resolved_at_ms: now_ms,
    };
    outbox::append(
        &tx,
        seq,
        op_id,
        omnitill_protocol::ops::CONFLICT_RESOLVED,
        &op,
        now_ms,
    )?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'conflict.resolved', ?3)",
        params![
            now_ms,
            manager_id,
            format!("member conflict {conflict_id}: {note}")
        ],
    )?;
    tx.commit()?;
    conflicts(conn, true, usize::MAX >> 1)?
        .into_iter()
        .find(|c| c.id == conflict_id)
        .ok_or_else(|| CoreError::NotFound(format!("member conflict {conflict_id}")))
}

/// A page bringing at least this many members into an empty cache starts a deferred-index
/// download.
pub const DEFER_INDEXES_FROM: usize = 1_000;

/// The member cache's look-up indexes, as migration 0005 creates them.
const LOOKUP_INDEXES: [(&str, &str); 3] = [
    (
        "member_by_card",
        "CREATE INDEX IF NOT EXISTS member_by_card ON member (card_hash) WHERE card_hash IS NOT NULL",
    ),
    (
        "member_by_phone",
        "CREATE INDEX IF NOT EXISTS member_by_phone ON member (phone_hash) WHERE phone_hash IS NOT NULL",
    ),
    (
        "member_by_email",
        "CREATE INDEX IF NOT EXISTS member_by_email ON member (email_hash) WHERE email_hash IS NOT NULL",
    ),
];

/// At the start of a first download that brings many members (`brought` on this page, into
/// an empty cache), drops the look-up indexes: the hashes are random, so keeping three indexes
/// in step row by row rewrites most of their pages at every page's commit, which is most of a
/// large first download. `build_lookup_indexes` creates them again, sorted, once the download
/// is complete. Runs inside the page's transaction, so a crash leaves either both or neither.
/// Until then a look-up reads the whole (partial) cache: slower, never wrong.
pub(crate) fn defer_lookup_indexes(conn: &Connection, brought: usize) -> CoreResult<()> {
    if brought < DEFER_INDEXES_FROM {
        return Ok(());
    }
    let cached: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM member)")?
        .query_row([], |row| row.get(0))?;
    if cached {
        return Ok(());
    }
    for (name, _) in LOOKUP_INDEXES {
        conn.execute(&format!("DROP INDEX IF EXISTS {name}"), [])?;
    }
    Ok(())
}

/// Creates the look-up indexes a first download deferred; nothing when they exist.
pub(crate) fn build_lookup_indexes(conn: &Connection) -> CoreResult<()> {
    for (_, create) in LOOKUP_INDEXES {
        conn.execute(create, [])?;
    }
    Ok(())
}
