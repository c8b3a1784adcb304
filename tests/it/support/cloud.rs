//! A real cloud process on a loopback port, on SQLite or PostgreSQL, for cross-crate tests.
//!
//! `CloudProcess::start` runs `omnitill-cloud serve --listen 127.0.0.1:PORT --demo` against a new
//! database (a file in a temporary directory, or a new PostgreSQL database that is dropped
//! afterwards), waits for its "listening" line, and kills it on drop. `backup` and `restore`
//! put last night's database back, as a brand's IT would. `restart_at` moves the cloud's clock
//! (`--test-clock`) to a later moment, and `jobs_at` runs the hourly jobs at it. `TillClient`
//! speaks the sync protocol for a test the way a till does.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::Value;

use super::ports::PortReservation;

/// The variable `--test-clock` starts the cloud's clock from (Unix ms).
const TEST_CLOCK_VAR: &str = "OMNITILL_CLOUD_NOW_MS";

/// The PostgreSQL server the tests use; `scripts/setup` creates this role.
pub const DEFAULT_POSTGRES: &str = "postgres://omnitill:omnitill@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug above target/debug/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p omnitill-cloud` (scripts/test does)",
        path.display()
    );
    path
}

fn postgres_admin_url() -> String {
    std::env::var("OMNITILL_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

fn psql(sql: &str) {
    if let Err(error) = try_psql(sql) {
        panic!("{error}");
    }
}

fn try_psql(sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .arg(postgres_admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql runs (scripts/setup installs PostgreSQL)");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql {sql:?} failed: {} (is PostgreSQL running? scripts/setup starts it)",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs `sql`, trying again for a few seconds: a template database is busy until the sessions
/// of a killed cloud have ended at the server.
/// The one value a query answers, as text.
fn psql_value(sql: &str) -> String {
    let output = Command::new("psql")
        .arg(postgres_admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql runs (scripts/setup installs PostgreSQL)");
    assert!(
        output.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn psql_until_ok(sql: &str) {
    let mut last = try_psql(sql);
    for _ in 0..40 {
        if last.is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
        last = try_psql(sql);
    }
    if let Err(error) = last {
        panic!("{error}");
    }
}

pub struct CloudProcess {
    pub database: String,
    pub base_url: String,
    address: String,
    child: Child,
    postgres_db: Option<String>,
    /// How far the cloud's clock runs ahead of the system's, in ms, once `restart_at` moved it.
    clock_ahead_ms: Option<i64>,
    /// Keeps the port the cloud's own between `stop` and `restart`.
    _reservation: PortReservation,
    _dir: tempfile::TempDir,
}

impl CloudProcess {
    /// A cloud seeded with the demo brand (stores, catalog, members).
    pub fn start(backend: Backend) -> CloudProcess {
        CloudProcess::start_seeded(backend, true)
    }

    /// A cloud with no brand data at all: for tests that must know every member there is.
    pub fn start_empty(backend: Backend) -> CloudProcess {
        CloudProcess::start_seeded(backend, false)
    }

    fn start_seeded(backend: Backend, demo: bool) -> CloudProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database, postgres_db) = match backend {
            Backend::Sqlite => (dir.path().join("cloud.sqlite3").display().to_string(), None),
            Backend::Postgres => {
                let name = format!("omnitill_test_{}", uuid::Uuid::now_v7().simple());
                psql(&format!("CREATE DATABASE {name}"));
                let admin = postgres_admin_url();
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base)
                    .to_owned();
                (format!("{base}/{name}"), Some(name))
            }
        };
        // The port stays the cloud's while it is stopped, so it can start again on it.
        let reservation = PortReservation::new();
        let (child, address) =
            spawn_serve(&database, &reservation.address().to_string(), demo, None);
        CloudProcess {
            database,
            base_url: format!("http://{address}"),
            address,
            child,
            postgres_db,
            clock_ahead_ms: None,
            _reservation: reservation,
            _dir: dir,
        }
    }

    /// A second cloud process serving this one's database (as a brand runs several in front of
    /// one PostgreSQL), on its own port. The database stays this process's to drop.
    pub fn another_process(&self) -> CloudProcess {
        let reservation = PortReservation::new();
        let (child, address) = spawn_serve(
            &self.database,
            &reservation.address().to_string(),
            false,
            self.clock_ahead_ms.map(clock_at),
        );
        CloudProcess {
            database: self.database.clone(),
            base_url: format!("http://{address}"),
            address,
            child,
            postgres_db: None,
            clock_ahead_ms: self.clock_ahead_ms,
            _reservation: reservation,
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Stops the cloud as a crash would (SIGKILL): the link goes down.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the cloud and answers how many transactions PostgreSQL aborted as deadlocks in its
    /// database (0 on SQLite). A backend reports its counts when it exits, so this waits until
    /// the stopped cloud's sessions are gone.
    pub fn stop_and_count_deadlocks(&mut self) -> i64 {
        self.stop();
        let Some(name) = &self.postgres_db else {
            return 0;
        };
        for _ in 0..100 {
            let sessions = psql_value(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'"
            ));
            if sessions == "0" {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        psql_value(&format!(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = '{name}'"
        ))
        .parse()
        .expect("PostgreSQL counts deadlocks per database")
    }

    /// Starts the cloud again on the same address and database (and its clock as far ahead
    /// as `restart_at` last put it).
    pub fn restart(&mut self) {
        self.stop();
        let clock = self.clock_ahead_ms.map(clock_at);
        let (child, _) = spawn_serve(&self.database, &self.address, false, clock);
        self.child = child;
    }

    /// Starts the cloud again with its clock (`--test-clock`) reading `now_ms` and running on
    /// from there, as the brand's cloud would be after that much time passed.
    pub fn restart_at(&mut self, now_ms: i64) {
        self.clock_ahead_ms = Some(now_ms - chrono::Utc::now().timestamp_millis());
        self.restart();
    }

    /// Runs the hourly jobs (`jobs run`) in a process of its own with the clock at `now_ms`,
    /// as the serving cloud does each hour; returns what it printed.
    pub fn jobs_at(&self, now_ms: i64) -> String {
        let output = Command::new(binary("omnitill-cloud"))
            .args(["--database", &self.database, "--test-clock", "jobs", "run"])
            .env(TEST_CLOCK_VAR, now_ms.to_string())
            .output()
            .expect("jobs run starts");
        assert!(
            output.status.success(),
            "jobs run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Takes a backup of the cloud's database while the cloud is stopped, then starts it again:
    /// on SQLite a copy of the file with its write-ahead log, on PostgreSQL a database made
    /// from this one as a template.
    pub fn backup(&mut self) -> CloudBackup {
        self.stop();
        let backup = match &self.postgres_db {
            None => {
                let dir = tempfile::tempdir().expect("a directory for the backup");
                for suffix in ["", "-wal"] {
                    let from = PathBuf::from(format!("{}{suffix}", self.database));
                    if from.exists() {
                        std::fs::copy(&from, dir.path().join(format!("cloud.sqlite3{suffix}")))
                            .expect("the database file is copied");
                    }
                }
                CloudBackup::Files(dir)
            }
            Some(name) => {
                let backup = format!("{name}_backup");
                psql_until_ok(&format!("CREATE DATABASE {backup} TEMPLATE {name}"));
                CloudBackup::Postgres(backup)
            }
        };
        self.restart();
        backup
    }

    /// Stops the cloud, puts `backup` in place of its database, and starts it again on the
    /// same address: a brand's IT restoring last night's backup.
    pub fn restore(&mut self, backup: &CloudBackup) {
        self.stop();
        match (backup, &self.postgres_db) {
            (CloudBackup::Files(dir), None) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.database));
                }
                for suffix in ["", "-wal"] {
                    let from = dir.path().join(format!("cloud.sqlite3{suffix}"));
                    if from.exists() {
                        std::fs::copy(&from, format!("{}{suffix}", self.database))
                            .expect("the backup is copied back");
                    }
                }
            }
            (CloudBackup::Postgres(backup), Some(name)) => {
                psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
                psql_until_ok(&format!("CREATE DATABASE {name} TEMPLATE {backup}"));
            }
            _ => panic!("a backup is restored to the backend it was taken from"),
        }
        self.restart();
    }

    /// Runs an admin command against this cloud's database and returns what it printed.
    pub fn admin(&self, args: &[&str]) -> String {
        let output = Command::new(binary("omnitill-cloud"))
            .args(["--database", &self.database])
            .args(args)
            .output()
            .expect("the admin command runs");
        assert!(
            output.status.success(),
            "omnitill-cloud {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// An API key with every scope.
    pub fn api_key(&self) -> String {
        self.api_key_with("test e-shop", "read,orders,loyalty,admin")
    }

    /// An API key named `name` with `scopes` (`read,orders`).
    pub fn api_key_with(&self, name: &str, scopes: &str) -> String {
        self.admin(&["api-key", "create", "--name", name, "--scope", scopes])
    }

    /// Enrols a till for a store and returns its enrolment answer.
    pub fn enrol(&self, store_code: &str, name: &str) -> Value {
        let code = self.admin(&["enrolment-code", "--store", store_code]);
        let response = http()
            .post(format!("{}/v1/enrol", self.base_url))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .json(&serde_json::json!({ "code": code, "device_name": name }))
            .send()
            .expect("enrol request");
        assert_eq!(
            response.status(),
            200,
            "enrolment with a fresh code succeeds"
        );
        response.json().expect("enrolment JSON")
    }

    pub fn get_with_key(&self, key: &str, path: &str) -> Value {
        let response = http()
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(key)
            .send()
            .expect("API request");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().expect("JSON")
    }
}

/// The moment that is `ahead_ms` after the system's now, in Unix ms.
fn clock_at(ahead_ms: i64) -> i64 {
    chrono::Utc::now().timestamp_millis() + ahead_ms
}

/// Starts `omnitill-cloud serve` and waits for the address it listens on; with `clock_ms`, on
/// a clock (`--test-clock`) that starts there.
fn spawn_serve(database: &str, listen: &str, demo: bool, clock_ms: Option<i64>) -> (Child, String) {
    let mut command = Command::new(binary("omnitill-cloud"));
    command.args([
        "--database",
        database,
        "serve",
        "--listen",
        listen,
        "--webhooks-loopback-only",
    ]);
    if demo {
        command.arg("--demo");
    }
    if let Some(now_ms) = clock_ms {
        command
            .arg("--test-clock")
            .env(TEST_CLOCK_VAR, now_ms.to_string());
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cloud starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(address) = line.strip_prefix("OMNITILL_CLOUD_LISTENING ") {
                    break address.to_owned();
                }
            }
            _ => panic!("the cloud exited before it listened on {listen}"),
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// A backup of a cloud's database (`CloudProcess::backup`); a PostgreSQL one is dropped with
/// it.
pub enum CloudBackup {
    Files(tempfile::TempDir),
    Postgres(String),
}

impl Drop for CloudBackup {
    fn drop(&mut self) {
        if let CloudBackup::Postgres(name) = self
            && let Err(error) = try_psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        {
            eprintln!("warning: a backup database was left behind: {error}");
        }
    }
}

impl Drop for CloudProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(name) = &self.postgres_db {
            // An autovacuum worker busy in the database can refuse FORCE for a moment (without
            // pg_signal_backend, which scripts/setup grants); try again, and never panic in a
            // drop: a database left behind is not a failed test.
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let mut last = try_psql(&drop);
            for _ in 0..40 {
                if last.is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
                last = try_psql(&drop);
            }
            if let Err(error) = last {
                eprintln!("warning: a test database was left behind: {error}");
            }
        }
    }
}

pub fn http() -> reqwest::blocking::Client {
    omnitill_sync::install_tls_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}
