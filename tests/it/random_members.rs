//! Randomised member schedules under network faults, each replayable from its seed.
//!
//! A schedule signs a member up in the e-shop, then runs a random sequence of steps over three
//! tills (two in one store, one in another), each reaching the cloud through its own
//! `FaultProxy`: sales to the member that redeem points offline (sometimes more than the
//! offline bound allows, which must be refused), refunds of those sales, online earning and
//! redeeming through the e-shop API, sync rounds, faults on a till's link (refused, request
//! dropped, answer dropped or reset after the cloud committed, delays) and heals. After every
//! step each till's offline allowance left must not be negative. Afterwards the links heal, the
//! tills converge, and:
//! - the member's balance at the cloud is the sum of their entries;
//! - it equals what every party recorded: the balance at sign-up, plus the e-shop's earns less
//!   its redemptions, plus the points every till's receipts say were earned, less redeemed,
//!   less taken back by refunds, plus given back by them; so every operation was applied
//!   exactly once, whatever the faults;
//! - every till shows that balance, with nothing pending.
//!
//! `OMNITILL_MEMBER_SEED=<seed>` replays one seed; `OMNITILL_MEMBER_SCHEDULES=<n>` runs seeds
//! 0 to n-1 (PostgreSQL runs a tenth as many).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use omnitill_core::members;
use omnitill_core::{Cart, CoreError, TenderKind, demo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::fault_tills::{self, LedgerTemplate, Staff, heal};
use crate::support::members as members_support;
use crate::support::proxy::Fault;
use crate::support::seeded;
use crate::support::tills::{self, SyncedTill};

/// How many seeds run on SQLite unless `OMNITILL_MEMBER_SCHEDULES` says otherwise.
const SCHEDULES: u64 = 200;
const WORKERS: usize = 2;
const TILLS: usize = 3;

/// Offline redemptions the tills took and refused, over every schedule of a run: a run of
/// many schedules must have exercised both.
static TAKEN: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A sale to the member at `till`, redeeming `points` offline when not 0.
    Sell {
        till: usize,
        points: i64,
    },
    /// Refunds one unit of the till's member sale number `pick` (modulo how many it has).
    Refund {
        till: usize,
        pick: usize,
    },
    /// The e-shop books an order of `minor` for the member.
    EarnOnline {
        minor: i64,
    },
    /// The e-shop redeems `points` for an order (refused when the member has fewer).
    RedeemOnline {
        points: i64,
    },
    Sync {
        till: usize,
    },
    Fault {
        till: usize,
        fault: Fault,
        once: bool,
    },
    Heal {
        till: usize,
    },
}

fn schedule(seed: u64) -> (Vec<Step>, StdRng) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4D45_4D42_4552);
    let length = rng.random_range(12..=30);
    let steps = (0..length)
        .map(|_| {
            let till = rng.random_range(0..TILLS);
            match rng.random_range(0..100) {
                0..30 => Step::Sell {
                    till,
                    points: match rng.random_range(0..4) {
                        0 => 0,
                        1 => rng.random_range(1..=50),
                        2 => rng.random_range(50..=400),
                        // Past the brand's per-member offline cap of 500.
                        _ => rng.random_range(450..=900),
                    },
                },
                30..38 => Step::Refund {
                    till,
                    pick: rng.random_range(0..1_000),
                },
                38..46 => Step::EarnOnline {
                    minor: rng.random_range(1..=40) * 10_000,
                },
                46..53 => Step::RedeemOnline {
                    points: rng.random_range(1..=300),
                },
                53..78 => Step::Sync { till },
                78..90 => Step::Fault {
                    till,
                    fault: match rng.random_range(0..5) {
                        0 => Fault::Refuse,
                        1 => Fault::DropRequest,
                        2 => Fault::DropResponse,
                        3 => Fault::ResetMidResponse,
                        _ => Fault::Delay(Duration::from_millis(rng.random_range(10..=200))),
                    },
                    once: rng.random_bool(0.5),
                },
                _ => Step::Heal { till },
            }
        })
        .collect();
    (steps, rng)
}

struct World {
    runtime: tokio::runtime::Runtime,
    cloud: CloudProcess,
    key: String,
    template: LedgerTemplate,
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

    fn new_store(&mut self, worker: usize) -> &'static str {
        self.stores_made += 1;
        let code: &'static str =
            Box::leak(format!("MEM-{worker}-{}", self.stores_made).into_boxed_str());
        self.cloud.admin(&[
            "store",
            "create",
            "--code",
            code,
            "--name",
            "Member schedule",
        ]);
        code
    }

    fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        members_support::api_call(&self.cloud, &self.key, method, path, body)
    }
}

/// A sale of 1-3 demo items to the member, with `points` redeemed offline when the till
/// allows them. Returns the receipt number, or None when the till does not know the member.
fn sell_to_member(
    till: &mut SyncedTill,
    staff: &Staff,
    rng: &mut StdRng,
    member_id: &str,
    points: i64,
    at: &str,
) -> Option<String> {
    let core = &mut till.temp.till;
    let mut cart = Cart::new();
    if core.attach_member(&mut cart, member_id).is_err() {
        return None;
    }
    while cart.is_empty() {
        if let Ok(item) = core.scan(&demo::demo_barcode(rng.random_range(1..=40))) {
            cart.add_item(item, rng.random_range(1..=3))
                .expect("a demo item goes in");
        }
    }
    if points > 0 {
        let limit = core
            .offline_points_limit(member_id)
            .expect("the offline limit");
        match core.pay_with_points(&mut cart, points, false) {
            Ok(()) => {
                assert!(
                    points <= limit.points,
                    "{at}: {points} points were taken offline past the limit of {}",
                    limit.points
                );
                TAKEN.fetch_add(1, Ordering::Relaxed);
            }
            Err(CoreError::OfflinePointsLimit(_)) => {
                assert!(
                    points > limit.points,
                    "{at}: {points} points were refused within the limit of {}",
                    limit.points
                );
                REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            // More points than the sale comes to: the sale goes on without them.
            Err(CoreError::BadTender(_)) => {}
            Err(other) => panic!("{at}: paying with points failed: {other:?}"),
        }
    }
    let rules = core.pricing_rules().expect("pricing rules");
    let due = cart.totals(rules).due_minor;
    if due > 0 {
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("a card tender");
    }
    let receipt = core
        .complete_sale(&staff.cashier, &cart)
        .unwrap_or_else(|e| panic!("{at}: a member's sale must complete offline: {e:?}"));
    Some(receipt.receipt_no)
}

fn run_schedule(world: &mut World, worker: usize, seed: u64) {
    let context = format!("seed {seed}");
    let (steps, mut rng) = schedule(seed);
    let stores = [world.new_store(worker), world.new_store(worker)];
    let phone = format!("091{:07}", seed * 10 + worker as u64);
    let (status, member) = world.api(
        reqwest::Method::POST,
        "/v1/members",
        Some(
            json!({ "phone": phone, "name": format!("Random 隨機 {seed}"), "consent_terms": true }),
        ),
    );
    assert_eq!(status, 201, "[{context}] the member signs up: {member}");
    let member_id = member["id"].as_str().expect("an id").to_owned();
    // A starting balance to redeem from.
    let (status, _) = world.api(
        reqwest::Method::POST,
        &format!("/v1/members/{member_id}/earn"),
        Some(json!({ "order_ref": format!("START-{seed}"), "lines": [{ "sku": "X", "total_minor": 8_000_000 }] })),
    );
    assert_eq!(status, 200, "[{context}] the starting order earns points");
    let (_, found) = world.api(
        reqwest::Method::GET,
        &format!("/v1/members/{member_id}"),
        None,
    );
    let mut expected = found["balance"].as_i64().expect("a balance");

    let mut tills: Vec<SyncedTill> = [stores[0], stores[0], stores[1]]
        .into_iter()
        .map(|store| {
            world
                .template
                .enrol(&world.runtime, &world.cloud, store, true)
        })
        .collect();
    // Each till learns the brand's keys, rules, its allowance and the member.
    for till in &tills {
        till.sync(&world.runtime)
            .unwrap_or_else(|e| panic!("[{context}] a first sync: {e:?}"));
    }
    let mut receipts: Vec<Vec<String>> = vec![Vec::new(); TILLS];
    let staff = world.template.staff.clone();
    for (number, step) in steps.iter().enumerate() {
        let at = format!("[{context}] step {number} {step:?}");
        match *step {
            Step::Sell { till, points } => {
                if let Some(receipt) =
                    sell_to_member(&mut tills[till], &staff, &mut rng, &member_id, points, &at)
                {
                    receipts[till].push(receipt);
                }
            }
            Step::Refund { till, pick } => {
                if let Some(receipt) = receipts[till].get(pick % receipts[till].len().max(1)) {
                    fault_tills::refund_one(&mut tills[till].temp.till, &staff, receipt);
                }
            }
            Step::EarnOnline { minor } => {
                let (status, booked) = world.api(
                    reqwest::Method::POST,
                    &format!("/v1/members/{member_id}/earn"),
                    Some(json!({ "order_ref": format!("E-{seed}-{number}"), "lines": [{ "sku": "X", "total_minor": minor }] })),
                );
                assert_eq!(status, 200, "{at}: an online order earns: {booked}");
                expected += booked["points"].as_i64().expect("points");
            }
            Step::RedeemOnline { points } => {
                let (status, answer) = world.api(
                    reqwest::Method::POST,
                    &format!("/v1/members/{member_id}/redeem"),
                    Some(json!({ "order_ref": format!("R-{seed}-{number}"), "points": points })),
                );
                match status {
                    200 => expected -= points,
                    409 => {}
                    other => panic!("{at}: an online redemption answered {other}: {answer}"),
                }
            }
            Step::Sync { till } => {
                if let Err(error) = tills[till].sync(&world.runtime) {
                    assert!(
                        error.is_transient(),
                        "{at}: a sync may fail only for a transient reason: {error:?}"
                    );
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
        }
        for (number, till) in tills.iter().enumerate() {
            let left =
                members::allowance_left(till.temp.till.connection()).expect("the allowance left");
            assert!(
                left >= 0,
                "{at}: till {number} redeemed past its offline allowance ({left} left)"
            );
        }
    }
    for till in &tills {
        heal(till.proxy());
    }
    tills::converge(&world.runtime, &tills, 6, &context);

    let (_, found) = world.api(
        reqwest::Method::GET,
        &format!("/v1/members/{member_id}"),
        None,
    );
    let balance = found["balance"].as_i64().expect("a balance");
    let (_, history) = world.api(
        reqwest::Method::GET,
        &format!("/v1/members/{member_id}/history"),
        None,
    );
    let entries: i64 = history["points"]
        .as_array()
        .expect("the member's entries")
        .iter()
        .map(|e| e["points"].as_i64().expect("points"))
        .sum();
    assert_eq!(
        balance, entries,
        "[{context}] the cloud's balance is the sum of the member's entries"
    );
    let recorded = expected
        + tills
            .iter()
            .map(|t| members_support::till_points(&t.temp.till))
            .sum::<i64>();
    assert_eq!(
        balance, recorded,
        "[{context}] every sale, refund and online order is booked exactly once"
    );
    // By id: a till where the member never shopped finds them by card offline and by phone
    // only online (phone look-up keys go to the stores where the member shops, see `privacy`).
    for (number, till) in tills.iter().enumerate() {
        match till.temp.till.member(&member_id) {
            Ok(cached) => {
                assert_eq!(
                    (cached.balance, cached.pending_points),
                    (balance, 0),
                    "[{context}] till {number} shows the cloud's balance with nothing pending"
                );
            }
            other => panic!("[{context}] till {number} must know the member, not {other:?}"),
        }
    }
}

fn random_schedules(backend: Backend, test: &str, share: u64) {
    let started = Instant::now();
    let seeds = seeded::seeds(
        "OMNITILL_MEMBER_SEED",
        "OMNITILL_MEMBER_SCHEDULES",
        SCHEDULES,
        share,
    );
    let workers = WORKERS.clamp(1, seeds.len());
    let failure = seeded::run_seeds(&seeds, workers, |_| World::start(backend), run_schedule);
    if let Some((seed, message)) = failure {
        panic!(
            "the random member schedule with seed {seed} failed: {message}\n\
             schedule: {:?}\n\
             replay it with: cargo build -p omnitill-cloud && OMNITILL_MEMBER_SEED={seed} \
             cargo test -p omnitill-tests --test it random_members::{test} -- --nocapture",
            schedule(seed).0
        );
    }
    let (taken, refused) = (
        TAKEN.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
    );
    eprintln!(
        "random_members::{test}: {} schedules on {workers} workers in {:.1} s; offline redemptions taken {taken}, refused {refused}",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    if seeds.len() >= 20 {
        assert!(
            taken > 0 && refused > 0,
            "the schedules must both redeem within the offline bound and be refused past it \
             (taken {taken}, refused {refused})"
        );
    }
}

#[test]
fn random_member_schedules_book_every_point_once_within_the_offline_bounds_on_sqlite() {
    random_schedules(
        Backend::Sqlite,
        "random_member_schedules_book_every_point_once_within_the_offline_bounds_on_sqlite",
        1,
    );
}

#[test]
fn random_member_schedules_book_every_point_once_within_the_offline_bounds_on_postgresql() {
    random_schedules(
        Backend::Postgres,
        "random_member_schedules_book_every_point_once_within_the_offline_bounds_on_postgresql",
        10,
    );
}

#[test]
fn a_member_seed_always_makes_the_same_schedule() {
    let (first, _) = schedule(42);
    let (again, _) = schedule(42);
    let (other, _) = schedule(43);
    assert_eq!(first, again, "a seed replays the same steps");
    assert_ne!(first, other, "different seeds make different schedules");
}
