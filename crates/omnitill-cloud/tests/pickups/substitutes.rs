//! Missing pickup lines, in process on SQLite and PostgreSQL (part of the `pickups` test): a
//! store's till pushes its `pickup.line.v1` operations and the cloud decides what the customer
//! gets. A substitute the brand names is offered when the order accepts substitutes and it is
//! in stock and no dearer; otherwise the line is refunded and not charged. Stock moves exactly
//! once (on hand and reserved equal a recomputation), two lines at once never get the same
//! last units, the e-shop's webhooks carry the resolutions, and the brand's route for naming
//! substitutes refuses bad input in words that name the field.

use std::collections::BTreeMap;
use std::sync::Arc;

use omnitill_cloud::catalog;
use omnitill_cloud::clock::{Clock, ManualClock};
use omnitill_cloud::pickups::PickupView;
use omnitill_cloud::pickups::substitutes::{self, SubstituteList};
use omnitill_cloud::webhooks::{self, NewEndpoint};
use omnitill_protocol::push::Status;
use serde_json::{Value, json};

use super::store_till::StoreTill;
use super::{request, reserved, seeded_with_clock, store_id};
use crate::support::{TestDatabase, both_backends};
use omnitill_cloud::{CloudError, Db, stock};

/// The line a store cannot find: line 1 of `request`, 2 units for 96,000 (48,000 a unit).
const MISSING_SKU: &str = "TEA-DDO-75g";
const MISSING_TOTAL: i64 = 96_000;
/// The brand's substitutes for it, in its order of preference.
const DEARER: &str = "TEA-OBT-75g";
const SHORT: &str = "TEA-SML-75g";
const FITS: &str = "TEA-JAS-75g";

/// Sets `sku`'s price from the clock's present on.
async fn price(db: &Db, sku: &str, price_minor: i64) {
    catalog::set_price(db, sku, db.now_ms(), price_minor)
        .await
        .expect("the price is set");
}

/// Moves `sku`'s stock at the demo store so that exactly `available` units are free.
async fn make_available(db: &Db, sku: &str, available: i64) {
    let store = store_id(db).await;
    let (on_hand, reserved): (i64, i64) = sqlx::query_as(
        "SELECT on_hand, reserved FROM stock_level WHERE store_id = $1 AND sku = $2",
    )
    .bind(&store)
    .bind(sku)
    .fetch_one(&db.read)
    .await
    .expect("the level");
    let mut tx = db.write.begin().await.expect("a transaction");
    stock::move_stock(
        &mut tx,
        &stock::movement_id(),
        &store,
        sku,
        available + reserved - on_hand,
        "adjust",
        "test",
        db.now_ms(),
    )
    .await
    .expect("the stock is adjusted");
    tx.commit().await.expect("committed");
}

async fn on_hand(db: &Db, sku: &str) -> i64 {
    let levels = stock::levels(db, &store_id(db).await, Some(sku))
        .await
        .expect("the level");
    levels.first().map_or(0, |(_, on_hand, _)| *on_hand)
}

async fn place(db: &Db, order_ref: &str, payment: &str, accepts_substitutes: bool) -> PickupView {
    let mut order = request(order_ref);
    order.payment = payment.into();
    order.accepts_substitutes = accepts_substitutes;
    omnitill_cloud::pickups::place::place(db, &order)
        .await
        .expect("placed")
        .1
}

async fn read(db: &Db, order_ref: &str) -> PickupView {
    omnitill_cloud::pickups::get(db, order_ref)
        .await
        .expect("the order reads")
}

/// Asserts that every level of the demo store is what its records say: on hand is the sum of
/// its movements, reserved the sum of the reservations still held.
async fn assert_stock_recomputes(db: &Db, why: &str) {
    let store = store_id(db).await;
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let moved: Vec<(String, i64)> =
        sqlx::query_as("SELECT sku, delta FROM stock_movement WHERE store_id = $1")
            .bind(&store)
            .fetch_all(&db.read)
            .await
            .expect("the movements");
    for (sku, delta) in moved {
        expected.entry(sku).or_default().0 += delta;
    }
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sku, quantity FROM pickup_reservation WHERE store_id = $1 AND state = 'held'",
    )
    .bind(&store)
    .fetch_all(&db.read)
    .await
    .expect("the reservations");
    for (sku, quantity) in held {
        expected.entry(sku).or_default().1 += quantity;
    }
    let levels: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT sku, on_hand, reserved FROM stock_level WHERE store_id = $1")
            .bind(&store)
            .fetch_all(&db.read)
            .await
            .expect("the levels");
    for (sku, on_hand, reserved) in levels {
        let (moved, held) = expected.get(&sku).copied().unwrap_or_default();
        assert_eq!(
            (on_hand, reserved),
            (moved, held),
            "{why}: {sku}'s level is the sum of its movements and of its held reservations, so \
             nothing moved twice or was lost"
        );
    }
}

/// The `data` of each event of `event_type` the e-shop is owed about `order_ref`.
async fn events(db: &Db, event_type: &str, order_ref: &str) -> Vec<Value> {
    let bodies: Vec<(String,)> =
        sqlx::query_as("SELECT body FROM webhook_delivery WHERE event_type = $1")
            .bind(event_type)
            .fetch_all(&db.read)
            .await
            .expect("the deliveries");
    bodies
        .into_iter()
        .filter_map(|(body,)| serde_json::from_str::<Value>(&body).ok())
        .map(|event| event["data"].clone())
        .filter(|data| data["order_ref"] == order_ref)
        .collect()
}

/// The demo brand on the test clock, with the substitutes named and priced: `DEARER` costs a
/// unit more than the missing line's unit price, `SHORT` has one unit free, `FITS` fits.
async fn with_substitutes(database: &TestDatabase) -> Db {
    with_substitutes_and_clock(database).await.0
}

/// `with_substitutes`, with the clock the test moves.
async fn with_substitutes_and_clock(database: &TestDatabase) -> (Db, Arc<ManualClock>) {
    let (db, clock) = seeded_with_clock(database).await;
    price(&db, DEARER, MISSING_TOTAL / 2 + 1).await;
    price(&db, SHORT, 40_000).await;
    price(&db, FITS, MISSING_TOTAL / 2).await;
    make_available(&db, SHORT, 1).await;
    make_available(&db, FITS, 10).await;
    let list = SubstituteList {
        substitutes: vec![DEARER.into(), SHORT.into(), FITS.into()],
    };
    substitutes::set(&db, MISSING_SKU, &list)
        .await
        .expect("the brand names the substitutes");
    webhooks::register(
        &db,
        &NewEndpoint {
            url: "http://127.0.0.1:9/hooks".into(),
        },
    )
    .await
    .expect("an endpoint, so events are owed");
    (db, clock)
}

#[tokio::test]
async fn a_missing_line_gets_the_first_substitute_in_stock_and_no_dearer_when_the_order_accepts_them()
 {
    both_backends(|database| async move {
        let db = with_substitutes(&database).await;
        let placed = place(&db, "WEB-SUB-1", "paid_online", true).await;
        assert!(
            placed.accepts_substitutes,
            "the order says what the e-shop sent"
        );
        let order_id = placed.order.id.clone();
        let mut till = StoreTill::enrol(&db, "Pickup counter").await;
        let fits_before = on_hand(&db, FITS).await;
        let missing_before = on_hand(&db, MISSING_SKU).await;

        let outcome = till.line(&db, &order_id, 1, true).await;
        assert_eq!(outcome.status, Status::Applied, "{outcome:?}");
        let view = read(&db, "WEB-SUB-1").await;
        let line = &view.order.lines[0];
        assert_eq!(
            (line.resolution.as_deref(), line.substitute_sku.as_deref()),
            (Some("substitute"), Some(FITS)),
            "the first named substitute that is no dearer and has 2 free units is offered, \
             past the dearer one and the one with a single unit"
        );
        assert_eq!(
            reserved(&db, MISSING_SKU).await,
            0,
            "the missing line's stock is released"
        );
        assert_eq!(
            reserved(&db, FITS).await,
            2,
            "the substitute's units are held for the line"
        );
        assert_eq!(
            reserved(&db, SHORT).await,
            0,
            "a substitute not offered holds nothing"
        );
        assert_eq!(
            (view.charged_minor, view.refund_minor),
            (170_000, 0),
            "the customer pays the line's own price for the substitute, and is owed nothing"
        );
        assert_stock_recomputes(&db, "after the substitute was held").await;

        let again = till.line(&db, &order_id, 1, true).await;
        assert_eq!(
            again.status,
            Status::Rejected,
            "a line is missing once; a second report is refused: {again:?}"
        );
        assert_eq!(reserved(&db, FITS).await, 2, "and holds nothing more");

        till.finish(&db, &order_id, &[2]).await;
        let collected = read(&db, "WEB-SUB-1").await;
        assert_eq!(collected.order.status, "partially_collected");
        assert_eq!(
            reserved(&db, FITS).await,
            0,
            "the substitute's hold is taken"
        );
        assert_eq!(
            on_hand(&db, FITS).await,
            fits_before - 2,
            "the substitute leaves the store once, at handover"
        );
        assert_eq!(
            on_hand(&db, MISSING_SKU).await,
            missing_before,
            "the missing SKU never left the store"
        );
        let settled: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT line_no, kind, state, settled_by FROM pickup_reservation
             WHERE order_id = $1 ORDER BY line_no, kind",
        )
        .bind(&order_id)
        .fetch_all(&db.read)
        .await
        .expect("the reservations");
        let settled: Vec<(i64, &str, &str, Option<&str>)> = settled
            .iter()
            .map(|(n, k, s, b)| (*n, k.as_str(), s.as_str(), b.as_deref()))
            .collect();
        assert_eq!(
            settled,
            [
                (1, "ordered", "released", Some("missing")),
                (1, "substitute", "taken", Some("handover")),
                (2, "ordered", "taken", Some("handover")),
            ],
            "each reservation settled exactly once, by what ended it"
        );
        assert_stock_recomputes(&db, "after the handover").await;
        for event in ["pickup.ready", "pickup.partially_collected"] {
            let told = events(&db, event, "WEB-SUB-1").await;
            assert_eq!(told.len(), 1, "one {event} event is owed");
            assert_eq!(
                (
                    &told[0]["lines"][0]["resolution"],
                    &told[0]["lines"][0]["substitute_sku"],
                    &told[0]["charged_minor"],
                ),
                (&json!("substitute"), &json!(FITS), &json!(170_000)),
                "the e-shop's {event} event says what the customer gets for the missing line"
            );
        }
        database
    })
    .await;
}

#[tokio::test]
async fn a_substitute_handed_over_after_the_order_expired_leaves_the_store_once() {
    both_backends(|database| async move {
        let (db, clock) = with_substitutes_and_clock(&database).await;
        let placed = place(&db, "WEB-LATE-1", "paid_online", true).await;
        let order_id = placed.order.id.clone();
        let mut till = StoreTill::enrol(&db, "Pickup counter").await;
        let fits_before = on_hand(&db, FITS).await;
        let outcome = till.line(&db, &order_id, 1, true).await;
        assert_eq!(outcome.status, Status::Applied, "{outcome:?}");
        assert_eq!(reserved(&db, FITS).await, 2, "the substitute is held");

        clock.advance(chrono::Duration::days(8));
        let expired = omnitill_cloud::pickups::expiry::expire_due(&db, clock.now())
            .await
            .expect("the job runs");
        assert_eq!(expired, 1, "the uncollected order expires");
        assert_eq!(
            reserved(&db, FITS).await,
            0,
            "expiry releases the substitute's hold with the line's own"
        );
        // The store handed it over offline before it heard of the expiry; that stands.
        till.finish(&db, &order_id, &[2]).await;
        let view = read(&db, "WEB-LATE-1").await;
        assert_eq!(view.order.status, "partially_collected");
        assert_eq!(
            on_hand(&db, FITS).await,
            fits_before - 2,
            "the substitute left the store with the customer, once"
        );
        let handed = json!({ "order_id": order_id, "staff_id": "staff-1",
                             "at_ms": db.now_ms(), "verified_by": "code", "sale_id": null });
        let again = till.push(&db, "pickup.handed_over.v1", handed).await;
        assert_eq!(again.status, Status::Applied, "{again:?}");
        assert_eq!(
            on_hand(&db, FITS).await,
            fits_before - 2,
            "a second handover moves nothing more"
        );
        assert_eq!(
            read(&db, "WEB-LATE-1").await.order.review.as_deref(),
            Some("handed_over_twice")
        );
        assert_stock_recomputes(&db, "after a handover of an expired order").await;
        database
    })
    .await;
}

#[tokio::test]
async fn a_missing_line_is_refunded_when_not_accepted_out_of_stock_or_dearer() {
    both_backends(|database| async move {
        let db = with_substitutes(&database).await;
        let mut till = StoreTill::enrol(&db, "Pickup counter").await;
        // Each case names one substitute, which would be offered but for what the case says.
        let cases: [(&str, bool, &str); 3] = [
            ("the customer does not accept substitutes", false, FITS),
            ("the substitute has too few units free", true, SHORT),
            ("the substitute costs more a unit", true, DEARER),
        ];
        for (index, (why, accepts, only)) in cases.into_iter().enumerate() {
            let list = SubstituteList {
                substitutes: vec![only.into()],
            };
            substitutes::set(&db, MISSING_SKU, &list)
                .await
                .expect("named");
            let order_ref = format!("WEB-REFUND-{index}");
            let placed = place(&db, &order_ref, "paid_online", accepts).await;
            let held_before = reserved(&db, only).await;
            let outcome = till.line(&db, &placed.order.id, 1, true).await;
            assert_eq!(outcome.status, Status::Applied, "{why}: {outcome:?}");
            let view = read(&db, &order_ref).await;
            let line = &view.order.lines[0];
            assert_eq!(
                (line.resolution.as_deref(), line.substitute_sku.as_deref()),
                (Some("refund"), None),
                "{why}: the line is refunded"
            );
            assert_eq!(
                (view.charged_minor, view.refund_minor),
                (170_000 - MISSING_TOTAL, MISSING_TOTAL),
                "{why}: the line is not charged, and the e-shop owes its total back"
            );
            assert_eq!(
                reserved(&db, only).await,
                held_before,
                "{why}: nothing of the substitute is held"
            );
            assert_stock_recomputes(&db, why).await;
        }
        assert_eq!(
            reserved(&db, MISSING_SKU).await,
            0,
            "every missing line's stock was released"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn a_partial_pickups_amount_charged_excludes_the_refunded_line() {
    both_backends(|database| async move {
        let db = with_substitutes(&database).await;
        let mut till = StoreTill::enrol(&db, "Pickup counter").await;
        for (order_ref, payment, refund) in [
            ("WEB-PART-1", "pay_at_pickup", 0),
            ("WEB-PART-2", "paid_online", MISSING_TOTAL),
        ] {
            let placed = place(&db, order_ref, payment, false).await;
            assert_eq!(
                (placed.charged_minor, placed.refund_minor),
                (170_000, 0),
                "{payment}: a new order is charged its total"
            );
            let outcome = till.line(&db, &placed.order.id, 1, true).await;
            assert_eq!(outcome.status, Status::Applied, "{outcome:?}");
            till.finish(&db, &placed.order.id, &[2]).await;
            let view = read(&db, order_ref).await;
            assert_eq!(view.order.status, "partially_collected");
            assert_eq!(
                (view.charged_minor, view.refund_minor),
                (170_000 - MISSING_TOTAL, refund),
                "{payment}: the customer pays only the line collected; paid online, the \
                 missing line's total is owed back, paid at pickup it was never taken"
            );
            assert_eq!(
                view.order.total_minor, 170_000,
                "the order's total stays what was ordered"
            );
            let told = events(&db, "pickup.partially_collected", order_ref).await;
            assert_eq!(
                (
                    &told[0]["lines"][0]["resolution"],
                    &told[0]["charged_minor"],
                    &told[0]["refund_minor"],
                ),
                (
                    &json!("refund"),
                    &json!(170_000 - MISSING_TOTAL),
                    &json!(refund)
                ),
                "{payment}: the e-shop is told what was charged and what it owes back"
            );
        }
        assert_stock_recomputes(&db, "after two partial pickups").await;
        database
    })
    .await;
}

#[tokio::test]
async fn two_missing_lines_at_once_never_get_the_same_last_units_of_a_substitute() {
    both_backends(|database| async move {
        let db = with_substitutes(&database).await;
        // Two SKUs share one substitute: line 1 (2 units of MISSING_SKU) and line 2 (1 unit of
        // TEA-ALS-150g for 74,000) may each have it.
        for sku in [MISSING_SKU, "TEA-ALS-150g"] {
            let list = SubstituteList {
                substitutes: vec![FITS.into()],
            };
            substitutes::set(&db, sku, &list).await.expect("named");
        }
        let mut one = StoreTill::enrol(&db, "Counter 1").await;
        let mut two = StoreTill::enrol(&db, "Counter 2").await;
        for round in 0..8 {
            let first = place(&db, &format!("WEB-RACE-{round}-A"), "paid_online", true).await;
            let second = place(&db, &format!("WEB-RACE-{round}-B"), "paid_online", true).await;
            // Two units free: enough for line 1 of the first order or line 2 of the second,
            // not for both.
            make_available(&db, FITS, 2).await;
            let held_before = reserved(&db, FITS).await;
            let (a, b) = tokio::join!(
                one.line(&db, &first.order.id, 1, true),
                two.line(&db, &second.order.id, 2, true)
            );
            assert_eq!((a.status, b.status), (Status::Applied, Status::Applied));
            let first_line = read(&db, &first.order.order_ref).await.order.lines[0].clone();
            let second_line = read(&db, &second.order.order_ref).await.order.lines[1].clone();
            let got: Vec<bool> = [&first_line, &second_line]
                .iter()
                .map(|line| line.resolution.as_deref() == Some("substitute"))
                .collect();
            assert_eq!(
                got.iter().filter(|g| **g).count(),
                1,
                "round {round}: the two free units go to one line, the other is refunded: \
                 {first_line:?} {second_line:?}"
            );
            let held = if got[0] { 2 } else { 1 };
            assert_eq!(
                reserved(&db, FITS).await,
                held_before + held,
                "round {round}: the substitute is held once, for the line that got it"
            );
            assert!(
                on_hand(&db, FITS).await >= reserved(&db, FITS).await,
                "round {round}: no more is held than the store has"
            );
            assert_stock_recomputes(&db, &format!("round {round}")).await;
        }
        database
    })
    .await;
}

#[tokio::test]
async fn bad_substitute_lists_are_refused_with_a_400_naming_the_field_and_change_nothing() {
    use omnitill_cloud::api_keys;
    use omnitill_cloud::scopes::Scope;
    both_backends(|database| async move {
        let db = with_substitutes(&database).await;
        let key = api_keys::create(&db, "brand IT", &[Scope::Read, Scope::Admin])
            .await
            .expect("a key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(omnitill_cloud::serve(
            db.clone(),
            omnitill_cloud::ServeOptions {
                webhooks_loopback_only: true,
            },
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let call = |method: reqwest::Method, sku: &str, body: Option<String>| {
            let mut builder = client
                .request(method, format!("{base}/v1/pickup-substitutes/{sku}"))
                .bearer_auth(&key);
            if let Some(body) = body {
                builder = builder
                    .header("content-type", "application/json")
                    .body(body);
            }
            async move {
                let response = builder.send().await.expect("the cloud answers");
                let status = response.status().as_u16();
                let body: Value = serde_json::from_slice(&response.bytes().await.expect("a body"))
                    .unwrap_or(Value::Null);
                (status, body)
            }
        };
        let eleven: Vec<String> = (0..11).map(|n| format!("SKU-{n}")).collect();
        let cases: [(Value, &str); 8] = [
            (json!({}), "substitutes"),
            (
                json!({ "substitutes": [], "substitute": [FITS] }),
                "unknown field `substitute`",
            ),
            (json!({ "substitutes": FITS }), "substitutes"),
            (json!({ "substitutes": [FITS, 7] }), "substitutes[1]"),
            (json!({ "substitutes": eleven }), "substitutes: at most 10"),
            (
                json!({ "substitutes": [FITS, SHORT, FITS] }),
                "substitutes[2]",
            ),
            (json!({ "substitutes": [MISSING_SKU] }), "substitutes[0]"),
            (
                json!({ "substitutes": [FITS, "NO-SUCH-SKU"] }),
                "substitutes[1]",
            ),
        ];
        for (body, field) in cases {
            let (status, answer) =
                call(reqwest::Method::PUT, MISSING_SKU, Some(body.to_string())).await;
            let message = answer["message"].as_str().unwrap_or("");
            assert!(
                status == 400 && message.contains(field),
                "{body} is refused with a 400 naming {field}: {status} {answer}"
            );
        }
        let (status, kept) = call(reqwest::Method::GET, MISSING_SKU, None).await;
        assert_eq!(status, 200, "{kept}");
        assert_eq!(
            kept["substitutes"],
            json!([DEARER, SHORT, FITS]),
            "a refused list changed nothing"
        );
        let (status, answer) = call(
            reqwest::Method::PUT,
            "NO-SUCH-SKU",
            Some(json!({ "substitutes": [FITS] }).to_string()),
        )
        .await;
        assert_eq!(status, 404, "an unknown SKU has no substitutes: {answer}");
        let (status, answer) = call(
            reqwest::Method::PUT,
            MISSING_SKU,
            Some(json!({ "substitutes": [FITS, DEARER] }).to_string()),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer,
            json!({ "sku": MISSING_SKU, "substitutes": [FITS, DEARER] }),
            "a good list replaces the old, in the order given"
        );
        let cleared = substitutes::set(
            &db,
            MISSING_SKU,
            &SubstituteList {
                substitutes: vec![],
            },
        )
        .await
        .expect("an empty list clears them");
        assert!(cleared.substitutes.is_empty());
        assert!(matches!(
            substitutes::get(&db, "NO-SUCH-SKU").await,
            Err(CloudError::NotFound(_))
        ));
        let _ = stop.send(());
        let _ = server.await;
        database
    })
    .await;
}
