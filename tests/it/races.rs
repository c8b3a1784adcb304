//! Races: 16 real HTTP clients at once against a real cloud process, over many rounds, on
//! PostgreSQL (row locks) and on SQLite (one writer). Redemptions of one balance, uses of one
//! coupon (the e-shop redeeming while tills reserve it), points holds of one balance, and uses
//! of one enrolment code. Exactly the allowed number succeed; the rest get a 409 (a 400
//! `bad_enrolment_code` for a used code) with a message; the balance is always the sum of the
//! member's entries and never goes below zero by an online path.

use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;
use crate::support::parallel::{at_once, eshop_call, till_call};

const STORE: &str = "TPE-XINYI";
const CLIENTS: usize = 16;

fn rounds(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 15,
        Backend::Sqlite => 4,
    }
}

/// A new e-shop member with `points` (booked as a customer-service adjustment).
fn member_with(eshop: &EShop, phone: &str, points: i64) -> String {
    let member = eshop.sign_up(phone, "Race 賽跑");
    let id = member["id"].as_str().expect("a member id").to_owned();
    if points > 0 {
        top_up(eshop, &id, &format!("start-{phone}"), points);
    }
    id
}

fn top_up(eshop: &EShop, member_id: &str, reference: &str, points: i64) {
    let (status, body) = eshop.call(
        reqwest::Method::POST,
        &format!("/v1/members/{member_id}/adjust"),
        Some(json!({ "reference": reference, "points": points, "reason": "race test" })),
    );
    assert_eq!(status, 200, "an adjustment up is booked: {body}");
}

/// Asserts every refusal is a 409 with a message in words; returns how many succeeded.
fn successes(answers: &[(u16, Value)], success: u16, context: &str) -> usize {
    for (status, body) in answers {
        if *status != success {
            assert_eq!(
                *status, 409,
                "[{context}] a request that loses the race is refused with 409, not {status}: {body}"
            );
            let message = body["message"].as_str().unwrap_or("");
            assert!(
                message.len() > 10,
                "[{context}] a refusal says why in words: {body}"
            );
        }
    }
    answers.iter().filter(|(s, _)| *s == success).count()
}

fn redemptions_of_one_balance(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let member = member_with(&eshop, "0912000101", 0);
    for round in 0..rounds(backend) {
        top_up(&eshop, &member, &format!("round-{round}"), 1_000);
        let answers = at_once(CLIENTS, |client, index| {
            eshop_call(
                client,
                &cloud,
                &eshop.key,
                reqwest::Method::POST,
                &format!("/v1/members/{member}/redeem"),
                Some(json!({ "order_ref": format!("race-{round}-{index}"), "points": 100 })),
            )
        });
        let context = format!("{backend:?} round {round}");
        assert_eq!(
            successes(&answers, 200, &context),
            10,
            "[{context}] 1,000 points pay for exactly ten redemptions of 100: {answers:?}"
        );
        for (status, body) in &answers {
            if *status == 200 {
                assert!(
                    body["balance"].as_i64().expect("a balance") >= 0,
                    "[{context}] no accepted redemption leaves the balance below zero: {body}"
                );
            }
        }
        let balance = eshop.balance_as_sum_of_entries(&member, &context);
        assert_eq!(
            balance, 0,
            "[{context}] every point was taken once and no more"
        );
    }
    let redeemed = eshop
        .entries(&member)
        .iter()
        .filter(|e| e["kind"] == "redeem")
        .count();
    assert_eq!(
        redeemed,
        10 * rounds(backend),
        "each accepted redemption is one entry, and only those"
    );
}

#[test]
fn redemptions_of_one_balance_never_overdraw_on_postgres() {
    redemptions_of_one_balance(Backend::Postgres);
}

#[test]
fn redemptions_of_one_balance_never_overdraw_on_sqlite() {
    redemptions_of_one_balance(Backend::Sqlite);
}

fn uses_of_one_coupon(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let member = member_with(&eshop, "0912000202", 0);
    let till = cloud.enrol(STORE, "Race till");
    let token = till["token"].as_str().expect("a device token").to_owned();
    let now = chrono::Utc::now().timestamp_millis();
    for round in 0..rounds(backend) {
        let (status, issued) = eshop.call(
            reqwest::Method::POST,
            &format!("/v1/members/{member}/coupons"),
            Some(json!({
                "kind": "campaign", "title": format!("Race {round}"), "discount_kind": "amount",
                "value": 1_000, "valid_from_ms": now - 3_600_000, "valid_to_ms": now + 86_400_000,
            })),
        );
        assert_eq!(status, 201, "a coupon is issued: {issued}");
        let coupon = issued["coupon_id"]
            .as_str()
            .expect("a coupon id")
            .to_owned();
        let answers = at_once(CLIENTS, |client, index| {
            if index % 2 == 0 {
                eshop_call(
                    client,
                    &cloud,
                    &eshop.key,
                    reqwest::Method::POST,
                    &format!("/v1/coupons/{coupon}/redeem"),
                    Some(json!({ "order_ref": format!("coupon-{round}-{index}") })),
                )
            } else {
                till_call(
                    client,
                    &cloud,
                    Some(&token),
                    reqwest::Method::POST,
                    "/v1/till/coupons/holds",
                    Some(json!({
                        "coupon_id": coupon,
                        "sale_id": uuid::Uuid::now_v7().to_string(),
                    })),
                )
            }
        });
        let context = format!("{backend:?} round {round}");
        assert_eq!(
            successes(&answers, 204, &context),
            1,
            "[{context}] one coupon goes to exactly one order or sale: {answers:?}"
        );
    }
}

#[test]
fn one_coupon_goes_to_one_use_on_postgres() {
    uses_of_one_coupon(Backend::Postgres);
}

#[test]
fn one_coupon_goes_to_one_use_on_sqlite() {
    uses_of_one_coupon(Backend::Sqlite);
}

fn holds_of_one_balance(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let member = member_with(&eshop, "0912000303", 1_000);
    let till = cloud.enrol(STORE, "Race till");
    let token = till["token"].as_str().expect("a device token").to_owned();
    for round in 0..rounds(backend) {
        // Half the clients hold at tills, half redeem in the e-shop: one balance for both.
        let answers = at_once(CLIENTS, |client, index| {
            if index % 2 == 0 {
                let sale_id = uuid::Uuid::now_v7().to_string();
                let answer = till_call(
                    client,
                    &cloud,
                    Some(&token),
                    reqwest::Method::POST,
                    "/v1/till/points/holds",
                    Some(json!({ "sale_id": sale_id, "member_id": member, "points": 100 })),
                );
                (answer, Some(sale_id))
            } else {
                let answer = eshop_call(
                    client,
                    &cloud,
                    &eshop.key,
                    reqwest::Method::POST,
                    &format!("/v1/members/{member}/redeem"),
                    Some(json!({ "order_ref": format!("hold-{round}-{index}"), "points": 100 })),
                );
                (answer, None)
            }
        });
        let context = format!("{backend:?} round {round}");
        let statuses: Vec<(u16, Value)> = answers.iter().map(|(a, _)| a.clone()).collect();
        assert_eq!(
            successes(&statuses, 200, &context),
            10,
            "[{context}] holds and redemptions together take exactly the 1,000 available: {statuses:?}"
        );
        for ((status, body), sale) in &answers {
            if *status == 200 && sale.is_some() {
                assert!(
                    body["available_after"].as_i64().expect("available after") >= 0,
                    "[{context}] no hold leaves less than nothing available: {body}"
                );
            }
        }
        // Lift the holds (the carts were voided) and put back what the e-shop took.
        let mut redeemed = 0;
        for ((status, _), sale) in &answers {
            match sale {
                Some(sale_id) if *status == 200 => {
                    let (lifted, body) = till_call(
                        &crate::support::cloud::http(),
                        &cloud,
                        Some(&token),
                        reqwest::Method::DELETE,
                        &format!("/v1/till/points/holds/{sale_id}"),
                        None,
                    );
                    assert_eq!(lifted, 204, "[{context}] a hold is lifted: {body}");
                }
                None if *status == 200 => redeemed += 100,
                _ => {}
            }
        }
        let balance = eshop.balance_as_sum_of_entries(&member, &context);
        assert_eq!(
            balance,
            1_000 - redeemed,
            "[{context}] holds book nothing; redemptions book what they took"
        );
        if redeemed > 0 {
            top_up(&eshop, &member, &format!("refill-{round}"), redeemed);
        }
    }
}

#[test]
fn holds_of_one_balance_never_hold_more_than_it_has_on_postgres() {
    holds_of_one_balance(Backend::Postgres);
}

#[test]
fn holds_of_one_balance_never_hold_more_than_it_has_on_sqlite() {
    holds_of_one_balance(Backend::Sqlite);
}

fn uses_of_one_enrolment_code(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    for round in 0..rounds(backend) {
        let code = cloud.admin(&["enrolment-code", "--store", STORE]);
        let answers = at_once(CLIENTS, |client, index| {
            till_call(
                client,
                &cloud,
                None,
                reqwest::Method::POST,
                "/v1/enrol",
                Some(json!({ "code": code, "device_name": format!("Till {round}-{index}") })),
            )
        });
        let context = format!("{backend:?} round {round}");
        let enrolled = answers.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(
            enrolled, 1,
            "[{context}] one code enrols exactly one till: {answers:?}"
        );
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(
                (*status, body["code"].as_str()),
                (400, Some("bad_enrolment_code")),
                "[{context}] the other enrolments are refused as a used code: {body}"
            );
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("already used")),
                "[{context}] the refusal says the code was already used: {body}"
            );
        }
    }
}

#[test]
fn one_enrolment_code_enrols_one_till_on_postgres() {
    uses_of_one_enrolment_code(Backend::Postgres);
}

#[test]
fn one_enrolment_code_enrols_one_till_on_sqlite() {
    uses_of_one_enrolment_code(Backend::Sqlite);
}

/// Points expiry and birthday coupons, each in its own process, over the same members at once,
/// while e-shop clients adjust those members' points, on PostgreSQL: everything finishes,
/// PostgreSQL aborts no transaction as a deadlock, and each member ends with one expiry and one
/// birthday coupon. (Birthday coupons once ran in one transaction that held the feed's counter
/// while taking the next member's row, so an expiry or an e-shop call, which take a member's row
/// and then the counter, met it in a circle.)
#[test]
fn expiry_birthday_coupons_and_eshop_calls_at_once_never_deadlock_on_postgres() {
    const MEMBERS: usize = 200;
    // No demo members: every member the jobs meet is one of these, due both jobs.
    let mut cloud = CloudProcess::start_empty(Backend::Postgres);
    let eshop = EShop::new(&cloud);
    // 30 months on, the points booked today are past the brand's 24 months, and it is these
    // members' birthday month.
    let later = chrono::Utc::now()
        .checked_add_months(chrono::Months::new(30))
        .expect("a time 30 months on");
    let birthday = format!("1990-{}-15", later.format("%m"));
    let members: Vec<String> = (0..MEMBERS)
        .map(|index| {
            let (status, member) = eshop.call(
                reqwest::Method::POST,
                "/v1/members",
                Some(
                    json!({ "phone": format!("0913{index:06}"), "name": "Jobs 排程",
                             "consent_terms": true, "birthday": birthday }),
                ),
            );
            assert_eq!(status, 201, "the member signs up: {member}");
            let id = member["id"].as_str().expect("a member id").to_owned();
            top_up(&eshop, &id, &format!("old-{index}"), 100);
            id
        })
        .collect();
    let now = later.to_rfc3339();
    let job = |words: [&'static str; 2]| {
        let (database, now) = (cloud.database.clone(), now.clone());
        move || {
            std::process::Command::new(crate::support::cloud::binary("omnitill-cloud"))
                .args(["--database", &database, words[0], words[1], "--now", &now])
                .output()
                .expect("the cloud's command starts")
        }
    };
    let jobs_done = std::sync::atomic::AtomicUsize::new(0);
    let outputs = std::thread::scope(|scope| {
        // E-shop clients adjust the members the jobs reach last, until both jobs are done.
        for client_index in 0..CLIENTS / 2 {
            let (members, cloud, key, jobs_done) = (&members, &cloud, &eshop.key, &jobs_done);
            scope.spawn(move || {
                let client = crate::support::parallel::own_loopback_client();
                let mut round = 0;
                while jobs_done.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                    let member = &members[MEMBERS - 1 - (round * 7 + client_index) % 50];
                    let (status, body) = eshop_call(
                        &client,
                        cloud,
                        key,
                        reqwest::Method::POST,
                        &format!("/v1/members/{member}/adjust"),
                        Some(json!({ "reference": format!("busy-{client_index}-{round}"),
                                     "points": 1, "reason": "race test" })),
                    );
                    assert_eq!(
                        status, 200,
                        "an adjustment during the jobs is booked: {body}"
                    );
                    round += 1;
                }
            });
        }
        let run = |words| {
            let (job, jobs_done) = (job(words), &jobs_done);
            scope.spawn(move || {
                let output = job();
                jobs_done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                output
            })
        };
        let expiry = run(["points", "expire"]);
        let coupons = run(["coupons", "birthday"]);
        [
            ("points expire", expiry.join().expect("a thread")),
            ("coupons birthday", coupons.join().expect("a thread")),
        ]
    });
    for (job, output) in &outputs {
        assert!(
            output.status.success(),
            "{job} finishes while the other job and the e-shop run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for member in &members {
        let expiries = eshop
            .entries(member)
            .iter()
            .filter(|e| e["kind"] == "expire")
            .count();
        assert_eq!(expiries, 1, "the member's old points expire once");
        assert!(
            eshop.balance_as_sum_of_entries(member, "after the jobs") >= 0,
            "expiry takes unused points and makes no debt"
        );
        let (_, found) = eshop.call(reqwest::Method::GET, &format!("/v1/members/{member}"), None);
        let birthday_coupons = found["coupons"]
            .as_array()
            .expect("coupons")
            .iter()
            .filter(|c| c["kind"] == "birthday")
            .count();
        assert_eq!(
            birthday_coupons, 1,
            "one birthday coupon per member: {found}"
        );
    }
    assert_eq!(
        cloud.stop_and_count_deadlocks(),
        0,
        "the jobs and the e-shop take a member's row before the feed's counter, so none waits \
         on another in a circle"
    );
}
