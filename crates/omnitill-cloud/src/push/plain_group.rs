//! The pushes of a SQLite group commit that carry only new plain sales, applied together.
//!
//! With many tills pushing at once, a group commit holds dozens of pushes of a few sales each,
//! and each push alone costs a dozen statements, each a hand-over to sqlx's SQLite thread. The
//! pushes that need no judgement beyond `sale::check` (every operation a new plain sale, in
//! sequence after the till's last, from a till whose identity is known and with no operation
//! id the cloud has seen) are applied here for the whole group with a fixed number of
//! statements: three reads (the devices, their prefixes, the operation ids), the run of sales
//! (`sales_run`), the operation log, and the devices' sequence.
//!
//! A push that is anything else is left to `push_in`, one by one after this, so it sees what
//! was written here. If the run collides with anything recorded (a sale id, a receipt number,
//! an operation id another push of the group also carries), everything written here is rolled
//! back and every push of the group goes through `push_in`, which refuses the colliding
//! operation alone. The outcome of each push is what `push_in` would have answered.

use std::collections::{HashMap, HashSet};

use omnitill_protocol::MAX_PUSH_OPS;
use omnitill_protocol::ops::{SaleCompleted, TillOperation};
use omnitill_protocol::push::{Outcome, PushRequest, PushResponse, Status};
use sqlx::AnyConnection;

use super::sales_run::{self, RunSale};
use super::{Applied, PushingDevice, Recorded, Touched, record_operations, sale};
use crate::db::{Backend, batch_statement, json_texts};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};

/// One push of the group.
pub(crate) struct GroupPush<'a> {
    pub device: &'a Device,
    pub request: &'a PushRequest,
}

/// Applies the group's pushes of new plain sales together. One answer per push, in order:
/// `Some` when it was applied here, `None` when it is to go through `push_in`.
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    now_ms: i64,
    group: &[GroupPush<'_>],
) -> CloudResult<Vec<Option<Applied>>> {
    let mut answers: Vec<Option<Applied>> = group.iter().map(|_| None).collect();
    let candidates = plain_candidates(group);
    if candidates.is_empty() {
        return Ok(answers);
    }
    let devices = read_devices(conn, group, &candidates, now_ms).await?;
    let mut kept: Vec<(usize, PushingDevice, &[SaleCompleted])> = Vec::new();
    for (index, sales) in &candidates {
        let index = *index;
        let push = &group[index];
        let Some(device) = devices.get(push.device.id.as_str()) else {
            continue;
        };
        let in_sequence = follows(&push.request.operations, device.last_applied_seq);
        let checked = sales
            .iter()
            .all(|sale| sale::check(sale, &device.pushing).is_ok());
        if in_sequence && checked {
            kept.push((index, device.pushing.clone(), sales.as_slice()));
        }
    }
    let seen = seen_op_ids(conn, group, &kept).await?;
    kept.retain(|(index, _, _)| {
        group[*index]
            .request
            .operations
            .iter()
            .all(|op| !seen.contains(op.op_id.as_str()))
    });
    if kept.is_empty() {
        return Ok(answers);
    }

    sqlx::raw_sql("SAVEPOINT plain").execute(&mut *conn).await?;
    let run: Vec<RunSale> = kept
        .iter()
        .flat_map(|(index, device, sales)| {
            group[*index]
                .request
                .operations
                .iter()
                .zip(sales.iter())
                .map(move |(op, sale)| RunSale { device, op, sale })
        })
        .collect();
    let recorded: Vec<Recorded> = run
        .iter()
        .map(|one| Recorded {
            device_id: &one.device.id,
            op: one.op,
            status: Status::Applied,
            reason: None,
        })
        .collect();
    let applied = match sales_run::apply(&mut *conn, &run).await? {
        Some(_) => record_operations(&mut *conn, Backend::Sqlite, &recorded, now_ms).await?,
        None => 0,
    };
    if applied != run.len() as u64 {
        // Something of the run was recorded already: each push goes through `push_in`.
        sqlx::raw_sql("ROLLBACK TO SAVEPOINT plain; RELEASE SAVEPOINT plain")
            .execute(&mut *conn)
            .await?;
        return Ok(answers);
    }
    let sequences: Vec<(&str, i64)> = kept
        .iter()
        .filter_map(|(index, _, _)| {
            let push = &group[*index];
            let last = push.request.operations.last()?;
            Some((push.device.id.as_str(), last.seq))
        })
        .collect();
    let sequences = serde_json::to_string(&sequences)
        .map_err(|e| CloudError::Internal(format!("a group's sequences cannot be encoded: {e}")))?;
    sqlx::query(
        "UPDATE device SET last_applied_seq = CAST(j.value ->> 1 AS BIGINT)
         FROM json_each($1) AS j WHERE device.id = j.value ->> 0",
    )
    .bind(sequences)
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql("RELEASE SAVEPOINT plain")
        .execute(&mut *conn)
        .await?;

    for (index, _, sales) in kept {
        let operations = &group[index].request.operations;
        let mut touched = Touched::default();
        for sale in sales.iter() {
            touched.add(sale.lines.iter().map(|line| line.sku.clone()).collect());
        }
        answers[index] = Some(Applied {
            response: PushResponse {
                outcomes: operations
                    .iter()
                    .map(|op| Outcome {
                        seq: op.seq,
                        op_id: op.op_id.clone(),
                        status: Status::Applied,
                        reason: None,
                    })
                    .collect(),
                last_applied_seq: operations.last().map_or(0, |op| op.seq),
            },
            touched,
        });
    }
    Ok(answers)
}

/// Whether `operations` are numbered `last + 1`, `last + 2`, ... without a gap.
fn follows(operations: &[omnitill_protocol::push::Operation], last: i64) -> bool {
    let mut expected = last;
    operations.iter().all(|op| match expected.checked_add(1) {
        Some(next) => {
            expected = next;
            op.seq == next
        }
        None => false,
    })
}

/// The pushes that might be plain, with their sales: at most `MAX_PUSH_OPS` operations, every
/// one a plain sale, from a device with no other push in the group.
fn plain_candidates(group: &[GroupPush<'_>]) -> Vec<(usize, Vec<SaleCompleted>)> {
    let mut pushes_of: HashMap<&str, usize> = HashMap::new();
    for push in group {
        *pushes_of.entry(push.device.id.as_str()).or_default() += 1;
    }
    let mut candidates = Vec::new();
    for (index, push) in group.iter().enumerate() {
        let operations = &push.request.operations;
        if operations.is_empty()
            || operations.len() > MAX_PUSH_OPS
            || pushes_of.get(push.device.id.as_str()) != Some(&1)
        {
            continue;
        }
        let sales: Vec<SaleCompleted> = operations
            .iter()
            .map_while(|op| match TillOperation::decode(&op.op_type, &op.payload) {
                Ok(TillOperation::Sale(sale)) => Some(sale),
                _ => None,
            })
            .collect();
        if sales.len() == operations.len() {
            candidates.push((index, sales));
        }
    }
    candidates
}

/// A device of the group as its pushes' checks need it.
struct GroupDevice {
    last_applied_seq: i64,
    pushing: PushingDevice,
}

/// A device's row as `read_devices` reads it: id, store, last applied seq, revoked at, till
/// id, receipt prefix, and its store's cash rounding.
type DeviceRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    String,
    i64,
);

/// The candidates' devices that may push plain sales (enrolled, not revoked, with a known till
/// identity), by device id, with the prefixes their tills own.
async fn read_devices(
    conn: &mut AnyConnection,
    group: &[GroupPush<'_>],
    candidates: &[(usize, Vec<SaleCompleted>)],
    now_ms: i64,
) -> CloudResult<HashMap<String, GroupDevice>> {
    let ids: Vec<&str> = candidates
        .iter()
        .map(|(index, _)| group[*index].device.id.as_str())
        .collect();
    let rows: Vec<DeviceRow> = sqlx::query_as(batch_statement(format!(
        "SELECT d.id, d.store_id, d.last_applied_seq, d.revoked_at, d.till_id,
                    d.receipt_prefix, s.cash_rounding_minor
             FROM device d JOIN store s ON s.id = d.store_id
             WHERE d.id IN (SELECT value FROM {})",
        json_texts(Backend::Sqlite, 1)
    )))
    .bind(encode(&ids)?)
    .fetch_all(&mut *conn)
    .await?;
    let tills: Vec<&str> = rows.iter().filter_map(|row| row.4.as_deref()).collect();
    let prefixes: Vec<(String, String)> = sqlx::query_as(batch_statement(format!(
        "SELECT till_id, prefix FROM till_prefix WHERE till_id IN (SELECT value FROM {})",
        json_texts(Backend::Sqlite, 1)
    )))
    .bind(encode(&tills)?)
    .fetch_all(&mut *conn)
    .await?;
    let mut devices = HashMap::with_capacity(rows.len());
    for (id, store_id, last_applied_seq, revoked_at, till_id, receipt_prefix, rounding) in rows {
        let (None, Some(till_id)) = (revoked_at, till_id) else {
            continue;
        };
        // As `till_identity::owned_prefixes`: the device's own prefix, then its till's others.
        let mut owned = vec![receipt_prefix.clone()];
        owned.extend(
            prefixes
                .iter()
                .filter(|(till, prefix)| *till == till_id && *prefix != receipt_prefix)
                .map(|(_, prefix)| prefix.clone()),
        );
        let pushing = PushingDevice {
            id: id.clone(),
            store_id,
            till_id: Some(till_id),
            prefixes: owned,
            cash_rounding_minor: rounding,
            now_ms,
        };
        devices.insert(
            id,
            GroupDevice {
                last_applied_seq,
                pushing,
            },
        );
    }
    Ok(devices)
}

/// The operation ids of the kept pushes that the cloud holds already, or that two of them
/// carry.
async fn seen_op_ids(
    conn: &mut AnyConnection,
    group: &[GroupPush<'_>],
    kept: &[(usize, PushingDevice, &[SaleCompleted])],
) -> CloudResult<HashSet<String>> {
    let mut ids: HashSet<&str> = HashSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, _, _) in kept {
        for op in &group[*index].request.operations {
            if !ids.insert(op.op_id.as_str()) {
                seen.insert(op.op_id.clone());
            }
        }
    }
    if ids.is_empty() {
        return Ok(seen);
    }
    let ids: Vec<&str> = ids.into_iter().collect();
    let held: Vec<(String,)> = sqlx::query_as(batch_statement(format!(
        "SELECT op_id FROM operation WHERE op_id IN (SELECT value FROM {})",
        json_texts(Backend::Sqlite, 1)
    )))
    .bind(encode(&ids)?)
    .fetch_all(&mut *conn)
    .await?;
    seen.extend(held.into_iter().map(|(id,)| id));
    Ok(seen)
}

fn encode(values: &impl serde::Serialize) -> CloudResult<String> {
    serde_json::to_string(values)
        .map_err(|e| CloudError::Internal(format!("a group's look-up cannot be encoded: {e}")))
}
