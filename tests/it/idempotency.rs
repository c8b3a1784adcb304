//! An idempotency key names one request, on every e-shop route that takes one (redeem, earn,
//! adjust, coupon redeem, online sales), against a real cloud process on SQLite and on
//! PostgreSQL: the same key with another body is a 409 that books nothing; the same key with
//! the same body answers what the first call answered. Sixteen clients sending one key at once
//! (a redemption, an online order) book it once.

use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;
use crate::support::parallel::{at_once, eshop_call};

fn member(eshop: &EShop, phone: &str, points: i64) -> String {
    let member = eshop.sign_up(phone, "Key 鍵");
    let id = member["id"].as_str().expect("a member id").to_owned();
    if points > 0 {
        let (status, body) = eshop.call(
            reqwest::Method::POST,
            &format!("/v1/members/{id}/adjust"),
            Some(json!({ "reference": format!("start-{phone}"), "points": points, "reason": "test" })),
        );
        assert_eq!(
            status, 200,
            "the member's starting points are booked: {body}"
        );
    }
    id
}

fn post(eshop: &EShop, path: &str, body: Value) -> (u16, Value) {
    eshop.call(reqwest::Method::POST, path, Some(body))
}

fn assert_refused_as_reused(answer: &(u16, Value), context: &str) {
    assert_eq!(
        answer.0, 409,
        "[{context}] the same key with another body is a conflict: {}",
        answer.1
    );
    assert!(
        answer.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("already")),
        "[{context}] the refusal says the key was already used: {}",
        answer.1
    );
}

fn every_keyed_route(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let id = member(&eshop, "0912000401", 1_000);
    let context = format!("{backend:?}");

    // Redeem: the case, 1 point then 1,000 under one order_ref.
    let redeem = format!("/v1/members/{id}/redeem");
    let first = post(&eshop, &redeem, json!({ "order_ref": "X", "points": 1 }));
    assert_eq!(
        first.0, 200,
        "[{context}] the first redemption is booked: {}",
        first.1
    );
    let other = post(
        &eshop,
        &redeem,
        json!({ "order_ref": "X", "points": 1_000 }),
    );
    assert_refused_as_reused(&other, &format!("{context} redeem"));
    assert_eq!(
        eshop.balance_as_sum_of_entries(&id, &context),
        999,
        "[{context}] the refused retry booked nothing"
    );
    let again = post(&eshop, &redeem, json!({ "order_ref": "X", "points": 1 }));
    assert_eq!(
        again, first,
        "[{context}] the same redemption again answers what the first answered"
    );

    // Earn.
    let earn = format!("/v1/members/{id}/earn");
    let lines = |minor: i64| json!([{ "sku": "ANY", "total_minor": minor }]);
    let first = post(
        &eshop,
        &earn,
        json!({ "order_ref": "E", "lines": lines(500_000) }),
    );
    assert_eq!(
        first.0, 200,
        "[{context}] the first earning is booked: {}",
        first.1
    );
    let other = post(
        &eshop,
        &earn,
        json!({ "order_ref": "E", "lines": lines(900_000) }),
    );
    assert_refused_as_reused(&other, &format!("{context} earn"));
    let again = post(
        &eshop,
        &earn,
        json!({ "order_ref": "E", "lines": lines(500_000) }),
    );
    assert_eq!(
        again, first,
        "[{context}] the same earning again answers the first"
    );
    let earned = eshop
        .entries(&id)
        .iter()
        .filter(|e| e["kind"] == "earn")
        .count();
    assert_eq!(earned, 1, "[{context}] one order earns once");

    // Adjust.
    let adjust = format!("/v1/members/{id}/adjust");
    let body = |points: i64| json!({ "reference": "A", "points": points, "reason": "goodwill" });
    let first = post(&eshop, &adjust, body(5));
    assert_eq!(
        first.0, 200,
        "[{context}] the adjustment is booked: {}",
        first.1
    );
    assert_refused_as_reused(
        &post(&eshop, &adjust, body(6)),
        &format!("{context} adjust"),
    );
    assert_eq!(
        post(&eshop, &adjust, body(5)),
        first,
        "[{context}] the same adjustment again answers the first"
    );

    // Coupon redeem: an order uses one coupon.
    let now = chrono::Utc::now().timestamp_millis();
    let coupon = |title: &str| {
        let (status, issued) = post(
            &eshop,
            &format!("/v1/members/{id}/coupons"),
            json!({ "kind": "campaign", "title": title, "discount_kind": "amount",
                    "value": 500, "valid_from_ms": now - 60_000, "valid_to_ms": now + 86_400_000 }),
        );
        assert_eq!(status, 201, "a coupon is issued: {issued}");
        issued["coupon_id"].as_str().expect("coupon id").to_owned()
    };
    let (one, two) = (coupon("One"), coupon("Two"));
    let use_coupon = |coupon: &str| {
        post(
            &eshop,
            &format!("/v1/coupons/{coupon}/redeem"),
            json!({ "order_ref": "C" }),
        )
    };
    assert_eq!(
        use_coupon(&one).0,
        204,
        "[{context}] the coupon is used on order C"
    );
    assert_refused_as_reused(&use_coupon(&two), &format!("{context} coupon"));
    assert_eq!(
        use_coupon(&one).0,
        204,
        "[{context}] the same coupon on the same order again answers as the first time"
    );
    let (_, profile) = eshop.call(reqwest::Method::GET, &format!("/v1/members/{id}"), None);
    let usable: Vec<&str> = profile["coupons"]
        .as_array()
        .expect("coupons")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        usable.contains(&two.as_str()) && !usable.contains(&one.as_str()),
        "[{context}] the refused coupon is still usable and the used one is not: {usable:?}"
    );

    // Online sales.
    let stock = cloud.get_with_key(&eshop.key, "/v1/stores/TPE-XINYI/stock");
    let sku = stock[0]["sku"]
        .as_str()
        .expect("a SKU with stock")
        .to_owned();
    let level = || {
        cloud.get_with_key(&eshop.key, &format!("/v1/stores/TPE-XINYI/stock?sku={sku}"))[0]
            ["on_hand"]
            .as_i64()
            .expect("on hand")
    };
    let before = level();
    let order = |quantity: i64| {
        json!({ "order_ref": "S", "stock_from": "TPE-XINYI", "currency": "TWD",
                "lines": [{ "sku": sku, "quantity": quantity, "total_minor": 10_000 * quantity }] })
    };
    let first = post(&eshop, "/v1/online-sales", order(1));
    assert_eq!(
        first.0, 201,
        "[{context}] the order is recorded: {}",
        first.1
    );
    assert_refused_as_reused(
        &post(&eshop, "/v1/online-sales", order(5)),
        &format!("{context} online sale"),
    );
    let again = post(&eshop, "/v1/online-sales", order(1));
    assert_eq!(
        (again.0, &again.1),
        (200, &first.1),
        "[{context}] the same order again answers the first record"
    );
    assert_eq!(
        level(),
        before - 1,
        "[{context}] only the first order moved stock"
    );
}

#[test]
fn every_keyed_route_refuses_a_reused_key_on_postgres() {
    every_keyed_route(Backend::Postgres);
}

#[test]
fn every_keyed_route_refuses_a_reused_key_on_sqlite() {
    every_keyed_route(Backend::Sqlite);
}

fn one_key_at_once(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let id = member(&eshop, "0912000402", 1_000);
    for round in 0..10 {
        let context = format!("{backend:?} round {round}");
        // Sixteen retries of one request at once: one booking, one answer.
        let same = at_once(16, |client, _| {
            eshop_call(
                client,
                &cloud,
                &eshop.key,
                reqwest::Method::POST,
                &format!("/v1/members/{id}/redeem"),
                Some(json!({ "order_ref": format!("same-{round}"), "points": 10 })),
            )
        });
        assert!(
            same.iter()
                .all(|answer| *answer == same[0] && answer.0 == 200),
            "[{context}] every retry of one request gets the first answer: {same:?}"
        );
        // Sixteen different requests under one key: one is booked, the rest are refused.
        let different = at_once(16, |client, index| {
            eshop_call(
                client,
                &cloud,
                &eshop.key,
                reqwest::Method::POST,
                &format!("/v1/members/{id}/redeem"),
                Some(json!({ "order_ref": format!("diff-{round}"), "points": index as i64 + 1 })),
            )
        });
        let booked: Vec<&(u16, Value)> = different.iter().filter(|a| a.0 == 200).collect();
        assert_eq!(
            booked.len(),
            1,
            "[{context}] one request per key: {different:?}"
        );
        assert!(
            different.iter().filter(|a| a.0 != 200).all(|a| a.0 == 409),
            "[{context}] the others are conflicts: {different:?}"
        );
        let entries = eshop.entries(&id);
        for key in [format!("same-{round}"), format!("diff-{round}")] {
            let count = entries
                .iter()
                .filter(|e| e["kind"] == "redeem" && e["ref_id"] == key.as_str())
                .count();
            assert_eq!(count, 1, "[{context}] order {key} was booked once");
        }
        eshop.balance_as_sum_of_entries(&id, &context);
    }
}

#[test]
fn one_key_sent_at_once_books_once_on_postgres() {
    one_key_at_once(Backend::Postgres);
}

#[test]
fn one_key_sent_at_once_books_once_on_sqlite() {
    one_key_at_once(Backend::Sqlite);
}

fn one_online_order_at_once(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let stock = cloud.get_with_key(&eshop.key, "/v1/stores/TPE-XINYI/stock");
    let sku = stock[0]["sku"]
        .as_str()
        .expect("a SKU with stock")
        .to_owned();
    let level = || {
        cloud.get_with_key(&eshop.key, &format!("/v1/stores/TPE-XINYI/stock?sku={sku}"))[0]
            ["on_hand"]
            .as_i64()
            .expect("on hand")
    };
    let order = |order_ref: &str, quantity: usize| {
        json!({ "order_ref": order_ref, "stock_from": "TPE-XINYI", "currency": "TWD",
                "lines": [{ "sku": sku, "quantity": quantity, "total_minor": 10_000 }] })
    };
    for round in 0..6 {
        let context = format!("{backend:?} round {round}");
        let before = level();
        let same = at_once(16, |client, _| {
            eshop_call(
                client,
                &cloud,
                &eshop.key,
                reqwest::Method::POST,
                "/v1/online-sales",
                Some(order(&format!("same-{round}"), 1)),
            )
        });
        let created = same.iter().filter(|a| a.0 == 201).count();
        assert_eq!(
            created, 1,
            "[{context}] one order is recorded once: {same:?}"
        );
        assert!(
            same.iter()
                .all(|a| matches!(a.0, 200 | 201) && a.1["sale_id"] == same[0].1["sale_id"]),
            "[{context}] every retry answers the one record: {same:?}"
        );
        let different = at_once(16, |client, index| {
            eshop_call(
                client,
                &cloud,
                &eshop.key,
                reqwest::Method::POST,
                "/v1/online-sales",
                Some(order(&format!("diff-{round}"), index + 1)),
            )
        });
        let created: Vec<usize> = different
            .iter()
            .enumerate()
            .filter(|(_, a)| a.0 == 201)
            .map(|(index, _)| index + 1)
            .collect();
        assert_eq!(
            created.len(),
            1,
            "[{context}] one order per key: {different:?}"
        );
        assert!(
            different.iter().all(|a| matches!(a.0, 201 | 409)),
            "[{context}] the other orders under the key are conflicts: {different:?}"
        );
        assert_eq!(
            level(),
            before - 1 - created[0] as i64,
            "[{context}] stock moved once per recorded order, by that order's quantity"
        );
    }
}

#[test]
fn one_online_order_sent_at_once_moves_stock_once_on_postgres() {
    one_online_order_at_once(Backend::Postgres);
}

#[test]
fn one_online_order_sent_at_once_moves_stock_once_on_sqlite() {
    one_online_order_at_once(Backend::Sqlite);
}
