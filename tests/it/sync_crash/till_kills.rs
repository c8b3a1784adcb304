//! A till process killed during pushes, at chosen points and at random moments.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::checks::*;
use crate::support::cloud::{Backend, CloudProcess};
use crate::support::ledger_path;
use crate::support::proxy::Fault;
use crate::support::tills::{self, SyncedTill};

fn till_killed_during_pushes(backend: Backend) {
    let seed = seed(&format!("till SIGKILL during pushes ({backend:?})"));
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let initial = HashMap::from([(STORE, tills::cloud_stock(&cloud, &key, STORE))]);
    let till = SyncedTill::enrol(&runtime, &cloud, STORE, true);
    let proxy = till.proxy();
    let ledger: PathBuf = ledger_path(till.temp._dir.path());
    wait_until_quiet(proxy, &format!("seed {seed}, {backend:?}, enrolment"));

    let mut points: Vec<KillPoint> = [
        KillPoint::PushForwarded,
        KillPoint::PushAnswered,
        KillPoint::Random,
    ]
    .iter()
    .flat_map(|point| std::iter::repeat_n(*point, TILL_KILLS_PER_POINT))
    .collect();
    points.shuffle(&mut rng);

    let mut journal = Journal::default();
    let mut before_any_answer = 0;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for (kill, point) in points.iter().enumerate() {
        // A bigger first push for PushForwarded keeps the cloud busy applying it for a while.
        let backlog = match point {
            KillPoint::PushForwarded => rng.random_range(40..=100),
            _ => rng.random_range(1..=12),
        };
        proxy.set(match point {
            KillPoint::Random => Fault::Pass,
            _ => Fault::HoldResponses,
        });
        let at = format!(
            "seed {seed}, {backend:?}, kill {} at {point:?}, link {:?}, backlog {backlog}",
            kill + 1,
            proxy.fault()
        );
        let counters = proxy.counters();
        let forwarded = counters.requests_forwarded.load(Ordering::SeqCst);
        let answered = counters.responses_started.load(Ordering::SeqCst);
        let child = SyncChild::spawn(&ledger, rng.random(), backlog);
        // The child sells its backlog before its first round, so the first request it sends is
        // a push, and the first answer is that push's.
        match point {
            KillPoint::PushForwarded => {
                assert!(
                    proxy.wait_for(PATIENCE, |c| c.requests_forwarded.load(Ordering::SeqCst)
                        > forwarded),
                    "[{at}] the child's first push reaches the cloud"
                );
                sleep_ms(&mut rng, 15);
            }
            KillPoint::PushAnswered => {
                assert!(
                    proxy.wait_for(PATIENCE, |c| c.responses_started.load(Ordering::SeqCst)
                        > answered),
                    "[{at}] the cloud answers the child's first push, after committing it"
                );
            }
            KillPoint::Random => {
                for _ in 0..rng.random_range(1..=16) {
                    match child.lines.recv_timeout(PATIENCE) {
                        Ok(line) => journal.note(&line),
                        Err(_) => panic!("[{at}] the child stopped selling and syncing"),
                    }
                }
                sleep_ms(&mut rng, 25);
            }
        }
        let answer_started = counters.responses_started.load(Ordering::SeqCst) > answered;
        for line in child.kill(&at) {
            journal.note(&line);
        }
        *tally.entry(format!("{point:?}")).or_default() += 1;
        proxy.pass();
        wait_until_quiet(proxy, &at);
        let state = check_ledger(&ledger, &journal, &at);
        let applied = check_cloud(&runtime, &cloud, &key, &ledger, &state, &at);
        match point {
            KillPoint::PushForwarded if !answer_started => before_any_answer += 1,
            KillPoint::PushAnswered => assert!(
                applied > state.acked,
                "[{at}] the cloud committed the push whose answer the till never recorded \
                 (applied up to {applied}, acknowledged up to {}): those operations must come \
                 back to the cloud as duplicates",
                state.acked
            ),
            _ => {}
        }
    }

    let context = format!(
        "seed {seed}, {backend:?}, after {} till kills",
        points.len()
    );
    proxy.pass();
    tills::converge(&runtime, std::slice::from_ref(&till), 10, &context);
    tills::assert_invariants(
        &cloud,
        &key,
        &initial,
        std::slice::from_ref(&till),
        &context,
    );
    let mut in_cloud: HashMap<String, usize> = HashMap::new();
    for receipt in tills::cloud_receipts(&cloud, &key, STORE) {
        *in_cloud.entry(receipt).or_default() += 1;
    }
    for (receipt_no, _, _) in &journal.sales {
        assert_eq!(
            in_cloud.get(receipt_no).copied().unwrap_or(0),
            1,
            "[{context}] sale {receipt_no} was reported committed by the till, so the cloud holds \
             it exactly once"
        );
    }
    assert!(
        before_any_answer >= 1,
        "[{context}] at least one SIGKILL must land after a push reached the cloud and before \
         any answer, or this test proves nothing about that point"
    );
    println!(
        "{context}: {tally:?}; {before_any_answer} kills with a push at the cloud and no answer \
         started; {} sales and {} refunds reported, {} of {} rounds completed, in {:.1}s",
        journal.sales.len(),
        journal.refunds.len(),
        journal.rounds_ok,
        journal.rounds_started,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_till_killed_during_pushes_to_a_cloud_on_sqlite_loses_no_sale_and_none_is_applied_twice() {
    till_killed_during_pushes(Backend::Sqlite);
}

#[test]
fn a_till_killed_during_pushes_to_a_cloud_on_postgresql_loses_no_sale_and_none_is_applied_twice() {
    till_killed_during_pushes(Backend::Postgres);
}
