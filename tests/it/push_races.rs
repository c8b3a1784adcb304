//! Pushes at the same moment from many tills, through a real cloud process on SQLite and
//! PostgreSQL: 16 tills refunding lines of one sale accept exactly what is left; 16 tills
//! selling the same items in different orders all apply, move stock by exactly what they sold,
//! and never deadlock on PostgreSQL; and on SQLite, where pushes waiting for the writer share
//! one transaction (`push/group_commit.rs`), a push that fails keeps its own answer and writes
//! nothing while the others of its group apply, and pushes that collide inside one group are
//! refused alone. Taking a push's stock locks up front writes
//! nothing: a refused push leaves no level behind.

use serde_json::{Value, json};

use crate::hostile_push::{Pusher, fresh_id, push_raw};
use crate::support::cloud::{Backend, CloudProcess};

/// A device enrolled over the wire, pushing by hand under its own id and prefix.
struct WireTill {
    pusher: Pusher,
    device_id: String,
    prefix: String,
}

impl WireTill {
    fn enrol(cloud: &CloudProcess, store: &str) -> WireTill {
        let enrolled = cloud.enrol(store, "Race till");
        WireTill {
            pusher: Pusher {
                token: enrolled["token"].as_str().expect("a token").to_owned(),
                next_seq: 1,
            },
            device_id: enrolled["device_id"].as_str().expect("a device").to_owned(),
            prefix: enrolled["receipt_prefix"]
                .as_str()
                .expect("a prefix")
                .to_owned(),
        }
    }
}

/// Lines of the race's sales: (sku, quantity); each at NT$10.00, 5 % inclusive.
const RACE_LINES: [(&str, i64); 4] = [("TEA-A", 2), ("TEA-B", 3), ("TEA-C", 1), ("TEA-D", 4)];

fn race_sale(till: &WireTill, sale_id: &str, number: i64) -> Value {
    race_sale_of(till, sale_id, number, &RACE_LINES)
}

/// A card sale of `race_lines` (sku, quantity) in that order, each at NT$10.00.
fn race_sale_of(till: &WireTill, sale_id: &str, number: i64, race_lines: &[(&str, i64)]) -> Value {
    let lines: Vec<Value> = race_lines
        .iter()
        .enumerate()
        .map(|(index, (sku, quantity))| {
            let total = 1_000 * quantity;
            json!({ "line_no": index + 1, "sku": sku, "quantity": quantity,
                    "unit_price_minor": 1_000, "discount_minor": 0, "tax_rate_bp": 500,
                    "tax_minor": omnitill_core::money::inclusive_tax(total, 500),
                    "total_minor": total })
        })
        .collect();
    let total: i64 = race_lines.iter().map(|(_, q)| 1_000 * q).sum();
    let tax: i64 = race_lines
        .iter()
        .map(|(_, q)| omnitill_core::money::inclusive_tax(1_000 * q, 500))
        .sum();
    json!({ "sale_id": sale_id, "receipt_no": format!("{}-{number:06}", till.prefix),
        "device_id": till.device_id, "staff_id": "1001", "created_at_ms": 1_733_000_000_000_i64,
        "currency": "TWD", "tax_mode": "inclusive", "subtotal_minor": total, "discount_minor": 0,
        "tax_minor": tax, "rounding_minor": 0, "total_minor": total, "lines": lines,
        "tenders": [{ "kind": "card", "amount_minor": total, "reference": "RACE" }] })
}

/// A refund of the whole of line `line_no` of the race sale `sale_id`.
fn race_refund(till: &WireTill, sale_id: &str, line_no: usize, number: i64) -> Value {
    let (sku, quantity) = RACE_LINES[line_no - 1];
    let total = 1_000 * quantity;
    let tax = omnitill_core::money::inclusive_tax(total, 500);
    json!({ "refund_id": fresh_id(), "receipt_no": format!("{}-{number:06}", till.prefix),
        "sale_id": sale_id, "device_id": till.device_id, "staff_id": "1001", "approved_by": "9001",
        "created_at_ms": 1_733_000_000_001_i64, "tax_minor": tax, "rounding_minor": 0,
        "total_minor": total,
        "lines": [{ "line_no": line_no, "sku": sku, "quantity": quantity, "tax_minor": tax,
                    "total_minor": total }],
        "tenders": [{ "kind": "card", "amount_minor": total, "reference": "RACE" }] })
}

/// Rounds of 16 tills refunding lines of one sale at once (four asking for each line): exactly
/// one refund per line is accepted, whichever commits first; the rest are refused with what
/// is left.
fn refund_race(backend: Backend, rounds: usize) {
    const CLIENTS: usize = 16;
    let cloud = CloudProcess::start(backend);
    let mut seller = WireTill::enrol(&cloud, "TPE-XINYI");
    let mut tills: Vec<WireTill> = (0..CLIENTS)
        .map(|_| WireTill::enrol(&cloud, "TPE-XINYI"))
        .collect();
    let mut number = 0_i64;
    for round in 0..rounds {
        let sale_id = fresh_id();
        number += 1;
        let sale = race_sale(&seller, &sale_id, number);
        let outcome = seller.pusher.push(
            &cloud,
            &[(fresh_id(), "sale.completed.v1".to_owned(), sale)],
        );
        assert_eq!(
            outcome[0].0, "applied",
            "round {round}: the sale applies: {outcome:?}"
        );
        let barrier = std::sync::Barrier::new(CLIENTS);
        let outcomes: Vec<(usize, String, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = tills
                .iter_mut()
                .enumerate()
                .map(|(index, till)| {
                    let line_no = index % RACE_LINES.len() + 1;
                    let refund = race_refund(till, &sale_id, line_no, 1_000 + round as i64);
                    let barrier = &barrier;
                    let cloud = &cloud;
                    scope.spawn(move || {
                        barrier.wait();
                        let outcome = till.pusher.push(
                            cloud,
                            &[(fresh_id(), "refund.completed.v1".to_owned(), refund)],
                        );
                        (line_no, outcome[0].0.clone(), outcome[0].1.clone())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a refunding client"))
                .collect()
        });
        for line_no in 1..=RACE_LINES.len() {
            let applied = outcomes
                .iter()
                .filter(|(line, status, _)| *line == line_no && status == "applied")
                .count();
            assert_eq!(
                applied, 1,
                "round {round}: line {line_no} is refunded exactly once across {CLIENTS} \
                 concurrent refunds: {outcomes:?}"
            );
        }
        for (_, status, reason) in &outcomes {
            assert!(
                status == "applied" || (status == "rejected" && reason.contains("left")),
                "round {round}: a refused refund says what is left: {status} {reason}"
            );
        }
    }
}

#[test]
fn concurrent_refunds_from_many_tills_accept_exactly_what_is_left_on_postgresql() {
    refund_race(Backend::Postgres, 25);
}

#[test]
fn concurrent_refunds_from_many_tills_accept_exactly_what_is_left_on_sqlite() {
    refund_race(Backend::Sqlite, 3);
}

/// Rounds of 16 tills pushing two sales each at once, whose lines name the same SKUs in
/// different orders: every sale applies, the store's stock moves by exactly what was sold, and
/// on PostgreSQL no transaction deadlocked (a push locks the level rows it moves in SKU order
/// before it writes; before that, many tills at once deadlocked on them every second).
fn shared_skus_race(backend: Backend, rounds: usize) {
    const CLIENTS: usize = 16;
    let mut cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let level = |cloud: &CloudProcess, sku: &str| -> i64 {
        let levels = cloud.get_with_key(&key, &format!("/v1/stores/TPE-XINYI/stock?sku={sku}"));
        levels
            .as_array()
            .and_then(|rows| rows.first())
            .and_then(|row| row["on_hand"].as_i64())
            .unwrap_or(0)
    };
    let before: Vec<i64> = RACE_LINES
        .iter()
        .map(|(sku, _)| level(&cloud, sku))
        .collect();
    let mut tills: Vec<WireTill> = (0..CLIENTS)
        .map(|_| WireTill::enrol(&cloud, "TPE-XINYI"))
        .collect();
    for round in 0..rounds {
        let barrier = std::sync::Barrier::new(CLIENTS);
        let outcomes: Vec<Vec<(String, String)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = tills
                .iter_mut()
                .enumerate()
                .map(|(index, till)| {
                    // Each till names the SKUs in an order of its own.
                    let mut lines = RACE_LINES.to_vec();
                    lines.rotate_left(index % RACE_LINES.len());
                    if index % 2 == 1 {
                        lines.reverse();
                    }
                    let number = (round * 2) as i64 + 1;
                    let ops: Vec<(String, String, Value)> = (0..2)
                        .map(|n| {
                            let sale = race_sale_of(till, &fresh_id(), number + n, &lines);
                            (fresh_id(), "sale.completed.v1".to_owned(), sale)
                        })
                        .collect();
                    let (barrier, cloud) = (&barrier, &cloud);
                    scope.spawn(move || {
                        barrier.wait();
                        till.pusher.push(cloud, &ops)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a pushing client"))
                .collect()
        });
        for outcome in outcomes.iter().flatten() {
            assert_eq!(
                outcome.0, "applied",
                "round {round}: every sale of every till applies: {outcomes:?}"
            );
        }
    }
    let sales = (CLIENTS * 2 * rounds) as i64;
    for ((sku, quantity), before) in RACE_LINES.iter().zip(before) {
        assert_eq!(
            level(&cloud, sku),
            before - quantity * sales,
            "{sku}: the stock moved by exactly what {sales} sales sold"
        );
    }
    assert_eq!(
        cloud.stop_and_count_deadlocks(),
        0,
        "no push deadlocked: every writer takes stock level rows in one order"
    );
}

#[test]
fn many_tills_selling_the_same_items_at_once_never_deadlock_on_postgresql() {
    shared_skus_race(Backend::Postgres, 8);
}

#[test]
fn many_tills_selling_the_same_items_at_once_all_apply_on_sqlite() {
    shared_skus_race(Backend::Sqlite, 2);
}

/// A SQLite cloud, an e-shop key to read its stock, and `tills` tills of TPE-XINYI enrolled
/// over the wire.
fn sqlite_race_store(tills: usize) -> (CloudProcess, String, Vec<WireTill>) {
    let cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let tills = (0..tills)
        .map(|_| WireTill::enrol(&cloud, "TPE-XINYI"))
        .collect();
    (cloud, key, tills)
}

/// The on-hand level of `sku` at TPE-XINYI, read through the e-shop API (0 when it has none).
fn store_level(cloud: &CloudProcess, key: &str, sku: &str) -> i64 {
    cloud
        .get_with_key(key, &format!("/v1/stores/TPE-XINYI/stock?sku={sku}"))
        .as_array()
        .and_then(|rows| rows.first())
        .and_then(|row| row["on_hand"].as_i64())
        .unwrap_or(0)
}

/// An operation as `push_raw` sends it: op id, op type, payload.
type RawOp = (String, String, Value);

/// One push of plain sales as a till sends it: (HTTP status, body).
fn push_sales(cloud: &CloudProcess, token: &str, first_seq: i64, sales: &[Value]) -> (u16, Value) {
    let ops: Vec<RawOp> = sales
        .iter()
        .map(|sale| (fresh_id(), "sale.completed.v1".to_owned(), sale.clone()))
        .collect();
    push_raw(cloud, token, first_seq, &ops)
}

/// Sixteen tills push at once on SQLite, so their pushes share groups; every other one skips
/// a seq. Each skipping push is answered 409 `sequence_gap` and writes nothing, each other push
/// applies whole, and the stock moves by exactly the applied sales. The skipping tills then
/// push in order and apply.
#[test]
fn a_push_that_fails_in_a_group_keeps_its_own_answer_and_writes_nothing_on_sqlite() {
    const CLIENTS: usize = 16;
    let (cloud, key, tills) = sqlite_race_store(CLIENTS);
    let level = |sku: &str| store_level(&cloud, &key, sku);
    let before: Vec<i64> = RACE_LINES.iter().map(|(sku, _)| level(sku)).collect();
    let sales: Vec<Value> = tills
        .iter()
        .map(|till| race_sale(till, &fresh_id(), 1))
        .collect();
    let barrier = std::sync::Barrier::new(CLIENTS);
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = tills
            .iter()
            .zip(&sales)
            .enumerate()
            .map(|(index, (till, sale))| {
                let (barrier, cloud) = (&barrier, &cloud);
                let first_seq = if index % 2 == 0 { 1 } else { 5 };
                scope.spawn(move || {
                    barrier.wait();
                    push_sales(
                        cloud,
                        &till.pusher.token,
                        first_seq,
                        std::slice::from_ref(sale),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a pushing client"))
            .collect()
    });
    for (index, (status, body)) in answers.iter().enumerate() {
        if index % 2 == 0 {
            assert_eq!(
                (*status, body["outcomes"][0]["status"].as_str()),
                (200, Some("applied")),
                "till {index}'s push in order applies, whatever its group held: {body}"
            );
        } else {
            assert_eq!(
                (*status, body["code"].as_str()),
                (409, Some("sequence_gap")),
                "till {index}'s push that skips a seq is refused alone: {body}"
            );
        }
    }
    let applied = (CLIENTS / 2) as i64;
    for ((sku, quantity), before) in RACE_LINES.iter().zip(&before) {
        assert_eq!(
            level(sku),
            before - quantity * applied,
            "{sku}: only the {applied} applied sales moved stock; the refused pushes wrote nothing"
        );
    }
    for (index, (till, sale)) in tills.iter().zip(&sales).enumerate().skip(1).step_by(2) {
        let (status, body) = push_sales(&cloud, &till.pusher.token, 1, std::slice::from_ref(sale));
        assert_eq!(
            (status, body["outcomes"][0]["status"].as_str()),
            (200, Some("applied")),
            "till {index}, refused before, pushes in order and applies: {body}"
        );
    }
    for ((sku, quantity), before) in RACE_LINES.iter().zip(&before) {
        assert_eq!(
            level(sku),
            before - quantity * CLIENTS as i64,
            "{sku}: every till's sale counted once"
        );
    }
}

/// Sixteen tills whose pushes share groups on SQLite, where a group's pushes of new plain sales
/// are applied together (`push/plain_group.rs`), and some of them collide inside one group:
/// two tills with one sale id, two with one operation id, one with a sale id recorded before,
/// and one till sending the same push twice. Each collision is refused alone (or answered as a
/// duplicate), every other sale applies, and stock moves by exactly the sales applied.
#[test]
fn colliding_pushes_in_one_group_are_refused_alone_and_nothing_counts_twice_on_sqlite() {
    const CLIENTS: usize = 16;
    const ROUNDS: i64 = 3;
    let (cloud, key, tills) = sqlite_race_store(CLIENTS);
    let level = |sku: &str| store_level(&cloud, &key, sku);
    let before: Vec<i64> = RACE_LINES.iter().map(|(sku, _)| level(sku)).collect();
    // A first sale each, alone: the cloud learns each till's identity.
    let first_sales: Vec<String> = tills
        .iter()
        .map(|till| {
            let sale_id = fresh_id();
            let (status, body) = push_sales(
                &cloud,
                &till.pusher.token,
                1,
                &[race_sale(till, &sale_id, 1)],
            );
            assert_eq!(status, 200, "a till's first sale applies: {body}");
            sale_id
        })
        .collect();
    let mut applied = CLIENTS as i64;
    for round in 0..ROUNDS {
        let seq = 2 + round;
        let shared_sale = fresh_id();
        let shared_op = fresh_id();
        // What each till pushes at once: (op id, sale id), and how many times.
        let pushes: Vec<(String, String, usize)> = (0..CLIENTS)
            .map(|index| match index {
                0 | 1 => (fresh_id(), shared_sale.clone(), 1),
                2 | 3 => (shared_op.clone(), fresh_id(), 1),
                4 => (fresh_id(), first_sales[5].clone(), 1),
                5 => (fresh_id(), fresh_id(), 2),
                _ => (fresh_id(), fresh_id(), 1),
            })
            .collect();
        // (till, its operations): till 5's push twice.
        let sends: Vec<(usize, Vec<RawOp>)> = tills
            .iter()
            .zip(&pushes)
            .enumerate()
            .flat_map(|(index, (till, (op_id, sale_id, times)))| {
                let op = (
                    op_id.clone(),
                    "sale.completed.v1".to_owned(),
                    race_sale(till, sale_id, seq),
                );
                std::iter::repeat_n((index, vec![op]), *times)
            })
            .collect();
        let barrier = std::sync::Barrier::new(sends.len());
        let answers: Vec<(usize, u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = sends
                .iter()
                .map(|(index, ops)| {
                    let (barrier, cloud, till) = (&barrier, &cloud, &tills[*index]);
                    scope.spawn(move || {
                        barrier.wait();
                        let (status, body) = push_raw(cloud, &till.pusher.token, seq, ops);
                        (*index, status, body)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a pushing client"))
                .collect()
        });
        let status_of = |index: usize| -> Vec<String> {
            answers
                .iter()
                .filter(|(till, _, _)| *till == index)
                .map(|(_, status, body)| {
                    assert_eq!(
                        *status, 200,
                        "round {round}: till {index}'s push is answered: {body}"
                    );
                    body["outcomes"][0]["status"]
                        .as_str()
                        .unwrap_or("none")
                        .to_owned()
                })
                .collect()
        };
        for pair in [[0, 1], [2, 3]] {
            let mut statuses: Vec<String> = pair.iter().flat_map(|i| status_of(*i)).collect();
            statuses.sort();
            assert_eq!(
                statuses,
                ["applied", "rejected"],
                "round {round}: of tills {pair:?} sharing an id, one applies and one is refused"
            );
        }
        assert_eq!(
            status_of(4),
            ["rejected"],
            "round {round}: a sale id recorded before is refused"
        );
        let mut twice = status_of(5);
        twice.sort();
        assert_eq!(
            twice,
            ["applied", "duplicate"],
            "round {round}: the same push sent twice applies once"
        );
        for index in 6..CLIENTS {
            assert_eq!(
                status_of(index),
                ["applied"],
                "round {round}: till {index}'s plain sale applies beside the collisions"
            );
        }
        // 0 or 1, 2 or 3, 5, and 6.. applied.
        applied += 3 + (CLIENTS as i64 - 6);
        for ((sku, quantity), before) in RACE_LINES.iter().zip(&before) {
            assert_eq!(
                level(sku),
                before - quantity * applied,
                "round {round}: {sku} moved by the {applied} sales applied, each once"
            );
        }
    }
}

/// A push whose only sale is refused (another store's till's receipt prefix) names items no store has
/// ever stocked: afterwards the store has no level for them at all. Taking the push's stock
/// locks up front writes nothing.
fn refused_push_leaves_no_level(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let mut till = WireTill::enrol(&cloud, "TPE-XINYI");
    let other = WireTill::enrol(&cloud, "TPE-DAAN");
    let lines = [("NEVER-STOCKED-1", 1), ("NEVER-STOCKED-2", 2)];
    let mut forged = race_sale_of(&till, &fresh_id(), 1, &lines);
    forged["receipt_no"] = json!(format!("{}-000001", other.prefix));
    let outcome = till.pusher.push(
        &cloud,
        &[(fresh_id(), "sale.completed.v1".to_owned(), forged)],
    );
    assert_eq!(
        outcome[0].0, "rejected",
        "[{backend:?}] a sale under another prefix is refused: {outcome:?}"
    );
    for (sku, _) in lines {
        let levels = cloud.get_with_key(&key, &format!("/v1/stores/TPE-XINYI/stock?sku={sku}"));
        assert_eq!(
            levels,
            json!([]),
            "[{backend:?}] the refused push left no stock level for {sku}"
        );
    }
}

#[test]
fn a_refused_push_leaves_no_stock_level_behind_on_postgresql() {
    refused_push_leaves_no_level(Backend::Postgres);
}

#[test]
fn a_refused_push_leaves_no_stock_level_behind_on_sqlite() {
    refused_push_leaves_no_level(Backend::Sqlite);
}
