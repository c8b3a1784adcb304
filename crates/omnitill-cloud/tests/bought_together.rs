//! What sells together, in process on SQLite and PostgreSQL: pairs counted once per sale from
//! both channels, a product's most frequent companions kept, rare pairs left out, only changes
//! published, and sales older than a year forgotten.
//!
//! The counts are kept from run to run (migration 0017), so most tests hold them to a recount
//! made from the sales themselves (`shop::Recount`, in `bought_together/shop.rs` with the
//! shop and the late till): after new sales, after sales leave the window or come back when
//! the clock is set back, after a till's old sale arrives late, after two runs at once, after
//! a run that failed. Each compares the kept pair counts and every list the tills were sent.

use std::sync::Arc;

use chrono::Duration;
use omnitill_cloud::bought_together::{self, MIN_SALES};
use omnitill_cloud::clock::{Clock, ManualClock};
use omnitill_cloud::db::Backend;
use omnitill_cloud::demo;
use omnitill_protocol::floor::Companion;

mod support;
use support::both_backends;

#[path = "bought_together/shop.rs"]
mod shop;
use shop::{Recount, Shop, Till, assert_recounted, feed_head, published, run, sell, start};

const A: &str = "TEA-DDO-75g";
const B: &str = "TEA-ALS-150g";
const C: &str = "TEA-DDO-150g";
const D: &str = "TEA-DDO-300g";

#[tokio::test]
async fn companions_are_counted_once_per_sale_and_only_changes_are_published() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(start()));
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

#[tokio::test]
async fn an_incremental_run_equals_a_full_recomputation_after_new_sales() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        shop.sell(60, Duration::hours(1)).await;
        let first = run(&shop.db, shop.now()).await;
        assert!(first.full, "the first run counts every sale: {first:?}");
        assert_eq!(first.sales_added, 60, "every sale of the window is counted");
        assert_recounted(&shop.db, shop.now(), "the first run").await;

        for round in 1..=3 {
            shop.sell(25, Duration::hours(1)).await;
            shop.clock.advance(Duration::days(1));
            let next = run(&shop.db, shop.now()).await;
            assert!(
                !next.full,
                "round {round} counts only what arrived: {next:?}"
            );
            assert_eq!(
                (next.arrived, next.sales_added, next.sales_removed),
                (25, 25, 0),
                "round {round} takes the 25 new sales once and nothing leaves the window"
            );
            assert_recounted(&shop.db, shop.now(), &format!("round {round}")).await;
        }
        shop.db.write.close().await;
        database
    })
    .await;
}

#[tokio::test]
async fn sales_that_leave_the_window_are_taken_away_once_and_lists_follow() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        shop.sell(40, Duration::days(1)).await;
        run(&shop.db, shop.now()).await;
        assert_recounted(&shop.db, shop.now(), "forty days of sales").await;

        // 350 days on, the first 25 days of sales are more than a year old.
        shop.clock.advance(Duration::days(350));
        let aged = run(&shop.db, shop.now()).await;
        assert!(!aged.full, "ageing is incremental: {aged:?}");
        assert_eq!(
            (aged.arrived, aged.sales_removed),
            (0, 25),
            "nothing arrived; the 25 sales made more than 365 days ago leave, each once"
        );
        assert_recounted(&shop.db, shop.now(), "a part of the sales aged out").await;

        // A clock set back (a test clock, a corrected server): the sales made between the two
        // window starts are inside again.
        let earlier = shop.now() - Duration::days(10);
        let back = run(&shop.db, earlier).await;
        assert_eq!(
            (back.full, back.sales_added, back.sales_removed),
            (false, 10, 0),
            "ten days back, the ten sales of those days are counted again"
        );
        assert_recounted(&shop.db, earlier, "the clock went back ten days").await;

        shop.clock.advance(Duration::days(30));
        let gone = run(&shop.db, shop.now()).await;
        assert_eq!(
            gone.sales_removed, 25,
            "the ten that came back leave again, with the last fifteen"
        );
        assert_recounted(&shop.db, shop.now(), "every sale aged out").await;
        let (pairs,): (i64,) = sqlx::query_as("SELECT count(*) FROM bought_pair")
            .fetch_one(&shop.db.read)
            .await
            .expect("the counts read");
        assert_eq!(
            pairs, 0,
            "a pair whose count reaches 0 is deleted, not kept at 0"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn a_till_sale_pushed_late_is_counted_when_it_arrives_and_leaves_by_its_own_time() {
    both_backends(|database| async move {
        let shop = Shop::open(&database).await;
        for n in 0..3 {
            sell(&shop.db, &format!("CD-{n}"), &[C, D]).await;
        }
        run(&shop.db, shop.now()).await;
        let mut till = Till::enrol(&shop.db).await;
        // Offline for most of a year: one sale 300 days old, one older than the window, and
        // one that is inside the window now but leaves it by the next run, when the window
        // moves over its time while it waits to be taken.
        let now = shop.now();
        till.push_sale(&shop.db, &[C, D, A], now - Duration::days(300))
            .await;
        till.push_sale(&shop.db, &[C, D], now - Duration::days(400))
            .await;
        till.push_sale(
            &shop.db,
            &[C, D],
            now - Duration::days(365) + Duration::hours(12),
        )
        .await;
        shop.clock.advance(Duration::days(1));
        let late = run(&shop.db, shop.now()).await;
        assert_eq!(
            (
                late.full,
                late.arrived,
                late.sales_added,
                late.sales_removed
            ),
            (false, 3, 1, 0),
            "the late sales are taken as they arrive; only the one inside the window counts, \
             and the one the window left meanwhile is neither added nor taken away"
        );
        assert_eq!(
            published(&shop.db, C).await.map(|t| t.companions),
            Some(vec![Companion {
                sku: D.into(),
                sales: 4
            }]),
            "C and D: three e-shop orders and the late till sale; the 400-day-old one is not"
        );
        assert_recounted(&shop.db, shop.now(), "two old sales arrived late").await;

        // 65 days on, the late sale (made 366 days ago) leaves; the e-shop's three stay.
        shop.clock.advance(Duration::days(65));
        let aged = run(&shop.db, shop.now()).await;
        assert_eq!(
            (aged.arrived, aged.sales_removed),
            (0, 1),
            "the late sale leaves by its own time, once; the older one was never counted"
        );
        assert_eq!(
            published(&shop.db, C).await.map(|t| t.companions),
            Some(vec![Companion {
                sku: D.into(),
                sales: 3
            }]),
            "C and D are back to the e-shop's three orders"
        );
        assert_recounted(&shop.db, shop.now(), "the late sale aged out").await;
        database
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_count_every_sale_once() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        // A second cloud process on the same database.
        let other = database.connect(shop.clock.clone()).await;
        // Ninety days a round: from the fifth round on, the first rounds' sales leave the
        // window while both runs move it.
        for round in 1..=6 {
            shop.sell(20, Duration::hours(2)).await;
            shop.clock.advance(Duration::days(90));
            let now = shop.now();
            let (one, two) = tokio::join!(
                bought_together::compute_counted(&shop.db, now),
                bought_together::compute_counted(&other, now)
            );
            let (one, two) = (one.expect("one run"), two.expect("the other run"));
            assert_eq!(
                one.arrived + two.arrived,
                20,
                "round {round}: the 20 new sales are taken by one run or the other, never both: \
                 {one:?} {two:?}"
            );
            assert_recounted(&shop.db, now, &format!("two runs at once, round {round}")).await;
        }
        other.write.close().await;
        database
    })
    .await;
}

#[tokio::test]
async fn a_second_run_with_no_new_sales_publishes_nothing() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        shop.sell(50, Duration::hours(3)).await;
        let first = run(&shop.db, shop.now()).await;
        assert!(first.lists_published > 0, "the first run publishes lists");
        let head = feed_head(&shop.db).await;

        let again = run(&shop.db, shop.now()).await;
        assert_eq!(
            (again.arrived, again.products_ranked, again.lists_published),
            (0, 0, 0),
            "no sale arrived and none left, so no list is ranked or sent again"
        );
        shop.clock.advance(Duration::days(1));
        let next_day = run(&shop.db, shop.now()).await;
        assert_eq!(
            next_day.lists_published, 0,
            "a day on, nothing left the window: nothing is sent"
        );
        assert_eq!(
            feed_head(&shop.db).await,
            head,
            "the tills' feed did not move, so they download nothing"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn the_first_run_on_a_database_with_sales_counts_them_all_once_then_only_new_ones() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        shop.sell(40, Duration::hours(5)).await;
        let first = run(&shop.db, shop.now()).await;
        let lists = first.lists_published;
        assert!(lists > 0, "there are lists to publish");

        // The database as the release before migration 0017 left it: the lists its daily
        // job published, sales that were never queued, and no counts.
        let mut tx = shop.db.write.begin().await.expect("a transaction");
        for statement in [
            "DELETE FROM bought_pair",
            "UPDATE bought_count SET window_from = NULL, counted_to = 0, counted_sale = NULL",
        ] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .expect("reset");
        }
        if shop.db.backend == Backend::Postgres {
            sqlx::query("DELETE FROM bought_pending")
                .execute(&mut *tx)
                .await
                .expect("reset");
        }
        tx.commit().await.expect("committed");
        shop.sell(10, Duration::hours(5)).await;
        if shop.db.backend == Backend::Postgres {
            sqlx::query("DELETE FROM bought_pending")
                .execute(&shop.db.write)
                .await
                .expect("these sales predate the trigger too");
        }

        let upgraded = run(&shop.db, shop.now()).await;
        assert!(
            upgraded.full,
            "with no counts, the run counts in full: {upgraded:?}"
        );
        assert_eq!(
            upgraded.sales_added, 50,
            "every sale already in the database is counted"
        );
        assert!(
            upgraded.lists_published < lists + 10,
            "only lists the ten newer sales changed are sent again, not all {lists}"
        );
        assert_recounted(&shop.db, shop.now(), "the first run after the upgrade").await;

        shop.sell(5, Duration::hours(5)).await;
        let next = run(&shop.db, shop.now()).await;
        assert_eq!(
            (next.full, next.arrived, next.sales_added),
            (false, 5, 5),
            "then only the five new sales are counted"
        );
        assert_recounted(&shop.db, shop.now(), "the run after the upgrade").await;
        database
    })
    .await;
}

#[tokio::test]
async fn a_run_that_fails_counts_nothing_and_the_next_one_counts_it_all() {
    both_backends(|database| async move {
        let mut shop = Shop::open(&database).await;
        for n in 0..10 {
            sell(&shop.db, &format!("AB-{n}"), &[A, B]).await;
        }
        run(&shop.db, shop.now()).await;
        shop.clock.advance(Duration::days(200));
        shop.sell(3, Duration::hours(1)).await;
        // A count one below the truth: taking the ten A-and-B sales away goes below zero.
        sqlx::query("UPDATE bought_pair SET sales = sales - 1 WHERE sku = $1 AND companion = $2")
            .bind(A)
            .bind(B)
            .execute(&shop.db.write)
            .await
            .expect("the count is damaged");
        let before = Recount::kept(&shop.db).await;
        let mark: (Option<i64>, i64) =
            sqlx::query_as("SELECT window_from, counted_to FROM bought_count")
                .fetch_one(&shop.db.read)
                .await
                .expect("the mark");

        shop.clock.advance(Duration::days(170));
        let failed = bought_together::compute_counted(&shop.db, shop.now()).await;
        assert!(
            failed.is_err(),
            "a count below zero fails the run: {failed:?}"
        );
        assert_eq!(
            Recount::kept(&shop.db).await,
            before,
            "the failed run changed no count and published nothing"
        );
        let after: (Option<i64>, i64) =
            sqlx::query_as("SELECT window_from, counted_to FROM bought_count")
                .fetch_one(&shop.db.read)
                .await
                .expect("the mark");
        assert_eq!(
            after, mark,
            "the window and the arrivals counted did not move"
        );

        sqlx::query("UPDATE bought_pair SET sales = sales + 1 WHERE sku = $1 AND companion = $2")
            .bind(A)
            .bind(B)
            .execute(&shop.db.write)
            .await
            .expect("the count is repaired");
        let next = run(&shop.db, shop.now()).await;
        assert_eq!(
            (next.arrived, next.sales_removed),
            (3, 10),
            "the next run takes the three sales the failed one left, and ages the ten out"
        );
        assert_recounted(&shop.db, shop.now(), "a failed run and the next").await;
        database
    })
    .await;
}
