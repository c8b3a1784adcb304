//! The benchmark's ledger: a generated catalog and sales history, cached between runs.
//!
//! `ensure` returns a ledger file under the cache directory, generating it on first use. A
//! ledger is the demo store (settings, staff, a few hundred products) plus `Size::products`
//! generated products and `Size::sales` past sales. Product n has SKU `sku(n)`, barcode
//! `barcode(n)` and a random name from `words`, so measurements can pick existing products
//! without reading the catalog. Sales have three to five lines, a card or cash tender, one
//! stock movement per line and one acknowledged outbox operation each, with the gap-free
//! `receipt` and `outbox` counters set to match, so the till carries on numbering after them.
//!
//! Generation writes rows with prepared statements in large transactions, with the journal and
//! `synchronous` off; the finished file is switched back to WAL with `synchronous=FULL` and only
//! then renamed into place, so an interrupted generation never leaves a cache entry behind. The
//! cache key holds `DATA_VERSION`, the number of ledger migrations and the size.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use omnitill_core::outbox::{SALE_COMPLETED, SaleCompleted, SaleLineOp, TenderOp};
use omnitill_core::{SystemClock, Till, barcode as gtin, catalog, db, demo, money};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, Transaction, params};

use crate::words;

/// Bump when the generated data changes shape, so old cache entries are not reused.
pub const DATA_VERSION: u32 = 3;
/// The seed of every random choice in generation.
const SEED: u64 = 0x0A11_7111;
/// The first 12 digits of generated EAN-13 codes are this plus the product number.
const BARCODE_BASE: u64 = 489_000_000_000;
/// 2025-01-01T00:00:00Z: the generated history ends here.
const HISTORY_END_MS: i64 = 1_735_689_600_000;
/// Two years of history.
const HISTORY_SPAN_MS: i64 = 730 * 24 * 3_600_000;
/// Rows of the leading table per transaction.
const BATCH: u64 = 50_000;
/// The page cache generation may use, in KiB.
const GENERATION_CACHE_KIB: i64 = 512 * 1024;

/// How much data a ledger holds.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub products: u64,
    pub sales: u64,
}

/// A generated ledger in the cache.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    pub size: Size,
    /// How long generation took, now or when the cache entry was made.
    pub generation_secs: f64,
    /// Whether this run generated it, rather than finding it in the cache.
    pub generated_now: bool,
}

/// The SKU of generated product `n` (1-based).
pub fn sku(n: u64) -> String {
    let department = words::DEPARTMENTS[(n % words::DEPARTMENTS.len() as u64) as usize];
    format!("{department}-{n:07}")
}

/// The EAN-13 barcode of generated product `n`.
pub fn barcode(n: u64) -> String {
    gtin::ean13_from_payload(BARCODE_BASE + n)
}

/// Whether generated product `n` is for sale; one in 250 is discontinued.
pub fn is_active(n: u64) -> bool {
    !n.is_multiple_of(250)
}

/// A random product number that can be sold.
pub fn random_active(rng: &mut impl Rng, products: u64) -> u64 {
    loop {
        let n = rng.random_range(1..=products);
        if is_active(n) {
            return n;
        }
    }
}

/// Returns the cached ledger of `size`, generating it first when the cache has none.
pub fn ensure(cache_dir: &Path, size: Size) -> Result<Dataset> {
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create the cache directory {}", cache_dir.display()))?;
    let stem = format!(
        "ledger-v{DATA_VERSION}-m{}-{}p-{}s",
        db::MIGRATIONS.len(),
        size.products,
        size.sales
    );
    let path = cache_dir.join(format!("{stem}.sqlite3"));
    let meta = cache_dir.join(format!("{stem}.meta"));
    if path.is_file()
        && let Some(generation_secs) = read_generation_secs(&meta)
    {
        return Ok(Dataset {
            path,
            size,
            generation_secs,
            generated_now: false,
        });
    }

    let partial = cache_dir.join(format!("{stem}.partial.sqlite3"));
    for leftover in [
        partial.clone(),
        partial.with_extension("sqlite3-wal"),
        partial.with_extension("sqlite3-shm"),
    ] {
        if leftover.exists() {
            fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
    }
    eprintln!(
        "generating a ledger of {} products and {} past sales into {} (cached for later runs)",
        size.products,
        size.sales,
        path.display()
    );
    let started = Instant::now();
    generate(&partial, size)?;
    let generation_secs = started.elapsed().as_secs_f64();
    fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the generated ledger to {}", path.display()))?;
    fs::write(&meta, format!("generation_secs={generation_secs:.1}\n"))
        .with_context(|| format!("cannot write {}", meta.display()))?;
    Ok(Dataset {
        path,
        size,
        generation_secs,
        generated_now: true,
    })
}

/// Reads the generation time recorded beside a cache entry; none means the entry is unusable.
fn read_generation_secs(meta: &Path) -> Option<f64> {
    let text = fs::read_to_string(meta).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("generation_secs="))
        .and_then(|value| value.trim().parse().ok())
}

/// What sales need to know about a generated product.
struct GeneratedProduct {
    id: i64,
    name: String,
    price_minor: i64,
    tax_rate_bp: u32,
}

/// The rows of the demo store that generated sales refer to.
struct StoreRefs {
    receipt_prefix: String,
    device_id: String,
    cashier_id: String,
    manager_id: String,
}

fn generate(path: &Path, size: Size) -> Result<()> {
    let mut till = Till::open(path, Arc::new(SystemClock))
        .with_context(|| format!("cannot create a ledger at {}", path.display()))?;
    demo::seed_demo(&mut till).context("cannot seed the demo store")?;
    let device = till.device().clone();
    let conn = till.connection_mut();
    let staff_id = |code: &str| -> Result<String> {
        conn.query_row("SELECT id FROM staff WHERE code = ?1", [code], |row| {
            row.get(0)
        })
        .with_context(|| format!("the demo store has no staff code {code}"))
    };
    let refs = StoreRefs {
        receipt_prefix: device.receipt_prefix,
        device_id: device.device_id,
        cashier_id: staff_id(demo::CASHIER.0)?,
        manager_id: staff_id(demo::MANAGER.0)?,
    };

    // Generation only: the file is not in place until it is complete, so nothing needs a
    // journal or durable commits, and consistency is by construction.
    let mode: String = conn.query_row("PRAGMA journal_mode = OFF", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("off"),
        "journal_mode stayed {mode}"
    );
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -GENERATION_CACHE_KIB)?;

    let mut rng = StdRng::seed_from_u64(SEED);
    let started = Instant::now();
    let products = insert_products(conn, &mut rng, size.products)?;
    eprintln!(
        "  {} products in {:.1} s",
        size.products,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    insert_sales(conn, &mut rng, &products, &refs, size.sales)?;
    eprintln!(
        "  {} sales in {:.1} s",
        size.sales,
        started.elapsed().as_secs_f64()
    );

    // Back to what the till runs with (the main database only: indexing left a temporary
    // table, and the temporary database cannot change its journal while it is in use).
    conn.flush_prepared_statement_cache();
    let mode: String = conn.query_row("PRAGMA main.journal_mode = WAL", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "journal_mode stayed {mode}"
    );
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .context("the last checkpoint")?;
    drop(till);
    Ok(())
}

/// A product name: one to three Chinese words run together, two or three English words, and
/// usually a size.
pub fn product_name(rng: &mut impl Rng) -> String {
    let mut name = String::new();
    let chinese_words = match rng.random_range(0..10) {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    for _ in 0..chinese_words {
        name.push_str(words::CHINESE[rng.random_range(0..words::CHINESE.len())]);
    }
    for _ in 0..rng.random_range(2..=3) {
        name.push(' ');
        name.push_str(words::ENGLISH[rng.random_range(0..words::ENGLISH.len())]);
    }
    if rng.random_ratio(7, 10) {
        name.push(' ');
        name.push_str(words::SIZES[rng.random_range(0..words::SIZES.len())]);
    }
    name
}

fn insert_products(
    conn: &mut Connection,
    rng: &mut StdRng,
    count: u64,
) -> Result<Vec<GeneratedProduct>> {
    let price_from = HISTORY_END_MS - HISTORY_SPAN_MS;
    let older_price_from = price_from - 365 * 24 * 3_600_000;
    let mut products = Vec::with_capacity(count as usize);
    let mut n = 1;
    while n <= count {
        let last = (n + BATCH - 1).min(count);
        let tx = conn.transaction()?;
        for n in n..=last {
            products.push(insert_product(&tx, rng, n, older_price_from, price_from)?);
        }
        tx.commit()?;
        progress("products", last, count);
        n = last + 1;
    }
    index_all(conn, count)?;
    Ok(products)
}

/// Indexes every generated product for search, as a till's sync engine does after a download.
fn index_all(conn: &mut Connection, count: u64) -> Result<()> {
    let mut done = 0;
    loop {
        let tx = conn.transaction()?;
        let indexed = catalog::index_pending(&tx, 100_000)?;
        tx.commit()?;
        if indexed == 0 {
            return Ok(());
        }
        done += indexed as u64;
        progress("search index", done.min(count), count);
    }
}

fn insert_product(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    n: u64,
    older_price_from: i64,
    price_from: i64,
) -> Result<GeneratedProduct> {
    let name = product_name(rng);
    let sku = sku(n);
    let zero_rated = rng.random_ratio(1, 20);
    let price_minor = rng.random_range(30..=3_000) * 100;
    tx.prepare_cached(
        "INSERT INTO product (sku, name, tax_class, active) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        sku,
        name,
        if zero_rated { "zero" } else { "standard" },
        is_active(n)
    ])?;
    // Queued for the search indexes, as core does; `index_all` fills them at the end.
    let id = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO search_backlog (product_id) VALUES (?1)")?
        .execute([id])?;
    tx.prepare_cached("INSERT INTO barcode (code, product_id) VALUES (?1, ?2)")?
        .execute(params![barcode(n), id])?;
    let mut insert_price = tx.prepare_cached(
        "INSERT INTO price (product_id, effective_from, price_minor) VALUES (?1, ?2, ?3)",
    )?;
    // A third of the products had a price change, so the price look-up has history to skip.
    if rng.random_ratio(1, 3) {
        insert_price.execute(params![id, older_price_from, price_minor * 9 / 10])?;
    }
    insert_price.execute(params![id, price_from, price_minor])?;
    tx.prepare_cached(
        "INSERT INTO stock_movement (product_id, delta, kind, ref_id, created_at)
         VALUES (?1, ?2, 'receive', 'opening stock', ?3)",
    )?
    .execute(params![id, rng.random_range(10..=200), price_from])?;
    Ok(GeneratedProduct {
        id,
        name,
        price_minor,
        tax_rate_bp: if zero_rated { 0 } else { 500 },
    })
}

/// A UUIDv7 for time `at_ms`, from the seeded generator.
fn uuid_v7(rng: &mut impl Rng, at_ms: i64) -> String {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    uuid::Builder::from_unix_timestamp_millis(at_ms.unsigned_abs(), &random)
        .into_uuid()
        .to_string()
}

fn insert_sales(
    conn: &mut Connection,
    rng: &mut StdRng,
    products: &[GeneratedProduct],
    refs: &StoreRefs,
    count: u64,
) -> Result<()> {
    let mut i = 1;
    while i <= count {
        let last = (i + BATCH - 1).min(count);
        let tx = conn.transaction()?;
        for i in i..=last {
            insert_sale(&tx, rng, products, refs, i, count)?;
        }
        tx.commit()?;
        progress("sales", last, count);
        i = last + 1;
    }
    conn.execute(
        "INSERT INTO counter (name, value) VALUES ('receipt', ?1), ('outbox', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [count as i64],
    )?;
    Ok(())
}

/// Writes past sale `i` of `count`: the same rows `Till::complete_sale` writes.
fn insert_sale(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    products: &[GeneratedProduct],
    refs: &StoreRefs,
    i: u64,
    count: u64,
) -> Result<()> {
    let product_count = products.len() as u64;
    let created_at = HISTORY_END_MS - HISTORY_SPAN_MS
        + (i128::from(HISTORY_SPAN_MS) * i128::from(i) / i128::from(count.max(1))) as i64;
    let sale_id = uuid_v7(rng, created_at);
    let op_id = uuid_v7(rng, created_at);
    let receipt_no = format!("{}-{i:06}", refs.receipt_prefix);
    let staff_id = if rng.random_ratio(3, 20) {
        &refs.manager_id
    } else {
        &refs.cashier_id
    };

    let mut chosen: Vec<u64> = Vec::with_capacity(5);
    let line_count = rng.random_range(3..=5);
    while chosen.len() < line_count {
        let n = random_active(rng, product_count);
        if !chosen.contains(&n) {
            chosen.push(n);
        }
    }
    let mut lines = Vec::with_capacity(line_count);
    for (index, &n) in chosen.iter().enumerate() {
        let product = &products[(n - 1) as usize];
        let quantity: i64 = match rng.random_range(0..20) {
            0..=15 => 1,
            16..=18 => 2,
            _ => 3,
        };
        let total = product.price_minor * quantity;
        let tax = money::inclusive_tax(total, product.tax_rate_bp);
        tx.prepare_cached(
            "INSERT INTO sale_line (sale_id, line_no, product_id, sku, name, barcode, quantity,
                 unit_price_minor, discount_minor, tax_rate_bp, tax_minor, total_minor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11)",
        )?
        .execute(params![
            sale_id,
            index as i64 + 1,
            product.id,
            sku(n),
            product.name,
            barcode(n),
            quantity,
            product.price_minor,
            product.tax_rate_bp,
            tax,
            total
        ])?;
        tx.prepare_cached(
            "INSERT INTO stock_movement (product_id, delta, kind, ref_id, created_at)
             VALUES (?1, ?2, 'sale', ?3, ?4)",
        )?
        .execute(params![product.id, -quantity, sale_id, created_at])?;
        lines.push(SaleLineOp {
            line_no: index as i64 + 1,
            sku: sku(n),
            quantity,
            unit_price_minor: product.price_minor,
            discount_minor: 0,
            tax_rate_bp: product.tax_rate_bp,
            tax_minor: tax,
            total_minor: total,
        });
    }
    let subtotal: i64 = lines.iter().map(|line| line.total_minor).sum();
    let tax: i64 = lines.iter().map(|line| line.tax_minor).sum();

    // Two in three pay by card; cash is rounded to the store's one-dollar increment.
    let by_card = rng.random_ratio(2, 3);
    let (kind, amount, tendered, rounding, reference) = if by_card {
        let reference = format!("AUTH{:06}", rng.random_range(0..1_000_000));
        ("card", subtotal, subtotal, 0, Some(reference))
    } else {
        let due = money::round_to_increment(subtotal, 100);
        let tendered = if rng.random_ratio(1, 4) {
            due
        } else {
            (due / 10_000 + 1) * 10_000
        };
        ("cash", due, tendered, due - subtotal, None)
    };
    let change = tendered - amount;
    tx.prepare_cached(
        "INSERT INTO sale (id, receipt_no, staff_id, created_at, currency, tax_mode, line_count,
             subtotal_minor, discount_minor, tax_minor, rounding_minor, total_minor, change_minor, op_seq)
         VALUES (?1, ?2, ?3, ?4, 'TWD', 'inclusive', ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        sale_id,
        receipt_no,
        staff_id,
        created_at,
        line_count as i64,
        subtotal,
        tax,
        rounding,
        subtotal + rounding,
        change,
        i as i64
    ])?;
    tx.prepare_cached(
        "INSERT INTO sale_tender (sale_id, tender_no, kind, amount_minor, tendered_minor,
             change_minor, reference)
         VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![sale_id, kind, amount, tendered, change, reference])?;
    let operation = SaleCompleted {
        sale_id: sale_id.clone(),
        receipt_no,
        device_id: refs.device_id.clone(),
        staff_id: staff_id.clone(),
        created_at_ms: created_at,
        currency: "TWD".to_owned(),
        tax_mode: "inclusive".to_owned(),
        subtotal_minor: subtotal,
        discount_minor: 0,
        tax_minor: tax,
        rounding_minor: rounding,
        total_minor: subtotal + rounding,
        lines,
        tenders: vec![TenderOp {
            kind: kind.to_owned(),
            amount_minor: amount,
            reference,
        }],
        member: None,
    };
    // Past sales reached the cloud a few seconds after they were made.
    tx.prepare_cached(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at, acked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        i as i64,
        op_id,
        SALE_COMPLETED,
        serde_json::to_string(&operation)?,
        created_at,
        created_at + 5_000
    ])?;
    Ok(())
}

fn progress(what: &str, done: u64, total: u64) {
    let step = (total / 10).max(1);
    if done % step < BATCH.min(step) || done == total {
        eprintln!("    {what}: {done} of {total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_barcodes_are_valid_and_skus_unique() {
        for n in [1, 2, 999_999, 1_000_000] {
            assert!(
                gtin::parse(&barcode(n)).is_ok(),
                "barcode of product {n} must be a valid EAN-13"
            );
        }
        assert_ne!(sku(1), sku(11), "SKUs of different products must differ");
        assert_eq!(
            sku(12),
            "APP-0000012",
            "SKUs carry a department and the product number"
        );
    }

    #[test]
    fn product_names_mix_chinese_and_english() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let name = product_name(&mut rng);
            let first = name.split(' ').next().unwrap_or_default();
            assert!(
                first.chars().count() >= 2 && !first.is_ascii(),
                "a name starts with Chinese words: {name}"
            );
            assert!(
                name.split(' ')
                    .skip(1)
                    .any(|word| word.len() >= 3 && word.is_ascii()),
                "a name has English words: {name}"
            );
        }
    }
}
