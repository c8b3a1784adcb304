//! Writing sales and refunds to the ledger, and reading receipts back.
//!
//! Completing a sale is one `BEGIN IMMEDIATE` transaction that writes the sale, its lines and
//! tenders, one stock movement per line, and one outbox operation; it commits whole or not at
//! all. A refund is the same shape: refund rows, stock coming back, an outbox operation. Refund
//! amounts are shares of what each line actually took (`money::pro_rata_floor`), so refunding a
//! line in several steps gives back exactly its total and never more; the money goes back to
//! the sale's own tenders, cards first, each capped at what it paid less what it already got.
//!
//! Layout: this file writes sales and reads receipts back; `refunds` holds what can be
//! refunded, the refund quote and the refund itself.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::cart::{Cart, PricingRules};
use crate::error::{CoreError, CoreResult};
use crate::members;
use crate::money::Minor;
use crate::outbox::{self, SaleCompleted, SaleLineOp, TenderOp};
use crate::receipt::{Receipt, ReceiptKind, ReceiptLine, ReceiptTender, TenderKind};
use crate::settings::{StoreInfo, TaxMode};
use crate::staff::{self, StaffSession};

mod refunds;

pub use refunds::{QuotedLine, RefundQuote, RefundableLine, RefundableSale};
pub(crate) use refunds::{refund, refund_quote, refundable};

/// Who this till is, as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Device {
    pub device_id: String,
    pub receipt_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReceiptSummary {
    pub kind: ReceiptKind,
    pub receipt_no: String,
    pub created_at: String,
    pub total_minor: Minor,
    pub staff_name: String,
}

fn local_time(store: &StoreInfo, at_ms: i64) -> String {
    let offset = FixedOffset::east_opt(store.utc_offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
    match Utc.timestamp_millis_opt(at_ms).single() {
        Some(at) => at
            .with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => String::from("unknown time"),
    }
}

/// Writes a fully paid cart as a sale. Returns the sale's id and receipt number.
#[allow(clippy::too_many_arguments)]
pub(crate) fn complete_sale(
    conn: &mut Connection,
    device: &Device,
    store: &StoreInfo,
    rules: PricingRules,
    session: &StaffSession,
    cart: &Cart,
    sale_id: &str,
    op_id: &str,
    now: DateTime<Utc>,
) -> CoreResult<String> {
    if cart.is_empty() {
        return Err(CoreError::EmptyCart);
    }
    let totals = cart.totals(rules);
    if !totals.fully_paid {
        return Err(CoreError::NotPaid {
            due: totals.due_minor,
        });
    }
    let now_ms = now.timestamp_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let receipt_seq = outbox::next_counter(&tx, "receipt")?;
    let receipt_no = format!("{}-{receipt_seq:06}", device.receipt_prefix);
    let op_seq = outbox::next_counter(&tx, "outbox")?;

    tx.prepare_cached(
        "INSERT INTO sale (id, receipt_no, staff_id, created_at, currency, tax_mode, line_count,
             subtotal_minor, discount_minor, tax_minor, rounding_minor, total_minor, change_minor, op_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        sale_id,
        receipt_no,
        session.id,
        now_ms,
        store.currency,
        rules.tax_mode.as_str(),
        cart.lines().len() as i64,
        totals.subtotal_minor,
        totals.discount_minor,
        totals.tax_minor,
        totals.rounding_minor,
        totals.total_minor + totals.rounding_minor,
        totals.change_minor,
        op_seq,
    ])?;

    let mut line_ops = Vec::with_capacity(cart.lines().len());
    {
        let mut insert_line = tx.prepare_cached(
            "INSERT INTO sale_line (sale_id, line_no, product_id, sku, name, barcode, quantity,
                 unit_price_minor, discount_minor, tax_rate_bp, tax_minor, total_minor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut insert_movement = tx.prepare_cached(
            "INSERT INTO stock_movement (product_id, delta, kind, ref_id, op_seq, created_at)
             VALUES (?1, ?2, 'sale', ?3, ?4, ?5)",
        )?;
        for (index, (line, figures)) in cart.lines().iter().zip(&totals.lines).enumerate() {
            let line_no = index as i64 + 1;
            insert_line.execute(params![
                sale_id,
                line_no,
                line.item.product_id,
                line.item.sku,
                line.item.name,
                line.item.barcode,
                line.quantity,
                line.item.unit_price_minor,
                figures.discount_minor(),
                line.item.tax_rate_bp,
                figures.tax_minor,
                figures.total_minor,
            ])?;
            insert_movement.execute(params![
                line.item.product_id,
                -line.quantity,
                sale_id,
                op_seq,
                now_ms
            ])?;
            line_ops.push(SaleLineOp {
                line_no,
                sku: line.item.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: line.item.unit_price_minor,
                discount_minor: figures.discount_minor(),
                tax_rate_bp: line.item.tax_rate_bp,
                tax_minor: figures.tax_minor,
                total_minor: figures.total_minor,
            });
        }
        let mut insert_tender = tx.prepare_cached(
            "INSERT INTO sale_tender (sale_id, tender_no, kind, amount_minor, tendered_minor,
                 change_minor, reference, points)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (index, tender) in cart.tenders().iter().enumerate() {
            insert_tender.execute(params![
                sale_id,
                index as i64 + 1,
                tender.kind.as_str(),
                tender.amount_minor,
                tender.tendered_minor,
                tender.change_minor,
                tender.reference,
                tender.points,
            ])?;
        }
    }
    let member = members::record_sale(&tx, cart, &totals, sale_id, op_seq, now)?;
    let op_type = if member.is_some() {
        outbox::SALE_COMPLETED_V2
    } else {
        outbox::SALE_COMPLETED
    };
    let op = SaleCompleted {
        sale_id: sale_id.to_owned(),
        receipt_no: receipt_no.clone(),
        device_id: device.device_id.clone(),
        staff_id: session.id.clone(),
        created_at_ms: now_ms,
        currency: store.currency.clone(),
        tax_mode: rules.tax_mode.as_str().to_owned(),
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        rounding_minor: totals.rounding_minor,
        total_minor: totals.total_minor + totals.rounding_minor,
        lines: line_ops,
        tenders: cart
            .tenders()
            .iter()
            .map(|t| TenderOp {
                kind: t.kind.as_str().to_owned(),
                amount_minor: t.amount_minor,
                reference: t.reference.clone(),
            })
            .collect(),
        member,
    };
    outbox::append(&tx, op_seq, op_id, op_type, &op, now_ms)?;
    tx.commit()?;
    Ok(receipt_no)
}

struct SoldLine {
    line_no: i64,
    product_id: i64,
    sku: String,
    name: String,
    quantity: i64,
    tax_minor: Minor,
    total_minor: Minor,
    refunded: i64,
}

struct SaleHeader {
    id: String,
    receipt_no: String,
    created_at: i64,
    total_minor: Minor,
}

fn find_sale(conn: &Connection, receipt_no: &str) -> CoreResult<SaleHeader> {
    conn.prepare_cached(
        "SELECT id, receipt_no, created_at, total_minor FROM sale WHERE receipt_no = ?1",
    )?
    .query_row([receipt_no.trim()], |row| {
        Ok(SaleHeader {
            id: row.get(0)?,
            receipt_no: row.get(1)?,
            created_at: row.get(2)?,
            total_minor: row.get(3)?,
        })
    })
    .optional()?
    .ok_or_else(|| CoreError::NotFound(format!("sale receipt {}", receipt_no.trim())))
}

fn sold_lines(conn: &Connection, sale_id: &str) -> CoreResult<Vec<SoldLine>> {
    let mut statement = conn.prepare_cached(
        "SELECT l.line_no, l.product_id, l.sku, l.name, l.quantity, l.tax_minor, l.total_minor,
                COALESCE((SELECT sum(rl.quantity) FROM refund_line rl JOIN refund r ON r.id = rl.refund_id
                          WHERE r.sale_id = l.sale_id AND rl.line_no = l.line_no), 0)
         FROM sale_line l WHERE l.sale_id = ?1 ORDER BY l.line_no",
    )?;
    let rows = statement.query_map([sale_id], |row| {
        Ok(SoldLine {
            line_no: row.get(0)?,
            product_id: row.get(1)?,
            sku: row.get(2)?,
            name: row.get(3)?,
            quantity: row.get(4)?,
            tax_minor: row.get(5)?,
            total_minor: row.get(6)?,
            refunded: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn sale_tenders(conn: &Connection, sale_id: &str) -> CoreResult<Vec<(i64, ReceiptTender)>> {
    let mut statement = conn.prepare_cached(
        "SELECT tender_no, kind, amount_minor, tendered_minor, change_minor, reference, points
         FROM sale_tender WHERE sale_id = ?1 ORDER BY tender_no",
    )?;
    let rows = statement.query_map([sale_id], |row| {
        let kind: String = row.get(1)?;
        Ok((
            row.get::<_, i64>(0)?,
            ReceiptTender {
                kind: TenderKind::parse(&kind).unwrap_or(TenderKind::Cash),
                amount_minor: row.get(2)?,
                tendered_minor: row.get(3)?,
                change_minor: row.get(4)?,
                reference: row.get(5)?,
                points: row.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Reads back any receipt, sale or refund, by its number.
pub(crate) fn receipt(
    conn: &Connection,
    store: &StoreInfo,
    receipt_no: &str,
) -> CoreResult<Receipt> {
    let receipt_no = receipt_no.trim();
    if receipt_no.is_empty() || receipt_no.len() > 40 {
        return Err(CoreError::NotFound(format!("receipt {receipt_no:?}")));
    }
    if let Some(receipt) = sale_receipt(conn, store, receipt_no)? {
        return Ok(receipt);
    }
    if let Some(receipt) = refund_receipt(conn, store, receipt_no)? {
        return Ok(receipt);
    }
    Err(CoreError::NotFound(format!("receipt {receipt_no}")))
}

fn sale_receipt(
    conn: &Connection,
    store: &StoreInfo,
    receipt_no: &str,
) -> CoreResult<Option<Receipt>> {
    let header = conn
        .prepare_cached(
            "SELECT id, staff_id, created_at, currency, tax_mode, subtotal_minor, discount_minor,
                    tax_minor, rounding_minor, total_minor, change_minor
             FROM sale WHERE receipt_no = ?1",
        )?
        .query_row([receipt_no], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                [
                    row.get::<_, i64>(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                ],
            ))
        })
        .optional()?;
    let Some((sale_id, staff_id, created_at, currency, tax_mode, figures)) = header else {
        return Ok(None);
    };
    let [subtotal, discount, tax, rounding, total, change] = figures;
    let mut statement = conn.prepare_cached(
        "SELECT name, sku, quantity, unit_price_minor, discount_minor, total_minor
         FROM sale_line WHERE sale_id = ?1 ORDER BY line_no",
    )?;
    let lines = statement
        .query_map([&sale_id], |row| {
            Ok(ReceiptLine {
                name: row.get(0)?,
                sku: row.get(1)?,
                quantity: row.get(2)?,
                unit_price_minor: row.get(3)?,
                discount_minor: row.get(4)?,
                total_minor: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(Receipt {
        kind: ReceiptKind::Sale,
        receipt_no: receipt_no.to_owned(),
        original_receipt_no: None,
        created_at: local_time(store, created_at),
        store_name: store.name.clone(),
        staff_name: staff::name_of(conn, &staff_id)?,
        approved_by: None,
        currency,
        currency_exponent: store.currency_exponent,
        tax_mode: TaxMode::parse(&tax_mode).unwrap_or(store.tax_mode),
        lines,
        subtotal_minor: subtotal,
        discount_minor: discount,
        tax_minor: tax,
        rounding_minor: rounding,
        total_minor: total,
        tenders: sale_tenders(conn, &sale_id)?
            .into_iter()
            .map(|(_, t)| t)
            .collect(),
        change_minor: change,
        member: members::sale_receipt_member(conn, &sale_id)?,
    }))
}

fn refund_receipt(
    conn: &Connection,
    store: &StoreInfo,
    receipt_no: &str,
) -> CoreResult<Option<Receipt>> {
    let header = conn
        .prepare_cached(
            "SELECT r.id, r.staff_id, r.approved_by, r.created_at, s.receipt_no, s.currency, s.tax_mode,
                    r.tax_minor, r.rounding_minor, r.total_minor, s.id
             FROM refund r JOIN sale s ON s.id = r.sale_id WHERE r.receipt_no = ?1",
        )?
        .query_row([receipt_no], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                [row.get::<_, i64>(7)?, row.get(8)?, row.get(9)?],
                row.get::<_, String>(10)?,
            ))
        })
        .optional()?;
    let Some((
        refund_id,
        staff_id,
        approver_id,
        created_at,
        original,
        currency,
        tax_mode,
        figures,
        sale_id,
    )) = header
    else {
        return Ok(None);
    };
    let [tax, rounding, total] = figures;
    let mut statement = conn.prepare_cached(
        "SELECT l.name, l.sku, rl.quantity, l.unit_price_minor, rl.total_minor
         FROM refund_line rl JOIN sale_line l ON l.sale_id = ?2 AND l.line_no = rl.line_no
         WHERE rl.refund_id = ?1 ORDER BY rl.line_no",
    )?;
    let lines: Vec<ReceiptLine> = statement
        .query_map(params![refund_id, sale_id], |row| {
            Ok(ReceiptLine {
                name: row.get(0)?,
                sku: row.get(1)?,
                quantity: row.get(2)?,
                unit_price_minor: row.get(3)?,
                discount_minor: 0,
                total_minor: row.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut statement = conn.prepare_cached(
        "SELECT kind, amount_minor, reference, points FROM refund_tender WHERE refund_id = ?1
         ORDER BY tender_no",
    )?;
    let tenders = statement
        .query_map([&refund_id], |row| {
            let kind: String = row.get(0)?;
            let amount: Minor = row.get(1)?;
            Ok(ReceiptTender {
                kind: TenderKind::parse(&kind).unwrap_or(TenderKind::Cash),
                amount_minor: amount,
                tendered_minor: amount,
                change_minor: 0,
                reference: row.get(2)?,
                points: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let subtotal = lines.iter().map(|line| line.total_minor).sum();
    Ok(Some(Receipt {
        kind: ReceiptKind::Refund,
        receipt_no: receipt_no.to_owned(),
        original_receipt_no: Some(original),
        created_at: local_time(store, created_at),
        store_name: store.name.clone(),
        staff_name: staff::name_of(conn, &staff_id)?,
        approved_by: Some(staff::name_of(conn, &approver_id)?),
        currency,
        currency_exponent: store.currency_exponent,
        tax_mode: TaxMode::parse(&tax_mode).unwrap_or(store.tax_mode),
        lines,
        subtotal_minor: subtotal,
        discount_minor: 0,
        tax_minor: tax,
        rounding_minor: rounding,
        total_minor: total,
        tenders,
        change_minor: 0,
        member: members::refund_receipt_member(conn, &refund_id)?,
    }))
}

/// The most recent receipts, newest first. Each table is read through its time index and the
/// two short lists are merged, so this stays fast with millions of sales.
pub(crate) fn recent(
    conn: &Connection,
    store: &StoreInfo,
    limit: usize,
) -> CoreResult<Vec<ReceiptSummary>> {
    let mut rows: Vec<(ReceiptKind, String, i64, Minor, String)> = Vec::new();
    for (kind, sql) in [
        (
            ReceiptKind::Sale,
            "SELECT receipt_no, created_at, total_minor, staff_id FROM sale
             ORDER BY created_at DESC LIMIT ?1",
        ),
        (
            ReceiptKind::Refund,
            "SELECT receipt_no, created_at, total_minor, staff_id FROM refund
             ORDER BY created_at DESC LIMIT ?1",
        ),
    ] {
        let mut statement = conn.prepare_cached(sql)?;
        let found = statement.query_map([limit as i64], |row| {
            Ok((kind, row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
        for row in found {
            rows.push(row?);
        }
    }
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| b.1.cmp(&a.1)));
    rows.truncate(limit);
    rows.into_iter()
        .map(|(kind, receipt_no, created_at, total_minor, staff_id)| {
            Ok(ReceiptSummary {
                kind,
                receipt_no,
                created_at: local_time(store, created_at),
                total_minor,
                staff_name: staff::name_of(conn, &staff_id)?,
            })
        })
        .collect()
}
