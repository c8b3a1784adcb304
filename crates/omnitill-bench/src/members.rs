//! The member rows: a till's first download of a large member base, member look-ups in its
//! cache, and completing a sale with a member who earns and redeems points.
//!
//! The cloud is a real `omnitill-cloud` process holding the demo brand with N members (made
//! once with `omnitill-cloud demo --members N`, cached). A copy of the demo till's ledger is
//! enrolled with it and runs one `sync_once`, timed until the last feed page is applied (every
//! member cached); the row is members per second. Then, on that till:
//! - look-ups: `Till::lookup_member`, each timed whole (normalising, hashing, the index probe,
//!   the member's view): by phone number as a cashier types it (two in three), which hashes
//!   with argon2id (`omnitill_core::lookup_keys`), and by member card number (one in three) of
//!   members picked at random. Phone look-ups go to the store's regulars: the demo computes
//!   memory-hard keys only for its `DEMO_REGULARS` (40, `omnitill_cloud::demo_members`; about
//!   5 ms each, so 1,000,000 of them would take the cloud 3 CPU-hours to generate), and a store's
//!   tills keep phone hashes only for members who shop there; every other member is found by
//!   card offline and by phone online, which the bench does not time;
//! - the attacker's cost: argon2id timed alone, and the CPU-hours one pass over every
//!   Taiwanese mobile costs, per member when it recovers a full store's 100 keyed members;
//! - sales: five demo items for a member with points, who pays 5 points offline (within the
//!   offline bound the till checks) and the rest by card; `Till::complete_sale` is timed, which
//!   writes the sale, the points earned and redeemed and one operation in one durable commit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use omnitill_core::members::Lookup;
use omnitill_core::{Cart, TenderKind, demo, loyalty};
use omnitill_sync::engine::{Progress, RoundOptions, sync_once_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cloud::{self, Cloud};
use crate::measure::Samples;
use crate::table::{Table, Verdict, duration_parts, thousands};
use crate::tills::{self, lock};

/// Targets.
const DOWNLOAD_MEMBERS_PER_S: f64 = 50_000.0;
const LOOKUP_P99: std::time::Duration = std::time::Duration::from_millis(10);
/// The attacker's CPU-hours per member a copied ledger must cost at least.
const ATTACK_CPU_HOURS_PER_MEMBER: f64 = 1.0;
/// Demo members with memory-hard look-up keys (`omnitill_cloud::demo_members::DEMO_REGULARS`):
/// member 0 at every store, member `i` at store `i % 2`; the bench's till is at store 0.
const DEMO_REGULARS: u64 = 40;
/// Timed argon2id hashes for the attacker's cost.
const HASHES_TIMED: usize = 60;
const SALE_P99: std::time::Duration = std::time::Duration::from_millis(3);
/// Points each timed sale redeems offline.
const POINTS_PER_SALE: i64 = 5;
/// Lines of each timed sale.
const LINES: u64 = 5;
/// Bump when the cached cloud's contents change.
const MEMBERS_VERSION: u32 = 2;

/// How much the member rows measure.
#[derive(Debug, Clone, Copy)]
pub struct MemberPlan {
    pub members: u64,
    pub lookups: usize,
    pub sales: usize,
}

/// The cloud database with the demo brand and `members` members, made once and cached.
fn ensure_cloud(binary: &Path, cache_dir: &Path, members: u64) -> Result<PathBuf> {
    std::fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let path = cache_dir.join(format!(
        "cloud-members-v{MEMBERS_VERSION}-{members}m.sqlite3"
    ));
    if path.is_file() {
        cloud::admin(binary, &path.display().to_string(), &["store", "list"])?;
        cloud::checkpoint(&path)?;
        return Ok(path);
    }
    let partial = cache_dir.join(format!(
        "cloud-members-v{MEMBERS_VERSION}-{members}m.partial.sqlite3"
    ));
    for leftover in cloud::sqlite_files(&partial) {
        if leftover.exists() {
            std::fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
    }
    eprintln!(
        "making a cloud with {members} members into {} (cached for later runs)",
        path.display()
    );
    let started = Instant::now();
    cloud::admin(
        binary,
        &partial.display().to_string(),
        &["demo", "--members", &members.to_string()],
    )?;
    cloud::checkpoint(&partial)?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the cloud database to {}", path.display()))?;
    for leftover in cloud::sqlite_files(&partial).into_iter().skip(1) {
        let _ = std::fs::remove_file(leftover);
    }
    eprintln!(
        "  made with `omnitill-cloud demo --members` in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Adds the member rows to the report; a failure becomes MISS rows that say so.
pub fn rows(
    table: &mut Table,
    plan: &MemberPlan,
    binary: &Path,
    cache_dir: &Path,
    work: &Path,
    runtime: &tokio::runtime::Runtime,
) {
    eprintln!(
        "members: {} members, first download, look-ups and sales",
        plan.members
    );
    if let Err(e) = measure(table, plan, binary, cache_dir, work, runtime) {
        eprintln!("members: the member rows failed: {e:#}");
        table.row(
            format!(
                "first download of the member cache, {} members",
                thousands(plan.members)
            ),
            "failed",
            "",
            "≥ 50,000 members/s",
            Verdict::Miss,
        );
    }
}

fn measure(
    table: &mut Table,
    plan: &MemberPlan,
    binary: &Path,
    cache_dir: &Path,
    work: &Path,
    runtime: &tokio::runtime::Runtime,
) -> Result<()> {
    let cached = ensure_cloud(binary, cache_dir, plan.members)?;
    let database = work.join("members-cloud.sqlite3");
    crate::copy_durably(&cached, &database)?;
    let cloud = Cloud::start(
        binary,
        &database.display().to_string(),
        false,
        &work.join("members-cloud.log"),
    )?;
    let template = tills::demo_template(cache_dir)?;
    let ledger = work.join("members-till.sqlite3");
    let till = tills::copy_and_open(&template, &ledger)?;
    tills::enrol(runtime, &till, &cloud, "TPE-XINYI", "Member till")?;
    let checkpoints = tills::Checkpoints::start(&ledger)?;

    // 1. The first download.
    let started = Instant::now();
    let downloaded = std::sync::Mutex::new((0_i64, started));
    let record = |step: Progress| {
        let mut last = downloaded.lock().unwrap_or_else(|p| p.into_inner());
        if step.downloaded > last.0 {
            *last = (step.downloaded, Instant::now());
        }
    };
    let options = RoundOptions {
        progress: &record,
        ..RoundOptions::default()
    };
    let report = runtime
        .block_on(sync_once_with(&till, &options))
        .context("the first sync round failed")?;
    let elapsed = downloaded
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .1
        .duration_since(started);
    let members = omnitill_core::members::cached_count(lock(&till).connection())?;
    if members.unsigned_abs() < plan.members {
        bail!(
            "the till caches {members} members after its first sync, not {}",
            plan.members
        );
    }
    let rate = members as f64 / elapsed.as_secs_f64().max(1e-9);
    table.row(
        format!(
            "first download of the member cache, {} members",
            thousands(plan.members)
        ),
        thousands(rate.round() as u64),
        "members/s",
        "≥ 50,000",
        Verdict::from_check(rate >= DOWNLOAD_MEMBERS_PER_S),
    );
    table.duration(
        format!(
            "  fresh till, first pull to applied: {} feed entries",
            thousands(report.pulled as u64)
        ),
        elapsed,
        None,
    );

    // 2. Look-ups, as typed (phone) or scanned (card).
    let mut rng = StdRng::seed_from_u64(0x4D45_4D42);
    let mut samples = Vec::with_capacity(plan.lookups);
    let mut cpu_samples = Vec::with_capacity(plan.lookups);
    {
        let till = lock(&till);
        let regulars: Vec<u64> = (0..DEMO_REGULARS.min(plan.members))
            .filter(|index| index % 2 == 0)
            .collect();
        let keyed = omnitill_core::members::keyed_count(till.connection())?;
        if keyed.unsigned_abs() != regulars.len() as u64 {
            bail!(
                "the till keeps {keyed} members' phone hashes, not its store's {} regulars",
                regulars.len()
            );
        }
        for n in 0..plan.lookups {
            let input = if n % 3 == 0 {
                loyalty::card_number(rng.random_range(1..plan.members) + 1)
            } else {
                // The demo's phone numbers: member 0 is 0912-345-678; member i is +886 9
                // followed by 20,000,000 + i.
                match regulars[rng.random_range(0..regulars.len())] {
                    0 => "0912-345-678".to_owned(),
                    index => format!("09{}", 20_000_000 + index),
                }
            };
            let cpu_begun = thread_cpu_ns()?;
            let begun = Instant::now();
            let found = till.lookup_member(&input)?;
            samples.push(begun.elapsed());
            cpu_samples.push(std::time::Duration::from_nanos(
                thread_cpu_ns()?.saturating_sub(cpu_begun),
            ));
            if !matches!(found, Lookup::Found(_)) {
                bail!("the demo member {input} was not found in the cache");
            }
        }
    }
    let samples = Samples::from_unsorted(samples);
    for (name, value, check) in [("p50", samples.p50(), false), ("p99", samples.p99(), true)] {
        let (text, unit) = duration_parts(value);
        table.row(
            format!(
                "member look-up {name}, {} cached members (phone: argon2id, card)",
                thousands(plan.members)
            ),
            text,
            unit,
            if check { "p99 < 10 ms" } else { "—" },
            if check {
                Verdict::from_check(value < LOOKUP_P99)
            } else {
                Verdict::Info
            },
        );
    }

    // The same look-ups in CPU time: what a look-up costs when it has a core to itself (a
    // loaded machine's wall clock adds the time it waited for one).
    let cpu_samples = Samples::from_unsorted(cpu_samples);
    for (name, value) in [("p50", cpu_samples.p50()), ("p99", cpu_samples.p99())] {
        let (text, unit) = duration_parts(value);
        table.row(
            format!("member look-up {name}, CPU time (phone: argon2id, card)"),
            text,
            unit,
            "—",
            Verdict::Info,
        );
    }

    // 3. What a copied ledger costs the attacker, from the hash time measured here.
    attack_rows(table, &lock(&till))?;

    // 4. Sales with a member who earns and redeems.
    let mut guard = lock(&till);
    let session = tills::login_cashier(&mut guard)?;
    let with_points: Vec<String> = {
        let mut statement = guard
            .connection()
            .prepare("SELECT id FROM member WHERE balance >= 100 ORDER BY id LIMIT ?1")?;
        let rows = statement.query_map([plan.sales as i64], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if with_points.len() < plan.sales {
        bail!(
            "only {} cached members have 100 points or more; {} sales need one each",
            with_points.len(),
            plan.sales
        );
    }
    let products = tills::demo_products(&guard);
    let rules = guard.pricing_rules()?;
    let mut samples = Vec::with_capacity(plan.sales);
    for member_id in &with_points {
        let mut cart = Cart::new();
        guard.attach_member(&mut cart, member_id)?;
        let mut chosen = Vec::new();
        while (chosen.len() as u64) < LINES {
            let n = rng.random_range(1..=products);
            if chosen.contains(&n) {
                continue;
            }
            if let Ok(item) = guard.scan(&demo::demo_barcode(n)) {
                cart.add_item(item, 1)?;
                chosen.push(n);
            }
        }
        guard.pay_with_points(&mut cart, POINTS_PER_SALE, false)?;
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("AUTH1"))?;
        let begun = Instant::now();
        let receipt = guard.complete_sale(&session, &cart)?;
        samples.push(begun.elapsed());
        let Some(member) = receipt.member else {
            bail!("a member's sale came back without its member block");
        };
        if member.points_redeemed != POINTS_PER_SALE || member.points_earned <= 0 {
            bail!(
                "a member's sale redeemed {} and earned {} points",
                member.points_redeemed,
                member.points_earned
            );
        }
    }
    drop(guard);
    drop(checkpoints);
    let samples = Samples::from_unsorted(samples);
    for (name, value, check) in [("p50", samples.p50(), false), ("p99", samples.p99(), true)] {
        let (text, unit) = duration_parts(value);
        table.row(
            format!("complete sale with member, earn and redemption, {name}"),
            text,
            unit,
            if check { "p99 < 3 ms" } else { "—" },
            if check {
                Verdict::from_check(value < SALE_P99)
            } else {
                Verdict::Info
            },
        );
    }
    drop(cloud);
    Ok(())
}

/// Times argon2id as a look-up computes it and prints the attacker's cost: one pass over every
/// Taiwanese mobile (a mask shows no digit) recovers every keyed member of the ledger at once,
/// so the cost per member is that pass shared by a full store's `KEYED_MEMBERS_PER_STORE`.
fn attack_rows(table: &mut Table, till: &omnitill_core::Till) -> Result<()> {
    use omnitill_core::lookup_keys::{self, KEYED_MEMBERS_PER_STORE, TAIWAN_MOBILE_CANDIDATES};
    let Some((member_key, _)) = omnitill_core::members::keys(till.connection())? else {
        bail!("the till has no member key after its first sync");
    };
    let mut samples = Vec::with_capacity(HASHES_TIMED);
    let cpu_before = thread_cpu_ns()?;
    for n in 0..HASHES_TIMED {
        let phone = format!("+8869{:08}", 40_000_000 + n);
        let begun = Instant::now();
        lookup_keys::key_hash(&member_key, loyalty::KeyKind::Phone, &phone)?;
        samples.push(begun.elapsed());
    }
    let cpu_per_hash_s =
        thread_cpu_ns()?.saturating_sub(cpu_before) as f64 / 1e9 / HASHES_TIMED as f64;
    let samples = Samples::from_unsorted(samples);
    let (text, unit) = duration_parts(samples.p50());
    table.row(
        "argon2id look-up hash (12 MiB, 1 pass), p50 wall clock",
        text,
        unit,
        "—",
        Verdict::Info,
    );
    table.row(
        "argon2id look-up hash, CPU time per hash (what an attacker pays)",
        format!("{:.2}", cpu_per_hash_s * 1e3),
        "ms",
        "—",
        Verdict::Info,
    );
    let cost = lookup_keys::attack_cost(
        TAIWAN_MOBILE_CANDIDATES,
        cpu_per_hash_s,
        KEYED_MEMBERS_PER_STORE as u64,
    );
    table.row(
        "copied ledger: one pass over 10^8 mobiles (recovers every keyed member)",
        format!("{:.0}", cost.sweep_cpu_hours),
        "CPU-h",
        "—",
        Verdict::Info,
    );
    table.row(
        format!(
            "copied ledger: attacker's cost per member, {KEYED_MEMBERS_PER_STORE} keyed members per store"
        ),
        format!("{:.2}", cost.per_member_cpu_hours),
        "CPU-h",
        "≥ 1",
        Verdict::from_check(cost.per_member_cpu_hours >= ATTACK_CPU_HOURS_PER_MEMBER),
    );
    Ok(())
}

/// CPU time this thread has run, in nanoseconds (`/proc/thread-self/schedstat`): the attacker
/// pays CPU time, which a loaded machine's wall clock overstates.
fn thread_cpu_ns() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .context("cannot read this thread's CPU time")?;
    text.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .context("this thread's CPU time is not a number")
}
