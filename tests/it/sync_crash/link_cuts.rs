//! The link cut under a push at finely spread moments.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use omnitill_sync::{SyncError, engine};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::checks::*;
use crate::support::cloud::{Backend, CloudProcess};
use crate::support::ledger_path;
use crate::support::tills::{self, SyncedTill};

/// How many times the link is cut under a push in flight, per backend.
const LINK_CUTS: usize = 60;

/// Sells 1-3 sales and starts a sync round; returns the round once its push reached the cloud,
/// with the answer count before it.
fn push_reaching_the_cloud(
    till: &mut SyncedTill,
    runtime: &tokio::runtime::Runtime,
    rng: &mut StdRng,
    at: &str,
) -> (
    tokio::task::JoinHandle<Result<engine::RoundReport, SyncError>>,
    u64,
) {
    let sales = rng.random_range(1..=3);
    till.sell_randomly(rng, sales);
    let counters = till.proxy().counters();
    let forwarded = counters.requests_forwarded.load(Ordering::SeqCst);
    let answered = counters.responses_started.load(Ordering::SeqCst);
    let round = {
        let engine = till.engine.clone();
        runtime.spawn(async move { engine::sync_once(&engine).await })
    };
    // The round's first request is a push: sales are pending.
    assert!(
        till.proxy()
            .wait_for(PATIENCE, |c| c.requests_forwarded.load(Ordering::SeqCst)
                > forwarded),
        "[{at}] the push reaches the cloud"
    );
    (round, answered)
}

/// The cloud's side of a till that vanishes mid-request, many times, at finely spread moments:
/// the link is cut at a random moment between the push reaching the cloud and the time the
/// cloud takes to answer such a push (a killed till's connection closes the same way).
/// Whatever the cloud was doing for that request (authenticating, reading the body, beginning
/// its transaction, applying) must end cleanly: after each cut, requests that open a
/// transaction of their own work, and in the end the till converges as usual.
fn link_cut_during_pushes(backend: Backend) {
    let seed = seed(&format!("link cut during pushes ({backend:?})"));
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let initial = HashMap::from([(STORE, tills::cloud_stock(&cloud, &key, STORE))]);
    let mut till = SyncedTill::enrol(&runtime, &cloud, STORE, true);
    let ledger = ledger_path(till.temp._dir.path());
    // How long the cloud takes to answer such a push on this machine: the median of a few
    // uncut rounds.
    let mut answer_times = Vec::new();
    for round in 1..=5 {
        let at = format!("seed {seed}, {backend:?}, uncut round {round}");
        let (round, answered) = push_reaching_the_cloud(&mut till, &runtime, &mut rng, &at);
        let reached = Instant::now();
        assert!(
            till.proxy()
                .wait_for(PATIENCE, |c| c.responses_started.load(Ordering::SeqCst)
                    > answered),
            "[{at}] the cloud answers the push"
        );
        answer_times.push(reached.elapsed());
        runtime
            .block_on(round)
            .expect("the round runs")
            .unwrap_or_else(|error| panic!("[{at}] an uncut round succeeds: {error:?}"));
    }
    answer_times.sort();
    let answer_time = answer_times[answer_times.len() / 2];
    let mut cut_in_flight = 0;
    for cut in 1..=LINK_CUTS {
        let at = format!("seed {seed}, {backend:?}, link cut {cut}");
        let (round, answered) = push_reaching_the_cloud(&mut till, &runtime, &mut rng, &at);
        let cut_after = answer_time.mul_f64(rng.random_range(0.0..1.0));
        let reached = Instant::now();
        // Spin rather than sleep: the moment should be precise to a few microseconds.
        while reached.elapsed() < cut_after {
            std::hint::spin_loop();
        }
        till.proxy().cut_connections();
        let counters = till.proxy().counters();
        if counters.responses_started.load(Ordering::SeqCst) == answered {
            cut_in_flight += 1;
        }
        let ended = runtime.block_on(async { tokio::time::timeout(PATIENCE, round).await });
        assert!(ended.is_ok(), "[{at}] the round ends once the link is cut");
        wait_until_quiet(till.proxy(), &at);
        // Pulls run in a transaction of their own, on whichever pooled connection is free.
        for ask in 1..=3 {
            if let Err(error) = cloud_checkpoint(&runtime, &cloud, &ledger) {
                panic!(
                    "[{at}] pull {ask} after the cut fails ({error:?}): a request abandoned by \
                     its client left a database connection of the cloud in a bad state"
                );
            }
        }
    }
    let context = format!("seed {seed}, {backend:?}, after {LINK_CUTS} link cuts");
    assert!(
        cut_in_flight >= LINK_CUTS / 4,
        "[{context}] only {cut_in_flight} cuts landed before the cloud answered: the test must \
         cut requests while the cloud is still working on them"
    );
    let state = check_ledger(&ledger, &Journal::default(), &context);
    check_cloud(&runtime, &cloud, &key, &ledger, &state, &context);
    tills::converge(&runtime, std::slice::from_ref(&till), 10, &context);
    tills::assert_invariants(
        &cloud,
        &key,
        &initial,
        std::slice::from_ref(&till),
        &context,
    );
    println!(
        "{context}: cut within {answer_time:?} of the push reaching the cloud, {cut_in_flight} \
         before any answer started, in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_link_cut_during_pushes_leaves_no_cloud_connection_inside_a_transaction_on_postgresql() {
    link_cut_during_pushes(Backend::Postgres);
}

#[test]
fn a_link_cut_during_pushes_leaves_no_cloud_connection_inside_a_transaction_on_sqlite() {
    link_cut_during_pushes(Backend::Sqlite);
}
