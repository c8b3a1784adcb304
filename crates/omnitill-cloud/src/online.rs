//! Online sales: an e-shop order takes stock from the online pool or from a store.
//!
//! An order is recorded once per `order_ref`, its idempotency key (`idempotency`): sending the
//! same order again (a retry after a lost response) returns the first record and moves no
//! stock; another order under the same `order_ref` is a 409 and moves nothing. Stock moves are
//! deltas on the level row (`stock::move_stock`), which commute, so concurrent orders need no
//! lock beyond the key.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::Db;
use crate::devices;
use crate::error::{CloudError, CloudResult};
use crate::idempotency::{self, Claim, Route};
use crate::stock::{self, ONLINE_POOL};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OnlineLine {
    /// A SKU of the catalog.
    pub sku: String,
    #[schema(minimum = 1, maximum = 9_999)]
    pub quantity: i64,
    /// The line's total in minor units.
    #[schema(minimum = 0)]
    pub total_minor: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OnlineOrder {
    /// The e-shop's own order number; the idempotency key.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub order_ref: String,
    /// "online" for the e-shop's warehouse, or a store id or code (ship-from-store).
    pub stock_from: String,
    pub currency: String,
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<OnlineLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OnlineSaleRecorded {
    pub sale_id: String,
    pub receipt_no: String,
    pub stock_from: String,
    pub total_minor: i64,
}

/// Records an order. Returns whether it was new, and the record.
pub async fn record(db: &Db, order: &OnlineOrder) -> CloudResult<(bool, OnlineSaleRecorded)> {
    let order_ref = order.order_ref.trim();
    if order_ref.is_empty() || order_ref.len() > 64 {
        return Err(CloudError::BadRequest(
            "order_ref must be 1 to 64 characters".into(),
        ));
    }
    if order.lines.is_empty() || order.lines.len() > 500 {
        return Err(CloudError::BadRequest("an order has 1 to 500 lines".into()));
    }
    for line in &order.lines {
        if !(1..=9_999).contains(&line.quantity) {
            return Err(CloudError::BadRequest(format!(
                "quantity {} of {} is out of range",
                line.quantity, line.sku
            )));
        }
        if line.total_minor < 0 {
            return Err(CloudError::BadRequest(format!(
                "the total of {} is negative",
                line.sku
            )));
        }
    }
    let pool = if order.stock_from == ONLINE_POOL {
        ONLINE_POOL.to_owned()
    } else {
        devices::find_store(db, &order.stock_from).await?.id
    };
    let receipt_no = format!("WEB-{order_ref}");
    let now = db.now_ms();
    let mut tx = db.write.begin().await?;
    let request = (&pool, &order.currency, &order.lines);
    if let Claim::Answered(first) =
        idempotency::claim(&mut tx, Route::OnlineSale, order_ref, &request, now).await?
    {
        tx.commit().await?;
        return Ok((false, first));
    }
    // Recorded before keys were (migration 0007): answer that record.
    let existing: Option<(String, String, i64)> =
        sqlx::query_as("SELECT id, store_id, total_minor FROM sale WHERE receipt_no = $1")
            .bind(&receipt_no)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((sale_id, stock_from, total_minor)) = existing {
        return Ok((
            false,
            OnlineSaleRecorded {
                sale_id,
                receipt_no,
                stock_from,
                total_minor,
            },
        ));
    }
    for line in &order.lines {
        let known: Option<(String,)> = sqlx::query_as("SELECT sku FROM product WHERE sku = $1")
            .bind(&line.sku)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(CloudError::BadRequest(format!(
                "SKU {} is not in the catalog",
                line.sku
            )));
        }
    }
    let sale_id = uuid::Uuid::now_v7().to_string();
    let total = order
        .lines
        .iter()
        .try_fold(0_i64, |sum, line| sum.checked_add(line.total_minor))
        .ok_or_else(|| {
            CloudError::BadRequest("the order's line totals add up to more than 2^63 - 1".into())
        })?;
    sqlx::query(
        "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
             currency, tax_minor, total_minor, payload)
         VALUES ($1, $2, NULL, 'online', $3, NULL, $4, $5, 0, $6, $7)",
    )
    .bind(&sale_id)
    .bind(&pool)
    .bind(&receipt_no)
    .bind(now)
    .bind(&order.currency)
    .bind(total)
    .bind(format!(
        "{{\"order_ref\":{}}}",
        serde_json::Value::String(order_ref.to_owned())
    ))
    .execute(&mut *tx)
    .await?;
    let skus: Vec<&str> = order.lines.iter().map(|line| line.sku.as_str()).collect();
    stock::lock_levels(&mut tx, &pool, &skus).await?;
    for (index, line) in order.lines.iter().enumerate() {
        sqlx::query("INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor) VALUES ($1, $2, $3, $4, $5)")
            .bind(&sale_id)
            .bind(index as i64 + 1)
            .bind(&line.sku)
            .bind(line.quantity)
            .bind(line.total_minor)
            .execute(&mut *tx)
            .await?;
        stock::move_stock(
            &mut tx,
            &format!("{sale_id}:{}", index + 1),
            &pool,
            &line.sku,
            -line.quantity,
            "online_sale",
            &sale_id,
            now,
        )
        .await?;
    }
    let recorded = OnlineSaleRecorded {
        sale_id,
        receipt_no,
        stock_from: pool,
        total_minor: total,
    };
    idempotency::record(&mut tx, Route::OnlineSale, order_ref, &recorded).await?;
    tx.commit().await?;
    Ok((true, recorded))
}
