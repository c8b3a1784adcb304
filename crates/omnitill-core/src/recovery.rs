//! Recovery of a damaged ledger: a new ledger built from everything the damaged file still
//! holds, so the store sells again and the till keeps its identity.
//!
//! `recover_ledger` works in this order, and never writes to the damaged file:
//! 1. The damaged file (with its write-ahead log and shared-memory file) is renamed to
//!    `<name>.damaged-<UTC time>` beside it. It is kept, never deleted or changed.
//! 2. A new ledger with the current schema is made at `<name>.recovering`.
//! 3. Every table is copied row by row as far as it can be read (`NOT INDEXED`, so a broken
//!    index does not hide rows); where a scan stops on a damaged page the table is read again
//!    rowid by rowid, skipping only what cannot be read. Search indexes are not copied: every
//!    product waits in the search backlog and is indexed again.
//! 4. The outbox is read seq by seq. An operation that can be read and whose payload is JSON
//!    is kept as it was (seq, op_id, acknowledgement). A seq that cannot be read becomes a
//!    `ledger.lost.v1` operation in its place, so the series has no gap: acknowledged when the
//!    cloud already had it, otherwise sent, and the cloud's refusal of it shows in the
//!    manager's review list. Counters continue after the highest number ever used.
//! 5. The link to the cloud (device identity, receipt prefix, token) is kept, and the
//!    reference data (catalog, stock, members) is downloaded again from cursor zero at the
//!    next sync.
//! 6. The new ledger passes SQLite's integrity check and is moved into place.

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::clock::Clock;
use crate::db;
use crate::error::{CoreError, CoreResult};

/// The operation type that stands in for an operation the damaged file no longer holds.
pub const LEDGER_LOST: &str = "ledger.lost.v1";

/// What a recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Where the damaged file is kept.
    pub damaged_kept_at: PathBuf,
    /// The new ledger, in the damaged file's place.
    pub ledger: PathBuf,
    /// Outbox operations carried over as they were.
    pub operations_kept: usize,
    /// Seqs that could not be read, now `ledger.lost.v1` operations.
    pub operations_lost: Vec<i64>,
    /// Rows of other tables carried over, and rows that could not be read or did not fit.
    pub rows_kept: usize,
    pub rows_lost: usize,
    /// Whether the till kept its device identity and its link to the cloud.
    pub identity_kept: bool,
    pub linked: bool,
}

impl RecoveryReport {
    /// The report in words, for the manager.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            format!(
                "The damaged ledger is kept at {}.",
                self.damaged_kept_at.display()
            ),
            format!("A new ledger is at {}.", self.ledger.display()),
            format!(
                "{} operations for the cloud were saved; {} could not be read{}.",
                self.operations_kept,
                self.operations_lost.len(),
                if self.operations_lost.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (seq {}; they show in the review list)",
                        self.operations_lost
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            format!(
                "{} other rows were saved; {} could not be read.",
                self.rows_kept, self.rows_lost
            ),
        ];
        lines.push(match (self.identity_kept, self.linked) {
            (true, true) => "The till keeps its identity and its link to the cloud; the \
                             catalog, stock and members are downloaded again."
                .to_owned(),
            (true, false) => {
                "The till keeps its identity; it was not linked to a cloud.".to_owned()
            }
            (false, _) => "The till's identity could not be read: enrol it with the cloud again \
                           (Settings)."
                .to_owned(),
        });
        lines.join("\n")
    }
}

/// Tables that are not copied: SQLite's own, and the stock levels, which are downloaded again.
/// Virtual tables and their shadow tables are found from the schema.
const NOT_COPIED: &[&str] = &["stock_level", "outbox"];

/// Builds a new ledger from the damaged one at `path` and puts it in its place; the damaged
/// file is kept beside it under a new name. See the module comment for the steps.
pub fn recover_ledger(path: &Path, clock: &dyn Clock) -> CoreResult<RecoveryReport> {
    if !path.is_file() {
        return Err(CoreError::BadInput(format!(
            "{} is not a ledger file; name the damaged till.sqlite3",
            path.display()
        )));
    }
    let stamp = clock.now().format("%Y%m%dT%H%M%SZ").to_string();
    let kept = with_suffix(path, &format!(".damaged-{stamp}"));
    if kept.exists() {
        return Err(CoreError::BadInput(format!(
            "{} already exists; wait a second and run the recovery again",
            kept.display()
        )));
    }
    let recovering = with_suffix(path, ".recovering");
    for suffix in ["", "-wal", "-shm"] {
        let stale = with_suffix(&recovering, suffix);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|e| io_error(&stale, e))?;
        }
    }
    // 1. Keep the damaged file, with its log, under a new name.
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(path, suffix);
        if from.exists() {
            let to = with_suffix(&kept, suffix);
            std::fs::rename(&from, &to).map_err(|e| io_error(&from, e))?;
        }
    }
    // 2. A new ledger with the current schema.
    let mut new = db::open_ledger(&recovering)?;
    new.pragma_update(None, "foreign_keys", false)?;
    let mut report = RecoveryReport {
        damaged_kept_at: kept.clone(),
        ledger: path.to_owned(),
        operations_kept: 0,
        operations_lost: Vec::new(),
        rows_kept: 0,
        rows_lost: 0,
        identity_kept: false,
        linked: false,
    };
    let old = open_damaged(&kept);
    if let Some(old) = &old {
        let tx = new.transaction()?;
        // 3. Every table but the outbox, as far as it can be read.
        for table in copied_tables(old, &tx)? {
            let (kept_rows, lost_rows) = copy_table(old, &tx, &table)?;
            report.rows_kept += kept_rows;
            report.rows_lost += lost_rows;
        }
        // 4. The outbox, seq by seq.
        copy_outbox(old, &tx, clock, &mut report)?;
        tx.commit()?;
    }
    // 5. Identity, counters, and a full download at the next sync.
    let tx = new.transaction()?;
    report.identity_kept = tx.query_row("SELECT count(*) FROM device WHERE id = 1", [], |r| {
        r.get::<_, i64>(0)
    })? == 1;
    report.linked = tx.query_row("SELECT count(*) FROM sync_state WHERE id = 1", [], |r| {
        r.get::<_, i64>(0)
    })? == 1;
    continue_counters(&tx)?;
    tx.execute("UPDATE sync_state SET cursor = 0 WHERE id = 1", [])?;
    tx.execute("DELETE FROM stock_level", [])?;
    tx.execute("DELETE FROM resync_unseen", [])?;
    tx.execute(
        "INSERT OR IGNORE INTO resync_unseen (product_id) SELECT id FROM product",
        [],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO search_backlog (product_id) SELECT id FROM product",
        [],
    )?;
    tx.commit()?;
    new.pragma_update(None, "foreign_keys", true)?;
    // 6. The new ledger must be sound before it takes the damaged one's place.
    let findings = db::integrity_check(&new)?;
    if findings != ["ok"] {
        return Err(CoreError::DatabaseRefused(format!(
            "the new ledger at {} did not pass its check ({}); the damaged file is kept at {}",
            recovering.display(),
            findings.join("; "),
            kept.display()
        )));
    }
    new.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(new);
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(&recovering, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(path, suffix)).map_err(|e| io_error(&from, e))?;
        }
    }
    crate::health::forget(path);
    Ok(report)
}

/// Opens the damaged file read-only, never checkpointing it; `None` when not even that works.
fn open_damaged(path: &Path) -> Option<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .ok()?;
    // A schema that cannot be read leaves nothing to copy by name.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .ok()?;
    Some(conn)
}

/// The ordinary tables of the new ledger that the damaged one has too, with their common
/// columns: not SQLite's own, not virtual tables or their shadow tables, not `NOT_COPIED`.
fn copied_tables(old: &Connection, new: &Connection) -> CoreResult<Vec<TableCopy>> {
    let names: Vec<(String, String)> = new
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })?
        .collect::<Result<_, _>>()?;
    let virtual_tables: Vec<&str> = names
        .iter()
        .filter(|(_, sql)| sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL"))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut tables = Vec::new();
    for (name, sql) in &names {
        if name.starts_with("sqlite_")
            || NOT_COPIED.contains(&name.as_str())
            || sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL")
            || virtual_tables
                .iter()
                .any(|v| name.starts_with(&format!("{v}_")))
        {
            continue;
        }
        let new_columns = columns_of(new, name)?;
        let Ok(old_columns) = columns_of(old, name) else {
            continue;
        };
        let columns: Vec<String> = new_columns
            .into_iter()
            .filter(|c| old_columns.contains(c))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let has_rowid = !sql.to_ascii_uppercase().contains("WITHOUT ROWID");
        tables.push(TableCopy {
            name: name.clone(),
            columns,
            has_rowid,
        });
    }
    Ok(tables)
}

struct TableCopy {
    name: String,
    columns: Vec<String>,
    has_rowid: bool,
}

fn columns_of(conn: &Connection, table: &str) -> CoreResult<Vec<String>> {
    let columns: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if columns.is_empty() {
        return Err(CoreError::NotFound(format!("table {table}")));
    }
    Ok(columns)
}

/// Copies one table's readable rows; returns (rows copied, rows lost).
fn copy_table(old: &Connection, new: &Connection, table: &TableCopy) -> CoreResult<(usize, usize)> {
    let list = table
        .columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = vec!["?"; table.columns.len()].join(", ");
    let mut insert = new.prepare(&format!(
        "INSERT OR IGNORE INTO \"{}\" ({list}) VALUES ({marks})",
        table.name
    ))?;
    let width = table.columns.len();
    let rowid = if table.has_rowid { ", rowid" } else { "" };
    let scan = format!("SELECT {list}{rowid} FROM \"{}\" NOT INDEXED", table.name);
    let mut copied = 0;
    let mut lost = 0;
    let mut last_rowid: Option<i64> = None;
    let scanned: Result<(), rusqlite::Error> = (|| {
        let mut statement = old.prepare(&scan)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let values: Vec<Value> = (0..width)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<_, _>>()?;
            if table.has_rowid {
                last_rowid = Some(row.get(width)?);
            }
            if insert.execute(rusqlite::params_from_iter(values))? == 1 {
                copied += 1;
            } else {
                lost += 1;
            }
        }
        Ok(())
    })();
    if scanned.is_ok() || !table.has_rowid {
        // A table without rowids whose scan stopped keeps what was read before the damage.
        return Ok((copied, lost + usize::from(scanned.is_err())));
    }
    // The scan stopped on a damaged page: read on rowid by rowid, up to the highest rowid
    // the table reports, or a generous bound past the last one read.
    let from = last_rowid.map_or(1, |r| r.saturating_add(1));
    let highest: Option<i64> = old
        .query_row(
            &format!("SELECT max(rowid) FROM \"{}\"", table.name),
            [],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    let to = highest.unwrap_or_else(|| from.saturating_add(ROWID_PROBE));
    let mut point = old.prepare(&format!(
        "SELECT {list} FROM \"{}\" NOT INDEXED WHERE rowid = ?1",
        table.name
    ))?;
    let mut rowid = from;
    while rowid <= to {
        let read: Result<Option<Vec<Value>>, rusqlite::Error> = point
            .query_row([rowid], |row| {
                (0..width).map(|i| row.get::<_, Value>(i)).collect()
            })
            .optional();
        match read {
            Ok(Some(values)) => {
                if insert.execute(rusqlite::params_from_iter(values))? == 1 {
                    copied += 1;
                } else {
                    lost += 1;
                }
            }
            Ok(None) => {}
            Err(_) => lost += 1,
        }
        rowid += 1;
    }
    Ok((copied, lost))
}

/// How far past the last readable rowid a table whose highest rowid cannot be read is probed.
const ROWID_PROBE: i64 = 100_000;

/// Copies the outbox seq by seq; unreadable seqs become `ledger.lost.v1` operations.
fn copy_outbox(
    old: &Connection,
    new: &Connection,
    clock: &dyn Clock,
    report: &mut RecoveryReport,
) -> CoreResult<()> {
    let newest = newest_seq(old);
    // What the cloud already has: a lost operation at or below this was acknowledged.
    let checkpoint: i64 = new
        .query_row(
            "SELECT last_applied_seq FROM sync_state WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let mut read = old.prepare(
        "SELECT op_id, op_type, payload, created_at, acked_at FROM outbox NOT INDEXED
         WHERE seq = ?1",
    )?;
    let mut insert = new.prepare(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at, acked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let now_ms = clock.now().timestamp_millis();
    for seq in 1..=newest {
        let row: Option<(String, String, String, i64, Option<i64>)> = read
            .query_row([seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .ok();
        let sound = row.as_ref().is_some_and(|(op_id, op_type, payload, _, _)| {
            !op_id.trim().is_empty()
                && !op_type.trim().is_empty()
                && serde_json::from_str::<serde_json::Value>(payload).is_ok()
        });
        if let Some((op_id, op_type, payload, created_at, acked_at)) = row.filter(|_| sound) {
            // Two operations with one op_id: the later one is damaged and stands in as lost.
            if insert
                .execute(params![seq, op_id, op_type, payload, created_at, acked_at])
                .is_ok()
            {
                report.operations_kept += 1;
                continue;
            }
        }
        let payload = serde_json::json!({
            "seq": seq,
            "reason": "this operation could not be read from the till's damaged ledger",
        })
        .to_string();
        let acked = (seq <= checkpoint).then_some(now_ms);
        insert.execute(params![
            seq,
            clock.new_id().to_string(),
            LEDGER_LOST,
            payload,
            now_ms,
            acked
        ])?;
        report.operations_lost.push(seq);
    }
    Ok(())
}

/// The highest seq the damaged outbox ever used, from whatever can still be read: its
/// counter, its table, and a scan of it.
fn newest_seq(old: &Connection) -> i64 {
    let counter: i64 = old
        .query_row("SELECT value FROM counter WHERE name = 'outbox'", [], |r| {
            r.get(0)
        })
        .unwrap_or(0);
    let table: i64 = old
        .query_row(
            "SELECT COALESCE(max(seq), 0) FROM outbox NOT INDEXED",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let mut scanned = 0;
    if let Ok(mut statement) = old.prepare("SELECT seq FROM outbox NOT INDEXED")
        && let Ok(mut rows) = statement.query([])
    {
        while let Ok(Some(row)) = rows.next() {
            scanned = scanned.max(row.get::<_, i64>(0).unwrap_or(0));
        }
    }
    counter.max(table).max(scanned)
}

/// Counters continue after the highest number used: the outbox after its last seq, receipts
/// after the highest receipt number of a sale or refund that was carried over.
fn continue_counters(tx: &Connection) -> CoreResult<()> {
    tx.execute(
        "INSERT INTO counter (name, value)
         SELECT 'outbox', COALESCE(max(seq), 0) FROM outbox WHERE true
         ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
        [],
    )?;
    let mut highest = 0i64;
    for table in ["sale", "refund"] {
        let mut statement = tx.prepare(&format!("SELECT receipt_no FROM {table}"))?;
        let numbers = statement.query_map([], |r| r.get::<_, String>(0))?;
        for number in numbers {
            let number = number?;
            if let Some(n) = number
                .rsplit_once('-')
                .and_then(|(_, digits)| digits.parse::<i64>().ok())
            {
                highest = highest.max(n);
            }
        }
    }
    tx.execute(
        "INSERT INTO counter (name, value) VALUES ('receipt', ?1)
         ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
        [highest],
    )?;
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path, error: std::io::Error) -> CoreError {
    CoreError::DatabaseRefused(format!("{} cannot be moved: {error}", path.display()))
}
