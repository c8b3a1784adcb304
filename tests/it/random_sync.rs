//! Randomised sync schedules under network faults, each replayable from its seed.
//!
//! A schedule is a random sequence of steps over three tills, two in one store and one in
//! another, each reaching the cloud through its own `FaultProxy`: sell some sales, refund one,
//! run a sync round (or one on every till at once), set a fault on one till's link (refused,
//! request dropped, answer dropped or reset after the commit, a short delay; for one event or
//! until healed), heal a link, hold a round's answer (selling meanwhile) and then release it,
//! cut the link or restart the cloud, and kill and restart the cloud. During a schedule every
//! failed round must be a transient error, and right after a round of one till succeeds that
//! till must show the cloud's stock. Afterwards every link is healed, the tills converge, and
//! `tills::assert_invariants` must hold.
//!
//! Everything a schedule does comes from its seed (`schedule`, then the same generator picks
//! the products sold), so a failing seed replays the same schedule:
//! `OMNITILL_SYNC_SEED=<seed>` runs that seed alone, and `OMNITILL_SYNC_SCHEDULES=<n>` changes
//! how many seeds run (seeds 0 to n-1; PostgreSQL runs a tenth as many). Schedules run on two
//! workers (`OMNITILL_SYNC_WORKERS`), each with a cloud process of its own that serves all its
//! schedules; each schedule gets two new stores of its own, so its invariants hold in
//! isolation and do not depend on which worker ran it or what ran before. New stores start
//! with no stock, and the initial stock is what the cloud reports for them. Tills are copies
//! of one seeded ledger (`LedgerTemplate`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use omnitill_sync::engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::fault_tills::{self, LedgerTemplate, heal};
use crate::support::proxy::Fault;
use crate::support::seeded;
use crate::support::tills::{self, SyncedTill};

/// How many seeds run on SQLite unless `OMNITILL_SYNC_SCHEDULES` says otherwise.
const SCHEDULES: u64 = 200;

/// How many schedules run at once, each worker with a cloud of its own.
const WORKERS: usize = 2;

/// Tills 0 and 1 are in a schedule's first store, till 2 in its second.
const TILLS: usize = 3;

/// Generous bound for waiting on something the proxy must see.
const PATIENCE: Duration = Duration::from_secs(30);

/// One step of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Sell {
        till: usize,
        sales: usize,
    },
    /// Refunds one unit of this till's sale number `pick` (modulo how many it has).
    Refund {
        till: usize,
        pick: usize,
    },
    Sync {
        till: usize,
    },
    /// Every till runs a round at the same time.
    SyncAtOnce,
    /// Sets `fault` on the till's link, for its next event only when `once`.
    Fault {
        till: usize,
        fault: Fault,
        once: bool,
    },
    Heal {
        till: usize,
    },
    /// Runs a round on another thread and holds the cloud's first answer; optionally sells
    /// meanwhile; then ends the hold as `end` says.
    Hold {
        till: usize,
        sell_meanwhile: bool,
        end: HoldEnd,
    },
    RestartCloud,
}

/// How a `Hold` step ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldEnd {
    /// The answer goes on to the till.
    Release,
    /// The link is cut: the till never gets the answer the cloud committed.
    Cut,
    /// The cloud is killed and restarted, then the answer it sent before it died goes on.
    RestartCloud,
}

/// The steps of the schedule for `seed`, and the generator that then picks what is sold.
fn schedule(seed: u64) -> (Vec<Step>, StdRng) {
    let mut rng = StdRng::seed_from_u64(seed);
    let length = rng.random_range(10..=30);
    let steps = (0..length)
        .map(|_| {
            let till = rng.random_range(0..TILLS);
            match rng.random_range(0..100) {
                0..25 => Step::Sell {
                    till,
                    // Now and then a backlog that takes more than one push batch.
                    sales: if rng.random_ratio(1, 40) {
                        rng.random_range(201..=230)
                    } else {
                        rng.random_range(1..=6)
                    },
                },
                25..33 => Step::Refund {
                    till,
                    pick: rng.random_range(0..1_000),
                },
                33..60 => Step::Sync { till },
                60..63 => Step::SyncAtOnce,
                63..78 => {
                    let fault = match rng.random_range(0..5) {
                        0 => Fault::Refuse,
                        1 => Fault::DropRequest,
                        2 => Fault::DropResponse,
                        3 => Fault::ResetMidResponse,
                        _ => Fault::Delay(Duration::from_millis(rng.random_range(10..=300))),
                    };
                    Step::Fault {
                        till,
                        fault,
                        once: rng.random_bool(0.5),
                    }
                }
                78..90 => Step::Heal { till },
                90..97 => Step::Hold {
                    till,
                    sell_meanwhile: rng.random_bool(0.5),
                    end: match rng.random_range(0..10) {
                        0..6 => HoldEnd::Release,
                        6..9 => HoldEnd::Cut,
                        _ => HoldEnd::RestartCloud,
                    },
                },
                _ => Step::RestartCloud,
            }
        })
        .collect();
    (steps, rng)
}

/// What all the schedules of one test share.
struct World {
    runtime: tokio::runtime::Runtime,
    cloud: CloudProcess,
    key: String,
    template: LedgerTemplate,
    /// Schedules run so far, to name their stores.
    stores_made: usize,
}

impl World {
    fn start(backend: Backend) -> World {
        let runtime = tills::runtime();
        let cloud = CloudProcess::start(backend);
        let key = cloud.api_key();
        World {
            runtime,
            cloud,
            key,
            template: LedgerTemplate::new(),
            stores_made: 0,
        }
    }

    /// A new store in the cloud, for one schedule alone.
    fn new_store(&mut self) -> &'static str {
        self.stores_made += 1;
        let code: &'static str = Box::leak(format!("RND-{}", self.stores_made).into_boxed_str());
        self.cloud.admin(&[
            "store",
            "create",
            "--code",
            code,
            "--name",
            "Random schedule",
        ]);
        code
    }
}

/// Runs one schedule and checks the invariants after it.
fn run_schedule(world: &mut World, seed: u64) {
    let context = format!("seed {seed}");
    let (steps, mut rng) = schedule(seed);
    let stores = [world.new_store(), world.new_store()];
    let initial: HashMap<&'static str, BTreeMap<String, i64>> = stores
        .iter()
        .map(|store| (*store, tills::cloud_stock(&world.cloud, &world.key, store)))
        .collect();
    let mut tills: Vec<SyncedTill> = [stores[0], stores[0], stores[1]]
        .into_iter()
        .map(|store| {
            world
                .template
                .enrol(&world.runtime, &world.cloud, store, true)
        })
        .collect();
    let mut receipts: Vec<Vec<String>> = vec![Vec::new(); TILLS];
    for (number, step) in steps.iter().enumerate() {
        let at = format!("[{context}] step {number} {step:?}");
        match *step {
            Step::Sell { till, sales } => {
                receipts[till].extend(fault_tills::sell(
                    &mut tills[till].temp.till,
                    &world.template.staff,
                    &mut rng,
                    sales,
                ));
            }
            Step::Refund { till, pick } => {
                if let Some(receipt) = receipts[till].get(pick % receipts[till].len().max(1)) {
                    fault_tills::refund_one(
                        &mut tills[till].temp.till,
                        &world.template.staff,
                        receipt,
                    );
                }
            }
            Step::Sync { till } => match tills[till].sync(&world.runtime) {
                Ok(_) => assert_caught_up(world, &tills[till], &at),
                Err(error) => assert_transient(&error, &at),
            },
            Step::SyncAtOnce => {
                let runtime = &world.runtime;
                let results: Vec<_> = std::thread::scope(|scope| {
                    let rounds: Vec<_> = tills
                        .iter()
                        .map(|till| {
                            let engine = till.engine.clone();
                            scope.spawn(move || runtime.block_on(engine::sync_once(&engine)))
                        })
                        .collect();
                    rounds
                        .into_iter()
                        .map(|round| round.join().expect("a sync round does not panic"))
                        .collect()
                });
                for error in results.iter().filter_map(|r| r.as_ref().err()) {
                    assert_transient(error, &at);
                }
            }
            Step::Fault { till, fault, once } => {
                if once {
                    tills[till].proxy().once(fault);
                } else {
                    tills[till].proxy().set(fault);
                }
            }
            Step::Heal { till } => tills[till].proxy().pass(),
            Step::Hold {
                till,
                sell_meanwhile,
                end,
            } => {
                let sold_meanwhile =
                    hold(world, &mut tills[till], &mut rng, sell_meanwhile, end, &at);
                receipts[till].extend(sold_meanwhile);
            }
            Step::RestartCloud => world.cloud.restart(),
        }
    }
    for till in &tills {
        heal(till.proxy());
    }
    tills::converge(&world.runtime, &tills, 6, &context);
    tills::assert_invariants(&world.cloud, &world.key, &initial, &tills, &context);
}

fn assert_transient(error: &omnitill_sync::SyncError, at: &str) {
    assert!(
        error.is_transient(),
        "{at}: a network fault may only cause a transient error, which the engine retries; \
         got {error:?}"
    );
}

/// After a round of one till that succeeded while no other till synced and nothing was sold:
/// it pushed everything and then pulled the feed to its end, so it shows exactly the cloud's
/// stock.
fn assert_caught_up(world: &World, till: &SyncedTill, at: &str) {
    assert_eq!(
        till.pending(),
        0,
        "{at}: a round that succeeded pushed every pending operation"
    );
    for (sku, on_hand) in tills::cloud_stock(&world.cloud, &world.key, till.store) {
        assert_eq!(
            till.temp
                .till
                .stock_on_hand(&sku)
                .expect("the till's stock"),
            on_hand,
            "{at}: {sku}: right after a round that succeeded, the till shows the cloud's stock"
        );
    }
}

/// The `Hold` step: a round on another thread waits for an answer the proxy holds back.
/// Returns the receipts of what was sold meanwhile.
fn hold(
    world: &mut World,
    till: &mut SyncedTill,
    rng: &mut StdRng,
    sell_meanwhile: bool,
    end: HoldEnd,
    at: &str,
) -> Vec<String> {
    let proxy = till.proxy.as_ref().expect("the till syncs through a proxy");
    // After `Refuse` the proxy's port opens again a moment later; the round must reach it.
    heal(proxy);
    proxy.set(Fault::HoldResponses);
    let answered = proxy.counters().responses_started.load(Ordering::SeqCst);
    let engine = till.engine.clone();
    let World {
        runtime,
        cloud,
        template,
        ..
    } = world;
    let runtime: &tokio::runtime::Runtime = runtime;
    let round_over = AtomicBool::new(false);
    let (held, sold, still_waiting, result) = std::thread::scope(|scope| {
        let round = scope.spawn(|| {
            let result = runtime.block_on(engine::sync_once(&engine));
            round_over.store(true, Ordering::SeqCst);
            result
        });
        let held = proxy.wait_for(PATIENCE, |c| {
            c.responses_started.load(Ordering::SeqCst) > answered
                || round_over.load(Ordering::SeqCst)
        }) && !round_over.load(Ordering::SeqCst);
        let sold = if held && sell_meanwhile {
            fault_tills::sell(&mut till.temp.till, &template.staff, rng, 1)
        } else {
            Vec::new()
        };
        let still_waiting = !round.is_finished();
        match end {
            HoldEnd::Release => {}
            HoldEnd::Cut => proxy.cut_connections(),
            HoldEnd::RestartCloud => cloud.restart(),
        }
        proxy.pass();
        let result = round.join().expect("the sync round does not panic");
        (held, sold, still_waiting, result)
    });
    assert!(
        held,
        "{at}: the cloud answered the round's first request and the proxy held the answer \
         (round: {result:?})"
    );
    assert!(
        still_waiting,
        "{at}: the round was waiting for the held answer while the cashier sold"
    );
    match result {
        Ok(_) => {
            assert_ne!(
                end,
                HoldEnd::Cut,
                "{at}: a round whose held answer was cut off cannot have succeeded"
            );
            // A sale made during the round is pushed after the round's pull, and the round ends
            // there; the next round brings its stock level back.
            if sold.is_empty() {
                assert_caught_up(world, till, at);
            }
        }
        Err(error) => assert_transient(&error, at),
    }
    sold
}

fn random_schedules(backend: Backend, test: &str, share: u64) {
    let started = Instant::now();
    let seeds = seeded::seeds(
        "OMNITILL_SYNC_SEED",
        "OMNITILL_SYNC_SCHEDULES",
        SCHEDULES,
        share,
    );
    let workers = std::env::var("OMNITILL_SYNC_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(WORKERS)
        .clamp(1, seeds.len());
    let failure = seeded::run_seeds(
        &seeds,
        workers,
        |_| World::start(backend),
        |world, _, seed| run_schedule(world, seed),
    );
    if let Some((seed, message)) = failure {
        panic!(
            "the random schedule with seed {seed} failed: {message}\n\
             schedule: {:?}\n\
             replay it with: cargo build -p omnitill-cloud && OMNITILL_SYNC_SEED={seed} \
             cargo test -p omnitill-tests --test it random_sync::{test} -- --nocapture",
            schedule(seed).0
        );
    }
    eprintln!(
        "random_sync::{test}: {} schedules on {workers} workers in {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn random_fault_schedules_converge_with_every_sale_once_on_sqlite() {
    random_schedules(
        Backend::Sqlite,
        "random_fault_schedules_converge_with_every_sale_once_on_sqlite",
        1,
    );
}

#[test]
fn random_fault_schedules_converge_with_every_sale_once_on_postgresql() {
    random_schedules(
        Backend::Postgres,
        "random_fault_schedules_converge_with_every_sale_once_on_postgresql",
        10,
    );
}

#[test]
fn a_seed_always_makes_the_same_schedule() {
    for seed in [0, 1, 17, u64::MAX] {
        let (steps, mut rng) = schedule(seed);
        let (again, mut rng_again) = schedule(seed);
        assert_eq!(steps, again, "seed {seed} replays the same steps");
        assert_eq!(
            rng.random::<u64>(),
            rng_again.random::<u64>(),
            "seed {seed} replays the same sales"
        );
    }
    assert_ne!(
        schedule(1).0,
        schedule(2).0,
        "different seeds make different schedules"
    );
}
