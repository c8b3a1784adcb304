//! The cloud's storage: one SQLite file by default, PostgreSQL in production, behind sqlx's
//! `Any` driver with SQL that both understand (`$1` parameters, TEXT and BIGINT columns,
//! `ON CONFLICT`, `RETURNING`).
//!
//! SQLite gets one writer connection (every write transaction goes through it, so writers never
//! race for the lock) and a few readers, in WAL mode with `synchronous=FULL`; a background task
//! checkpoints the log from a reader every second. PostgreSQL gets a
//! pool; writers that touch the change feed serialise on its counter row, which keeps feed
//! cursors in commit order. Migrations are the numbered files in `migrations/cloud/`,
//! recorded in `schema_migration`; one SQL for both backends, with a PostgreSQL-only part
//! (`NNNN_name.postgres.sql`, `POSTGRES_ONLY`) where PostgreSQL needs more.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::clock::SharedClock;
use crate::error::{CloudError, CloudResult};

/// The cloud's migrations, in order. Never edit one that has landed.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_cloud",
        include_str!("../../../migrations/cloud/0001_cloud.sql"),
    ),
    (
        2,
        "0002_feed_block",
        include_str!("../../../migrations/cloud/0002_feed_block.sql"),
    ),
    (
        3,
        "0003_device_floor",
        include_str!("../../../migrations/cloud/0003_device_floor.sql"),
    ),
    (
        4,
        "0004_members",
        include_str!("../../../migrations/cloud/0004_members.sql"),
    ),
    (
        5,
        "0005_points_note",
        include_str!("../../../migrations/cloud/0005_points_note.sql"),
    ),
    (
        6,
        "0006_till_identity",
        include_str!("../../../migrations/cloud/0006_till_identity.sql"),
    ),
    (
        7,
        "0007_races",
        include_str!("../../../migrations/cloud/0007_races.sql"),
    ),
    // 0008 is another change's number.
    (
        9,
        "0009_key_scopes_and_enrolment_limits",
        include_str!("../../../migrations/cloud/0009_key_scopes_and_enrolment_limits.sql"),
    ),
    (
        10,
        "0010_member_lookup_keys",
        include_str!("../../../migrations/cloud/0010_member_lookup_keys.sql"),
    ),
    (
        11,
        "0011_catalog_bulk_writes",
        include_str!("../../../migrations/cloud/0011_catalog_bulk_writes.sql"),
    ),
    (
        12,
        "0012_pickups",
        include_str!("../../../migrations/cloud/0012_pickups.sql"),
    ),
    (
        13,
        "0013_webhooks",
        include_str!("../../../migrations/cloud/0013_webhooks.sql"),
    ),
    (
        14,
        "0014_member_interests",
        include_str!("../../../migrations/cloud/0014_member_interests.sql"),
    ),
    (
        15,
        "0015_bought_together",
        include_str!("../../../migrations/cloud/0015_bought_together.sql"),
    ),
    (
        16,
        "0016_pickup_substitutes",
        include_str!("../../../migrations/cloud/0016_pickup_substitutes.sql"),
    ),
    (
        17,
        "0017_bought_pairs",
        include_str!("../../../migrations/cloud/0017_bought_pairs.sql"),
    ),
];

/// The PostgreSQL-only parts of migrations, run after the portable part of the same version
/// in its transaction: what SQLite does by itself or cannot say (`<name>.postgres.sql`).
pub const POSTGRES_ONLY: &[(i64, &str)] = &[
    (
        11,
        include_str!("../../../migrations/cloud/0011_catalog_bulk_writes.postgres.sql"),
    ),
    (
        17,
        include_str!("../../../migrations/cloud/0017_bought_pairs.postgres.sql"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The pools: `write` for transactions that change data, `read` for queries; and the clock
/// every use case and job of this process reads "now" from.
#[derive(Clone)]
pub struct Db {
    pub backend: Backend,
    /// The database's address, for a use case that needs a connection of its own (the
    /// catalog import's `COPY` on PostgreSQL).
    pub url: String,
    pub write: AnyPool,
    pub read: AnyPool,
    pub clock: SharedClock,
}

impl Db {
    /// Connects to `url` (`sqlite://FILE` or a bare file path, or `postgres://...`) and migrates,
    /// on the system clock.
    pub async fn connect(url: &str) -> CloudResult<Db> {
        Db::connect_with_clock(url, crate::clock::system()).await
    }

    /// Now, by this cloud's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Now, by this cloud's clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Connects as `connect` does, with `clock` as the cloud's clock.
    pub async fn connect_with_clock(url: &str, clock: SharedClock) -> CloudResult<Db> {
        install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        };
        let db = match backend {
            Backend::Sqlite => {
                let setup = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 10000;";
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(setup).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                tokio::spawn(checkpoint_in_background(read.clone()));
                Db {
                    backend,
                    url,
                    write,
                    read,
                    clock,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&url)
                    .await?;
                Db {
                    backend,
                    url,
                    write: pool.clone(),
                    read: pool,
                    clock,
                }
            }
        };
        db.migrate().await?;
        // The brand's member keys and default loyalty rules exist from the first start.
        crate::members::ensure_setup(&db).await?;
        Ok(db)
    }

    async fn migrate(&self) -> CloudResult<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migration (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.write)
        .await?;
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migration")
            .fetch_all(&self.write)
            .await?;
        let newest_known = MIGRATIONS.last().map_or(0, |m| m.0);
        if let Some(newer) = applied.iter().map(|v| v.0).find(|v| *v > newest_known) {
            return Err(CloudError::Internal(format!(
                "the database has migration {newer}, newer than this cloud knows ({newest_known}); \
                 update the cloud service"
            )));
        }
        for (version, name, sql) in MIGRATIONS {
            if applied.iter().any(|v| v.0 == *version) {
                continue;
            }
            let mut tx = self.write.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            if self.backend == Backend::Postgres {
                for (_, only) in POSTGRES_ONLY.iter().filter(|(v, _)| v == version) {
                    sqlx::raw_sql(*only).execute(&mut *tx).await?;
                }
            }
            sqlx::query(
                "INSERT INTO schema_migration (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// How often a SQLite cloud copies its write-ahead log back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Passive checkpoints of a SQLite cloud from a reader connection, until the pool closes, so a
/// push's commit does not pay for copying the log back (the writer's own autocheckpoint, at
/// 10,000 pages, is only the backstop). A passive checkpoint never blocks the writer.
async fn checkpoint_in_background(read: AnyPool) {
    let mut timer = tokio::time::interval(CHECKPOINT_EVERY);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        if read.is_closed() {
            return;
        }
        if let Err(error) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            eprintln!("omnitill-cloud: a background checkpoint failed: {error}");
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Takes the next value of a named counter inside a transaction. On PostgreSQL the row lock is
/// held until commit, so counters advance in commit order.
pub async fn next_counter(tx: &mut sqlx::AnyConnection, name: &str) -> CloudResult<i64> {
    take_counter(tx, name, 1).await
}

/// Takes the next `count` values of a named counter in one statement and returns the last;
/// the values taken are `last - count + 1 ..= last`. Same locking as `next_counter`.
pub async fn take_counter(
    tx: &mut sqlx::AnyConnection,
    name: &str,
    count: i64,
) -> CloudResult<i64> {
    let (value,): (i64,) = sqlx::query_as(TAKE_COUNTER)
        .bind(name)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    Ok(value)
}

/// Takes `$2` values of counter `$1`, answering the last (`take_counter`).
pub const TAKE_COUNTER: &str = "INSERT INTO counter (name, value) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET value = counter.value + $2 RETURNING value";

/// A statement whose text was built for a batch. Only placeholders made by `placeholders`
/// and `value_rows` are spliced into it; every value is bound, never written into the text.
pub fn batch_statement(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// `$first, $first+1, ...` for `count` parameters, for statements built for a batch.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, ..., $w), ($w+1, ..., $2w), ...`: `rows` rows of `width` parameters each.
pub fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(1 + row * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table a statement reads a batch from when the batch is bound as one JSON array of
/// arrays, each row's columns read as `value ->> 0`, `value ->> 1`, ... (text; cast numbers
/// with `CAST(... AS BIGINT)`). One bound value carries thousands of rows, so a large write is
/// a few statements instead of one per row or a statement with thousands of parameters. `$n`
/// is the parameter holding the array.
pub fn json_rows(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n})"),
        // jsonb: parsed once, and `->>` then reads an element without parsing it again.
        Backend::Postgres => format!("jsonb_array_elements(CAST(${n} AS jsonb)) AS j(value)"),
    }
}

/// Like `json_rows` for a JSON array of strings, each read as `value`.
pub fn json_texts(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n})"),
        Backend::Postgres => format!("jsonb_array_elements_text(CAST(${n} AS jsonb)) AS j(value)"),
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(text: &str) -> Result<Backend, String> {
        match text {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" => Ok(Backend::Postgres),
            other => Err(format!("unknown backend {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_placeholders_are_numbered_in_rows() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
