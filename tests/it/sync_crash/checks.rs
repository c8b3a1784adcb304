//! What the sync crash scenarios share: the run's seed, the journal of what the child
//! processes reported, the child process itself, and the checks of a ledger and a cloud after a
//! kill.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use omnitill_core::{ManagerApproval, SystemClock, Till, outbox, sync as ledger_sync};
use omnitill_sync::{Client, SyncError};
use rand::Rng;
use rand::rngs::StdRng;
use rusqlite::Connection;

use crate::support::cloud::CloudProcess;
use crate::support::proxy::FaultProxy;
use crate::support::tills::{self, SyncedTill};

pub(super) const SEED_VAR: &str = "OMNITILL_SYNC_CRASH_SEED";
pub(super) const STORE: &str = "TPE-XINYI";
/// Kills of the till process, a third at each kind of point.
pub(super) const TILL_KILLS_PER_POINT: usize = 8;
/// Kills of the cloud process during the drain of the backlog, per backend.
pub(super) const CLOUD_KILLS: usize = 5;
/// Generous: the machine is small and shared with other builds.
pub(super) const PATIENCE: Duration = Duration::from_secs(60);

/// The run's seed: from `OMNITILL_SYNC_CRASH_SEED`, or a new one, printed either way.
pub(super) fn seed(test: &str) -> u64 {
    let seed = std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("{test}: seed {seed} (replay with {SEED_VAR}={seed})");
    seed
}

pub(super) fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0))
        .expect("a check query runs")
}

/// What the child processes reported, over all of their lives.
#[derive(Default)]
pub(super) struct Journal {
    /// Sales whose commit returned: receipt number, line count, total.
    pub(super) sales: Vec<(String, i64, i64)>,
    /// Refund receipt numbers whose commit returned.
    pub(super) refunds: Vec<String>,
    pub(super) rounds_started: usize,
    pub(super) rounds_ok: usize,
}

impl Journal {
    pub(super) fn note(&mut self, line: &str) {
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
pub(super) struct SyncChild {
    pub(super) child: Child,
    pub(super) lines: Receiver<String>,
    pub(super) reader: JoinHandle<()>,
}

impl SyncChild {
    pub(super) fn spawn(ledger: &Path, seed: u64, backlog: usize) -> SyncChild {
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
    pub(super) fn kill(mut self, at: &str) -> Vec<String> {
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
pub(super) enum KillPoint {
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
pub(super) struct LedgerState {
    /// The outbox's highest `seq`.
    pub(super) last_seq: i64,
    /// The highest acknowledged `seq`; everything at or below it is acknowledged.
    pub(super) acked: i64,
}

/// The checks after every kill of the till: the file is intact and opens, everything the child
/// reported is there, whole, and the acknowledged operations are a prefix of the outbox.
pub(super) fn check_ledger(path: &Path, journal: &Journal, at: &str) -> LedgerState {
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
pub(super) fn cloud_checkpoint(
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
pub(super) fn cloud_snapshot(
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
pub(super) fn check_cloud(
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
pub(super) fn wait_until_quiet(proxy: &FaultProxy, at: &str) {
    assert!(
        proxy.wait_for(PATIENCE, |_| proxy.open_connections() == 0),
        "[{at}] the dead process's connections through the proxy end"
    );
}

pub(super) fn sleep_ms(rng: &mut StdRng, max: u64) {
    std::thread::sleep(Duration::from_micros(rng.random_range(0..=max * 1_000)));
}

/// Refunds one unit of a line of `count` randomly chosen sales that have any left, with one
/// manager login (argon2 is slow in debug builds).
pub(super) fn refund_some(
    till: &mut SyncedTill,
    receipts: &[String],
    count: usize,
    rng: &mut StdRng,
) {
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
