//! The click-and-collect and shop-floor rows (issue 12), in the report's order:
//! - the till's pickup queue read with thousands of open orders, and a handover's durable
//!   commit (`pickup_queue`, in this process on a copy of the demo till);
//! - the same queue rendered in the app's real window: F7 on the checkout to the New tab's
//!   cards painted, and switching tabs (`pickup_window`, the app under tauri-driver);
//! - the shop floor's member view on the large generated ledger, without and with a pickup
//!   queue cached (`floor`);
//! - the cloud's "bought together" computation over a large sales history, in full and again
//!   after a few new sales (`bought_together`, SQLite cloud, data from `cloud_sales`);
//! - pickup orders placed through the e-shop API by many clients at once (`pickup_api`, a real
//!   cloud process on PostgreSQL).
//!
//! The till rows (queue, handover, floor view) are left out with `--skip-till`, the window row
//! with `--skip-app` (it needs the app's `till` build and a display) and the cloud rows with
//! `--skip-sync`; `--pickups-only` runs only these. A measurement that cannot run becomes a
//! MISS row saying so; the others still run. The machine's load average is written to stderr
//! before and after, since other work on the machine moves these timings.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cloud_sales::SalesSize;
use crate::generate::Size;
use crate::pickup_queue::QueuePlan;
use crate::pickup_window::WindowPlan;
use crate::sync::Dirs;
use crate::table::{Table, Verdict, duration_parts, thousands};
use crate::{bought_together, floor, pickup_api, pickup_queue, pickup_window};

/// The pickup queue's target: the till's part of showing it, and the queue in the window.
const QUEUE_READ: Duration = Duration::from_millis(200);
/// The handover commit's target.
const HANDOVER: Duration = Duration::from_millis(3);
/// The member floor view's target.
const FLOOR_VIEW: Duration = Duration::from_millis(10);

/// What the click-and-collect rows measure, and how much.
#[derive(Debug, Clone, Copy)]
pub struct PickupPlan {
    pub queue: QueuePlan,
    /// The queue opened in the app's window, with `queue.open_orders` orders.
    pub window: WindowPlan,
    pub floor: floor::FloorPlan,
    pub together: SalesSize,
    /// Sales added before the bought-together re-run.
    pub together_new_sales: u64,
    /// Orders each API client places.
    pub api_orders_each: usize,
}

impl PickupPlan {
    /// The full plan: the sizes.
    pub fn full() -> PickupPlan {
        PickupPlan {
            queue: QueuePlan {
                open_orders: 5_000,
                reads: 200,
                handovers: 1_000,
            },
            window: WindowPlan {
                warm_ups: 3,
                opens: 30,
            },
            floor: floor::FloorPlan {
                size: Size {
                    products: 1_000_000,
                    sales: 1_000_000,
                },
                members: 1_000,
                views: 2_000,
                pickup_orders: 5_000,
            },
            together: SalesSize {
                sales: 1_000_000,
                products: 1_000_000,
            },
            together_new_sales: 1_000,
            api_orders_each: 125,
        }
    }

    /// `--quick`: the same queue, a tenth of the products and sales, fewer iterations.
    pub fn quick() -> PickupPlan {
        let full = PickupPlan::full();
        PickupPlan {
            queue: QueuePlan {
                reads: 50,
                handovers: 200,
                ..full.queue
            },
            window: WindowPlan {
                warm_ups: 2,
                opens: 10,
            },
            floor: floor::FloorPlan {
                size: Size {
                    products: 100_000,
                    sales: 100_000,
                },
                views: 500,
                ..full.floor
            },
            together: SalesSize {
                sales: 100_000,
                products: 100_000,
            },
            api_orders_each: 25,
            ..full
        }
    }
}

/// Adds the till rows (unless `skip_till`), the window row (when `app`, the app binary, is
/// given) and the cloud rows (unless `skip_cloud`).
pub fn rows(
    table: &mut Table,
    plan: &PickupPlan,
    dirs: &Dirs<'_>,
    app: Option<&Path>,
    skip_till: bool,
    skip_cloud: bool,
) -> Result<()> {
    eprintln!("pickups: load average before the rows: {}", load_average());
    let work = dirs.run_dir.join("pickups");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    if skip_till {
        eprintln!("skipping the till's pickup queue and handover rows (--skip-till)");
    } else {
        queue_rows(table, plan, dirs.cache_dir, &work);
    }
    match app {
        Some(app) => window_rows(table, plan, app, dirs.cache_dir, &work),
        None => eprintln!("skipping the pickup queue in the app's window (--skip-app)"),
    }
    if !skip_till {
        floor_rows(table, plan, dirs.cache_dir, &work);
    }
    if skip_cloud {
        eprintln!("skipping the cloud's bought-together and pickup API rows (--skip-sync)");
        return Ok(());
    }
    let binary = dirs.bin_dir.join("omnitill-cloud");
    if !binary.is_file() {
        eprintln!(
            "cannot measure the cloud rows: {} is not built (scripts/bench builds it)",
            binary.display()
        );
        together_miss(table, plan, "not built");
        api_miss(table, "not built");
        return Ok(());
    }
    together_rows(table, plan, &binary, dirs.cache_dir, &work);
    api_rows(table, plan, &binary, &work);
    eprintln!("pickups: load average after the rows: {}", load_average());
    Ok(())
}

/// The 1, 5 and 15 minute load averages, as Linux reports them.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

fn queue_label(plan: &PickupPlan) -> String {
    format!(
        "pickup queue read, till's part ({} open orders)",
        thousands(plan.queue.open_orders as u64)
    )
}

fn queue_rows(table: &mut Table, plan: &PickupPlan, cache_dir: &Path, work: &Path) {
    eprintln!(
        "pickups: {} open orders pulled into a till; {} queue reads, {} handovers",
        plan.queue.open_orders, plan.queue.reads, plan.queue.handovers
    );
    let label = queue_label(plan);
    match pickup_queue::measure(&plan.queue, cache_dir, work) {
        Ok(result) => {
            table.duration(format!("{label} p50"), result.reads.p50(), None);
            table.duration(
                format!("{label} p99"),
                result.reads.p99(),
                Some((QUEUE_READ, "< 200 ms")),
            );
            let tab_label = format!(
                "pickup queue tab read, till's part (counts + {} most urgent new)",
                result.tab_len
            );
            table.duration(format!("{tab_label} p50"), result.tab_reads.p50(), None);
            table.duration(
                format!("{tab_label} p99"),
                result.tab_reads.p99(),
                Some((QUEUE_READ, "< 200 ms")),
            );
            table.row(
                format!(
                    "  {} pickup orders applied from pulled pages",
                    thousands(result.queue_len as u64)
                ),
                format!("{:.2}", result.seeding.as_secs_f64()),
                "s",
                "—",
                Verdict::Info,
            );
            table.duration(
                "  pickup order found by its code p99",
                result.finds.p99(),
                None,
            );
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "pickups: handover commits p90 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                ms(result.handovers.percentile(90)),
                ms(result.handovers.percentile(95)),
                ms(result.handovers.p99()),
                ms(result.handovers.percentile(100))
            );
            table.duration(
                "pickup handover commit, durable p50",
                result.handovers.p50(),
                None,
            );
            table.duration(
                "pickup handover commit, durable p99",
                result.handovers.p99(),
                Some((HANDOVER, "< 3 ms")),
            );
        }
        Err(e) => {
            eprintln!("pickups: the till's queue and handovers failed: {e:#}");
            table.row(
                format!("{label} p99"),
                "failed",
                "",
                "< 200 ms",
                Verdict::Miss,
            );
            table.row(
                "pickup handover commit, durable p99",
                "failed",
                "",
                "< 3 ms",
                Verdict::Miss,
            );
        }
    }
}

fn window_label(plan: &PickupPlan) -> String {
    format!(
        "pickup queue rendered in the window ({} open orders)",
        thousands(plan.queue.open_orders as u64)
    )
}

fn window_rows(table: &mut Table, plan: &PickupPlan, app: &Path, cache_dir: &Path, work: &Path) {
    let label = window_label(plan);
    let problem = if std::env::var_os("DISPLAY").is_none() {
        Some("no DISPLAY (run through scripts/bench, or pass --skip-app)".to_owned())
    } else if !app.is_file() {
        Some(format!(
            "{} is not built (scripts/bench builds it)",
            app.display()
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        eprintln!("pickups: cannot open the queue in the window: {problem}");
        table.row(
            format!("{label} p99"),
            "not measured",
            "",
            "< 200 ms",
            Verdict::Miss,
        );
        return;
    }
    eprintln!(
        "pickups: the queue opened in the app's window {} times after {} warm-ups",
        plan.window.opens, plan.window.warm_ups
    );
    match pickup_window::measure(&plan.window, plan.queue.open_orders, app, cache_dir, work) {
        Ok(result) => {
            table.duration(format!("{label} p50"), result.opens.p50(), None);
            table.duration(
                format!("{label} p99"),
                result.opens.p99(),
                Some((QUEUE_READ, "< 200 ms")),
            );
            table.duration(
                format!(
                    "  of which to {} cards in the document (of {} new), p50",
                    result.cards,
                    thousands(result.new_orders as u64)
                ),
                result.opens_in_dom.p50(),
                None,
            );
            table.duration(
                "  the New tab's pickup_queue IPC call alone, from the page, p50",
                result.ipc.p50(),
                None,
            );
            table.duration(
                "  tab switch in the window, New → Picking (F5), p50",
                result.to_picking.p50(),
                None,
            );
            table.duration(
                "  tab switch in the window, Picking → New (tab clicked), p50",
                result.to_new.p50(),
                None,
            );
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "pickups: in the window, open p99 {:.1} ms (max {:.1}); New→Picking p99 {:.1} ms; Picking→New p99 {:.1} ms",
                ms(result.opens.p99()),
                ms(result.opens.percentile(100)),
                ms(result.to_picking.p99()),
                ms(result.to_new.p99())
            );
        }
        Err(e) => {
            eprintln!("pickups: the queue in the window failed: {e:#}");
            table.row(
                format!("{label} p99"),
                "failed",
                "",
                "< 200 ms",
                Verdict::Miss,
            );
        }
    }
}

fn floor_label(plan: &PickupPlan) -> String {
    format!(
        "member floor view ({} products and sales)",
        thousands(plan.floor.size.products)
    )
}

fn floor_rows(table: &mut Table, plan: &PickupPlan, cache_dir: &Path, work: &Path) {
    let label = floor_label(plan);
    let ten_ms = Some((FLOOR_VIEW, "< 10 ms"));
    match floor::measure(&plan.floor, cache_dir, work) {
        Ok(result) => {
            table.duration(format!("{label} p50"), result.views.all.p50(), None);
            table.duration(format!("{label} p99"), result.views.all.p99(), ten_ms);
            table.duration(
                "  members with 5 to 60 favourites, p99",
                result.views.others.p99(),
                None,
            );
            table.duration(
                "  members at the e-shop's cap of 200 favourites, p99",
                result.views.at_cap.p99(),
                None,
            );
            table.duration(
                format!(
                    "  the same view with {} open pickup orders cached, p99",
                    thousands(plan.floor.pickup_orders as u64)
                ),
                result.views_with_pickups.all.p99(),
                ten_ms,
            );
            table.row(
                format!(
                    "  {} members' lists, bought-together and stock from pulled pages",
                    thousands(plan.floor.members as u64)
                ),
                format!("{:.1}", result.seeding.as_secs_f64()),
                "s",
                "—",
                Verdict::Info,
            );
        }
        Err(e) => {
            eprintln!("floor: the member view failed: {e:#}");
            table.row(
                format!("{label} p99"),
                "failed",
                "",
                "< 10 ms",
                Verdict::Miss,
            );
        }
    }
    // The copy of the large ledger is not needed any more.
    for leftover in crate::cloud::sqlite_files(&work.join("floor-till.sqlite3")) {
        let _ = fs::remove_file(leftover);
    }
}

fn together_labels(plan: &PickupPlan) -> (String, String) {
    (
        format!(
            "bought-together computation, {} sales, SQLite cloud: full",
            thousands(plan.together.sales)
        ),
        format!(
            "bought-together re-run after {} new sales",
            thousands(plan.together_new_sales)
        ),
    )
}

fn together_rows(
    table: &mut Table,
    plan: &PickupPlan,
    binary: &Path,
    cache_dir: &Path,
    work: &Path,
) {
    let (full_label, rerun_label) = together_labels(plan);
    match bought_together::measure(
        binary,
        cache_dir,
        work,
        plan.together,
        plan.together_new_sales,
    ) {
        Ok(result) => {
            let seconds = |d: Duration| format!("{:.1}", d.as_secs_f64());
            table.row(
                full_label,
                seconds(result.full),
                "s",
                "report",
                Verdict::Info,
            );
            table.row(
                rerun_label,
                seconds(result.rerun),
                "s",
                "report",
                Verdict::Info,
            );
            table.row(
                "  lists published: full run / re-run (products with a list)",
                format!(
                    "{} / {} ({})",
                    thousands(result.full_changed),
                    thousands(result.rerun_changed),
                    thousands(result.products_with_lists)
                ),
                "products",
                "—",
                Verdict::Info,
            );
            let (value, unit) = duration_parts(result.process_overhead);
            table.row(
                "  of each, the cloud command's start (a no-op command)",
                value,
                unit,
                "—",
                Verdict::Info,
            );
        }
        Err(e) => {
            eprintln!("bought together: the computation failed: {e:#}");
            together_miss(table, plan, "failed");
        }
    }
}

fn together_miss(table: &mut Table, plan: &PickupPlan, why: &str) {
    let (full_label, rerun_label) = together_labels(plan);
    table.row(full_label, why, "", "report", Verdict::Miss);
    table.row(rerun_label, why, "", "report", Verdict::Miss);
}

fn api_label() -> String {
    format!(
        "pickup orders placed through the API, {} clients, PostgreSQL",
        pickup_api::CLIENTS
    )
}

fn api_rows(table: &mut Table, plan: &PickupPlan, binary: &Path, work: &Path) {
    eprintln!(
        "pickups: {} e-shop clients place {} orders each through the API, PostgreSQL",
        pickup_api::CLIENTS,
        plan.api_orders_each
    );
    let label = api_label();
    match pickup_api::measure(binary, work, plan.api_orders_each) {
        Ok(result) => {
            let rate = result.placed as f64 / result.elapsed.as_secs_f64().max(1e-9);
            table.row(
                format!("{label}: rate"),
                thousands(rate.round() as u64),
                "orders/s",
                "report; every order placed",
                Verdict::from_check(result.failed == 0),
            );
            for (name, duration) in [("p50", result.samples.p50()), ("p99", result.samples.p99())] {
                let (value, unit) = duration_parts(duration);
                table.row(
                    format!("{label}: {name}"),
                    value,
                    unit,
                    "report",
                    Verdict::Info,
                );
            }
            eprintln!(
                "pickups: {} orders placed, {} failed, in {:.1} s",
                result.placed,
                result.failed,
                result.elapsed.as_secs_f64()
            );
            if let Some(why) = result.first_failure {
                eprintln!("pickups: the first refusal: {why}");
            }
        }
        Err(e) => {
            eprintln!("pickups: the API load failed: {e:#}");
            api_miss(table, "failed");
        }
    }
}

fn api_miss(table: &mut Table, why: &str) {
    table.row(
        format!("{}: rate", api_label()),
        why,
        "",
        "report",
        Verdict::Miss,
    );
}
