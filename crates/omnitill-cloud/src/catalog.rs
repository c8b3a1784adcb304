//! The brand's catalog: products, barcodes, tax classes and effective-dated prices.
//!
//! Every change republishes the product's whole current record to the feed, so a till that
//! pulls sees one consistent product. Prices are a schedule: a price set for tomorrow is in the
//! till's cache today and applies tomorrow, offline.
//!
//! `import` is the brand's bulk import of a CSV file (`omnitill-cloud catalog import`): every
//! row checked first (`import_file` on its own, `import_check` against the file and the
//! catalog), then written in one transaction with a few statements per thousands of rows
//! (`import_store`).

pub mod import;
pub mod import_check;
pub mod import_file;
mod import_postgres;
mod import_store;

use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use crate::db::{Db, now_ms};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};

/// A product as imported or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub tax_class: String,
    pub active: bool,
    pub barcodes: Vec<String>,
    /// (effective from, Unix ms; price in minor units)
    pub prices: Vec<(i64, i64)>,
}

/// Creates or replaces a tax class and publishes it.
pub async fn upsert_tax_class(
    tx: &mut AnyConnection,
    id: &str,
    name: &str,
    rate_bp: i64,
) -> CloudResult<()> {
    if !(0..=10_000).contains(&rate_bp) {
        return Err(CloudError::BadRequest(format!(
            "tax rate {rate_bp} bp is out of range"
        )));
    }
    sqlx::query(
        "INSERT INTO tax_class (id, name, rate_bp) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, rate_bp = excluded.rate_bp",
    )
    .bind(id)
    .bind(name)
    .bind(rate_bp)
    .execute(&mut *tx)
    .await?;
    let change = Change::TaxClass {
        id: id.to_owned(),
        name: name.to_owned(),
        rate_bp: rate_bp as u32,
    };
    feed::publish(&mut *tx, ALL_STORES, "tax_class", id, &change).await?;
    Ok(())
}

fn check_barcode(code: &str) -> CloudResult<String> {
    normalise_barcode(code).map_err(CloudError::BadRequest)
}

/// Checks an EAN-13, EAN-8 or UPC-A barcode's shape and check digit and returns it as stored
/// (a UPC-A code as its EAN-13 form), or the reason in words.
pub(crate) fn normalise_barcode(code: &str) -> Result<String, String> {
    let code = code.trim();
    let valid_shape = code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.len(), 8 | 12 | 13);
    if !valid_shape {
        return Err(format!("{code:?} is not an EAN-13, EAN-8 or UPC-A barcode"));
    }
    let digits: Vec<u32> = code.bytes().map(|b| u32::from(b - b'0')).collect();
    let (payload, last) = digits.split_at(digits.len() - 1);
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    if (10 - sum % 10) % 10 != last[0] {
        return Err(format!("barcode {code} has a wrong check digit"));
    }
    Ok(if code.len() == 12 {
        format!("0{code}")
    } else {
        code.to_owned()
    })
}

/// Creates or replaces a product with its barcodes and price schedule, and publishes it.
pub async fn upsert_product(tx: &mut AnyConnection, input: &ProductInput) -> CloudResult<()> {
    let sku = input.sku.trim();
    if sku.is_empty() || sku.chars().count() > 64 {
        return Err(CloudError::BadRequest(format!(
            "SKU {sku:?} must be 1 to 64 characters"
        )));
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(CloudError::BadRequest(format!(
            "the name of {sku} must be 1 to 200 characters"
        )));
    }
    if input.prices.iter().any(|(_, price)| *price < 0) {
        return Err(CloudError::BadRequest(format!(
            "a price of {sku} is negative"
        )));
    }
    let barcodes = input
        .barcodes
        .iter()
        .map(|code| check_barcode(code))
        .collect::<CloudResult<Vec<_>>>()?;
    // No foreign key guards the tax class (migration 0011): it is checked here.
    let known: Option<(String,)> = sqlx::query_as("SELECT id FROM tax_class WHERE id = $1")
        .bind(&input.tax_class)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        return Err(CloudError::BadRequest(format!(
            "unknown tax class {:?} for {sku}",
            input.tax_class
        )));
    }
    sqlx::query(
        "INSERT INTO product (sku, name, tax_class, active, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name, tax_class = excluded.tax_class,
             active = excluded.active, updated_at = excluded.updated_at",
    )
    .bind(sku)
    .bind(input.name.trim())
    .bind(&input.tax_class)
    .bind(i64::from(input.active))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM barcode WHERE sku = $1")
        .bind(sku)
        .execute(&mut *tx)
        .await?;
    for code in &barcodes {
        sqlx::query(
            "INSERT INTO barcode (code, sku) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET sku = excluded.sku",
        )
        .bind(code)
        .bind(sku)
        .execute(&mut *tx)
        .await?;
    }
    for (from, price) in &input.prices {
        sqlx::query(
            "INSERT INTO price (sku, effective_from, price_minor) VALUES ($1, $2, $3)
             ON CONFLICT (sku, effective_from) DO UPDATE SET price_minor = excluded.price_minor",
        )
        .bind(sku)
        .bind(*from)
        .bind(*price)
        .execute(&mut *tx)
        .await?;
    }
    republish(tx, sku).await
}

/// Schedules a price for a product from `effective_from` and republishes the product.
pub async fn set_price(
    db: &Db,
    sku: &str,
    effective_from: i64,
    price_minor: i64,
) -> CloudResult<()> {
    if price_minor < 0 {
        return Err(CloudError::BadRequest("a price cannot be negative".into()));
    }
    let mut tx = db.write.begin().await?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT sku FROM product WHERE sku = $1")
        .bind(sku)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(CloudError::NotFound(format!("product {sku}")));
    }
    sqlx::query(
        "INSERT INTO price (sku, effective_from, price_minor) VALUES ($1, $2, $3)
         ON CONFLICT (sku, effective_from) DO UPDATE SET price_minor = excluded.price_minor",
    )
    .bind(sku)
    .bind(effective_from)
    .bind(price_minor)
    .execute(&mut *tx)
    .await?;
    republish(&mut tx, sku).await?;
    tx.commit().await?;
    Ok(())
}

/// Publishes a product's whole current record to the feed.
async fn republish(tx: &mut AnyConnection, sku: &str) -> CloudResult<()> {
    let (name, tax_class, active): (String, String, i64) =
        sqlx::query_as("SELECT name, tax_class, active FROM product WHERE sku = $1")
            .bind(sku)
            .fetch_one(&mut *tx)
            .await?;
    let barcodes: Vec<(String,)> =
        sqlx::query_as("SELECT code FROM barcode WHERE sku = $1 ORDER BY code")
            .bind(sku)
            .fetch_all(&mut *tx)
            .await?;
    let prices: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT effective_from, price_minor FROM price WHERE sku = $1 ORDER BY effective_from",
    )
    .bind(sku)
    .fetch_all(&mut *tx)
    .await?;
    let change = Change::Product {
        sku: sku.to_owned(),
        name,
        tax_class,
        active: active != 0,
        barcodes: barcodes.into_iter().map(|b| b.0).collect(),
        prices,
    };
    feed::publish(&mut *tx, ALL_STORES, "product", sku, &change).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_are_checked_and_upc_a_is_normalised() {
        assert_eq!(
            check_barcode("4006381333931").ok().as_deref(),
            Some("4006381333931")
        );
        assert_eq!(
            check_barcode("036000291452").ok().as_deref(),
            Some("0036000291452")
        );
        assert!(
            check_barcode("4006381333932").is_err(),
            "a wrong check digit is refused"
        );
        assert!(check_barcode("abc").is_err(), "letters are refused");
    }

    #[tokio::test]
    async fn a_product_of_an_unknown_tax_class_is_refused_and_nothing_is_written() {
        let path = std::env::temp_dir().join(format!(
            "omnitill-catalog-test-{}.sqlite3",
            uuid::Uuid::now_v7().simple()
        ));
        let db = Db::connect(&path.display().to_string())
            .await
            .expect("a new cloud database");
        let mut tx = db.write.begin().await.expect("a transaction");
        let input = ProductInput {
            sku: "TEA-X".into(),
            name: "Tea".into(),
            tax_class: "std".into(),
            active: true,
            barcodes: vec!["4006381333931".into()],
            prices: vec![(0, 100)],
        };
        let refused = upsert_product(&mut tx, &input).await;
        assert!(
            matches!(&refused, Err(CloudError::BadRequest(m)) if m.contains("unknown tax class")),
            "no foreign key guards the tax class, so the code must refuse it: {refused:?}"
        );
        let (products,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM product")
            .fetch_one(&mut *tx)
            .await
            .expect("products counted");
        assert_eq!(products, 0, "nothing of the refused product is written");
        drop(tx);
        db.write.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
