//! A cloud database (SQLite) holding a year of store sales, for the cloud's "bought together"
//! computation, cached under `target/bench-data/`.
//!
//! `ensure` makes the file once: `omnitill-cloud store create` makes the cloud's schema and
//! two stores, then the sales and their lines are written straight into the file with prepared
//! statements in large transactions (journal and `synchronous` off; the file is switched back
//! to WAL and renamed into place only when complete). Each sale has the rows and payload a
//! till's push leaves (`sale`, `sale_line`, the `SaleCompleted` JSON). `append` adds a few
//! newer sales to a copy, the same way, for the incremental re-run.
//!
//! What sells with what is skewed as in a real shop: a line's product is drawn with a heavy
//! head (a power of a uniform number), a sale has one to five lines, and half of the lines
//! after the first are one of a handful of fixed companions of the first product, so popular
//! pairs recur and most products' lists come from real repeats.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use omnitill_core::outbox::{SaleCompleted, SaleLineOp, TenderOp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, Transaction, params};

use crate::cloud::{self, sqlite_files};
use crate::generate;

/// Bump when the generated sales change shape.
const SALES_VERSION: u32 = 1;
/// The seed of the generated sales.
const SEED: u64 = 0x5A1E_B077;
/// 2026-12-01T00:00:00Z: the generated history ends here; the computation runs after it.
pub const HISTORY_END_MS: i64 = 1_796_083_200_000;
/// 360 days of history, inside the computation's one-year window.
const HISTORY_SPAN_MS: i64 = 360 * 86_400_000;
/// Sales per transaction.
const BATCH: u64 = 50_000;
/// Each product's fixed companions: product n's are n + k * STRIDE for k in 1..=COMPANIONS.
const COMPANIONS: u64 = 6;
const STRIDE: u64 = 7_919;
/// The two stores the sales are made in.
const STORES: [(&str, &str); 2] = [("TPE-XINYI", "Xinyi"), ("TPE-DAAN", "Da'an")];

/// What the generated sales hold.
#[derive(Debug, Clone, Copy)]
pub struct SalesSize {
    pub sales: u64,
    /// The SKU space the lines draw from: generated products 1..=products.
    pub products: u64,
}

/// Returns the cached cloud database with `size.sales` sales, making it first when missing.
pub fn ensure(binary: &Path, cache_dir: &Path, size: SalesSize) -> Result<PathBuf> {
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let stem = format!(
        "cloud-sales-v{SALES_VERSION}-{}s-{}p",
        size.sales, size.products
    );
    let path = cache_dir.join(format!("{stem}.sqlite3"));
    if path.is_file() {
        // Brings the cache to the cloud's current schema, once, and folds the log back in.
        cloud::admin(binary, &path.display().to_string(), &["store", "list"])?;
        cloud::checkpoint(&path)?;
        return Ok(path);
    }
    let partial = cache_dir.join(format!("{stem}.partial.sqlite3"));
    for leftover in sqlite_files(&partial) {
        if leftover.exists() {
            fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
    }
    eprintln!(
        "making a cloud with {} sales into {} (cached for later runs)",
        size.sales,
        path.display()
    );
    let started = Instant::now();
    let database = partial.display().to_string();
    for (code, name) in STORES {
        cloud::admin(
            binary,
            &database,
            &["store", "create", "--code", code, "--name", name],
        )?;
    }
    let mut conn =
        Connection::open(&partial).with_context(|| format!("cannot open {}", partial.display()))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = OFF", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("off"),
        "journal_mode stayed {mode}"
    );
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -512 * 1024)?;
    let stores = store_ids(&conn)?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut written = 0;
    while written < size.sales {
        let last = (written + BATCH).min(size.sales);
        let tx = conn.transaction()?;
        for i in written + 1..=last {
            let at = HISTORY_END_MS - HISTORY_SPAN_MS
                + (i128::from(HISTORY_SPAN_MS) * i128::from(i) / i128::from(size.sales)) as i64;
            insert_sale(
                &tx,
                &mut rng,
                &stores,
                size.products,
                &format!("H{i:08}"),
                at,
            )?;
        }
        tx.commit()?;
        written = last;
        if written.is_multiple_of(200_000) || written == size.sales {
            eprintln!("  sales: {written} of {}", size.sales);
        }
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "journal_mode stayed {mode}"
    );
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the cloud database to {}", path.display()))?;
    for leftover in sqlite_files(&partial).into_iter().skip(1) {
        let _ = fs::remove_file(leftover);
    }
    eprintln!(
        "  cloud sales ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Adds `count` sales made from `from_ms` on, one a second, to the cloud database at `path`
/// (a run's copy), with the same mix of products.
pub fn append(path: &Path, size: SalesSize, count: u64, from_ms: i64) -> Result<()> {
    let mut conn =
        Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let stores = store_ids(&conn)?;
    let mut rng = StdRng::seed_from_u64(SEED ^ from_ms.unsigned_abs());
    let tx = conn.transaction()?;
    for i in 1..=count {
        let at = from_ms + i64::try_from(i)?.saturating_mul(1_000);
        insert_sale(
            &tx,
            &mut rng,
            &stores,
            size.products,
            &format!("N{i:08}"),
            at,
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn store_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT id FROM store ORDER BY code")?;
    let ids = statement
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if ids.is_empty() {
        bail!("the cloud database has no stores");
    }
    Ok(ids)
}

/// A product number with a heavy head: about a third of draws fall in the top 1%.
fn popular(rng: &mut impl Rng, products: u64) -> u64 {
    let u: f64 = rng.random();
    let n = (u.powi(4) * products as f64) as u64;
    n.min(products - 1) + 1
}

/// The product numbers of one sale's lines, all different.
fn basket(rng: &mut impl Rng, products: u64) -> Vec<u64> {
    let lines = match rng.random_range(0..20) {
        0..=4 => 1,
        5..=9 => 2,
        10..=13 => 3,
        14..=16 => 4,
        _ => 5,
    };
    let first = popular(rng, products);
    let mut chosen = vec![first];
    while chosen.len() < lines {
        let n = if rng.random_bool(0.5) {
            let k = rng.random_range(1..=COMPANIONS);
            (first - 1 + k * STRIDE) % products + 1
        } else {
            popular(rng, products)
        };
        if !chosen.contains(&n) {
            chosen.push(n);
        }
    }
    chosen
}

/// Writes one store sale at `at_ms` with the rows a till's push leaves.
fn insert_sale(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    stores: &[String],
    products: u64,
    receipt_no: &str,
    at_ms: i64,
) -> Result<()> {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let sale_id = uuid::Builder::from_unix_timestamp_millis(at_ms.unsigned_abs(), &random)
        .into_uuid()
        .to_string();
    let store = &stores[rng.random_range(0..stores.len())];
    let lines: Vec<SaleLineOp> = basket(rng, products)
        .into_iter()
        .zip(1..)
        .map(|(n, line_no)| {
            let quantity = if rng.random_ratio(4, 5) { 1 } else { 2 };
            let unit = rng.random_range(30..=3_000) * 100;
            let total = unit * quantity;
            SaleLineOp {
                line_no,
                sku: generate::sku(n),
                quantity,
                unit_price_minor: unit,
                discount_minor: 0,
                tax_rate_bp: 500,
                tax_minor: total * 500 / 10_500,
                total_minor: total,
            }
        })
        .collect();
    let total: i64 = lines.iter().map(|line| line.total_minor).sum();
    let tax: i64 = lines.iter().map(|line| line.tax_minor).sum();
    let sale = SaleCompleted {
        sale_id: sale_id.clone(),
        receipt_no: receipt_no.to_owned(),
        device_id: "bench-device".to_owned(),
        staff_id: "bench-staff".to_owned(),
        created_at_ms: at_ms,
        currency: "TWD".to_owned(),
        tax_mode: "inclusive".to_owned(),
        subtotal_minor: total,
        discount_minor: 0,
        tax_minor: tax,
        rounding_minor: 0,
        total_minor: total,
        lines,
        tenders: vec![TenderOp {
            kind: "card".to_owned(),
            amount_minor: total,
            reference: Some(format!("AUTH{:06}", rng.random_range(0..1_000_000))),
        }],
        member: None,
    };
    let payload = serde_json::to_string(&sale).context("a sale's payload")?;
    tx.prepare_cached(
        "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
             currency, tax_minor, total_minor, payload)
         VALUES (?1, ?2, NULL, 'store', ?3, NULL, ?4, 'TWD', ?5, ?6, ?7)",
    )?
    .execute(params![
        sale_id, store, receipt_no, at_ms, tax, total, payload
    ])?;
    let mut line_insert = tx.prepare_cached(
        "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for line in &sale.lines {
        line_insert.execute(params![
            sale_id,
            line.line_no,
            line.sku,
            line.quantity,
            line.total_minor
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baskets_hold_different_existing_products() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let chosen = basket(&mut rng, 1_000);
            assert!((1..=5).contains(&chosen.len()));
            assert!(chosen.iter().all(|n| (1..=1_000).contains(n)));
            let mut unique = chosen.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), chosen.len(), "no product twice in a sale");
        }
    }
}
