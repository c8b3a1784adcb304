//! The store's pickup actions at the till, on a real ledger: finding the order a customer
//! shows, picking, ready, handover, the outbox operations they write, what is refused, and the
//! till's own view kept until the cloud has its operations.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::loyalty::MemberKeys;
use omnitill_protocol::pickup::{PickupLine, PickupOrder};
use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::error::CoreError;
use crate::pickups::actions::Verified;
use crate::{ManualClock, StaffSession, Till, demo, loyalty, pickup_code};

const STORE: &str = "store-xinyi";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0)
        .single()
        .expect("a time")
}

struct Store {
    _dir: tempfile::TempDir,
    till: Till,
    brand: Ed25519KeyPair,
    clerk: StaffSession,
}

fn line(line_no: i64, sku: &str) -> PickupLine {
    PickupLine {
        line_no,
        sku: sku.into(),
        quantity: 1,
        total_minor: 48_000,
        state: "to_pick".into(),
        missing_reason: None,
        resolution: None,
        substitute_sku: None,
    }
}

fn order(id: &str, code: &str, status: &str, payment: &str) -> PickupOrder {
    PickupOrder {
        id: id.into(),
        order_ref: format!("WEB-{id}"),
        store_id: STORE.into(),
        code: code.into(),
        status: status.into(),
        payment: payment.into(),
        member_id: None,
        guest_name: Some("林小姐".into()),
        contact_masked: None,
        currency: "TWD".into(),
        total_minor: 96_000,
        promised_at_ms: 0,
        expires_at_ms: at().timestamp_millis() + 86_400_000,
        created_at_ms: 0,
        updated_at_ms: at().timestamp_millis(),
        review: None,
        lines: vec![line(1, "TEA-DDO-75g"), line(2, "TEA-ALS-150g")],
    }
}

fn pull(changes: Vec<Change>, last_applied_seq: i64) -> PullResponse {
    PullResponse {
        cursor: changes.len() as i64,
        entries: changes
            .into_iter()
            .zip(1..)
            .map(|(change, cursor)| FeedEntry { cursor, change })
            .collect(),
        has_more: false,
        reset: false,
        last_applied_seq,
        remaining: 0,
        allowance: None,
    }
}

/// A demo till of the store, enrolled, with the brand's keys and four orders cached.
fn store() -> Store {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let clock = Arc::new(ManualClock::new(at()));
    let mut till = Till::open(&dir.path().join("till.sqlite3"), clock).expect("a ledger");
    demo::seed_demo(&mut till).expect("the demo store");
    let enrolled = EnrolResponse {
        device_id: "device-1".into(),
        store_id: STORE.into(),
        store_name: "Xinyi".into(),
        token: "token".into(),
        receipt_prefix: "AB12".into(),
    };
    till.record_enrolment("http://127.0.0.1:9", &enrolled, at())
        .expect("enrolled");
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
    let brand = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair");
    let keys = MemberKeys {
        member_key_hex: "6d656d6265722d6b6579".into(),
        qr_public_key_hex: loyalty::hex(brand.public_key().as_ref()),
    };
    let changes = vec![
        Change::MemberKeys(keys),
        Change::Pickup(order("o-1", "ACD34F", "new", "paid_online")),
        Change::Pickup(order("o-2", "HJK679", "new", "pay_at_pickup")),
        Change::Pickup(order("o-3", "MNP347", "cancelled", "paid_online")),
        Change::Pickup(order("o-4", "QRT467", "collected", "paid_online")),
    ];
    till.apply_pull(&pull(changes, 0), at())
        .expect("the feed applies");
    let clerk = till.login(demo::CASHIER.0, demo::CASHIER.1).expect("login");
    Store {
        _dir: dir,
        till,
        brand,
        clerk,
    }
}

fn outbox(till: &Till) -> Vec<(String, String)> {
    till.operations_to_push(100)
        .expect("the outbox")
        .into_iter()
        .map(|op| (op.op_type, op.payload))
        .collect()
}

fn refused_in_words(result: Result<impl std::fmt::Debug, CoreError>, words: &str) {
    match result {
        Err(CoreError::BadInput(m) | CoreError::NotFound(m)) if m.contains(words) => {}
        other => panic!("expected a refusal saying {words:?}, got {other:?}"),
    }
}

#[test]
fn the_order_a_customer_shows_is_found_by_qr_or_code_and_every_other_case_is_refused_in_words() {
    let s = store();
    let expires = at().timestamp() + 3_600;
    let qr = pickup_code::sign_pickup_qr(&s.brand, "o-1", STORE, "ACD34F", expires);
    let (found, how) = s.till.find_pickup(&qr).expect("a valid QR finds its order");
    assert_eq!((found.id.as_str(), how), ("o-1", Verified::Qr));
    let (found, how) = s
        .till
        .find_pickup(" acd-34f ")
        .expect("a typed code finds it");
    assert_eq!((found.id.as_str(), how), ("o-1", Verified::Code));

    let elsewhere = pickup_code::sign_pickup_qr(&s.brand, "o-1", "store-daan", "ACD34F", expires);
    refused_in_words(s.till.find_pickup(&elsewhere), "another store");
    let never_seen = pickup_code::sign_pickup_qr(&s.brand, "o-9", STORE, "XYW347", expires);
    refused_in_words(s.till.find_pickup(&never_seen), "not on this till");
    refused_in_words(s.till.find_pickup("ACD33F"), "not on this till");
    refused_in_words(s.till.find_pickup("MNP347"), "cancelled");
    refused_in_words(s.till.find_pickup("QRT467"), "collected already");
    refused_in_words(
        s.till.find_pickup(&format!("{qr}00")),
        "not a pickup code of this brand",
    );
    refused_in_words(s.till.find_pickup("hello"), "not a pickup code");
    assert!(outbox(&s.till).is_empty(), "looking writes nothing");
}

#[test]
fn picking_ready_and_handover_write_one_operation_each_and_refusals_write_nothing() {
    let mut s = store();
    let clerk = s.clerk.clone();
    refused_in_words(s.till.mark_pickup_ready(&clerk, "o-1"), "still to pick");
    let picked = s
        .till
        .pick_pickup_line(&clerk, "o-1", 1)
        .expect("line 1 picked");
    assert_eq!(
        picked.status, "picking",
        "picking starts with the first line"
    );
    refused_in_words(
        s.till.mark_pickup_line_missing(&clerk, "o-1", 2, "  "),
        "say why",
    );
    s.till
        .mark_pickup_line_missing(&clerk, "o-1", 2, "damaged box")
        .expect("line 2 missing");
    let ready = s.till.mark_pickup_ready(&clerk, "o-1").expect("ready");
    assert_eq!(ready.status, "ready");
    let handed = s
        .till
        .hand_over_pickup(&clerk, "o-1", Verified::Qr, None)
        .expect("handed over offline");
    assert_eq!(
        handed.status, "partially_collected",
        "a missing line makes it partial"
    );
    let ops: Vec<String> = outbox(&s.till).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        ops,
        [
            "pickup.line.v1",
            "pickup.line.v1",
            "pickup.ready.v1",
            "pickup.handed_over.v1"
        ],
        "one operation per action, in order"
    );
    refused_in_words(s.till.find_pickup("ACD34F"), "collected already");
    refused_in_words(
        s.till.pick_pickup_line(&clerk, "o-1", 1),
        "collected already",
    );
    refused_in_words(
        s.till.hand_over_pickup(&clerk, "o-2", Verified::Code, None),
        "paid at pickup",
    );
    assert_eq!(outbox(&s.till).len(), 4, "refusals write nothing");
}

#[test]
fn the_tills_own_view_stands_until_the_cloud_has_its_operation() {
    let mut s = store();
    let clerk = s.clerk.clone();
    s.till.pick_pickup_line(&clerk, "o-1", 1).expect("picked");
    s.till.pick_pickup_line(&clerk, "o-1", 2).expect("picked");
    s.till
        .hand_over_pickup(&clerk, "o-1", Verified::Code, None)
        .expect("handed over");
    let seq = s
        .till
        .operations_to_push(100)
        .expect("outbox")
        .last()
        .map(|op| op.seq);
    let handed_seq = seq.expect("the handover's seq");
    // The cloud's feed still says "ready": it has not had the handover yet.
    let stale = pull(
        vec![Change::Pickup(order(
            "o-1",
            "ACD34F",
            "ready",
            "paid_online",
        ))],
        handed_seq - 1,
    );
    s.till.apply_pull(&stale, at()).expect("a pull");
    let shown = s.till.pickup_orders().expect("orders");
    let o1 = shown.iter().find(|o| o.id == "o-1").expect("o-1");
    assert_eq!(o1.status, "collected", "the till keeps showing what it did");
    let caught_up = pull(
        vec![Change::Pickup(order(
            "o-1",
            "ACD34F",
            "collected",
            "paid_online",
        ))],
        handed_seq,
    );
    s.till.apply_pull(&caught_up, at()).expect("a pull");
    let shown = s.till.pickup_orders().expect("orders");
    let o1 = shown.iter().find(|o| o.id == "o-1").expect("o-1");
    assert_eq!(
        (o1.status.as_str(), o1.lines[0].state.as_str()),
        ("collected", "to_pick"),
        "once the cloud has it, the cloud's order is what shows"
    );
}

#[test]
fn a_cancelled_orders_picked_line_goes_back_on_the_shelf_once_and_nothing_else_does() {
    let mut s = store();
    let clerk = s.clerk.clone();
    let mut cancelled = order("o-5", "PQR349", "cancelled", "paid_online");
    cancelled.lines[0].state = "picked".into();
    s.till
        .apply_pull(&pull(vec![Change::Pickup(cancelled)], 0), at())
        .expect("the cancellation arrives");

    let back = s
        .till
        .put_back_pickup_line(&clerk, "o-5", 1)
        .expect("the picked line goes back");
    assert_eq!(back.lines[0].state, "put_back");
    assert_eq!(
        outbox(&s.till).last().map(|(op, _)| op.as_str()),
        Some("pickup.line.v1"),
        "one operation tells the cloud"
    );
    let written = outbox(&s.till).len();
    refused_in_words(
        s.till.put_back_pickup_line(&clerk, "o-5", 1),
        "only a picked line",
    );
    refused_in_words(
        s.till.put_back_pickup_line(&clerk, "o-5", 2),
        "only a picked line",
    );
    refused_in_words(
        s.till.put_back_pickup_line(&clerk, "o-1", 1),
        "only a cancelled or expired order",
    );
    assert_eq!(outbox(&s.till).len(), written, "a refusal writes nothing");
}
