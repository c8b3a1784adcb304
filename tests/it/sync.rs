//! Tills sync through the real engine with a real cloud process, on SQLite and PostgreSQL:
//! three tills in two stores sell offline, then sync; afterwards every sale is in the cloud
//! exactly once, every till's stock equals its store's stock in the cloud, and no outbox holds
//! anything.

use std::sync::{Arc, Mutex};

use omnitill_core::{TenderKind, Till, sync as ledger_sync};
use omnitill_sync::{Client, engine};
use rand::{Rng, SeedableRng};

use crate::support::TempTill;
use crate::support::cloud::{Backend, CloudProcess};

struct SyncedTill {
    temp: TempTill,
    store: &'static str,
    shared: Arc<Mutex<Till>>,
}

fn enrolled_till(
    runtime: &tokio::runtime::Runtime,
    cloud: &CloudProcess,
    store: &'static str,
) -> SyncedTill {
    let mut temp = TempTill::demo();
    let code = cloud.admin(&["enrolment-code", "--store", store]);
    let client = Client::new(&cloud.base_url, None).expect("client");
    let enrolment = runtime
        .block_on(client.enrol(&code, "Counter"))
        .expect("enrolment succeeds");
    let now = temp.till.clock().now();
    ledger_sync::record_enrolment(temp.till.connection_mut(), &cloud.base_url, &enrolment, now)
        .expect("enrolment recorded");
    temp.till.reload_device().expect("device");
    assert_eq!(
        temp.till.device().receipt_prefix,
        enrolment.receipt_prefix,
        "receipts now carry the prefix the cloud assigned"
    );
    let shared =
        engine::open_ledger(&crate::support::ledger_path(temp._dir.path())).expect("engine ledger");
    SyncedTill {
        temp,
        store,
        shared,
    }
}

fn sell_randomly(till: &mut TempTill, rng: &mut impl Rng, sales: usize) -> usize {
    let cashier = till.cashier();
    let rules = till.till.pricing_rules().expect("rules");
    let mut done = 0;
    while done < sales {
        let items: Vec<u64> = (0..rng.random_range(1..=4))
            .map(|_| rng.random_range(1..=40))
            .collect();
        let mut cart = omnitill_core::Cart::new();
        for n in items {
            if let Ok(item) = till.till.scan(&omnitill_core::demo::demo_barcode(n)) {
                cart.add_item(item, rng.random_range(1..=3)).expect("add");
            }
        }
        if cart.is_empty() {
            continue;
        }
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("card");
        till.till.complete_sale(&cashier, &cart).expect("sale");
        done += 1;
    }
    done
}

fn scenario(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let mut tills = vec![
        enrolled_till(&runtime, &cloud, "TPE-XINYI"),
        enrolled_till(&runtime, &cloud, "TPE-XINYI"),
        enrolled_till(&runtime, &cloud, "TPE-DAAN"),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut sold = 0;
    for till in &mut tills {
        sold += sell_randomly(&mut till.temp, &mut rng, 12);
    }
    // Two rounds each: the second brings back what the other tills of the store pushed.
    for _ in 0..2 {
        for till in &tills {
            runtime
                .block_on(engine::sync_once(&till.shared))
                .expect("a sync round succeeds");
        }
    }

    let xinyi = cloud.get_with_key(&key, "/v1/stores/TPE-XINYI/sales?limit=1000");
    let daan = cloud.get_with_key(&key, "/v1/stores/TPE-DAAN/sales?limit=1000");
    let in_cloud = xinyi.as_array().map_or(0, Vec::len) + daan.as_array().map_or(0, Vec::len);
    assert_eq!(in_cloud, sold, "every sale is in the cloud exactly once");
    for till in &tills {
        let (pending, _) = till.temp.till.pending_operations().expect("pending");
        assert_eq!(pending, 0, "nothing remains in any outbox");
        let levels = cloud.get_with_key(&key, &format!("/v1/stores/{}/stock", till.store));
        let levels = levels.as_array().expect("levels");
        assert!(
            levels.len() > 250,
            "the store has stock of the whole catalog"
        );
        for level in levels {
            let sku = level["sku"].as_str().expect("sku");
            let cloud_level = level["on_hand"].as_i64().expect("on hand");
            assert_eq!(
                till.temp.till.stock_on_hand(sku).expect("till stock"),
                cloud_level,
                "the till's stock of {sku} equals its store's stock in the cloud"
            );
        }
    }
}

#[test]
fn three_tills_converge_with_a_cloud_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn three_tills_converge_with_a_cloud_on_postgresql() {
    scenario(Backend::Postgres);
}
