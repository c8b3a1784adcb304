//! The ledger's health: an integrity check that finds damage, and the guard that stops every
//! write once it has.
//!
//! Opening refuses a file whose header or schema is damaged (`db`); damage deeper in the file
//! (a broken index, a page of a table) shows only when SQLite reads that page. `check_ledger`
//! reads the whole file on its own connection: SQLite's full `integrity_check` for a ledger up
//! to `FULL_CHECK_MAX_BYTES`, `quick_check` (every page and row, without cross-checking each
//! index against its table) above that; then every row is read as the till reads it (each
//! value of its column's type, text in UTF-8, outbox payloads in JSON), which SQLite's check
//! does not do. The shell runs it in the background after start and every 30 minutes, so a
//! large ledger still starts at once. SQLite keeps no page checksums: a flip that leaves a
//! valid value of the right type (one digit for another) is not found by any of this.
//!
//! Damage found is kept in one `LedgerHealth` per ledger file and process (`for_ledger`),
//! which every `Till` on that file shares (the cashier's, the sync engine's). From then on
//! every write is refused with `CoreError::LedgerDamaged`, nothing is written to the file (the
//! connections skip their checkpoint on close), and the file stays byte for byte as it was
//! until a manager recovers the store (`recovery`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::{CoreError, CoreResult};

/// The largest ledger that gets SQLite's full integrity check (which also checks every index
/// entry against its row); larger ones get `quick_check`, which reads every page and row.
pub const FULL_CHECK_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// How many of SQLite's findings are kept and shown.
const MAX_FINDINGS: usize = 20;

/// What is known of a ledger's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Not checked yet in this process.
    Unchecked,
    /// The last check found nothing wrong.
    Sound { checked_at_ms: i64 },
    /// A check found damage: SQLite's findings, in its words.
    Damaged {
        findings: Vec<String>,
        found_at_ms: i64,
    },
}

/// The health of one ledger file, shared by every connection to it in this process.
#[derive(Debug)]
pub struct LedgerHealth {
    path: PathBuf,
    state: Mutex<Health>,
}

/// Every ledger's health in this process, by canonical path.
fn registry() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Arc<LedgerHealth>>> {
    static ALL: OnceLock<Mutex<HashMap<PathBuf, Arc<LedgerHealth>>>> = OnceLock::new();
    ALL.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
}

/// Forgets what is known of the ledger at `path`: a recovered ledger now stands there, and
/// connections opened from now on check it afresh. Connections still open on the damaged
/// file keep its damaged health.
pub fn forget(path: &Path) {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    registry().remove(&key);
}

impl LedgerHealth {
    /// The health of the ledger at `path`: one per file and process, so damage found by the
    /// background check stops the cashier's and the sync engine's writes alike.
    pub fn for_ledger(path: &Path) -> Arc<LedgerHealth> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut all = registry();
        all.entry(key.clone())
            .or_insert_with(|| {
                Arc::new(LedgerHealth {
                    path: key,
                    state: Mutex::new(Health::Unchecked),
                })
            })
            .clone()
    }

    pub fn current(&self) -> Health {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub fn is_damaged(&self) -> bool {
        matches!(self.current(), Health::Damaged { .. })
    }

    /// Records a check's findings. Damage, once found, stays: a later check that happens to
    /// pass (a page cached before the damage) never lets the till write to that file again.
    pub fn record(&self, findings: Vec<String>, now_ms: i64) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if matches!(*state, Health::Damaged { .. }) {
            return;
        }
        *state = if findings.is_empty() {
            Health::Sound {
                checked_at_ms: now_ms,
            }
        } else {
            Health::Damaged {
                findings,
                found_at_ms: now_ms,
            }
        };
    }

    /// Refuses a write once damage has been found, with a message for the manager.
    pub fn ensure_writable(&self) -> CoreResult<()> {
        match self.current() {
            Health::Damaged { findings, .. } => Err(CoreError::LedgerDamaged(damage_message(
                &self.path, &findings,
            ))),
            _ => Ok(()),
        }
    }
}

/// The manager's message for a damaged ledger.
pub fn damage_message(path: &Path, findings: &[String]) -> String {
    let first = findings.first().map_or("unreadable pages", String::as_str);
    format!(
        "the till's ledger {} is damaged ({first}{more}). Selling has stopped so that nothing \
         is written to a damaged file; the file is kept exactly as it is. A manager recovers the \
         store with `omnitill --recover {}` (see README, \"A damaged ledger\"): every sale the \
         file still holds goes into a new ledger and the rest is downloaded from the cloud.",
        path.display(),
        path.display(),
        more = if findings.len() > 1 {
            format!(", and {} more findings", findings.len() - 1)
        } else {
            String::new()
        },
    )
}

/// Reads the whole ledger at `path` on a connection of its own and returns what is wrong with
/// it: an empty list when it is sound. A file that cannot even be read is damage too. Nothing
/// is written: the connection is read-only and skips the checkpoint on close.
pub fn check_ledger(path: &Path) -> CoreResult<Vec<String>> {
    let size = std::fs::metadata(path).map(|m| m.len()).map_err(|e| {
        CoreError::DatabaseRefused(format!("{} cannot be read: {e}", path.display()))
    })?;
    let pragma = if size <= FULL_CHECK_MAX_BYTES {
        "PRAGMA integrity_check(100)"
    } else {
        "PRAGMA quick_check(100)"
    };
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(conn) => conn,
        Err(error) => return Ok(vec![error.to_string()]),
    };
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut findings = findings_of(&conn, pragma);
    if findings.is_empty() {
        findings = verify_rows(&conn);
    }
    Ok(findings)
}

/// Reads every row of every ordinary table the way the till reads it, and reports what SQLite's
/// own check cannot see: a value whose type is not its column's (a flipped record header), text
/// that is not UTF-8, and an outbox payload that is not JSON. SQLite keeps no checksums, so a
/// flip that leaves a valid value of the right type (one digit for another) stays invisible.
fn verify_rows(conn: &Connection) -> Vec<String> {
    let mut findings = Vec::new();
    let tables: Vec<String> = match conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
               AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    {
        Ok(tables) => tables,
        Err(error) => return vec![error.to_string()],
    };
    let virtual_tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    for table in tables {
        if virtual_tables
            .iter()
            .any(|v| table.starts_with(&format!("{v}_")))
        {
            continue;
        }
        if let Err(error) = verify_table(conn, &table, &mut findings) {
            findings.push(format!("table {table} cannot be read: {error}"));
        }
        if findings.len() >= MAX_FINDINGS {
            findings.truncate(MAX_FINDINGS);
            break;
        }
    }
    findings
}

fn verify_table(
    conn: &Connection,
    table: &str,
    findings: &mut Vec<String>,
) -> Result<(), rusqlite::Error> {
    use rusqlite::types::ValueRef;
    let columns: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT name, upper(type) FROM pragma_table_info('{table}')"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let list = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statement = conn.prepare(&format!("SELECT {list} FROM \"{table}\" NOT INDEXED"))?;
    let mut rows = statement.query([])?;
    let mut row_no = 0u64;
    while let Some(row) = rows.next()? {
        row_no += 1;
        for (index, (column, declared)) in columns.iter().enumerate() {
            let value = row.get_ref(index)?;
            let wrong = match value {
                ValueRef::Null => None,
                ValueRef::Integer(_) if declared.contains("INT") => None,
                ValueRef::Text(bytes) if declared.contains("TEXT") || declared.is_empty() => {
                    match std::str::from_utf8(bytes) {
                        Err(_) => Some("text that is not UTF-8".to_owned()),
                        Ok(text) if table == "outbox" && column == "payload" => {
                            serde_json::from_str::<serde::de::IgnoredAny>(text)
                                .err()
                                .map(|e| format!("a payload that is not JSON ({e})"))
                        }
                        Ok(_) => None,
                    }
                }
                ValueRef::Integer(_) | ValueRef::Text(_) if declared.is_empty() => None,
                ValueRef::Real(_) if declared.contains("REAL") || declared.is_empty() => None,
                ValueRef::Blob(_) if declared.contains("BLOB") || declared.is_empty() => None,
                other => Some(format!(
                    "a {:?} value in a {declared} column",
                    other.data_type()
                )),
            };
            if let Some(wrong) = wrong {
                findings.push(format!("{table}.{column} of row {row_no} holds {wrong}"));
                if findings.len() >= MAX_FINDINGS {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Runs a check pragma; an error while reading is a finding in itself.
fn findings_of(conn: &Connection, pragma: &str) -> Vec<String> {
    let rows: Result<Vec<String>, rusqlite::Error> = conn.prepare(pragma).and_then(|mut s| {
        s.query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<_, _>>()
    });
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Vec::new(),
        Ok(rows) if rows.is_empty() => vec!["the check returned nothing".to_owned()],
        Ok(mut rows) => {
            rows.truncate(MAX_FINDINGS);
            rows
        }
        Err(error) => vec![error.to_string()],
    }
}

/// Checks the ledger at `path` and records the result in its shared health. Returns the
/// findings (empty when sound).
pub fn check_and_record(path: &Path, now_ms: i64) -> CoreResult<Vec<String>> {
    let findings = check_ledger(path)?;
    LedgerHealth::for_ledger(path).record(findings.clone(), now_ms);
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_kept_once_found_and_a_sound_check_does_not_clear_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("till.sqlite3");
        std::fs::write(&path, b"").expect("a file");
        let health = LedgerHealth::for_ledger(&path);
        assert_eq!(health.current(), Health::Unchecked);
        assert!(
            health.ensure_writable().is_ok(),
            "unchecked: the till sells"
        );
        health.record(Vec::new(), 1);
        assert_eq!(health.current(), Health::Sound { checked_at_ms: 1 });
        health.record(vec!["row 750 missing from index member_by_card".into()], 2);
        let refused = health.ensure_writable().expect_err("damaged: no writes");
        let words = refused.to_string();
        assert!(
            words.contains("row 750 missing") && words.contains("--recover"),
            "the message names the damage and the way out: {words}"
        );
        health.record(Vec::new(), 3);
        assert!(
            health.is_damaged(),
            "a later check that passes does not make a damaged file writable again"
        );
        assert!(
            Arc::ptr_eq(&health, &LedgerHealth::for_ledger(&path)),
            "every connection to one file shares one health"
        );
    }
}
