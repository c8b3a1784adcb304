//! The app's real window under WebDriver, for the rows measured in it (`pickup_window`): a
//! minimal blocking W3C WebDriver client and the `tauri-driver` process it talks to.
//!
//! `TauriDriver::start` runs `tauri-driver` on free loopback ports, with `WebKitWebDriver` as
//! its native driver (as the UI tests run it) and its output (and so the app's stderr) in a log
//! file. `Session::start` opens a W3C session whose `tauri:options` name the app binary and its
//! arguments, so WebKitWebDriver starts the app. A session finds elements by CSS, types keys
//! into them and runs scripts (sync and async).
//!
//! tauri-driver runs in a process group of its own, as the UI tests run it: WebKitWebDriver
//! signals its whole process group when the app fails to start, which must not reach the
//! benchmark. Dropping the session deletes it, which closes the app; dropping the driver ends
//! its group (SIGTERM, then SIGKILL 3 s later) and any process below it that left the group.
//! So nothing is left running when a measurement fails half-way; and since a Ctrl-C or a
//! `timeout` no longer reaches that group, the first driver started also starts a thread that
//! waits for SIGINT, SIGTERM or SIGHUP, ends the groups of the drivers running, and exits.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::app::descendants_of;

/// The key W3C WebDriver marks an element reference with in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often waits look again.
const POLL: Duration = Duration::from_millis(50);
/// The longest wait for tauri-driver and WebKitWebDriver to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest one WebDriver request may take (a new session starts the app).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Attempts at starting tauri-driver (a free port may be taken before it binds it).
const DRIVER_ATTEMPTS: usize = 3;
/// Attempts at opening a session (the native driver may still be starting).
const SESSION_ATTEMPTS: usize = 5;

/// The W3C WebDriver code of the Enter key, to end what `send_keys` types.
pub const ENTER: &str = "\u{E007}";

/// tauri-driver on PATH, in $CARGO_HOME/bin or in ~/.cargo/bin.
fn tauri_driver_binary() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("tauri-driver"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(cargo_home).join("bin/tauri-driver"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/tauri-driver"));
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .context("tauri-driver is not installed (cargo install tauri-driver --version ^2 --locked)")
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot bind a loopback port to find a free one")?;
    Ok(listener.local_addr()?.port())
}

/// The last lines of a log file, to quote in an error.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether process `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Sends `signal` to those of `pids` still running (processes this program started, or that
/// they started), by their ids.
fn signal(pids: &[u32], signal: &str) {
    let alive: Vec<String> = pids
        .iter()
        .filter(|pid| alive(**pid))
        .map(u32::to_string)
        .collect();
    if alive.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(&alive)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Sends `signal` to every process of the group `pgid`, which this program created.
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The process groups of the drivers running now, for the signal thread.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static SIGNAL_THREAD: Once = Once::new();

fn groups() -> std::sync::MutexGuard<'static, Vec<u32>> {
    GROUPS.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Starts, once, the thread that ends the drivers' groups when the benchmark is interrupted
/// (SIGINT, SIGTERM, SIGHUP) and then exits as the signal would have (128 + its number).
fn end_groups_on_signal() {
    SIGNAL_THREAD.call_once(|| {
        let started = thread::Builder::new()
            .name("bench-signals".into())
            .spawn(|| {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    eprintln!("omnitill-bench: no runtime to watch for signals");
                    return;
                };
                let code = runtime.block_on(async {
                    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                        signal(SignalKind::hangup()),
                    ) else {
                        return None;
                    };
                    tokio::select! {
                        _ = int.recv() => Some(130),
                        _ = term.recv() => Some(143),
                        _ = hup.recv() => Some(129),
                    }
                });
                let Some(code) = code else {
                    eprintln!("omnitill-bench: cannot watch for signals");
                    return;
                };
                let running = groups().clone();
                for &pgid in &running {
                    signal_group(pgid, "TERM");
                }
                if !running.is_empty() {
                    sleep(Duration::from_millis(500));
                }
                for &pgid in &running {
                    signal_group(pgid, "KILL");
                }
                eprintln!("omnitill-bench: interrupted; the app's window and its drivers ended");
                std::process::exit(code);
            });
        if let Err(e) = started {
            eprintln!("omnitill-bench: cannot start the signal thread: {e}");
        }
    });
}

/// `tauri-driver`, with WebKitWebDriver and the app below it, in a process group of its own.
pub struct TauriDriver {
    child: Child,
    base: String,
    log: PathBuf,
}

impl TauriDriver {
    /// Starts tauri-driver on free loopback ports and waits until it and its native driver
    /// listen. Its output and everything below it writes goes to `log`.
    pub fn start(log: &Path) -> Result<TauriDriver> {
        let binary = tauri_driver_binary()?;
        end_groups_on_signal();
        let mut last_failure = String::new();
        for attempt in 1..=DRIVER_ATTEMPTS {
            let port = free_port()?;
            let mut native_port = free_port()?;
            while native_port == port {
                native_port = free_port()?;
            }
            let log_file = fs::File::create(log)
                .with_context(|| format!("cannot create the driver log {}", log.display()))?;
            let child = Command::new(&binary)
                .args(["--port", &port.to_string()])
                .args(["--native-port", &native_port.to_string()])
                .args(["--native-host", "127.0.0.1"])
                .env_remove("WAYLAND_DISPLAY")
                .env("GDK_BACKEND", "x11")
                // No accessibility bus under Xvfb; without this GTK waits for it at start-up.
                .env("NO_AT_BRIDGE", "1")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file)
                .process_group(0)
                .spawn()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            groups().push(child.id());
            let mut driver = TauriDriver {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log: log.to_owned(),
            };
            match driver.wait_listening(&[port, native_port]) {
                Ok(()) => return Ok(driver),
                Err(e) => {
                    eprintln!("  tauri-driver attempt {attempt} failed: {e:#}");
                    last_failure = format!("{e:#}");
                    // Dropping `driver` ends its group before the next attempt.
                }
            }
        }
        bail!(
            "tauri-driver did not start in {DRIVER_ATTEMPTS} attempts: {last_failure}\n{}",
            log_tail(log, 20)
        )
    }

    fn wait_listening(&mut self, ports: &[u16]) -> Result<()> {
        for &port in ports {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let started = Instant::now();
            loop {
                if let Some(status) = self.child.try_wait()? {
                    bail!("tauri-driver exited with {status} before {address} listened");
                }
                if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if started.elapsed() > LISTEN_TIMEOUT {
                    bail!("nothing listened on {address} within {LISTEN_TIMEOUT:?}");
                }
                sleep(POLL);
            }
        }
        Ok(())
    }

    /// The driver's log file (tauri-driver, WebKitWebDriver and the app's output).
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        let pgid = self.child.id();
        // Listed before the group is signalled: a process that left the group is ended too.
        let below = descendants_of(pgid);
        if self.child.try_wait().ok().flatten().is_none() {
            signal_group(pgid, "TERM");
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                sleep(POLL);
            }
        }
        // The leader may be gone while WebKitWebDriver or the app still run.
        signal_group(pgid, "KILL");
        let _ = self.child.wait();
        signal(&below, "KILL");
        groups().retain(|&group| group != pgid);
    }
}

/// A W3C WebDriver session with the app; dropping it deletes the session (closing the app).
pub struct Session {
    http: reqwest::blocking::Client,
    base: String,
    id: String,
}

/// Sends one request and unwraps the W3C `{"value": ...}` envelope, or says what failed.
fn request(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut builder = http.request(method.clone(), url);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder
        .send()
        .with_context(|| format!("{method} {url} failed"))?;
    let status = response.status();
    let text = response
        .text()
        .with_context(|| format!("reading the answer to {method} {url}"))?;
    let parsed: Value = serde_json::from_str(&text)
        .with_context(|| format!("{method} {url}: HTTP {status}, the body is not JSON: {text}"))?;
    let value = parsed.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    bail!(
        "{method} {url}: {}: {}",
        field("error").unwrap_or_else(|| format!("HTTP {status}")),
        field("message").unwrap_or(text)
    )
}

/// Whether a request failed for want of an answer in time.
fn timed_out(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_timeout)
}

impl Session {
    /// Opens a session whose application is `app` started with `args`; retries briefly while
    /// the native driver behind tauri-driver is still starting.
    pub fn start(driver: &TauriDriver, app: &Path, args: &[String]) -> Result<Session> {
        omnitill_sync::install_tls_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .context("cannot build the WebDriver HTTP client")?;
        let capabilities = json!({
            "alwaysMatch": {
                "tauri:options": { "application": app, "args": args }
            }
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = request(
                &http,
                reqwest::Method::POST,
                &format!("{}/session", driver.base),
                Some(json!({ "capabilities": capabilities })),
            );
            match answer {
                Ok(value) => {
                    let id = value
                        .get("sessionId")
                        .and_then(Value::as_str)
                        .with_context(|| format!("the new session has no sessionId: {value}"))?
                        .to_owned();
                    return Ok(Session {
                        http,
                        base: driver.base.clone(),
                        id,
                    });
                }
                // A request that timed out started an app that never answered: not retried.
                Err(e) if attempt < SESSION_ATTEMPTS && !timed_out(&e) => {
                    eprintln!(
                        "  new WebDriver session failed (attempt {attempt}), retrying: {e:#}"
                    );
                    sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "no WebDriver session with the app; the driver log ends with:\n{}",
                        log_tail(driver.log(), 20)
                    )));
                }
            }
        }
    }

    fn post(&self, path: &str, body: Value) -> Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        request(&self.http, reqwest::Method::POST, &url, Some(body))
    }

    /// The first element matching `css`, as its WebDriver reference.
    pub fn find(&self, css: &str) -> Result<String> {
        let value = self.post("/element", json!({"using": "css selector", "value": css}))?;
        value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("not an element reference: {value}"))
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            match self.find(css) {
                Ok(element) => return Ok(element),
                Err(e) if started.elapsed() >= timeout => {
                    return Err(e.context(format!("no element {css:?} within {timeout:?}")));
                }
                Err(_) => sleep(POLL),
            }
        }
    }

    /// Types `text` (which may hold WebDriver key codes such as `ENTER`) into an element.
    pub fn send_keys(&self, element: &str, text: &str) -> Result<()> {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .map(|_| ())
    }

    /// Runs `script` as the body of a function of `args` and answers what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Runs `script`, whose last argument is a callback, and answers what it passes to it.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
    }

    /// How long `execute_async` waits for its callback.
    pub fn set_script_timeout(&self, timeout: Duration) -> Result<()> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.post("/timeouts", json!({ "script": millis }))
            .map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.id);
        if let Err(e) = request(&self.http, reqwest::Method::DELETE, &url, None) {
            eprintln!("  could not end the WebDriver session: {e:#}");
        }
    }
}
