//! The e-shop places a pickup order: checked, given a pickup code, its lines' stock reserved
//! at the store, its first status recorded and the order published to the store's tills, in
//! one transaction.
//!
//! Idempotent by `order_ref` (`idempotency`, route `pickup`): the same order again is answered
//! with the first answer and reserves nothing more; another order under the same reference is
//! a 409 and changes nothing.

use omnitill_core::{loyalty, pickup_code};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::{PickupView, publish, record_event, reservations, view};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::idempotency::{self, Claim, Route};
use crate::{members, stock};

/// The most lines a pickup order may have.
pub const MAX_LINES: usize = 100;
/// The most units of one line.
pub const MAX_QUANTITY: i64 = 999;
/// How far ahead a promised ready time may be.
const MAX_PROMISE_AHEAD_MS: i64 = 30 * 24 * 3_600_000;

/// One line of a pickup order as the e-shop sends it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickupLineRequest {
    /// A SKU of the catalog.
    pub sku: String,
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
    /// What the customer pays for the line, in minor units.
    #[schema(minimum = 0)]
    pub total_minor: i64,
}

/// A pickup order as the e-shop places it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickupRequest {
    /// The e-shop's own order number: the key of every later call about the order.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub order_ref: String,
    /// The store's id or code.
    pub store: String,
    /// `paid_online`, or `pay_at_pickup` (paid at the till, with the member's points and
    /// coupons).
    pub payment: String,
    /// The member's id; without it, a guest's name and contact are needed.
    pub member_id: Option<String>,
    #[schema(max_length = 100)]
    pub guest_name: Option<String>,
    /// The guest's phone or e-mail; only its masked form is kept.
    pub guest_contact: Option<String>,
    pub currency: String,
    /// When the store promised the order ready, Unix ms.
    pub promised_at_ms: i64,
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<PickupLineRequest>,
    /// Whether the customer accepts a substitute for a line the store cannot find: one the
    /// brand names for its SKU (`PUT /v1/pickup-substitutes/{sku}`), in stock at the store, at
    /// no more than the line's unit price, charged at the line's price. Without it (the
    /// default) a missing line is refunded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepts_substitutes: bool,
}

/// Places `request`. Returns whether it was new, and the order.
pub async fn place(db: &Db, request: &PickupRequest) -> CloudResult<(bool, PickupView)> {
    let order_ref = request.order_ref.trim();
    check(request, order_ref, db.now_ms())?;
    let now = db.now_ms();
    let mut tx = db.write.begin().await?;
    if let Claim::Answered(first) =
        idempotency::claim(&mut tx, Route::Pickup, order_ref, request, now).await?
    {
        tx.commit().await?;
        return Ok((false, first));
    }
    let store = store_id(&mut tx, request.store.trim()).await?;
    let member_id = match request.member_id.as_deref().map(str::trim) {
        Some(id) => Some(
            members::resolve(&mut tx, id)
                .await?
                .ok_or_else(|| CloudError::BadRequest(format!("member {id} does not exist")))?,
        ),
        None => None,
    };
    let contact_masked = match request.guest_contact.as_deref().map(str::trim) {
        Some(contact) if !contact.is_empty() => Some(mask_contact(contact)?),
        _ => None,
    };
    for line in &request.lines {
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
    let total = request
        .lines
        .iter()
        .try_fold(0_i64, |sum, line| sum.checked_add(line.total_minor))
        .ok_or_else(|| {
            CloudError::BadRequest("the order's line totals add up to more than 2^63 - 1".into())
        })?;
    let (expiry_days,): (i64,) =
        sqlx::query_as("SELECT expiry_days FROM pickup_settings WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    let expires_at = now.saturating_add(expiry_days.saturating_mul(86_400_000));
    let id = uuid::Uuid::now_v7().to_string();
    let code = unused_code(&mut tx).await?;
    sqlx::query(
        "INSERT INTO pickup_order (id, order_ref, store_id, code, status, payment, member_id,
             guest_name, contact_masked, currency, total_minor, promised_at, expires_at,
             created_at, updated_at, review, accepts_substitutes)
         VALUES ($1, $2, $3, $4, 'new', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, NULL, $14)",
    )
    .bind(&id)
    .bind(order_ref)
    .bind(&store)
    .bind(&code)
    .bind(&request.payment)
    .bind(&member_id)
    .bind(request.guest_name.as_deref().map(str::trim))
    .bind(&contact_masked)
    .bind(&request.currency)
    .bind(total)
    .bind(request.promised_at_ms)
    .bind(expires_at)
    .bind(now)
    .bind(i64::from(request.accepts_substitutes))
    .execute(&mut *tx)
    .await?;
    let mut skus: Vec<&str> = request.lines.iter().map(|line| line.sku.as_str()).collect();
    skus.sort_unstable();
    skus.dedup();
    stock::lock_levels(&mut tx, &store, &skus).await?;
    // Points at online payment, when the brand's rule says so: the member's row is locked
    // before anything is published (the lock order: levels, member, feed).
    let (points_on,): (String,) =
        sqlx::query_as("SELECT points_on FROM pickup_settings WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    if let Some(member) = &member_id
        && request.payment == "paid_online"
        && points_on == "online_payment"
    {
        let lines: Vec<(String, i64)> = request
            .lines
            .iter()
            .map(|line| (line.sku.clone(), line.total_minor))
            .collect();
        members::earn_for_pickup(&mut tx, member, &id, &lines, db.now()).await?;
    }
    for (index, line) in request.lines.iter().enumerate() {
        let line_no = i64::try_from(index + 1)
            .map_err(|_| CloudError::BadRequest("too many lines".into()))?;
        sqlx::query(
            "INSERT INTO pickup_line (order_id, line_no, sku, quantity, total_minor, state)
             VALUES ($1, $2, $3, $4, $5, 'to_pick')",
        )
        .bind(&id)
        .bind(line_no)
        .bind(&line.sku)
        .bind(line.quantity)
        .bind(line.total_minor)
        .execute(&mut *tx)
        .await?;
        reservations::hold(
            &mut tx,
            &id,
            line_no,
            reservations::Kind::Ordered,
            &store,
            &line.sku,
            line.quantity,
        )
        .await?;
    }
    record_event(&mut tx, &id, "new", now, "eshop", None).await?;
    publish(&mut tx, &id).await?;
    let placed = view(&mut tx, &id).await?;
    idempotency::record(&mut tx, Route::Pickup, order_ref, &placed).await?;
    tx.commit().await?;
    Ok((true, placed))
}

/// The checks that need no database: every refusal names the field.
fn check(request: &PickupRequest, order_ref: &str, now_ms: i64) -> CloudResult<()> {
    let bad = |message: String| Err(CloudError::BadRequest(message));
    if order_ref.is_empty() || order_ref.len() > 64 {
        return bad("order_ref must be 1 to 64 characters".into());
    }
    if !matches!(request.payment.as_str(), "paid_online" | "pay_at_pickup") {
        return bad("payment must be paid_online or pay_at_pickup".into());
    }
    let guest = request.guest_name.as_deref().map(str::trim).unwrap_or("");
    if request.member_id.is_none() && guest.is_empty() {
        return bad("a guest's order needs guest_name (or give member_id)".into());
    }
    if guest.chars().count() > 100 || guest.chars().any(char::is_control) {
        return bad("guest_name must be at most 100 printable characters".into());
    }
    if request.currency.len() != 3 || !request.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return bad("currency must be a three-letter ISO 4217 code".into());
    }
    if request.promised_at_ms < 0
        || request.promised_at_ms > now_ms.saturating_add(MAX_PROMISE_AHEAD_MS)
    {
        return bad("promised_at_ms must be a time within the next 30 days".into());
    }
    if request.lines.is_empty() || request.lines.len() > MAX_LINES {
        return bad(format!("an order has 1 to {MAX_LINES} lines"));
    }
    for line in &request.lines {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return bad(format!(
                "quantity {} of {} is not 1 to {MAX_QUANTITY}",
                line.quantity, line.sku
            ));
        }
        if line.total_minor < 0 {
            return bad(format!("the total of {} is negative", line.sku));
        }
    }
    Ok(())
}

/// The store `id_or_code` names.
async fn store_id(tx: &mut AnyConnection, id_or_code: &str) -> CloudResult<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM store WHERE id = $1 OR code = $1")
        .bind(id_or_code)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| CloudError::NotFound(format!("store {id_or_code}")))
}

/// A guest's phone or e-mail, masked for the store: only what lets staff confirm it.
fn mask_contact(contact: &str) -> CloudResult<String> {
    if contact.contains('@') {
        let email = loyalty::normalise_email(contact)
            .map_err(|e| CloudError::BadRequest(format!("guest_contact: {e}")))?;
        Ok(loyalty::mask_email(&email))
    } else {
        let phone = loyalty::normalise_phone(contact, 886)
            .map_err(|e| CloudError::BadRequest(format!("guest_contact: {e}")))?;
        Ok(loyalty::mask_phone(&phone))
    }
}

/// A pickup code no order has: codes are random, so one try almost always does.
async fn unused_code(tx: &mut AnyConnection) -> CloudResult<String> {
    use rand::Rng;
    for _ in 0..20 {
        // The thread's generator, dropped before the next await.
        let code = {
            let mut rng = rand::rng();
            pickup_code::new_code(|n| rng.random_range(0..n))
        };
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT id FROM pickup_order WHERE code = $1")
                .bind(&code)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_none() {
            return Ok(code);
        }
    }
    Err(CloudError::Internal(
        "no free pickup code was found in 20 tries".into(),
    ))
}
