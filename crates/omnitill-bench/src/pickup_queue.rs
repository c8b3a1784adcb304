//! Click-and-collect at the till: the store's pickup queue read with thousands of open orders
//! cached, and the durable commit of a handover.
//!
//! A copy of the demo till (`tills::demo_template`) is enrolled with a store (recorded, no
//! cloud needed) and given `open_orders` open pickup orders of that store the way a till gets
//! them: pulled pages of `Change::Pickup` entries applied with `Till::apply_pull` (`feed`).
//! The orders (`open_orders`, also used by `floor` and `pickup_window`) are new, picking or
//! ready, with one to six lines, paid online or at pickup, for members or guests.
//!
//! - queue read: `Till::pickup_orders()` (every cached order, decoded, newest first) timed
//!   `reads` times after a few untimed calls; and the queue window's tab read as the app makes
//!   it, `Till::pickup_counts()` then `Till::pickup_orders_in(&["new"])` (the biggest tab's
//!   most urgent orders, up to `pickups::QUEUE_PAGE`), timed together. These are the till's
//!   part of showing the queue; the app's cards and the window's rendering are timed by
//!   `pickup_window`.
//! - handover: `handovers` of the new orders paid online are found by their pickup code
//!   (`Till::find_pickup`), have every line picked and are marked ready through the till, all
//!   untimed; then each is handed over with `Till::hand_over_pickup`, one fresh order per
//!   timed call, with passive checkpoints from a second connection as the app runs them.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::{SystemClock, Till, demo, pickup_code};
use omnitill_protocol::pickup::{PickupLine, PickupOrder};
use omnitill_protocol::pull::Change;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::measure::Samples;
use crate::{feed, tills};

/// Untimed calls before each measurement.
const WARM_UP: usize = 5;
/// Untimed handovers before the timed ones.
const HANDOVER_WARM_UP: usize = 20;
/// The seed of the orders' random choices.
const SEED: u64 = 0x0C01_1EC7;

/// How much the till side of click-and-collect measures.
#[derive(Debug, Clone, Copy)]
pub struct QueuePlan {
    pub open_orders: usize,
    pub reads: usize,
    pub handovers: usize,
}

/// What the till side measured.
pub struct QueueResult {
    /// How long the pulled pages of all the orders took to apply.
    pub seeding: Duration,
    /// Orders the queue read returned.
    pub queue_len: usize,
    pub reads: Samples,
    /// Orders the tab read returned.
    pub tab_len: usize,
    pub tab_reads: Samples,
    pub finds: Samples,
    pub handovers: Samples,
}

/// Seeds a demo till under `work` with the plan's orders and times the queue and handovers.
pub fn measure(plan: &QueuePlan, cache_dir: &Path, work: &Path) -> Result<QueueResult> {
    if plan.handovers + HANDOVER_WARM_UP > plan.open_orders {
        bail!(
            "{} handovers need at least as many open orders",
            plan.handovers + HANDOVER_WARM_UP
        );
    }
    let template = tills::demo_template(cache_dir)?;
    let ledger = work.join("pickups-till.sqlite3");
    std::fs::copy(&template, &ledger)
        .with_context(|| format!("cannot copy {} to {}", template.display(), ledger.display()))?;
    let mut till = Till::open(&ledger, Arc::new(SystemClock))
        .with_context(|| format!("cannot open {}", ledger.display()))?;
    feed::enrol(&mut till)?;
    let skus = demo_skus(&till);
    let now_ms = till.clock().now().timestamp_millis();
    let orders = open_orders(plan.open_orders, &skus, now_ms);
    let changes = orders.iter().cloned().map(Change::Pickup).collect();
    let seeding = feed::apply(&mut till, changes, 0)?;

    let mut reads = Vec::with_capacity(plan.reads);
    let mut queue_len = 0;
    for index in 0..WARM_UP + plan.reads {
        let started = Instant::now();
        let queue = till.pickup_orders().context("reading the pickup queue")?;
        let elapsed = started.elapsed();
        queue_len = queue.len();
        black_box(queue);
        if index >= WARM_UP {
            reads.push(elapsed);
        }
    }
    if queue_len != plan.open_orders {
        bail!(
            "the queue shows {queue_len} orders, not the {} pulled",
            plan.open_orders
        );
    }

    let mut tab_reads = Vec::with_capacity(plan.reads);
    let mut tab_len = 0;
    for index in 0..WARM_UP + plan.reads {
        let started = Instant::now();
        let counts = till.pickup_counts().context("counting the queue's tabs")?;
        let tab = till
            .pickup_orders_in(&["new"])
            .context("reading the queue's new tab")?;
        let elapsed = started.elapsed();
        tab_len = tab.len();
        black_box((counts, tab));
        if index >= WARM_UP {
            tab_reads.push(elapsed);
        }
    }

    let (finds, handovers) = handovers(&mut till, &ledger, &orders, plan.handovers)?;
    Ok(QueueResult {
        seeding,
        queue_len,
        reads: Samples::from_unsorted(reads),
        tab_len,
        tab_reads: Samples::from_unsorted(tab_reads),
        finds,
        handovers,
    })
}

/// The demo catalog's sellable SKUs and their prices.
pub fn demo_skus(till: &Till) -> Vec<(String, i64)> {
    demo::records(till.clock().now())
        .into_iter()
        .filter(|record| record.active)
        .filter_map(|record| {
            let price = record.prices.last().map(|(_, price)| *price)?;
            Some((record.sku, price))
        })
        .collect()
}

/// The unique pickup code of order `index`: a step through the code space coprime with its
/// size, so no two orders share one.
fn code(index: usize) -> String {
    let alphabet = pickup_code::CODE_ALPHABET;
    let base = alphabet.len() as u64;
    let space = base.pow(pickup_code::CODE_LEN as u32);
    let mut value = (index as u64).wrapping_mul(7_919).wrapping_add(104_729) % space;
    let mut code = String::with_capacity(pickup_code::CODE_LEN);
    for _ in 0..pickup_code::CODE_LEN {
        code.push(alphabet[(value % base) as usize] as char);
        value /= base;
    }
    code
}

/// Whether order `index` is one of those handed over: every fourth order is new and paid
/// online, and the handovers take them in order.
fn for_handover(index: usize) -> bool {
    index.is_multiple_of(4)
}

/// `count` open orders of the store, as the cloud would send them, with lines of `skus`.
pub fn open_orders(count: usize, skus: &[(String, i64)], now_ms: i64) -> Vec<PickupOrder> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..count)
        .map(|index| open_order(&mut rng, index, skus, now_ms))
        .collect()
}

/// An open order of the store, as the cloud would send it.
fn open_order(rng: &mut StdRng, index: usize, skus: &[(String, i64)], now_ms: i64) -> PickupOrder {
    let handover = for_handover(index);
    let status = match (handover, rng.random_range(0..10)) {
        (true, _) | (false, 0..=4) => "new",
        (false, 5..=7) => "picking",
        (false, _) => "ready",
    };
    let payment = if handover || rng.random_ratio(4, 5) {
        "paid_online"
    } else {
        "pay_at_pickup"
    };
    let mut lines = Vec::new();
    for line_no in 1..=rng.random_range(1..=6) {
        let (sku, price) = &skus[rng.random_range(0..skus.len())];
        let quantity = rng.random_range(1..=3);
        let state = match status {
            "ready" => "picked",
            "picking" if rng.random_bool(0.5) => "picked",
            _ => "to_pick",
        };
        lines.push(PickupLine {
            line_no,
            sku: sku.clone(),
            quantity,
            total_minor: price * quantity,
            state: state.to_owned(),
            missing_reason: None,
            resolution: None,
            substitute_sku: None,
        });
    }
    let member = rng.random_ratio(2, 5);
    let created_at_ms = now_ms - rng.random_range(0..72 * 3_600_000);
    PickupOrder {
        id: uuid::Uuid::now_v7().to_string(),
        order_ref: format!("WEB-{:07}", 1_000_000 + index),
        store_id: feed::STORE_ID.to_owned(),
        code: code(index),
        status: status.to_owned(),
        payment: payment.to_owned(),
        member_id: member.then(|| uuid::Uuid::now_v7().to_string()),
        guest_name: (!member).then(|| "林小姐".to_owned()),
        contact_masked: (!member).then(|| format!("••••{:04}", rng.random_range(0..10_000))),
        currency: "TWD".to_owned(),
        total_minor: lines.iter().map(|line| line.total_minor).sum(),
        promised_at_ms: created_at_ms + 2 * 3_600_000,
        expires_at_ms: created_at_ms + 7 * 86_400_000,
        created_at_ms,
        updated_at_ms: created_at_ms,
        review: None,
        lines,
    }
}

/// Finds, picks and readies the handover orders untimed, then times each handover; answers
/// the find and handover timings.
fn handovers(
    till: &mut Till,
    ledger: &Path,
    orders: &[PickupOrder],
    handovers: usize,
) -> Result<(Samples, Samples)> {
    let session = tills::login_cashier(till)?;
    let chosen: Vec<&PickupOrder> = orders
        .iter()
        .enumerate()
        .filter(|(index, _)| for_handover(*index))
        .map(|(_, order)| order)
        .take(HANDOVER_WARM_UP + handovers)
        .collect();
    if chosen.len() < HANDOVER_WARM_UP + handovers {
        bail!(
            "only {} orders can be handed over, {} are needed",
            chosen.len(),
            HANDOVER_WARM_UP + handovers
        );
    }
    // The background checkpoints run while the till writes, as in the app.
    let _checkpoints = tills::Checkpoints::start(ledger)?;
    eprintln!(
        "pickups: picking and readying {} orders at the till (untimed)",
        chosen.len()
    );
    let mut finds = Vec::with_capacity(handovers);
    let mut ready = Vec::with_capacity(chosen.len());
    for (index, order) in chosen.iter().enumerate() {
        let started = Instant::now();
        let (found, verified) = till
            .find_pickup(&order.code)
            .with_context(|| format!("finding pickup order {}", order.code))?;
        let elapsed = started.elapsed();
        if index >= HANDOVER_WARM_UP {
            finds.push(elapsed);
        }
        for line in &found.lines {
            till.pick_pickup_line(&session, &found.id, line.line_no)
                .with_context(|| format!("picking line {} of {}", line.line_no, found.id))?;
        }
        let marked = till
            .mark_pickup_ready(&session, &found.id)
            .with_context(|| format!("marking {} ready", found.id))?;
        if marked.status != "ready" {
            bail!(
                "order {} is {} after marking it ready",
                found.id,
                marked.status
            );
        }
        ready.push((found.id, verified));
    }
    eprintln!("pickups: timing {handovers} handovers");
    let mut samples = Vec::with_capacity(handovers);
    for (index, (order_id, verified)) in ready.iter().enumerate() {
        let started = Instant::now();
        let handed = till
            .hand_over_pickup(&session, order_id, *verified, None)
            .with_context(|| format!("handing over {order_id}"))?;
        let elapsed = started.elapsed();
        if handed.status != "collected" {
            bail!("order {order_id} is {} after its handover", handed.status);
        }
        if index >= HANDOVER_WARM_UP {
            samples.push(elapsed);
        }
    }
    Ok((
        Samples::from_unsorted(finds),
        Samples::from_unsorted(samples),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickup_codes_are_valid_and_unique() {
        let codes: std::collections::BTreeSet<String> = (0..20_000).map(code).collect();
        assert_eq!(codes.len(), 20_000, "no two orders share a code");
        assert!(
            codes
                .iter()
                .all(|c| pickup_code::normalise_code(c).as_deref() == Some(c.as_str())),
            "every code is one the till accepts as typed"
        );
    }
}
