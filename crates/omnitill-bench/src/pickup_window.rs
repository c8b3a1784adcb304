//! The pickup queue rendered in the app's real window, with thousands of open orders.
//!
//! A data directory is made for the app: a copy of the demo till (`tills::demo_template`, so
//! the demo staff exist), enrolled with the bench store and given the open orders the way a
//! till gets them, as pulled pages applied with `Till::apply_pull` (`feed`, the same orders as
//! `pickup_queue`: most of them new, so the New tab holds a full page). The app binary is then
//! started by `tauri-driver` and WebKitWebDriver (`window`) with `--data-dir DIR`, and the demo
//! manager signs in through the login fields.
//!
//! Each timed step is one async script in the page. It notes `performance.now()`, dispatches
//! the key to the focused element as a keydown event (the app's keys listen on the window),
//! and waits with a MutationObserver until `#pickup-orders` holds the tab's cards (as many as
//! the till sends: `pickups::QUEUE_PAGE`, or the tab's count when smaller, each with the tab's
//! status); it then waits for the next animation frame and for a task posted from it, which
//! runs after that frame's rendering update (layout and paint). The elapsed time is the
//! sample. For the queue's row the key is F7 on the checkout: it covers the pickup screen's
//! mount, the `pickup_queue` IPC read of the New tab (every tab's count and its 200 most urgent
//! orders), the cards' rendering and the frame that paints them. Between samples the screen
//! is left on the Picking tab and Esc goes back to the checkout, so the next F7 finds no New
//! cards from before and must read and render them again (a screen that shows cached cards at
//! once is refused as a sample). The tab switches are timed the same way: F5 from New to
//! Picking, and a click on the New tab back. To tell the till's and the page's shares apart,
//! each round also times the `pickup_queue` IPC call of the New tab alone from the page, on
//! the checkout (`__TAURI_INTERNALS__.invoke`, to the parsed answer; nothing is rendered).
//! WebKit's `performance.now()` counts whole milliseconds.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::pickups::QUEUE_PAGE;
use omnitill_core::{SystemClock, Till, demo};
use omnitill_protocol::pull::Change;
use serde_json::{Value, json};

use crate::measure::Samples;
use crate::window::{ENTER, Session, TauriDriver, log_tail};
use crate::{feed, pickup_queue, tills};

/// The longest wait for the app's login screen after the session opened.
const START_WAIT: Duration = Duration::from_secs(60);
/// The longest wait for the checkout after signing in.
const SIGN_IN_WAIT: Duration = Duration::from_secs(30);
/// The longest one timed step may take before it counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times the queue is opened in the window.
#[derive(Debug, Clone, Copy)]
pub struct WindowPlan {
    /// Untimed rounds first (the web view's code and the till's caches warm up).
    pub warm_ups: usize,
    pub opens: usize,
}

/// What the window measured.
pub struct WindowResult {
    /// F7 on the checkout to the New tab's cards painted.
    pub opens: Samples,
    /// The same, to the cards in the document (before the frame that paints them).
    pub opens_in_dom: Samples,
    /// F5 from New to the Picking tab's cards painted.
    pub to_picking: Samples,
    /// A click on the New tab, from Picking, to its cards painted.
    pub to_new: Samples,
    /// The New tab's `pickup_queue` IPC call alone, from the page.
    pub ipc: Samples,
    /// Cards the New tab showed.
    pub cards: usize,
    /// Orders the New tab counts.
    pub new_orders: usize,
}

/// Orders of each tab in the made data directory.
struct Seeded {
    new: usize,
    picking: usize,
}

/// Makes the app's data directory under `work`, starts the app in its window and times the
/// queue's opening and tab switches. Every process started is stopped before this returns.
pub fn measure(
    plan: &WindowPlan,
    open_orders: usize,
    app: &Path,
    cache_dir: &Path,
    work: &Path,
) -> Result<WindowResult> {
    let data_dir = work.join("window-till");
    let seeded = seed(&data_dir, open_orders, cache_dir)?;
    let data_arg = data_dir
        .to_str()
        .with_context(|| format!("{} is not UTF-8", data_dir.display()))?
        .to_owned();
    eprintln!("pickups: starting the app in its window under tauri-driver");
    let driver = TauriDriver::start(&work.join("window-driver.log"))?;
    let result = Session::start(&driver, app, &["--data-dir".to_owned(), data_arg])
        .and_then(|session| rounds(&session, plan, &seeded));
    // The session (and so the app) is gone here; the driver's group ends when it drops.
    result.map_err(|e| {
        e.context(format!(
            "the driver's log ({}) ends with:\n{}",
            driver.log().display(),
            log_tail(driver.log(), 15)
        ))
    })
}

/// The demo till with `open_orders` pulled open orders, as `DIR/till.sqlite3`.
fn seed(data_dir: &Path, open_orders: usize, cache_dir: &Path) -> Result<Seeded> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let template = tills::demo_template(cache_dir)?;
    let ledger = data_dir.join(crate::LEDGER_FILE);
    fs::copy(&template, &ledger)
        .with_context(|| format!("cannot copy {} to {}", template.display(), ledger.display()))?;
    let mut till = Till::open(&ledger, Arc::new(SystemClock))
        .with_context(|| format!("cannot open {}", ledger.display()))?;
    feed::enrol(&mut till)?;
    let skus = pickup_queue::demo_skus(&till);
    let now_ms = till.clock().now().timestamp_millis();
    let orders = pickup_queue::open_orders(open_orders, &skus, now_ms);
    let of = |status: &str| orders.iter().filter(|o| o.status == status).count();
    let seeded = Seeded {
        new: of("new"),
        picking: of("picking"),
    };
    let changes = orders.into_iter().map(Change::Pickup).collect();
    let seeding = feed::apply(&mut till, changes, 0)?;
    drop(till);
    crate::cloud::checkpoint(&ledger)?;
    eprintln!(
        "pickups: {open_orders} open orders ({} new, {} picking) pulled into the app's ledger in {:.2} s",
        seeded.new,
        seeded.picking,
        seeding.as_secs_f64()
    );
    Ok(seeded)
}

/// Signs the demo manager in, then times `warm_ups + opens` rounds.
fn rounds(session: &Session, plan: &WindowPlan, seeded: &Seeded) -> Result<WindowResult> {
    sign_in(session)?;
    session.set_script_timeout(STEP_TIMEOUT + Duration::from_secs(5))?;
    let new = seeded.new.min(QUEUE_PAGE);
    let picking = seeded.picking.min(QUEUE_PAGE);
    if new == 0 || picking == 0 {
        bail!("the queue needs new and picking orders ({new} and {picking} would be shown)");
    }
    let mut opens = Vec::with_capacity(plan.opens);
    let mut opens_in_dom = Vec::with_capacity(plan.opens);
    let mut to_picking = Vec::with_capacity(plan.opens);
    let mut to_new = Vec::with_capacity(plan.opens);
    let mut ipc = Vec::with_capacity(plan.opens);
    let mut cards = 0;
    let total = plan.warm_ups + plan.opens;
    for round in 0..total {
        let open =
            step(session, &json!({ "key": "F7" }), "new", new).context("F7 to the pickup queue")?;
        if round == 0 {
            check_counts(session, seeded)?;
        }
        cards = open.cards;
        let picked = step(session, &json!({ "key": "F5" }), "picking", picking)
            .context("F5 to the Picking tab")?;
        let back_to_new = step(session, &json!({ "click": "#pickup-tab-new" }), "new", new)
            .context("clicking the New tab")?;
        // Left on Picking, so that the next F7 finds no New cards from before.
        step(session, &json!({ "key": "F5" }), "picking", picking)
            .context("F5 to the Picking tab again")?;
        back(session)?;
        let call = ipc_call(session, new)?;
        let timed = round >= plan.warm_ups;
        eprintln!(
            "  round {}{}: open {:.0} ms (in the document {:.0} ms), New→Picking {:.0} ms, Picking→New {:.0} ms, the IPC call alone {:.0} ms",
            round + 1,
            if timed { "" } else { " (warm-up)" },
            ms(open.painted),
            ms(open.in_dom),
            ms(picked.painted),
            ms(back_to_new.painted),
            ms(call)
        );
        if timed {
            opens.push(open.painted);
            opens_in_dom.push(open.in_dom);
            to_picking.push(picked.painted);
            to_new.push(back_to_new.painted);
            ipc.push(call);
        }
    }
    Ok(WindowResult {
        opens: Samples::from_unsorted(opens),
        opens_in_dom: Samples::from_unsorted(opens_in_dom),
        to_picking: Samples::from_unsorted(to_picking),
        to_new: Samples::from_unsorted(to_new),
        ipc: Samples::from_unsorted(ipc),
        cards,
        new_orders: seeded.new,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Types the demo manager's code and PIN into the login fields and waits for the checkout.
fn sign_in(session: &Session) -> Result<()> {
    let (code, pin) = demo::MANAGER;
    let field = session.wait_for("#login-code", START_WAIT)?;
    session.send_keys(&field, &format!("{code}{ENTER}"))?;
    let field = session.wait_for("#login-pin", SIGN_IN_WAIT)?;
    session.send_keys(&field, &format!("{pin}{ENTER}"))?;
    session.wait_for("#checkout #scan", SIGN_IN_WAIT)?;
    wait_script(
        session,
        "the checkout to load its cart",
        "return !document.getElementById('login') && !!document.querySelector('#cart-lines[data-count]');",
        SIGN_IN_WAIT,
    )
}

/// Polls `script` until it returns true.
fn wait_script(session: &Session, what: &str, script: &str, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        if session.execute(script, Vec::new())? == Value::Bool(true) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        sleep(Duration::from_millis(50));
    }
}

/// The New and Picking tabs' counts must be the orders pulled into the ledger.
fn check_counts(session: &Session, seeded: &Seeded) -> Result<()> {
    let counts = session.execute(
        "return ['new', 'picking'].map((tab) => {
           const button = document.getElementById('pickup-tab-' + tab);
           return button ? Number(button.dataset.count) : -1;
         });",
        Vec::new(),
    )?;
    let read = |index: usize| counts.get(index).and_then(Value::as_i64).unwrap_or(-1);
    let (new, picking) = (read(0), read(1));
    if usize::try_from(new).ok() != Some(seeded.new)
        || usize::try_from(picking).ok() != Some(seeded.picking)
    {
        bail!(
            "the window counts {new} new and {picking} picking orders, not the {} and {} pulled",
            seeded.new,
            seeded.picking
        );
    }
    Ok(())
}

/// One timed step in the page.
struct Step {
    /// To the frame after the cards were in the document.
    painted: Duration,
    /// To the cards in the document.
    in_dom: Duration,
    cards: usize,
}

/// Acts (`{"key": K}` is a keydown of K at the focused element, `{"click": CSS}` a click),
/// then waits in the page until `#pickup-orders` holds `expected` cards of `status` and the
/// frame that shows them has rendered. Answers the times from just before the act.
const STEP_SCRIPT: &str = r##"
const [act, status, expected, timeoutMs, done] = arguments;
const selector = "#pickup-orders button[data-testid='pickup-order'][data-status='" + status + "']";
const count = () => document.querySelectorAll(selector).length;
let started = 0;
let seen = false;
let finished = false;
let firstSeen = null;
const observer = new MutationObserver(() => check());
const finish = (result) => {
  if (finished) return;
  finished = true;
  observer.disconnect();
  done(result);
};
function check() {
  if (seen || finished || !document.getElementById('pickup-orders')) return;
  const cards = count();
  if (firstSeen === null) firstSeen = cards;
  if (cards < expected) return;
  seen = true;
  const domMs = performance.now() - started;
  observer.disconnect();
  requestAnimationFrame(() => {
    // A task posted from the frame's callback runs after the frame's rendering update.
    const channel = new MessageChannel();
    channel.port1.onmessage = () =>
      finish({ ms: performance.now() - started, domMs, firstSeen, cards: count() });
    channel.port2.postMessage(null);
  });
}
observer.observe(document.body, { childList: true, subtree: true });
started = performance.now();
if (act.key) {
  const target = document.activeElement || document.body;
  target.dispatchEvent(new KeyboardEvent("keydown", { key: act.key, bubbles: true, cancelable: true }));
} else {
  const button = document.querySelector(act.click);
  if (!button) {
    finish({ error: "no element " + act.click });
    return;
  }
  button.click();
}
check();
setTimeout(() => finish({ error: "timed out", cards: count(), firstSeen }), timeoutMs);
"##;

fn step(session: &Session, act: &Value, status: &str, expected: usize) -> Result<Step> {
    let timeout_ms = u64::try_from(STEP_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let answer = session.execute_async(
        STEP_SCRIPT,
        vec![
            act.clone(),
            json!(status),
            json!(expected),
            json!(timeout_ms),
        ],
    )?;
    let number = |name: &str| answer.get(name).and_then(Value::as_f64);
    if let Some(error) = answer.get("error") {
        bail!(
            "{act}: {error} waiting for {expected} {status} cards (saw {}, first {})",
            number("cards").unwrap_or(-1.0),
            number("firstSeen").unwrap_or(-1.0)
        );
    }
    let (Some(painted), Some(in_dom), Some(first), Some(cards)) = (
        number("ms"),
        number("domMs"),
        number("firstSeen"),
        number("cards"),
    ) else {
        bail!("{act}: the page answered {answer}");
    };
    if first >= expected as f64 {
        bail!(
            "{act}: {status} cards were on the screen before the till was asked ({first}); not a fresh read"
        );
    }
    let duration = |millis: f64| -> Result<Duration> {
        Duration::try_from_secs_f64(millis / 1e3)
            .with_context(|| format!("{act}: the page measured {millis} ms"))
    };
    Ok(Step {
        painted: duration(painted)?,
        in_dom: duration(in_dom)?,
        cards: cards as usize,
    })
}

/// Esc back to the checkout, waiting in the page until its scan field is there.
const BACK_SCRIPT: &str = r##"
const [timeoutMs, done] = arguments;
let finished = false;
const ready = () => !!document.querySelector("#checkout #scan") && !document.getElementById("pickups");
const observer = new MutationObserver(() => { if (ready()) finish({ ok: true }); });
const finish = (result) => {
  if (finished) return;
  finished = true;
  observer.disconnect();
  done(result);
};
observer.observe(document.body, { childList: true, subtree: true });
const target = document.activeElement || document.body;
target.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
if (ready()) finish({ ok: true });
setTimeout(() => finish({ error: "timed out" }), timeoutMs);
"##;

fn back(session: &Session) -> Result<()> {
    let timeout_ms = u64::try_from(STEP_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let answer = session.execute_async(BACK_SCRIPT, vec![json!(timeout_ms)])?;
    if answer.get("ok") != Some(&Value::Bool(true)) {
        bail!("Esc did not go back to the checkout: {answer}");
    }
    Ok(())
}

/// The New tab's `pickup_queue` IPC call from the page, as the app's `api.pickupQueue` makes
/// it, timed to its parsed answer.
const IPC_SCRIPT: &str = r##"
const [tab, done] = arguments;
const internals = window.__TAURI_INTERNALS__;
if (!internals || typeof internals.invoke !== "function") {
  done({ error: "the page has no __TAURI_INTERNALS__.invoke" });
  return;
}
const started = performance.now();
internals.invoke("pickup_queue", { tab }).then(
  (queue) => done({ ms: performance.now() - started, orders: queue.orders.length }),
  (e) => done({ error: String((e && e.message) || JSON.stringify(e)) })
);
"##;

fn ipc_call(session: &Session, expected: usize) -> Result<Duration> {
    let answer = session.execute_async(IPC_SCRIPT, vec![json!("new")])?;
    if let Some(error) = answer.get("error") {
        bail!("the pickup_queue call from the page failed: {error}");
    }
    let orders = answer.get("orders").and_then(Value::as_u64);
    if orders != Some(expected as u64) {
        bail!("the pickup_queue call answered {answer}, not {expected} orders");
    }
    let millis = answer.get("ms").and_then(Value::as_f64).unwrap_or(-1.0);
    Duration::try_from_secs_f64(millis / 1e3)
        .with_context(|| format!("the page measured the IPC call as {millis} ms"))
}
