//! The sync endpoints' logic: applying a till's pushed operations exactly once, and serving
//! its store's change feed.
//!
//! A push is one write transaction. Operations must continue the device's sequence: those at
//! or below its last applied `seq` are duplicates and change nothing; a gap refuses the whole
//! push before anything is written. Each new operation runs inside a savepoint: a business
//! refusal (an unknown sale, a malformed payload, an operation type this cloud does not know)
//! rolls back only that operation's rows and is stored as its outcome, and the operations behind
//! it go on. The device's `last_applied_seq` moves with every operation, refused or not.

use omnitill_protocol::ops::{REFUND_COMPLETED, RefundCompleted, SALE_COMPLETED, SaleCompleted};
use omnitill_protocol::pull::PullResponse;
use omnitill_protocol::push::{Outcome, PushRequest, PushResponse, Status};
use omnitill_protocol::{MAX_PULL_CHANGES, MAX_PUSH_OPS};
use sqlx::AnyConnection;

use crate::db::{Backend, Db, now_ms};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};
use crate::stock;

/// Why an operation was refused, stored as its outcome.
struct Refusal(String);

/// Applies a push from `device`.
pub async fn push(db: &Db, device: &Device, request: &PushRequest) -> CloudResult<PushResponse> {
    if request.operations.len() > MAX_PUSH_OPS {
        return Err(CloudError::BadRequest(format!(
            "a push carries at most {MAX_PUSH_OPS} operations, not {}",
            request.operations.len()
        )));
    }
    for pair in request.operations.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            return Err(CloudError::BadRequest(format!(
                "operations must be in seq order without gaps ({} then {})",
                pair[0].seq, pair[1].seq
            )));
        }
    }
    let mut tx = db.write.begin().await?;
    let lock = match db.backend {
        Backend::Postgres => {
            "SELECT last_applied_seq, revoked_at FROM device WHERE id = $1 FOR UPDATE"
        }
        Backend::Sqlite => "SELECT last_applied_seq, revoked_at FROM device WHERE id = $1",
    };
    let (mut last, revoked): (i64, Option<i64>) = sqlx::query_as(lock)
        .bind(&device.id)
        .fetch_one(&mut *tx)
        .await?;
    if revoked.is_some() {
        return Err(CloudError::Revoked);
    }
    if let Some(first) = request.operations.first()
        && first.seq > last + 1
    {
        return Err(CloudError::SequenceGap {
            expected: last + 1,
            got: first.seq,
        });
    }
    // A re-sent operation changes nothing. If the cloud refused it the first time, it says so
    // again with the stored reason: the till may never have received the first answer, and the
    // refusal must still reach its manager's review list.
    let mut refused_before: std::collections::HashMap<i64, String> = Default::default();
    if let Some(first) = request.operations.first()
        && first.seq <= last
    {
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT seq, reason FROM operation
             WHERE device_id = $1 AND seq BETWEEN $2 AND $3 AND status = 'rejected'",
        )
        .bind(&device.id)
        .bind(first.seq)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        refused_before = rows
            .into_iter()
            .map(|(seq, reason)| (seq, reason.unwrap_or_default()))
            .collect();
    }
    let mut outcomes = Vec::with_capacity(request.operations.len());
    for op in &request.operations {
        if op.seq <= last {
            let (status, reason) = match refused_before.remove(&op.seq) {
                Some(reason) => (Status::Rejected, Some(reason)),
                None => (Status::Duplicate, None),
            };
            outcomes.push(Outcome {
                seq: op.seq,
                op_id: op.op_id.clone(),
                status,
                reason,
            });
            continue;
        }
        sqlx::raw_sql("SAVEPOINT op").execute(&mut *tx).await?;
        let applied = apply(&mut tx, device, &op.op_type, &op.payload, &op.op_id).await;
        let (status, reason) = match applied {
            Ok(()) => {
                sqlx::raw_sql("RELEASE SAVEPOINT op")
                    .execute(&mut *tx)
                    .await?;
                (Status::Applied, None)
            }
            Err(ApplyError::Refused(Refusal(reason))) => {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT op")
                    .execute(&mut *tx)
                    .await?;
                sqlx::raw_sql("RELEASE SAVEPOINT op")
                    .execute(&mut *tx)
                    .await?;
                (Status::Rejected, Some(reason))
            }
            Err(ApplyError::Failed(error)) => return Err(error),
        };
        let payload = op.payload.to_string();
        let recorded = sqlx::query(
            "INSERT INTO operation (op_id, device_id, seq, op_type, status, reason, payload, applied_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (op_id) DO NOTHING",
        )
        .bind(&op.op_id)
        .bind(&device.id)
        .bind(op.seq)
        .bind(&op.op_type)
        .bind(status_text(status))
        .bind(reason.clone())
        .bind(payload)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 0 {
            return Err(CloudError::BadRequest(format!(
                "operation id {} was already used by another operation",
                op.op_id
            )));
        }
        last = op.seq;
        outcomes.push(Outcome {
            seq: op.seq,
            op_id: op.op_id.clone(),
            status,
            reason,
        });
    }
    sqlx::query("UPDATE device SET last_applied_seq = $1 WHERE id = $2")
        .bind(last)
        .bind(&device.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(PushResponse {
        outcomes,
        last_applied_seq: last,
    })
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Applied => "applied",
        Status::Duplicate => "duplicate",
        Status::Rejected => "rejected",
    }
}

enum ApplyError {
    Refused(Refusal),
    Failed(CloudError),
}

impl From<sqlx::Error> for ApplyError {
    fn from(error: sqlx::Error) -> ApplyError {
        ApplyError::Failed(CloudError::Database(error))
    }
}

impl From<CloudError> for ApplyError {
    fn from(error: CloudError) -> ApplyError {
        ApplyError::Failed(error)
    }
}

fn refuse(reason: impl Into<String>) -> ApplyError {
    ApplyError::Refused(Refusal(reason.into()))
}

async fn apply(
    tx: &mut AnyConnection,
    device: &Device,
    op_type: &str,
    payload: &serde_json::Value,
    op_id: &str,
) -> Result<(), ApplyError> {
    match op_type {
        SALE_COMPLETED => {
            let sale: SaleCompleted = serde_json::from_value(payload.clone())
                .map_err(|e| refuse(format!("the sale payload is malformed: {e}")))?;
            apply_sale(tx, device, &sale, op_id).await
        }
        REFUND_COMPLETED => {
            let refund: RefundCompleted = serde_json::from_value(payload.clone())
                .map_err(|e| refuse(format!("the refund payload is malformed: {e}")))?;
            apply_refund(tx, device, &refund).await
        }
        other => Err(refuse(format!(
            "operation type {other:?} is not known to this cloud (it knows {SALE_COMPLETED}, \
             {REFUND_COMPLETED}); update the cloud service"
        ))),
    }
}

async fn apply_sale(
    tx: &mut AnyConnection,
    device: &Device,
    sale: &SaleCompleted,
    op_id: &str,
) -> Result<(), ApplyError> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM sale WHERE id = $1 OR receipt_no = $2")
            .bind(&sale.sale_id)
            .bind(&sale.receipt_no)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_some() {
        return Err(refuse(format!(
            "sale {} is already recorded",
            sale.receipt_no
        )));
    }
    if sale.lines.is_empty() {
        return Err(refuse("a sale without lines"));
    }
    sqlx::query(
        "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
             currency, tax_minor, total_minor, payload)
         VALUES ($1, $2, $3, 'store', $4, $5, $6, $7, $8, $9, $10)",
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
    for line in &sale.lines {
        if line.quantity <= 0 {
            return Err(refuse(format!(
                "line {} has quantity {}",
                line.line_no, line.quantity
            )));
        }
        sqlx::query(
            "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&sale.sale_id)
        .bind(line.line_no)
        .bind(&line.sku)
        .bind(line.quantity)
        .bind(line.total_minor)
        .execute(&mut *tx)
        .await?;
        let movement = format!("{op_id}:{}", line.line_no);
        stock::move_stock(
            &mut *tx,
            &movement,
            &device.store_id,
            &line.sku,
            -line.quantity,
            "sale",
            &sale.sale_id,
            sale.created_at_ms,
        )
        .await?;
    }
    Ok(())
}

async fn apply_refund(
    tx: &mut AnyConnection,
    device: &Device,
    refund: &RefundCompleted,
) -> Result<(), ApplyError> {
    let sale: Option<(String,)> = sqlx::query_as("SELECT store_id FROM sale WHERE id = $1")
        .bind(&refund.sale_id)
        .fetch_optional(&mut *tx)
        .await?;
    match sale {
        None => {
            return Err(refuse(format!(
                "refund {} names an unknown sale",
                refund.receipt_no
            )));
        }
        Some((store_id,)) if store_id != device.store_id => {
            return Err(refuse(format!(
                "refund {} is for another store's sale",
                refund.receipt_no
            )));
        }
        Some(_) => {}
    }
    sqlx::query(
        "INSERT INTO refund (id, sale_id, store_id, device_id, receipt_no, created_at, total_minor, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
    for line in &refund.lines {
        sqlx::query(
            "INSERT INTO refund_line (refund_id, line_no, sku, quantity) VALUES ($1, $2, $3, $4)",
        )
        .bind(&refund.refund_id)
        .bind(line.line_no)
        .bind(&line.sku)
        .bind(line.quantity)
        .execute(&mut *tx)
        .await?;
        let movement = format!("{}:{}", refund.refund_id, line.line_no);
        stock::move_stock(
            &mut *tx,
            &movement,
            &device.store_id,
            &line.sku,
            line.quantity,
            "refund",
            &refund.refund_id,
            refund.created_at_ms,
        )
        .await?;
    }
    Ok(())
}

/// A page of `device`'s store feed after `cursor`.
pub async fn pull(db: &Db, device: &Device, cursor: i64, limit: i64) -> CloudResult<PullResponse> {
    if cursor < 0 {
        return Err(CloudError::BadRequest(
            "the cursor cannot be negative".into(),
        ));
    }
    let limit = limit.clamp(1, MAX_PULL_CHANGES as i64);
    let mut tx = db.read.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    // The checkpoint is read first: the entries read after it include at least those writes.
    let (last_applied_seq,): (i64,) =
        sqlx::query_as("SELECT last_applied_seq FROM device WHERE id = $1")
            .bind(&device.id)
            .fetch_one(&mut *tx)
            .await?;
    let (newest,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(value), 0) FROM counter WHERE name = 'feed'")
            .fetch_one(&mut *tx)
            .await?;
    let floor = feed::floor(&mut tx).await?;
    if cursor > newest || (cursor > 0 && cursor < floor) {
        // Either the till has seen cursors this database never issued (the cloud was restored
        // or replaced), or its cursor is older than the feed keeps (rows after it were
        // pruned). Either way it must download its reference data again.
        tx.commit().await?;
        return Ok(PullResponse {
            entries: Vec::new(),
            cursor: 0,
            has_more: true,
            reset: true,
            last_applied_seq,
            remaining: 0,
        });
    }
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT cursor, data FROM feed WHERE scope IN ($1, $2) AND cursor > $3 ORDER BY cursor LIMIT $4",
    )
    .bind(ALL_STORES)
    .bind(&device.store_id)
    .bind(cursor)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let next = rows.last().map_or(cursor, |row| row.0);
    let (remaining,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM feed WHERE scope IN ($1, $2) AND cursor > $3")
            .bind(ALL_STORES)
            .bind(&device.store_id)
            .bind(next)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(PullResponse {
        entries: rows.iter().map(|(c, data)| feed::entry(*c, data)).collect(),
        cursor: next,
        has_more: remaining > 0,
        reset: false,
        last_applied_seq,
        remaining,
    })
}
