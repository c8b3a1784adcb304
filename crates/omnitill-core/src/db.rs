//! Opening the till's ledger: refusal of unusable files, pragmas, and numbered migrations.
//!
//! The ledger is one SQLite file in WAL mode with `synchronous=FULL`, so a sale whose commit
//! returned survives a power cut. Opening never repairs or recreates an existing file: a file
//! that is not SQLite, is corrupt, belongs to another program or was written by a newer
//! Omnitill is refused with `CoreError::DatabaseRefused` and left byte for byte as it was.
//! Migrations are the SQL files in `migrations/till/`, embedded at build time and applied in
//! order, each in its own transaction, with `PRAGMA user_version` recording how many ran.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::CoreError;

/// `PRAGMA application_id` of an Omnitill ledger: "OMNT" in ASCII.
pub const APPLICATION_ID: i32 = 0x4F4D_4E54;

/// The till's migrations, in order. Never edit one that has landed; add a new file.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_ledger",
        include_str!("../../../migrations/till/0001_ledger.sql"),
    ),
    (
        "0002_resync",
        include_str!("../../../migrations/till/0002_resync.sql"),
    ),
    (
        "0003_stock_level_as_of",
        include_str!("../../../migrations/till/0003_stock_level_as_of.sql"),
    ),
    (
        "0004_search_backlog",
        include_str!("../../../migrations/till/0004_search_backlog.sql"),
    ),
    (
        "0005_members",
        include_str!("../../../migrations/till/0005_members.sql"),
    ),
    (
        "0008_member_lookup_keys",
        include_str!("../../../migrations/till/0008_member_lookup_keys.sql"),
    ),
];

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Pages of write-ahead log after which a commit checkpoints by itself. SQLite's default of
/// 1,000 makes about one sale in a hundred pay for a checkpoint (a 10 ms stall at the counter);
/// the app instead checkpoints from a second connection in the background (`Checkpointer`),
/// and this larger threshold is only the backstop when nothing else does.
pub const WAL_AUTOCHECKPOINT_PAGES: i64 = 20_000;

/// Opens (or, when the file does not exist yet, creates) the ledger at `path` and brings its
/// schema up to date.
pub fn open_ledger(path: &Path) -> Result<Connection, CoreError> {
    let existing = check_existing_file(path)?;
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !existing {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let refused = |e: rusqlite::Error| refusal(path, e);
    let mut conn = Connection::open_with_flags(path, flags).map_err(refused)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(refused)?;

    // Reading the schema touches the header and the schema pages: a file that is not a database
    // or whose first pages are damaged fails here, before anything is written.
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(refused)?;
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(refused)?;
    let object_count: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(refused)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(CoreError::DatabaseRefused(format!(
            "{} was written by a newer Omnitill (ledger version {version}; this till knows up to \
             {known}). Update this till; the file was not changed.",
            path.display()
        )));
    }
    if object_count > 0 && application_id != APPLICATION_ID {
        return Err(CoreError::DatabaseRefused(format!(
            "{} is an SQLite database of another program, not an Omnitill ledger; the file was \
             not changed.",
            path.display()
        )));
    }

    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(refused)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CoreError::DatabaseRefused(format!(
            "{} cannot use write-ahead logging (journal mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
    ))
    .map_err(refused)?;
    migrate(&mut conn, version)?;
    Ok(conn)
}

/// Applies the migrations after `from`, each in its own transaction.
fn migrate(conn: &mut Connection, from: i64) -> Result<(), CoreError> {
    for (index, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
    }
    Ok(())
}

/// Returns whether a ledger file is already there, refusing one that cannot be SQLite.
///
/// An empty file with no write-ahead log is what a crash during the very first start leaves;
/// it holds nothing and is treated as new.
fn check_existing_file(path: &Path) -> Result<bool, CoreError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(CoreError::DatabaseRefused(format!(
                "{} cannot be read: {e}",
                path.display()
            )));
        }
    };
    if !metadata.is_file() {
        return Err(CoreError::DatabaseRefused(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let wal = path.with_extension(
        path.extension()
            .map(|e| format!("{}-wal", e.to_string_lossy()))
            .unwrap_or_else(|| "wal".to_owned()),
    );
    if metadata.len() == 0 && !wal.exists() {
        return Ok(true);
    }
    let mut header = [0u8; 16];
    let read = fs::File::open(path)
        .and_then(|mut file| file.read(&mut header))
        .map_err(|e| {
            CoreError::DatabaseRefused(format!("{} cannot be read: {e}", path.display()))
        })?;
    if read < header.len() || &header != SQLITE_MAGIC {
        return Err(CoreError::DatabaseRefused(format!(
            "{} is not an Omnitill ledger (it is not an SQLite database, or its header is \
             damaged). The file was not changed; restore it from a backup or move it away.",
            path.display()
        )));
    }
    Ok(true)
}

fn refusal(path: &Path, error: rusqlite::Error) -> CoreError {
    CoreError::DatabaseRefused(format!(
        "{} is damaged or unreadable ({error}). The file was not changed; restore it from a \
         backup or move it away.",
        path.display()
    ))
}

/// A second connection to the ledger that copies the write-ahead log back into the database
/// file, so commits at the counter never pay for it. Passive checkpoints never block the till's
/// writes; run one every few seconds from a background thread.
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// Opens a checkpointing connection to an existing ledger (after `open_ledger`).
    pub fn open(path: &Path) -> Result<Checkpointer, CoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(100))?;
        Ok(Checkpointer { conn })
    }

    /// Checkpoints what it can without waiting; returns (log frames, frames checkpointed).
    pub fn checkpoint(&self) -> Result<(i64, i64), CoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })?)
    }
}

/// Runs SQLite's full integrity check and returns its findings ("ok" when healthy).
pub fn integrity_check(conn: &Connection) -> Result<Vec<String>, CoreError> {
    let mut statement = conn.prepare("PRAGMA integrity_check")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
