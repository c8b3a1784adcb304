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

/// The demo's shop floor on top of a seeded demo brand: baskets, what sells together, the
/// regulars' favourites and views, and pickup orders in every state (`demo_floor`). The
/// `demo` command and `serve --demo` add it; in-process tests start from the brand without it.
pub async fn seed_floor(db: &Db) -> CloudResult<()> {
    let listed = devices::list_stores(db).await?;
    // In STORE_CODES' order: the demo till's store first.
    let stores: Vec<String> = STORE_CODES
        .iter()
        .filter_map(|code| listed.iter().find(|store| store.code == *code))
        .map(|store| store.id.clone())
        .collect();
    let regulars: Vec<String> = sqlx::query_as::<_, (String, i64)>(
        "SELECT member_id, max(last_at) FROM member_store WHERE keyed = 1
         GROUP BY member_id ORDER BY max(last_at) DESC, member_id LIMIT $1",
    )
    .bind(i64::try_from(demo_members::DEMO_REGULARS).unwrap_or(40))
    .fetch_all(&db.read)
    .await?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    crate::demo_floor::seed(db, &stores, &regulars, chrono::Utc::now()).await
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
