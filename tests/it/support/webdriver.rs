//! A small blocking W3C WebDriver client, and the harness that runs the real till window under it.
//!
//! `WebDriver` speaks the W3C protocol to `tauri-driver` over loopback HTTP with
//! `reqwest::blocking`: find elements by CSS, click, type (special keys are in `keys`), read
//! text, attributes and properties, run scripts, take screenshots, and poll with `wait_until`,
//! which fails with a message naming what it waited for. `Element` borrows the driver it came
//! from.
//!
//! `TillWindow::start` starts everything a UI test needs and `Drop` stops it again: its own Xvfb
//! on a free display, `tauri-driver` (which starts `WebKitWebDriver`, which starts the app) on
//! free loopback ports in a process group of its own, and a session whose application is
//! `target/debug/omnitill --data-dir <temporary dir> --seed-demo`. A failing test leaves a
//! screenshot and the drivers' log in `target/ui-shots/<test>/`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key that W3C WebDriver uses to mark an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `wait_until` and friends wait by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How often they look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The W3C WebDriver codes of the special keys the tests press, to put inside the text given to
/// `send_keys` (Escape is U+E00C; F1 to F12 are U+E031 to U+E03C).
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const F4: &str = "\u{E034}";
    pub const F6: &str = "\u{E036}";
    pub const F7: &str = "\u{E037}";
    pub const F9: &str = "\u{E039}";
    pub const F11: &str = "\u{E03B}";
    pub const F12: &str = "\u{E03C}";
}

/// A failed WebDriver command: the W3C error code ("no such element", ...) and its message,
/// or a transport failure with an empty code.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

type WdResult<T> = Result<T, WebDriverError>;

/// A W3C WebDriver session.
pub struct WebDriver {
    http: reqwest::blocking::Client,
    base: String,
    session: String,
}

/// An element of the page, found through `driver`.
#[derive(Clone)]
pub struct Element<'a> {
    driver: &'a WebDriver,
    id: String,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({})", self.id)
    }
}

fn transport(error: impl std::fmt::Display) -> WebDriverError {
    WebDriverError {
        code: String::new(),
        message: error.to_string(),
    }
}

/// Sends one request and unwraps the W3C `{"value": ...}` envelope.
fn request(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> WdResult<Value> {
    let mut builder = http.request(method, url);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder.send().map_err(transport)?;
    let status = response.status();
    let text = response.text().map_err(transport)?;
    let parsed: Value = serde_json::from_str(&text).map_err(|e| WebDriverError {
        code: String::new(),
        message: format!("HTTP {status}, body is not JSON ({e}): {text}"),
    })?;
    let value = parsed.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    Err(WebDriverError {
        code: value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned(),
        message: value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or(&text)
            .to_owned(),
    })
}

fn element_id(value: &Value) -> WdResult<String> {
    value
        .get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| WebDriverError {
            code: String::new(),
            message: format!("not an element reference: {value}"),
        })
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most `timeout`, and panics with
/// `what` and how long it waited when it never does.
pub fn poll_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if started.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        sleep(POLL_INTERVAL);
    }
}

impl WebDriver {
    /// Opens a new session on the WebDriver server at `base` (for example
    /// `http://127.0.0.1:4444`) with the given W3C capabilities.
    pub fn new_session(base: &str, capabilities: Value) -> WdResult<WebDriver> {
        omnitill_sync::install_tls_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(90))
            .no_proxy()
            .build()
            .map_err(transport)?;
        let value = request(
            &http,
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(json!({ "capabilities": capabilities })),
        )?;
        let session = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| WebDriverError {
                code: String::new(),
                message: format!("new session answer has no sessionId: {value}"),
            })?
            .to_owned();
        Ok(WebDriver {
            http,
            base: base.to_owned(),
            session,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn get(&self, path: &str) -> WdResult<Value> {
        request(&self.http, reqwest::Method::GET, &self.url(path), None)
    }

    fn post(&self, path: &str, body: Value) -> WdResult<Value> {
        request(
            &self.http,
            reqwest::Method::POST,
            &self.url(path),
            Some(body),
        )
    }

    /// Ends the session; the native driver then closes the app.
    pub fn delete_session(&self) -> WdResult<()> {
        request(
            &self.http,
            reqwest::Method::DELETE,
            &format!("{}/session/{}", self.base, self.session),
            None,
        )
        .map(|_| ())
    }

    fn element(&self, id: String) -> Element<'_> {
        Element { driver: self, id }
    }

    /// The first element that matches `css`, or the driver's error ("no such element").
    pub fn try_find(&self, css: &str) -> WdResult<Element<'_>> {
        let value = self.post("/element", json!({"using": "css selector", "value": css}))?;
        Ok(self.element(element_id(&value)?))
    }

    /// The first element that matches `css`, which must be on the page now.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.try_find(css)
            .unwrap_or_else(|e| panic!("the page should have an element {css:?}: {e}"))
    }

    /// Every element that matches `css` (possibly none).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let value = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .unwrap_or_else(|e| panic!("looking for elements {css:?} failed: {e}"));
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| element_id(item).ok())
                    .map(|id| self.element(id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The element that has the keyboard focus.
    pub fn active_element(&self) -> Element<'_> {
        let value = self
            .get("/element/active")
            .unwrap_or_else(|e| panic!("asking for the focused element failed: {e}"));
        self.element(element_id(&value).unwrap_or_else(|e| panic!("no element has the focus: {e}")))
    }

    /// Types `text` (which may hold `keys`) into whatever has the focus, as a keyboard would.
    pub fn type_into_focus(&self, text: &str) {
        self.active_element().send_keys(text);
    }

    /// Runs `script` as the body of a function with `args` and returns what it returns.
    pub fn try_execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    /// Runs `script` (synchronously) and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_execute(script, args)
            .unwrap_or_else(|e| panic!("script failed: {e}\nscript: {script}"))
    }

    /// Runs `script`, whose last argument is a callback, and returns what it passes to it.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .unwrap_or_else(|e| panic!("async script failed: {e}\nscript: {script}"))
    }

    /// Sets the script timeout used by `execute_async`.
    pub fn set_script_timeout(&self, timeout: Duration) {
        self.post("/timeouts", json!({"script": timeout.as_millis() as u64}))
            .unwrap_or_else(|e| panic!("setting the script timeout failed: {e}"));
    }

    /// Polls `probe` until it returns `Some`, for at most `DEFAULT_WAIT`; panics naming `what`.
    pub fn wait_until<T>(&self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        poll_until(what, DEFAULT_WAIT, probe)
    }

    /// Waits until an element matches `css` and returns it.
    pub fn wait_for(&self, css: &str) -> Element<'_> {
        self.wait_until(&format!("an element {css:?} on the page"), || {
            self.try_find(css).ok()
        })
    }

    /// Waits until no element matches `css`.
    pub fn wait_gone(&self, css: &str) {
        self.wait_until(&format!("no element {css:?} on the page"), || {
            self.find_all(css).is_empty().then_some(())
        })
    }

    /// Waits until the text of the element matching `css` satisfies `test`, and returns it.
    pub fn wait_for_text(&self, css: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        let mut last = String::from("<no element>");
        poll_until_with_last(
            &format!("{css:?} to show {what}"),
            DEFAULT_WAIT,
            &mut last,
            |last| {
                let text = self.try_find(css).and_then(|e| e.try_text()).ok()?;
                if test(&text) {
                    Some(text)
                } else {
                    *last = text;
                    None
                }
            },
        )
    }

    /// Saves a PNG of the window to `path`, creating its directory.
    pub fn screenshot(&self, path: &Path) -> WdResult<()> {
        // WebKit takes the picture at the window's next repaint. A still page (no caret
        // blinking, the clock between minutes) may not repaint for up to a minute, so one
        // practically invisible pixel changes every 50 ms for the next two seconds.
        self.try_execute(
            "let dot = document.getElementById('webdriver-repaint');
             if (!dot) {
               dot = document.createElement('div');
               dot.id = 'webdriver-repaint';
               dot.setAttribute('aria-hidden', 'true');
               dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
               document.body.appendChild(dot);
             }
             clearInterval(window.__webdriverRepaint);
             let ticks = 0;
             window.__webdriverRepaint = setInterval(() => {
               ticks += 1;
               dot.style.background = ticks % 2 ? 'rgba(0, 0, 0, 0.01)' : 'rgba(0, 0, 0, 0.02)';
               if (ticks >= 40) clearInterval(window.__webdriverRepaint);
             }, 50);",
            Vec::new(),
        )?;
        let value = self.get("/screenshot")?;
        let encoded = value
            .as_str()
            .ok_or_else(|| transport("screenshot answer is not a string"))?;
        let png = base64_decode(encoded).map_err(transport)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(transport)?;
        }
        std::fs::write(path, png).map_err(transport)
    }
}

/// Like `poll_until`, but the panic message also says what the probe last saw.
fn poll_until_with_last<T>(
    what: &str,
    timeout: Duration,
    last: &mut String,
    mut probe: impl FnMut(&mut String) -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe(last) {
            return value;
        }
        if started.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last:?}");
        }
        sleep(POLL_INTERVAL);
    }
}

impl Element<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Clicks the element's centre.
    pub fn click(&self) {
        self.driver
            .post(&self.path("/click"), json!({}))
            .unwrap_or_else(|e| panic!("click on {self:?} failed: {e}"));
    }

    /// Types `text` into the element, focusing it first if it has not the focus.
    pub fn send_keys(&self, text: &str) {
        self.driver
            .post(&self.path("/value"), json!({ "text": text }))
            .unwrap_or_else(|e| panic!("typing {text:?} into {self:?} failed: {e}"));
    }

    /// Empties an input.
    pub fn clear(&self) {
        self.driver
            .post(&self.path("/clear"), json!({}))
            .unwrap_or_else(|e| panic!("clearing {self:?} failed: {e}"));
    }

    /// The element's rendered text, or the driver's error (a stale element).
    pub fn try_text(&self) -> WdResult<String> {
        let value = self.driver.get(&self.path("/text"))?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The element's rendered text.
    pub fn text(&self) -> String {
        self.try_text()
            .unwrap_or_else(|e| panic!("reading the text of {self:?} failed: {e}"))
    }

    /// An HTML attribute, None when the element does not have it.
    pub fn attr(&self, name: &str) -> Option<String> {
        let value = self
            .driver
            .get(&self.path(&format!("/attribute/{name}")))
            .unwrap_or_else(|e| panic!("reading attribute {name} of {self:?} failed: {e}"));
        value.as_str().map(str::to_owned)
    }

    /// A DOM property, such as an input's current `value`.
    pub fn prop(&self, name: &str) -> Value {
        self.driver
            .get(&self.path(&format!("/property/{name}")))
            .unwrap_or_else(|e| panic!("reading property {name} of {self:?} failed: {e}"))
    }
}

/// Decodes standard base64 (with or without padding, ignoring line breaks).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(byte: u8) -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some(u32::from(byte - b'A')),
            b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for (index, byte) in text.bytes().enumerate() {
        if byte == b'=' {
            break;
        }
        if byte.is_ascii_whitespace() {
            continue;
        }
        let value =
            sextet(byte).ok_or_else(|| format!("byte {byte:#x} at {index} is not base64"))?;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

// --- The harness ------------------------------------------------------------------------------

/// The debug build of the till, next to this test binary (target/debug/deps/it-… → target/debug).
pub fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let app = profile_dir.join("omnitill");
    assert!(
        app.is_file(),
        "the till app {} is missing; build it first with `npm --prefix ui run build && cargo build -p omnitill`",
        app.display()
    );
    app
}

/// target/ (the parent of target/debug).
pub fn target_dir() -> PathBuf {
    app_binary()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target/debug has a parent")
}

/// tauri-driver on PATH, in $CARGO_HOME/bin or in ~/.cargo/bin.
fn tauri_driver_binary() -> PathBuf {
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
    candidates.into_iter().find(|c| c.is_file()).unwrap_or_else(|| {
        panic!("tauri-driver is needed for UI tests; install it with `cargo install tauri-driver --version ^2 --locked`")
    })
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a loopback port can be bound");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// A child process started in its own process group, so that everything it starts in turn
/// can be ended with it.
fn spawn_in_own_group(command: &mut Command, what: &str) -> Child {
    command
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{what} could not be started: {e}"))
}

/// Ends a process group we started: SIGTERM, then SIGKILL if it lingers, and reaps the leader.
fn end_group(child: &mut Child) {
    let Ok(pgid) = i32::try_from(child.id()) else {
        return;
    };
    if child.try_wait().ok().flatten().is_none() {
        // SAFETY: kill(2) with a negative pid signals only the process group this harness
        // created with process_group(0); it has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
            sleep(POLL_INTERVAL);
        }
    }
    // The leader may be gone while its children (WebKitWebDriver, the app) still run.
    // SAFETY: as above; a group with no members left makes kill return ESRCH, which is fine.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// An Xvfb server on a display of its own.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts a server whose one screen is `screen` pixels (`WIDTHxHEIGHT`).
    fn start(log: &Path, screen: &str) -> Xvfb {
        let mut last_failure = String::new();
        for _ in 0..20 {
            let number = 100 + rand::random_range(0..800u32);
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            if socket.exists() || lock.exists() {
                continue;
            }
            let log_file = std::fs::File::create(log).expect("the Xvfb log file can be created");
            let mut child = spawn_in_own_group(
                Command::new("Xvfb")
                    .arg(format!(":{number}"))
                    .args([
                        "-screen",
                        "0",
                        &format!("{screen}x24"),
                        "-nolisten",
                        "tcp",
                        "-noreset",
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log_file),
                "Xvfb (apt-get install xvfb)",
            );
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(status)) = child.try_wait() {
                    last_failure = format!("Xvfb :{number} exited with {status}");
                    break;
                }
                if socket.exists() {
                    return Xvfb {
                        child,
                        display: format!(":{number}"),
                    };
                }
                sleep(POLL_INTERVAL);
            }
            end_group(&mut child);
            if last_failure.is_empty() {
                last_failure =
                    format!("Xvfb :{number} did not create {} in 10 s", socket.display());
            }
        }
        let log_text = std::fs::read_to_string(log).unwrap_or_default();
        panic!("no Xvfb display could be started; last failure: {last_failure}\n{log_text}");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        end_group(&mut self.child);
    }
}

/// The till app running in its real window under tauri-driver, on its own Xvfb display, with
/// a fresh demo ledger in a temporary directory.
pub struct TillWindow {
    // Field order is drop order after `Drop::drop`: the session is deleted there, then
    // tauri-driver ends, then Xvfb, then the data directory is removed.
    driver: WebDriver,
    tauri_driver: Child,
    _xvfb: Xvfb,
    data_dir: tempfile::TempDir,
    shots: PathBuf,
    shot_count: std::cell::Cell<u32>,
}

impl TillWindow {
    /// Starts Xvfb, tauri-driver and the app; `name` names the folder for screenshots and
    /// logs, target/ui-shots/<name>/.
    pub fn start(name: &str) -> TillWindow {
        TillWindow::start_with_args(name, &[])
    }

    /// As `start`, with more command-line arguments for the app (an enrolment, say).
    pub fn start_with_args(name: &str, extra_args: &[&str]) -> TillWindow {
        TillWindow::start_on_screen(name, "1280x800", extra_args)
    }

    /// As `start_with_args`, on a screen of `screen` pixels (`WIDTHxHEIGHT`).
    pub fn start_on_screen(name: &str, screen: &str, extra_args: &[&str]) -> TillWindow {
        let app = app_binary();
        let shots = target_dir().join("ui-shots").join(name);
        std::fs::create_dir_all(&shots).expect("the screenshot folder can be created");
        for entry in std::fs::read_dir(&shots)
            .expect("the screenshot folder can be read")
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let data_dir = tempfile::Builder::new()
            .prefix("omnitill-ui-")
            .tempdir()
            .expect("a temporary data directory can be made");

        let xvfb = Xvfb::start(&shots.join("xvfb.log"), screen);
        let port = free_port();
        let mut native_port = free_port();
        while native_port == port {
            native_port = free_port();
        }
        let driver_log_path = shots.join("driver.log");
        let driver_log =
            std::fs::File::create(&driver_log_path).expect("the driver log can be created");
        let mut tauri_driver = spawn_in_own_group(
            Command::new(tauri_driver_binary())
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .args(["--native-host", "127.0.0.1"])
                .env("DISPLAY", &xvfb.display)
                .env_remove("WAYLAND_DISPLAY")
                .env("GDK_BACKEND", "x11")
                // No accessibility bus under Xvfb; without this GTK waits for it at start-up.
                .env("NO_AT_BRIDGE", "1")
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .stdin(Stdio::null())
                .stdout(
                    driver_log
                        .try_clone()
                        .expect("the log file handle can be cloned"),
                )
                .stderr(driver_log),
            "tauri-driver",
        );

        // tauri-driver listens at once; WebKitWebDriver, which it starts, a little later.
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        for listening in [
            address,
            SocketAddr::from((Ipv4Addr::LOCALHOST, native_port)),
        ] {
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = tauri_driver.try_wait() {
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!("tauri-driver exited with {status} before {listening} listened:\n{log}");
                }
                if TcpStream::connect_timeout(&listening, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if started.elapsed() > Duration::from_secs(15) {
                    end_group(&mut tauri_driver);
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!(
                        "nothing listened on {listening} within 15 s of starting tauri-driver:\n{log}"
                    );
                }
                sleep(POLL_INTERVAL);
            }
        }

        let mut app_args = vec![
            json!("--data-dir"),
            json!(data_dir.path()),
            json!("--seed-demo"),
        ];
        app_args.extend(extra_args.iter().map(|arg| json!(arg)));
        let capabilities = json!({
            "alwaysMatch": {
                "tauri:options": {
                    "application": app,
                    "args": app_args,
                }
            }
        });
        // The native driver may still be starting behind tauri-driver's port; retry briefly.
        let base = format!("http://{address}");
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            match WebDriver::new_session(&base, capabilities.clone()) {
                Ok(driver) => break driver,
                Err(e) if attempt < 5 => {
                    eprintln!("new WebDriver session failed (attempt {attempt}), retrying: {e}");
                    sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    end_group(&mut tauri_driver);
                    let log = std::fs::read_to_string(&driver_log_path).unwrap_or_default();
                    panic!("no WebDriver session with the till app could be opened: {e}\n{log}");
                }
            }
        };
        TillWindow {
            driver,
            tauri_driver,
            _xvfb: xvfb,
            data_dir,
            shots,
            shot_count: std::cell::Cell::new(0),
        }
    }

    /// The session with the app's window.
    pub fn driver(&self) -> &WebDriver {
        &self.driver
    }

    /// The ledger file the app writes.
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.path().join("till.sqlite3")
    }

    /// Saves a numbered screenshot, target/ui-shots/<test>/NN-<step>.png, and returns its path.
    pub fn shot(&self, step: &str) -> PathBuf {
        let number = self.shot_count.get() + 1;
        self.shot_count.set(number);
        let path = self.shots.join(format!("{number:02}-{step}.png"));
        self.driver
            .screenshot(&path)
            .unwrap_or_else(|e| panic!("screenshot {} failed: {e}", path.display()));
        path
    }
}

impl Drop for TillWindow {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let path = self.shots.join("failure.png");
            match self.driver.screenshot(&path) {
                Ok(()) => eprintln!("the window at the failure: {}", path.display()),
                Err(e) => eprintln!("no screenshot of the failure: {e}"),
            }
            eprintln!("driver log: {}", self.shots.join("driver.log").display());
        }
        let _ = self.driver.delete_session();
        end_group(&mut self.tauri_driver);
    }
}

#[test]
fn base64_decoding_gives_back_the_bytes_that_were_encoded() {
    assert_eq!(
        base64_decode("").unwrap(),
        b"",
        "nothing decodes to nothing"
    );
    assert_eq!(
        base64_decode("TWFu").unwrap(),
        b"Man",
        "a full quantum decodes to three bytes"
    );
    assert_eq!(
        base64_decode("TWE=").unwrap(),
        b"Ma",
        "one pad character leaves two bytes"
    );
    assert_eq!(
        base64_decode("TQ==").unwrap(),
        b"M",
        "two pad characters leave one byte"
    );
    assert_eq!(
        base64_decode("iVBO\nRw0KGgo=").unwrap(),
        b"\x89PNG\r\n\x1a\n",
        "a PNG signature survives a line break in the text"
    );
    assert!(
        base64_decode("a*b").is_err(),
        "a byte outside the alphabet is refused"
    );
}
