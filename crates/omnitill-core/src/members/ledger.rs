//! A member's part of a sale or refund in the ledger: the points entries and coupon uses the
//! till records with it (inside the sale's transaction), the offline limit's message, and the
//! member lines of its receipt.

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::{Authorisation, RefundMember, SaleCoupon, SaleMember};
use rusqlite::{Connection, OptionalExtension, params};

use super::{offline_facts, rules, view};
use crate::cart::{Cart, CartTotals, Tender};
use crate::error::{CoreError, CoreResult};
use crate::loyalty;
use crate::money::{self, Minor};
use crate::receipt::{ReceiptMember, TenderKind};

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
