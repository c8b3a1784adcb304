//! The demo brand: the same catalog the demo till ships with, two stores in Taipei, opening
//! stock in both and in the online pool, an API key for trying the e-shop API, and a few
//! thousand members with a year of history (`demo_members`).

use omnitill_core::demo as till_demo;

use crate::catalog::{self, ProductInput};
use crate::db::{Db, now_ms};
use crate::devices::{self, NewStore, Store};
use crate::error::CloudResult;
use crate::{demo_members, stock};

/// The demo stores' codes.
pub const STORE_CODES: [&str; 2] = ["TPE-XINYI", "TPE-DAAN"];

/// What seeding made, for the command line to print.
pub struct Seeded {
    pub stores: Vec<Store>,
    pub products: usize,
    pub members: usize,
}

/// Seeds the demo brand into an empty cloud with `demo_members::DEMO_MEMBERS` members. Does
/// nothing when stores already exist.
pub async fn seed(db: &Db) -> CloudResult<Option<Seeded>> {
    seed_with_members(db, demo_members::DEMO_MEMBERS).await
}

/// Seeds the demo brand with `members` members (the benchmark's large member base).
pub async fn seed_with_members(db: &Db, members: usize) -> CloudResult<Option<Seeded>> {
    if !devices::list_stores(db).await?.is_empty() {
        return Ok(None);
    }
    let mut stores = Vec::new();
    for (code, name) in STORE_CODES.iter().zip([
        "Omnitill 示範門市 · Taipei Xinyi",
        "Omnitill 大安門市 · Taipei Da'an",
    ]) {
        stores.push(
            devices::create_store(
                db,
                &NewStore {
                    code,
                    name,
                    currency: "TWD",
                    currency_exponent: 2,
                    tax_mode: "inclusive",
                    cash_rounding_minor: 100,
                    utc_offset_minutes: 480,
                },
            )
            .await?,
        );
    }
    let records = till_demo::records(chrono::Utc::now());
    let mut tx = db.write.begin().await?;
    catalog::upsert_tax_class(&mut tx, "standard", "VAT 5%", 500).await?;
    catalog::upsert_tax_class(&mut tx, "zero", "Zero-rated", 0).await?;
    let now = now_ms();
    for (index, record) in records.iter().enumerate() {
        let input = ProductInput {
            sku: record.sku.clone(),
            name: record.name.clone(),
            tax_class: record.tax_class.clone(),
            active: record.active,
            barcodes: record.barcodes.clone(),
            prices: record
                .prices
                .iter()
                .map(|(at, price)| (at.timestamp_millis(), *price))
                .collect(),
        };
        catalog::upsert_product(&mut tx, &input).await?;
        for (pool, opening) in [
            (stores[0].id.as_str(), 20 + (index as i64 * 37) % 80),
            (stores[1].id.as_str(), 10 + (index as i64 * 53) % 60),
            (stock::ONLINE_POOL, 100 + (index as i64 * 11) % 200),
        ] {
            stock::move_stock(
                &mut tx,
                &stock::movement_id(),
                pool,
                &record.sku,
                opening,
                "receive",
                "opening stock",
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    let store_ids: Vec<String> = stores.iter().map(|store| store.id.clone()).collect();
    demo_members::seed(db, &store_ids, members, chrono::Utc::now()).await?;
    Ok(Some(Seeded {
        stores,
        products: records.len(),
        members,
    }))
}
