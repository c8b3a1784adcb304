//! In-process measurements on an open till: barcode look-up, name search, and the durable
//! commit of a sale next to a raw SQLite baseline.
//!
//! Each measurement builds its inputs first (random existing barcodes, queries taken from real
//! product names, carts of scanned items) and times only the call under test, after a few
//! untimed warm-up calls. `Samples` holds the timings and answers percentiles the way the
//! report quotes them: the sample at index ceil(q n) - 1 of the sorted list.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::outbox::{SaleCompleted, SaleLineOp, TenderOp};
use omnitill_core::{Cart, PricingRules, StaffSession, TenderKind, Till};
use rand::Rng;
use rand::seq::SliceRandom;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::generate;

/// Untimed calls before each measurement.
const WARM_UP: usize = 50;
/// Items per measured sale.
const LINES_PER_SALE: usize = 5;
/// Baseline sales and their outbox rows use numbers from here up, far above the till's own.
const BASELINE_SEQ_BASE: i64 = 2_000_000_000;
/// How often the background connection checkpoints during the commit loop.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Timings of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    pub fn from_unsorted(mut samples: Vec<Duration>) -> Samples {
        samples.sort_unstable();
        Samples { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The sample at index ceil(percent / 100 * n) - 1 of the sorted samples.
    pub fn percentile(&self, percent: usize) -> Duration {
        let n = self.sorted.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = (percent * n).div_ceil(100).clamp(1, n);
        self.sorted[rank - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99)
    }
}

/// Times `Till::scan` on random barcodes of sellable generated products.
pub fn barcode_lookup(
    till: &Till,
    rng: &mut impl Rng,
    products: u64,
    iterations: usize,
) -> Result<Samples> {
    let codes: Vec<String> = (0..WARM_UP + iterations)
        .map(|_| generate::barcode(generate::random_active(rng, products)))
        .collect();
    let mut samples = Vec::with_capacity(iterations);
    for (index, code) in codes.iter().enumerate() {
        let started = Instant::now();
        let item = till
            .scan(code)
            .with_context(|| format!("scanning {code}"))?;
        let elapsed = started.elapsed();
        black_box(item);
        if index >= WARM_UP {
            samples.push(elapsed);
        }
    }
    Ok(Samples::from_unsorted(samples))
}

/// The kinds of query a cashier types into product search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QueryClass {
    ChineseOneChar,
    ChineseTwoChars,
    ChineseLong,
    EnglishWord,
    EnglishPartial,
    SkuFragment,
    ChineseAndEnglish,
}

impl QueryClass {
    pub const ALL: [QueryClass; 7] = [
        QueryClass::ChineseOneChar,
        QueryClass::ChineseTwoChars,
        QueryClass::ChineseLong,
        QueryClass::EnglishWord,
        QueryClass::EnglishPartial,
        QueryClass::SkuFragment,
        QueryClass::ChineseAndEnglish,
    ];

    pub fn label(self) -> &'static str {
        match self {
            QueryClass::ChineseOneChar => "1-char Chinese (茶)",
            QueryClass::ChineseTwoChars => "2-char Chinese (烏龍)",
            QueryClass::ChineseLong => "3+ char Chinese (鳳梨酥)",
            QueryClass::EnglishWord => "English word (oolong)",
            QueryClass::EnglishPartial => "partial English (oo, oolo)",
            QueryClass::SkuFragment => "SKU fragment (tea-00123)",
            QueryClass::ChineseAndEnglish => "two words (烏龍 tea)",
        }
    }
}

/// The parts of a generated product name that queries are cut from.
struct NameParts {
    chinese: Vec<char>,
    english: Vec<String>,
    sku: String,
}

fn name_parts(till: &Till, n: u64) -> Result<NameParts> {
    let sku = generate::sku(n);
    let name: String = till
        .connection()
        .query_row("SELECT name FROM product WHERE sku = ?1", [&sku], |row| {
            row.get(0)
        })
        .with_context(|| format!("product {sku} is missing from the generated catalog"))?;
    let mut tokens = name.split(' ');
    let chinese = tokens.next().unwrap_or_default().chars().collect();
    let english = tokens
        .filter(|word| word.len() >= 3 && word.chars().all(|ch| ch.is_ascii_alphabetic()))
        .map(str::to_owned)
        .collect();
    Ok(NameParts {
        chinese,
        english,
        sku,
    })
}

/// A random run of `len` characters of `chars`.
fn window(rng: &mut impl Rng, chars: &[char], len: usize) -> String {
    let start = rng.random_range(0..=chars.len() - len);
    chars[start..start + len].iter().collect()
}

/// One query of `class`, cut from a random existing product so that it matches something.
fn make_query(till: &Till, rng: &mut impl Rng, products: u64, class: QueryClass) -> Result<String> {
    loop {
        let parts = name_parts(till, rng.random_range(1..=products))?;
        let english = parts
            .english
            .get(rng.random_range(0..parts.english.len().max(1)));
        let query = match class {
            QueryClass::ChineseOneChar => window(rng, &parts.chinese, 1),
            QueryClass::ChineseTwoChars if parts.chinese.len() >= 2 => {
                window(rng, &parts.chinese, 2)
            }
            QueryClass::ChineseLong if parts.chinese.len() >= 3 => {
                let len = rng.random_range(3..=parts.chinese.len().min(5));
                window(rng, &parts.chinese, len)
            }
            QueryClass::EnglishWord => match english {
                Some(word) if rng.random_bool(0.5) => word.to_lowercase(),
                Some(word) => word.clone(),
                None => continue,
            },
            QueryClass::EnglishPartial => match english {
                Some(word) if word.len() >= 4 => {
                    let len = rng.random_range(2..=(word.len() - 1).min(5));
                    word[..len].to_lowercase()
                }
                _ => continue,
            },
            QueryClass::SkuFragment => {
                if rng.random_bool(0.5) {
                    // What a cashier types from a shelf label: department and leading digits.
                    let len = rng.random_range(7..=parts.sku.len());
                    parts.sku[..len].to_lowercase()
                } else {
                    // The tail digits.
                    let len = rng.random_range(4..=6);
                    parts.sku[parts.sku.len() - len..].to_owned()
                }
            }
            QueryClass::ChineseAndEnglish if parts.chinese.len() >= 2 => match english {
                Some(word) => format!("{} {}", window(rng, &parts.chinese, 2), word.to_lowercase()),
                None => continue,
            },
            _ => continue,
        };
        return Ok(query);
    }
}

/// Search timings: all queries, and each class on its own.
pub struct SearchResult {
    pub all: Samples,
    pub by_class: BTreeMap<QueryClass, Samples>,
    /// Queries of each class that found nothing (the queries come from real names, so few should).
    pub empty_by_class: BTreeMap<QueryClass, usize>,
}

/// Times `Till::search` over `per_class` queries of each class, shuffled together.
pub fn name_search(
    till: &Till,
    rng: &mut impl Rng,
    products: u64,
    per_class: usize,
) -> Result<SearchResult> {
    let mut queries = Vec::with_capacity(per_class * QueryClass::ALL.len());
    for class in QueryClass::ALL {
        for _ in 0..per_class {
            queries.push((class, make_query(till, rng, products, class)?));
        }
    }
    queries.shuffle(rng);
    for (_, query) in queries.iter().take(WARM_UP) {
        black_box(
            till.search(query)
                .with_context(|| format!("searching {query:?}"))?,
        );
    }

    let mut all = Vec::with_capacity(queries.len());
    let mut by_class: BTreeMap<QueryClass, Vec<Duration>> = BTreeMap::new();
    let mut empty_by_class: BTreeMap<QueryClass, usize> = BTreeMap::new();
    for (class, query) in &queries {
        let started = Instant::now();
        let hits = till
            .search(query)
            .with_context(|| format!("searching {query:?}"))?;
        let elapsed = started.elapsed();
        if hits.is_empty() {
            *empty_by_class.entry(*class).or_default() += 1;
        }
        black_box(hits);
        all.push(elapsed);
        by_class.entry(*class).or_default().push(elapsed);
    }
    Ok(SearchResult {
        all: Samples::from_unsorted(all),
        by_class: by_class
            .into_iter()
            .map(|(class, samples)| (class, Samples::from_unsorted(samples)))
            .collect(),
        empty_by_class,
    })
}

/// Commit timings of `Till::complete_sale` and of the raw SQLite baseline.
pub struct CommitResult {
    pub till: Samples,
    pub baseline: Samples,
    pub payload_bytes: usize,
}

/// A cart of `LINES_PER_SALE` different scanned products, paid by card.
fn card_paid_cart(
    till: &Till,
    rng: &mut impl Rng,
    products: u64,
    rules: PricingRules,
) -> Result<Cart> {
    let mut chosen: Vec<u64> = Vec::with_capacity(LINES_PER_SALE);
    while chosen.len() < LINES_PER_SALE {
        let n = generate::random_active(rng, products);
        if !chosen.contains(&n) {
            chosen.push(n);
        }
    }
    let mut cart = Cart::new();
    for n in chosen {
        let code = generate::barcode(n);
        let item = till
            .scan(&code)
            .with_context(|| format!("scanning {code}"))?;
        cart.add_item(item, 1)?;
    }
    let due = cart.totals(rules).due_minor;
    let reference = format!("AUTH{:06}", rng.random_range(0..1_000_000));
    cart.add_tender(rules, TenderKind::Card, due, Some(&reference))?;
    Ok(cart)
}

/// The rows one baseline commit writes: what `complete_sale` writes for the same cart, with
/// the sequence numbers and payload prepared beforehand.
struct BaselineSale {
    sale_id: String,
    op_id: String,
    receipt_no: String,
    seq: i64,
    staff_id: String,
    created_at: i64,
    cart: Cart,
    rules: PricingRules,
    payload: String,
}

fn baseline_sale(
    till: &Till,
    session: &StaffSession,
    cart: Cart,
    rules: PricingRules,
    index: usize,
) -> Result<BaselineSale> {
    let clock = till.clock();
    let sale_id = clock.new_id().to_string();
    let op_id = clock.new_id().to_string();
    let created_at = clock.now().timestamp_millis();
    let seq = BASELINE_SEQ_BASE + index as i64;
    let receipt_no = format!("BASE-{index:06}");
    let totals = cart.totals(rules);
    let operation = SaleCompleted {
        sale_id: sale_id.clone(),
        receipt_no: receipt_no.clone(),
        device_id: till.device().device_id.clone(),
        staff_id: session.id.clone(),
        created_at_ms: created_at,
        currency: "TWD".to_owned(),
        tax_mode: rules.tax_mode.as_str().to_owned(),
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        rounding_minor: totals.rounding_minor,
        total_minor: totals.total_minor + totals.rounding_minor,
        lines: cart
            .lines()
            .iter()
            .zip(&totals.lines)
            .enumerate()
            .map(|(index, (line, figures))| SaleLineOp {
                line_no: index as i64 + 1,
                sku: line.item.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: line.item.unit_price_minor,
                discount_minor: figures.discount_minor(),
                tax_rate_bp: line.item.tax_rate_bp,
                tax_minor: figures.tax_minor,
                total_minor: figures.total_minor,
            })
            .collect(),
        tenders: cart
            .tenders()
            .iter()
            .map(|tender| TenderOp {
                kind: tender.kind.as_str().to_owned(),
                amount_minor: tender.amount_minor,
                reference: tender.reference.clone(),
            })
            .collect(),
        member: None,
    };
    Ok(BaselineSale {
        payload: serde_json::to_string(&operation)?,
        sale_id,
        op_id,
        receipt_no,
        seq,
        staff_id: session.id.clone(),
        created_at,
        cart,
        rules,
    })
}

/// The baseline: the same rows as a till sale, written with plain prepared statements in one
/// immediate transaction on the till's own connection (same file, same pragmas).
fn baseline_commit(conn: &mut Connection, sale: &BaselineSale) -> rusqlite::Result<()> {
    let totals = sale.cart.totals(sale.rules);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO sale (id, receipt_no, staff_id, created_at, currency, tax_mode, line_count,
             subtotal_minor, discount_minor, tax_minor, rounding_minor, total_minor, change_minor, op_seq)
         VALUES (?1, ?2, ?3, ?4, 'TWD', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        sale.sale_id,
        sale.receipt_no,
        sale.staff_id,
        sale.created_at,
        sale.rules.tax_mode.as_str(),
        sale.cart.lines().len() as i64,
        totals.subtotal_minor,
        totals.discount_minor,
        totals.tax_minor,
        totals.rounding_minor,
        totals.total_minor + totals.rounding_minor,
        totals.change_minor,
        sale.seq,
    ])?;
    {
        let mut insert_line = tx.prepare_cached(
            "INSERT INTO sale_line (sale_id, line_no, product_id, sku, name, barcode, quantity,
                 unit_price_minor, discount_minor, tax_rate_bp, tax_minor, total_minor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut insert_movement = tx.prepare_cached(
            "INSERT INTO stock_movement (product_id, delta, kind, ref_id, op_seq, created_at)
             VALUES (?1, ?2, 'sale', ?3, ?4, ?5)",
        )?;
        for (index, (line, figures)) in sale.cart.lines().iter().zip(&totals.lines).enumerate() {
            insert_line.execute(params![
                sale.sale_id,
                index as i64 + 1,
                line.item.product_id,
                line.item.sku,
                line.item.name,
                line.item.barcode,
                line.quantity,
                line.item.unit_price_minor,
                figures.discount_minor(),
                line.item.tax_rate_bp,
                figures.tax_minor,
                figures.total_minor,
            ])?;
            insert_movement.execute(params![
                line.item.product_id,
                -line.quantity,
                sale.sale_id,
                sale.seq,
                sale.created_at
            ])?;
        }
        let mut insert_tender = tx.prepare_cached(
            "INSERT INTO sale_tender (sale_id, tender_no, kind, amount_minor, tendered_minor,
                 change_minor, reference)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (index, tender) in sale.cart.tenders().iter().enumerate() {
            insert_tender.execute(params![
                sale.sale_id,
                index as i64 + 1,
                tender.kind.as_str(),
                tender.amount_minor,
                tender.tendered_minor,
                tender.change_minor,
                tender.reference,
            ])?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        sale.seq,
        sale.op_id,
        omnitill_core::outbox::SALE_COMPLETED,
        sale.payload,
        sale.created_at
    ])?;
    tx.commit()
}

/// Times `Till::complete_sale` of a five-line card sale and the raw baseline, alternating which
/// goes first, so both see the same file, cache and write-ahead log.
pub fn commits(
    till: &mut Till,
    rng: &mut impl Rng,
    products: u64,
    iterations: usize,
) -> Result<CommitResult> {
    let (code, pin) = omnitill_core::demo::CASHIER;
    let session = till
        .login(code, pin)
        .context("the demo cashier cannot log in")?;
    let rules = till.pricing_rules()?;
    let synchronous: i64 = till
        .connection()
        .query_row("PRAGMA synchronous", [], |row| row.get(0))?;
    let journal: String = till
        .connection()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if synchronous != 2 || !journal.eq_ignore_ascii_case("wal") {
        bail!(
            "the till must run in WAL with synchronous=FULL (2), not {journal} with {synchronous}"
        );
    }

    // The app copies the write-ahead log back from a second connection in the background, so
    // no sale pays for a checkpoint; do the same here, more often, since this loop commits far
    // faster than a counter does.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpointer = {
        let stop = stop.clone();
        let path = till.path().to_owned();
        std::thread::spawn(move || -> Result<()> {
            let checkpointer = omnitill_core::db::Checkpointer::open(&path)?;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                checkpointer.checkpoint()?;
            }
            Ok(())
        })
    };
    let measured = commit_loop(till, rng, products, iterations, &session, rules);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    checkpointer
        .join()
        .map_err(|_| anyhow::anyhow!("the checkpoint thread panicked"))?
        .context("background checkpoints")?;
    measured
}

fn commit_loop(
    till: &mut Till,
    rng: &mut impl Rng,
    products: u64,
    iterations: usize,
    session: &omnitill_core::StaffSession,
    rules: omnitill_core::PricingRules,
) -> Result<CommitResult> {
    let session = session.clone();
    let mut till_samples = Vec::with_capacity(iterations);
    let mut baseline_samples = Vec::with_capacity(iterations);
    let mut payload_bytes = 0;
    for index in 0..WARM_UP + iterations {
        let cart = card_paid_cart(till, rng, products, rules)?;
        let baseline = baseline_sale(
            till,
            &session,
            card_paid_cart(till, rng, products, rules)?,
            rules,
            index,
        )?;
        payload_bytes = baseline.payload.len();

        let time_till = |till: &mut Till| -> Result<Duration> {
            let started = Instant::now();
            let receipt = till
                .complete_sale(&session, &cart)
                .context("completing a sale")?;
            let elapsed = started.elapsed();
            black_box(receipt);
            Ok(elapsed)
        };
        let time_baseline = |till: &mut Till| -> Result<Duration> {
            let started = Instant::now();
            baseline_commit(till.connection_mut(), &baseline).context("the baseline commit")?;
            Ok(started.elapsed())
        };
        let (till_time, baseline_time) = if index % 2 == 0 {
            let t = time_till(till)?;
            (t, time_baseline(till)?)
        } else {
            let b = time_baseline(till)?;
            (time_till(till)?, b)
        };
        if index >= WARM_UP {
            till_samples.push(till_time);
            baseline_samples.push(baseline_time);
        }
    }
    Ok(CommitResult {
        till: Samples::from_unsorted(till_samples),
        baseline: Samples::from_unsorted(baseline_samples),
        payload_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_sample_at_ceil_q_n_minus_one() {
        let samples = Samples::from_unsorted((1..=200).rev().map(Duration::from_micros).collect());
        assert_eq!(
            samples.p50(),
            Duration::from_micros(100),
            "p50 of 1..=200 is the 100th"
        );
        assert_eq!(
            samples.p99(),
            Duration::from_micros(198),
            "p99 of 1..=200 is the 198th"
        );
        let one = Samples::from_unsorted(vec![Duration::from_micros(7)]);
        assert_eq!(
            one.p99(),
            Duration::from_micros(7),
            "a single sample is every percentile"
        );
        assert_eq!(
            Samples::default().p99(),
            Duration::ZERO,
            "no samples report zero"
        );
    }
}
