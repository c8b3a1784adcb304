//! Two cloud processes on one PostgreSQL database serve one brand, as a brand does when it
//! outgrows one machine. Three tills (two stores) sync through the real engine, each round
//! through the other process; the e-shop's calls alternate between the processes, and every
//! round sixteen e-shop redemptions of one balance race, eight through each process. Then:
//! - the sync invariants: every till sale in the cloud once, stock equal everywhere, read
//!   through either process;
//! - the member invariants: the balance is the sum of the entries, equal to what the e-shop's
//!   answers add up to, never below zero, the same through both processes;
//! - the hourly jobs, run by two processes at once under a controlled clock for several
//!   periods: each job runs exactly once per period, and books its expiry and birthday coupon
//!   once.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use chrono::{Datelike, Months, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess, binary};
use crate::support::members::EShop;
use crate::support::parallel::{at_once, eshop_call};
use crate::support::tills::{self, SyncedTill, assert_invariants, cloud_stock};

const ROUNDS: usize = 8;

/// Points the till's ledger at `url` for its next sync rounds.
fn point_till_at(till: &SyncedTill, url: &str) {
    let mut engine = till.engine.lock().expect("the engine's ledger");
    engine
        .connection_mut()
        .execute("UPDATE sync_state SET cloud_url = ?1", [url])
        .expect("the till's cloud address changes");
}

fn redeem_from_both(
    clouds: [&CloudProcess; 2],
    key: &str,
    member: &str,
    round: usize,
) -> Vec<(u16, Value)> {
    at_once(16, |client, index| {
        eshop_call(
            client,
            clouds[index % 2],
            key,
            reqwest::Method::POST,
            &format!("/v1/members/{member}/redeem"),
            Some(json!({ "order_ref": format!("two-{round}-{index}"), "points": 100 })),
        )
    })
}

/// Runs `jobs run` in two processes at once with the clock at `at_ms`; returns their output.
fn jobs_in_two_processes(database: &str, at_ms: i64) -> [String; 2] {
    let start = || {
        Command::new(binary("omnitill-cloud"))
            .args(["--database", database, "--test-clock", "jobs", "run"])
            .env("OMNITILL_CLOUD_NOW_MS", at_ms.to_string())
            .output()
    };
    let (one, two) = std::thread::scope(|scope| {
        let one = scope.spawn(start);
        let two = scope.spawn(start);
        (one.join().expect("a thread"), two.join().expect("a thread"))
    });
    [one, two].map(|output| {
        let output = output.expect("jobs run starts");
        assert!(
            output.status.success(),
            "jobs run succeeds: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
}

#[test]
fn two_cloud_processes_on_one_postgresql_serve_one_brand() {
    let runtime = tills::runtime();
    let first = CloudProcess::start(Backend::Postgres);
    let second = first.another_process();
    let clouds = [&first, &second];
    first.admin(&[
        "store",
        "create",
        "--code",
        "TWO-B",
        "--name",
        "Second store",
    ]);
    let stores = ["TPE-XINYI", "TWO-B"];
    let eshop = EShop::new(&first);
    let key = eshop.key.clone();
    let mut initial: HashMap<&'static str, BTreeMap<String, i64>> = HashMap::new();
    for store in stores {
        initial.insert(store, cloud_stock(&first, &key, store));
    }
    let mut tills: Vec<SyncedTill> = [stores[0], stores[0], stores[1]]
        .into_iter()
        .map(|store| SyncedTill::enrol(&runtime, &first, store, false))
        .collect();
    let birthday_month = Utc::now()
        .checked_add_months(Months::new(30))
        .expect("a month 30 months on");
    let (status, member) = eshop.call(
        reqwest::Method::POST,
        "/v1/members",
        Some(
            json!({ "phone": "0912000501", "name": "兩朵雲 Two clouds", "consent_terms": true,
                     "birthday": format!("1990-{:02}-15", birthday_month.month()) }),
        ),
    );
    assert_eq!(status, 201, "the member signs up: {member}");
    let member = member["id"].as_str().expect("an id").to_owned();
    let mut expected = 0_i64;
    let mut rng = StdRng::seed_from_u64(2);
    for round in 0..ROUNDS {
        let context = format!("round {round}");
        // The e-shop tops the balance up through one process, then sixteen redemptions race
        // through both.
        let (status, booked) = eshop_call(
            &crate::support::cloud::http(),
            clouds[round % 2],
            &key,
            reqwest::Method::POST,
            &format!("/v1/members/{member}/adjust"),
            Some(json!({ "reference": format!("top-{round}"), "points": 1_000, "reason": "test" })),
        );
        assert_eq!(status, 200, "[{context}] the top-up is booked: {booked}");
        expected += 1_000;
        let answers = redeem_from_both(clouds, &key, &member, round);
        let accepted = answers.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(
            accepted, 10,
            "[{context}] two processes together accept exactly what the balance pays: {answers:?}"
        );
        assert!(
            answers.iter().all(|(s, _)| *s == 200 || *s == 409),
            "[{context}] the rest are conflicts: {answers:?}"
        );
        expected -= 1_000;
        // Each till sells and syncs, through the other process than last round.
        for (number, till) in tills.iter_mut().enumerate() {
            till.sell_randomly(&mut rng, 2);
            point_till_at(till, &clouds[(round + number) % 2].base_url);
            till.sync(&runtime)
                .unwrap_or_else(|e| panic!("[{context}] till {number} syncs: {e:?}"));
        }
        if let Some(receipt) = tills[0].sale_receipts().first().cloned() {
            tills[0].refund_one(&receipt);
        }
    }
    tills::converge(&runtime, &tills, 6, "two cloud processes");
    for cloud in clouds {
        assert_invariants(cloud, &key, &initial, &tills, &cloud.base_url);
        let view = EShop {
            cloud,
            key: key.clone(),
        };
        let balance = view.balance_as_sum_of_entries(&member, &cloud.base_url);
        assert_eq!(
            balance, expected,
            "[{}] the balance is what the e-shop's answers add up to",
            cloud.base_url
        );
        assert!(balance >= 0, "no online path takes the balance below zero");
    }

    // The hourly jobs, in two processes at once, 30 months on (the points are then past the
    // brand's 24 months, and it is the member's birthday month), for three hours in a row.
    eshop.call(
        reqwest::Method::POST,
        &format!("/v1/members/{member}/adjust"),
        Some(json!({ "reference": "to-expire", "points": 700, "reason": "test" })),
    );
    let base = birthday_month.timestamp_millis();
    for hour in 0..3 {
        let outputs = jobs_in_two_processes(&first.database, base + hour * 3_600_000);
        for job in ["expire_points", "birthday_coupons"] {
            let ran = outputs
                .iter()
                .flat_map(|o| o.lines())
                .filter(|l| l.starts_with(job) && l.contains(": ran"))
                .count();
            let skipped = outputs
                .iter()
                .flat_map(|o| o.lines())
                .filter(|l| l.starts_with(job) && l.contains(": skipped"))
                .count();
            assert_eq!(
                (ran, skipped),
                (1, 1),
                "hour {hour}: {job} runs in exactly one of two processes: {outputs:?}"
            );
        }
    }
    let entries = eshop.entries(&member);
    let expired: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "expire").collect();
    assert_eq!(
        expired.len(),
        1,
        "the points expire once, whichever process ran the job: {expired:?}"
    );
    assert_eq!(
        eshop.balance_as_sum_of_entries(&member, "after the jobs"),
        0,
        "everything earned 30 months before expired, and no more"
    );
    let (_, found) = eshop.call(reqwest::Method::GET, &format!("/v1/members/{member}"), None);
    let coupons = found["coupons"].as_array().expect("coupons");
    let birthday = coupons.iter().filter(|c| c["kind"] == "birthday").count();
    // The coupon is valid in the birthday month 30 months on, so it is listed as usable.
    assert_eq!(
        birthday, 1,
        "one birthday coupon, however many processes ran: {coupons:?}"
    );
}
