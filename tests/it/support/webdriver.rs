//! A small blocking W3C WebDriver client.
//!
//! `WebDriver` speaks the W3C protocol to `tauri-driver` over loopback HTTP with
//! `reqwest::blocking`: find elements by CSS, click, type (special keys are in `keys`), read
//! text, attributes and properties, run scripts, take screenshots, and poll with `wait_until`,
//! which fails with a message naming what it waited for. `Element` borrows the driver it came
//! from. The harness that runs the real till window under it is `till_window`.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key that W3C WebDriver uses to mark an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `wait_until` and friends wait by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How often they look again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The W3C WebDriver codes of the special keys the tests press, to put inside the text given to
/// `send_keys` (Escape is U+E00C; F1 to F12 are U+E031 to U+E03C).
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    pub const F1: &str = "\u{E031}";
    pub const F3: &str = "\u{E033}";
    pub const F4: &str = "\u{E034}";
    pub const F6: &str = "\u{E036}";
    pub const F7: &str = "\u{E037}";
    pub const F8: &str = "\u{E038}";
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
