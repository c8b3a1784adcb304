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
        "0006_member_lookup_keys",
        include_str!("../../../migrations/till/0006_member_lookup_keys.sql"),
    ),
    (
        "0007_pickups",
        include_str!("../../../migrations/till/0007_pickups.sql"),
    ),
    (
        "0008_member_interests",
        include_str!("../../../migrations/till/0008_member_interests.sql"),
    ),
    (
        "0009_bought_together",
        include_str!("../../../migrations/till/0009_bought_together.sql"),
    ),
    (
        "0010_pickup_columns",
        include_str!("../../../migrations/till/0010_pickup_columns.sql"),
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
    if !existing {
        create_private_file(path)?;
    }
    restrict_to_owner(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
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

/// The mode of the ledger and its write-ahead log and shared-memory files: the owner reads
/// and writes, nobody else (the file holds the device token and the brand's member key).
pub const LEDGER_FILE_MODE: u32 = 0o600;

/// Creates an empty ledger file readable by its owner only, before SQLite writes anything to
/// it. SQLite gives the write-ahead log and shared-memory files the mode of the database file.
fn create_private_file(path: &Path) -> Result<(), CoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, LEDGER_FILE_MODE);
    match options.open(path) {
        Ok(_) => Ok(()),
        // Created meanwhile by another start: it is checked like any existing file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(CoreError::DatabaseRefused(format!(
            "{} cannot be created: {e}",
            path.display()
        ))),
    }
}

/// Makes the ledger, its write-ahead log and its shared-memory file readable by their owner
/// only, whatever an older install or a copy left. The contents are not touched.
pub fn restrict_to_owner(path: &Path) -> Result<(), CoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            path.to_owned(),
            sibling(path, "-wal"),
            sibling(path, "-shm"),
        ] {
            match fs::metadata(&file) {
                Ok(metadata) if metadata.permissions().mode() & 0o777 != LEDGER_FILE_MODE => {
                    fs::set_permissions(&file, fs::Permissions::from_mode(LEDGER_FILE_MODE))
                        .map_err(|e| {
                            CoreError::DatabaseRefused(format!(
                                "{} cannot be made private to this user: {e}",
                                file.display()
                            ))
                        })?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The mode of the till's data directory: only its owner may list or enter it.
pub const DATA_DIR_MODE: u32 = 0o700;

/// Creates the till's data directory if needed and makes it private to its owner (mode
/// 0700), also when an older install left it open.
pub fn prepare_data_dir(dir: &Path) -> Result<(), CoreError> {
    let refused = |e: std::io::Error| {
        CoreError::DatabaseRefused(format!(
            "the data directory {} cannot be prepared: {e}",
            dir.display()
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DATA_DIR_MODE)
            .create(dir)
            .map_err(refused)?;
        let mode = fs::metadata(dir).map_err(refused)?.permissions().mode();
        if mode & 0o777 != DATA_DIR_MODE {
            fs::set_permissions(dir, fs::Permissions::from_mode(DATA_DIR_MODE)).map_err(refused)?;
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir).map_err(refused)?;
    Ok(())
}

/// `till.sqlite3` plus `suffix`, as SQLite names its write-ahead log and shared memory.
fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
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
    health: std::sync::Arc<crate::health::LedgerHealth>,
}

impl Checkpointer {
    /// Opens a checkpointing connection to an existing ledger (after `open_ledger`).
    pub fn open(path: &Path) -> Result<Checkpointer, CoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(100))?;
        Ok(Checkpointer {
            conn,
            health: crate::health::LedgerHealth::for_ledger(path),
        })
    }

    /// Checkpoints what it can without waiting; returns (log frames, frames checkpointed).
    /// A ledger found damaged is left as it is: nothing is checkpointed, now or on close.
    pub fn checkpoint(&self) -> Result<(i64, i64), CoreError> {
        if self.health.is_damaged() {
            self.conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )?;
            return Ok((0, 0));
        }
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_new_ledger_and_its_log_are_private_to_their_owner() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("omnitill");
        prepare_data_dir(&data).expect("the data directory");
        assert_eq!(
            mode(&data),
            0o700,
            "only the owner may enter the data directory"
        );
        let path = data.join("till.sqlite3");
        let conn = open_ledger(&path).expect("a new ledger");
        conn.execute("INSERT INTO setting (key, value) VALUES ('k', 'v')", [])
            .expect("a write, so the log and shared memory exist");
        for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
            assert_eq!(
                mode(&file),
                0o600,
                "{} holds the device token and member key: owner only",
                file.display()
            );
        }
    }

    #[test]
    fn an_old_install_with_open_modes_is_made_private_at_start() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("omnitill");
        fs::create_dir(&data).expect("a directory");
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("0755");
        let path = data.join("till.sqlite3");
        {
            let conn = open_ledger(&path).expect("a ledger");
            conn.execute("INSERT INTO setting (key, value) VALUES ('k', 'v')", [])
                .expect("a write");
            // What the demo left before this fix: readable by everyone.
            for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("0644");
            }
            let before = fs::read(&path).expect("the ledger");
            prepare_data_dir(&data).expect("the data directory");
            let _again = open_ledger(&path).expect("the ledger opens again");
            assert_eq!(mode(&data), 0o700, "the directory is made private");
            for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
                assert_eq!(mode(&file), 0o600, "{} is made private", file.display());
            }
            assert_eq!(
                fs::read(&path).expect("the ledger"),
                before,
                "making it private does not touch the contents"
            );
        }
    }
}
