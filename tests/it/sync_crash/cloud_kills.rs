//! The cloud process killed while it applies a push, during the drain of a backlog.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use omnitill_sync::{SyncError, engine};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::checks::*;
use crate::support::cloud::{Backend, CloudProcess};
use crate::support::ledger_path;
use crate::support::tills::{self, SyncedTill};

/// A push caught in flight: sent by the till, with no answer started.
struct InFlight {
    answers_before: u64,
    first_seq: i64,
}

/// Waits until the till has a push in flight (bytes forwarded to the cloud since the last
/// answer started, and operations pending, so the request is a push: the engine pushes while
/// anything is pending and the outbox shrinks only after an answer), for which `wanted(pending)`
/// holds. Returns `None` if the round ended first.
fn catch_push_in_flight(
    till: &SyncedTill,
    round: &tokio::task::JoinHandle<Result<engine::RoundReport, SyncError>>,
    wanted: impl Fn(i64) -> bool,
    at: &str,
) -> Option<InFlight> {
    let counters = till.proxy().counters();
    let deadline = Instant::now() + PATIENCE;
    'snapshot: loop {
        let answers = counters.responses_started.load(Ordering::SeqCst);
        let forwarded = counters.requests_forwarded.load(Ordering::SeqCst);
        loop {
            assert!(
                Instant::now() < deadline,
                "[{at}] a push is caught in flight within {PATIENCE:?}"
            );
            if round.is_finished() {
                return None;
            }
            if counters.responses_started.load(Ordering::SeqCst) != answers {
                continue 'snapshot;
            }
            if counters.requests_forwarded.load(Ordering::SeqCst) > forwarded {
                let pending = till.pending();
                let first_seq = one(
                    till.temp.till.connection(),
                    "SELECT COALESCE(min(seq), 0) FROM outbox WHERE acked_at IS NULL",
                );
                let unanswered = counters.responses_started.load(Ordering::SeqCst) == answers;
                if unanswered && pending > 0 && wanted(pending) {
                    return Some(InFlight {
                        answers_before: answers,
                        first_seq,
                    });
                }
                continue 'snapshot;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn cloud_killed_while_applying_pushes(backend: Backend) {
    let seed = seed(&format!(
        "cloud SIGKILL while applying pushes ({backend:?})"
    ));
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let runtime = tills::runtime();
    let mut cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let initial = HashMap::from([(STORE, tills::cloud_stock(&cloud, &key, STORE))]);
    let mut till = SyncedTill::enrol(&runtime, &cloud, STORE, true);
    let ledger = ledger_path(till.temp._dir.path());

    // About a thousand operations, refunds among the sales: five full batches to drain.
    let mut receipts = Vec::new();
    for _ in 0..4 {
        receipts.extend(till.sell_randomly(&mut rng, 225));
        refund_some(&mut till, &receipts, 25, &mut rng);
    }
    let backlog = till.pending();
    assert_eq!(
        backlog, 1_000,
        "900 sales and 100 refunds wait in the outbox"
    );
    let sold_at = started.elapsed();

    let mut kills = 0;
    let mut in_flight = 0;
    let mut rolled_back = 0;
    for kill in 1..=CLOUD_KILLS {
        let at = format!("seed {seed}, {backend:?}, cloud kill {kill}");
        let pending_before = till.pending();
        if pending_before == 0 {
            break;
        }
        let round = {
            let engine = till.engine.clone();
            runtime.spawn(async move { engine::sync_once(&engine).await })
        };
        // Sometimes let one push of this round through first, so kills land across the drain.
        let let_one_through = rng.random_bool(0.5);
        let caught = catch_push_in_flight(
            &till,
            &round,
            |pending| !let_one_through || pending < pending_before,
            &at,
        );
        let Some(push) = caught else {
            // The drain ended before a push could be caught.
            let _ = runtime.block_on(round);
            break;
        };
        sleep_ms(&mut rng, 30);
        cloud.stop();
        kills += 1;
        let ended = runtime.block_on(async { tokio::time::timeout(PATIENCE, round).await });
        assert!(
            ended.is_ok(),
            "[{at}] the round ends once the cloud is gone"
        );
        // The round has ended, so every byte the dead cloud sent has passed the proxy.
        let answered = till
            .proxy()
            .counters()
            .responses_started
            .load(Ordering::SeqCst)
            > push.answers_before;
        if !answered {
            in_flight += 1;
        }
        cloud.restart();
        let state = check_ledger(&ledger, &Journal::default(), &at);
        let applied = check_cloud(&runtime, &cloud, &key, &ledger, &state, &at);
        if applied < push.first_seq {
            rolled_back += 1;
        }
    }
    let context = format!("seed {seed}, {backend:?}, after {kills} cloud kills");
    assert!(
        in_flight >= 1,
        "[{context}] at least one SIGKILL must land while the cloud applies a push (no answer \
         started), or this test proves nothing about it"
    );
    tills::converge(&runtime, std::slice::from_ref(&till), 20, &context);
    tills::assert_invariants(
        &cloud,
        &key,
        &initial,
        std::slice::from_ref(&till),
        &context,
    );
    println!(
        "{context}: {backlog} operations, {in_flight} kills with a push in flight and no answer \
         started, {rolled_back} of them rolled back by the cloud; selling took {:.1}s, all {:.1}s",
        sold_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_cloud_on_sqlite_killed_while_applying_pushes_keeps_whole_pushes_only() {
    cloud_killed_while_applying_pushes(Backend::Sqlite);
}

#[test]
fn a_cloud_on_postgresql_killed_while_applying_pushes_keeps_whole_pushes_only() {
    cloud_killed_while_applying_pushes(Backend::Postgres);
}
