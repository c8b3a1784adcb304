//! The demo brand's shop floor: a year of e-shop baskets (so "bought together" has something
//! to say), favourites and recently viewed products for the regulars, and pickup orders in
//! every state at both stores.
//!
//! Deterministic, and kept away from the products the tests and the README's walk-through sell
//! (the first `AVOID` of the catalog): demo orders reserve and move stock only of the others,
//! and the demo's online baskets are history in the e-shop's pool, which moves no store stock.
//! The regulars' favourites and a price cut on 陳美玲's first favourite give the floor's
//! "cheaper than when saved"; her pickup order, ready and paid at pickup, earns her nothing
//! until she pays.

use chrono::{DateTime, Duration, Utc};
use omnitill_protocol::ops::{PickupHandedOver, PickupLineMarked, PickupReady};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::interests::{self, RecordView, SaveFavourite};
use crate::pickups::place::{self, PickupLineRequest, PickupRequest};
use crate::pickups::{cancel, expiry};
use crate::push::{self, PushingDevice};
use crate::{bought_together, catalog};

/// The first products of the catalog, which tests and the walk-through sell by hand.
const AVOID: usize = 40;
/// How many e-shop baskets make the demo's history.
const BASKETS: usize = 300;

/// Seeds the floor's data for `store_ids` as of `now`; `regulars` are the members whose keys
/// the stores keep, 陳美玲 first.
pub async fn seed(
    db: &Db,
    store_ids: &[String],
    regulars: &[String],
    now: DateTime<Utc>,
) -> CloudResult<()> {
    // In the catalog's own order, whose first products are the ones sold by hand.
    let skus: Vec<String> = omnitill_core::demo::records(now)
        .into_iter()
        .filter(|record| record.active)
        .map(|record| record.sku)
        .skip(AVOID)
        .collect();
    if skus.len() < 40 {
        return Err(CloudError::Internal(
            "the demo catalog is too small for the floor's data".into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(20_261_206);
    baskets(db, &skus, &mut rng, now).await?;
    bought_together::compute(db, now).await?;
    interests_of(db, &skus, regulars, now).await?;
    for (index, store_id) in store_ids.iter().enumerate() {
        pickups(db, store_id, index, &skus, regulars.first(), now).await?;
    }
    Ok(())
}

/// A year of e-shop baskets: each an anchor product and one or two of its usual companions.
async fn baskets(
    db: &Db,
    skus: &[String],
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> CloudResult<()> {
    let anchors = 30.min(skus.len());
    let mut tx = db.write.begin().await?;
    for basket in 0..BASKETS {
        let anchor = rng.random_range(0..anchors);
        let companions = rng.random_range(1..=2);
        let mut lines = vec![skus[anchor].clone()];
        for k in 1..=companions {
            lines.push(skus[(anchor * 7 + k * 13) % skus.len()].clone());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let at = (now - Duration::days(rng.random_range(1..300))).timestamp_millis();
        sqlx::query(
            "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
                 currency, tax_minor, total_minor, payload)
             VALUES ($1, 'online', NULL, 'online', $2, NULL, $3, 'TWD', 0, $4, '{}')",
        )
        .bind(&id)
        .bind(format!("DEMO-{basket:04}"))
        .bind(at)
        .bind(50_000 * lines.len() as i64)
        .execute(&mut *tx)
        .await?;
        for (line_no, sku) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor)
                 VALUES ($1, $2, $3, 1, 50000)",
            )
            .bind(&id)
            .bind(line_no as i64 + 1)
            .bind(sku)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Three favourites and six recent views for each regular; a price cut on the first
/// regular's first favourite, since it was saved.
async fn interests_of(
    db: &Db,
    skus: &[String],
    regulars: &[String],
    now: DateTime<Utc>,
) -> CloudResult<()> {
    for (index, member) in regulars.iter().enumerate() {
        for k in 0..3 {
            let sku = &skus[(index * 5 + k * 11) % skus.len()];
            let saved_at = (now - Duration::days(i64::try_from(10 + index + k).unwrap_or(10)))
                .timestamp_millis();
            interests::save_favourite(
                db,
                member,
                sku,
                &SaveFavourite {
                    saved_at_ms: Some(saved_at),
                },
            )
            .await?;
        }
        for k in 0..6 {
            let view = RecordView {
                sku: skus[(index * 3 + k * 7 + 1) % skus.len()].clone(),
                viewed_at_ms: Some(
                    (now - Duration::hours(i64::try_from(2 + index * 6 + k).unwrap_or(2)))
                        .timestamp_millis(),
                ),
            };
            interests::record_view(db, member, &view).await?;
        }
    }
    if let Some(first) = regulars.first() {
        let favourite = interests::get(db, first).await?;
        if let Some(saved) = favourite
            .favourites
            .iter()
            .find(|f| f.price_at_save_minor.is_some())
        {
            let was = saved.price_at_save_minor.unwrap_or(0);
            let cut = was - was / 5;
            let from = (now - Duration::days(1)).timestamp_millis();
            catalog::set_price(db, &saved.sku, from, cut).await?;
        }
    }
    Ok(())
}

/// A store's pickup orders: new, late, picking, ready (陳美玲's, paid at pickup), collected,
/// partially collected, cancelled and expired.
async fn pickups(
    db: &Db,
    store_id: &str,
    store_index: usize,
    skus: &[String],
    mei_ling: Option<&String>,
    now: DateTime<Utc>,
) -> CloudResult<()> {
    let now_ms = now.timestamp_millis();
    let store = PushingDevice {
        id: format!("demo-{store_index}"),
        store_id: store_id.to_owned(),
        till_id: None,
        prefixes: Vec::new(),
        cash_rounding_minor: 100,
        now_ms,
    };
    let order = |n: usize, promised_in_h: i64, member: Option<&String>, payment: &str| {
        let first = skus[(40 + store_index * 20 + n * 2) % skus.len()].clone();
        let second = skus[(41 + store_index * 20 + n * 2) % skus.len()].clone();
        PickupRequest {
            order_ref: format!("DEMO-{}-{n}", store_index + 1),
            store: store_id.to_owned(),
            payment: payment.to_owned(),
            member_id: member.cloned(),
            guest_name: member
                .is_none()
                .then(|| GUESTS[n % GUESTS.len()].to_owned()),
            guest_contact: None,
            currency: "TWD".into(),
            promised_at_ms: now_ms + promised_in_h * 3_600_000,
            lines: vec![
                PickupLineRequest {
                    sku: first,
                    quantity: 1,
                    total_minor: 48_000,
                },
                PickupLineRequest {
                    sku: second,
                    quantity: 2,
                    total_minor: 96_000,
                },
            ],
            accepts_substitutes: false,
        }
    };
    let placed = |request: PickupRequest| async move {
        place::place(db, &request)
            .await
            .map(|(_, view)| view.order.id)
    };
    // New, and new but late.
    placed(order(0, 2, None, "paid_online")).await?;
    placed(order(1, -3, None, "pay_at_pickup")).await?;
    // Picking: one line picked.
    let picking = placed(order(2, 1, None, "paid_online")).await?;
    store_moves(db, &store, &picking, &[Move::Pick(1)]).await?;
    // Ready: 陳美玲's at the first store, paid at pickup.
    let ready_member = if store_index == 0 { mei_ling } else { None };
    let ready = placed(order(3, 0, ready_member, "pay_at_pickup")).await?;
    store_moves(
        db,
        &store,
        &ready,
        &[Move::Pick(1), Move::Pick(2), Move::Ready],
    )
    .await?;
    // Collected, and partially collected.
    let collected = placed(order(4, -24, None, "paid_online")).await?;
    store_moves(
        db,
        &store,
        &collected,
        &[Move::Pick(1), Move::Pick(2), Move::Ready, Move::HandOver],
    )
    .await?;
    let partial = placed(order(5, -20, None, "paid_online")).await?;
    store_moves(
        db,
        &store,
        &partial,
        &[Move::Pick(1), Move::Missing(2), Move::Ready, Move::HandOver],
    )
    .await?;
    // Cancelled, and expired.
    placed(order(6, 5, None, "paid_online")).await?;
    cancel::cancel(
        db,
        &format!("DEMO-{}-6", store_index + 1),
        &cancel::CancelRequest {
            reason: Some("the customer changed their mind".into()),
        },
    )
    .await?;
    let expired = placed(order(7, -200, None, "paid_online")).await?;
    sqlx::query("UPDATE pickup_order SET expires_at = $1 WHERE id = $2")
        .bind(now_ms - 1)
        .bind(&expired)
        .execute(&db.write)
        .await?;
    expiry::expire_due(db, now).await?;
    Ok(())
}

const GUESTS: [&str; 4] = [
    "王小姐 Ms Wang",
    "李先生 Mr Lee",
    "張小姐 Ms Chang",
    "Alex Chen",
];

/// What the demo's store does to an order.
enum Move {
    Pick(i64),
    Missing(i64),
    Ready,
    HandOver,
}

/// Applies the store's moves as its tills' operations would.
async fn store_moves(
    db: &Db,
    store: &PushingDevice,
    order_id: &str,
    moves: &[Move],
) -> CloudResult<()> {
    let mut tx = db.write.begin().await?;
    for step in moves {
        let at_ms = store.now_ms;
        let staff_id = "demo-staff".to_owned();
        let applied = match step {
            Move::Pick(line_no) | Move::Missing(line_no) => {
                let missing = matches!(step, Move::Missing(_));
                let line = PickupLineMarked {
                    order_id: order_id.to_owned(),
                    line_no: *line_no,
                    state: if missing { "missing" } else { "picked" }.into(),
                    reason: missing.then(|| "damaged box".to_owned()),
                    staff_id,
                    at_ms,
                };
                push::pickup::apply_line(&mut tx, store, &line).await
            }
            Move::Ready => {
                let ready = PickupReady {
                    order_id: order_id.to_owned(),
                    staff_id,
                    at_ms,
                };
                push::pickup::apply_ready(&mut tx, store, &ready).await
            }
            Move::HandOver => {
                let handed = PickupHandedOver {
                    order_id: order_id.to_owned(),
                    staff_id,
                    at_ms,
                    verified_by: "code".into(),
                    sale_id: None,
                };
                push::pickup::apply_handover(&mut tx, store, &handed).await
            }
        };
        if let Err(error) = applied {
            return Err(match error {
                push::ApplyError::Refused(refusal) => CloudError::Internal(format!(
                    "the demo's pickup move was refused: {}",
                    refusal.0
                )),
                push::ApplyError::Failed(error) => error,
            });
        }
    }
    tx.commit().await?;
    Ok(())
}
