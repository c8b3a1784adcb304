//! Crash safety of the sync path, with real SIGKILLs of real processes.
//!
//! - A till process (`tests/bin/sync_child.rs`: it sells and runs sync rounds with the real
//!   engine) is killed during pushes, at chosen points: once its push reached the cloud and
//!   before any answer, once the cloud had committed and answered but before the till recorded
//!   the answer (the proxy holds it), and at random moments. After each kill its ledger must be
//!   intact, hold everything it reported, have acknowledged only a prefix of its outbox, and
//!   that prefix only up to what the cloud holds; the cloud must hold exactly the sales of the
//!   operations it has applied, whole pushes or nothing.
//! - The cloud process is killed while it applies a push of a 200-operation batch, during the
//!   drain of a backlog of about a thousand operations. After each restart the cloud must hold
//!   whole pushes only.
//! - The link is cut under a push at finely spread moments, so the cloud abandons requests at
//!   every stage of their work (as it does for a killed till). Afterwards every pooled database
//!   connection must serve requests: this caught PostgreSQL connections left inside a
//!   transaction when a request was dropped while its `BEGIN` was in flight.
//!
//! Each runs against a cloud on SQLite and on PostgreSQL.
//!
//! In the end every till converges and the usual invariants hold: every sale in the cloud
//! exactly once, the till's stock equals the cloud's, the cloud's stock is the initial stock
//! minus sales plus refunds, and nothing is left in the outbox.
//!
//! Every run prints its seed; replay one with `OMNITILL_SYNC_CRASH_SEED=<seed>`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use omnitill_core::{ManagerApproval, SystemClock, Till, outbox, sync as ledger_sync};
use omnitill_sync::{Client, SyncError, engine};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::ledger_path;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::tills::{self, SyncedTill};

const SEED_VAR: &str = "OMNITILL_SYNC_CRASH_SEED";
const STORE: &str = "TPE-XINYI";
/// Kills of the till process, a third at each kind of point.
const TILL_KILLS_PER_POINT: usize = 8;
/// Kills of the cloud process during the drain of the backlog, per backend.
const CLOUD_KILLS: usize = 5;
/// Generous: the machine is small and shared with other builds.
const PATIENCE: Duration = Duration::from_secs(60);

/// The run's seed: from `OMNITILL_SYNC_CRASH_SEED`, or a new one, printed either way.
fn seed(test: &str) -> u64 {
    let seed = std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("{test}: seed {seed} (replay with {SEED_VAR}={seed})");
    seed
}

fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0))
        .expect("a check query runs")
}

/// What the child processes reported, over all of their lives.
#[derive(Default)]
struct Journal {
    /// Sales whose commit returned: receipt number, line count, total.
    sales: Vec<(String, i64, i64)>,
    /// Refund receipt numbers whose commit returned.
    refunds: Vec<String>,
    rounds_started: usize,
    rounds_ok: usize,
}

impl Journal {
    fn note(&mut self, line: &str) {
        let mut words = line.split(' ');
        match words.next() {
            Some("COMMITTED") => {
                let receipt_no = words.next().map(str::to_owned);
                let lines = words.next().and_then(|w| w.parse().ok());
                let total = words.next().and_then(|w| w.parse().ok());
                let (Some(receipt_no), Some(lines), Some(total)) = (receipt_no, lines, total)
                else {
                    panic!("a malformed line from the child: {line}");
                };
                self.sales.push((receipt_no, lines, total));
            }
            Some("REFUNDED") => self.refunds.push(
                words
                    .next()
                    .unwrap_or_else(|| panic!("a malformed line from the child: {line}"))
                    .to_owned(),
            ),
            Some("SYNC") => self.rounds_started += 1,
            Some("SYNCED") => self.rounds_ok += 1,
            _ => {}
        }
    }
}

/// A running `sync-child`: a till process on the enrolled ledger.
struct SyncChild {
    child: Child,
    lines: Receiver<String>,
    reader: JoinHandle<()>,
}

impl SyncChild {
    fn spawn(ledger: &Path, seed: u64, backlog: usize) -> SyncChild {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-child"))
            .arg(ledger)
            .arg(seed.to_string())
            .arg(backlog.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the sync child starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        SyncChild {
            child,
            lines,
            reader,
        }
    }

    /// Kills the child with SIGKILL, reaps it and returns the lines it printed that were not
    /// read yet.
    fn kill(mut self, at: &str) -> Vec<String> {
        // On Unix, `Child::kill` sends SIGKILL.
        self.child.kill().expect("SIGKILL is delivered");
        let status = self.child.wait().expect("reap the child");
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "[{at}] the child died by our SIGKILL, not by itself ({status})"
        );
        self.reader.join().expect("the reader thread ends");
        self.lines.try_iter().collect()
    }
}

/// The points of a push where the till process is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// The push reached the cloud and no answer reached the till: usually the cloud is still
    /// applying it.
    PushForwarded,
    /// The cloud committed the push and answered; the proxy holds the answer, so the till has
    /// not recorded it.
    PushAnswered,
    /// Any moment: selling, pushing, pulling, recording.
    Random,
}

/// What the ledger looks like after a kill.
struct LedgerState {
    /// The outbox's highest `seq`.
    last_seq: i64,
    /// The highest acknowledged `seq`; everything at or below it is acknowledged.
    acked: i64,
}

/// The checks after every kill of the till: the file is intact and opens, everything the child
/// reported is there, whole, and the acknowledged operations are a prefix of the outbox.
fn check_ledger(path: &Path, journal: &Journal, at: &str) -> LedgerState {
    // Opening through core proves the app would start on this file.
    let till = Till::open(path, Arc::new(SystemClock)).expect("the ledger opens after a SIGKILL");
    assert_eq!(
        till.integrity_check().expect("the integrity check runs"),
        vec!["ok".to_owned()],
        "[{at}] the ledger must be intact after a SIGKILL during sync"
    );
    let conn = till.connection();
    for (receipt_no, lines, total) in &journal.sales {
        let row: Option<(i64, i64)> = conn
            .query_row(
                "SELECT line_count, total_minor FROM sale WHERE receipt_no = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        assert_eq!(
            row,
            Some((*lines, *total)),
            "[{at}] sale {receipt_no} was reported committed, so it must be in the ledger, whole"
        );
    }
    for refund_no in &journal.refunds {
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM refund WHERE receipt_no = ?1",
                [refund_no],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(
            found, 1,
            "[{at}] refund {refund_no} was reported committed, so it must be in the ledger"
        );
    }
    let facts = one(
        conn,
        "SELECT (SELECT count(*) FROM sale) + (SELECT count(*) FROM refund)",
    );
    let ops = one(conn, "SELECT count(*) FROM outbox");
    let last_seq = one(conn, "SELECT COALESCE(max(seq), 0) FROM outbox");
    assert_eq!(
        ops, facts,
        "[{at}] exactly one outbox operation per sale and per refund"
    );
    assert_eq!(last_seq, ops, "[{at}] outbox seq runs 1..n with no gap");
    let acked = one(
        conn,
        "SELECT COALESCE(max(seq), 0) FROM outbox WHERE acked_at IS NOT NULL",
    );
    let acked_count = one(
        conn,
        "SELECT count(*) FROM outbox WHERE acked_at IS NOT NULL",
    );
    assert_eq!(
        acked_count, acked,
        "[{at}] acknowledged operations are a prefix of the outbox: the cloud applies in seq order"
    );
    LedgerState { last_seq, acked }
}

/// The cloud's write checkpoint for this till (its last applied `seq`), asked directly, not
/// through the till's proxy, with the till's own token.
fn cloud_checkpoint(
    runtime: &tokio::runtime::Runtime,
    cloud: &CloudProcess,
    ledger: &Path,
) -> Result<i64, SyncError> {
    let link = {
        let conn = Connection::open(ledger).expect("the ledger opens for reading");
        ledger_sync::link(&conn)
            .expect("the link reads")
            .expect("the till is enrolled")
    };
    let client = Client::new(&cloud.base_url, Some(link.token)).expect("an HTTP client");
    let page = runtime.block_on(client.pull(0, 1))?;
    Ok(page.last_applied_seq)
}

/// The cloud's checkpoint for this till and how many sales it holds for the store, as of one
/// moment. A push whose till vanished may still be committing (the cloud finishes what it
/// started), so the count is read between two reads of the checkpoint until they agree: a push
/// that brings new operations always moves the checkpoint.
fn cloud_snapshot(
    runtime: &tokio::runtime::Runtime,
    cloud: &CloudProcess,
    key: &str,
    ledger: &Path,
    at: &str,
) -> (i64, i64) {
    let deadline = Instant::now() + PATIENCE;
    let checkpoint = || {
        cloud_checkpoint(runtime, cloud, ledger)
            .unwrap_or_else(|error| panic!("[{at}] the cloud answers a pull: {error:?}"))
    };
    loop {
        let before = checkpoint();
        let sales = tills::cloud_receipts(cloud, key, STORE).len() as i64;
        if checkpoint() == before {
            return (before, sales);
        }
        assert!(
            Instant::now() < deadline,
            "[{at}] the cloud's checkpoint settles once nothing pushes"
        );
    }
}

/// The cloud's side after a kill: it acknowledged nothing it does not hold, holds nothing the
/// till did not write, and holds the sales of exactly the operations up to its checkpoint (a
/// push is applied whole or not at all). Returns the checkpoint.
fn check_cloud(
    runtime: &tokio::runtime::Runtime,
    cloud: &CloudProcess,
    key: &str,
    ledger: &Path,
    state: &LedgerState,
    at: &str,
) -> i64 {
    let (applied, in_cloud) = cloud_snapshot(runtime, cloud, key, ledger, at);
    assert!(
        state.acked <= applied,
        "[{at}] the till acknowledged up to seq {} but the cloud applied only up to {applied}: \
         an acknowledged operation is never pushed again, so it would be lost",
        state.acked
    );
    assert!(
        applied <= state.last_seq,
        "[{at}] the cloud applied up to seq {applied}, beyond the till's last operation {}",
        state.last_seq
    );
    let sale_ops: i64 = {
        let conn = Connection::open(ledger).expect("the ledger opens for reading");
        conn.query_row(
            "SELECT count(*) FROM outbox WHERE op_type = ?1 AND seq <= ?2",
            rusqlite::params![outbox::SALE_COMPLETED, applied],
            |r| r.get(0),
        )
        .expect("query")
    };
    assert_eq!(
        in_cloud, sale_ops,
        "[{at}] the cloud holds the sales of exactly the operations up to its checkpoint {applied}: \
         a push interrupted by a SIGKILL is applied whole or not at all"
    );
    applied
}

/// Waits until every connection through the proxy has ended, so no counter moves for a process
/// that is already dead.
fn wait_until_quiet(proxy: &FaultProxy, at: &str) {
    assert!(
        proxy.wait_for(PATIENCE, |_| proxy.open_connections() == 0),
        "[{at}] the dead process's connections through the proxy end"
    );
}

fn sleep_ms(rng: &mut StdRng, max: u64) {
    std::thread::sleep(Duration::from_micros(rng.random_range(0..=max * 1_000)));
}

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

/// Refunds one unit of a line of `count` randomly chosen sales that have any left, with one
/// manager login (argon2 is slow in debug builds).
fn refund_some(till: &mut SyncedTill, receipts: &[String], count: usize, rng: &mut StdRng) {
    let manager = till.temp.manager();
    let approval = ManagerApproval::from_session(&manager).expect("a manager approves");
    let mut done = 0;
    while done < count {
        let receipt_no = &receipts[rng.random_range(0..receipts.len())];
        let refundable = till
            .temp
            .till
            .refundable(receipt_no)
            .expect("a sale of this till can be looked up");
        let Some(line) = refundable.lines.iter().find(|l| l.refundable_quantity > 0) else {
            continue;
        };
        till.temp
            .till
            .refund(&manager, &approval, receipt_no, &[(line.line_no, 1)])
            .expect("a refund within what was sold succeeds");
        done += 1;
    }
}

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
