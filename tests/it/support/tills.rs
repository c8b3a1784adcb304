//! Tills enrolled to a real cloud process, for the sync scenarios: enrolment (optionally through
//! a `FaultProxy`), random selling and refunding, sync rounds, and the convergence invariants
//! every scenario checks at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use omnitill_core::{Cart, ManagerApproval, TenderKind, Till, demo, sync as ledger_sync};
use omnitill_sync::{Client, SyncError, engine};
use rand::Rng;
use serde_json::Value;

use super::TempTill;
use super::cloud::CloudProcess;
use super::proxy::FaultProxy;

/// A tokio runtime for driving the engine from a synchronous test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A till on its own ledger file, enrolled to a store of the cloud. `till` is the cashier's
/// connection; `engine` is the sync engine's own connection to the same file, as in the app.
pub struct SyncedTill {
    pub temp: TempTill,
    pub store: &'static str,
    pub engine: Arc<Mutex<Till>>,
    /// The proxy this till reaches the cloud through, when it has one.
    pub proxy: Option<FaultProxy>,
}

impl SyncedTill {
    /// Enrols a new demo till for `store`. With `through_proxy`, the till's cloud URL is a new
    /// `FaultProxy` in front of the cloud, so faults hit this till alone.
    pub fn enrol(
        runtime: &tokio::runtime::Runtime,
        cloud: &CloudProcess,
        store: &'static str,
        through_proxy: bool,
    ) -> SyncedTill {
        let mut temp = TempTill::demo();
        let proxy = through_proxy.then(|| FaultProxy::start(&cloud.base_url));
        let url = proxy
            .as_ref()
            .map_or_else(|| cloud.base_url.clone(), FaultProxy::url);
        let code = cloud.admin(&["enrolment-code", "--store", store]);
        let client = Client::new(&url, None).expect("an HTTP client");
        let identity =
            ledger_sync::till_identity(temp.till.connection()).expect("the till's identity");
        let enrolment = runtime
            .block_on(client.enrol(&code, "Counter", 1, &identity))
            .expect("enrolment with a fresh code succeeds");
        let now = temp.till.clock().now();
        ledger_sync::record_enrolment(temp.till.connection_mut(), &url, &enrolment, now)
            .expect("the enrolment is recorded");
        temp.till.reload_device().expect("the device reloads");
        let engine = engine::open_ledger(&super::ledger_path(temp._dir.path()))
            .expect("the engine opens its own connection to the ledger");
        SyncedTill {
            temp,
            store,
            engine,
            proxy,
        }
    }

    pub fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .expect("this till was enrolled through a proxy")
    }

    /// One sync round through the real engine.
    pub fn sync(
        &self,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<engine::RoundReport, SyncError> {
        runtime.block_on(engine::sync_once(&self.engine))
    }

    pub fn pending(&self) -> i64 {
        self.temp
            .till
            .pending_operations()
            .expect("the outbox can be read")
            .0
    }

    /// Rings up `sales` random card sales of 1-4 demo items (1-3 of each); returns their
    /// receipt numbers.
    pub fn sell_randomly(&mut self, rng: &mut impl Rng, sales: usize) -> Vec<String> {
        let cashier = self.temp.cashier();
        let rules = self.temp.till.pricing_rules().expect("pricing rules");
        let mut receipts = Vec::new();
        let mut empty_carts = 0;
        while receipts.len() < sales {
            assert!(
                empty_carts < 100,
                "no demo item among the first 40 could be scanned 100 times in a row (no price at the till's clock?)"
            );
            let mut cart = Cart::new();
            for _ in 0..rng.random_range(1..=4) {
                let n = rng.random_range(1..=40);
                if let Ok(item) = self.temp.till.scan(&demo::demo_barcode(n)) {
                    cart.add_item(item, rng.random_range(1..=3))
                        .expect("a demo item goes into the cart");
                }
            }
            if cart.is_empty() {
                empty_carts += 1;
                continue;
            }
            empty_carts = 0;
            let due = cart.totals(rules).due_minor;
            cart.add_tender(rules, TenderKind::Card, due, Some("T"))
                .expect("a card tender for the amount due");
            let receipt = self
                .temp
                .till
                .complete_sale(&cashier, &cart)
                .expect("the sale completes offline");
            receipts.push(receipt.receipt_no);
        }
        receipts
    }

    /// Refunds one unit of the first line of a past sale of this till, if any is left to
    /// refund; returns whether it did.
    pub fn refund_one(&mut self, receipt_no: &str) -> bool {
        let cashier = self.temp.cashier();
        let manager = self.temp.manager();
        let approval = ManagerApproval::from_session(&manager).expect("a manager approves");
        let Ok(refundable) = self.temp.till.refundable(receipt_no) else {
            return false;
        };
        let Some(line) = refundable.lines.iter().find(|l| l.refundable_quantity > 0) else {
            return false;
        };
        self.temp
            .till
            .refund(&cashier, &approval, receipt_no, &[(line.line_no, 1)])
            .expect("a refund within what was sold succeeds");
        true
    }

    /// Quantity sold minus quantity refunded per SKU, from this till's ledger.
    pub fn net_sold(&self) -> HashMap<String, i64> {
        let conn = self.temp.till.connection();
        let mut net = HashMap::new();
        let mut sold = conn
            .prepare("SELECT sku, SUM(quantity) FROM sale_line GROUP BY sku")
            .expect("query");
        for row in sold
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("rows")
        {
            let (sku, quantity) = row.expect("row");
            *net.entry(sku).or_insert(0) += quantity;
        }
        let mut refunded = conn
            .prepare(
                "SELECT sl.sku, SUM(rl.quantity) FROM refund_line rl
                 JOIN refund r ON r.id = rl.refund_id
                 JOIN sale_line sl ON sl.sale_id = r.sale_id AND sl.line_no = rl.line_no
                 GROUP BY sl.sku",
            )
            .expect("query");
        for row in refunded
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("rows")
        {
            let (sku, quantity) = row.expect("row");
            *net.entry(sku).or_insert(0) -= quantity;
        }
        net
    }

    /// Every receipt number of a sale in this till's ledger.
    pub fn sale_receipts(&self) -> Vec<String> {
        let conn = self.temp.till.connection();
        let mut statement = conn
            .prepare("SELECT receipt_no FROM sale ORDER BY receipt_no")
            .expect("query");
        statement
            .query_map([], |r| r.get(0))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect()
    }
}

/// A store's stock in the cloud, by SKU, read through the e-shop API.
pub fn cloud_stock(cloud: &CloudProcess, key: &str, store: &str) -> BTreeMap<String, i64> {
    let levels = cloud.get_with_key(key, &format!("/v1/stores/{store}/stock"));
    levels
        .as_array()
        .expect("a list of stock levels")
        .iter()
        .map(|level| {
            (
                level["sku"].as_str().expect("sku").to_owned(),
                level["on_hand"].as_i64().expect("on hand"),
            )
        })
        .collect()
}

/// The receipt numbers of every sale the cloud holds for a store.
pub fn cloud_receipts(cloud: &CloudProcess, key: &str, store: &str) -> Vec<String> {
    let sales = cloud.get_with_key(key, &format!("/v1/stores/{store}/sales?limit=10000"));
    let mut receipts: Vec<String> = sales
        .as_array()
        .expect("a list of sales")
        .iter()
        .map(|sale: &Value| sale["receipt_no"].as_str().expect("receipt no").to_owned())
        .collect();
    receipts.sort();
    receipts
}

/// Syncs every till until all outboxes are empty and a last round has brought every till the
/// others' changes. Panics (with `why`) if they do not converge within `rounds` rounds.
pub fn converge(runtime: &tokio::runtime::Runtime, tills: &[SyncedTill], rounds: usize, why: &str) {
    let mut failures: Vec<String> = Vec::new();
    for round in 0..rounds {
        let mut clean = true;
        for (number, till) in tills.iter().enumerate() {
            if let Err(error) = till.sync(runtime) {
                failures.push(format!("round {round}, till {number}: {error:?}"));
                clean = false;
            }
        }
        if clean && tills.iter().all(|t| t.pending() == 0) {
            // One more round each so every till has pulled what the others pushed last.
            let last: Vec<_> = tills.iter().map(|t| t.sync(runtime)).collect();
            if last.iter().all(Result::is_ok) {
                return;
            }
            for (number, result) in last.iter().enumerate() {
                if let Err(error) = result {
                    failures.push(format!("round {round} (last), till {number}: {error:?}"));
                }
            }
        }
    }
    let pending: Vec<i64> = tills.iter().map(SyncedTill::pending).collect();
    panic!(
        "the tills did not converge within {rounds} rounds: {why}\n\
         pending per till: {pending:?}\nfailed rounds:\n{}",
        failures.join("\n")
    );
}

/// The invariants after convergence, per store:
/// - every sale of every till is in the cloud exactly once;
/// - every till's stock level equals the cloud's, for every SKU;
/// - the cloud's stock equals its initial stock minus all sales plus all refunds;
/// - nothing remains in any outbox.
pub fn assert_invariants(
    cloud: &CloudProcess,
    key: &str,
    initial: &HashMap<&'static str, BTreeMap<String, i64>>,
    tills: &[SyncedTill],
    context: &str,
) {
    for till in tills {
        assert_eq!(
            till.pending(),
            0,
            "[{context}] nothing remains in any outbox after convergence"
        );
    }
    let mut stores: Vec<&'static str> = tills.iter().map(|t| t.store).collect();
    stores.sort_unstable();
    stores.dedup();
    for store in stores {
        let in_store: Vec<&SyncedTill> = tills.iter().filter(|t| t.store == store).collect();
        let mut till_receipts: Vec<String> =
            in_store.iter().flat_map(|t| t.sale_receipts()).collect();
        till_receipts.sort();
        let cloud_receipts = cloud_receipts(cloud, key, store);
        assert_eq!(
            cloud_receipts.len(),
            till_receipts.len(),
            "[{context}] {store}: the cloud holds each of the tills' sales exactly once"
        );
        assert_eq!(
            cloud_receipts, till_receipts,
            "[{context}] {store}: the cloud's sales are exactly the tills' sales"
        );
        let stock = cloud_stock(cloud, key, store);
        let mut net: HashMap<String, i64> = HashMap::new();
        for till in &in_store {
            for (sku, quantity) in till.net_sold() {
                *net.entry(sku).or_insert(0) += quantity;
            }
        }
        let start = initial.get(store).expect("the store's initial stock");
        for (sku, on_hand) in &stock {
            let expected =
                start.get(sku).copied().unwrap_or(0) - net.get(sku).copied().unwrap_or(0);
            assert_eq!(
                *on_hand, expected,
                "[{context}] {store} {sku}: the cloud's stock is the initial stock minus sales plus refunds"
            );
            for till in &in_store {
                assert_eq!(
                    till.temp.till.stock_on_hand(sku).expect("the till's stock"),
                    *on_hand,
                    "[{context}] {store} {sku}: every till shows the cloud's stock level"
                );
            }
        }
    }
}
