//! `refund.completed.v1` and `.v2`: a till's refund of one of its store's sales, and the member
//! part of a refund of a member's sale.
//!
//! The sale's row is locked first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite has one
//! writer), so two tills refunding one sale at once are applied one after the other, and each
//! is checked against every refund of that sale the cloud holds, from any till. `check` is
//! pure: the refund is the pushing till's (device id, receipt prefix) and of a sale of its
//! store; its lines name lines of that sale with their SKUs, quantities of 1 to 9,999 and no
//! more than is left to refund of each line; its figures are exactly the till's pro-rata
//! shares (`omnitill_core::money::pro_rata_floor` of the line's total and tax, by the
//! quantities refunded before and after); its rounding gives back at most the sale's cash
//! rounding not yet given back; its tenders pay its total, each kind of payment (card, cash,
//! points) at most what that kind paid for the sale less earlier refunds. Every sum is checked
//! arithmetic.
//!
//! The member part must name the sale's member (after merges). It reverses at most what the
//! sale earned and restores at most what it redeemed, less what earlier refunds of the sale
//! did: more is cut to what is left and flagged `refund_points` for review. A refund of a
//! member's sale without its member part, or with one for a sale without a member, is refused.

use omnitill_core::cart::{MAX_LINE_QUANTITY, MAX_LINES};
use omnitill_core::money;
use omnitill_protocol::ops::{RefundCompleted, SaleCompleted};
use sqlx::AnyConnection;

use super::sale::check_id;
use super::{ApplyError, PushingDevice, Refusal, refuse};
use crate::db::{Backend, batch_statement, value_rows};
use crate::{members, stock};

/// What the cloud holds about the refunded sale.
#[derive(Debug, Clone, Default)]
pub struct RefundState {
    /// The sale's store and what its till said of it; `None` for an unknown sale.
    pub sale: Option<(String, Option<SaleCompleted>)>,
    /// Every refund of the sale the cloud holds, from any till.
    pub previous: Vec<RefundCompleted>,
    /// The sale's member and the refund's member, each after merges.
    pub sale_member: Option<String>,
    pub refund_member: Option<String>,
    /// Points the sale earned and redeemed as booked, and what refunds reversed and restored.
    pub earned: i64,
    pub redeemed: i64,
    pub reversed_before: i64,
    pub restored_before: i64,
}

/// What the cloud books for a checked refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundBooking {
    /// The member whose points and spend move (`None`: none, or the member is unknown).
    pub member_id: Option<String>,
    pub reversed: i64,
    pub restored: i64,
    pub spend: i64,
    pub conflicts: Vec<(&'static str, String)>,
}

fn sum(mut values: impl Iterator<Item = i64>, what: &str) -> Result<i64, Refusal> {
    values
        .try_fold(0_i64, i64::checked_add)
        .ok_or_else(|| Refusal(format!("the refund's {what} overflow")))
}

/// Checks a refund against the till that pushes it and what the cloud holds of its sale.
pub fn check(
    refund: &RefundCompleted,
    device: &PushingDevice,
    state: &RefundState,
) -> Result<RefundBooking, Refusal> {
    let receipt = &refund.receipt_no;
    device.check_own(&refund.device_id, receipt)?;
    check_id("refund id", &refund.refund_id)?;
    let sale = match &state.sale {
        None => return Err(Refusal(format!("refund {receipt} names an unknown sale"))),
        Some((store, _)) if *store != device.store_id => {
            return Err(Refusal(format!(
                "refund {receipt} is for another store's sale"
            )));
        }
        Some((_, None)) => {
            return Err(Refusal(format!(
                "refund {receipt} is for a sale no till made (an e-shop order)"
            )));
        }
        Some((_, Some(sale))) => sale,
    };
    if refund.lines.is_empty() || refund.lines.len() > MAX_LINES {
        return Err(Refusal(format!(
            "refund {receipt} has {} lines; a refund has 1 to {MAX_LINES}",
            refund.lines.len()
        )));
    }
    let mut lines_total = 0_i64;
    let mut tax_total = 0_i64;
    for (index, line) in refund.lines.iter().enumerate() {
        let n = line.line_no;
        if refund.lines[..index]
            .iter()
            .any(|earlier| earlier.line_no == n)
        {
            return Err(Refusal(format!("refund {receipt} lists line {n} twice")));
        }
        let Some(sold) = sale.lines.iter().find(|sold| sold.line_no == n) else {
            return Err(Refusal(format!(
                "refund {receipt} names line {n}, which sale {} does not have",
                sale.receipt_no
            )));
        };
        if sold.sku != line.sku {
            return Err(Refusal(format!(
                "refund {receipt}: line {n} is {}, not {}",
                sold.sku, line.sku
            )));
        }
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            return Err(Refusal(format!(
                "refund {receipt}: line {n} has quantity {}; a line refunds 1 to \
                 {MAX_LINE_QUANTITY}",
                line.quantity
            )));
        }
        let before = sum(
            state
                .previous
                .iter()
                .flat_map(|previous| previous.lines.iter())
                .filter(|refunded| refunded.line_no == n)
                .map(|refunded| refunded.quantity),
            "quantities",
        )?;
        let after = before
            .checked_add(line.quantity)
            .ok_or_else(|| Refusal(format!("refund {receipt}: line {n}'s quantity overflows")))?;
        if after > sold.quantity {
            return Err(Refusal(format!(
                "refund {receipt}: line {n} refunds {} of {} sold, {before} of them refunded \
                 before (from any till): only {} are left",
                line.quantity,
                sold.quantity,
                sold.quantity - before.min(sold.quantity)
            )));
        }
        let share = |of: i64| {
            money::pro_rata_floor(of, after, sold.quantity)
                - money::pro_rata_floor(of, before, sold.quantity)
        };
        let (total, tax) = (share(sold.total_minor), share(sold.tax_minor));
        if (line.total_minor, line.tax_minor) != (total, tax) {
            return Err(Refusal(format!(
                "refund {receipt}: line {n} gives back {} with tax {}, but its share of the \
                 sale's line is {total} with tax {tax}",
                line.total_minor, line.tax_minor
            )));
        }
        lines_total = lines_total
            .checked_add(total)
            .ok_or_else(|| Refusal(format!("refund {receipt}: its total overflows")))?;
        tax_total = tax_total
            .checked_add(tax)
            .ok_or_else(|| Refusal(format!("refund {receipt}: its tax overflows")))?;
    }
    if refund.tax_minor != tax_total {
        return Err(Refusal(format!(
            "refund {receipt}: its tax is {}, but its lines' comes to {tax_total}",
            refund.tax_minor
        )));
    }
    let rounded_before = sum(state.previous.iter().map(|p| p.rounding_minor), "roundings")?;
    let rounding_left = (-sale.rounding_minor).max(0) + rounded_before.min(0);
    if refund.rounding_minor > 0 || -refund.rounding_minor > rounding_left.max(0) {
        return Err(Refusal(format!(
            "refund {receipt}: a rounding of {} is more than the sale's cash rounding left \
             ({rounding_left})",
            refund.rounding_minor
        )));
    }
    let total = lines_total + refund.rounding_minor;
    if refund.total_minor != total {
        return Err(Refusal(format!(
            "refund {receipt}: its total is {}, but its lines and rounding come to {total}",
            refund.total_minor
        )));
    }
    if refund
        .tenders
        .iter()
        .any(|t| !matches!(t.kind.as_str(), "cash" | "card" | "points") || t.amount_minor <= 0)
    {
        return Err(Refusal(format!(
            "refund {receipt} pays back with an unknown or empty payment"
        )));
    }
    let paid_back = sum(refund.tenders.iter().map(|t| t.amount_minor), "payments")?;
    if paid_back != total {
        return Err(Refusal(format!(
            "refund {receipt}: its payments come to {paid_back}, not its total of {total}"
        )));
    }
    // Money goes back to what paid for the sale: to each kind of payment at most what it paid,
    // less what earlier refunds gave back to it.
    for tender in &refund.tenders {
        let kind = tender.kind.as_str();
        let paid = sum(
            sale.tenders
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| t.amount_minor),
            "payments",
        )?;
        let given_back = sum(
            state
                .previous
                .iter()
                .flat_map(|previous| previous.tenders.iter())
                .chain(refund.tenders.iter())
                .filter(|t| t.kind == kind)
                .map(|t| t.amount_minor),
            "payments",
        )?;
        if given_back > paid {
            return Err(Refusal(format!(
                "refund {receipt} gives back {given_back} by {kind} in all, but the sale took \
                 {paid} by {kind}"
            )));
        }
    }
    check_member(refund, sale, state, lines_total)
}

/// The member part: the sale's member, at most what is left to reverse and restore.
fn check_member(
    refund: &RefundCompleted,
    sale: &SaleCompleted,
    state: &RefundState,
    lines_total: i64,
) -> Result<RefundBooking, Refusal> {
    let receipt = &refund.receipt_no;
    let member = match (&refund.member, &sale.member) {
        (None, None) => {
            return Ok(RefundBooking {
                member_id: None,
                reversed: 0,
                restored: 0,
                spend: 0,
                conflicts: Vec::new(),
            });
        }
        (None, Some(_)) => {
            return Err(Refusal(format!(
                "refund {receipt} is of a member's sale but does not say what it takes back \
                 from the member"
            )));
        }
        (Some(_), None) => {
            return Err(Refusal(format!(
                "refund {receipt} names a member, but sale {} had none",
                sale.receipt_no
            )));
        }
        (Some(member), Some(_)) => member,
    };
    members::check_refund_member(member).map_err(Refusal)?;
    if member.spend_minor != lines_total {
        return Err(Refusal(format!(
            "refund {receipt}: it takes back {} of the member's spend, not the {lines_total} \
             it refunds",
            member.spend_minor
        )));
    }
    if state.refund_member != state.sale_member {
        return Err(Refusal(format!(
            "refund {receipt} names member {}, who is not the member of sale {}",
            member.member_id, sale.receipt_no
        )));
    }
    let mut conflicts = Vec::new();
    let reverse_left = (state.earned - state.reversed_before).max(0);
    let restore_left = (state.redeemed - state.restored_before).max(0);
    let reversed = member.points_reversed.min(reverse_left);
    let restored = member.points_restored.min(restore_left);
    if reversed != member.points_reversed || restored != member.points_restored {
        conflicts.push((
            "refund_points",
            format!(
                "{receipt} reversed {} and restored {} points; what is left of sale {} is {} \
                 to reverse and {} to restore, which the cloud booked",
                member.points_reversed,
                member.points_restored,
                sale.receipt_no,
                reverse_left,
                restore_left
            ),
        ));
    }
    Ok(RefundBooking {
        member_id: state.sale_member.clone(),
        reversed,
        restored,
        spend: lines_total,
        conflicts,
    })
}

/// Reads what a refund's check needs, locking the sale's row on PostgreSQL.
async fn read_state(
    tx: &mut AnyConnection,
    backend: Backend,
    refund: &RefundCompleted,
) -> Result<RefundState, ApplyError> {
    let lock = match backend {
        Backend::Postgres => "SELECT store_id, payload FROM sale WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT store_id, payload FROM sale WHERE id = $1",
    };
    let row: Option<(String, String)> = sqlx::query_as(lock)
        .bind(&refund.sale_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((store_id, payload)) = row else {
        return Ok(RefundState::default());
    };
    let sale: Option<SaleCompleted> = serde_json::from_str(&payload).ok();
    let previous: Vec<(String,)> = sqlx::query_as("SELECT payload FROM refund WHERE sale_id = $1")
        .bind(&refund.sale_id)
        .fetch_all(&mut *tx)
        .await?;
    let previous: Vec<RefundCompleted> = previous
        .into_iter()
        .filter_map(|(payload,)| serde_json::from_str(&payload).ok())
        .collect();
    let mut state = RefundState {
        previous,
        ..RefundState::default()
    };
    if let Some(member) = sale.as_ref().and_then(|sale| sale.member.as_ref()) {
        state.sale_member = members::resolve(&mut *tx, &member.member_id).await?;
    }
    if let Some(member) = &refund.member {
        state.refund_member = members::resolve(&mut *tx, &member.member_id).await?;
    }
    if let Some(member_id) = &state.sale_member {
        let booked: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, op_key, points FROM points_entry WHERE member_id = $1 AND ref_id = $2
             UNION ALL
             SELECT pe.kind, pe.op_key, pe.points FROM points_entry pe
             JOIN refund r ON r.id = pe.ref_id WHERE pe.member_id = $1 AND r.sale_id = $2",
        )
        .bind(member_id)
        .bind(&refund.sale_id)
        .fetch_all(&mut *tx)
        .await?;
        for (kind, op_key, points) in booked {
            let slot = match (kind.as_str(), op_key.rsplit(':').next()) {
                ("earn", _) => &mut state.earned,
                ("redeem", _) => &mut state.redeemed,
                ("reverse", Some("reverse")) => &mut state.reversed_before,
                ("reverse", Some("restore")) => &mut state.restored_before,
                _ => continue,
            };
            *slot = slot.saturating_add(points.saturating_abs());
        }
    }
    state.sale = Some((store_id, sale));
    Ok(state)
}

/// Checks and writes a refund: its rows, stock coming back, and its member part.
pub async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    device: &PushingDevice,
    refund: &RefundCompleted,
    op_id: &str,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
    let state = read_state(tx, backend, refund).await?;
    let booking = check(refund, device, &state)?;
    let inserted = sqlx::query(
        "INSERT INTO refund (id, sale_id, store_id, device_id, receipt_no, created_at, total_minor, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&refund.refund_id)
    .bind(&refund.sale_id)
    .bind(&device.store_id)
    .bind(&device.id)
    .bind(&refund.receipt_no)
    .bind(refund.created_at_ms)
    .bind(refund.total_minor)
    .bind(serde_json::to_string(refund).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(already_recorded(tx, device, refund).await);
    }
    let insert = format!(
        "INSERT INTO refund_line (refund_id, line_no, sku, quantity) VALUES {}",
        value_rows(refund.lines.len(), 4)
    );
    let mut query = sqlx::query(batch_statement(insert));
    for line in &refund.lines {
        query = query
            .bind(refund.refund_id.as_str())
            .bind(line.line_no)
            .bind(line.sku.as_str())
            .bind(line.quantity);
    }
    query.execute(&mut *tx).await?;
    let movements: Vec<stock::Movement<'_>> = refund
        .lines
        .iter()
        .map(|line| stock::Movement {
            id: format!("{}:{}", refund.refund_id, line.line_no),
            sku: &line.sku,
            delta: line.quantity,
        })
        .collect();
    stock::move_many(
        &mut *tx,
        &device.store_id,
        "refund",
        &refund.refund_id,
        refund.created_at_ms,
        &movements,
    )
    .await?;
    touched.extend(refund.lines.iter().map(|line| line.sku.clone()));
    if let Some(member_id) = &booking.member_id {
        book_member(tx, device, refund, &booking, member_id, op_id).await?;
    }
    Ok(())
}

async fn book_member(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    refund: &RefundCompleted,
    booking: &RefundBooking,
    member_id: &str,
    op_id: &str,
) -> Result<(), ApplyError> {
    let store_id = device.store_id.as_str();
    let at = refund.created_at_ms;
    for (points, purpose) in [
        (-booking.reversed, "reverse"),
        (booking.restored, "restore"),
    ] {
        members::add_entry(
            &mut *tx,
            member_id,
            "reverse",
            points,
            store_id,
            &refund.refund_id,
            &format!("{op_id}:{purpose}"),
            at,
        )
        .await?;
    }
    let spend_ref = format!("refund:{}", refund.refund_id);
    members::add_spend(
        &mut *tx,
        member_id,
        store_id,
        &spend_ref,
        -booking.spend,
        at,
    )
    .await?;
    for (kind, summary) in &booking.conflicts {
        members::flag(tx, store_id, kind, member_id, &refund.refund_id, summary).await?;
    }
    members::flag_overdraft(
        &mut *tx,
        store_id,
        member_id,
        &refund.refund_id,
        &refund.receipt_no,
    )
    .await?;
    members::publish(tx, member_id, device.now_ms).await?;
    Ok(())
}

/// The refusal of a refund whose id or receipt number the cloud holds.
async fn already_recorded(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    refund: &RefundCompleted,
) -> ApplyError {
    let holder: Result<Option<(Option<String>,)>, sqlx::Error> = sqlx::query_as(
        "SELECT d.till_id FROM refund r LEFT JOIN device d ON d.id = r.device_id
         WHERE r.id = $1 OR r.receipt_no = $2",
    )
    .bind(&refund.refund_id)
    .bind(&refund.receipt_no)
    .fetch_optional(&mut *tx)
    .await;
    match holder {
        Err(error) => ApplyError::from(error),
        Ok(Some((Some(till),))) if Some(&till) == device.till_id.as_ref() => {
            refuse(format!("refund {} is already recorded", refund.receipt_no))
        }
        Ok(_) => refuse(format!(
            "refund id {} (receipt {}) was already used by another till",
            refund.refund_id, refund.receipt_no
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitill_protocol::ops::{RefundLineOp, SaleLineOp, TenderOp};

    fn device() -> PushingDevice {
        PushingDevice {
            id: "cloud-device".into(),
            store_id: "store".into(),
            till_id: Some("till-1".into()),
            prefixes: vec!["AB12".into()],
            cash_rounding_minor: 100,
            now_ms: 1,
        }
    }

    fn tender(kind: &str, amount_minor: i64) -> TenderOp {
        TenderOp {
            kind: kind.into(),
            amount_minor,
            reference: None,
        }
    }

    /// Three of one item at 10.01 (tax 5 % inclusive), paid 20.00 by card and the rest in cash
    /// rounded down by 0.03.
    fn sale() -> SaleCompleted {
        SaleCompleted {
            sale_id: "sale-1".into(),
            receipt_no: "AB12-000001".into(),
            device_id: "till-1".into(),
            staff_id: "s".into(),
            created_at_ms: 1,
            currency: "TWD".into(),
            tax_mode: "inclusive".into(),
            subtotal_minor: 3_003,
            discount_minor: 0,
            tax_minor: 143,
            rounding_minor: -3,
            total_minor: 3_000,
            lines: vec![SaleLineOp {
                line_no: 1,
                sku: "A".into(),
                quantity: 3,
                unit_price_minor: 1_001,
                discount_minor: 0,
                tax_rate_bp: 500,
                tax_minor: 143,
                total_minor: 3_003,
            }],
            tenders: vec![tender("card", 2_000), tender("cash", 1_000)],
            member: None,
        }
    }

    /// What the till writes for refunding `quantity` after `before` were refunded.
    fn refund(
        quantity: i64,
        before: i64,
        tenders: Vec<TenderOp>,
        rounding: i64,
    ) -> RefundCompleted {
        let share = |of: i64| {
            money::pro_rata_floor(of, before + quantity, 3) - money::pro_rata_floor(of, before, 3)
        };
        RefundCompleted {
            refund_id: format!("refund-{before}"),
            receipt_no: format!("AB12-00001{before}"),
            sale_id: "sale-1".into(),
            device_id: "till-1".into(),
            staff_id: "s".into(),
            approved_by: "m".into(),
            created_at_ms: 2,
            tax_minor: share(143),
            rounding_minor: rounding,
            total_minor: share(3_003) + rounding,
            lines: vec![RefundLineOp {
                line_no: 1,
                sku: "A".into(),
                quantity,
                tax_minor: share(143),
                total_minor: share(3_003),
            }],
            tenders,
            member: None,
        }
    }

    fn state(previous: Vec<RefundCompleted>) -> RefundState {
        RefundState {
            sale: Some(("store".into(), Some(sale()))),
            previous,
            ..RefundState::default()
        }
    }

    #[test]
    fn refunds_in_steps_pass_until_nothing_is_left() {
        // 1 of 3: 10.01 back, all to the card.
        let first = refund(1, 0, vec![tender("card", 1_001)], 0);
        assert!(
            check(&first, &device(), &state(vec![])).is_ok(),
            "a third of the sale"
        );
        // The other 2: 20.02, the card's 9.99 left, then cash 10.00, and 0.03 of rounding kept.
        let rest = refund(2, 1, vec![tender("card", 999), tender("cash", 1_000)], -3);
        assert!(
            check(&rest, &device(), &state(vec![first.clone()])).is_ok(),
            "the rest, with the sale's cash rounding kept, as the till computes it"
        );
        let again = refund(1, 3, vec![tender("card", 1)], 0);
        let refused = check(&again, &device(), &state(vec![first, rest]));
        assert!(
            refused.is_err_and(|r| r.0.contains("left")),
            "nothing is left to refund, whichever till asks"
        );
    }

    #[test]
    fn a_refund_that_does_not_match_its_sale_is_refused() {
        type Tamper = (&'static str, fn(&mut RefundCompleted));
        let cases: Vec<Tamper> = vec![
            ("more than was sold", |r| r.lines[0].quantity = 4),
            ("a zero quantity", |r| r.lines[0].quantity = 0),
            ("a quantity near 2^63", |r| {
                r.lines[0].quantity = i64::MAX - 5
            }),
            ("a line the sale does not have", |r| r.lines[0].line_no = 2),
            ("another SKU", |r| r.lines[0].sku = "B".into()),
            ("more money than the share", |r| {
                r.lines[0].total_minor += 1;
                r.total_minor += 1;
                r.tenders[0].amount_minor += 1;
            }),
            ("cash back for a card payment", |r| {
                r.tenders[0].kind = "cash".into()
            }),
            ("a rounding the sale never had", |r| {
                r.rounding_minor = -50;
                r.total_minor -= 50;
                r.tenders[0].amount_minor -= 50;
            }),
            ("another till's device id", |r| {
                r.device_id = "till-2".into()
            }),
            ("another till's prefix", |r| {
                r.receipt_no = "ZZ99-000001".into()
            }),
        ];
        for (why, tamper) in cases {
            let mut forged = refund(1, 0, vec![tender("card", 1_001)], 0);
            tamper(&mut forged);
            assert!(
                check(&forged, &device(), &state(vec![])).is_err(),
                "{why} must be refused"
            );
        }
    }
}
