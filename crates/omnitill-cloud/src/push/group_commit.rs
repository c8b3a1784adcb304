//! Group commit of pushes on SQLite: pushes that arrive while the one writer is busy are applied
//! together, each in a savepoint of one shared transaction, and answered after its commit.
//!
//! SQLite has one writer and syncs its log at every commit (`synchronous=FULL`). With many
//! tills pushing at once, most of a push's time was its commit: the log frames of the pages it
//! touched (the feed, the operation log, the stock levels, their indexes) and one sync. Applied
//! together, the pushes of a group share those pages and that sync.
//!
//! The stock levels the group moved are published once, at its end, for every push of it.
//! The group's pushes of nothing but new plain sales are applied together, with a fixed number
//! of statements for all of them (`plain_group`); the others one by one after them.
//!
//! Nothing changes for a push alone: the writer takes what is waiting when it becomes free, so
//! an idle cloud commits each push at once. Each push keeps its own outcome: one that fails
//! (a gap in its sequence, a revoked device, a database error) is rolled back to its savepoint
//! and answered with its error, and the others of the group go on. A failed commit answers
//! every push of the group with the error; none of them was applied, and each till sends its
//! push again. PostgreSQL takes pushes in parallel (`push`) and does not use this.

use std::collections::BTreeMap;

use omnitill_protocol::push::{PushRequest, PushResponse};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Backend, Db};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::stock;

use super::plain_group::{self, GroupPush};
use super::{Applied, Touched};

/// Pushes one group takes at most: enough to share a commit among many tills, few enough that
/// a group's transaction stays short.
const MAX_GROUP: usize = 64;

/// The queue of pushes waiting for the SQLite writer; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Waiting>,
}

/// A push waiting for its group, with where its answer goes.
struct Waiting {
    device: Device,
    request: PushRequest,
    answer: oneshot::Sender<CloudResult<PushResponse>>,
}

impl GroupCommit {
    /// Starts the writer task for `db`; `None` on PostgreSQL, where pushes run in parallel.
    pub fn start(db: &Db) -> Option<GroupCommit> {
        if db.backend != Backend::Sqlite {
            return None;
        }
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(db.clone(), waiting));
        Some(GroupCommit { queue })
    }

    /// Applies `request` from `device` in the next group and answers it after that group's
    /// commit.
    pub async fn push(&self, device: Device, request: PushRequest) -> CloudResult<PushResponse> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting {
            device,
            request,
            answer,
        };
        self.queue
            .send(waiting)
            .map_err(|_| CloudError::Internal("the push writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| CloudError::Internal("the push writer stopped before answering".into()))?
    }
}

/// The writer: takes every push waiting (up to `MAX_GROUP`), applies them in one transaction,
/// commits, answers; until every `GroupCommit` is dropped.
async fn run(db: Db, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let outcomes = apply_group(&db, &group).await;
        for (push, outcome) in group.into_iter().zip(outcomes) {
            // A till that gave up waiting is no longer listening; its push stands.
            let _ = push.answer.send(outcome);
        }
    }
}

/// Applies a group in one transaction; one outcome per push, in order.
async fn apply_group(db: &Db, group: &[Waiting]) -> Vec<CloudResult<PushResponse>> {
    let not_saved = |error: &CloudError| -> Vec<CloudResult<PushResponse>> {
        group
            .iter()
            .map(|_| {
                Err(CloudError::Internal(format!(
                    "the push was not saved, send it again: {error}"
                )))
            })
            .collect()
    };
    let mut tx = match db.write.begin().await {
        Ok(tx) => tx,
        Err(error) => return not_saved(&error.into()),
    };
    let now_ms = db.now_ms();
    let mut outcomes = Vec::with_capacity(group.len());
    // Per store, the SKUs whose stock the group moved: their levels are published once.
    let mut touched: BTreeMap<&str, Touched> = BTreeMap::new();
    // The pushes of new plain sales first, together; the others one by one after them.
    let plain: Vec<GroupPush> = group
        .iter()
        .map(|push| GroupPush {
            device: &push.device,
            request: &push.request,
        })
        .collect();
    let applied_together = match plain_group::apply(&mut tx, now_ms, &plain).await {
        Ok(applied) => applied,
        Err(error) => return not_saved(&error),
    };
    for (push, together) in group.iter().zip(applied_together) {
        let outcome = match together {
            Some(applied) => Ok(Ok(applied)),
            None => apply_one(&mut tx, push, now_ms).await,
        };
        match outcome {
            Ok(Ok(applied)) => {
                touched
                    .entry(push.device.store_id.as_str())
                    .or_default()
                    .add(applied.touched.skus);
                outcomes.push(Ok(applied.response));
            }
            Ok(Err(refused)) => outcomes.push(Err(refused)),
            // The shared transaction cannot go on: nothing of the group is kept.
            Err(error) => return not_saved(&error),
        }
    }
    for (store_id, skus) in &touched {
        if let Err(error) = stock::publish_levels(&mut tx, store_id, &skus.skus).await {
            return not_saved(&error);
        }
    }
    match tx.commit().await {
        Ok(()) => outcomes,
        Err(error) => not_saved(&error.into()),
    }
}

/// One push of a group, inside its own savepoint: its outcome, or (outer `Err`) a failure of
/// the shared transaction itself.
async fn apply_one(
    tx: &mut sqlx::AnyConnection,
    push: &Waiting,
    now_ms: i64,
) -> CloudResult<CloudResult<Applied>> {
    sqlx::raw_sql("SAVEPOINT push").execute(&mut *tx).await?;
    let outcome = super::push_in(
        &mut *tx,
        Backend::Sqlite,
        now_ms,
        &push.device,
        &push.request,
    )
    .await;
    let end = if outcome.is_ok() {
        "RELEASE SAVEPOINT push"
    } else {
        "ROLLBACK TO SAVEPOINT push; RELEASE SAVEPOINT push"
    };
    sqlx::raw_sql(end).execute(&mut *tx).await?;
    Ok(outcome)
}
