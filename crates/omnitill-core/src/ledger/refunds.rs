//! Refunds of past sales: what can still be refunded of a sale, what refunding some of its
//! lines gives back (the quote the refund screen shows), and the refund itself, written in one
//! transaction with the stock coming back and its outbox operation.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{CoreError, CoreResult};
use crate::members;
use crate::money::{self, Minor};
use crate::outbox::{self, RefundCompleted, RefundLineOp, TenderOp};
use crate::receipt::{ReceiptTender, TenderKind};
use crate::settings::StoreInfo;
use crate::staff::{ManagerApproval, StaffSession};

use super::{Device, SoldLine, find_sale, local_time, sale_tenders, sold_lines};

/// A line of a past sale and how much of it can still be refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RefundableLine {
    pub line_no: i64,
    pub name: String,
    pub sku: String,
    pub quantity_sold: i64,
    pub quantity_refunded: i64,
    pub refundable_quantity: i64,
    pub unit_refund_minor: Minor,
}

/// What refunding some lines of a past sale gives back, as `refund` will compute it: each line's
/// share of what it took, to the cent, and what the customer gets back: their sum, less what
/// no tender can take back (the sale's cash rounding, when its last units go back). The refund
/// screen shows this, never its own arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RefundQuote {
    pub lines: Vec<QuotedLine>,
    /// 0, or the negative part of the lines that stays with the sale's rounding.
    pub rounding_minor: Minor,
    /// What the refund gives back: the lines' sum plus `rounding_minor`.
    pub total_minor: Minor,
}

/// One line of a `RefundQuote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct QuotedLine {
    pub line_no: i64,
    pub quantity: i64,
    pub amount_minor: Minor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RefundableSale {
    pub receipt_no: String,
    pub created_at: String,
    pub total_minor: Minor,
    pub lines: Vec<RefundableLine>,
    pub tenders: Vec<ReceiptTender>,
}

/// A past sale and what can still be refunded of it.
pub(crate) fn refundable(
    conn: &Connection,
    store: &StoreInfo,
    receipt_no: &str,
) -> CoreResult<RefundableSale> {
    let sale = find_sale(conn, receipt_no)?;
    let lines = sold_lines(conn, &sale.id)?
        .into_iter()
        .map(|line| RefundableLine {
            line_no: line.line_no,
            unit_refund_minor: money::pro_rata_floor(line.total_minor, 1, line.quantity),
            refundable_quantity: line.quantity - line.refunded,
            quantity_refunded: line.refunded,
            quantity_sold: line.quantity,
            name: line.name,
            sku: line.sku,
        })
        .collect();
    Ok(RefundableSale {
        created_at: local_time(store, sale.created_at),
        receipt_no: sale.receipt_no,
        total_minor: sale.total_minor,
        lines,
        tenders: sale_tenders(conn, &sale.id)?
            .into_iter()
            .map(|(_, t)| t)
            .collect(),
    })
}

/// What refunding `requests` (line number, quantity) of a sale's `lines` gives back: for each
/// line asked for, (the line, the quantity, its tax share, its total share). A share is what
/// the line took after this refund's units less what it took before them
/// (`money::pro_rata_floor`), so all the refunds of a line add up to exactly what it took.
fn refund_shares<'a>(
    receipt_no: &str,
    lines: &'a [SoldLine],
    requests: &[(i64, i64)],
) -> CoreResult<Vec<(&'a SoldLine, i64, Minor, Minor)>> {
    let mut refund_lines: Vec<(&SoldLine, i64, Minor, Minor)> = Vec::new();
    for (index, &(line_no, quantity)) in requests.iter().enumerate() {
        if quantity == 0 {
            continue;
        }
        if requests[..index]
            .iter()
            .any(|(earlier, _)| *earlier == line_no)
        {
            return Err(CoreError::BadInput(format!(
                "line {line_no} is listed twice"
            )));
        }
        let line = lines
            .iter()
            .find(|line| line.line_no == line_no)
            .ok_or_else(|| {
                CoreError::NotFound(format!("line {line_no} of receipt {receipt_no}"))
            })?;
        let refundable = line.quantity - line.refunded;
        if quantity < 0 || quantity > refundable {
            return Err(CoreError::RefundExceedsSold {
                line_no,
                requested: quantity,
                refundable,
            });
        }
        let before = line.refunded;
        let after = before + quantity;
        let total = money::pro_rata_floor(line.total_minor, after, line.quantity)
            - money::pro_rata_floor(line.total_minor, before, line.quantity);
        let tax = money::pro_rata_floor(line.tax_minor, after, line.quantity)
            - money::pro_rata_floor(line.tax_minor, before, line.quantity);
        refund_lines.push((line, quantity, tax, total));
    }
    Ok(refund_lines)
}

/// What refunding `requests` of the sale with `receipt_no` would give back, line by line, as
/// `refund` computes it; refused as `refund` would refuse it.
pub(crate) fn refund_quote(
    conn: &Connection,
    receipt_no: &str,
    requests: &[(i64, i64)],
) -> CoreResult<RefundQuote> {
    let sale = find_sale(conn, receipt_no)?;
    let lines = sold_lines(conn, &sale.id)?;
    let shares = refund_shares(&sale.receipt_no, &lines, requests)?;
    let lines: Vec<QuotedLine> = shares
        .iter()
        .map(|(line, quantity, _, total)| QuotedLine {
            line_no: line.line_no,
            quantity: *quantity,
            amount_minor: *total,
        })
        .collect();
    let lines_total: Minor = lines.iter().map(|line| line.amount_minor).sum();
    let (_, rounding_minor) = paid_back_to_tenders(conn, &sale.id, lines_total)?;
    Ok(RefundQuote {
        lines,
        rounding_minor,
        total_minor: lines_total + rounding_minor,
    })
}

/// What goes back to one of the sale's tenders.
struct RefundTender {
    tender_no: i64,
    kind: TenderKind,
    amount_minor: Minor,
    reference: Option<String>,
    /// Points given back (points tenders only).
    points: i64,
}

/// How `lines_total` goes back to the tenders of sale `sale_id`: cards first, then points, then
/// cash, each capped at what it paid less what earlier refunds gave back to it; points go back
/// as points, in proportion to what the points tender paid. Also answers what no tender can
/// take back (as a negative rounding): the sale's cash rounding, which stays rounded. Shared by
/// the quote and the refund, so the screen shows what the refund gives back.
fn paid_back_to_tenders(
    conn: &Connection,
    sale_id: &str,
    lines_total: Minor,
) -> CoreResult<(Vec<RefundTender>, Minor)> {
    let mut tenders = sale_tenders(conn, sale_id)?;
    tenders.sort_by_key(|(tender_no, tender)| {
        let order = match tender.kind {
            TenderKind::Card => 0,
            TenderKind::Points => 1,
            TenderKind::Cash => 2,
        };
        (order, *tender_no)
    });
    let mut left = lines_total;
    let mut paid_back = Vec::new();
    for (tender_no, tender) in &tenders {
        if left == 0 {
            break;
        }
        let already: Minor = conn
            .prepare_cached(
                "SELECT COALESCE(sum(rt.amount_minor), 0) FROM refund_tender rt
                 JOIN refund r ON r.id = rt.refund_id WHERE r.sale_id = ?1 AND rt.tender_no = ?2",
            )?
            .query_row(params![sale_id, tender_no], |row| row.get(0))?;
        let room = (tender.amount_minor - already).max(0);
        let amount = room.min(left);
        if amount > 0 {
            let points = if tender.kind == TenderKind::Points {
                money::pro_rata_floor(tender.points, already + amount, tender.amount_minor)
                    - money::pro_rata_floor(tender.points, already, tender.amount_minor)
            } else {
                0
            };
            paid_back.push(RefundTender {
                tender_no: *tender_no,
                kind: tender.kind,
                amount_minor: amount,
                reference: tender.reference.clone(),
                points,
            });
            left -= amount;
        }
    }
    Ok((paid_back, -left))
}

/// Refunds `requests` (line number, quantity) of the sale with `receipt_no`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refund(
    conn: &mut Connection,
    device: &Device,
    session: &StaffSession,
    approval: &ManagerApproval,
    receipt_no: &str,
    requests: &[(i64, i64)],
    refund_id: &str,
    op_id: &str,
    now: DateTime<Utc>,
) -> CoreResult<String> {
    if requests.is_empty() || requests.iter().all(|(_, quantity)| *quantity == 0) {
        return Err(CoreError::BadInput(
            "choose at least one line and a quantity to refund".into(),
        ));
    }
    let now_ms = now.timestamp_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sale = find_sale(&tx, receipt_no)?;
    let lines = sold_lines(&tx, &sale.id)?;

    let refund_lines = refund_shares(&sale.receipt_no, &lines, requests)?;
    let lines_total: Minor = refund_lines.iter().map(|(_, _, _, total)| total).sum();
    let tax_total: Minor = refund_lines.iter().map(|(_, _, tax, _)| tax).sum();

    let (refund_tenders, rounding) = paid_back_to_tenders(&tx, &sale.id, lines_total)?;
    let restored: i64 = refund_tenders.iter().map(|t| t.points).sum();
    let paid_back = lines_total + rounding;

    let refund_seq = outbox::next_counter(&tx, "receipt")?;
    let refund_receipt = format!("{}-{refund_seq:06}", device.receipt_prefix);
    let op_seq = outbox::next_counter(&tx, "outbox")?;
    tx.execute(
        "INSERT INTO refund (id, receipt_no, sale_id, staff_id, approved_by, created_at, tax_minor,
             rounding_minor, total_minor, op_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            refund_id,
            refund_receipt,
            sale.id,
            session.id,
            approval.manager_id,
            now_ms,
            tax_total,
            rounding,
            paid_back,
            op_seq
        ],
    )?;
    let mut line_ops = Vec::new();
    for (line, quantity, tax, total) in &refund_lines {
        tx.execute(
            "INSERT INTO refund_line (refund_id, line_no, quantity, tax_minor, total_minor)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![refund_id, line.line_no, quantity, tax, total],
        )?;
        tx.execute(
            "INSERT INTO stock_movement (product_id, delta, kind, ref_id, op_seq, created_at)
             VALUES (?1, ?2, 'refund', ?3, ?4, ?5)",
            params![line.product_id, quantity, refund_id, op_seq, now_ms],
        )?;
        line_ops.push(RefundLineOp {
            line_no: line.line_no,
            sku: line.sku.clone(),
            quantity: *quantity,
            tax_minor: *tax,
            total_minor: *total,
        });
    }
    for tender in &refund_tenders {
        tx.execute(
            "INSERT INTO refund_tender (refund_id, tender_no, kind, amount_minor, reference, points)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                refund_id,
                tender.tender_no,
                tender.kind.as_str(),
                tender.amount_minor,
                tender.reference,
                tender.points
            ],
        )?;
    }
    // The sale's refunded line totals before this refund, of all it sold.
    let sold: Minor = lines.iter().map(|line| line.total_minor).sum();
    let refunded_before: Minor = lines
        .iter()
        .map(|line| money::pro_rata_floor(line.total_minor, line.refunded, line.quantity))
        .sum();
    let member = members::record_refund(
        &tx,
        &sale.id,
        refund_id,
        op_seq,
        refunded_before,
        refunded_before + lines_total,
        sold,
        restored,
    )?;
    let op_type = if member.is_some() {
        outbox::REFUND_COMPLETED_V2
    } else {
        outbox::REFUND_COMPLETED
    };
    let op = RefundCompleted {
        refund_id: refund_id.to_owned(),
        receipt_no: refund_receipt.clone(),
        sale_id: sale.id.clone(),
        device_id: device.device_id.clone(),
        staff_id: session.id.clone(),
        approved_by: approval.manager_id.clone(),
        created_at_ms: now_ms,
        tax_minor: tax_total,
        rounding_minor: rounding,
        total_minor: paid_back,
        lines: line_ops,
        tenders: refund_tenders
            .iter()
            .map(|tender| TenderOp {
                kind: tender.kind.as_str().to_owned(),
                amount_minor: tender.amount_minor,
                reference: tender.reference.clone(),
            })
            .collect(),
        member,
    };
    outbox::append(&tx, op_seq, op_id, op_type, &op, now_ms)?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'refund.approved', ?3)",
        params![
            now_ms,
            approval.manager_id,
            format!(
                "refund {refund_receipt} of {} approved for {}",
                sale.receipt_no, session.name
            )
        ],
    )?;
    tx.commit()?;
    Ok(refund_receipt)
}
