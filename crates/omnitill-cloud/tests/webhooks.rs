//! Signed webhooks to the e-shop, in process on SQLite and PostgreSQL, to a receiver on
//! loopback: a cancelled pickup order owes one `pickup.cancelled` event to each endpoint,
//! signed with HMAC-SHA-256 of the body under the endpoint's secret; an endpoint that fails is
//! tried again with backoff until it answers 2xx, with the same event id every time, and is
//! never sent the event again once it has.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::Duration;
use omnitill_cloud::clock::ManualClock;
use omnitill_cloud::pickups::cancel::{self, CancelRequest};
use omnitill_cloud::pickups::place::{self, PickupLineRequest, PickupRequest};
use omnitill_cloud::webhooks::sender::Sender;
use omnitill_cloud::webhooks::{self, Event, NewEndpoint};
use omnitill_cloud::{CloudError, Db, demo};

mod support;
use support::both_backends;

const START_MS: i64 = 1_800_000_000_000;

/// What the receiver got: (event id header, signature header, body), in order.
type Received = Arc<Mutex<Vec<(String, String, Bytes)>>>;

/// A receiver on loopback that answers 500 to its first `failures` requests, then 204.
async fn receiver(failures: usize) -> (String, Received) {
    let received: Received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let mut all = seen.lock().expect("the receiver's list");
                all.push((
                    header(webhooks::EVENT_ID_HEADER),
                    header(webhooks::SIGNATURE_HEADER),
                    body,
                ));
                if all.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hooks"), received)
}

fn order(order_ref: &str) -> PickupRequest {
    PickupRequest {
        order_ref: order_ref.into(),
        store: "TPE-XINYI".into(),
        payment: "pay_at_pickup".into(),
        member_id: None,
        guest_name: Some("Guest".into()),
        guest_contact: None,
        currency: "TWD".into(),
        promised_at_ms: START_MS + 3_600_000,
        lines: vec![PickupLineRequest {
            sku: "TEA-DDO-75g".into(),
            quantity: 1,
            total_minor: 48_000,
        }],
        accepts_substitutes: false,
    }
}

async fn undelivered(db: &Db) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM webhook_delivery WHERE delivered_at IS NULL")
            .fetch_one(&db.read)
            .await
            .expect("a count");
    n
}

#[tokio::test]
async fn a_cancelled_order_is_told_to_every_endpoint_signed_and_retried_until_acknowledged() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::from_timestamp_millis(START_MS).expect("a time"),
        ));
        let db = database.connect(clock.clone()).await;
        demo::seed(&db).await.expect("the demo brand");
        let (flaky_url, flaky) = receiver(2).await;
        let (steady_url, steady) = receiver(0).await;
        let flaky_endpoint = webhooks::register(&db, &NewEndpoint { url: flaky_url })
            .await
            .expect("an endpoint registers");
        let steady_endpoint = webhooks::register(&db, &NewEndpoint { url: steady_url })
            .await
            .expect("a second endpoint registers");
        let listed = webhooks::list(&db).await.expect("the endpoints list");
        assert!(
            listed.len() == 2 && listed.iter().all(|e| e.secret.is_none()),
            "the list never shows a secret"
        );

        place::place(&db, &order("WEB-HOOK-1"))
            .await
            .expect("placed");
        let reason = CancelRequest { reason: None };
        cancel::cancel(&db, "WEB-HOOK-1", &reason)
            .await
            .expect("cancelled");
        let sender = Sender::new(true).expect("a webhook client");
        assert_eq!(
            sender.send_due(&db).await.expect("a pass"),
            1,
            "the steady one acknowledges"
        );
        assert_eq!(undelivered(&db).await, 1, "the flaky one still owes it");
        assert_eq!(
            sender.send_due(&db).await.expect("a pass"),
            0,
            "a failed delivery waits for its backoff"
        );
        for _ in 0..2 {
            clock.advance(Duration::seconds(61));
            sender.send_due(&db).await.expect("a pass");
        }
        assert_eq!(
            undelivered(&db).await,
            0,
            "the flaky endpoint acknowledged at last"
        );
        clock.advance(Duration::hours(1));
        sender.send_due(&db).await.expect("a pass");

        let flaky = flaky.lock().expect("received").clone();
        let steady = steady.lock().expect("received").clone();
        assert_eq!(steady.len(), 1, "an acknowledged event is sent once");
        assert_eq!(
            flaky.len(),
            3,
            "two failures, then the acknowledgement, then nothing"
        );
        let event_id = &steady[0].0;
        assert!(
            flaky.iter().all(|(id, _, _)| id == event_id),
            "every attempt, to every endpoint, carries the event's one id"
        );
        for ((_, signed, body), secret) in [
            (&steady[0], steady_endpoint.secret.as_deref()),
            (&flaky[2], flaky_endpoint.secret.as_deref()),
        ] {
            let secret = secret.expect("the registration answered the secret");
            assert_eq!(
                signed,
                &webhooks::signature(secret, body),
                "the signature is HMAC-SHA-256 of the body under the endpoint's own secret"
            );
            let event: Event = serde_json::from_slice(body).expect("the body is an event");
            assert_eq!(event.event_type, "pickup.cancelled");
            assert_eq!(&event.id, event_id);
            assert_eq!(event.data["order_ref"], "WEB-HOOK-1");
            assert_eq!(event.data["status"], "cancelled");
        }

        webhooks::remove(&db, &flaky_endpoint.id)
            .await
            .expect("removed");
        assert!(matches!(
            webhooks::remove(&db, &flaky_endpoint.id).await,
            Err(CloudError::NotFound(_))
        ));
        let bad = webhooks::register(
            &db,
            &NewEndpoint {
                url: "http://example.com/hooks".into(),
            },
        )
        .await;
        assert!(
            matches!(bad, Err(CloudError::BadRequest(_))),
            "plain http to a public host is refused: {bad:?}"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn a_loopback_only_cloud_sends_nothing_anywhere_else() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::from_timestamp_millis(START_MS).expect("a time"),
        ));
        let db = database.connect(clock).await;
        demo::seed(&db).await.expect("the demo brand");
        webhooks::register(
            &db,
            &NewEndpoint {
                url: "https://shop.example.com/hooks".into(),
            },
        )
        .await
        .expect("an https endpoint registers");
        place::place(&db, &order("WEB-HOOK-2"))
            .await
            .expect("placed");
        cancel::cancel(&db, "WEB-HOOK-2", &CancelRequest { reason: None })
            .await
            .expect("cancelled");
        let sender = Sender::new(true).expect("a loopback-only client");
        assert_eq!(sender.send_due(&db).await.expect("a pass"), 0);
        let (attempts, error): (i64, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM webhook_delivery")
                .fetch_one(&db.read)
                .await
                .expect("the delivery");
        assert_eq!(attempts, 1, "the attempt is counted");
        assert!(
            error.as_deref().is_some_and(|e| e.contains("loopback")),
            "and held back, saying why: {error:?}"
        );
        assert_eq!(undelivered(&db).await, 1, "the event stays owed");
        database
    })
    .await;
}
