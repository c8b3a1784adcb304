//! Members in the real cloud process, on SQLite and on PostgreSQL, driven over HTTP as the
//! e-shop and a till would: sign-up and look-up with normalised keys, bad input refused with
//! a message and nothing written, points earned and redeemed in both channels with the balance
//! always the sum of entries, an offline overdraft and a coupon used twice flagged once for the
//! store's review list, an enrolment at a till merged into the existing member, a refund's
//! points reversed exactly once, and the till's offline allowance counted.

use chrono::Datelike;
use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess, http};
use crate::support::members::{EShop, api_call};

const STORE: &str = "TPE-XINYI";

struct Api<'a> {
    cloud: &'a CloudProcess,
    key: String,
}

impl Api<'_> {
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        api_call(self.cloud, &self.key, method, path, body)
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None)
    }
}

struct Till<'a> {
    cloud: &'a CloudProcess,
    token: String,
    device_id: String,
    seq: i64,
}

impl Till<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        http()
            .request(method, format!("{}{path}", self.cloud.base_url))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .bearer_auth(&self.token)
    }

    /// Pushes operations (`(op_id, op_type, payload)`) under the next seqs; returns statuses.
    fn push(&mut self, operations: &[(String, &str, Value)]) -> Vec<String> {
        let first = self.seq + 1;
        let wire: Vec<Value> = operations
            .iter()
            .enumerate()
            .map(|(index, (op_id, op_type, payload))| {
                json!({
                    "seq": first + index as i64,
                    "op_id": op_id,
                    "op_type": op_type,
                    "created_at_ms": 1,
                    "payload": payload,
                })
            })
            .collect();
        let statuses = self.push_wire(&wire);
        self.seq += operations.len() as i64;
        statuses
    }

    fn push_wire(&self, wire: &[Value]) -> Vec<String> {
        let response = self
            .request(reqwest::Method::POST, "/v1/sync/push")
            .json(&json!({ "operations": wire }))
            .send()
            .expect("a push");
        assert_eq!(response.status(), 200, "a well-formed push is accepted");
        let body: Value = response.json().expect("push JSON");
        body["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .map(|o| {
                format!(
                    "{}{}",
                    o["status"].as_str().unwrap_or(""),
                    o["reason"]
                        .as_str()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    /// The whole feed from zero, and the last page's allowance.
    fn pull_all(&self) -> (Vec<Value>, Value) {
        let mut cursor = 0;
        let mut entries = Vec::new();
        loop {
            let page: Value = self
                .request(
                    reqwest::Method::GET,
                    &format!("/v1/sync/pull?cursor={cursor}&limit=5000"),
                )
                .send()
                .expect("a pull")
                .json()
                .expect("pull JSON");
            entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
            cursor = page["cursor"].as_i64().expect("a cursor");
            if !page["has_more"].as_bool().unwrap_or(false) {
                return (entries, page["allowance"].clone());
            }
        }
    }
}

fn changes<'a>(entries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .map(|entry| &entry["change"])
        .filter(|change| change["kind"] == kind)
        .collect()
}

/// A one-line inclusive sale of NT$1,200 after the member's discounts, as a till writes it:
/// the line carries the tier and coupon discounts, redeemed points pay at NT$1 each (the
/// default rules' point value) and a card pays the rest.
fn sale(sale_id: &str, receipt: &str, device_id: &str, sku: &str, member: Value) -> Value {
    let discount = member["tier_discount_minor"].as_i64().unwrap_or(0)
        + member["coupon"]["discount_minor"].as_i64().unwrap_or(0);
    let points_paid = member["points_redeemed"].as_i64().unwrap_or(0).max(0) * 100;
    let mut tenders =
        vec![json!({ "kind": "card", "amount_minor": 120_000 - points_paid, "reference": "T1" })];
    if points_paid > 0 {
        tenders.push(json!({ "kind": "points", "amount_minor": points_paid, "reference": null }));
    }
    json!({
        "sale_id": sale_id, "receipt_no": receipt, "device_id": device_id, "staff_id": "1001",
        "created_at_ms": chrono::Utc::now().timestamp_millis(), "currency": "TWD",
        "tax_mode": "inclusive", "subtotal_minor": 120_000 + discount, "discount_minor": discount,
        "tax_minor": 5_714, "rounding_minor": 0, "total_minor": 120_000,
        "lines": [{ "line_no": 1, "sku": sku, "quantity": 1, "unit_price_minor": 120_000 + discount,
                    "discount_minor": discount, "tax_rate_bp": 500, "tax_minor": 5_714,
                    "total_minor": 120_000 }],
        "tenders": tenders,
        "member": member,
    })
}

/// The sum of the points entries of a member's history.
fn entries_sum(history: &Value) -> i64 {
    history["points"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["points"].as_i64().unwrap_or(0))
        .sum()
}

/// The channels of a member's purchases.
fn purchase_channels(history: &Value) -> Vec<&str> {
    history["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .filter_map(|p| p["channel"].as_str())
        .collect()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn scenario(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let api = Api {
        cloud: &cloud,
        key: cloud.api_key(),
    };

    // Sign-up normalises the keys, gives a card number and a welcome coupon.
    let (status, member) = api.post(
        "/v1/members",
        json!({ "phone": "0933-222-111", "email": " Lin.Wei@Example.COM ", "name": "林美玲 Mei-ling 🌸",
                "consent_terms": true }),
    );
    assert_eq!(
        status, 201,
        "a sign-up with a phone and consent succeeds: {member}"
    );
    let id = member["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        member["phone"], "+886933222111",
        "the phone is stored in E.164"
    );
    assert_eq!(
        member["email"], "lin.wei@example.com",
        "the e-mail is stored in lower case"
    );
    assert_eq!(
        member["name"], "林美玲 Mei-ling 🌸",
        "names keep any script and emoji"
    );
    let card = member["card_no"]
        .as_str()
        .expect("a card number")
        .to_owned();
    assert!(
        card.starts_with("29") && card.len() == 13,
        "a card is an EAN-13 in 29…"
    );
    assert_eq!(member["balance"], 0);
    let coupons = member["coupons"].as_array().expect("coupons");
    assert_eq!(coupons.len(), 1, "a new member gets a welcome coupon");
    let coupon_id = coupons[0]["id"].as_str().expect("a coupon id").to_owned();

    // Bad input gets a clear message and writes nothing.
    let bad = [
        (
            json!({ "phone": "09x2", "name": "A", "consent_terms": true }),
            400,
            "not a phone number",
        ),
        (
            json!({ "email": "nobody@", "name": "A", "consent_terms": true }),
            400,
            "not an e-mail",
        ),
        (
            json!({ "phone": "0911111111", "name": "A", "consent_terms": false }),
            400,
            "consent",
        ),
        (
            json!({ "phone": "0911111111", "name": "", "consent_terms": true }),
            400,
            "name",
        ),
        (
            json!({ "name": "A", "consent_terms": true }),
            400,
            "phone number or an e-mail",
        ),
        (
            json!({ "phone": "+886 933 222 111", "name": "A", "consent_terms": true }),
            409,
            "already belongs",
        ),
        (json!({ "phone": 5 }), 400, "not valid"),
    ];
    for (body, expected, message) in bad {
        let (status, error) = api.post("/v1/members", body.clone());
        assert_eq!(status, expected, "{body} is refused");
        assert!(
            error["message"].as_str().unwrap_or("").contains(message),
            "{body}: the message says why ({error})"
        );
    }
    assert_eq!(
        api.get("/v1/members?phone=0911111111").0,
        404,
        "a refused sign-up left no member behind"
    );
    for query in [
        "phone=%2B886933222111",
        "phone=0933%20222%20111",
        "email=LIN.WEI@example.com",
        &format!("card={card}"),
    ] {
        let (status, found) = api.get(&format!("/v1/members?{query}"));
        assert_eq!(
            (status, found["id"].as_str()),
            (200, Some(id.as_str())),
            "{query} finds the member"
        );
    }
    let (status, error) = api.get("/v1/members?card=2900000000002");
    assert_eq!(
        status, 400,
        "a card number with a wrong check digit is refused: {error}"
    );

    // Online: an order earns by the brand's rules (NT$100 a point), once per order.
    let earn = json!({ "order_ref": "W-1", "lines": [{ "sku": "X", "total_minor": 250_000 }] });
    for _ in 0..2 {
        let (status, booked) = api.post(&format!("/v1/members/{id}/earn"), earn.clone());
        assert_eq!(
            (
                status,
                booked["points"].as_i64(),
                booked["balance"].as_i64()
            ),
            (200, Some(25), Some(25)),
            "NT$2,500 earns 25 points, and telling it twice books it once: {booked}"
        );
    }
    let (status, error) = api.post(
        &format!("/v1/members/{id}/redeem"),
        json!({ "order_ref": "W-2", "points": 26 }),
    );
    assert_eq!(
        status, 409,
        "redeeming more than the balance online is refused: {error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains("25 points available")
    );
    // The welcome coupon is used online.
    let (status, _) = api.post(
        &format!("/v1/coupons/{coupon_id}/redeem"),
        json!({ "order_ref": "W-3" }),
    );
    assert_eq!(status, 204, "an unused coupon redeems online");
    let (status, error) = api.post(
        &format!("/v1/coupons/{coupon_id}/redeem"),
        json!({ "order_ref": "W-4" }),
    );
    assert_eq!(status, 409, "a used coupon is refused online: {error}");

    // A till of the store.
    let enrolment = cloud.enrol(STORE, "Counter");
    let mut till = Till {
        cloud: &cloud,
        token: enrolment["token"].as_str().expect("a token").to_owned(),
        device_id: enrolment["device_id"]
            .as_str()
            .expect("a device")
            .to_owned(),
        seq: 0,
    };
    let (entries, allowance) = till.pull_all();
    assert_eq!(
        changes(&entries, "member_keys").len(),
        1,
        "the till gets the brand's keys"
    );
    assert_eq!(changes(&entries, "loyalty_rules").len(), 1, "and the rules");
    let cached = changes(&entries, "member");
    let mine = cached
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("the member is in the feed");
    let text = mine.to_string();
    assert!(
        !text.contains("933222111")
            && !text.contains("lin.wei@example.com")
            && !text.contains(&card),
        "the feed carries no phone, e-mail or card number in the clear: {text}"
    );
    assert_eq!(
        mine["phone_masked"], "••••••••",
        "the mask shows no digit of the phone"
    );
    assert!(
        mine["phone_hash"].is_null() && mine["email_hash"].is_null(),
        "the brand-wide feed carries no phone or e-mail hash: {text}"
    );
    assert_eq!(mine["balance"], 25);
    assert_eq!(
        (
            allowance["granted_points"].as_i64(),
            allowance["used_points"].as_i64()
        ),
        (Some(20_000), Some(0)),
        "the store's one till gets the whole offline allowance"
    );
    let sku = cloud.get_with_key(&api.key, &format!("/v1/stores/{STORE}/stock"))[0]["sku"]
        .as_str()
        .expect("a SKU")
        .to_owned();

    // Offline, the till sold with the member: earned 11 (NT$1,100 after points), redeemed 100
    // it granted offline (the member had 25), and used the welcome coupon the e-shop had used
    // already.
    let sale_id = new_id();
    let member_block = json!({ "member_id": id, "tier": "member", "tier_discount_minor": 0,
        "points_earned": 11, "points_redeemed": 100, "redemption": "offline",
        "coupon": { "coupon_id": coupon_id, "discount_minor": 10_000, "authorisation": "offline" },
        "spend_minor": 110_000, "rules_version": 1 });
    let sale_op = (
        new_id(),
        "sale.completed.v2",
        sale(&sale_id, "R-1", &till.device_id, &sku, member_block),
    );
    assert_eq!(
        till.push(std::slice::from_ref(&sale_op)),
        ["applied"],
        "the sale stands"
    );
    // Told again (a lost answer): nothing is booked twice.
    let again = json!([{ "seq": 1, "op_id": sale_op.0, "op_type": sale_op.1, "created_at_ms": 1, "payload": sale_op.2 }]);
    assert_eq!(
        till.push_wire(again.as_array().expect("ops")),
        ["duplicate"]
    );
    let (_, history) = api.get(&format!("/v1/members/{id}/history"));
    let sum = entries_sum(&history);
    assert_eq!(
        history["balance"], -64,
        "25 + 11 - 100: the overdraft stands, the sale is not reversed"
    );
    assert_eq!(
        history["balance"].as_i64(),
        Some(sum),
        "the balance is the sum of the entries"
    );
    let channels = purchase_channels(&history);
    assert!(
        channels.contains(&"online") && channels.contains(&STORE),
        "history covers both channels: {channels:?}"
    );
    let (entries, allowance) = till.pull_all();
    let conflicts = changes(&entries, "conflict");
    let kinds: Vec<&str> = conflicts
        .iter()
        .filter_map(|c| c["conflict"].as_str())
        .collect();
    assert_eq!(
        {
            let mut sorted = kinds.clone();
            sorted.sort_unstable();
            sorted
        },
        ["coupon_double_use", "overdraft"],
        "the overdraft and the double use are flagged once each: {kinds:?}"
    );
    assert_eq!(
        allowance["used_points"], 100,
        "the offline redemption used the till's allowance"
    );
    assert_eq!(
        allowance["granted_points"], 20_100,
        "and the till gets its share again on top"
    );

    // Online redemption at the till: a hold keyed by the sale id, refused past what is there.
    let (status, error) = {
        let response = till
            .request(reqwest::Method::POST, "/v1/till/points/holds")
            .json(&json!({ "sale_id": new_id(), "member_id": id, "points": 1 }))
            .send()
            .expect("a hold");
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap_or(Value::Null),
        )
    };
    assert_eq!(
        status, 409,
        "an overdrawn member has nothing to hold: {error}"
    );

    // The same phone enrolled at the till: merged into the member, entries follow.
    let newcomer = new_id();
    let enrolled = json!({ "member_id": newcomer, "phone": "+886933222111", "email": null,
        "name": "Mei", "birthday": null, "consent_terms": true, "consent_marketing": false,
        "staff_id": "1001", "enrolled_at_ms": 1 });
    let refund_id = new_id();
    let refund = json!({ "refund_id": refund_id, "receipt_no": "R-2", "sale_id": sale_id,
        "device_id": till.device_id, "staff_id": "1001", "approved_by": "9001", "created_at_ms": 2,
        "tax_minor": 5_714, "rounding_minor": 0, "total_minor": 120_000,
        "lines": [{ "line_no": 1, "sku": sku, "quantity": 1, "tax_minor": 5_714, "total_minor": 120_000 }],
        "tenders": [{ "kind": "card", "amount_minor": 110_000, "reference": "T1" },
                    { "kind": "points", "amount_minor": 10_000, "reference": null }],
        "member": { "member_id": newcomer, "points_reversed": 11, "points_restored": 100, "spend_minor": 120_000 } });
    let refund_op = (new_id(), "refund.completed.v2", refund);
    let statuses = till.push(&[
        (new_id(), "member.enrolled.v1", enrolled),
        refund_op.clone(),
    ]);
    assert_eq!(
        statuses,
        ["applied", "applied"],
        "enrolment and refund apply"
    );
    let again = json!([{ "seq": 3, "op_id": refund_op.0, "op_type": refund_op.1, "created_at_ms": 1, "payload": refund_op.2 }]);
    assert_eq!(
        till.push_wire(again.as_array().expect("ops")),
        ["duplicate"],
        "a retried refund books nothing"
    );
    let (_, found) = api.get(&format!("/v1/members/{newcomer}"));
    assert_eq!(
        found["id"],
        id.as_str(),
        "the till's id now finds the surviving member"
    );
    assert_eq!(
        found["balance"], 25,
        "-64 - 11 + 100: the refund under the merged id reached the survivor, once"
    );
    let (entries, _) = till.pull_all();
    let gone = changes(&entries, "member_gone");
    assert!(
        gone.iter()
            .any(|g| g["id"] == newcomer.as_str() && g["merged_into"] == id.as_str()),
        "tills are told to forget the merged id and which member survived"
    );
    let merge = changes(&entries, "conflict")
        .into_iter()
        .find(|c| c["conflict"] == "merged_enrolment")
        .expect("the merge is on the review list")
        .clone();

    // A manager resolves it at the till; the resolution comes back through the feed.
    let resolution = json!({ "conflict_id": merge["id"], "note": "Same person, checked ID",
        "resolved_by": "9001", "resolved_at_ms": 3 });
    assert_eq!(
        till.push(&[(new_id(), "conflict.resolved.v1", resolution)]),
        ["applied"]
    );
    let (entries, _) = till.pull_all();
    let resolved = changes(&entries, "conflict")
        .into_iter()
        .find(|c| c["id"] == merge["id"])
        .expect("the conflict")
        .clone();
    assert_eq!(
        resolved["resolved_at_ms"], 3,
        "the resolution reached the cloud and came back"
    );
    assert_eq!(resolved["note"], "Same person, checked ID");

    // Garbage in a member block is refused as the operation's outcome and books nothing.
    let bad_member = json!({ "member_id": id, "tier": "member", "tier_discount_minor": 0,
        "points_earned": -5, "points_redeemed": 0, "redemption": null, "coupon": null, "spend_minor": 0 });
    let statuses = till.push(&[(
        new_id(),
        "sale.completed.v2",
        sale(&new_id(), "R-3", &till.device_id, &sku, bad_member),
    )]);
    assert!(
        statuses[0].starts_with("rejected") && statuses[0].contains("points"),
        "{statuses:?}"
    );
    assert_eq!(
        api.get(&format!("/v1/members/{id}")).1["balance"],
        25,
        "the refused sale booked nothing"
    );

    // The demo brand's members have a year of history in both channels.
    let (status, demo) = api.get("/v1/members?phone=0912-345-678");
    assert_eq!(status, 200, "the README's demo member exists");
    let demo_id = demo["id"].as_str().expect("an id");
    let (_, history) = api.get(&format!("/v1/members/{demo_id}/history"));
    let sum = entries_sum(&history);
    assert!(sum > 0, "the demo member has points");
    assert_eq!(
        demo["balance"].as_i64(),
        Some(sum),
        "and they are the sum of the entries"
    );
    let channels = purchase_channels(&history);
    assert!(
        channels.contains(&"online") && channels.iter().any(|c| c.starts_with("TPE-")),
        "the demo member bought in both channels: {channels:?}"
    );

    let (_, document) = api.get("/openapi.json");
    for path in [
        "/v1/members",
        "/v1/members/{id}/earn",
        "/v1/members/{id}/redeem",
        "/v1/members/{id}/adjust",
        "/v1/coupons/{id}/redeem",
        "/v1/members/{id}/history",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "the OpenAPI document describes {path}"
        );
    }
}

/// Customer service adjusts a balance with a reason, once per reference; old points expire
/// first in first out, once a day, with the reason in the history.
fn adjustments_and_expiry(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let member = eshop.sign_up("0966-123-456", "Adjust Expire");
    let id = member["id"].as_str().expect("an id").to_owned();
    let adjust = |reference: &str, points: i64, reason: &str| {
        eshop.call(
            reqwest::Method::POST,
            &format!("/v1/members/{id}/adjust"),
            Some(json!({ "reference": reference, "points": points, "reason": reason })),
        )
    };

    // Bad adjustments are refused with a message and book nothing.
    let before = eshop.entries(&id).len();
    for (reference, points, reason, status, says) in [
        ("CS-0", 0, "nothing", 400, "1 to"),
        ("CS-0", 10, "  ", 400, "reason"),
        ("", 10, "no reference", 400, "reference"),
        ("CS-0", 2_000_000_000, "absurd", 400, "1 to"),
        ("CS-0", -1_000_000, "more than she has", 409, "available"),
    ] {
        let (got, answer) = adjust(reference, points, reason);
        assert_eq!(got, status, "{reference:?} {points} {reason:?}: {answer}");
        assert!(
            answer.to_string().contains(says),
            "the refusal says why ({says}): {answer}"
        );
    }
    let (got, answer) = eshop.call(
        reqwest::Method::POST,
        &format!("/v1/members/{id}/adjust"),
        Some(json!({ "reference": "CS-0", "points": 5, "reason": "x", "extra": true })),
    );
    assert_eq!(got, 400, "unknown fields are refused: {answer}");
    assert_eq!(
        eshop.entries(&id).len(),
        before,
        "no refused adjustment booked anything"
    );

    let old = eshop.earn(&id, "OLD-ORDER", 1_000_000);
    std::thread::sleep(std::time::Duration::from_millis(30));
    let cutoff = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let (got, booked) = adjust("CS-1", 25, "Goodwill: the parcel came late 包裹延遲");
    assert_eq!(got, 200, "an adjustment with a reason books: {booked}");
    let (got, again) = adjust("CS-1", 25, "Goodwill: the parcel came late 包裹延遲");
    assert_eq!(
        (got, again["balance"].clone()),
        (200, booked["balance"].clone()),
        "the same reference again books nothing more"
    );
    let (got, answer) = adjust("CS-1", 40, "another amount");
    assert_eq!(
        got, 409,
        "a reference booked with other points is refused: {answer}"
    );
    let recent = eshop.earn(&id, "NEW-ORDER", 700_000);
    let (got, _) = eshop.redeem(&id, "SPEND", 30);
    assert_eq!(got, 200, "an online redemption");
    let sign_up_points = member["balance"].as_i64().expect("a sign-up balance");
    let balance = eshop.balance_as_sum_of_entries(&id, "before expiry");
    assert_eq!(balance, sign_up_points + old + 25 + recent - 30);

    // Two years after the cutoff, what was earned before it and not used since expires.
    let expire_at = cutoff
        .checked_add_months(chrono::Months::new(24))
        .expect("a date")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let printed = cloud.admin(&["points", "expire", "--now", &expire_at]);
    assert!(
        printed.starts_with("points expired for "),
        "the admin command says what it did: {printed}"
    );
    let after = eshop.balance_as_sum_of_entries(&id, "after expiry");
    assert_eq!(
        after,
        25 + recent,
        "the sign-up points and the old order's lapse less the 30 used; what came after stays"
    );
    let entries = eshop.entries(&id);
    let expired: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "expire").collect();
    assert_eq!(expired.len(), 1, "one expiry entry: {entries:?}");
    assert_eq!(
        expired[0]["points"].as_i64(),
        Some(-(sign_up_points + old - 30))
    );
    assert!(
        expired[0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("expired after 24 months")),
        "the history says why the points went: {}",
        expired[0]
    );
    let adjusted = entries
        .iter()
        .find(|e| e["kind"] == "adjust")
        .expect("the adjustment is in the history");
    assert_eq!(adjusted["note"], "Goodwill: the parcel came late 包裹延遲");
    assert_eq!(adjusted["ref_id"], "CS-1");
    // The same day again changes nothing.
    cloud.admin(&["points", "expire", "--now", &expire_at]);
    assert_eq!(
        eshop.balance_as_sum_of_entries(&id, "expiry again"),
        after,
        "an expiry runs once per member and day"
    );
    let bad = std::process::Command::new(crate::support::cloud::binary("omnitill-cloud"))
        .args([
            "--database",
            &cloud.database,
            "points",
            "expire",
            "--now",
            "yesterday",
        ])
        .output()
        .expect("the admin command runs");
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"),
        "a bad --now is refused with a message"
    );
}

/// Members born this month get the birthday coupon once, valid through the month; others
/// get none.
fn birthday_coupons(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let now = chrono::Utc::now();
    let other_month = now.month() % 12 + 1;
    let sign_up = |phone: &str, birthday: Option<String>| {
        let (status, member) = eshop.call(
            reqwest::Method::POST,
            "/v1/members",
            Some(
                json!({ "phone": phone, "name": "Birthday Test", "consent_terms": true,
                "birthday": birthday }),
            ),
        );
        assert_eq!(status, 201, "a sign-up: {member}");
        member["id"].as_str().expect("an id").to_owned()
    };
    let born_now = sign_up("0966-200-001", Some(format!("1990-{:02}-15", now.month())));
    let born_later = sign_up("0966-200-002", Some(format!("1985-{other_month:02}-01")));
    let no_birthday = sign_up("0966-200-003", None);
    let birthday_coupons = |id: &str| -> Vec<Value> {
        let (_, member) = eshop.call(reqwest::Method::GET, &format!("/v1/members/{id}"), None);
        member["coupons"]
            .as_array()
            .expect("the member's coupons")
            .iter()
            .filter(|c| c["kind"] == "birthday")
            .cloned()
            .collect()
    };

    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let printed = cloud.admin(&["coupons", "birthday", "--now", &at]);
    assert!(
        printed.ends_with("birthday coupon(s) issued") && !printed.starts_with("0 "),
        "the member born this month was due a coupon: {printed}"
    );
    let gifts = birthday_coupons(&born_now);
    assert_eq!(gifts.len(), 1, "one birthday coupon: {gifts:?}");
    let from = gifts[0]["valid_from_ms"].as_i64().expect("from");
    let to = gifts[0]["valid_to_ms"].as_i64().expect("to");
    assert!(
        from <= now.timestamp_millis() && now.timestamp_millis() < to,
        "the coupon is usable today, through the birthday month"
    );
    assert!(
        (28..=31).contains(&((to - from) / 86_400_000)),
        "it lasts the month: {gifts:?}"
    );
    assert!(
        birthday_coupons(&born_later).is_empty() && birthday_coupons(&no_birthday).is_empty(),
        "members born in another month, or with no birthday, get nothing yet"
    );
    assert_eq!(
        cloud.admin(&["coupons", "birthday", "--now", &at]),
        "0 birthday coupon(s) issued",
        "a second run in the same month issues nothing"
    );
    assert_eq!(birthday_coupons(&born_now).len(), 1, "still one coupon");
}

#[test]
fn members_born_this_month_get_one_birthday_coupon_on_sqlite() {
    birthday_coupons(Backend::Sqlite);
}

#[test]
fn members_born_this_month_get_one_birthday_coupon_on_postgresql() {
    birthday_coupons(Backend::Postgres);
}

#[test]
fn customer_service_adjusts_points_once_and_old_points_expire_on_sqlite() {
    adjustments_and_expiry(Backend::Sqlite);
}

#[test]
fn customer_service_adjusts_points_once_and_old_points_expire_on_postgresql() {
    adjustments_and_expiry(Backend::Postgres);
}

#[test]
fn members_points_and_coupons_reconcile_across_channels_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn members_points_and_coupons_reconcile_across_channels_on_postgresql() {
    scenario(Backend::Postgres);
}
