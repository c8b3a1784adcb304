//! What the bought-together tests share (part of the `bought_together` test): e-shop orders
//! and a shop that sells random baskets (`Shop`), a till that pushes its old sales late
//! (`Till`), what the tills were sent (`published`), and `Recount`, the companions counted
//! here from the sales themselves, which the cloud's kept counts and lists must equal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use omnitill_cloud::bought_together::{self, COMPANIONS, Computed, MIN_SALES, WINDOW_DAYS};
use omnitill_cloud::clock::{Clock, ManualClock};
use omnitill_cloud::online::{self, OnlineLine, OnlineOrder};
use omnitill_cloud::{Db, demo, devices, push};
use omnitill_protocol::enrol::TillIdentity;
use omnitill_protocol::floor::BoughtTogether;
use omnitill_protocol::ops::{SALE_COMPLETED, SaleCompleted, SaleLineOp, TenderOp};
use omnitill_protocol::push::{Operation, PushRequest, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::TestDatabase;

/// When the tests' clocks start.
const START_MS: i64 = 1_800_000_000_000;

/// Records an e-shop order of one unit of each of `skus`, at the cloud's clock.
pub async fn sell(db: &Db, order_ref: &str, skus: &[&str]) {
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

/// The list the tills were last sent for `sku`, if any.
pub async fn published(db: &Db, sku: &str) -> Option<BoughtTogether> {
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

/// `START_MS` as a moment.
pub fn start() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(START_MS).expect("a time")
}

/// Brings the companions up to `now`, answering what the run did.
pub async fn run(db: &Db, now: DateTime<Utc>) -> Computed {
    bought_together::compute_counted(db, now)
        .await
        .expect("the companions are computed")
}

/// A shop selling random baskets of a few products, so that pairs recur.
pub struct Shop {
    pub db: Db,
    pub clock: Arc<ManualClock>,
    skus: Vec<String>,
    rng: StdRng,
    orders: u64,
}

impl Shop {
    pub async fn open(database: &TestDatabase) -> Shop {
        let clock = Arc::new(ManualClock::new(start()));
        let db = database.connect(clock.clone()).await;
        demo::seed(&db).await.expect("the demo brand");
        let skus: Vec<String> =
            sqlx::query_as::<_, (String,)>("SELECT sku FROM product ORDER BY sku LIMIT 8")
                .fetch_all(&db.read)
                .await
                .expect("the catalog")
                .into_iter()
                .map(|(sku,)| sku)
                .collect();
        assert_eq!(skus.len(), 8, "the demo catalog has products to sell");
        Shop {
            db,
            clock,
            skus,
            rng: StdRng::seed_from_u64(0x0B07_7061),
            orders: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A basket of one to four products, sometimes with a product on two lines.
    fn basket(&mut self) -> Vec<String> {
        let size = self.rng.random_range(1..=4);
        let mut lines: Vec<String> = (0..size)
            .map(|_| self.skus[self.rng.random_range(0..self.skus.len())].clone())
            .collect();
        if self.rng.random_bool(0.2) {
            lines.push(lines[0].clone());
        }
        lines
    }

    /// Sells `count` e-shop orders, `every` apart on the clock.
    pub async fn sell(&mut self, count: usize, every: Duration) {
        for _ in 0..count {
            let lines = self.basket();
            self.orders += 1;
            let skus: Vec<&str> = lines.iter().map(String::as_str).collect();
            sell(&self.db, &format!("R-{}", self.orders), &skus).await;
            self.clock.advance(every);
        }
    }
}

/// The companions as counted here from every sale of the window, independently of the cloud.
#[derive(Debug, PartialEq, Eq)]
pub struct Recount {
    pub pairs: BTreeMap<(String, String), i64>,
    pub lists: BTreeMap<String, Vec<(String, i64)>>,
}

impl Recount {
    pub async fn of(db: &Db, now: DateTime<Utc>) -> Recount {
        let from = now.timestamp_millis() - WINDOW_DAYS * 86_400_000;
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT s.id, s.created_at, l.sku FROM sale s JOIN sale_line l ON l.sale_id = s.id",
        )
        .fetch_all(&db.read)
        .await
        .expect("the sales read");
        let mut sales: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (sale, at, sku) in rows {
            if at >= from {
                sales.entry(sale).or_default().insert(sku);
            }
        }
        let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
        for skus in sales.values() {
            for a in skus {
                for b in skus.iter().filter(|b| *b != a) {
                    *pairs.entry((a.clone(), b.clone())).or_default() += 1;
                }
            }
        }
        let mut lists: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for ((a, b), sales) in &pairs {
            if *sales >= MIN_SALES {
                lists
                    .entry(a.clone())
                    .or_default()
                    .push((b.clone(), *sales));
            }
        }
        for list in lists.values_mut() {
            list.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            list.truncate(COMPANIONS);
        }
        Recount { pairs, lists }
    }

    /// What the cloud keeps and has sent the tills, in the same form.
    pub async fn kept(db: &Db) -> Recount {
        let pairs: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT sku, companion, sales FROM bought_pair")
                .fetch_all(&db.read)
                .await
                .expect("the counts read");
        let feed: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM feed WHERE entity = 'bought_together'")
                .fetch_all(&db.read)
                .await
                .expect("the feed reads");
        let mut lists = BTreeMap::new();
        for (data,) in feed {
            let change: omnitill_protocol::pull::Change =
                serde_json::from_str(&data).expect("a feed change");
            let omnitill_protocol::pull::Change::BoughtTogether(together) = change else {
                panic!("a bought_together row holds another change: {data}");
            };
            if !together.companions.is_empty() {
                let list = together.companions.into_iter().map(|c| (c.sku, c.sales));
                lists.insert(together.sku, list.collect());
            }
        }
        Recount {
            pairs: pairs.into_iter().map(|(a, b, n)| ((a, b), n)).collect(),
            lists,
        }
    }
}

/// Holds the cloud's kept counts and published lists to a recount of the sales as of `now`.
pub async fn assert_recounted(db: &Db, now: DateTime<Utc>, after: &str) {
    let kept = Recount::kept(db).await;
    let recount = Recount::of(db, now).await;
    assert_eq!(
        kept.pairs, recount.pairs,
        "after {after}, the kept pair counts equal a recount of the window's sales"
    );
    assert_eq!(
        kept.lists, recount.lists,
        "after {after}, the tills hold exactly the lists a full recomputation gives"
    );
}

/// The feed's newest cursor.
pub async fn feed_head(db: &Db) -> i64 {
    let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(cursor) FROM feed")
        .fetch_one(&db.read)
        .await
        .expect("the feed reads");
    head.unwrap_or(0)
}

/// A till enrolled at the demo store, pushing sales as its sync engine does.
pub struct Till {
    token: String,
    prefix: String,
    seq: i64,
}

impl Till {
    pub async fn enrol(db: &Db) -> Till {
        let code = devices::issue_enrolment_code(db, "TPE-XINYI")
            .await
            .expect("an enrolment code");
        let identity = TillIdentity {
            device_id: "till-offline".into(),
            receipt_prefix: "OFFL".into(),
            previous_token: None,
        };
        let enrolled = devices::enrol(db, "127.0.0.1", &code, "Back office", 1, Some(&identity))
            .await
            .expect("the till enrols");
        Till {
            token: enrolled.token,
            prefix: enrolled.receipt_prefix,
            seq: 0,
        }
    }

    /// Pushes a sale of `skus` that the till made at `made_at` (while it was offline).
    pub async fn push_sale(&mut self, db: &Db, skus: &[&str], made_at: DateTime<Utc>) {
        self.seq += 1;
        let lines: Vec<SaleLineOp> = skus
            .iter()
            .enumerate()
            .map(|(index, sku)| SaleLineOp {
                line_no: index as i64 + 1,
                sku: (*sku).into(),
                quantity: 1,
                unit_price_minor: 10_000,
                discount_minor: 0,
                tax_rate_bp: 0,
                tax_minor: 0,
                total_minor: 10_000,
            })
            .collect();
        let total = 10_000 * lines.len() as i64;
        let sale = SaleCompleted {
            sale_id: uuid::Uuid::now_v7().to_string(),
            receipt_no: format!("{}-{:06}", self.prefix, self.seq),
            device_id: "till-offline".into(),
            staff_id: "staff-1".into(),
            created_at_ms: made_at.timestamp_millis(),
            currency: "TWD".into(),
            tax_mode: "inclusive".into(),
            subtotal_minor: total,
            discount_minor: 0,
            tax_minor: 0,
            rounding_minor: 0,
            total_minor: total,
            lines,
            tenders: vec![TenderOp {
                kind: "card".into(),
                amount_minor: total,
                reference: None,
            }],
            member: None,
        };
        let device = devices::authenticate(db, &self.token)
            .await
            .expect("the till's token");
        let request = PushRequest {
            operations: vec![Operation {
                seq: self.seq,
                op_id: uuid::Uuid::now_v7().to_string(),
                op_type: SALE_COMPLETED.into(),
                created_at_ms: made_at.timestamp_millis(),
                payload: serde_json::to_value(&sale).expect("a payload"),
            }],
        };
        let response = push::push(db, &device, &request)
            .await
            .expect("the push is answered");
        let outcome = response.outcomes.first().expect("one outcome");
        assert_eq!(
            outcome.status,
            Status::Applied,
            "the late sale is applied: {outcome:?}"
        );
    }
}
