//! Network faults between a till and the cloud, on SQLite and PostgreSQL.
//!
//! Every till reaches the real cloud process through its own `FaultProxy`, so a fault hits one
//! till alone. Each scenario injects one kind of fault, checks what the till and the cloud
//! must show while it lasts, heals the link, lets the tills converge, and ends with the
//! invariants of `tills::assert_invariants`: every sale in the cloud exactly once, every till's
//! stock equal to the cloud's, the cloud's stock equal to the initial stock minus sales plus
//! refunds, and empty outboxes.
//!
//! The scenarios: the cloud refuses connections; a request is dropped before the cloud sees it;
//! an answer is dropped, or reset half-way, after the cloud committed; every request is delayed
//! by seconds; the cashier completes a sale while a push waits for its answer; one till is
//! partitioned for long enough to need several push batches; a price changed in the cloud
//! during a partition reaches the till once the link heals; and the link drops between two
//! pages of the change feed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use omnitill_core::{Cart, Receipt, TenderKind, demo};
use omnitill_sync::SyncError;
use omnitill_sync::engine::{self, RoundReport};
use omnitill_sync::plan::PUSH_BATCH;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::support::cloud::{self, Backend, CloudProcess};
use crate::support::fault_tills::{self, LedgerTemplate};
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::tills::{self, SyncedTill};

const XINYI: &str = "TPE-XINYI";
const DAAN: &str = "TPE-DAAN";

/// Generous bound for waiting on something the proxy must see.
const PATIENCE: Duration = Duration::from_secs(30);

/// A cloud, tills enrolled through their own proxies, and what the invariants need.
struct Rig {
    runtime: tokio::runtime::Runtime,
    cloud: CloudProcess,
    key: String,
    initial: HashMap<&'static str, BTreeMap<String, i64>>,
    template: LedgerTemplate,
    tills: Vec<SyncedTill>,
    rng: StdRng,
}

impl Rig {
    /// Starts a cloud on `backend` and enrols one till per entry of `stores`, each through its
    /// own proxy, each synced once so it holds the cloud's catalog and stock.
    fn start(backend: Backend, stores: &[&'static str]) -> Rig {
        let runtime = tills::runtime();
        let cloud = CloudProcess::start(backend);
        let key = cloud.api_key();
        let initial = [XINYI, DAAN]
            .into_iter()
            .map(|store| (store, tills::cloud_stock(&cloud, &key, store)))
            .collect();
        let template = LedgerTemplate::new();
        let tills: Vec<SyncedTill> = stores
            .iter()
            .map(|store| template.enrol(&runtime, &cloud, store, true))
            .collect();
        for till in &tills {
            till.sync(&runtime)
                .expect("a new till syncs over a healthy link");
        }
        Rig {
            runtime,
            cloud,
            key,
            initial,
            template,
            tills,
            rng: StdRng::seed_from_u64(3),
        }
    }

    fn sell(&mut self, till: usize, sales: usize) -> Vec<String> {
        fault_tills::sell(
            &mut self.tills[till].temp.till,
            &self.template.staff,
            &mut self.rng,
            sales,
        )
    }

    fn sync(&self, till: usize) -> Result<RoundReport, SyncError> {
        self.tills[till].sync(&self.runtime)
    }

    fn proxy(&self, till: usize) -> &FaultProxy {
        self.tills[till].proxy()
    }

    /// How many of `receipts` the cloud holds for `store`.
    fn in_cloud(&self, store: &str, receipts: &[String]) -> usize {
        let held = tills::cloud_receipts(&self.cloud, &self.key, store);
        receipts.iter().filter(|r| held.contains(r)).count()
    }

    /// Heals a till's link and waits until its proxy accepts connections again.
    fn heal(&self, till: usize) {
        fault_tills::heal(self.proxy(till));
    }

    /// Heals every link, syncs until the tills converge, and checks the invariants.
    fn heal_and_check(&self, context: &str) {
        for till in 0..self.tills.len() {
            self.heal(till);
        }
        tills::converge(&self.runtime, &self.tills, 6, context);
        tills::assert_invariants(&self.cloud, &self.key, &self.initial, &self.tills, context);
    }
}

/// Asserts that a round failed, and failed as something the engine retries.
fn assert_transient(result: Result<RoundReport, SyncError>, why: &str) -> SyncError {
    let error = result.expect_err(why);
    assert!(
        error.is_transient(),
        "{why}: a network fault must be a transient error the engine retries, not {error:?}"
    );
    error
}

/// Outcomes the cloud refused, as the till recorded them for the manager's review list.
fn refusals(till: &SyncedTill) -> i64 {
    till.temp
        .till
        .connection()
        .query_row("SELECT count(*) FROM op_outcome", [], |row| row.get(0))
        .expect("the outcomes can be read")
}

fn refused_connections(backend: Backend) {
    let mut rig = Rig::start(backend, &[XINYI, XINYI]);
    rig.proxy(0).set(Fault::Refuse);
    let mut offline = rig.sell(0, 5);
    let error = assert_transient(rig.sync(0), "nothing listens where the till sends");
    assert!(
        matches!(error, SyncError::Unreachable(_)),
        "a refused connection means the cloud cannot be reached, got {error:?}"
    );
    assert_eq!(
        rig.tills[0].pending(),
        5,
        "the sales made offline wait in the outbox"
    );
    offline.extend(rig.sell(0, 5));
    rig.sell(1, 3);
    rig.sync(1)
        .expect("the other till of the store syncs over its own healthy link");
    assert_transient(rig.sync(0), "the link is still down");
    assert_eq!(
        rig.tills[0].pending(),
        10,
        "the outbox grows while the cloud cannot be reached; selling never stops"
    );
    assert_eq!(
        rig.in_cloud(XINYI, &offline),
        0,
        "no sale of the partitioned till reached the cloud"
    );
    rig.heal_and_check("connections refused, then healed");
}

#[test]
fn sales_continue_while_the_cloud_refuses_connections_and_drain_after_on_sqlite() {
    refused_connections(Backend::Sqlite);
}

#[test]
fn sales_continue_while_the_cloud_refuses_connections_and_drain_after_on_postgresql() {
    refused_connections(Backend::Postgres);
}

fn dropped_request(backend: Backend) {
    let mut rig = Rig::start(backend, &[XINYI]);
    let receipts = rig.sell(0, 4);
    rig.proxy(0).once(Fault::DropRequest);
    assert_transient(rig.sync(0), "the push never reached the cloud");
    assert_eq!(
        rig.proxy(0)
            .counters()
            .requests_dropped
            .load(Ordering::SeqCst),
        1,
        "the proxy dropped the push"
    );
    assert_eq!(
        rig.proxy(0).fault(),
        Fault::Pass,
        "the one-shot fault was used by the push it dropped, so the next round goes through"
    );
    assert_eq!(
        rig.in_cloud(XINYI, &receipts),
        0,
        "the cloud never saw the dropped push"
    );
    assert_eq!(
        rig.tills[0].pending(),
        4,
        "nothing was acknowledged, so everything waits"
    );
    let report = rig.sync(0).expect("the next round goes through");
    assert_eq!(
        report.pushed, 4,
        "the next round pushes the same operations"
    );
    rig.heal_and_check("a dropped request");
}

#[test]
fn a_push_dropped_before_the_cloud_sees_it_is_pushed_again_on_sqlite() {
    dropped_request(Backend::Sqlite);
}

#[test]
fn a_push_dropped_before_the_cloud_sees_it_is_pushed_again_on_postgresql() {
    dropped_request(Backend::Postgres);
}

/// The cloud commits a push but its answer never arrives (`fault` is `DropResponse` or
/// `ResetMidResponse`): the till still counts the operations as pending although the cloud has
/// them, and the next round has them acknowledged as duplicates without applying them again.
fn answer_lost_after_commit(backend: Backend, fault: Fault) {
    let mut rig = Rig::start(backend, &[XINYI]);
    let receipts = rig.sell(0, 6);
    assert!(
        fault_tills::refund_one(
            &mut rig.tills[0].temp.till,
            &rig.template.staff,
            &receipts[0]
        ),
        "a fresh sale can be refunded"
    );
    rig.proxy(0).once(fault);
    assert_transient(rig.sync(0), "the push's answer never arrived whole");
    let counters = rig.proxy(0).counters();
    let fired = match fault {
        Fault::DropResponse => counters.responses_dropped.load(Ordering::SeqCst),
        _ => counters.resets.load(Ordering::SeqCst),
    };
    assert_eq!(fired, 1, "the proxy cut the push's answer ({fault:?})");
    assert_eq!(
        rig.in_cloud(XINYI, &receipts),
        6,
        "the cloud committed the push before it answered"
    );
    assert_eq!(
        rig.tills[0].pending(),
        7,
        "the till never heard the answer, so it still counts the operations as pending"
    );
    let report = rig.sync(0).expect("the next round goes through");
    assert_eq!(
        report.pushed, 7,
        "the next round pushes the unacknowledged operations again"
    );
    assert_eq!(rig.tills[0].pending(), 0, "the cloud acknowledged them");
    assert_eq!(
        refusals(&rig.tills[0]),
        0,
        "operations pushed again are duplicates, not refusals of sales already recorded"
    );
    assert_eq!(
        tills::cloud_receipts(&rig.cloud, &rig.key, XINYI).len(),
        6,
        "pushing again duplicated no sale in the cloud"
    );
    rig.heal_and_check(&format!("an answer lost after the commit ({fault:?})"));
}

#[test]
fn a_push_whose_answer_is_dropped_after_the_commit_is_acknowledged_once_on_sqlite() {
    answer_lost_after_commit(Backend::Sqlite, Fault::DropResponse);
}

#[test]
fn a_push_whose_answer_is_dropped_after_the_commit_is_acknowledged_once_on_postgresql() {
    answer_lost_after_commit(Backend::Postgres, Fault::DropResponse);
}

#[test]
fn a_push_whose_answer_is_reset_half_way_is_acknowledged_once_on_sqlite() {
    answer_lost_after_commit(Backend::Sqlite, Fault::ResetMidResponse);
}

#[test]
fn a_push_whose_answer_is_reset_half_way_is_acknowledged_once_on_postgresql() {
    answer_lost_after_commit(Backend::Postgres, Fault::ResetMidResponse);
}

fn slow_link(backend: Backend) {
    let mut rig = Rig::start(backend, &[XINYI]);
    let receipts = rig.sell(0, 3);
    rig.proxy(0).set(Fault::Delay(Duration::from_secs(3)));
    let report = rig
        .sync(0)
        .expect("a link that holds every request for 3 s is slow, not down");
    assert_eq!(report.pushed, 3, "the round pushed the sales");
    assert_eq!(rig.tills[0].pending(), 0, "the cloud acknowledged them");
    assert_eq!(rig.in_cloud(XINYI, &receipts), 3, "the cloud has the sales");
    rig.heal_and_check("requests delayed by 3 s");
}

#[test]
fn a_round_completes_over_a_link_that_delays_every_request_by_seconds_on_sqlite() {
    slow_link(Backend::Sqlite);
}

#[test]
fn a_round_completes_over_a_link_that_delays_every_request_by_seconds_on_postgresql() {
    slow_link(Backend::Postgres);
}

fn cashier_never_waits(backend: Backend) {
    let mut rig = Rig::start(backend, &[XINYI]);
    rig.sell(0, 3);
    let Rig {
        runtime,
        tills,
        template,
        rng,
        ..
    } = &mut rig;
    let runtime: &tokio::runtime::Runtime = runtime;
    let SyncedTill {
        temp,
        engine,
        proxy,
        ..
    } = &mut tills[0];
    let proxy = proxy.as_ref().expect("the till syncs through a proxy");
    let answered = proxy.counters().responses_started.load(Ordering::SeqCst);
    proxy.set(Fault::HoldResponses);
    let engine = engine.clone();
    let (held, sold, still_waiting, round) = std::thread::scope(|scope| {
        let round = scope.spawn(|| runtime.block_on(engine::sync_once(&engine)));
        let held = proxy.wait_for(PATIENCE, |c| {
            c.responses_started.load(Ordering::SeqCst) > answered
        });
        // The cloud has committed the push and the proxy holds its answer: the round waits on
        // the network. Meanwhile the cashier completes a sale on the till's own connection.
        let sold = held.then(|| fault_tills::sell(&mut temp.till, &template.staff, rng, 1));
        let still_waiting = !round.is_finished();
        proxy.pass();
        let round = round.join().expect("the sync round does not panic");
        (held, sold, still_waiting, round)
    });
    assert!(
        held,
        "the cloud answered the push and the proxy held the answer"
    );
    assert_eq!(
        sold.map(|r| r.len()),
        Some(1),
        "the cashier's sale completed"
    );
    assert!(
        still_waiting,
        "the sale completed while the round was still waiting for the cloud's answer: the \
         engine holds no ledger lock across network IO"
    );
    let report = round.expect("once the answer is released, the round completes");
    assert_eq!(
        report.pushed, 4,
        "the sale made while the push was in flight went out in the same round"
    );
    rig.heal_and_check("a sale completed while a push was in flight");
}

#[test]
fn the_cashier_completes_a_sale_while_a_push_waits_for_its_answer_on_sqlite() {
    cashier_never_waits(Backend::Sqlite);
}

#[test]
fn the_cashier_completes_a_sale_while_a_push_waits_for_its_answer_on_postgresql() {
    cashier_never_waits(Backend::Postgres);
}

fn long_partition(backend: Backend) {
    // A and C share a store; B is in the other store. C is cut off throughout.
    let (a, b, c) = (0, 1, 2);
    let mut rig = Rig::start(backend, &[XINYI, DAAN, XINYI]);
    rig.proxy(c).set(Fault::Refuse);
    let mut partitioned = Vec::new();
    let mut operations = 0;
    for round in 0..8 {
        rig.sell(a, 4);
        rig.sell(b, 4);
        let receipts = rig.sell(c, 55);
        assert!(
            fault_tills::refund_one(
                &mut rig.tills[c].temp.till,
                &rig.template.staff,
                &receipts[0]
            ),
            "a fresh sale can be refunded"
        );
        operations += 56;
        partitioned.extend(receipts);
        rig.sync(a).expect("A's link is healthy");
        rig.sync(b).expect("B's link is healthy");
        if round % 2 == 0 {
            assert_transient(rig.sync(c), "C is partitioned");
        }
    }
    assert!(
        operations > 2 * PUSH_BATCH,
        "the backlog needs several push batches"
    );
    assert_eq!(
        rig.tills[c].pending(),
        operations as i64,
        "every sale and refund of the partition waits in C's outbox"
    );
    assert_eq!(
        rig.in_cloud(XINYI, &partitioned),
        0,
        "none of C's sales reached the cloud during the partition"
    );
    rig.heal(c);
    let report = rig.sync(c).expect("once healed, C syncs");
    assert_eq!(
        report.pushed, operations,
        "one round pushes the whole backlog, batch after batch"
    );
    rig.heal_and_check("a long partition of one till");
}

#[test]
fn a_till_partitioned_for_long_catches_up_in_several_batches_on_sqlite() {
    long_partition(Backend::Sqlite);
}

#[test]
fn a_till_partitioned_for_long_catches_up_in_several_batches_on_postgresql() {
    long_partition(Backend::Postgres);
}

/// Imports `count` new products into the cloud's catalog, which puts that many entries on the
/// change feed.
fn import_products(rig: &Rig, count: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("products.csv");
    let mut csv = String::from("sku,name,tax_class,active,barcodes,price_minor\n");
    for n in 0..count {
        csv.push_str(&format!("BULK-{n:05},Bulk item {n},standard,1,,1000\n"));
    }
    std::fs::write(&path, csv).expect("the CSV is written");
    rig.cloud
        .admin(&["catalog", "import", &path.display().to_string()]);
}

/// Runs a round whose first request is answered, and whose every later request is dropped.
fn round_cut_after_first_answer(rig: &Rig, till: usize) -> Result<RoundReport, SyncError> {
    let proxy = rig.proxy(till);
    let answered = proxy.counters().responses_started.load(Ordering::SeqCst);
    proxy.set(Fault::HoldResponses);
    let engine = rig.tills[till].engine.clone();
    let runtime = &rig.runtime;
    std::thread::scope(|scope| {
        let round = scope.spawn(|| runtime.block_on(engine::sync_once(&engine)));
        let held = proxy.wait_for(PATIENCE, |c| {
            c.responses_started.load(Ordering::SeqCst) > answered
        });
        // Releases the held answer; the request that follows it is dropped.
        proxy.set(Fault::DropRequest);
        let result = round.join().expect("the sync round does not panic");
        assert!(held, "the cloud answered the round's first request");
        result
    })
}

/// Asserts that the till shows the cloud's stock for every SKU it sold.
fn assert_stock_counts_own_sales(rig: &Rig, till: usize, why: &str) {
    let cloud = tills::cloud_stock(&rig.cloud, &rig.key, rig.tills[till].store);
    for sku in rig.tills[till].net_sold().keys() {
        assert_eq!(
            rig.tills[till]
                .temp
                .till
                .stock_on_hand(sku)
                .expect("the till's stock"),
            cloud[sku],
            "{sku}: {why}"
        );
    }
}

fn fault_between_pull_pages(backend: Backend) {
    let mut rig = Rig::start(backend, &[XINYI]);
    // More catalog changes than one pull page holds: a round pulls two pages, and the stock
    // levels the till's own sales changed come after the catalog, on the second page.
    import_products(&rig, engine::PULL_PAGE as usize + 100);
    rig.sell(0, 3);
    assert_transient(
        round_cut_after_first_answer(&rig, 0),
        "the push is answered, then the pull is dropped",
    );
    assert_eq!(rig.tills[0].pending(), 0, "the cloud acknowledged the push");
    assert_stock_counts_own_sales(
        &rig,
        0,
        "before it pulls, the till counts its own sales on top of the level it last pulled",
    );
    fault_tills::heal(rig.proxy(0));
    let result = round_cut_after_first_answer(&rig, 0);
    assert_transient(
        result,
        "the first page is answered, then the second is dropped",
    );
    assert_stock_counts_own_sales(
        &rig,
        0,
        "a link lost between two pages of the feed must not make the till forget its own \
         sales: the first page's write checkpoint covers them, but their stock levels are on \
         the page that never came",
    );
    rig.heal_and_check("a fault between two pages of the feed");
}

#[test]
fn a_link_lost_between_pull_pages_keeps_the_tills_own_sales_in_its_stock_on_sqlite() {
    fault_between_pull_pages(Backend::Sqlite);
}

#[test]
fn a_link_lost_between_pull_pages_keeps_the_tills_own_sales_in_its_stock_on_postgresql() {
    fault_between_pull_pages(Backend::Postgres);
}

/// Sells one unit of the demo product numbered `n` by card.
fn sell_product(rig: &mut Rig, till: usize, n: u64) -> Receipt {
    let till = &mut rig.tills[till].temp.till;
    let rules = till.pricing_rules().expect("pricing rules");
    let mut cart = Cart::new();
    let item = till
        .scan(&demo::demo_barcode(n))
        .expect("the product scans");
    cart.add_item(item, 1).expect("the item goes into the cart");
    let due = cart.totals(rules).due_minor;
    cart.add_tender(rules, TenderKind::Card, due, Some("T"))
        .expect("a card tender for the amount due");
    till.complete_sale(&rig.template.staff.cashier, &cart)
        .expect("the sale completes")
}

fn price(rig: &Rig, till: usize, n: u64) -> i64 {
    rig.tills[till]
        .temp
        .till
        .scan(&demo::demo_barcode(n))
        .expect("the product scans")
        .unit_price_minor
}

fn price_change_during_partition(backend: Backend) {
    let (online, cut_off) = (0, 1);
    let mut rig = Rig::start(backend, &[XINYI, XINYI]);
    let n = 5;
    let old = price(&rig, cut_off, n);
    assert_eq!(
        old,
        price(&rig, online, n),
        "both tills start from the cloud's price"
    );
    rig.proxy(cut_off).set(Fault::Refuse);
    let sku = rig.tills[online]
        .temp
        .till
        .scan(&demo::demo_barcode(n))
        .expect("the product scans")
        .sku;
    let new = old + 1_000;
    let effective_from = rig
        .tills
        .iter()
        .map(|t| t.temp.till.clock().now().timestamp_millis())
        .min()
        .expect("tills")
        - 60_000;
    let response = cloud::http()
        .put(format!("{}/v1/products/{sku}/prices", rig.cloud.base_url))
        .bearer_auth(&rig.key)
        .json(&serde_json::json!({ "effective_from_ms": effective_from, "price_minor": new }))
        .send()
        .expect("the e-shop's price request");
    assert_eq!(response.status(), 204, "the e-shop changes the price");
    rig.sync(online).expect("the online till syncs");
    assert_eq!(
        price(&rig, online, n),
        new,
        "the online till has the new price"
    );
    assert_transient(rig.sync(cut_off), "the other till is partitioned");
    assert_eq!(
        price(&rig, cut_off, n),
        old,
        "the partitioned till keeps the price it last saw"
    );
    let offline_sale = sell_product(&mut rig, cut_off, n);
    assert_eq!(
        offline_sale.total_minor, old,
        "the partitioned till charges the price it knows"
    );
    rig.heal_and_check("a price change during a partition");
    assert_eq!(
        price(&rig, cut_off, n),
        new,
        "once healed, the partitioned till has the price the cloud set during the outage"
    );
    let sales = rig
        .cloud
        .get_with_key(&rig.key, &format!("/v1/stores/{XINYI}/sales?limit=10000"));
    let recorded = sales
        .as_array()
        .expect("a list of sales")
        .iter()
        .find(|s| s["receipt_no"] == offline_sale.receipt_no.as_str())
        .expect("the offline sale is in the cloud");
    assert_eq!(
        recorded["total_minor"].as_i64(),
        Some(old),
        "a sale keeps the price it was actually charged, though the price changed meanwhile"
    );
}

#[test]
fn a_price_changed_during_a_partition_reaches_the_till_after_healing_on_sqlite() {
    price_change_during_partition(Backend::Sqlite);
}

#[test]
fn a_price_changed_during_a_partition_reaches_the_till_after_healing_on_postgresql() {
    price_change_during_partition(Backend::Postgres);
}
