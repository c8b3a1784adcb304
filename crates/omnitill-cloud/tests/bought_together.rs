//! What sells together, in process on SQLite and PostgreSQL: pairs counted once per sale from
//! both channels, a product's most frequent companions kept, rare pairs left out, only changes
//! published, and sales older than a year forgotten.

use std::sync::Arc;

use chrono::Duration;
use omnitill_cloud::bought_together::{self, MIN_SALES};
use omnitill_cloud::clock::{Clock, ManualClock};
use omnitill_cloud::online::{self, OnlineLine, OnlineOrder};
use omnitill_cloud::{Db, demo};
use omnitill_protocol::floor::BoughtTogether;

mod support;
use support::both_backends;

const A: &str = "TEA-DDO-75g";
const B: &str = "TEA-ALS-150g";
const C: &str = "TEA-DDO-150g";
const D: &str = "TEA-DDO-300g";

async fn sell(db: &Db, order_ref: &str, skus: &[&str]) {
    let order = OnlineOrder {
        order_ref: order_ref.into(),
        stock_from: "online".into(),
        currency: "TWD".into(),
        lines: skus
            .iter()
            .map(|sku| OnlineLine {
                sku: (*sku).into(),
                quantity: 1,
                total_minor: 10_000,
            })
            .collect(),
    };
    online::record(db, &order).await.expect("an online sale");
}

async fn published(db: &Db, sku: &str) -> Option<BoughtTogether> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT data FROM feed WHERE entity = 'bought_together' AND entity_key = $1",
    )
    .bind(sku)
    .fetch_optional(&db.read)
    .await
    .expect("the feed reads");
    row.and_then(|(data,)| match serde_json::from_str(&data) {
        Ok(omnitill_protocol::pull::Change::BoughtTogether(together)) => Some(together),
        _ => None,
    })
}

#[tokio::test]
async fn companions_are_counted_once_per_sale_and_only_changes_are_published() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::from_timestamp_millis(1_800_000_000_000).expect("a time"),
        ));
        let db = database.connect(clock.clone()).await;
        demo::seed(&db).await.expect("the demo brand");
        for n in 0..3 {
            sell(&db, &format!("AB-{n}"), &[A, B, B]).await;
        }
        for n in 0..2 {
            sell(&db, &format!("AC-{n}"), &[A, C]).await;
        }
        sell(&db, "AD-0", &[A, D]).await;

        assert!(
            bought_together::due(&db, clock.now()).await.expect("due"),
            "never computed"
        );
        let changed = bought_together::compute(&db, clock.now())
            .await
            .expect("computed");
        assert_eq!(
            changed, 3,
            "A, B and C have companions; D's one sale is too few"
        );
        let a = published(&db, A)
            .await
            .expect("A's companions are published");
        let listed: Vec<(&str, i64)> = a
            .companions
            .iter()
            .map(|c| (c.sku.as_str(), c.sales))
            .collect();
        assert_eq!(
            listed,
            [(B, 3), (C, 2)],
            "most frequent first, a sale with B on two lines counted once, D below {MIN_SALES}"
        );
        assert!(published(&db, D).await.is_none());
        assert!(
            !bought_together::due(&db, clock.now()).await.expect("due"),
            "once a day"
        );
        assert_eq!(
            bought_together::compute(&db, clock.now())
                .await
                .expect("again"),
            0,
            "nothing changed, nothing is published"
        );

        sell(&db, "AD-1", &[A, D]).await;
        assert_eq!(
            bought_together::compute(&db, clock.now())
                .await
                .expect("again"),
            2,
            "A's list gains D, and D gets A"
        );

        clock.advance(Duration::days(366));
        assert!(bought_together::due(&db, clock.now()).await.expect("due"));
        assert_eq!(
            bought_together::compute(&db, clock.now())
                .await
                .expect("a year on"),
            4,
            "a year on, every list is withdrawn"
        );
        assert_eq!(
            published(&db, A).await.map(|t| t.companions.len()),
            Some(0),
            "the tills are told A has no companions any more"
        );
        database
    })
    .await;
}
