//! The sync endpoints' logic: applying a till's pushed operations exactly once, and serving
//! its store's change feed.
//!
//! A push is one write transaction. Operations must continue the device's sequence: those at
//! or below its last applied `seq` are duplicates and change nothing; a gap refuses the whole
//! push before anything is written. Each new operation runs inside a savepoint: a business
//! refusal (an unknown sale, a malformed payload, an operation type this cloud does not know)
//! rolls back only that operation's rows and is stored as its outcome, and the operations behind
//! it go on. The device's `last_applied_seq` moves with every operation, refused or not.
//!
//! An operation writes its rows with a few multi-row statements (its lines, its stock
//! movements, their levels). The stock levels a push changed are published to the store's feed
//! once, at the end of the push transaction, and its operations are recorded together: readers
//! see the transaction whole, and the feed keeps only the newest level of each SKU, so this
//! leaves what publishing after every movement would. Pages of the feed are read by `pull`.

use omnitill_protocol::ops::{
    CONFLICT_RESOLVED, ConflictResolved, MEMBER_ENROLLED, MemberEnrolled, REFUND_COMPLETED,
    REFUND_COMPLETED_V2, RefundCompleted, SALE_COMPLETED, SALE_COMPLETED_V2, SaleCompleted,
};
use omnitill_protocol::push::{Operation, Outcome, PushRequest, PushResponse, Status};
use omnitill_protocol::{MAX_PULL_CHANGES, MAX_PUSH_OPS};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::AnyConnection;

use crate::db::{Backend, Db, batch_statement, now_ms, value_rows};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};
use crate::{members, stock};

/// Why an operation was refused, stored as its outcome.
struct Refusal(String);

/// Rows of the `operation` table one statement writes at most.
const RECORD_CHUNK: usize = 100;

/// An operation applied or refused in this push, to be recorded.
struct Recorded<'a> {
    op: &'a Operation,
    status: Status,
    reason: Option<String>,
}

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
    let mut recorded = Vec::with_capacity(request.operations.len());
    // SKUs whose stock this push changed; their new levels are published once, at the end.
    let mut touched = Touched::default();
    // Whether the savepoint of the operation before is still open: it is released in the same
    // round trip that opens the next one.
    let mut open = false;
    let operations = &request.operations;
    // Operations before this index are applied one at a time: a run of plain sales that could
    // not be applied together (one of them was already recorded) is retried op by op.
    let mut one_by_one_until = 0;
    let mut index = 0;
    while index < operations.len() {
        let op = &operations[index];
        index += 1;
        if op.seq > last && index > one_by_one_until && db.backend == Backend::Sqlite {
            let run = plain_sales_run(&operations[index - 1..]);
            if run.len() >= 2 {
                let begin = if open {
                    "RELEASE SAVEPOINT op; SAVEPOINT run"
                } else {
                    "SAVEPOINT run"
                };
                sqlx::raw_sql(begin).execute(&mut *tx).await?;
                open = false;
                let ops = &operations[index - 1..index - 1 + run.len()];
                if apply_sales_run(&mut tx, device, ops, &run, &mut touched).await? {
                    sqlx::raw_sql("RELEASE SAVEPOINT run")
                        .execute(&mut *tx)
                        .await?;
                    for op in ops {
                        last = op.seq;
                        outcomes.push(Outcome {
                            seq: op.seq,
                            op_id: op.op_id.clone(),
                            status: Status::Applied,
                            reason: None,
                        });
                        recorded.push(Recorded {
                            op,
                            status: Status::Applied,
                            reason: None,
                        });
                    }
                    index += run.len() - 1;
                    continue;
                }
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT run; RELEASE SAVEPOINT run")
                    .execute(&mut *tx)
                    .await?;
                one_by_one_until = index - 1 + run.len();
            }
        }
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
        let begin = if open {
            "RELEASE SAVEPOINT op; SAVEPOINT op"
        } else {
            "SAVEPOINT op"
        };
        sqlx::raw_sql(begin).execute(&mut *tx).await?;
        open = true;
        let mut skus = Vec::new();
        let applied = apply(&mut tx, db.backend, device, op, &mut skus).await;
        let (status, reason) = match applied {
            Ok(()) => {
                touched.add(skus);
                (Status::Applied, None)
            }
            Err(ApplyError::Refused(Refusal(reason))) => {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                    .execute(&mut *tx)
                    .await?;
                open = false;
                (Status::Rejected, Some(reason))
            }
            Err(ApplyError::Failed(error)) => return Err(error),
        };
        last = op.seq;
        outcomes.push(Outcome {
            seq: op.seq,
            op_id: op.op_id.clone(),
            status,
            reason: reason.clone(),
        });
        recorded.push(Recorded { op, status, reason });
    }
    if open {
        sqlx::raw_sql("RELEASE SAVEPOINT op")
            .execute(&mut *tx)
            .await?;
    }
    record_operations(&mut tx, device, &recorded).await?;
    stock::publish_levels(&mut tx, &device.store_id, &touched.skus).await?;
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

/// SKUs in first-touched order, each once.
#[derive(Default)]
struct Touched {
    skus: Vec<String>,
    seen: std::collections::HashSet<String>,
}

impl Touched {
    fn add(&mut self, skus: Vec<String>) {
        for sku in skus {
            if self.seen.insert(sku.clone()) {
                self.skus.push(sku);
            }
        }
    }
}

/// Stores every operation of the push with its outcome, exactly once per op_id and per
/// (device, seq). An op_id that another operation already used refuses the whole push.
async fn record_operations(
    tx: &mut AnyConnection,
    device: &Device,
    recorded: &[Recorded<'_>],
) -> CloudResult<()> {
    let now = now_ms();
    for chunk in recorded.chunks(RECORD_CHUNK) {
        let insert = format!(
            "INSERT INTO operation (op_id, device_id, seq, op_type, status, reason, payload, applied_at)
             VALUES {} ON CONFLICT (op_id) DO NOTHING",
            value_rows(chunk.len(), 8)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for entry in chunk {
            query = query
                .bind(entry.op.op_id.as_str())
                .bind(device.id.as_str())
                .bind(entry.op.seq)
                .bind(entry.op.op_type.as_str())
                .bind(status_text(entry.status))
                .bind(entry.reason.clone())
                .bind(entry.op.payload.to_string())
                .bind(now);
        }
        let written = query.execute(&mut *tx).await?.rows_affected();
        if written == chunk.len() as u64 {
            continue;
        }
        // Some op_id was taken: name it.
        for entry in chunk {
            let owner: Option<(String, i64)> =
                sqlx::query_as("SELECT device_id, seq FROM operation WHERE op_id = $1")
                    .bind(entry.op.op_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if owner.is_some_and(|(owner, seq)| owner != device.id || seq != entry.op.seq) {
                return Err(CloudError::BadRequest(format!(
                    "operation id {} was already used by another operation",
                    entry.op.op_id
                )));
            }
        }
        return Err(CloudError::BadRequest(
            "an operation id in this push was already used by another operation".into(),
        ));
    }
    Ok(())
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

/// Applies one operation inside its savepoint; the SKUs whose stock it moved go to `touched`.
async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    device: &Device,
    op: &Operation,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
    match op.op_type.as_str() {
        SALE_COMPLETED | SALE_COMPLETED_V2 => {
            let sale = SaleCompleted::deserialize(&op.payload)
                .map_err(|e| refuse(format!("the sale payload is malformed: {e}")))?;
            let member = match (op.op_type.as_str(), &sale.member) {
                (SALE_COMPLETED, _) => None,
                (_, Some(member)) => {
                    members::check_sale_member(member).map_err(refuse)?;
                    Some(member)
                }
                (_, None) => return Err(refuse("a member sale without its member")),
            };
            apply_sale(tx, backend, device, &sale, &op.op_id, touched).await?;
            if let Some(member) = member {
                members::apply_sale_member(
                    tx,
                    &device.id,
                    &device.store_id,
                    &sale,
                    member,
                    &op.op_id,
                )
                .await?;
            }
            Ok(())
        }
        REFUND_COMPLETED | REFUND_COMPLETED_V2 => {
            let refund = RefundCompleted::deserialize(&op.payload)
                .map_err(|e| refuse(format!("the refund payload is malformed: {e}")))?;
            let member = match (op.op_type.as_str(), &refund.member) {
                (REFUND_COMPLETED, _) => None,
                (_, Some(member)) => {
                    members::check_refund_member(member).map_err(refuse)?;
                    Some(member)
                }
                (_, None) => return Err(refuse("a member refund without its member")),
            };
            apply_refund(tx, device, &refund, touched).await?;
            if let Some(member) = member {
                members::apply_refund_member(tx, &device.store_id, &refund, member, &op.op_id)
                    .await?;
            }
            Ok(())
        }
        MEMBER_ENROLLED => {
            let enrolled = MemberEnrolled::deserialize(&op.payload)
                .map_err(|e| refuse(format!("the enrolment payload is malformed: {e}")))?;
            members::apply_enrolment(tx, &device.store_id, &enrolled)
                .await?
                .map_err(refuse)
        }
        CONFLICT_RESOLVED => {
            let resolved = ConflictResolved::deserialize(&op.payload)
                .map_err(|e| refuse(format!("the resolution payload is malformed: {e}")))?;
            if resolved.note.trim().is_empty() || resolved.note.chars().count() > 500 {
                return Err(refuse("a resolution needs a note of 1 to 500 characters"));
            }
            members::resolve_conflict(
                tx,
                &device.store_id,
                &resolved.conflict_id,
                resolved.note.trim(),
                &resolved.resolved_by,
                resolved.resolved_at_ms,
            )
            .await?;
            Ok(())
        }
        other => Err(refuse(format!(
            "operation type {other:?} is not known to this cloud (it knows {SALE_COMPLETED}, \
             {SALE_COMPLETED_V2}, {REFUND_COMPLETED}, {REFUND_COMPLETED_V2}, {MEMBER_ENROLLED}, \
             {CONFLICT_RESOLVED}); update the cloud service"
        ))),
    }
}

/// Plain sales (`sale.completed.v1`) at the start of `operations` that decode and whose lines
/// are sound: what `apply_sales_run` may apply together. Anything else ends the run.
fn plain_sales_run(operations: &[Operation]) -> Vec<SaleCompleted> {
    operations
        .iter()
        .take(MAX_RUN)
        .map_while(|op| {
            if op.op_type != SALE_COMPLETED {
                return None;
            }
            let sale = SaleCompleted::deserialize(&op.payload).ok()?;
            let sound = !sale.lines.is_empty() && sale.lines.iter().all(|l| l.quantity > 0);
            sound.then_some(sale)
        })
        .collect()
}

/// The most plain sales applied together.
const MAX_RUN: usize = 500;
/// Sales per multi-row statement (11 parameters each).
const SALE_CHUNK: usize = 80;
/// Lines or levels per multi-row statement (5 or 3 parameters each).
const LINE_CHUNK: usize = 400;
/// Movements per multi-row statement (7 parameters each).
const MOVEMENT_CHUNK: usize = 250;

/// Applies a run of plain sales on SQLite with a few multi-row statements for the whole run
/// instead of several per sale, which is most of a backlog's cost there (each statement is a
/// hand-over to sqlx's SQLite thread). The rows are exactly those `apply_sale` writes for each.
/// Answers false, having written something the caller must roll back, when a sale of the run
/// is already recorded: the caller then applies the run one by one, which refuses that sale
/// alone.
async fn apply_sales_run(
    tx: &mut AnyConnection,
    device: &Device,
    ops: &[Operation],
    sales: &[SaleCompleted],
    touched: &mut Touched,
) -> CloudResult<bool> {
    let mut inserted = 0;
    for chunk in sales.chunks(SALE_CHUNK) {
        let insert = format!(
            "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
                 currency, tax_minor, total_minor, payload)
             VALUES {} ON CONFLICT DO NOTHING",
            (0..chunk.len())
                .map(|row| {
                    let p = row * 10;
                    format!(
                        "(${}, ${}, ${}, 'store', ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8,
                        p + 9,
                        p + 10
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = sqlx::query(batch_statement(insert));
        for sale in chunk {
            query = query
                .bind(sale.sale_id.as_str())
                .bind(device.store_id.as_str())
                .bind(device.id.as_str())
                .bind(sale.receipt_no.as_str())
                .bind(sale.staff_id.as_str())
                .bind(sale.created_at_ms)
                .bind(sale.currency.as_str())
                .bind(sale.tax_minor)
                .bind(sale.total_minor)
                .bind(serde_json::to_string(sale).unwrap_or_default());
        }
        inserted += query.execute(&mut *tx).await?.rows_affected();
    }
    if inserted != sales.len() as u64 {
        return Ok(false);
    }
    let lines: Vec<(&SaleCompleted, &omnitill_protocol::ops::SaleLineOp)> = sales
        .iter()
        .flat_map(|sale| sale.lines.iter().map(move |line| (sale, line)))
        .collect();
    for chunk in lines.chunks(LINE_CHUNK) {
        let insert = format!(
            "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor) VALUES {}",
            value_rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (sale, line) in chunk {
            query = query
                .bind(sale.sale_id.as_str())
                .bind(line.line_no)
                .bind(line.sku.as_str())
                .bind(line.quantity)
                .bind(line.total_minor);
        }
        query.execute(&mut *tx).await?;
    }
    let movements: Vec<(String, &SaleCompleted, &omnitill_protocol::ops::SaleLineOp)> = ops
        .iter()
        .zip(sales)
        .flat_map(|(op, sale)| {
            sale.lines
                .iter()
                .map(move |line| (format!("{}:{}", op.op_id, line.line_no), sale, line))
        })
        .collect();
    for chunk in movements.chunks(MOVEMENT_CHUNK) {
        let insert = format!(
            "INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
             VALUES {}",
            value_rows(chunk.len(), 7)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (id, sale, line) in chunk {
            query = query
                .bind(id.as_str())
                .bind(device.store_id.as_str())
                .bind(line.sku.as_str())
                .bind(-line.quantity)
                .bind("sale")
                .bind(sale.sale_id.as_str())
                .bind(sale.created_at_ms);
        }
        query.execute(&mut *tx).await?;
    }
    // One row per SKU: an upsert may not touch the same row twice in one statement.
    let mut deltas: Vec<(&str, i64)> = Vec::new();
    let mut position: std::collections::HashMap<&str, usize> = Default::default();
    for (_, _, line) in &movements {
        match position.get(line.sku.as_str()) {
            Some(&at) => deltas[at].1 -= line.quantity,
            None => {
                position.insert(line.sku.as_str(), deltas.len());
                deltas.push((line.sku.as_str(), -line.quantity));
            }
        }
    }
    for chunk in deltas.chunks(LINE_CHUNK) {
        let upsert = format!(
            "INSERT INTO stock_level (store_id, sku, on_hand) VALUES {}
             ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand",
            value_rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(batch_statement(upsert));
        for (sku, delta) in chunk {
            query = query.bind(device.store_id.as_str()).bind(*sku).bind(*delta);
        }
        query.execute(&mut *tx).await?;
    }
    touched.add(deltas.iter().map(|(sku, _)| (*sku).to_owned()).collect());
    Ok(true)
}

async fn apply_sale(
    tx: &mut AnyConnection,
    backend: Backend,
    device: &Device,
    sale: &SaleCompleted,
    op_id: &str,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
    let lines_valid = !sale.lines.is_empty() && sale.lines.iter().all(|line| line.quantity > 0);
    if backend == Backend::Postgres && lines_valid {
        return apply_sale_on_postgres(tx, device, sale, op_id, touched).await;
    }
    // A sale id or receipt number seen before is the same sale told twice.
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
        return Err(refuse(format!(
            "sale {} is already recorded",
            sale.receipt_no
        )));
    }
    if sale.lines.is_empty() {
        return Err(refuse("a sale without lines"));
    }
    if let Some(line) = sale.lines.iter().find(|line| line.quantity <= 0) {
        return Err(refuse(format!(
            "line {} has quantity {}",
            line.line_no, line.quantity
        )));
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
    touched.extend(sale.lines.iter().map(|line| line.sku.clone()));
    Ok(())
}

/// The same rows as `apply_sale` writes, in one statement on PostgreSQL: data-modifying
/// common table expressions insert the sale, its lines, its stock movements and the new
/// levels, and nothing but the sale row when the sale is already recorded. Every statement is
/// a round trip to the server, so this is a quarter of the round trips per sale. The lines
/// must be checked (some, each with a positive quantity) before.
async fn apply_sale_on_postgres(
    tx: &mut AnyConnection,
    device: &Device,
    sale: &SaleCompleted,
    op_id: &str,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
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
    if inserted == 0 {
        return Err(refuse(format!(
            "sale {} is already recorded",
            sale.receipt_no
        )));
    }
    touched.extend(sale.lines.iter().map(|line| line.sku.clone()));
    Ok(())
}

async fn apply_refund(
    tx: &mut AnyConnection,
    device: &Device,
    refund: &RefundCompleted,
    touched: &mut Vec<String>,
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
    if refund.lines.is_empty() {
        return Ok(());
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
    Ok(())
}

/// One feed entry as the cloud stored it: the change is passed through as the JSON that
/// `feed::publish` wrote, without decoding and encoding it again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredEntry {
    pub cursor: i64,
    /// One change: an object whose `kind` names it (`store`, `tax_class`, `product`, `stock`,
    /// `loyalty_rules`, `member_keys`, `member`, `member_gone`, `conflict`) beside its fields.
    #[schema(value_type = Object)]
    pub change: Box<RawValue>,
}

/// A page of the change feed, in the wire shape of `omnitill_protocol::pull::PullResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub entries: Vec<StoredEntry>,
    pub cursor: i64,
    pub has_more: bool,
    pub reset: bool,
    pub last_applied_seq: i64,
    pub remaining: i64,
    /// The till's offline redemption allowance as of `last_applied_seq`.
    pub allowance: Option<omnitill_protocol::loyalty::Allowance>,
}

/// How a change of a kind the till does not know is written.
const UNKNOWN_CHANGE: &str = r#"{"kind":"unknown"}"#;

/// A stored change as raw JSON. A row that is not JSON (it never should be) goes out as a
/// change of an unknown kind, which a till skips.
fn stored_change(data: String) -> Box<RawValue> {
    RawValue::from_string(data)
        .or_else(|_| RawValue::from_string(UNKNOWN_CHANGE.to_owned()))
        .unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// A page of `device`'s store feed after `cursor`.
///
/// The page is read from two ordered index scans, one per scope (the catalog `*` and the
/// device's store), each stopped after `limit + 1` rows and merged, so a page costs the same
/// however far the cursor is from the end of the feed. The extra row says whether more follow.
pub async fn pull(db: &Db, device: &Device, cursor: i64, limit: i64) -> CloudResult<FeedPage> {
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
    let (last_applied_seq, floor_seen): (i64, i64) =
        sqlx::query_as("SELECT last_applied_seq, floor_seen FROM device WHERE id = $1")
            .bind(&device.id)
            .fetch_one(&mut *tx)
            .await?;
    // Read in the same snapshot as the checkpoint, so the allowance counts exactly the offline
    // redemptions of the operations up to it.
    let allowance = members::allowance(&mut tx, &device.id, &device.store_id).await?;
    let (newest,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(value), 0) FROM counter WHERE name = 'feed'")
            .fetch_one(&mut *tx)
            .await?;
    let floor = feed::floor(&mut tx).await?;
    if cursor > newest || (cursor > 0 && cursor < floor && floor_seen < floor) {
        // Either the till has seen cursors this database never issued (the cloud was restored
        // or replaced), or rows after its cursor were pruned since it began downloading, so
        // it may hold a product whose retirement it will now never see. Either way it must
        // download its reference data again. A download that began after the prune goes on:
        // it never held the pruned products.
        tx.commit().await?;
        return Ok(FeedPage {
            entries: Vec::new(),
            cursor: 0,
            has_more: true,
            reset: true,
            last_applied_seq,
            remaining: 0,
            allowance: Some(allowance),
        });
    }
    let mut rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT cursor, data FROM (
             SELECT cursor, data FROM feed WHERE scope = $1 AND cursor > $3
             ORDER BY cursor LIMIT $4) AS catalog
         UNION ALL
         SELECT cursor, data FROM (
             SELECT cursor, data FROM feed WHERE scope = $2 AND cursor > $3
             ORDER BY cursor LIMIT $4) AS store
         ORDER BY cursor LIMIT $4",
    )
    .bind(ALL_STORES)
    .bind(&device.store_id)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = rows.last().map_or(cursor, |row| row.0);
    let remaining = if has_more {
        feed::count_after(&mut tx, [ALL_STORES, &device.store_id], next).await?
    } else {
        0
    };
    tx.commit().await?;
    if cursor == 0 && floor_seen < floor {
        // A download from zero starts after every prune up to `floor`: its later pages below
        // the floor are not a reason to start again.
        sqlx::query("UPDATE device SET floor_seen = $1 WHERE id = $2 AND floor_seen < $1")
            .bind(floor)
            .bind(&device.id)
            .execute(&db.write)
            .await?;
    }
    Ok(FeedPage {
        entries: rows
            .into_iter()
            .map(|(cursor, data)| StoredEntry {
                cursor,
                change: stored_change(data),
            })
            .collect(),
        cursor: next,
        has_more,
        reset: false,
        last_applied_seq,
        remaining,
        allowance: Some(allowance),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

    #[test]
    fn a_page_of_stored_changes_reads_as_the_protocol_response() {
        let product = Change::Product {
            sku: "TEA-001".into(),
            name: "凍頂烏龍茶 Oolong".into(),
            tax_class: "standard".into(),
            active: true,
            barcodes: vec!["4712345000015".into()],
            prices: vec![(1, 300)],
        };
        let stock = Change::Stock {
            sku: "TEA-001".into(),
            on_hand: -2,
        };
        let stored = |change: &Change| serde_json::to_string(change).expect("a change encodes");
        let page = FeedPage {
            entries: vec![
                StoredEntry {
                    cursor: 7,
                    change: stored_change(stored(&product)),
                },
                StoredEntry {
                    cursor: 9,
                    change: stored_change(stored(&stock)),
                },
                StoredEntry {
                    cursor: 10,
                    change: stored_change("not json".into()),
                },
            ],
            cursor: 10,
            has_more: true,
            reset: false,
            last_applied_seq: 3,
            remaining: 12,
            allowance: None,
        };
        let wire = serde_json::to_string(&page).expect("a page encodes");
        let read: PullResponse = serde_json::from_str(&wire).expect("a till reads the page");
        assert_eq!(
            read,
            PullResponse {
                entries: vec![
                    FeedEntry {
                        cursor: 7,
                        change: product,
                    },
                    FeedEntry {
                        cursor: 9,
                        change: stock,
                    },
                    FeedEntry {
                        cursor: 10,
                        change: Change::Unknown,
                    },
                ],
                cursor: 10,
                has_more: true,
                reset: false,
                last_applied_seq: 3,
                remaining: 12,
                allowance: None,
            },
            "stored changes pass through unchanged, and an unreadable one reads as unknown"
        );
    }
}
