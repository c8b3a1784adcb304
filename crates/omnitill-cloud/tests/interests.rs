//! Members' e-shop favourites and recently viewed products at the cloud, in process on SQLite
//! and PostgreSQL: a favourite keeps its price at saving, views keep the newest 20, bad input is
//! refused, and a store whose tills keep the member's look-up keys gets the lists in its feed.

use std::sync::Arc;

use omnitill_cloud::clock::ManualClock;
use omnitill_cloud::interests::{self, MAX_VIEWED, RecordView, SaveFavourite};
use omnitill_cloud::members::{self, SignUp};
use omnitill_cloud::{CloudError, Db, demo, lookup_keys};

mod support;
use support::both_backends;

const NOW_MS: i64 = 1_800_000_000_000;

async fn member(db: &Db) -> String {
    let sign_up = SignUp {
        phone: Some("0911-222-333".into()),
        email: None,
        name: "收藏家 Collector".into(),
        birthday: None,
        consent_terms: true,
        consent_marketing: false,
        tags: Vec::new(),
    };
    members::sign_up(db, &sign_up)
        .await
        .expect("a member signs up")
        .id
}

async fn feed_rows(db: &Db, member_id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM feed WHERE entity = 'member_interests' AND entity_key = $1",
    )
    .bind(member_id)
    .fetch_one(&db.read)
    .await
    .expect("a count");
    n
}

#[tokio::test]
async fn favourites_keep_their_price_views_keep_the_newest_and_the_members_stores_hear_of_them() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::from_timestamp_millis(NOW_MS).expect("a time"),
        ));
        let db = database.connect(clock).await;
        demo::seed(&db).await.expect("the demo brand");
        let id = member(&db).await;
        let (price,): (i64,) = sqlx::query_as(
            "SELECT price_minor FROM price WHERE sku = 'TEA-DDO-75g'
             ORDER BY effective_from DESC LIMIT 1",
        )
        .fetch_one(&db.read)
        .await
        .expect("the tea's price");

        let saved = interests::save_favourite(
            &db,
            &id,
            "TEA-DDO-75g",
            &SaveFavourite { saved_at_ms: None },
        )
        .await
        .expect("a favourite is saved");
        assert_eq!(saved.favourites.len(), 1);
        assert_eq!(
            saved.favourites[0].price_at_save_minor,
            Some(price),
            "the price when it was saved is kept, to tell the member when it drops"
        );
        assert_eq!(
            feed_rows(&db, &id).await,
            0,
            "no store keeps the member yet"
        );

        let (store,): (String,) = sqlx::query_as("SELECT id FROM store WHERE code = 'TPE-XINYI'")
            .fetch_one(&db.read)
            .await
            .expect("the store");
        let mut tx = db.write.begin().await.expect("a transaction");
        lookup_keys::attach(&mut tx, &id, &store, NOW_MS)
            .await
            .expect("the member is looked up at the store");
        tx.commit().await.expect("committed");
        assert_eq!(
            feed_rows(&db, &id).await,
            1,
            "the store that keeps the member's keys gets their favourites with them"
        );

        let skus: Vec<(String,)> = sqlx::query_as("SELECT sku FROM product ORDER BY sku LIMIT 25")
            .fetch_all(&db.read)
            .await
            .expect("25 products");
        for (index, (sku,)) in skus.iter().enumerate() {
            let view = RecordView {
                sku: sku.clone(),
                viewed_at_ms: Some(NOW_MS - 100_000 + i64::try_from(index).expect("small")),
            };
            interests::record_view(&db, &id, &view)
                .await
                .expect("a view is recorded");
        }
        let now = interests::get(&db, &id).await.expect("the lists");
        assert_eq!(
            now.viewed.len(),
            MAX_VIEWED,
            "only the newest views are kept"
        );
        assert_eq!(now.viewed[0].sku, skus[24].0, "newest first");
        assert!(
            now.viewed.iter().all(|v| v.sku != skus[0].0),
            "the oldest views are gone"
        );

        let removed = interests::remove_favourite(&db, &id, "TEA-DDO-75g")
            .await
            .expect("removed");
        assert!(removed.favourites.is_empty());
        let unknown = interests::save_favourite(
            &db,
            &id,
            "NO-SUCH-SKU",
            &SaveFavourite { saved_at_ms: None },
        )
        .await;
        assert!(
            matches!(unknown, Err(CloudError::BadRequest(_))),
            "{unknown:?}"
        );
        let far = interests::record_view(
            &db,
            &id,
            &RecordView {
                sku: "TEA-DDO-75g".into(),
                viewed_at_ms: Some(NOW_MS + 3 * 86_400_000),
            },
        )
        .await;
        assert!(
            matches!(far, Err(CloudError::BadRequest(_))),
            "a time days ahead: {far:?}"
        );
        let nobody = interests::get(&db, "no-such-member").await;
        assert!(matches!(nobody, Err(CloudError::NotFound(_))));
        database
    })
    .await;
}

#[tokio::test]
async fn a_tills_floor_view_has_the_lists_the_points_about_to_lapse_and_the_other_stores_stock() {
    both_backends(|database| async move {
        let now = chrono::DateTime::from_timestamp_millis(NOW_MS).expect("a time");
        let db = database.connect(Arc::new(ManualClock::new(now))).await;
        demo::seed(&db).await.expect("the demo brand");
        let id = member(&db).await;
        interests::save_favourite(&db, &id, "TEA-DDO-75g", &SaveFavourite { saved_at_ms: None })
            .await
            .expect("a favourite is saved");
        let store = |code: &'static str| {
            let db = db.clone();
            async move {
                let (id,): (String,) = sqlx::query_as("SELECT id FROM store WHERE code = $1")
                    .bind(code)
                    .fetch_one(&db.read)
                    .await
                    .expect("the store");
                id
            }
        };
        let (xinyi, daan) = (store("TPE-XINYI").await, store("TPE-DAAN").await);
        sqlx::query("UPDATE stock_level SET on_hand = 9, reserved = 2 WHERE store_id = $1 AND sku = 'TEA-DDO-75g'")
            .bind(&daan)
            .execute(&db.write)
            .await
            .expect("Da'an's stock is set");
        // 500 points earned 705 days ago lapse within 30 days under the demo's rules (24
        // months); 200 earned last month do not; 100 already redeemed come off the old ones.
        let month_ms: i64 = 30 * 86_400_000;
        for (key, points, age_ms) in [("old", 500, 705 * 86_400_000), ("new", 200, month_ms), ("used", -100, month_ms)] {
            sqlx::query(
                "INSERT INTO points_entry (id, member_id, kind, points, channel, ref_id, op_key, created_at)
                 VALUES ($1, $2, 'adjust', $3, 'online', NULL, $1, $4)",
            )
            .bind(format!("{id}-{key}"))
            .bind(&id)
            .bind(points)
            .bind(NOW_MS - age_ms)
            .execute(&db.write)
            .await
            .expect("a points entry");
        }
        let floor = omnitill_cloud::member_floor::for_till(&db, &xinyi, &id, now)
            .await
            .expect("the floor view");
        assert_eq!(floor.interests.favourites.len(), 1, "the member's lists come along");
        assert_eq!(
            floor
                .stock_elsewhere
                .iter()
                .map(|s| (s.store_code.as_str(), s.available))
                .collect::<Vec<_>>(),
            [("TPE-DAAN", 7)],
            "another store's stock is on hand less what pickups hold; the asking store is left out"
        );
        assert_eq!(
            floor.points_expiring, 400,
            "what lapses within 30 days is the old earnings less what was used since"
        );
        let missing = omnitill_cloud::member_floor::for_till(&db, &xinyi, "no-such-member", now).await;
        assert!(
            matches!(missing, Err(CloudError::NotFound(_))),
            "an unknown member is a 404, not an empty view"
        );
        database
    })
    .await;
}
