//! Click-and-collect orders at the cloud, in process on SQLite and PostgreSQL: an order placed
//! by the e-shop gets a pickup code and a QR token its store's tills can verify offline, and
//! reserves its stock once; a retry is answered without reserving more, another order under
//! the same reference is refused; a cancellation releases the stock once, however many arrive
//! at the same time; bad orders are refused in words and leave nothing behind. What a missing
//! line gets, a substitute or a refund, is in `pickups/substitutes.rs`; putting a cancelled
//! order's picked items back in `pickups/put_back.rs`.

use std::sync::Arc;

use omnitill_cloud::clock::{Clock, ManualClock};
use omnitill_cloud::pickups::cancel::{self, CancelRequest};
use omnitill_cloud::pickups::expiry;
use omnitill_cloud::pickups::place::{self, PickupLineRequest, PickupRequest};
use omnitill_cloud::{CloudError, Db, demo, members, pickups};
use omnitill_core::pickup_code;
use ring::signature::KeyPair;

mod support;
use support::both_backends;

#[path = "pickups/put_back.rs"]
mod put_back;
#[path = "pickups/store_till.rs"]
mod store_till;
#[path = "pickups/substitutes.rs"]
mod substitutes;

const STORE: &str = "TPE-XINYI";
/// When the orders are promised ready: an hour after the tests' clock starts.
const PROMISED_AT_MS: i64 = 1_800_000_000_000;

fn line(sku: &str, quantity: i64, total_minor: i64) -> PickupLineRequest {
    PickupLineRequest {
        sku: sku.into(),
        quantity,
        total_minor,
    }
}

fn request(order_ref: &str) -> PickupRequest {
    PickupRequest {
        order_ref: order_ref.into(),
        store: STORE.into(),
        payment: "paid_online".into(),
        member_id: None,
        guest_name: Some("林小姐".into()),
        guest_contact: Some("0912-345-678".into()),
        currency: "TWD".into(),
        // A fixed time: a retry sends the same body, to the byte.
        promised_at_ms: PROMISED_AT_MS,
        lines: vec![
            line("TEA-DDO-75g", 2, 96_000),
            line("TEA-ALS-150g", 1, 74_000),
        ],
        accepts_substitutes: false,
    }
}

async fn seeded(db_url: &support::TestDatabase) -> Db {
    seeded_with_clock(db_url).await.0
}

/// The demo brand on a clock that moves only when the test moves it.
async fn seeded_with_clock(db_url: &support::TestDatabase) -> (Db, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp_millis(PROMISED_AT_MS - 3_600_000).expect("a valid time"),
    ));
    let db = db_url.connect(clock.clone()).await;
    demo::seed(&db).await.expect("the demo brand is seeded");
    (db, clock)
}

async fn store_id(db: &Db) -> String {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM store WHERE code = $1")
        .bind(STORE)
        .fetch_one(&db.read)
        .await
        .expect("the demo store");
    id
}

/// What open pickup orders hold of `sku` at the demo store.
async fn reserved(db: &Db, sku: &str) -> i64 {
    let store = store_id(db).await;
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT reserved FROM stock_level WHERE store_id = $1 AND sku = $2")
            .bind(&store)
            .bind(sku)
            .fetch_optional(&db.read)
            .await
            .expect("the level reads");
    row.map_or(0, |(r,)| r)
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&db.read)
        .await
        .expect("a count");
    n
}

#[tokio::test]
async fn a_placed_order_gets_a_code_and_a_signed_qr_and_reserves_its_stock_once() {
    both_backends(|database| async move {
        let db = seeded(&database).await;
        let (created, placed) = place::place(&db, &request("WEB-1001"))
            .await
            .expect("the order is placed");
        assert!(created, "a new order is created");
        let order = &placed.order;
        assert_eq!(order.status, "new");
        assert_eq!(order.total_minor, 170_000, "the lines' totals add up");
        let masked = order.contact_masked.as_deref().unwrap_or("");
        assert!(
            !masked.is_empty() && !masked.chars().any(|c| c.is_ascii_digit()),
            "the guest's phone is kept only masked, no digit of it (the threat model's rule \
             for phones at a store): {masked:?}"
        );
        assert_eq!(
            pickup_code::normalise_code(&order.code).as_deref(),
            Some(order.code.as_str()),
            "the pickup code is a valid code: {}",
            order.code
        );
        let public_key = {
            let mut tx = db.read.begin().await.expect("a transaction");
            let secrets = members::secrets(&mut tx).await.expect("the brand's keys");
            secrets.qr.public_key().as_ref().to_vec()
        };
        let placed_at =
            chrono::DateTime::from_timestamp_millis(order.created_at_ms).expect("a time");
        let qr = pickup_code::verify_pickup_qr(&public_key, &placed.qr_token, placed_at)
            .expect("the QR verifies with the brand's public key, as a till does offline");
        assert_eq!(
            (qr.order_id.as_str(), qr.code.as_str()),
            (order.id.as_str(), order.code.as_str())
        );
        assert_eq!(
            qr.store_id,
            store_id(&db).await,
            "the QR names the pickup store"
        );
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            2,
            "the line's units are reserved"
        );
        assert_eq!(reserved(&db, "TEA-ALS-150g").await, 1);
        assert_eq!(
            count(&db, "SELECT count(*) FROM feed WHERE entity = 'pickup'").await,
            1,
            "the order is published to its store's tills"
        );

        let (again, repeated) = place::place(&db, &request("WEB-1001"))
            .await
            .expect("the same order again is answered");
        assert!(!again, "a retry is not a new order");
        assert_eq!(repeated, placed, "a retry gets the first answer");
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            2,
            "a retry reserves nothing more"
        );

        let mut other = request("WEB-1001");
        other.lines[0].quantity = 3;
        let refused = place::place(&db, &other).await;
        assert!(
            matches!(refused, Err(CloudError::Conflict(_))),
            "another order under the same reference is refused: {refused:?}"
        );
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            2,
            "and reserves nothing"
        );
        let read = pickups::get(&db, "WEB-1001")
            .await
            .expect("the order reads");
        assert_eq!(read.order, placed.order, "the e-shop reads what it placed");
        database
    })
    .await;
}

#[tokio::test]
async fn a_cancellation_releases_the_stock_once_and_a_repeat_changes_nothing() {
    both_backends(|database| async move {
        let db = seeded(&database).await;
        place::place(&db, &request("WEB-2001"))
            .await
            .expect("placed");
        let reason = CancelRequest {
            reason: Some("the customer changed their mind".into()),
        };
        let cancelled = cancel::cancel(&db, "WEB-2001", &reason)
            .await
            .expect("an open order cancels");
        assert_eq!(cancelled.order.status, "cancelled");
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            0,
            "its stock is free again"
        );
        let statuses: Vec<&str> = cancelled
            .history
            .iter()
            .map(|e| e.status.as_str())
            .collect();
        assert_eq!(
            statuses,
            ["new", "cancelled"],
            "the history says what happened"
        );
        assert_eq!(
            cancelled.history[1].note.as_deref(),
            Some("the customer changed their mind")
        );

        let again = cancel::cancel(&db, "WEB-2001", &reason)
            .await
            .expect("cancelling a cancelled order answers it");
        assert_eq!(again.order.status, "cancelled");
        assert_eq!(again.history.len(), 2, "a repeat records nothing");
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            0,
            "nor releases anything twice"
        );
        let missing = cancel::cancel(&db, "WEB-404", &reason).await;
        assert!(
            matches!(missing, Err(CloudError::NotFound(_))),
            "{missing:?}"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn sixteen_cancellations_at_once_release_the_stock_once() {
    both_backends(|database| async move {
        let db = seeded(&database).await;
        place::place(&db, &request("WEB-3001"))
            .await
            .expect("placed");
        let reason = CancelRequest { reason: None };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let db = db.clone();
            let reason = reason.clone();
            tasks.spawn(async move { cancel::cancel(&db, "WEB-3001", &reason).await });
        }
        while let Some(done) = tasks.join_next().await {
            let answer = done.expect("the task ran");
            assert!(
                matches!(&answer, Ok(view) if view.order.status == "cancelled"),
                "every cancellation is answered with the cancelled order: {answer:?}"
            );
        }
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            0,
            "released once, not 16 times"
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM pickup_event WHERE status = 'cancelled'"
            )
            .await,
            1,
            "one cancellation happened"
        );
        database
    })
    .await;
}

/// A change that makes a good order bad.
type Spoil = Box<dyn Fn(&mut PickupRequest)>;

#[tokio::test]
async fn a_bad_order_is_refused_in_words_and_leaves_nothing_behind() {
    both_backends(|database| async move {
        let db = seeded(&database).await;
        let cases: Vec<(&str, Spoil)> = vec![
            ("payment", Box::new(|r| r.payment = "cash".into())),
            ("guest_name", Box::new(|r| r.guest_name = None)),
            (
                "guest_name",
                Box::new(|r| r.guest_name = Some("x".repeat(101))),
            ),
            ("currency", Box::new(|r| r.currency = "twd".into())),
            ("promised_at_ms", Box::new(|r| r.promised_at_ms = -1)),
            ("lines", Box::new(|r| r.lines.clear())),
            ("quantity", Box::new(|r| r.lines[0].quantity = 0)),
            ("quantity", Box::new(|r| r.lines[0].quantity = 1_000)),
            ("negative", Box::new(|r| r.lines[0].total_minor = -1)),
            (
                "catalog",
                Box::new(|r| r.lines[0].sku = "NO-SUCH-SKU".into()),
            ),
            (
                "member",
                Box::new(|r| r.member_id = Some("no-such-member".into())),
            ),
            (
                "guest_contact",
                Box::new(|r| r.guest_contact = Some("not a phone".into())),
            ),
            (
                "2^63",
                Box::new(|r| {
                    r.lines[0].total_minor = i64::MAX;
                    r.lines[1].total_minor = 1;
                }),
            ),
            ("order_ref", Box::new(|r| r.order_ref = " ".into())),
        ];
        for (index, (field, spoil)) in cases.iter().enumerate() {
            let mut bad = request(&format!("WEB-BAD-{index}"));
            spoil(&mut bad);
            let refused = place::place(&db, &bad).await;
            assert!(
                matches!(&refused, Err(CloudError::BadRequest(m)) if m.contains(field)),
                "a bad {field} is refused, naming it: {refused:?}"
            );
        }
        let mut elsewhere = request("WEB-BAD-STORE");
        elsewhere.store = "NO-SUCH-STORE".into();
        assert!(matches!(
            place::place(&db, &elsewhere).await,
            Err(CloudError::NotFound(_))
        ));
        assert_eq!(
            count(&db, "SELECT count(*) FROM pickup_order").await,
            0,
            "nothing was placed"
        );
        assert_eq!(
            count(&db, "SELECT count(*) FROM pickup_reservation").await,
            0,
            "nothing was reserved"
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM idempotent_request WHERE route = 'pickup'"
            )
            .await,
            0,
            "a refused order leaves no key, so it can be placed once corrected"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn an_uncollected_order_expires_after_the_brands_days_and_releases_its_stock_once() {
    both_backends(|database| async move {
        let (db, clock) = seeded_with_clock(&database).await;
        let (_, placed) = place::place(&db, &request("WEB-4001"))
            .await
            .expect("placed");
        let placed_at = placed.order.created_at_ms;
        assert_eq!(
            placed.order.expires_at_ms - placed_at,
            7 * 86_400_000,
            "an order waits 7 days by default"
        );
        clock.advance(chrono::Duration::days(7) - chrono::Duration::minutes(1));
        assert_eq!(
            expiry::expire_due(&db, clock.now())
                .await
                .expect("the job runs"),
            0,
            "a minute early, nothing expires"
        );
        assert_eq!(reserved(&db, "TEA-DDO-75g").await, 2);
        clock.advance(chrono::Duration::minutes(2));
        let (first, second) = tokio::join!(
            expiry::expire_due(&db, clock.now()),
            expiry::expire_due(&db, clock.now())
        );
        assert_eq!(
            first.expect("one run") + second.expect("the other"),
            1,
            "two runs at once expire the order once"
        );
        assert_eq!(
            reserved(&db, "TEA-DDO-75g").await,
            0,
            "its stock is free again"
        );
        assert_eq!(reserved(&db, "TEA-ALS-150g").await, 0);
        let expired = pickups::get(&db, "WEB-4001")
            .await
            .expect("the order reads");
        assert_eq!(expired.order.status, "expired");
        assert_eq!(
            expired.history.last().map(|e| e.source.as_str()),
            Some("job")
        );
        assert_eq!(
            expiry::expire_due(&db, clock.now()).await.expect("again"),
            0,
            "a later run finds nothing more"
        );
        let late = cancel::cancel(&db, "WEB-4001", &CancelRequest { reason: None }).await;
        assert!(
            matches!(&late, Err(CloudError::Conflict(m)) if m.contains("expired")),
            "an expired order cannot be cancelled: {late:?}"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn the_brands_settings_set_the_expiry_and_when_points_are_earned() {
    use omnitill_cloud::pickups::settings::{self, PickupSettings};
    both_backends(|database| async move {
        let db = seeded(&database).await;
        let defaults = settings::get(&db).await.expect("the settings");
        assert_eq!(
            (defaults.expiry_days, defaults.points_on.as_str()),
            (7, "collection"),
            "a week, and points when the customer collects"
        );
        for (days, rule) in [(0, "collection"), (31, "collection"), (3, "never")] {
            let refused = settings::set(
                &db,
                &PickupSettings {
                    expiry_days: days,
                    points_on: rule.into(),
                },
            )
            .await;
            assert!(
                matches!(refused, Err(CloudError::BadRequest(_))),
                "{days} {rule}"
            );
        }
        settings::set(
            &db,
            &PickupSettings {
                expiry_days: 3,
                points_on: "online_payment".into(),
            },
        )
        .await
        .expect("set");
        let member = members::sign_up(
            &db,
            &members::SignUp {
                phone: Some("0966-777-888".into()),
                email: None,
                name: "Online payer".into(),
                birthday: None,
                consent_terms: true,
                consent_marketing: false,
                tags: Vec::new(),
            },
        )
        .await
        .expect("a member")
        .id;
        let mut paid = request("WEB-5001");
        paid.member_id = Some(member.clone());
        let (_, placed) = place::place(&db, &paid).await.expect("placed");
        assert_eq!(
            placed.order.expires_at_ms - placed.order.created_at_ms,
            3 * 86_400_000,
            "new orders follow the brand's days"
        );
        let (earned,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM points_entry WHERE member_id = $1 AND kind = 'earn'",
        )
        .bind(&member)
        .fetch_one(&db.read)
        .await
        .expect("a count");
        assert_eq!(
            earned, 1,
            "paid online, the order earns at once, by the brand's rule"
        );
        database
    })
    .await;
}
