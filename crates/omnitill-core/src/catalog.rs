//! The till's catalog cache: products, barcodes, effective-dated prices, and search.
//!
//! Barcode look-up is exact, on the normalised GTIN. Search has two FTS5 indexes:
//! `product_fts` uses the trigram tokenizer and finds any substring of three or more
//! characters in a name or SKU, Chinese included; `product_short_fts` holds each CJK
//! character and CJK bigram of a name and each other word, so one- and two-character queries
//! (茶, 烏龍, "te") are also answered from an index rather than a table scan. Prices are
//! effective-dated: the price at time T is the latest row with `effective_from <= T`, so a price
//! change scheduled for tomorrow applies tomorrow with no network.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::barcode;
use crate::cart::PricedItem;
use crate::error::{CoreError, CoreResult};
use crate::money::Minor;

/// The most results one search returns.
pub const SEARCH_LIMIT: usize = 50;
/// The longest search query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A product to create or replace in the catalog.
#[derive(Debug, Clone)]
pub struct ProductRecord {
    pub sku: String,
    pub name: String,
    pub tax_class: String,
    pub active: bool,
    pub barcodes: Vec<String>,
    /// (effective from, price in minor units)
    pub prices: Vec<(DateTime<Utc>, Minor)>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProductHit {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub barcode: Option<String>,
    pub price_minor: Minor,
    pub active: bool,
}

fn is_cjk(ch: char) -> bool {
    matches!(ch as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F
        | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// The tokens `product_short_fts` indexes for a name: every CJK character and CJK bigram, and
/// every other run of letters and digits, lower-cased.
pub fn short_grams(name: &str, sku: &str) -> String {
    let mut grams: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut previous_cjk: Option<char> = None;
    for ch in name.chars().chain([' ']).chain(sku.chars()) {
        if is_cjk(ch) {
            if !word.is_empty() {
                grams.push(std::mem::take(&mut word));
            }
            grams.push(ch.to_string());
            if let Some(previous) = previous_cjk {
                grams.push(format!("{previous}{ch}"));
            }
            previous_cjk = Some(ch);
        } else {
            previous_cjk = None;
            if ch.is_alphanumeric() {
                word.extend(ch.to_lowercase());
            } else if !word.is_empty() {
                grams.push(std::mem::take(&mut word));
            }
        }
    }
    if !word.is_empty() {
        grams.push(word);
    }
    grams.join(" ")
}

fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// How one search term is looked up in `product_short_fts`: a CJK term of one or two characters
/// is a token itself, a longer one is all its bigrams, and anything else is a word prefix.
fn short_term_expr(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    if chars.iter().all(|c| is_cjk(*c)) {
        if chars.len() <= 2 {
            return fts_phrase(term);
        }
        let bigrams: Vec<String> = chars
            .windows(2)
            .map(|pair| fts_phrase(&pair.iter().collect::<String>()))
            .collect();
        return format!("({})", bigrams.join(" AND "));
    }
    format!("{}*", fts_phrase(term))
}

/// A product record checked and normalised: trimmed SKU and name, barcodes as stored.
struct CheckedRecord<'a> {
    sku: &'a str,
    name: &'a str,
    codes: Vec<String>,
    record: &'a ProductRecord,
}

/// Checks a record the way every catalog write does: SKU and name lengths, valid GTINs (stored
/// normalised), no negative price.
fn check_record(record: &ProductRecord) -> CoreResult<CheckedRecord<'_>> {
    let sku = record.sku.trim();
    let name = record.name.trim();
    if sku.is_empty() || sku.chars().count() > 64 {
        return Err(CoreError::BadInput(format!(
            "SKU {sku:?} must be 1 to 64 characters"
        )));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::BadInput(format!(
            "product name for {sku} must be 1 to 200 characters"
        )));
    }
    let codes = record
        .barcodes
        .iter()
        .map(|code| barcode::parse(code).map(|gtin| gtin.as_str().to_owned()))
        .collect::<CoreResult<Vec<_>>>()?;
    if record.prices.iter().any(|(_, price)| *price < 0) {
        return Err(CoreError::BadInput(format!(
            "a price for {sku} is negative"
        )));
    }
    Ok(CheckedRecord {
        sku,
        name,
        codes,
        record,
    })
}

/// Creates or replaces a product (matched by SKU), its barcodes and its price schedule.
/// Every barcode must be a valid GTIN. Runs inside the caller's transaction.
pub fn upsert_product(conn: &Connection, record: &ProductRecord) -> CoreResult<i64> {
    let product_id = write_product(conn, &check_record(record)?)?;
    index_backlog(conn, BacklogPick::Product(product_id))?;
    Ok(product_id)
}

/// Creates or replaces many products at once: the same result as `upsert_product` on each
/// record in order (a later record with the same SKU wins whole, a barcode claimed twice goes
/// to the later product), checked the same way and all checked before anything is written,
/// inside the caller's transaction.
///
/// Unlike `upsert_product` it leaves the products it wrote (new ones, and ones whose name
/// changed) in the search backlog for `index_pending`: a large download becomes sellable by
/// barcode at the speed of plain row writes, and FTS5 then indexes it in bulk. Returns how
/// many distinct products were written.
pub fn upsert_products(conn: &Connection, records: &[ProductRecord]) -> CoreResult<usize> {
    let mut checked = Vec::with_capacity(records.len());
    for record in records {
        checked.push(check_record(record)?);
    }
    let mut last_of_sku = std::collections::HashMap::with_capacity(checked.len());
    for (position, record) in checked.iter().enumerate() {
        last_of_sku.insert(record.sku, position);
    }
    // Runs of new products are inserted together; a product that exists is replaced in its
    // turn, so a barcode claimed twice still ends with the later record.
    let mut new_run: Vec<&CheckedRecord<'_>> = Vec::new();
    let mut find = conn.prepare_cached("SELECT id FROM product WHERE sku = ?1")?;
    for (position, record) in checked.iter().enumerate() {
        if last_of_sku.get(record.sku) != Some(&position) {
            continue;
        }
        if find.exists([record.sku])? {
            insert_new_products(conn, &new_run)?;
            new_run.clear();
            write_product(conn, record)?;
        } else {
            new_run.push(record);
        }
    }
    insert_new_products(conn, &new_run)?;
    Ok(last_of_sku.len())
}

/// Rows one multi-row insert of new products writes at most.
const NEW_PRODUCT_CHUNK: usize = 100;

/// Inserts products whose SKUs are not in the catalog yet, with their barcodes and prices,
/// and queues them for the search indexes: a few multi-row statements per
/// `NEW_PRODUCT_CHUNK` products instead of five statements per product, which is most of the
/// cost of a first download. Ids are given here, after the highest in use, so barcodes and
/// prices can name them in the same statements.
fn insert_new_products(conn: &Connection, records: &[&CheckedRecord<'_>]) -> CoreResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let highest: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM product")?
        .query_row([], |row| row.get(0))?;
    for (chunk_no, chunk) in records.chunks(NEW_PRODUCT_CHUNK).enumerate() {
        let first_id = highest + 1 + (chunk_no * NEW_PRODUCT_CHUNK) as i64;
        let id_list: Vec<i64> = (first_id..).take(chunk.len()).collect();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 5);
        for (record, id) in chunk.iter().zip(&id_list) {
            values.extend([
                id as &dyn rusqlite::ToSql,
                &record.sku,
                &record.name,
                &record.record.tax_class,
                &record.record.active,
            ]);
        }
        execute_rows(
            conn,
            "INSERT INTO product (id, sku, name, tax_class, active) VALUES ",
            "(?, ?, ?, ?, ?)",
            "",
            &values,
        )?;
        let backlog: Vec<&dyn rusqlite::ToSql> = id_list
            .iter()
            .map(|id| id as &dyn rusqlite::ToSql)
            .collect();
        execute_rows(
            conn,
            "INSERT INTO search_backlog (product_id) VALUES ",
            "(?)",
            "",
            &backlog,
        )?;

        let mut codes: Vec<(&String, &i64)> = Vec::new();
        let mut prices: Vec<(i64, i64, &i64)> = Vec::new();
        for (record, id) in chunk.iter().zip(&id_list) {
            codes.extend(record.codes.iter().map(|code| (code, id)));
            prices.extend(
                record
                    .record
                    .prices
                    .iter()
                    .map(|(from, price)| (*id, from.timestamp_millis(), price)),
            );
        }
        for part in codes.chunks(NEW_PRODUCT_CHUNK) {
            let values: Vec<&dyn rusqlite::ToSql> = part
                .iter()
                .flat_map(|(code, id)| [*code as &dyn rusqlite::ToSql, *id as &dyn rusqlite::ToSql])
                .collect();
            execute_rows(
                conn,
                "INSERT INTO barcode (code, product_id) VALUES ",
                "(?, ?)",
                " ON CONFLICT (code) DO UPDATE SET product_id = excluded.product_id",
                &values,
            )?;
        }
        for part in prices.chunks(NEW_PRODUCT_CHUNK) {
            let values: Vec<&dyn rusqlite::ToSql> = part
                .iter()
                .flat_map(|(id, from, price)| {
                    [
                        id as &dyn rusqlite::ToSql,
                        from as &dyn rusqlite::ToSql,
                        *price as &dyn rusqlite::ToSql,
                    ]
                })
                .collect();
            execute_rows(
                conn,
                "INSERT OR REPLACE INTO price (product_id, effective_from, price_minor) VALUES ",
                "(?, ?, ?)",
                "",
                &values,
            )?;
        }
    }
    Ok(())
}

/// Runs `head`, then one `row` of placeholders per row of `values`, then `tail`. A statement
/// of a full chunk is kept in the connection's cache; a shorter one (the last of a page) is
/// prepared for this once, so odd sizes do not push other statements out of the cache.
fn execute_rows(
    conn: &Connection,
    head: &str,
    row: &str,
    tail: &str,
    values: &[&dyn rusqlite::ToSql],
) -> CoreResult<usize> {
    let per_row = row.matches('?').count().max(1);
    let rows = values.len() / per_row;
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 2) + tail.len());
    sql.push_str(head);
    for n in 0..rows {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    let written = if rows == NEW_PRODUCT_CHUNK {
        conn.prepare_cached(&sql)?.execute(values)?
    } else {
        conn.prepare(&sql)?.execute(values)?
    };
    Ok(written)
}

/// Writes one checked product's row, barcodes and prices, replacing what its SKU had, and
/// queues it for the search indexes when it is new (a trigger does when it is renamed).
fn write_product(conn: &Connection, checked: &CheckedRecord<'_>) -> CoreResult<i64> {
    let CheckedRecord {
        sku,
        name,
        codes,
        record,
    } = checked;
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM product WHERE sku = ?1")?
        .query_row([sku], |row| row.get(0))
        .optional()?;
    let product_id = match existing {
        Some(id) => {
            conn.prepare_cached(
                "UPDATE product SET name = ?2, tax_class = ?3, active = ?4 WHERE id = ?1",
            )?
            .execute(params![id, name, record.tax_class, record.active])?;
            conn.prepare_cached("DELETE FROM barcode WHERE product_id = ?1")?
                .execute([id])?;
            conn.prepare_cached("DELETE FROM price WHERE product_id = ?1")?
                .execute([id])?;
            id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO product (sku, name, tax_class, active) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sku, name, record.tax_class, record.active])?;
            let id = conn.last_insert_rowid();
            // Every new product waits for the search indexes (see migration 0004).
            conn.prepare_cached("INSERT INTO search_backlog (product_id) VALUES (?1)")?
                .execute([id])?;
            id
        }
    };
    let mut insert_barcode = conn.prepare_cached(
        "INSERT INTO barcode (code, product_id) VALUES (?1, ?2)
         ON CONFLICT (code) DO UPDATE SET product_id = excluded.product_id",
    )?;
    for code in codes {
        insert_barcode.execute(params![code, product_id])?;
    }
    let mut insert_price = conn.prepare_cached(
        "INSERT OR REPLACE INTO price (product_id, effective_from, price_minor) VALUES (?1, ?2, ?3)",
    )?;
    for (from, price) in &record.prices {
        insert_price.execute(params![product_id, from.timestamp_millis(), price])?;
    }
    Ok(product_id)
}

/// Which backlog products `index_backlog` takes.
enum BacklogPick {
    /// The lowest ids first, at most this many.
    First(usize),
    /// This product, if it is waiting.
    Product(i64),
}

/// Brings up to `limit` products of the search backlog (lowest ids first) into both search
/// indexes, inside the caller's transaction, and returns how many it indexed. Each index is
/// written by one statement, so FTS5 adds one segment per call rather than one per product.
pub fn index_pending(conn: &Connection, limit: usize) -> CoreResult<usize> {
    index_backlog(conn, BacklogPick::First(limit))
}

/// How many products wait in the search backlog.
pub fn search_backlog_len(conn: &Connection) -> CoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM search_backlog")?
        .query_row([], |row| row.get(0))?)
}

/// Whether any product waits in the search backlog.
pub fn search_backlog_nonempty(conn: &Connection) -> CoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_backlog)")?
        .query_row([], |row| row.get(0))?)
}

fn index_backlog(conn: &Connection, pick: BacklogPick) -> CoreResult<usize> {
    let (sql, bound) = match pick {
        BacklogPick::First(limit) => (
            "SELECT p.id, p.name, p.sku FROM search_backlog s JOIN product p ON p.id = s.product_id
             ORDER BY s.product_id LIMIT ?1",
            i64::try_from(limit).unwrap_or(i64::MAX),
        ),
        BacklogPick::Product(id) => (
            "SELECT p.id, p.name, p.sku FROM search_backlog s JOIN product p ON p.id = s.product_id
             WHERE s.product_id = ?1",
            id,
        ),
    };
    let rows: Vec<(i64, String, String)> = conn
        .prepare_cached(sql)?
        .query_map([bound], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(0);
    }
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS index_batch (id INTEGER PRIMARY KEY, grams TEXT NOT NULL);
         DELETE FROM temp.index_batch;",
    )?;
    {
        let mut stage =
            conn.prepare_cached("INSERT INTO temp.index_batch (id, grams) VALUES (?1, ?2)")?;
        for (id, name, sku) in &rows {
            stage.execute(params![id, short_grams(name, sku)])?;
        }
    }
    for sql in [
        "INSERT INTO product_fts (rowid, name, sku)
         SELECT p.id, p.name, p.sku FROM temp.index_batch b JOIN product p ON p.id = b.id
         ORDER BY b.id",
        "INSERT INTO product_short_fts (rowid, grams)
         SELECT id, grams FROM temp.index_batch ORDER BY id",
        "DELETE FROM search_backlog WHERE product_id IN (SELECT id FROM temp.index_batch)",
        "DELETE FROM temp.index_batch",
    ] {
        conn.prepare_cached(sql)?.execute([])?;
    }
    Ok(rows.len())
}

fn price_at(conn: &Connection, product_id: i64, at: DateTime<Utc>) -> CoreResult<Option<Minor>> {
    Ok(conn
        .prepare_cached(
            "SELECT price_minor FROM price WHERE product_id = ?1 AND effective_from <= ?2
             ORDER BY effective_from DESC LIMIT 1",
        )?
        .query_row(params![product_id, at.timestamp_millis()], |row| row.get(0))
        .optional()?)
}

/// A product's name and first barcode by SKU, whether or not it is for sale; `None` when the
/// catalog does not have the SKU.
pub fn label(conn: &Connection, sku: &str) -> CoreResult<Option<(String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT p.name, (SELECT code FROM barcode b WHERE b.product_id = p.id LIMIT 1)
             FROM product p WHERE p.sku = ?1",
        )?
        .query_row([sku], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Loads a product by id, priced at `at`. Inactive products and products with no price yet
/// are refused, since they cannot be sold.
pub fn priced_item(
    conn: &Connection,
    product_id: i64,
    barcode: Option<String>,
    at: DateTime<Utc>,
) -> CoreResult<PricedItem> {
    let row: Option<(String, String, bool, u32)> = conn
        .prepare_cached(
            "SELECT p.sku, p.name, p.active, t.rate_bp FROM product p
             JOIN tax_class t ON t.id = p.tax_class WHERE p.id = ?1",
        )?
        .query_row([product_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let (sku, name, active, tax_rate_bp) =
        row.ok_or_else(|| CoreError::NotFound(format!("product {product_id}")))?;
    if !active {
        return Err(CoreError::InactiveProduct(format!("{name} ({sku})")));
    }
    let unit_price_minor = price_at(conn, product_id, at)?
        .ok_or_else(|| CoreError::InactiveProduct(format!("{name} ({sku}) has no price yet")))?;
    let barcode = match barcode {
        Some(code) => Some(code),
        None => conn
            .prepare_cached("SELECT code FROM barcode WHERE product_id = ?1 LIMIT 1")?
            .query_row([product_id], |row| row.get(0))
            .optional()?,
    };
    Ok(PricedItem {
        product_id,
        sku,
        name,
        barcode,
        unit_price_minor,
        tax_rate_bp,
    })
}

/// Finds the product for a scanned barcode, priced at `at`.
pub fn scan(conn: &Connection, code: &str, at: DateTime<Utc>) -> CoreResult<PricedItem> {
    let gtin = barcode::parse(code)?;
    let product_id: i64 = conn
        .prepare_cached("SELECT product_id FROM barcode WHERE code = ?1")?
        .query_row([gtin.as_str()], |row| row.get(0))
        .optional()?
        .ok_or_else(|| CoreError::UnknownBarcode(gtin.as_str().to_owned()))?;
    priced_item(conn, product_id, Some(gtin.as_str().to_owned()), at)
}

/// Searches names and SKUs. Every whitespace-separated term must appear in the name or SKU.
/// Returns at most `SEARCH_LIMIT` hits, products for sale first.
pub fn search(conn: &Connection, query: &str, at: DateTime<Utc>) -> CoreResult<Vec<ProductHit>> {
    let query = query.trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(CoreError::BadInput(format!(
            "a search can be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let terms: Vec<String> = query
        .split_whitespace()
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // Every term of three or more characters: the trigram index answers exactly. Any shorter
    // term: the short-gram index answers, with each CJK term as its characters or bigrams and
    // each other term as a word prefix; the substrings are then checked here.
    let all_long = terms.iter().all(|t| t.chars().count() >= 3);
    let (sql, match_expr) = if all_long {
        (
            "SELECT rowid FROM product_fts WHERE product_fts MATCH ?1 LIMIT ?2",
            terms
                .iter()
                .map(|t| fts_phrase(t))
                .collect::<Vec<_>>()
                .join(" AND "),
        )
    } else {
        (
            "SELECT rowid FROM product_short_fts WHERE product_short_fts MATCH ?1 LIMIT ?2",
            terms
                .iter()
                .map(|t| short_term_expr(t))
                .collect::<Vec<_>>()
                .join(" AND "),
        )
    };
    let fetch = if all_long {
        SEARCH_LIMIT
    } else {
        SEARCH_LIMIT * 10
    };
    let mut ids: Vec<i64> = conn
        .prepare_cached(sql)?
        .query_map(params![match_expr, fetch as i64], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    ids.extend(search_backlog_matches(conn, &terms)?);
    let filters: Vec<&String> = if all_long {
        Vec::new()
    } else {
        terms.iter().collect()
    };

    let mut hits = Vec::new();
    let mut load = conn.prepare_cached(
        "SELECT p.sku, p.name, p.active,
                (SELECT code FROM barcode b WHERE b.product_id = p.id LIMIT 1)
         FROM product p WHERE p.id = ?1",
    )?;
    for id in ids {
        let (sku, name, active, barcode): (String, String, bool, Option<String>) = load
            .query_row([id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
        if !filters.is_empty() {
            let haystack = format!("{} {}", name.to_lowercase(), sku.to_lowercase());
            if !filters.iter().all(|term| haystack.contains(term.as_str())) {
                continue;
            }
        }
        let price_minor = price_at(conn, id, at)?.unwrap_or(0);
        hits.push(ProductHit {
            product_id: id,
            sku,
            name,
            barcode,
            price_minor,
            active,
        });
        if hits.len() >= SEARCH_LIMIT {
            break;
        }
    }
    hits.sort_by_key(|hit| !hit.active);
    Ok(hits)
}

/// Products still waiting to be indexed (see `index_pending`) that contain every term in
/// their name or SKU, read from the product table directly. SQLite's `lower` folds only ASCII,
/// so an unindexed name with other capitals is found once it is indexed.
fn search_backlog_matches(conn: &Connection, terms: &[String]) -> CoreResult<Vec<i64>> {
    if !search_backlog_nonempty(conn)? {
        return Ok(Vec::new());
    }
    let conditions = (1..=terms.len())
        .map(|n| format!("instr(lower(p.name || ' ' || p.sku), ?{n}) > 0"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "SELECT p.id FROM search_backlog s JOIN product p ON p.id = s.product_id
         WHERE {conditions} ORDER BY s.product_id LIMIT {SEARCH_LIMIT}"
    );
    let ids = conn
        .prepare(&sql)?
        .query_map(rusqlite::params_from_iter(terms.iter()), |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

#[cfg(test)]
mod tests;
