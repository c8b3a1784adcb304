//! Pickup orders placed through the e-shop API at once: `CLIENTS` clients `POST /v1/pickups`
//! to one cloud process on PostgreSQL (a database made for the run, the demo brand seeded).
//!
//! Each client places `orders_each` guest orders one after another, for either demo store,
//! each with one to four different demo products, paid online or at pickup, under its own
//! `order_ref`; all clients start together from a barrier. Every request's latency is a
//! sample; the rate is the orders placed divided by the wall time from the start to the last
//! answer. An order not answered 201 is counted as failed and marks the rate row missed.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use omnitill_core::{Clock, SystemClock, demo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::cloud::{Cloud, Postgres};
use crate::measure::Samples;

/// Clients at once.
pub const CLIENTS: usize = 16;
/// Orders each client places untimed first, so connections and caches are warm.
const WARM_UP_EACH: usize = 2;
/// The demo stores' codes.
const STORES: [&str; 2] = ["TPE-XINYI", "TPE-DAAN"];

/// One request's answer: its status (0 when none came), latency, and why it failed.
struct Answer {
    status: u16,
    took: Duration,
    why: Option<String>,
}

/// What the load measured.
pub struct PlaceResult {
    pub samples: Samples,
    pub placed: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// The first refusal, to say why orders failed.
    pub first_failure: Option<String>,
}

/// Places `CLIENTS * orders_each` orders against a fresh PostgreSQL cloud.
pub fn measure(binary: &Path, work: &Path, orders_each: usize) -> Result<PlaceResult> {
    let database = Postgres::create()?;
    let cloud = Cloud::start(binary, &database.url, true, &work.join("pickups-api.log"))?;
    let key = cloud.admin(&[
        "api-key",
        "create",
        "--name",
        "bench e-shop pickups",
        "--scope",
        "read,orders",
    ])?;
    omnitill_sync::install_tls_provider();
    let skus: Vec<(String, i64)> = demo::records(SystemClock.now())
        .into_iter()
        .filter(|record| record.active)
        .filter_map(|record| Some((record.sku, record.prices.last()?.1)))
        .collect();
    if skus.len() < 4 {
        bail!("the demo catalog has only {} sellable products", skus.len());
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_millis();
    let now_ms = i64::try_from(now_ms)?;

    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let (answers, elapsed) = std::thread::scope(|scope| -> Result<(Vec<Answer>, Duration)> {
        let mut handles = Vec::with_capacity(CLIENTS);
        for client_no in 0..CLIENTS {
            let start = start.clone();
            let (url, key, skus) = (&cloud.base_url, &key, &skus);
            handles.push(scope.spawn(move || -> Result<Vec<Answer>> {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .context("an HTTP client")?;
                let mut rng = StdRng::seed_from_u64(client_no as u64);
                let mut place = |n: usize| -> Answer {
                    let body = order(&mut rng, skus, client_no, n, now_ms);
                    let began = Instant::now();
                    let answer = client
                        .post(format!("{url}/v1/pickups"))
                        .bearer_auth(key)
                        .json(&body)
                        .send();
                    let took = began.elapsed();
                    let (status, why) = match answer {
                        Ok(response) if response.status().as_u16() == 201 => (201, None),
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let text = response.text().unwrap_or_default();
                            (status, Some(format!("{status} {text}")))
                        }
                        Err(e) => (0, Some(format!("no answer: {e}"))),
                    };
                    Answer { status, took, why }
                };
                let mut warm_up_failure = None;
                for n in 0..WARM_UP_EACH {
                    let answer = place(n);
                    if answer.status != 201 {
                        warm_up_failure = answer.why;
                    }
                }
                // Every client reaches the barrier, or the others would wait for ever.
                start.wait();
                if let Some(why) = warm_up_failure {
                    bail!("a warm-up order was refused: {why}");
                }
                Ok((WARM_UP_EACH..WARM_UP_EACH + orders_each)
                    .map(&mut place)
                    .collect())
            }));
        }
        start.wait();
        let began = Instant::now();
        let mut answers = Vec::with_capacity(CLIENTS * orders_each);
        for handle in handles {
            answers.extend(
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a client thread panicked"))??,
            );
        }
        Ok((answers, began.elapsed()))
    })?;
    let placed = answers.iter().filter(|a| a.status == 201).count();
    let first_failure = answers.iter().find_map(|a| a.why.clone());
    drop(cloud);
    drop(database);
    Ok(PlaceResult {
        samples: Samples::from_unsorted(answers.iter().map(|a| a.took).collect()),
        placed,
        failed: answers.len() - placed,
        elapsed,
        first_failure,
    })
}

/// Order `n` of client `client_no`: a guest's order of one to four different demo products.
fn order(
    rng: &mut impl Rng,
    skus: &[(String, i64)],
    client_no: usize,
    n: usize,
    now_ms: i64,
) -> Value {
    let count = rng.random_range(1..=4);
    let mut chosen: Vec<usize> = Vec::with_capacity(count);
    while chosen.len() < count {
        let index = rng.random_range(0..skus.len());
        if !chosen.contains(&index) {
            chosen.push(index);
        }
    }
    let lines: Vec<Value> = chosen
        .iter()
        .map(|&index| {
            let (sku, price) = &skus[index];
            let quantity = rng.random_range(1..=2_i64);
            json!({ "sku": sku, "quantity": quantity, "total_minor": price * quantity })
        })
        .collect();
    json!({
        "order_ref": format!("BENCH-{client_no:02}-{n:06}"),
        "store": STORES[rng.random_range(0..STORES.len())],
        "payment": if rng.random_ratio(4, 5) { "paid_online" } else { "pay_at_pickup" },
        "guest_name": "林小姐",
        "guest_contact": format!("guest-{client_no}-{n}@example.com"),
        "currency": "TWD",
        "promised_at_ms": now_ms + 2 * 3_600_000,
        "lines": lines,
    })
}
