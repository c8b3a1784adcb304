//! Applying a till's pushed operations exactly once, each checked against the till that
//! pushes it.
//!
//! Layout: this file drives a push (`push`): one write transaction that locks the device row,
//! reads who the device is (`PushingDevice`), decodes every operation
//! (`omnitill_protocol::ops::TillOperation`), asks `plan` what to do with each, runs each new
//! operation in a savepoint, records every outcome, and publishes the stock levels the push
//! changed once, at the end. One module per operation type holds its rules: `sale`, `refund`,
//! `enrolment`, `conflict_resolved`, each with a pure `check` against the pushing device and
//! the state it read, and an `apply` inside the push transaction; `sales_run` applies a run of
//! plain sales together on SQLite.
//!
//! A refusal is an outcome like any other: its savepoint is rolled back, so nothing of the
//! operation is written, its reason is stored (in `operation`, or in `operation_refusal` when
//! its op_id is another till's), and the operations behind it go on. A refusal is never a 500,
//! and no refused operation writes a row another till's real operation could collide with. A
//! push is refused whole (409 `sequence_gap`, 400) only for a gap in its sequence, before
//! anything is written. The device's `last_applied_seq` moves with every operation, refused or
//! not.

mod conflict_resolved;
mod enrolment;
pub mod group_commit;
pub(crate) mod pickup;
mod plain_group;
pub mod plan;
mod refund;
mod sale;
mod sales_run;

use std::collections::{HashMap, HashSet};

use omnitill_protocol::MAX_PUSH_OPS;
use omnitill_protocol::ops::TillOperation;
use omnitill_protocol::push::{Operation, Outcome, PushRequest, PushResponse, Status};
use sqlx::AnyConnection;

use crate::db::{Backend, Db, batch_statement};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::{stock, till_identity};
use plan::{Known, PlanError, Pushed, Step};

/// The device a push comes from, as its checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushingDevice {
    /// The cloud's device id (this enrolment).
    pub id: String,
    pub store_id: String,
    /// The device id the till's operations carry (see `till_identity`); `None` until known.
    pub till_id: Option<String>,
    /// Receipt prefixes the till owns.
    pub prefixes: Vec<String>,
    /// The store's cash rounding increment (minor units).
    pub cash_rounding_minor: i64,
    /// Now, by the cloud's clock, when the push began: what members are published as of.
    pub now_ms: i64,
}

impl PushingDevice {
    /// Checks that an operation's `device_id` and receipt number are this till's.
    pub fn check_own(&self, device_id: &str, receipt_no: &str) -> Result<(), Refusal> {
        match &self.till_id {
            Some(own) if own == device_id => {}
            Some(_) => {
                return Err(Refusal(format!(
                    "{receipt_no} carries device id {device_id:?}, which is not the id of the \
                     till that pushed it"
                )));
            }
            None => {
                return Err(Refusal(format!(
                    "{receipt_no} carries device id {device_id:?}, which belongs to another till"
                )));
            }
        }
        match till_identity::receipt_prefix(receipt_no) {
            Some(prefix) if self.prefixes.iter().any(|own| own == prefix) => Ok(()),
            Some(prefix) if prefix.eq_ignore_ascii_case(till_identity::ESHOP_PREFIX) => {
                Err(Refusal(format!(
                    "receipt {receipt_no} is numbered like an e-shop order (WEB-); a till \
                     numbers with its own prefix"
                )))
            }
            Some(prefix) => Err(Refusal(format!(
                "receipt {receipt_no} has prefix {prefix}, which is not this till's (it numbers \
                 with {})",
                self.prefixes.join(", ")
            ))),
            None => Err(Refusal(format!(
                "receipt number {receipt_no:?} is not of the form PREFIX-NUMBER"
            ))),
        }
    }
}

/// Why an operation was refused, stored as its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// What applying an operation can end in besides success.
pub enum ApplyError {
    Refused(Refusal),
    Failed(CloudError),
}

impl From<Refusal> for ApplyError {
    fn from(refusal: Refusal) -> ApplyError {
        ApplyError::Refused(refusal)
    }
}

impl From<sqlx::Error> for ApplyError {
    fn from(error: sqlx::Error) -> ApplyError {
        // A key another fact already holds: the check before could not see it (another push
        // committed it meanwhile). The savepoint is rolled back; the operation is refused.
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return ApplyError::Refused(Refusal(
                "it collides with a fact the cloud already holds (an id or a receipt number \
                 recorded before)"
                    .into(),
            ));
        }
        ApplyError::Failed(CloudError::Database(error))
    }
}

impl From<CloudError> for ApplyError {
    fn from(error: CloudError) -> ApplyError {
        match error {
            CloudError::Database(error) => ApplyError::from(error),
            other => ApplyError::Failed(other),
        }
    }
}

/// A refusal with `reason`.
pub fn refuse(reason: impl Into<String>) -> ApplyError {
    ApplyError::Refused(Refusal(reason.into()))
}

/// Rows of the `operation` table one statement writes at most.
const RECORD_CHUNK: usize = 1_000;
/// op_ids one look-up reads at most.
const LOOKUP_CHUNK: usize = 250;

/// An operation applied or refused in this push, to be recorded.
struct Recorded<'a> {
    device_id: &'a str,
    op: &'a Operation,
    status: Status,
    reason: Option<String>,
}

/// Applies a push from `device`. A transaction PostgreSQL aborts as a deadlock is tried again
/// whole (`locks::retrying`): nothing of it was written.
pub async fn push(db: &Db, device: &Device, request: &PushRequest) -> CloudResult<PushResponse> {
    crate::locks::retrying(|| push_once(db, device, request)).await
}

async fn push_once(db: &Db, device: &Device, request: &PushRequest) -> CloudResult<PushResponse> {
    let mut tx = db.write.begin().await?;
    let applied = push_in(&mut tx, db.backend, db.now_ms(), device, request).await?;
    stock::publish_levels(&mut tx, &device.store_id, &applied.touched.skus).await?;
    tx.commit().await?;
    Ok(applied.response)
}

/// What `push_in` did: its answer, and the SKUs whose stock it moved, whose new levels the
/// caller publishes before it commits (once per push, or once per group of pushes).
pub(crate) struct Applied {
    pub response: PushResponse,
    pub touched: Touched,
}

/// Applies a push inside a transaction the caller opened and commits (`push_once`, or a
/// savepoint of `group_commit`'s shared transaction), all but publishing the stock levels it
/// changed (`Applied::touched`). Nothing is kept on error: the caller rolls back.
pub(crate) async fn push_in(
    conn: &mut AnyConnection,
    backend: Backend,
    now_ms: i64,
    device: &Device,
    request: &PushRequest,
) -> CloudResult<Applied> {
    let operations = &request.operations;
    if operations.len() > MAX_PUSH_OPS {
        return Err(CloudError::BadRequest(format!(
            "a push carries at most {MAX_PUSH_OPS} operations, not {}",
            operations.len()
        )));
    }
    let lock = match backend {
        Backend::Postgres => {
            "SELECT d.last_applied_seq, d.revoked_at, d.till_id, d.receipt_prefix,
                    s.cash_rounding_minor
             FROM device d JOIN store s ON s.id = d.store_id WHERE d.id = $1 FOR UPDATE OF d"
        }
        Backend::Sqlite => {
            "SELECT d.last_applied_seq, d.revoked_at, d.till_id, d.receipt_prefix,
                    s.cash_rounding_minor
             FROM device d JOIN store s ON s.id = d.store_id WHERE d.id = $1"
        }
    };
    let (mut last, revoked, till_id, receipt_prefix, cash_rounding_minor): (
        i64,
        Option<i64>,
        Option<String>,
        String,
        i64,
    ) = sqlx::query_as(lock)
        .bind(&device.id)
        .fetch_one(&mut *conn)
        .await?;
    if revoked.is_some() {
        return Err(CloudError::Revoked);
    }
    let decoded: Vec<Result<TillOperation, Refusal>> = operations
        .iter()
        .map(|op| {
            TillOperation::decode(&op.op_type, &op.payload).map_err(|e| Refusal(e.to_string()))
        })
        .collect();
    lock_members(&mut *conn, &decoded).await?;
    lock_stock(&mut *conn, &device.store_id, &decoded).await?;
    let mut pushing = PushingDevice {
        id: device.id.clone(),
        store_id: device.store_id.clone(),
        prefixes: Vec::new(),
        till_id,
        cash_rounding_minor,
        now_ms,
    };
    if pushing.till_id.is_none() {
        learn_till_id(
            &mut *conn,
            &mut pushing,
            operations,
            &decoded,
            last,
            &receipt_prefix,
        )
        .await?;
    }
    pushing.prefixes =
        till_identity::owned_prefixes(&mut *conn, pushing.till_id.as_deref(), &receipt_prefix)
            .await?;

    let refused_before = refused_before(&mut *conn, &device.id, operations, last).await?;
    let known = known_op_ids(&mut *conn, &pushing, operations, last).await?;
    let batch_sales = backend == Backend::Sqlite;
    let pushed: Vec<Pushed> = operations
        .iter()
        .zip(&decoded)
        .map(|(op, decoded)| Pushed {
            seq: op.seq,
            known: known.get(op.op_id.as_str()).copied().unwrap_or(Known::New),
            batchable: batch_sales
                && matches!(decoded, Ok(TillOperation::Sale(sale)) if sale::check(sale, &pushing).is_ok()),
        })
        .collect();
    let steps = match plan::plan(&pushed, last, &refused_before, batch_sales) {
        Ok(steps) => steps,
        Err(PlanError::Gap { expected, got }) => {
            return Err(CloudError::SequenceGap { expected, got });
        }
        Err(PlanError::OutOfOrder { before, after }) => {
            return Err(CloudError::BadRequest(format!(
                "operations must be in seq order without gaps ({before} then {after})"
            )));
        }
    };

    let mut outcomes = Vec::with_capacity(operations.len());
    let mut recorded = Vec::with_capacity(operations.len());
    let mut id_refusals: Vec<(&Operation, String)> = Vec::new();
    // SKUs whose stock this push changed; their new levels are published once, at the end.
    let mut touched = Touched::default();
    // Whether the savepoint of the operation before is still open: it is released in the same
    // round trip that opens the next one.
    let mut open = false;
    let outcome = |op: &Operation, status: Status, reason: Option<String>| Outcome {
        seq: op.seq,
        op_id: op.op_id.clone(),
        status,
        reason,
    };
    for step in steps {
        let one_by_one: Vec<usize> = match step {
            Step::Duplicate(index) => {
                outcomes.push(outcome(&operations[index], Status::Duplicate, None));
                continue;
            }
            Step::Replay(index, reason) => {
                outcomes.push(outcome(&operations[index], Status::Rejected, Some(reason)));
                continue;
            }
            Step::AppliedBefore(index) => {
                let op = &operations[index];
                last = op.seq;
                outcomes.push(outcome(op, Status::Duplicate, None));
                continue;
            }
            Step::IdTaken(index) => {
                let op = &operations[index];
                let reason = format!(
                    "operation id {} was already used by another operation",
                    op.op_id
                );
                last = op.seq;
                outcomes.push(outcome(op, Status::Rejected, Some(reason.clone())));
                id_refusals.push((op, reason));
                continue;
            }
            Step::Run { start, len } => {
                let begin = if open {
                    "RELEASE SAVEPOINT op; SAVEPOINT run"
                } else {
                    "SAVEPOINT run"
                };
                sqlx::raw_sql(begin).execute(&mut *conn).await?;
                open = false;
                let ops = &operations[start..start + len];
                let run: Vec<sales_run::RunSale> = ops
                    .iter()
                    .zip(&decoded[start..start + len])
                    .filter_map(|(op, decoded)| match decoded {
                        Ok(TillOperation::Sale(sale)) => Some(sales_run::RunSale {
                            device: &pushing,
                            op,
                            sale,
                        }),
                        _ => None,
                    })
                    .collect();
                let moved = if run.len() == len {
                    sales_run::apply(&mut *conn, &run).await?
                } else {
                    None
                };
                if let Some(moved) = moved {
                    touched.add(moved.into_iter().map(|(_, sku)| sku.to_owned()).collect());
                    sqlx::raw_sql("RELEASE SAVEPOINT run")
                        .execute(&mut *conn)
                        .await?;
                    for op in ops {
                        last = op.seq;
                        outcomes.push(outcome(op, Status::Applied, None));
                        recorded.push(Recorded {
                            device_id: &device.id,
                            op,
                            status: Status::Applied,
                            reason: None,
                        });
                    }
                    continue;
                }
                // A sale of the run is already recorded: one by one refuses that one alone.
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT run; RELEASE SAVEPOINT run")
                    .execute(&mut *conn)
                    .await?;
                (start..start + len).collect()
            }
            Step::Apply(index) => vec![index],
        };
        for index in one_by_one {
            let op = &operations[index];
            let begin = if open {
                "RELEASE SAVEPOINT op; SAVEPOINT op"
            } else {
                "SAVEPOINT op"
            };
            sqlx::raw_sql(begin).execute(&mut *conn).await?;
            open = true;
            let mut skus = Vec::new();
            let applied = match &decoded[index] {
                Ok(operation) => {
                    apply(&mut *conn, backend, &pushing, op, operation, &mut skus).await
                }
                Err(refusal) => Err(ApplyError::Refused(refusal.clone())),
            };
            let (status, reason) = match applied {
                Ok(()) => {
                    touched.add(skus);
                    (Status::Applied, None)
                }
                Err(ApplyError::Refused(Refusal(reason))) => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                        .execute(&mut *conn)
                        .await?;
                    open = false;
                    (Status::Rejected, Some(reason))
                }
                Err(ApplyError::Failed(error)) => return Err(error),
            };
            last = op.seq;
            outcomes.push(outcome(op, status, reason.clone()));
            recorded.push(Recorded {
                device_id: &device.id,
                op,
                status,
                reason,
            });
        }
    }
    if open {
        sqlx::raw_sql("RELEASE SAVEPOINT op")
            .execute(&mut *conn)
            .await?;
    }
    record_operations(&mut *conn, backend, &recorded, now_ms).await?;
    record_id_refusals(&mut *conn, &device.id, &id_refusals, now_ms).await?;
    sqlx::query("UPDATE device SET last_applied_seq = $1 WHERE id = $2")
        .bind(last)
        .bind(&device.id)
        .execute(&mut *conn)
        .await?;
    Ok(Applied {
        response: PushResponse {
            outcomes,
            last_applied_seq: last,
        },
        touched,
    })
}

/// Locks the rows of the members the push's sales and refunds name, in id order, before
/// anything is written: the lock order of `locks` (members first, the feed's counter last), so a
/// push and an e-shop call on one member wait for each other instead of deadlocking.
async fn lock_members(
    tx: &mut AnyConnection,
    decoded: &[Result<TillOperation, Refusal>],
) -> CloudResult<()> {
    if !crate::locks::is_postgres(tx) {
        return Ok(());
    }
    let mut named: Vec<&str> = decoded
        .iter()
        .filter_map(|operation| match operation {
            Ok(TillOperation::MemberSale(sale)) => {
                sale.member.as_ref().map(|m| m.member_id.as_str())
            }
            Ok(TillOperation::MemberRefund(refund)) => {
                refund.member.as_ref().map(|m| m.member_id.as_str())
            }
            _ => None,
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    let mut resolved = Vec::with_capacity(named.len());
    for id in named {
        if let Some(member_id) = crate::members::resolve(&mut *tx, id).await? {
            resolved.push(member_id);
        }
    }
    let ids: Vec<&str> = resolved.iter().map(String::as_str).collect();
    crate::locks::lock_members(tx, &ids).await?;
    Ok(())
}

/// Locks the stock level rows the push's sales and refunds move, in SKU order, after its
/// members and before anything is written or published (`stock::lock_levels`).
async fn lock_stock(
    tx: &mut AnyConnection,
    store_id: &str,
    decoded: &[Result<TillOperation, Refusal>],
) -> CloudResult<()> {
    let skus: Vec<&str> = decoded
        .iter()
        .flat_map(|operation| -> Vec<&str> {
            match operation {
                Ok(TillOperation::Sale(sale) | TillOperation::MemberSale(sale)) => {
                    sale.lines.iter().map(|line| line.sku.as_str()).collect()
                }
                Ok(TillOperation::Refund(refund) | TillOperation::MemberRefund(refund)) => {
                    refund.lines.iter().map(|line| line.sku.as_str()).collect()
                }
                _ => Vec::new(),
            }
        })
        .collect();
    stock::lock_levels(tx, store_id, &skus).await
}

/// Applies one operation inside its savepoint; the SKUs whose stock it moved go to `touched`.
async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    device: &PushingDevice,
    op: &Operation,
    operation: &TillOperation,
    touched: &mut Vec<String>,
) -> Result<(), ApplyError> {
    match operation {
        TillOperation::Sale(sale) => {
            sale::check(sale, device)?;
            sale::apply(tx, backend, device, sale, &op.op_id, touched).await
        }
        TillOperation::MemberSale(sale) => {
            sale::check(sale, device)?;
            sale::apply(tx, backend, device, sale, &op.op_id, touched).await?;
            sale::apply_member(tx, device, sale, &op.op_id).await
        }
        TillOperation::Refund(refund) | TillOperation::MemberRefund(refund) => {
            refund::apply(tx, backend, device, refund, &op.op_id, touched).await
        }
        TillOperation::MemberEnrolled(enrolled) => enrolment::apply(tx, device, enrolled).await,
        TillOperation::ConflictResolved(resolved) => {
            conflict_resolved::apply(tx, device, resolved).await
        }
        TillOperation::PickupLine(line) => pickup::apply_line(tx, device, line).await,
        TillOperation::PickupReady(ready) => pickup::apply_ready(tx, device, ready).await,
        TillOperation::PickupHandedOver(handed) => pickup::apply_handover(tx, device, handed).await,
    }
}

/// The device id and receipt number of a sale or refund.
fn claimed_device_id(operation: &TillOperation) -> Option<(&str, &str)> {
    match operation {
        TillOperation::Sale(sale) | TillOperation::MemberSale(sale) => {
            Some((&sale.device_id, &sale.receipt_no))
        }
        TillOperation::Refund(refund) | TillOperation::MemberRefund(refund) => {
            Some((&refund.device_id, &refund.receipt_no))
        }
        TillOperation::MemberEnrolled(_)
        | TillOperation::ConflictResolved(_)
        | TillOperation::PickupLine(_)
        | TillOperation::PickupReady(_)
        | TillOperation::PickupHandedOver(_) => None,
    }
}

/// A device enrolled by a till that sent no identity learns its till's id from the first new
/// operation that carries one (see `till_identity::learn_from_operation`).
async fn learn_till_id(
    tx: &mut AnyConnection,
    device: &mut PushingDevice,
    operations: &[Operation],
    decoded: &[Result<TillOperation, Refusal>],
    last: i64,
    receipt_prefix: &str,
) -> CloudResult<()> {
    let claimed = operations
        .iter()
        .zip(decoded)
        .filter(|(op, _)| op.seq > last)
        .find_map(|(_, decoded)| decoded.as_ref().ok().and_then(claimed_device_id));
    if let Some((claimed, receipt_no)) = claimed
        && till_identity::learn_from_operation(tx, &device.id, receipt_prefix, claimed, receipt_no)
            .await?
            .is_ok()
    {
        device.till_id = Some(claimed.to_owned());
    }
    Ok(())
}

/// The stored refusals of the re-sent operations of a push (at or below `last`), by seq.
async fn refused_before(
    tx: &mut AnyConnection,
    device_id: &str,
    operations: &[Operation],
    last: i64,
) -> CloudResult<HashMap<i64, String>> {
    let Some(first) = operations.first().filter(|first| first.seq <= last) else {
        return Ok(HashMap::new());
    };
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT seq, reason FROM operation
         WHERE device_id = $1 AND seq BETWEEN $2 AND $3 AND status = 'rejected'
         UNION ALL
         SELECT seq, reason FROM operation_refusal WHERE device_id = $1 AND seq BETWEEN $2 AND $3",
    )
    .bind(device_id)
    .bind(first.seq)
    .bind(last)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, reason)| (seq, reason.unwrap_or_default()))
        .collect())
}

/// What the cloud already holds under the op_ids of the push's new operations: this till's
/// same operation applied under an earlier enrolment (same till, seq and type), or anything
/// else (another till's, or another operation of this one).
async fn known_op_ids<'a>(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    operations: &'a [Operation],
    last: i64,
) -> CloudResult<HashMap<&'a str, Known>> {
    let new: Vec<&Operation> = operations.iter().filter(|op| op.seq > last).collect();
    let mut known = HashMap::new();
    for chunk in new.chunks(LOOKUP_CHUNK) {
        let select = format!(
            "SELECT o.op_id, o.seq, o.op_type, o.device_id, d.till_id
             FROM operation o JOIN device d ON d.id = o.device_id
             WHERE o.op_id IN ({})",
            crate::db::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, i64, String, String, Option<String>)>(
            batch_statement(select),
        );
        for op in chunk {
            query = query.bind(op.op_id.as_str());
        }
        for (op_id, seq, op_type, _, holder) in query.fetch_all(&mut *tx).await? {
            let Some(op) = chunk.iter().find(|op| op.op_id == op_id) else {
                continue;
            };
            let same_till = holder.is_some() && holder == device.till_id;
            let kind = if same_till && seq == op.seq && op_type == op.op_type {
                Known::SameTill
            } else {
                Known::OtherTill
            };
            known.insert(op.op_id.as_str(), kind);
        }
    }
    Ok(known)
}

/// SKUs in first-touched order, each once.
#[derive(Default)]
pub struct Touched {
    pub skus: Vec<String>,
    seen: HashSet<String>,
}

impl Touched {
    pub fn add(&mut self, skus: Vec<String>) {
        for sku in skus {
            if self.seen.insert(sku.clone()) {
                self.skus.push(sku);
            }
        }
    }
}

/// Stores every operation of the push with its outcome, once per op_id and per (device, seq);
/// answers how many rows were new. The rows travel as one bound JSON value per
/// `RECORD_CHUNK` (`db::json_rows`), not as a parameter per column and row.
async fn record_operations(
    tx: &mut AnyConnection,
    backend: Backend,
    recorded: &[Recorded<'_>],
    now: i64,
) -> CloudResult<u64> {
    let insert = format!(
        "INSERT INTO operation (op_id, device_id, seq, op_type, status, reason, payload, applied_at)
         SELECT value ->> 0, value ->> 1, CAST(value ->> 2 AS BIGINT), value ->> 3, value ->> 4,
             value ->> 5, value ->> 6, $2
         FROM {} WHERE true ON CONFLICT DO NOTHING",
        crate::db::json_rows(backend, 1)
    );
    let mut written = 0;
    for chunk in recorded.chunks(RECORD_CHUNK) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|entry| {
                serde_json::json!([
                    entry.op.op_id,
                    entry.device_id,
                    entry.op.seq,
                    entry.op.op_type,
                    status_text(entry.status),
                    entry.reason,
                    entry.op.payload.to_string(),
                ])
            })
            .collect();
        let rows = serde_json::to_string(&rows).map_err(|e| {
            CloudError::Internal(format!("a push's operations cannot be encoded: {e}"))
        })?;
        written += sqlx::query(batch_statement(insert.clone()))
            .bind(rows)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    Ok(written)
}

/// Stores the refusals of operations whose op_id another operation holds.
async fn record_id_refusals(
    tx: &mut AnyConnection,
    device_id: &str,
    refusals: &[(&Operation, String)],
    now: i64,
) -> CloudResult<()> {
    for (op, reason) in refusals {
        sqlx::query(
            "INSERT INTO operation_refusal (device_id, seq, op_id, reason, refused_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(device_id)
        .bind(op.seq)
        .bind(op.op_id.as_str())
        .bind(reason.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
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
