//! The shop floor's member view at the till: `Till::member_floor` (offline, from the till's own
//! copy) on the large generated ledger, timed per call.
//!
//! A copy of the cached ledger (`generate`: 1,000,000 products and past sales, or 100,000 with
//! `--quick`) is enrolled with a store and given, as pulled pages (`feed`), `members` cached
//! members, each with e-shop favourites (5 to 60; every tenth member at the e-shop's cap of
//! 200) and 20 recently viewed products, a birthday coupon for one in twelve, the
//! bought-together lists of every product they saved or viewed (five companions each) plus
//! lists for every tenth product of the catalog, and this store's stock of all those products
//! (a fifth of them sold out). Each timed call views a random member, after untimed warm-up
//! calls. The view is then timed again with `pickup_orders` open pickup orders cached, some of
//! them the members' and ready, since the view names a member's ready orders.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use omnitill_core::{SystemClock, Till};
use omnitill_protocol::floor::{BoughtTogether, Companion};
use omnitill_protocol::loyalty::{CachedCoupon, CachedMember, Favourite, MemberInterests, Viewed};
use omnitill_protocol::pull::Change;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generate::{self, Size};
use crate::measure::Samples;
use crate::{feed, pickup_queue};

/// Untimed calls before each measurement.
const WARM_UP: usize = 50;
/// The e-shop's cap on a member's favourites (`omnitill-cloud`'s `interests::MAX_FAVOURITES`).
const MAX_FAVOURITES: usize = 200;
/// Recently viewed products the e-shop keeps per member (`interests::MAX_VIEWED`).
const VIEWED: usize = 20;
/// Companions per bought-together list.
const COMPANIONS: usize = 5;
/// The seed of the members' random choices.
const SEED: u64 = 0xF100_12AB;

/// How much the floor row measures.
#[derive(Debug, Clone, Copy)]
pub struct FloorPlan {
    pub size: Size,
    pub members: usize,
    pub views: usize,
    pub pickup_orders: usize,
}

/// Timings of member views: all of them, and split by the member's favourites.
pub struct Views {
    pub all: Samples,
    /// Members at the e-shop's cap of favourites.
    pub at_cap: Samples,
    /// The other members.
    pub others: Samples,
}

/// What the floor row measured.
pub struct FloorResult {
    pub views: Views,
    pub views_with_pickups: Views,
    /// How long the members' pulled pages took to apply.
    pub seeding: Duration,
}

/// Prepares the fed copy of the large ledger under `work` and times the member view.
pub fn measure(plan: &FloorPlan, cache_dir: &Path, work: &Path) -> Result<FloorResult> {
    let dataset = generate::ensure(cache_dir, plan.size)?;
    let ledger = work.join("floor-till.sqlite3");
    let started = Instant::now();
    crate::copy_durably(&dataset.path, &ledger)?;
    eprintln!(
        "floor: copied the ledger in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut till = Till::open(&ledger, Arc::new(SystemClock))
        .with_context(|| format!("cannot open {}", ledger.display()))?;
    feed::enrol(&mut till)?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let now_ms = till.clock().now().timestamp_millis();
    let (members, changes) = floor_changes(&mut rng, plan, now_ms);
    let cursor = changes.len() as i64;
    eprintln!(
        "floor: {} members' lists, bought-together lists and stock as {} pulled changes",
        members.len(),
        changes.len()
    );
    let seeding = feed::apply(&mut till, changes, 0)?;

    eprintln!("floor: timing {} member views", plan.views);
    let views = time_views(&till, &mut rng, &members, plan.views)?;

    let skus: Vec<(String, i64)> = (1..=200)
        .map(|n| (generate::sku(n * 97 % plan.size.products + 1), 12_000))
        .collect();
    let orders = pickup_queue::open_orders(plan.pickup_orders, &skus, now_ms)
        .into_iter()
        .map(|mut order| {
            if order.member_id.is_some() {
                order.member_id = Some(members[rng.random_range(0..members.len())].0.clone());
            }
            Change::Pickup(order)
        })
        .collect();
    feed::apply(&mut till, orders, cursor)?;
    eprintln!(
        "floor: timing {} member views with {} open pickup orders cached",
        plan.views, plan.pickup_orders
    );
    let views_with_pickups = time_views(&till, &mut rng, &members, plan.views)?;
    Ok(FloorResult {
        views,
        views_with_pickups,
        seeding,
    })
}

/// Times `Till::member_floor` of random members (id, whether at the favourites' cap),
/// offline (no cloud answer).
fn time_views(
    till: &Till,
    rng: &mut impl Rng,
    members: &[(String, bool)],
    views: usize,
) -> Result<Views> {
    let (mut all, mut at_cap, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for index in 0..WARM_UP + views {
        let (member, capped) = &members[rng.random_range(0..members.len())];
        let started = Instant::now();
        let view = till
            .member_floor(member, None)
            .with_context(|| format!("the floor view of member {member}"))?;
        let elapsed = started.elapsed();
        black_box(view);
        if index >= WARM_UP {
            all.push(elapsed);
            if *capped {
                at_cap.push(elapsed);
            } else {
                others.push(elapsed);
            }
        }
    }
    Ok(Views {
        all: Samples::from_unsorted(all),
        at_cap: Samples::from_unsorted(at_cap),
        others: Samples::from_unsorted(others),
    })
}

/// The members (id, whether at the favourites' cap), and the changes the cloud would send
/// this store for them.
fn floor_changes(
    rng: &mut StdRng,
    plan: &FloorPlan,
    now_ms: i64,
) -> (Vec<(String, bool)>, Vec<Change>) {
    let products = plan.size.products;
    let mut members = Vec::with_capacity(plan.members);
    let mut changes = Vec::new();
    let mut referenced = BTreeSet::new();
    for index in 0..plan.members {
        let id = uuid::Uuid::now_v7().to_string();
        let birthday = index % 12 == 0;
        changes.push(Change::Member(CachedMember {
            id: id.clone(),
            card_hash: format!("{:032x}{:032x}", rng.random::<u128>(), index),
            phone_hash: None,
            email_hash: None,
            phone_masked: Some(format!("••••{:04}", rng.random_range(0..10_000))),
            email_masked: None,
            name: format!("會員 {index}"),
            tier: if index % 5 == 0 { "gold" } else { "member" }.to_owned(),
            balance: rng.random_range(0..5_000),
            coupons: birthday
                .then(|| CachedCoupon {
                    id: uuid::Uuid::now_v7().to_string(),
                    kind: "birthday".to_owned(),
                    title: "生日禮 Birthday".to_owned(),
                    discount_kind: "percent".to_owned(),
                    value: 1_000,
                    min_spend_minor: 0,
                    valid_from_ms: now_ms - 86_400_000,
                    valid_to_ms: now_ms + 20 * 86_400_000,
                })
                .into_iter()
                .collect(),
        }));
        let capped = index % 10 == 0;
        let favourites = if capped {
            MAX_FAVOURITES
        } else {
            rng.random_range(5..=60)
        };
        let mut saved = Vec::with_capacity(favourites);
        for k in 0..favourites {
            let n = generate::random_active(rng, products);
            referenced.insert(n);
            saved.push(Favourite {
                sku: generate::sku(n),
                saved_at_ms: now_ms - (k as i64 + 1) * 3_600_000,
                price_at_save_minor: Some(rng.random_range(30..=3_000) * 100),
            });
        }
        let mut viewed = Vec::with_capacity(VIEWED);
        for k in 0..VIEWED {
            let n = generate::random_active(rng, products);
            referenced.insert(n);
            viewed.push(Viewed {
                sku: generate::sku(n),
                viewed_at_ms: now_ms - (k as i64 + 1) * 600_000,
            });
        }
        changes.push(Change::MemberInterests(MemberInterests {
            member_id: id.clone(),
            favourites: saved,
            viewed,
        }));
        members.push((id, capped));
    }
    // Bought-together lists: every saved or viewed product, and every tenth of the catalog.
    let mut stocked = referenced.clone();
    let listed: BTreeSet<u64> = referenced
        .iter()
        .copied()
        .chain((10..=products).step_by(10))
        .collect();
    for n in listed {
        let mut companions = Vec::with_capacity(COMPANIONS);
        let mut sales = rng.random_range(20..=400);
        let mut chosen = Vec::with_capacity(COMPANIONS);
        while chosen.len() < COMPANIONS {
            let companion = generate::random_active(rng, products);
            if companion == n || chosen.contains(&companion) {
                continue;
            }
            chosen.push(companion);
            if referenced.contains(&n) {
                stocked.insert(companion);
            }
            companions.push(Companion {
                sku: generate::sku(companion),
                sales,
            });
            sales = (sales - rng.random_range(1..=15)).max(2);
        }
        changes.push(Change::BoughtTogether(BoughtTogether {
            sku: generate::sku(n),
            companions,
        }));
    }
    for n in stocked {
        let on_hand = if rng.random_ratio(1, 5) {
            0
        } else {
            rng.random_range(1..=40)
        };
        changes.push(Change::Stock {
            sku: generate::sku(n),
            on_hand,
        });
    }
    (members, changes)
}
