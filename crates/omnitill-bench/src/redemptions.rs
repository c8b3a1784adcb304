//! The e-shop redemption rows: 16 clients redeem one member's points at once, against one cloud
//! process on PostgreSQL and then against two processes on the same database (the clients
//! alternate between them), the load a busy e-shop puts on one popular balance.
//!
//! Each round tops the balance up by 1,000 points, then releases the 16 clients together from a
//! barrier; each asks for 100 points under its own order reference, so exactly ten are
//! accepted. Every request's latency is a sample; the rate is requests answered per second of
//! the rounds' wall time. After the run the member's balance must be the sum of their entries,
//! never below zero, and the accepted redemptions exactly what the top-ups paid for: a row is
//! marked missed when an accepted redemption is not backed by points.

use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cloud::{Cloud, Postgres};
use crate::measure::Samples;
use crate::table::{Table, Verdict, duration_parts, thousands};

/// Clients at once, as the issue asks.
pub const CLIENTS: usize = 16;
/// Points each round adds and each client asks for.
const TOP_UP: i64 = 1_000;
const ASK: i64 = 100;

/// What one load measured.
struct Load {
    samples: Samples,
    requests: usize,
    accepted: usize,
    elapsed: Duration,
    /// Whether every accepted redemption was backed by points (see the module header).
    backed: bool,
}

/// Adds the redemption rows for `rounds` rounds on one process and on two.
pub fn rows(table: &mut Table, rounds: usize, binary: &Path, work: &Path) {
    eprintln!("redemptions: {CLIENTS} e-shop clients on one balance, PostgreSQL, {rounds} rounds");
    let one = measure(rounds, binary, work, 1);
    let two = measure(rounds, binary, work, 2);
    for (processes, load) in [(1, one), (2, two)] {
        let label = format!(
            "e-shop redemptions on one member, {CLIENTS} clients, PostgreSQL, {processes} cloud process{}",
            if processes == 1 { "" } else { "es" }
        );
        match load {
            Ok(load) => {
                let rate = load.requests as f64 / load.elapsed.as_secs_f64().max(1e-9);
                table.row(
                    format!("{label}: rate"),
                    thousands(rate.round() as u64),
                    "requests/s",
                    "report; every accepted one backed by points",
                    Verdict::from_check(load.backed),
                );
                for (name, duration) in [("p50", load.samples.p50()), ("p99", load.samples.p99())] {
                    let (value, unit) = duration_parts(duration);
                    table.row(
                        format!("{label}: {name}"),
                        value,
                        unit,
                        "report",
                        Verdict::Info,
                    );
                }
                eprintln!(
                    "redemptions: {processes} process(es): {} requests, {} accepted, backed: {}",
                    load.requests, load.accepted, load.backed
                );
            }
            Err(e) => {
                eprintln!("redemptions: the {processes}-process load failed: {e:#}");
                table.row(
                    format!("{label}: rate"),
                    "failed",
                    "",
                    "report",
                    Verdict::Miss,
                );
            }
        }
    }
}

fn measure(rounds: usize, binary: &Path, work: &Path, processes: usize) -> Result<Load> {
    let database = Postgres::create()?;
    let first = Cloud::start(
        binary,
        &database.url,
        true,
        &work.join(format!("redeem-{processes}-a.log")),
    )?;
    let second = if processes == 2 {
        Some(Cloud::start(
            binary,
            &database.url,
            false,
            &work.join(format!("redeem-{processes}-b.log")),
        )?)
    } else {
        None
    };
    let urls: Vec<String> = [Some(&first), second.as_ref()]
        .into_iter()
        .flatten()
        .map(|cloud| cloud.base_url.clone())
        .collect();
    let key = first.admin(&[
        "api-key",
        "create",
        "--name",
        "bench e-shop",
        "--scope",
        "read,loyalty,admin",
    ])?;
    omnitill_sync::install_tls_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("an HTTP client")?;
    let call = |client: &reqwest::blocking::Client, url: &str, path: &str, body: Value| {
        let response = client
            .post(format!("{url}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .context("the cloud answers")?;
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        anyhow::Ok((status, body))
    };
    let (status, member) = call(
        &client,
        &urls[0],
        "/v1/members",
        // The demo brand's members have phones; an e-mail of its own cannot collide.
        json!({ "email": format!("bench-{}@example.com", uuid::Uuid::now_v7().simple()),
                "name": "Bench 基準", "consent_terms": true }),
    )?;
    if status != 201 {
        bail!("the member could not sign up: {status} {member}");
    }
    let member = member["id"].as_str().context("a member id")?.to_owned();
    let redeem_path = format!("/v1/members/{member}/redeem");

    // The clients live for the whole load; two barriers start and end each round.
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let end = Arc::new(Barrier::new(CLIENTS + 1));
    let answers: Arc<Mutex<Vec<(u16, Duration)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|scope| -> Result<()> {
        for index in 0..CLIENTS {
            let (start, end, answers) = (start.clone(), end.clone(), answers.clone());
            let (url, path, call) = (&urls[index % urls.len()], &redeem_path, &call);
            scope.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for round in 0..rounds {
                    start.wait();
                    let began = Instant::now();
                    let body =
                        json!({ "order_ref": format!("bench-{round}-{index}"), "points": ASK });
                    let status = call(&client, url, path, body).map_or(0, |(status, _)| status);
                    let took = began.elapsed();
                    if let Ok(mut answers) = answers.lock() {
                        answers.push((status, took));
                    }
                    end.wait();
                }
            });
        }
        for round in 0..rounds {
            let (status, body) = call(
                &client,
                &urls[round % urls.len()],
                &format!("/v1/members/{member}/adjust"),
                json!({ "reference": format!("top-{round}"), "points": TOP_UP, "reason": "bench" }),
            )?;
            if status != 200 {
                bail!("a top-up failed: {status} {body}");
            }
            let began = Instant::now();
            start.wait();
            end.wait();
            elapsed += began.elapsed();
        }
        Ok(())
    })?;
    let answers = answers
        .lock()
        .map_err(|_| anyhow::anyhow!("a client thread panicked"))?
        .clone();
    let accepted = answers.iter().filter(|(status, _)| *status == 200).count();
    let failed = answers
        .iter()
        .filter(|(status, _)| !matches!(status, 200 | 409))
        .count();
    let balance = balance_as_sum_of_entries(&client, &urls[0], &key, &member)?;
    let paid = i64::try_from(rounds)?.saturating_mul(TOP_UP);
    let taken = i64::try_from(accepted)?.saturating_mul(ASK);
    let backed = failed == 0 && balance >= 0 && balance == paid - taken && taken == paid;
    Ok(Load {
        samples: Samples::from_unsorted(answers.iter().map(|(_, took)| *took).collect()),
        requests: answers.len(),
        accepted,
        elapsed,
        backed,
    })
}

/// The member's balance, after checking it is the sum of their entries (else an error).
fn balance_as_sum_of_entries(
    client: &reqwest::blocking::Client,
    url: &str,
    key: &str,
    member: &str,
) -> Result<i64> {
    let get = |path: String| -> Result<Value> {
        Ok(client
            .get(format!("{url}{path}"))
            .bearer_auth(key)
            .send()?
            .json()?)
    };
    let profile = get(format!("/v1/members/{member}"))?;
    let history = get(format!("/v1/members/{member}/history?limit=1000"))?;
    let balance = profile["balance"].as_i64().context("a balance")?;
    let entries = history["points"].as_array().context("entries")?;
    if entries.len() >= 1_000 {
        bail!("more entries than one history page holds; use fewer rounds");
    }
    let sum: i64 = entries.iter().filter_map(|e| e["points"].as_i64()).sum();
    if sum != balance {
        bail!("the balance {balance} is not the sum of the entries {sum}");
    }
    Ok(balance)
}
