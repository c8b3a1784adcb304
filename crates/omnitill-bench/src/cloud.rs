//! The cloud as the sync benchmark runs it: a real `omnitill-cloud` process on a loopback port,
//! its admin commands, throwaway PostgreSQL databases, and the cached cloud with a large catalog.
//!
//! `Cloud::start` spawns `omnitill-cloud --database URL serve --listen 127.0.0.1:0 [--demo]`,
//! waits for its `OMNITILL_CLOUD_LISTENING` line and kills the process when dropped; its stderr
//! goes to a log file whose tail is quoted when it fails. `Postgres` creates a database for one
//! run with `psql` and drops it afterwards, like the tests do. `ensure_catalog` returns a cloud
//! database (SQLite) holding the demo brand plus N generated products, made once with the
//! cloud's own `catalog import` from a generated CSV file and cached under `target/bench-data/`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generate;

/// The PostgreSQL server `scripts/setup` starts, with a role that may create databases.
pub const DEFAULT_POSTGRES: &str = "postgres://omnitill:omnitill@127.0.0.1:5432/postgres";
/// The longest wait for the cloud's listening line.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// Bump when the cached catalog cloud changes shape.
const CATALOG_VERSION: u32 = 1;
/// The seed of the generated catalog's prices.
const CATALOG_SEED: u64 = 0x00C1_0D00;

/// A running cloud process.
pub struct Cloud {
    child: Child,
    binary: PathBuf,
    pub database: String,
    pub base_url: String,
    log: PathBuf,
}

impl Cloud {
    /// Starts the cloud on `database` (a SQLite path or a PostgreSQL URL) on a free loopback
    /// port; `demo` seeds the demo brand first (stores TPE-XINYI and TPE-DAAN).
    pub fn start(binary: &Path, database: &str, demo: bool, log: &Path) -> Result<Cloud> {
        let stderr =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .args([
                "--database",
                database,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhooks-loopback-only",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if demo {
            command.arg("--demo");
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the cloud's stdout was not captured")?;
        let (address_tx, address_rx) = mpsc::channel();
        // The reader keeps draining stdout, so the cloud never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = line.strip_prefix("OMNITILL_CLOUD_LISTENING ") {
                    let _ = address_tx.send(address.trim().to_owned());
                }
            }
        });
        let mut cloud = Cloud {
            child,
            binary: binary.to_owned(),
            database: database.to_owned(),
            base_url: String::new(),
            log: log.to_owned(),
        };
        match address_rx.recv_timeout(LISTEN_TIMEOUT) {
            Ok(address) => {
                if !address.starts_with("127.0.0.1:") {
                    bail!("the cloud listens on {address}, not on loopback");
                }
                cloud.base_url = format!("http://{address}");
                Ok(cloud)
            }
            Err(_) => bail!(
                "the cloud did not start listening within {LISTEN_TIMEOUT:?}; its stderr ends with:\n{}",
                log_tail(&cloud.log)
            ),
        }
    }

    /// Runs an admin command on this cloud's database and returns what it printed.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        admin(&self.binary, &self.database, args)
    }

    /// A one-time enrolment code for a store.
    pub fn enrolment_code(&self, store: &str) -> Result<String> {
        let code = self.admin(&["enrolment-code", "--store", store])?;
        if code.is_empty() || code.contains(char::is_whitespace) {
            bail!("the cloud printed {code:?} instead of an enrolment code");
        }
        Ok(code)
    }

    /// The database URL as written in a log line, without a password.
    pub fn describe(&self) -> String {
        redact(&self.database)
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `omnitill-cloud --database DATABASE ARGS...` and returns its stdout.
pub fn admin(binary: &Path, database: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(binary)
        .args(["--database", database])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !output.status.success() {
        bail!(
            "omnitill-cloud {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A PostgreSQL database made for one run and dropped when this is dropped.
pub struct Postgres {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Postgres {
    /// The server's address from `OMNITILL_TEST_POSTGRES`, or the one `scripts/setup` starts.
    pub fn admin_url() -> String {
        std::env::var("OMNITILL_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
    }

    /// Creates a database named after this process. Fails with a readable reason when psql is
    /// missing or the server cannot be reached.
    pub fn create() -> Result<Postgres> {
        let admin_url = Postgres::admin_url();
        if !loopback_url(&admin_url) {
            bail!(
                "{} is not a loopback address; the benchmark only talks to 127.0.0.1",
                redact(&admin_url)
            );
        }
        let name = format!(
            "omnitill_bench_{}_{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        psql(&admin_url, &format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base)
            .to_owned();
        Ok(Postgres {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(e) = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!(
                "omnitill-bench: could not drop the PostgreSQL database {}: {e:#}",
                self.name
            );
        }
    }
}

/// Whether a database URL names the loopback host.
fn loopback_url(url: &str) -> bool {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let after_scheme = after_at.split_once("://").map_or(after_at, |(_, r)| r);
    let host = after_scheme
        .split(['/', ':', '?'])
        .next()
        .unwrap_or_default();
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn psql(admin_url: &str, sql: &str) -> Result<()> {
    let output = Command::new("psql")
        .arg(admin_url)
        .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql (scripts/setup installs PostgreSQL)")?;
    if !output.status.success() {
        bail!(
            "psql could not run {sql:?} on {}: {}",
            redact(admin_url),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Returns a cached cloud database (SQLite) with the demo brand and `products` generated
/// products, making it first when the cache has none. The file is brought to the cloud's
/// current schema before it is returned, so a copy of it starts without migrating.
pub fn ensure_catalog(binary: &Path, cache_dir: &Path, products: u64) -> Result<PathBuf> {
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let path = cache_dir.join(format!(
        "cloud-catalog-v{CATALOG_VERSION}-{products}p.sqlite3"
    ));
    if path.is_file() {
        // Runs pending cloud migrations on the cache itself, once, and folds the write-ahead
        // log back in, so the file alone is the whole database.
        admin(binary, &path.display().to_string(), &["store", "list"])?;
        checkpoint(&path)?;
        return Ok(path);
    }
    let partial = cache_dir.join(format!(
        "cloud-catalog-v{CATALOG_VERSION}-{products}p.partial.sqlite3"
    ));
    for leftover in sqlite_files(&partial) {
        if leftover.exists() {
            fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
    }
    eprintln!(
        "making a cloud with {products} products into {} (cached for later runs)",
        path.display()
    );
    let started = Instant::now();
    let csv = cache_dir.join(format!("cloud-catalog-{products}p.partial.csv"));
    write_catalog_csv(&csv, products, None)?;
    eprintln!(
        "  wrote {} in {:.1} s",
        csv.display(),
        started.elapsed().as_secs_f64()
    );
    let database = partial.display().to_string();
    admin(binary, &database, &["demo"])?;
    let import_started = Instant::now();
    // The import prints a progress bar on stderr; let it through.
    let status = Command::new(binary)
        .args(["--database", &database, "catalog", "import"])
        .arg(&csv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !status.success() {
        bail!("omnitill-cloud catalog import {} failed", csv.display());
    }
    eprintln!(
        "  imported with `omnitill-cloud catalog import` in {:.1} s",
        import_started.elapsed().as_secs_f64()
    );
    fs::remove_file(&csv).with_context(|| format!("cannot remove {}", csv.display()))?;
    checkpoint(&partial)?;
    fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the cloud database to {}", path.display()))?;
    for leftover in sqlite_files(&partial).into_iter().skip(1) {
        let _ = fs::remove_file(leftover);
    }
    eprintln!(
        "  cloud catalog ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Folds a SQLite database's write-ahead log into its file and empties the log.
pub fn checkpoint(path: &Path) -> Result<()> {
    let conn = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .with_context(|| format!("cannot checkpoint {}", path.display()))?;
    Ok(())
}

/// A SQLite file and its write-ahead log and shared-memory files.
pub fn sqlite_files(path: &Path) -> [PathBuf; 3] {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let with =
        |suffix: &str| path.with_file_name(format!("{}{suffix}", name.as_deref().unwrap_or("db")));
    [path.to_owned(), with("-wal"), with("-shm")]
}

/// One CSV field, quoted when it needs to be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes the import file of generated products 1..=`products`: the same SKUs, barcodes and
/// kind of names as the till benchmark's catalog, in the cloud's CSV format
/// (`sku,name,tax_class,active,barcodes,price_minor`). With `reprice_every: Some(k)`, every
/// k-th product costs 1.00 more than in the file without it.
pub fn write_catalog_csv(path: &Path, products: u64, reprice_every: Option<u64>) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = StdRng::seed_from_u64(CATALOG_SEED);
    writeln!(out, "sku,name,tax_class,active,barcodes,price_minor")?;
    for n in 1..=products {
        let name = generate::product_name(&mut rng);
        let tax_class = if rng.random_ratio(1, 20) {
            "zero"
        } else {
            "standard"
        };
        let mut price = rng.random_range(30..=3_000) * 100;
        if reprice_every.is_some_and(|k| n.is_multiple_of(k)) {
            price += 100;
        }
        writeln!(
            out,
            "{},{},{tax_class},{},{},{price}",
            generate::sku(n),
            csv_field(&name),
            u8::from(generate::is_active(n)),
            generate::barcode(n)
        )?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_logs() {
        assert_eq!(
            redact("postgres://omnitill:secret@127.0.0.1:5432/db"),
            "postgres://omnitill:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("/tmp/cloud.sqlite3"), "/tmp/cloud.sqlite3");
    }

    #[test]
    fn only_loopback_database_urls_are_used() {
        assert!(loopback_url("postgres://u:p@127.0.0.1:5432/postgres"));
        assert!(loopback_url("postgres://u:p@localhost/postgres"));
        assert!(
            !loopback_url("postgres://u:p@db.example.com:5432/postgres"),
            "a remote server must be refused"
        );
    }

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(csv_field("plain name"), "plain name");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
