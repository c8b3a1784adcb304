//! The cloud as a real process on a loopback port, on SQLite and on PostgreSQL: a till's
//! outbox is pushed and applied exactly once, the change feed comes back scoped to the till's
//! store, and bad requests (malformed, oversized, wrong version, tampered or revoked tokens)
//! are refused with JSON errors and change nothing.

use omnitill_core::{TenderKind, outbox};
use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::{Value, json};

use crate::support::TempTill;
use crate::support::cloud::{Backend, CloudProcess, http};

struct Till<'a> {
    cloud: &'a CloudProcess,
    token: String,
}

impl Till<'_> {
    fn push(&self, operations: &Value) -> reqwest::blocking::Response {
        http()
            .post(format!("{}/v1/sync/push", self.cloud.base_url))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .bearer_auth(&self.token)
            .json(&json!({ "operations": operations }))
            .send()
            .expect("push request")
    }

    fn pull_all(&self) -> (Vec<Value>, i64) {
        let mut cursor = 0;
        let mut entries = Vec::new();
        // (entries so far, what the page said remained after it), to check `remaining` below.
        let mut said_remaining = Vec::new();
        loop {
            let page: Value = http()
                .get(format!(
                    "{}/v1/sync/pull?cursor={cursor}&limit=200",
                    self.cloud.base_url
                ))
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
                .bearer_auth(&self.token)
                .send()
                .expect("pull request")
                .json()
                .expect("pull JSON");
            entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
            said_remaining.push((
                entries.len(),
                page["remaining"].as_i64().expect("remaining"),
            ));
            cursor = page["cursor"].as_i64().expect("a cursor");
            if !page["has_more"].as_bool().unwrap_or(false) {
                for (so_far, remaining) in &said_remaining {
                    assert_eq!(
                        *remaining as usize,
                        entries.len() - so_far,
                        "a page's `remaining` counts exactly the entries the later pages brought"
                    );
                }
                return (
                    entries,
                    page["last_applied_seq"].as_i64().expect("checkpoint"),
                );
            }
        }
    }
}

/// The till's unacknowledged operations in wire form.
fn wire_operations(till: &TempTill) -> Value {
    let ops = outbox::pending(till.till.connection(), 1_000).expect("pending operations");
    Value::Array(
        ops.iter()
            .map(|op| {
                json!({
                    "seq": op.seq,
                    "op_id": op.op_id,
                    "op_type": op.op_type,
                    "created_at_ms": op.created_at_ms,
                    "payload": serde_json::from_str::<Value>(&op.payload).expect("payload JSON"),
                })
            })
            .collect(),
    )
}

fn statuses(response: reqwest::blocking::Response) -> Vec<String> {
    assert_eq!(response.status(), 200, "a well-formed push is accepted");
    let body: Value = response.json().expect("push JSON");
    body["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| o["status"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn stock_of(cloud: &CloudProcess, key: &str, store: &str, sku: &str) -> i64 {
    let levels = cloud.get_with_key(key, &format!("/v1/stores/{store}/stock?sku={sku}"));
    levels[0]["on_hand"].as_i64().expect("a stock level")
}

fn scenario(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let enrolled = cloud.enrol("TPE-XINYI", "Counter 1");
    let till_a = Till {
        cloud: &cloud,
        token: enrolled["token"].as_str().expect("token").to_owned(),
    };
    let other = cloud.enrol("TPE-DAAN", "Counter 1");
    let till_b = Till {
        cloud: &cloud,
        token: other["token"].as_str().expect("token").to_owned(),
    };

    // A till sells three times and refunds once, offline.
    let mut t = TempTill::demo();
    let cashier = t.cashier();
    let sku = "TEA-DDO-75g";
    for _ in 0..3 {
        let mut cart = t.cart_of(&[1, 2]);
        let rules = t.till.pricing_rules().expect("rules");
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("card");
        t.till.complete_sale(&cashier, &cart).expect("sale");
    }
    let manager = t.manager();
    let approval = omnitill_core::ManagerApproval::from_session(&manager).expect("approval");
    let first = t
        .till
        .recent_receipts(10)
        .expect("receipts")
        .last()
        .expect("a sale")
        .receipt_no
        .clone();
    t.till
        .refund(&cashier, &approval, &first, &[(1, 1)])
        .expect("refund");

    let a_before = stock_of(&cloud, &key, "TPE-XINYI", sku);
    let b_before = stock_of(&cloud, &key, "TPE-DAAN", sku);
    let operations = wire_operations(&t);
    assert_eq!(
        operations.as_array().map(Vec::len),
        Some(4),
        "three sales and a refund"
    );

    // Bad requests change nothing.
    let malformed = http()
        .post(format!("{}/v1/sync/push", cloud.base_url))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
        .header("content-type", "application/json")
        .bearer_auth(&till_a.token)
        .body("{\"operations\": [{\"seq\": \"one\"}]")
        .send()
        .expect("request");
    assert_eq!(malformed.status(), 400, "a malformed body is a 400");
    let body: Value = malformed.json().expect("a JSON error");
    assert_eq!(body["code"], "bad_request");
    let oversized = http()
        .post(format!("{}/v1/sync/push", cloud.base_url))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
        .header("content-type", "application/json")
        .bearer_auth(&till_a.token)
        .body(vec![b' '; omnitill_protocol::MAX_BODY_BYTES + 1])
        .send()
        .expect("request");
    assert_eq!(oversized.status(), 413, "an oversized body is a 413");
    let wrong_version = http()
        .post(format!("{}/v1/sync/push", cloud.base_url))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION + 1)
        .bearer_auth(&till_a.token)
        .json(&json!({ "operations": operations }))
        .send()
        .expect("request");
    assert_eq!(wrong_version.status(), 400);
    let body: Value = wrong_version.json().expect("a JSON error");
    assert_eq!(body["code"], "version_mismatch");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&PROTOCOL_VERSION.to_string())
            && message.contains(&(PROTOCOL_VERSION + 1).to_string()),
        "a version mismatch names both versions: {message}"
    );
    let mut tampered = till_a.token.clone();
    tampered.push('x');
    let refused = Till {
        cloud: &cloud,
        token: tampered,
    }
    .push(&operations);
    assert_eq!(refused.status(), 401, "a tampered token is refused");
    let sales: Value = cloud.get_with_key(&key, "/v1/stores/TPE-XINYI/sales");
    assert_eq!(
        sales.as_array().map(Vec::len),
        Some(0),
        "refused requests wrote no sale"
    );

    // The real push applies everything once; a retry changes nothing.
    assert_eq!(
        statuses(till_a.push(&operations)),
        ["applied"; 4],
        "every operation applies once"
    );
    assert_eq!(
        statuses(till_a.push(&operations)),
        ["duplicate"; 4],
        "a retried push is all duplicates"
    );
    let sales: Value = cloud.get_with_key(&key, "/v1/stores/TPE-XINYI/sales");
    assert_eq!(
        sales.as_array().map(Vec::len),
        Some(3),
        "each sale is in the cloud exactly once"
    );
    assert_eq!(
        stock_of(&cloud, &key, "TPE-XINYI", sku),
        a_before - 3 + 1,
        "store A's stock is its opening stock minus the sales plus the refund"
    );
    assert_eq!(
        stock_of(&cloud, &key, "TPE-DAAN", sku),
        b_before,
        "store B's stock is untouched"
    );

    // A gap is refused; an unknown operation type is stored as rejected and blocks nothing.
    let gap = till_a.push(
        &json!([{ "seq": 9, "op_id": uuid::Uuid::now_v7().to_string(),
        "op_type": "sale.completed.v1", "created_at_ms": 0, "payload": {} }]),
    );
    assert_eq!(gap.status(), 409, "a push that skips seq 5 is refused");
    let from_the_future = json!([
        { "seq": 5, "op_id": uuid::Uuid::now_v7().to_string(), "op_type": "hologram.v9", "created_at_ms": 0, "payload": {} },
        { "seq": 6, "op_id": uuid::Uuid::now_v7().to_string(), "op_type": "sale.completed.v1", "created_at_ms": 0, "payload": { "nonsense": true } }
    ]);
    assert_eq!(
        statuses(till_a.push(&from_the_future)),
        ["rejected", "rejected"],
        "an unknown type and a malformed payload are refused as outcomes, not errors"
    );

    // Pulls are scoped to the till's own store and carry the write checkpoint.
    let (entries, checkpoint) = till_a.pull_all();
    assert_eq!(
        checkpoint, 6,
        "the checkpoint covers every operation the cloud has seen"
    );
    let stock_entry = |entries: &[Value]| {
        entries
            .iter()
            .find(|e| e["change"]["kind"] == "stock" && e["change"]["sku"] == sku)
            .map(|e| e["change"]["on_hand"].as_i64().unwrap_or(i64::MIN))
    };
    assert_eq!(
        stock_entry(&entries),
        Some(a_before - 2),
        "till A sees store A's stock"
    );
    let products = entries
        .iter()
        .filter(|e| e["change"]["kind"] == "product")
        .count();
    assert!(
        products > 250,
        "the first pull downloads the whole catalog ({products} products)"
    );
    let (entries_b, _) = till_b.pull_all();
    assert_eq!(
        stock_entry(&entries_b),
        Some(b_before),
        "till B sees only store B's stock"
    );

    // A revoked till is told so.
    cloud.admin(&[
        "device",
        "revoke",
        enrolled["device_id"].as_str().expect("device id"),
    ]);
    let revoked = till_a.push(&json!([]));
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().expect("a JSON error");
    assert_eq!(
        body["code"], "revoked",
        "a revoked till is told it was revoked"
    );
}

#[test]
fn tills_sync_exactly_once_with_a_cloud_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn tills_sync_exactly_once_with_a_cloud_on_postgresql() {
    scenario(Backend::Postgres);
}

/// A push whose middle operation is refused: the refused sale leaves no row, no stock movement
/// and no trace in the feed, and the operations around it apply.
fn refusal_inside_a_push(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let enrolled = cloud.enrol("TPE-XINYI", "Counter 1");
    let till = Till {
        cloud: &cloud,
        token: enrolled["token"].as_str().expect("token").to_owned(),
    };
    let mut t = TempTill::demo();
    let cashier = t.cashier();
    for items in [[1, 2], [1, 3]] {
        let mut cart = t.cart_of(&items);
        let rules = t.till.pricing_rules().expect("rules");
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("card");
        t.till.complete_sale(&cashier, &cart).expect("sale");
    }
    let sold = wire_operations(&t);
    let sold = sold.as_array().expect("operations");
    // Seq 2 tells the first sale again under a new operation id; seq 3 is the second sale.
    let mut again = sold[0].clone();
    again["seq"] = json!(2);
    again["op_id"] = json!(uuid::Uuid::now_v7().to_string());
    let mut second = sold[1].clone();
    second["seq"] = json!(3);
    let sku = "TEA-DDO-75g";
    let before = stock_of(&cloud, &key, "TPE-XINYI", sku);

    assert_eq!(
        statuses(till.push(&json!([sold[0], again, second]))),
        ["applied", "rejected", "applied"],
        "the sale told twice is refused and the operations around it apply"
    );
    let sales: Value = cloud.get_with_key(&key, "/v1/stores/TPE-XINYI/sales");
    assert_eq!(
        sales.as_array().map(Vec::len),
        Some(2),
        "the refused operation wrote no sale"
    );
    assert_eq!(
        stock_of(&cloud, &key, "TPE-XINYI", sku),
        before - 2,
        "both sales took one each, and the refused one took nothing"
    );
    let (entries, checkpoint) = till.pull_all();
    assert_eq!(
        checkpoint, 3,
        "the checkpoint covers the refused operation too"
    );
    let levels: Vec<i64> = entries
        .iter()
        .filter(|e| e["change"]["kind"] == "stock" && e["change"]["sku"] == sku)
        .map(|e| e["change"]["on_hand"].as_i64().unwrap_or(i64::MIN))
        .collect();
    assert_eq!(
        levels,
        [before - 2],
        "the feed holds the SKU's level once, as of the whole push"
    );
}

#[test]
fn a_refused_operation_inside_a_push_leaves_no_trace_on_sqlite() {
    refusal_inside_a_push(Backend::Sqlite);
}

#[test]
fn a_refused_operation_inside_a_push_leaves_no_trace_on_postgresql() {
    refusal_inside_a_push(Backend::Postgres);
}
