//! `sale.completed.v1` and `.v2`: a till's sale, and the member part of a member's sale.
//!
//! `check` is pure: the sale is the pushing till's (device id, receipt prefix), its lines are
//! sound (numbered 1, 2, 3..., quantities 1 to 9,999, at most 500), and its figures are exactly
//! what a correct till computes (`omnitill_core::cart`): per line, gross = price x quantity,
//! the discount at most the gross, tax on what is left rounded half away from zero (inclusive:
//! out of it; exclusive: on top), and the line total; the sale's subtotal, discount and tax
//! are the sums of its lines'; its rounding is at most half the store's cash increment and
//! only with cash; its tenders pay its total, a cash overpayment short of the increment aside.
//! Every sum is checked arithmetic: an overflow is a refusal. `apply` writes the sale, its
//! lines, stock movements and levels; a sale id or receipt number the cloud holds already is
//! refused, and the refusal says whether it was this till's own (a sale told twice) or
//! another's.
//!
//! The member part (`apply_member`) is checked against what the cloud holds: points tenders
//! are the redeemed points at the point value, the spend is the total less them. Points
//! earned are recomputed by the version of the loyalty rules the sale names (which must be one
//! the cloud published) and the member's tier (the till's, unless it earns more than the
//! cloud's); a difference is a `points_mismatch` conflict and the cloud books its own figure.
//! A redemption marked online must consume a live hold of this sale, for this member and these
//! points; without one it is booked as an offline redemption (counted against the till's
//! allowance) and flagged `unheld_redemption`. A coupon that is not the member's is not booked
//! and is flagged `coupon_not_members`. The sale itself always stands.

use chrono::DateTime;
use omnitill_core::cart::{MAX_LINE_QUANTITY, MAX_LINES};
use omnitill_core::loyalty::{self as rules_of, EarningLine};
use omnitill_core::money;
use omnitill_protocol::loyalty::{Authorisation, LoyaltyRules, SaleMember};
use omnitill_protocol::ops::SaleCompleted;
use sqlx::AnyConnection;

use super::{ApplyError, PushingDevice, Refusal, refuse};
use crate::db::{Backend, batch_statement, value_rows};
use crate::{members, stock};

/// The largest tax rate a line may carry, in basis points (100 %).
const MAX_TAX_RATE_BP: u32 = 10_000;
/// The longest id or SKU an operation may carry.
const MAX_ID_LEN: usize = 64;

/// Checks a sale against the till that pushes it; the error is the refusal.
pub fn check(sale: &SaleCompleted, device: &PushingDevice) -> Result<(), Refusal> {
    device.check_own(&sale.device_id, &sale.receipt_no)?;
    check_id("sale id", &sale.sale_id)?;
    if sale.member.is_none() && sale.tenders.iter().any(|t| t.kind == "points") {
        return Err(Refusal(format!(
            "sale {} is paid with points but names no member",
            sale.receipt_no
        )));
    }
    check_figures(sale, device.cash_rounding_minor).map_err(Refusal)
}

/// An id is 1 to 64 printable characters.
pub fn check_id(what: &str, id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(Refusal(format!(
            "{what} {id:?} is not 1 to {MAX_ID_LEN} printable characters"
        )));
    }
    Ok(())
}

fn add(total: i64, value: i64, what: &str) -> Result<i64, String> {
    total
        .checked_add(value)
        .ok_or_else(|| format!("the sale's {what} overflow"))
}

/// The figures of a sale, exactly as `omnitill_core::cart` computes them.
fn check_figures(sale: &SaleCompleted, cash_increment: i64) -> Result<(), String> {
    let receipt = &sale.receipt_no;
    if sale.lines.is_empty() {
        return Err(format!("sale {receipt} has no lines"));
    }
    if sale.lines.len() > MAX_LINES {
        return Err(format!(
            "sale {receipt} has {} lines; a sale has at most {MAX_LINES}",
            sale.lines.len()
        ));
    }
    let inclusive = match sale.tax_mode.as_str() {
        "inclusive" => true,
        "exclusive" => false,
        other => return Err(format!("sale {receipt} has tax mode {other:?}")),
    };
    let (mut subtotal, mut discount, mut tax, mut lines_total) = (0_i64, 0_i64, 0_i64, 0_i64);
    for (index, line) in sale.lines.iter().enumerate() {
        let n = index as i64 + 1;
        if line.line_no != n {
            return Err(format!(
                "sale {receipt}: line {n} is numbered {}; lines are numbered 1, 2, 3...",
                line.line_no
            ));
        }
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            return Err(format!(
                "sale {receipt}: line {n} has quantity {}; a line sells 1 to {MAX_LINE_QUANTITY}",
                line.quantity
            ));
        }
        if line.sku.is_empty() || line.sku.len() > MAX_ID_LEN {
            return Err(format!("sale {receipt}: line {n} has no usable SKU"));
        }
        if line.unit_price_minor < 0 || line.tax_rate_bp > MAX_TAX_RATE_BP {
            return Err(format!(
                "sale {receipt}: line {n} has price {} and tax rate {} bp",
                line.unit_price_minor, line.tax_rate_bp
            ));
        }
        let gross = line
            .unit_price_minor
            .checked_mul(line.quantity)
            .ok_or_else(|| format!("sale {receipt}: line {n}'s price x quantity overflows"))?;
        if !(0..=gross).contains(&line.discount_minor) {
            return Err(format!(
                "sale {receipt}: line {n} has a discount of {} on {gross}",
                line.discount_minor
            ));
        }
        let amount = gross - line.discount_minor;
        let (expected_tax, expected_total) = if inclusive {
            (money::inclusive_tax(amount, line.tax_rate_bp), amount)
        } else {
            let tax = money::exclusive_tax(amount, line.tax_rate_bp);
            let total = amount
                .checked_add(tax)
                .ok_or_else(|| format!("sale {receipt}: line {n}'s total overflows"))?;
            (tax, total)
        };
        if line.tax_minor != expected_tax || line.total_minor != expected_total {
            return Err(format!(
                "sale {receipt}: line {n} comes to tax {} and total {}, not the {expected_tax} \
                 and {expected_total} its price, quantity and discount give",
                line.tax_minor, line.total_minor
            ));
        }
        subtotal = add(subtotal, gross, "lines")?;
        discount = add(discount, line.discount_minor, "discounts")?;
        tax = add(tax, expected_tax, "taxes")?;
        lines_total = add(lines_total, expected_total, "line totals")?;
    }
    if (sale.subtotal_minor, sale.discount_minor, sale.tax_minor) != (subtotal, discount, tax) {
        return Err(format!(
            "sale {receipt}: subtotal, discount and tax are {}, {} and {}, but its lines add up \
             to {subtotal}, {discount} and {tax}",
            sale.subtotal_minor, sale.discount_minor, sale.tax_minor
        ));
    }
    let has_cash = sale.tenders.iter().any(|t| t.kind == "cash");
    let half_increment = cash_increment.max(1) / 2;
    if sale.rounding_minor != 0 && (!has_cash || sale.rounding_minor.abs() > half_increment) {
        return Err(format!(
            "sale {receipt}: a cash rounding of {} is more than half the store's cash \
             increment of {cash_increment}, or there is no cash",
            sale.rounding_minor
        ));
    }
    let total = add(lines_total, sale.rounding_minor, "total")?;
    if sale.total_minor != total {
        return Err(format!(
            "sale {receipt}: the total is {}, but its lines and rounding come to {total}",
            sale.total_minor
        ));
    }
    if sale.tenders.is_empty() || sale.tenders.len() > omnitill_core::cart::MAX_TENDERS {
        return Err(format!(
            "sale {receipt} has {} payments",
            sale.tenders.len()
        ));
    }
    let mut paid = 0_i64;
    for tender in &sale.tenders {
        match tender.kind.as_str() {
            "cash" | "card" | "points" => {}
            other => return Err(format!("sale {receipt}: a payment of kind {other:?}")),
        }
        if tender.amount_minor < 0 || (tender.kind == "card" && tender.amount_minor == 0) {
            return Err(format!(
                "sale {receipt}: a {} payment of {}",
                tender.kind, tender.amount_minor
            ));
        }
        paid = add(paid, tender.amount_minor, "payments")?;
    }
    // A cash payment short of settling may overshoot what was due by less than the rounding
    // it would have settled with (the till keeps it; see `Cart::add_tender`).
    let over = paid - total;
    let allowed_over = if has_cash { half_increment } else { 0 };
    if !(0..=allowed_over).contains(&over) {
        return Err(format!(
            "sale {receipt}: its payments come to {paid}, not its total of {total}"
        ));
    }
    Ok(())
}

/// Writes a checked sale: the sale, its lines, stock movements and levels.
pub async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    device: &PushingDevice,
    sale: &SaleCompleted,
    op_id: &str,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
    let inserted = match backend {
        Backend::Postgres => insert_on_postgres(tx, device, sale, op_id).await?,
        Backend::Sqlite => insert_on_sqlite(tx, device, sale, op_id).await?,
    };
    if !inserted {
        return Err(already_recorded(tx, device, &sale.sale_id, &sale.receipt_no).await);
    }
    touched.extend(sale.lines.iter().map(|line| line.sku.clone()));
    Ok(())
}

/// The refusal of a sale whose id or receipt number the cloud holds: this till's own sale told
/// twice, or another's id.
pub async fn already_recorded(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    sale_id: &str,
    receipt_no: &str,
) -> ApplyError {
    let holder: Result<Option<(Option<String>,)>, sqlx::Error> = sqlx::query_as(
        "SELECT d.till_id FROM sale s LEFT JOIN device d ON d.id = s.device_id
         WHERE s.id = $1 OR s.receipt_no = $2",
    )
    .bind(sale_id)
    .bind(receipt_no)
    .fetch_optional(&mut *tx)
    .await;
    match holder {
        Err(error) => ApplyError::from(error),
        Ok(Some((Some(till),))) if Some(&till) == device.till_id.as_ref() => {
            refuse(format!("sale {receipt_no} is already recorded"))
        }
        Ok(_) => refuse(format!(
            "sale id {sale_id} (receipt {receipt_no}) was already used by another till or the \
             e-shop"
        )),
    }
}

async fn insert_on_sqlite(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    sale: &SaleCompleted,
    op_id: &str,
) -> Result<bool, ApplyError> {
    let inserted = sqlx::query(
        "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
             currency, tax_minor, total_minor, payload)
         VALUES ($1, $2, $3, 'store', $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&sale.sale_id)
    .bind(&device.store_id)
    .bind(&device.id)
    .bind(&sale.receipt_no)
    .bind(&sale.staff_id)
    .bind(sale.created_at_ms)
    .bind(&sale.currency)
    .bind(sale.tax_minor)
    .bind(sale.total_minor)
    .bind(serde_json::to_string(sale).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    let insert = format!(
        "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor) VALUES {}",
        value_rows(sale.lines.len(), 5)
    );
    let mut query = sqlx::query(batch_statement(insert));
    for line in &sale.lines {
        query = query
            .bind(sale.sale_id.as_str())
            .bind(line.line_no)
            .bind(line.sku.as_str())
            .bind(line.quantity)
            .bind(line.total_minor);
    }
    query.execute(&mut *tx).await?;
    let movements: Vec<stock::Movement<'_>> = sale
        .lines
        .iter()
        .map(|line| stock::Movement {
            id: format!("{op_id}:{}", line.line_no),
            sku: &line.sku,
            delta: -line.quantity,
        })
        .collect();
    stock::move_many(
        &mut *tx,
        &device.store_id,
        "sale",
        &sale.sale_id,
        sale.created_at_ms,
        &movements,
    )
    .await?;
    Ok(true)
}

/// The same rows as on SQLite in one statement: data-modifying common table expressions
/// insert the sale, its lines, its stock movements and the new levels, and nothing when the
/// sale is already recorded. Every statement is a round trip to the server, so this is a
/// quarter of the round trips per sale.
async fn insert_on_postgres(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    sale: &SaleCompleted,
    op_id: &str,
) -> Result<bool, ApplyError> {
    const FIRST_LINE_PARAMETER: usize = 11;
    let line_rows = (0..sale.lines.len())
        .map(|index| {
            let p = FIRST_LINE_PARAMETER + index * 5;
            format!(
                "(${p}::bigint, ${}::text, ${}::bigint, ${}::bigint, ${}::text)",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let statement = format!(
        "WITH new_sale AS (
             INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
                 currency, tax_minor, total_minor, payload)
             VALUES ($1, $2, $3, 'store', $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT DO NOTHING RETURNING id),
         line (line_no, sku, quantity, total_minor, movement_id) AS (VALUES {line_rows}),
         lines AS (
             INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor)
             SELECT new_sale.id, line.line_no, line.sku, line.quantity, line.total_minor
             FROM new_sale, line),
         movements AS (
             INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
             SELECT line.movement_id, $2, line.sku, -line.quantity, 'sale', new_sale.id, $6
             FROM new_sale, line),
         levels AS (
             INSERT INTO stock_level (store_id, sku, on_hand)
             SELECT $2, line.sku, CAST(-SUM(line.quantity) AS BIGINT) FROM new_sale, line
             GROUP BY line.sku
             ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand)
         SELECT COUNT(*) FROM new_sale"
    );
    let mut query = sqlx::query_as::<_, (i64,)>(batch_statement(statement))
        .bind(&sale.sale_id)
        .bind(&device.store_id)
        .bind(&device.id)
        .bind(&sale.receipt_no)
        .bind(&sale.staff_id)
        .bind(sale.created_at_ms)
        .bind(&sale.currency)
        .bind(sale.tax_minor)
        .bind(sale.total_minor)
        .bind(serde_json::to_string(sale).unwrap_or_default());
    for line in &sale.lines {
        query = query
            .bind(line.line_no)
            .bind(line.sku.as_str())
            .bind(line.quantity)
            .bind(line.total_minor)
            .bind(format!("{op_id}:{}", line.line_no));
    }
    let (inserted,) = query.fetch_one(&mut *tx).await?;
    Ok(inserted > 0)
}

/// What the cloud holds that a member sale's check reads.
#[derive(Debug, Clone)]
pub struct MemberState {
    /// The member the sale's id stands for (itself, or the survivor of a merge).
    pub member_id: Option<String>,
    /// That member's tier at the cloud.
    pub member_tier: Option<String>,
    /// The rules of the version the sale names, if the cloud published it.
    pub named_rules: Option<LoyaltyRules>,
    /// The cloud's current rules.
    pub current_rules: LoyaltyRules,
    /// The hold of this sale: (member, points, consumed, expires at).
    pub hold: Option<(String, i64, bool, i64)>,
    /// The owner of the sale's coupon: `None` when the coupon is unknown.
    pub coupon_owner: Option<String>,
}

/// What the cloud books for a member sale, and the conflicts it flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberBooking {
    pub earned: i64,
    pub redeemed: i64,
    pub spend: i64,
    /// The redemption consumes the sale's hold (else it counts against the till's allowance).
    pub consume_hold: bool,
    /// The coupon is the member's and is marked used.
    pub use_coupon: bool,
    /// (conflict kind, summary) to flag.
    pub conflicts: Vec<(&'static str, String)>,
}

/// Checks a member sale's member block against what the cloud holds.
pub fn check_member(
    sale: &SaleCompleted,
    member: &SaleMember,
    state: &MemberState,
) -> Result<MemberBooking, Refusal> {
    let receipt = &sale.receipt_no;
    members::check_sale_member(member).map_err(Refusal)?;
    let mut conflicts = Vec::new();
    let rules = match (member.rules_version, &state.named_rules) {
        (_, Some(rules)) => rules,
        (None, None) => &state.current_rules,
        (Some(version), None) => {
            conflicts.push((
                "points_mismatch",
                format!(
                    "{receipt} earned points by loyalty rules version {version}, which the cloud \
                     never published; the cloud booked the points its current rules give"
                ),
            ));
            &state.current_rules
        }
    };
    let mut paid_with_points = 0_i64;
    for tender in sale.tenders.iter().filter(|t| t.kind == "points") {
        paid_with_points = paid_with_points
            .checked_add(tender.amount_minor)
            .ok_or_else(|| Refusal(format!("{receipt}: its points payments overflow")))?;
    }
    let points_value = member
        .points_redeemed
        .checked_mul(rules.point_value_minor)
        .ok_or_else(|| Refusal(format!("{receipt}: the redeemed points' value overflows")))?;
    if paid_with_points != points_value {
        return Err(Refusal(format!(
            "{receipt}: its points payments come to {paid_with_points}, but {} points at {} \
             each pay {points_value}",
            member.points_redeemed, rules.point_value_minor
        )));
    }
    let spend = (sale.total_minor - paid_with_points).max(0);
    if member.spend_minor != spend {
        return Err(Refusal(format!(
            "{receipt}: the member's spend is {}, not the {spend} the sale less its points paid",
            member.spend_minor
        )));
    }
    let coupon_discount = member.coupon.as_ref().map_or(0, |c| c.discount_minor);
    if coupon_discount < 0
        || member
            .tier_discount_minor
            .checked_add(coupon_discount)
            .is_none_or(|member_discounts| member_discounts > sale.discount_minor)
    {
        return Err(Refusal(format!(
            "{receipt}: the tier and coupon discounts are more than the sale's discount of {}",
            sale.discount_minor
        )));
    }
    let at = DateTime::from_timestamp_millis(sale.created_at_ms)
        .ok_or_else(|| Refusal(format!("{receipt}: its time is out of range")))?;
    // The till's tier, unless it earns more than the member's tier at the cloud.
    let multiplier = |code: &str| rules_of::tier(rules, code).map(|tier| tier.multiplier_pct);
    let cloud_tier = state.member_tier.as_deref().unwrap_or("");
    let tier = match (multiplier(&member.tier), multiplier(cloud_tier)) {
        (Some(till), Some(cloud)) if till <= cloud => member.tier.as_str(),
        (Some(_), None) if state.member_tier.is_none() => member.tier.as_str(),
        _ => cloud_tier,
    };
    let lines: Vec<EarningLine<'_>> = sale
        .lines
        .iter()
        .map(|line| EarningLine {
            sku: &line.sku,
            total_minor: line.total_minor,
        })
        .collect();
    let earned = rules_of::points_earned(rules, tier, &lines, paid_with_points, at);
    if earned != member.points_earned {
        conflicts.push((
            "points_mismatch",
            format!(
                "{receipt} promised {} points; by the brand's rules it earns {earned}, which \
                 the cloud booked",
                member.points_earned
            ),
        ));
    }
    let mut consume_hold = false;
    if member.points_redeemed > 0 && member.redemption == Some(Authorisation::Online) {
        let live = state
            .hold
            .as_ref()
            .is_some_and(|(held_for, points, consumed, expires)| {
                Some(held_for) == state.member_id.as_ref()
                    && *points == member.points_redeemed
                    && !consumed
                    && sale.created_at_ms <= *expires
            });
        if live {
            consume_hold = true;
        } else {
            conflicts.push((
                "unheld_redemption",
                format!(
                    "{receipt} redeemed {} points as reserved online, but the cloud holds no \
                     such reservation for it; they were booked as an offline redemption",
                    member.points_redeemed
                ),
            ));
        }
    }
    let mut use_coupon = false;
    if let Some(coupon) = &member.coupon {
        match &state.coupon_owner {
            Some(owner) if Some(owner) == state.member_id.as_ref() => use_coupon = true,
            Some(_) => conflicts.push((
                "coupon_not_members",
                format!(
                    "{receipt} used coupon {}, which belongs to another member; it was not \
                     marked used",
                    coupon.coupon_id
                ),
            )),
            // An unknown coupon is flagged by `members::use_coupon`.
            None => use_coupon = true,
        }
    }
    Ok(MemberBooking {
        earned,
        redeemed: member.points_redeemed,
        spend,
        consume_hold,
        use_coupon,
        conflicts,
    })
}

/// Reads what a member sale's check needs.
async fn member_state(
    tx: &mut AnyConnection,
    sale: &SaleCompleted,
    member: &SaleMember,
) -> Result<MemberState, ApplyError> {
    let member_id = members::resolve(&mut *tx, &member.member_id).await?;
    let member_tier: Option<(String,)> = match &member_id {
        Some(id) => {
            sqlx::query_as("SELECT tier FROM member WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let named_rules = match member.rules_version {
        Some(version) => members::rules_version(&mut *tx, version).await?,
        None => None,
    };
    let current_rules = members::rules(&mut *tx).await?;
    let hold: Option<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT member_id, points, consumed, expires_at FROM points_hold WHERE sale_id = $1",
    )
    .bind(&sale.sale_id)
    .fetch_optional(&mut *tx)
    .await?;
    let coupon_owner: Option<(String,)> = match &member.coupon {
        Some(coupon) => {
            sqlx::query_as("SELECT member_id FROM coupon WHERE id = $1")
                .bind(&coupon.coupon_id)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    Ok(MemberState {
        member_id,
        member_tier: member_tier.map(|(tier,)| tier),
        named_rules,
        current_rules,
        hold: hold
            .map(|(member, points, consumed, expires)| (member, points, consumed != 0, expires)),
        coupon_owner: coupon_owner.map(|(owner,)| owner),
    })
}

/// Books the member part of a sale already written in this savepoint.
pub async fn apply_member(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    sale: &SaleCompleted,
    op_id: &str,
) -> Result<(), ApplyError> {
    let Some(member) = &sale.member else {
        return Err(refuse("a member sale without its member"));
    };
    let state = member_state(tx, sale, member).await?;
    let booking = check_member(sale, member, &state)?;
    let store_id = device.store_id.as_str();
    let at = sale.created_at_ms;
    let Some(member_id) = state.member_id else {
        let summary = format!(
            "Sale {} names a member the brand does not know; no points were booked",
            sale.receipt_no
        );
        members::flag(
            tx,
            store_id,
            "unknown_member",
            &member.member_id,
            &sale.sale_id,
            &summary,
        )
        .await?;
        return Ok(());
    };
    // The member shops here: the store's tills get their memory-hard look-up keys.
    crate::lookup_keys::attach(&mut *tx, &member_id, store_id, at).await?;
    let sale_ref = format!("sale:{}", sale.sale_id);
    members::add_spend(&mut *tx, &member_id, store_id, &sale_ref, booking.spend, at).await?;
    members::add_entry(
        &mut *tx,
        &member_id,
        "earn",
        booking.earned,
        store_id,
        &sale.sale_id,
        &format!("{op_id}:earn"),
        at,
    )
    .await?;
    if booking.redeemed > 0 {
        let booked = members::add_entry(
            &mut *tx,
            &member_id,
            "redeem",
            -booking.redeemed,
            store_id,
            &sale.sale_id,
            &format!("{op_id}:redeem"),
            at,
        )
        .await?;
        if booked && booking.consume_hold {
            sqlx::query("UPDATE points_hold SET consumed = 1 WHERE sale_id = $1 AND consumed = 0")
                .bind(&sale.sale_id)
                .execute(&mut *tx)
                .await?;
        } else if booked {
            sqlx::query("UPDATE device SET allowance_used = allowance_used + $1 WHERE id = $2")
                .bind(booking.redeemed)
                .bind(&device.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    if let Some(coupon) = member.coupon.as_ref().filter(|_| booking.use_coupon) {
        members::use_coupon(
            &mut *tx,
            store_id,
            &member_id,
            &coupon.coupon_id,
            &sale.sale_id,
            &sale.receipt_no,
            at,
        )
        .await?;
    }
    for (kind, summary) in &booking.conflicts {
        members::flag(tx, store_id, kind, &member_id, &sale.sale_id, summary).await?;
    }
    members::flag_overdraft(
        &mut *tx,
        store_id,
        &member_id,
        &sale.sale_id,
        &sale.receipt_no,
    )
    .await?;
    members::publish(tx, &member_id, device.now_ms).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
