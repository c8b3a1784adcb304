//! Sync rounds against the cloud, and the state the status bar shows.
//!
//! `sync_once` runs one round: push every pending operation in batches, then pull the change
//! feed until it is drained, fetching the next page while the current one is applied. Each
//! database step runs on a blocking thread in its own short transaction; none waits on a
//! request.
//!
//! A cloud restored from a backup answers a push with `sequence_gap`: it has forgotten
//! operations this till holds as acknowledged. The engine reads the cloud's checkpoint, lets
//! `plan::after_sequence_gap` decide, and sends the forgotten operations again from the outbox
//! (once per round); the status bar says so while they go.

use std::path::Path;
use std::sync::{Arc, Mutex};

use omnitill_core::{SystemClock, Till};
use omnitill_protocol::ErrorCode;
use omnitill_protocol::pull::PullResponse;

use crate::client::{Client, SyncError};
use crate::plan::{self, PlanInput, Step};

/// How many feed entries one pull asks for.
pub const PULL_PAGE: i64 = 20_000;

/// The link as the status bar names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    #[default]
    NotConfigured,
    Online,
    Offline,
    Syncing,
    Revoked,
}

impl LinkState {
    /// Whether the cloud can be asked now (a look-up, a points hold, a member's history): the
    /// one definition of "online" that the shell and, through the status, the UI use.
    pub fn is_up(self) -> bool {
        matches!(self, LinkState::Online | LinkState::Syncing)
    }
}

/// Why the last round failed, as a code the status bar words in the till's language (the
/// message beside it keeps the engine's own English words, for the logs and support).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkProblem {
    /// No answer: the network or the cloud is down.
    Unreachable,
    /// The cloud answered with a failure of its own, or garbage.
    CloudFailed,
    /// The cloud refused this till's token as revoked.
    Revoked,
    /// The cloud refused the request for good (a version it does not speak, a bad request).
    Refused,
    /// The cloud's address may not carry this till's token.
    BadCloudUrl,
    /// The cloud holds operations this ledger never wrote (a restored ledger, a shared
    /// enrolment).
    CloudAhead,
    /// The till's own ledger failed.
    LedgerFailed,
    /// Enrolling with the cloud at start failed.
    EnrolmentFailed,
}

impl SyncError {
    /// The status bar's code for this failure.
    pub fn problem(&self) -> LinkProblem {
        match self {
            SyncError::Unreachable(_) => LinkProblem::Unreachable,
            SyncError::Server(_) => LinkProblem::CloudFailed,
            SyncError::Revoked => LinkProblem::Revoked,
            SyncError::Refused { .. } => LinkProblem::Refused,
            SyncError::Ledger(_) => LinkProblem::LedgerFailed,
            SyncError::BadCloudUrl(_) => LinkProblem::BadCloudUrl,
            SyncError::CloudAhead { .. } => LinkProblem::CloudAhead,
        }
    }
}

/// What the engine reports after each step (by default: no link, nothing done).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStatus {
    pub state: LinkState,
    pub pending: i64,
    pub oldest_pending_at_ms: Option<i64>,
    pub last_sync_at_ms: Option<i64>,
    /// Why the last round failed, and the engine's words for it.
    pub problem: Option<LinkProblem>,
    pub message: Option<String>,
    /// Feed entries downloaded and still to download in this round, for a progress bar.
    pub downloaded: i64,
    pub remaining: i64,
    /// Products downloaded but not yet indexed for search.
    pub search_waiting: i64,
    /// Operations the cloud forgot (it was restored from a backup) that are being sent again:
    /// how many still wait, and how many the cloud asked for. Both 0 when nothing is re-sent.
    pub resending: i64,
    pub resend_total: i64,
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub pushed: usize,
    pub pulled: usize,
    /// Operations marked for sending again because the cloud was restored.
    pub resent: i64,
}

/// Operations marked for sending again after the cloud was restored: those up to seq
/// `through`, `total` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resend {
    pub through: i64,
    pub total: i64,
}

type Shared = Arc<Mutex<Till>>;

async fn on_ledger<T: Send + 'static>(
    till: &Shared,
    work: impl FnOnce(&mut Till) -> Result<T, SyncError> + Send + 'static,
) -> Result<T, SyncError> {
    let till = till.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = till.lock().unwrap_or_else(|poison| poison.into_inner());
        work(&mut guard)
    })
    .await
    .map_err(|e| SyncError::Server(format!("a ledger step stopped: {e}")))?
}

/// Opens the engine's own connection to the ledger.
pub fn open_ledger(path: &Path) -> Result<Shared, SyncError> {
    let till = Till::open(path, Arc::new(SystemClock))?;
    till.set_cache_size(ENGINE_CACHE_KIB)?;
    Ok(Arc::new(Mutex::new(till)))
}

/// The engine connection's page cache, in KiB: a large download inserts all over the product
/// and barcode indexes, and SQLite's default 2 MiB cache would read most of those pages back
/// from the file again. Pages are only held once read, so an idle engine uses little of it.
const ENGINE_CACHE_KIB: i64 = 32 * 1024;

/// Where a round's download stands: feed entries applied so far in this round, how many the
/// cloud still holds after them, and how many downloaded products still wait to be indexed
/// for search. The first sync of a large catalog shows this as a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub downloaded: i64,
    pub remaining: i64,
    pub search_waiting: i64,
}

/// How a round runs.
pub struct RoundOptions<'a> {
    /// Feed entries asked for per pull.
    pub pull_page: i64,
    /// Called after each pulled page is applied and after each chunk is indexed.
    pub progress: &'a (dyn Fn(Progress) + Send + Sync),
    /// Called when operations are marked for sending again to a restored cloud.
    pub resend: &'a (dyn Fn(Resend) + Send + Sync),
}

impl Default for RoundOptions<'_> {
    fn default() -> Self {
        RoundOptions {
            pull_page: PULL_PAGE,
            progress: &|_| {},
            resend: &|_| {},
        }
    }
}

/// Runs one sync round on the ledger.
pub async fn sync_once(till: &Shared) -> Result<RoundReport, SyncError> {
    sync_once_with(till, &RoundOptions::default()).await
}

/// Runs one sync round on the ledger, reporting the download's progress.
pub async fn sync_once_with(
    till: &Shared,
    options: &RoundOptions<'_>,
) -> Result<RoundReport, SyncError> {
    let link = on_ledger(till, |t| Ok(t.sync_link()?)).await?;
    let Some(link) = link else {
        return Ok(RoundReport::default());
    };
    let client = Client::new(&link.cloud_url, Some(link.token.clone()))?;
    let mut report = RoundReport::default();
    let mut pulled_this_round = false;
    let mut more_to_pull = false;
    // The next feed page, fetched while the previous one was being applied.
    let mut prefetched: Option<Result<PullResponse, SyncError>> = None;
    // Products still to index, once known (counted when indexing begins).
    let mut to_index: Option<i64> = None;
    // A `sequence_gap` is handled once per round; a second one is reported.
    let mut gap_handled = false;
    loop {
        let (pending, _) = on_ledger(till, |t| Ok(t.pending_operations()?)).await?;
        let (revoked, search_waiting) = on_ledger(till, |t| {
            // A ledger found damaged is not written to, not even an acknowledgement.
            t.ensure_writable()?;
            let revoked = t.sync_link()?.is_some_and(|l| l.revoked);
            Ok((revoked, t.search_waiting()?))
        })
        .await?;
        let step = plan::next_step(PlanInput {
            enrolled: true,
            revoked,
            pending,
            more_to_pull,
            pulled_this_round,
            search_waiting: i64::from(search_waiting),
        });
        match step {
            Step::Stop | Step::Done => return Ok(report),
            Step::Push(limit) => {
                // A sale made during a download is pushed first; the page fetched ahead is
                // dropped and fetched again afterwards from the ledger's cursor.
                prefetched = None;
                let mut ops = on_ledger(till, move |t| Ok(t.operations_to_push(limit)?)).await?;
                ops.truncate(plan::fits_in_push(&ops, plan::PUSH_MAX_BYTES));
                let response = match client.push(&ops).await {
                    Err(SyncError::Revoked) => {
                        on_ledger(till, |t| Ok(t.mark_revoked()?)).await?;
                        return Err(SyncError::Revoked);
                    }
                    Err(SyncError::Refused {
                        code: ErrorCode::SequenceGap,
                        ..
                    }) if !gap_handled => {
                        gap_handled = true;
                        report.resent += after_gap(till, &client, options).await?;
                        continue;
                    }
                    other => other?,
                };
                report.pushed += ops.len();
                on_ledger(till, move |t| {
                    let now = t.clock().now();
                    Ok(t.record_push(&response, now)?)
                })
                .await?;
            }
            Step::Index(limit) => {
                let waiting = match to_index {
                    Some(waiting) => waiting,
                    None => on_ledger(till, |t| Ok(t.search_backlog()?)).await?,
                };
                let indexed = on_ledger(till, move |t| Ok(t.index_search(limit)?)).await?;
                // Only this engine writes products, so the backlog shrinks by what was indexed.
                let waiting = (waiting - indexed as i64).max(0);
                to_index = Some(waiting);
                (options.progress)(Progress {
                    downloaded: report.pulled as i64,
                    remaining: 0,
                    search_waiting: waiting,
                });
            }
            Step::Pull => {
                let page = match prefetched.take() {
                    Some(page) => page,
                    None => {
                        let cursor =
                            on_ledger(till, |t| Ok(t.sync_link()?.map_or(0, |l| l.cursor))).await?;
                        client.pull(cursor, options.pull_page).await
                    }
                };
                let page = match page {
                    Err(SyncError::Revoked) => {
                        on_ledger(till, |t| Ok(t.mark_revoked()?)).await?;
                        return Err(SyncError::Revoked);
                    }
                    other => other?,
                };
                more_to_pull = page.has_more || page.reset;
                pulled_this_round = true;
                report.pulled += page.entries.len();
                let remaining = page.remaining;
                // While this page is applied, the next one is already on its way: the ledger
                // work and the network overlap, and no transaction waits for the network.
                let next_cursor = (page.has_more && !page.reset).then_some(page.cursor);
                let apply = on_ledger(till, move |t| {
                    let now = t.clock().now();
                    t.apply_pull(&page, now)?;
                    Ok(())
                });
                to_index = None;
                match next_cursor {
                    Some(cursor) => {
                        let (applied, next) =
                            tokio::join!(apply, client.pull(cursor, options.pull_page));
                        prefetched = Some(next);
                        applied?;
                    }
                    None => apply.await?,
                }
                (options.progress)(Progress {
                    downloaded: report.pulled as i64,
                    remaining,
                    search_waiting: 0,
                });
            }
        }
    }
}

/// Handles a `sequence_gap`: asks the cloud which seq it expects, and marks what it forgot
/// for sending again, as `plan::after_sequence_gap` decides. Returns how many were marked.
async fn after_gap(
    till: &Shared,
    client: &Client,
    options: &RoundOptions<'_>,
) -> Result<i64, SyncError> {
    let cursor = on_ledger(till, |t| Ok(t.sync_link()?.map_or(0, |l| l.cursor))).await?;
    let checkpoint = client.checkpoint(cursor).await?;
    let expected = checkpoint.checked_add(1).ok_or_else(|| {
        SyncError::Server(format!(
            "the cloud sent an impossible checkpoint {checkpoint}"
        ))
    })?;
    let (first_pending, newest_written) = on_ledger(till, |t| Ok(t.outbox_span()?)).await?;
    match plan::after_sequence_gap(plan::GapInput {
        expected,
        first_pending,
        newest_written,
    }) {
        plan::GapAction::Resend { from, count } => {
            let marked = on_ledger(till, move |t| Ok(t.resend_from(from)?)).await?;
            eprintln!(
                "omnitill-sync: the cloud expects seq {from} again (restored from a backup?): \
                 sending {count} operations again"
            );
            (options.resend)(Resend {
                through: from.saturating_add(count).saturating_sub(1),
                total: count,
            });
            Ok(marked)
        }
        plan::GapAction::PushAgain => Ok(0),
        plan::GapAction::CloudAhead {
            expected,
            newest_written,
        } => Err(SyncError::CloudAhead {
            expected,
            newest_written,
        }),
    }
}

/// How the background engine paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The round timer when all is well.
    pub interval: std::time::Duration,
    /// The first retry delay after a transient failure; it doubles, with jitter, up to `max_backoff`.
    pub min_backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            interval: std::time::Duration::from_secs(5),
            min_backoff: std::time::Duration::from_millis(500),
            max_backoff: std::time::Duration::from_secs(10),
        }
    }
}

/// Reads what the status bar shows from the ledger, with the engine's own view of the link
/// and the operations it is sending again to a restored cloud, if any.
pub fn status_of(
    till: &Till,
    state: LinkState,
    failure: Option<(LinkProblem, String)>,
    resend: Option<Resend>,
) -> Result<EngineStatus, SyncError> {
    let (problem, message) = failure.unzip();
    let (pending, oldest) = till.pending_operations()?;
    let link = till.sync_link()?;
    let state = match &link {
        None => LinkState::NotConfigured,
        Some(link) if link.revoked => LinkState::Revoked,
        Some(_) => state,
    };
    Ok(EngineStatus {
        state,
        pending,
        oldest_pending_at_ms: oldest,
        last_sync_at_ms: link.and_then(|l| l.last_sync_at),
        problem,
        message,
        downloaded: 0,
        remaining: 0,
        search_waiting: if till.search_waiting()? {
            till.search_backlog()?
        } else {
            0
        },
        resending: match resend {
            Some(resend) => till.pending_through(resend.through)?,
            None => 0,
        },
        resend_total: resend.map_or(0, |r| r.total),
    })
}

/// Indexes every product waiting for search, a chunk at a time, without the cloud: a download
/// cut off by the link still becomes searchable while the till is offline.
async fn index_offline(
    till: &Shared,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(), SyncError> {
    let mut waiting = on_ledger(till, |t| Ok(t.search_backlog()?)).await?;
    while waiting > 0 {
        let indexed = on_ledger(till, |t| Ok(t.index_search(plan::INDEX_CHUNK)?)).await?;
        if indexed == 0 {
            break;
        }
        waiting = (waiting - indexed as i64).max(0);
        progress(Progress {
            downloaded: 0,
            remaining: 0,
            search_waiting: waiting,
        });
    }
    Ok(())
}

fn backoff(pacing: Pacing) -> impl Iterator<Item = std::time::Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(pacing.min_backoff)
        .with_max_delay(pacing.max_backoff)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Runs sync rounds until `shutdown` turns true: after each new operation (`wake`), on the
/// timer, and, while the cloud cannot be reached, on a backoff that notices when it returns.
pub async fn run(
    till: Shared,
    wake: Arc<tokio::sync::Notify>,
    status: tokio::sync::watch::Sender<EngineStatus>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    pacing: Pacing,
) {
    let mut delays = backoff(pacing);
    // Operations being sent again to a restored cloud, shown until they are all acknowledged.
    let resending: Arc<Mutex<Option<Resend>>> = Arc::new(Mutex::new(None));
    loop {
        // Syncing shows only while there is something to push; a quiet round keeps the
        // previous state, so the status bar does not flicker every few seconds.
        let publish = |state: LinkState, failure: Option<&SyncError>| {
            let failure = failure.map(|error| (error.problem(), error.to_string()));
            let till = till.clone();
            let status = status.clone();
            let previous = status.borrow().state;
            let resending = resending.clone();
            async move {
                if let Ok(Ok(mut report)) = tokio::task::spawn_blocking(move || {
                    let guard = till.lock().unwrap_or_else(|poison| poison.into_inner());
                    let mut resend = resending.lock().unwrap_or_else(|p| p.into_inner());
                    let report = status_of(&guard, state, failure, *resend);
                    if report.as_ref().is_ok_and(|r| r.resending == 0) {
                        *resend = None;
                    }
                    report
                })
                .await
                {
                    if state == LinkState::Syncing
                        && report.pending == 0
                        && report.state == LinkState::Syncing
                    {
                        report.state = previous;
                    }
                    status.send_replace(report);
                }
            }
        };
        publish(LinkState::Syncing, None).await;
        let progress = |step: Progress| {
            status.send_modify(|shown| {
                shown.state = LinkState::Syncing;
                shown.downloaded = step.downloaded;
                shown.remaining = step.remaining;
                shown.search_waiting = step.search_waiting;
            });
        };
        let resend = |marked: Resend| {
            *resending.lock().unwrap_or_else(|p| p.into_inner()) = Some(marked);
            status.send_modify(|shown| {
                shown.state = LinkState::Syncing;
                shown.resending = marked.total;
                shown.resend_total = marked.total;
            });
        };
        let options = RoundOptions {
            pull_page: PULL_PAGE,
            progress: &progress,
            resend: &resend,
        };
        let wait = match sync_once_with(&till, &options).await {
            Ok(_) => {
                delays = backoff(pacing);
                publish(LinkState::Online, None).await;
                pacing.interval
            }
            Err(error) if error.is_transient() => {
                if let SyncError::Unreachable(detail) | SyncError::Server(detail) = &error {
                    eprintln!("omnitill-sync: {error}: {detail}");
                }
                if let Err(index_error) = index_offline(&till, &progress).await {
                    eprintln!("omnitill-sync: indexing for search stopped: {index_error}");
                }
                publish(LinkState::Offline, Some(&error)).await;
                delays.next().unwrap_or(pacing.max_backoff)
            }
            Err(error) => {
                publish(LinkState::Offline, Some(&error)).await;
                pacing.max_backoff
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod link_state_tests {
    use super::LinkState;

    #[test]
    fn the_cloud_is_asked_only_while_the_link_is_online_or_syncing() {
        for (state, up) in [
            (LinkState::Online, true),
            (LinkState::Syncing, true),
            (LinkState::Offline, false),
            (LinkState::NotConfigured, false),
            (LinkState::Revoked, false),
        ] {
            assert_eq!(
                state.is_up(),
                up,
                "{state:?}: the shell and the UI decide online by this one rule"
            );
        }
    }
}
