//! The cloud's time rules under a controlled clock (`Db::connect_with_clock` with core's
//! `ManualClock`), in process, on SQLite and (when `OMNITILL_TEST_POSTGRES` or the default test
//! server answers) on PostgreSQL: a points hold lapses 15 minutes after it was made, points
//! expire after the brand's `expiry_months`, birthday coupons follow the month, and a job's
//! period is run by one of two runners that claim it at once.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use omnitill_cloud::clock::{ManualClock, SharedClock};
use omnitill_cloud::jobs::{self, Job, JobOutcome};
use omnitill_cloud::members::{self, Adjustment, HoldRequest, OrderRedeem, SignUp};
use omnitill_cloud::{CloudError, Db};

mod support;
use support::both_backends;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("a valid instant")
}

async fn member(db: &Db, phone: &str, birthday: Option<&str>) -> String {
    let sign_up = SignUp {
        phone: Some(phone.into()),
        email: None,
        name: "Clock 時鐘".into(),
        birthday: birthday.map(str::to_owned),
        consent_terms: true,
        consent_marketing: false,
        tags: Vec::new(),
    };
    members::sign_up(db, &sign_up)
        .await
        .expect("the member signs up")
        .id
}

async fn add_points(db: &Db, member: &str, reference: &str, points: i64) {
    let adjustment = Adjustment {
        reference: reference.into(),
        points,
        reason: "test".into(),
    };
    members::adjust(db, member, &adjustment)
        .await
        .expect("the points are booked");
}

async fn balance(db: &Db, member: &str) -> i64 {
    members::get(db, member).await.expect("the member").balance
}

#[tokio::test]
async fn a_points_hold_lapses_fifteen_minutes_after_it_was_made_by_the_clouds_clock() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let db = database.connect(clock.clone()).await;
        let id = member(&db, "0912000601", None).await;
        add_points(&db, &id, "start", 1_000).await;
        let hold = HoldRequest {
            sale_id: uuid::Uuid::now_v7().to_string(),
            member_id: id.clone(),
            points: 800,
        };
        let held = members::hold_points(&db, "till", &hold)
            .await
            .expect("a hold");
        assert_eq!(held.available_after, 200, "the hold takes 800 of 1,000");
        let redeem = |order_ref: &str| OrderRedeem {
            order_ref: order_ref.into(),
            points: 300,
        };
        clock.advance(Duration::minutes(15) - Duration::milliseconds(1));
        assert!(
            matches!(
                members::redeem_online(&db, &id, &redeem("early")).await,
                Err(CloudError::Conflict(_))
            ),
            "a millisecond before 15 minutes the hold still stands"
        );
        clock.advance(Duration::milliseconds(1));
        let booked = members::redeem_online(&db, &id, &redeem("late"))
            .await
            .expect("at 15 minutes the hold has lapsed and the points are free");
        assert_eq!(booked.balance, 700, "the redemption took 300 of 1,000");
        database
    })
    .await;
}

#[tokio::test]
async fn points_expire_after_the_brands_months_by_the_clouds_clock() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(at(2024, 1, 10, 12, 0, 0)));
        let db = database.connect(clock.clone()).await;
        let old = member(&db, "0912000701", None).await;
        let young = member(&db, "0912000702", None).await;
        add_points(&db, &old, "old-earn", 500).await;
        members::redeem_online(
            &db,
            &old,
            &OrderRedeem {
                order_ref: "spent".into(),
                points: 200,
            },
        )
        .await
        .expect("200 of the old points are spent");
        clock.advance(Duration::days(366));
        add_points(&db, &young, "young-earn", 400).await;
        // The day before the 24 months are up: nothing lapses.
        let eve = at(2026, 1, 9, 12, 0, 0);
        assert_eq!(
            members::expire_points(&db, eve).await.expect("expiry runs"),
            0,
            "points 24 months old less a day do not expire"
        );
        let due = at(2026, 1, 11, 0, 0, 0);
        assert_eq!(
            members::expire_points(&db, due).await.expect("expiry runs"),
            1,
            "one member's points are past 24 months"
        );
        assert_eq!(
            balance(&db, &old).await,
            0,
            "the 300 unused old points expire, first in first out"
        );
        assert_eq!(
            balance(&db, &young).await,
            400,
            "points a year old do not expire"
        );
        assert_eq!(
            members::expire_points(&db, due).await.expect("expiry runs"),
            0,
            "a second run on the same day books nothing"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn birthday_coupons_follow_the_month_of_the_clouds_clock() {
    both_backends(|database| async move {
        let clock = Arc::new(ManualClock::new(at(2026, 4, 30, 23, 59, 59)));
        let db = database.connect(clock.clone()).await;
        let april = member(&db, "0912000801", Some("1990-04-15")).await;
        let may = member(&db, "0912000802", Some("1991-05-01")).await;
        let birthday_coupons = |db: &Db| {
            let read = db.read.clone();
            async move {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT member_id, valid_from FROM coupon WHERE kind = 'birthday'
                     ORDER BY valid_from",
                )
                .fetch_all(&read)
                .await
                .expect("coupons");
                rows
            }
        };
        let issued = members::issue_birthday_coupons(&db, db.now()).await;
        assert_eq!(
            issued.expect("the job runs"),
            1,
            "on 30 April, April's member"
        );
        clock.advance(Duration::seconds(2));
        let issued = members::issue_birthday_coupons(&db, db.now()).await;
        assert_eq!(issued.expect("the job runs"), 1, "on 1 May, May's member");
        let issued = members::issue_birthday_coupons(&db, db.now()).await;
        assert_eq!(
            issued.expect("the job runs"),
            0,
            "each gets one coupon a month"
        );
        let coupons = birthday_coupons(&db).await;
        assert_eq!(
            coupons,
            vec![
                (april, at(2026, 4, 1, 0, 0, 0).timestamp_millis()),
                (may, at(2026, 5, 1, 0, 0, 0).timestamp_millis()),
            ],
            "each coupon is valid from the first of its member's birthday month"
        );
        database
    })
    .await;
}

#[tokio::test]
async fn a_job_period_is_run_by_one_of_two_runners_claiming_it_at_once() {
    both_backends(|database| async move {
        let clock: SharedClock = Arc::new(ManualClock::new(at(2026, 6, 1, 3, 0, 0)));
        let one = database.connect(clock.clone()).await;
        let two = database.connect(clock.clone()).await;
        for hour in 0..4 {
            let now = at(2026, 6, 1, 3 + hour, 30, 0);
            for job in Job::ALL {
                let (a, b) = tokio::join!(
                    jobs::run_once(&one, job, now, "runner one"),
                    jobs::run_once(&two, job, now, "runner two"),
                );
                let ran = [a.expect("runner one"), b.expect("runner two")]
                    .iter()
                    .filter(|o| matches!(o, JobOutcome::Ran { .. }))
                    .count();
                assert_eq!(ran, 1, "hour {hour}: {} runs once", job.name());
            }
        }
        database
    })
    .await;
}
