//! The till's side of synchronisation with the cloud, as ledger operations.
//!
//! The sync engine (crates/omnitill-sync) does the network IO; everything it learns is written
//! here, each in one transaction: the enrolment (`record_enrolment`), what the cloud said of a
//! push (`record_push`: operations at or below the cloud's checkpoint are acknowledged and
//! refusals are kept for the manager's review list), and a page of the change feed
//! (`apply_pull`: catalog, prices, tax classes, store settings and stock levels, each level with
//! the page's write checkpoint, and the new cursor and checkpoint). A cloud restored from a
//! backup that expects operations again gets them again (`resend_from`). The outbox is never
//! deleted.

use chrono::{DateTime, Utc};
use omnitill_protocol::enrol::{EnrolResponse, TillIdentity};
use omnitill_protocol::pull::{Change, PullResponse};
use omnitill_protocol::push::{PushResponse, Status};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::catalog::{self, ProductRecord};
use crate::error::{CoreError, CoreResult};
use crate::{floor, members, pickups, settings};

/// This till's link to the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLink {
    pub cloud_url: String,
    pub cloud_device_id: String,
    pub store_id: String,
    pub token: String,
    pub cursor: i64,
    pub last_applied_seq: i64,
    pub last_sync_at: Option<i64>,
    pub revoked: bool,
}

/// The link, once the till is enrolled.
pub fn link(conn: &Connection) -> CoreResult<Option<SyncLink>> {
    Ok(conn
        .query_row(
            "SELECT cloud_url, cloud_device_id, store_id, token, cursor, last_applied_seq,
                    last_sync_at, revoked
             FROM sync_state WHERE id = 1",
            [],
            |row| {
                Ok(SyncLink {
                    cloud_url: row.get(0)?,
                    cloud_device_id: row.get(1)?,
                    store_id: row.get(2)?,
                    token: row.get(3)?,
                    cursor: row.get(4)?,
                    last_applied_seq: row.get(5)?,
                    last_sync_at: row.get(6)?,
                    revoked: row.get(7)?,
                })
            },
        )
        .optional()?)
}

/// Who this till is, for an enrolment: its device id and current receipt prefix from the
/// ledger, and the token of its last enrolment (if any), which proves to the cloud that a
/// re-enrolled till is the one that held this id before.
pub fn till_identity(conn: &Connection) -> CoreResult<TillIdentity> {
    let (device_id, receipt_prefix): (String, String) = conn
        .query_row(
            "SELECT device_id, receipt_prefix FROM device WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| CoreError::BadInput("this ledger has no device identity yet".into()))?;
    let previous_token = link(conn)?.map(|link| link.token);
    Ok(TillIdentity {
        device_id,
        receipt_prefix,
        previous_token,
    })
}

/// The `seq` of the first operation the cloud has not acknowledged (or the next one to be
/// written, when all are): where a new enrolment's pushes start.
pub fn first_unacknowledged_seq(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE((SELECT min(seq) FROM outbox WHERE acked_at IS NULL),
                         (SELECT max(seq) FROM outbox) + 1, 1)",
        [],
        |row| row.get(0),
    )?)
}

/// Records a successful enrolment. Receipts from now on carry the prefix the cloud assigned,
/// which is unique across the brand; the receipt counter carries on.
pub fn record_enrolment(
    conn: &mut Connection,
    cloud_url: &str,
    enrolment: &EnrolResponse,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    let prefix = enrolment.receipt_prefix.trim();
    if prefix.is_empty() || prefix.len() > 12 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(CoreError::BadInput(format!(
            "the cloud sent an unusable receipt prefix {prefix:?}"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO sync_state (id, cloud_url, cloud_device_id, store_id, token, enrolled_at,
                                 last_applied_seq)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET cloud_url = excluded.cloud_url,
             cloud_device_id = excluded.cloud_device_id, store_id = excluded.store_id,
             token = excluded.token, cursor = 0, last_applied_seq = excluded.last_applied_seq,
             last_sync_at = NULL,
             revoked = 0, enrolled_at = excluded.enrolled_at",
        params![
            cloud_url.trim_end_matches('/'),
            enrolment.device_id,
            enrolment.store_id,
            enrolment.token,
            now.timestamp_millis(),
            first_unacknowledged_seq(&tx)? - 1
        ],
    )?;
    tx.execute(
        "UPDATE device SET receipt_prefix = ?1 WHERE id = 1",
        [prefix],
    )?;
    tx.commit()?;
    Ok(())
}

/// Records what the cloud said of a push: every operation at or below its checkpoint is
/// acknowledged, and refusals are kept for review.
pub fn record_push(
    conn: &mut Connection,
    response: &PushResponse,
    now: DateTime<Utc>,
) -> CoreResult<()> {
    let now_ms = now.timestamp_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for outcome in &response.outcomes {
        if outcome.status == Status::Rejected {
            tx.execute(
                "INSERT INTO op_outcome (seq, status, reason, received_at) VALUES (?1, 'rejected', ?2, ?3)
                 ON CONFLICT (seq) DO NOTHING",
                params![outcome.seq, outcome.reason, now_ms],
            )?;
        }
    }
    tx.execute(
        "UPDATE outbox SET acked_at = ?2 WHERE acked_at IS NULL AND seq <= ?1",
        params![response.last_applied_seq, now_ms],
    )?;
    tx.execute(
        "UPDATE sync_state SET last_sync_at = ?1 WHERE id = 1",
        params![now_ms],
    )?;
    tx.commit()?;
    Ok(())
}

/// The cloud was restored from a backup and expects this till's operation `from` next,
/// though this till holds it (and perhaps later ones) as acknowledged. Every operation from
/// `from` on becomes unacknowledged again, so the engine sends it again; none below `from`
/// changes, none is removed, the write checkpoint goes back to `from - 1`, and the reference
/// data is downloaded again from cursor zero (as after a `reset`), all in one transaction. Returns how many acknowledged operations are now to be sent again.
///
/// `from` must name an operation this till wrote: re-sending cannot invent operations.
pub fn resend_from(conn: &mut Connection, from: i64) -> CoreResult<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let newest: i64 = tx.query_row("SELECT COALESCE(max(seq), 0) FROM outbox", [], |row| {
        row.get(0)
    })?;
    if from < 1 || from > newest {
        return Err(CoreError::BadInput(format!(
            "the cloud expects operation {from} again, but this till's operations are 1 to \
             {newest}; nothing was changed"
        )));
    }
    let count = tx.execute(
        "UPDATE outbox SET acked_at = NULL WHERE seq >= ?1 AND acked_at IS NOT NULL",
        [from],
    )?;
    tx.execute(
        "UPDATE sync_state SET last_applied_seq = min(last_applied_seq, ?1) WHERE id = 1",
        [from - 1],
    )?;
    // A restored feed issues again cursors this till has already seen, for other changes:
    // this till's cursor means nothing there any more, so it downloads everything again.
    begin_download_again(&tx)?;
    tx.commit()?;
    Ok(count as i64)
}

/// What one pull page changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullApplied {
    pub applied: usize,
    /// Changes of a kind this till does not know (from a newer cloud), skipped.
    pub skipped: usize,
    /// Products made inactive because a full re-download ended without them.
    pub retired: usize,
}

/// Applies a page of the change feed and moves the cursor and the write checkpoint, in one
/// transaction. A reset moves the cursor back to zero so the next pull downloads everything.
/// Store settings, tax classes and stock levels are written entry by entry; the page's
/// products are written together at the end, with the same result as one at a time.
pub fn apply_pull(
    conn: &mut Connection,
    page: &PullResponse,
    now: DateTime<Utc>,
) -> CoreResult<PullApplied> {
    let now_ms = now.timestamp_millis();
    if !page.reset
        && page.entries.is_empty()
        && !members::allowance_changed(conn, page.allowance.as_ref())?
        && heartbeat(conn, page, now_ms)?
    {
        return Ok(PullApplied::default());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut result = PullApplied::default();
    if page.reset {
        begin_download_again(&tx)?;
        tx.commit()?;
        return Ok(result);
    }
    let resyncing: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM resync_unseen)", [], |r| {
        r.get(0)
    })?;
    // A first download of a large member base writes the members without their look-up
    // indexes, which are built once, sorted, when the download is complete (see
    // `members::defer_lookup_indexes`).
    if page.has_more {
        let brought = page
            .entries
            .iter()
            .filter(|e| matches!(e.change, Change::Member(_)))
            .count();
        members::defer_lookup_indexes(&tx, brought)?;
    }
    // Products are written together after the loop (see `catalog::upsert_products`); nothing
    // else in a page depends on them, and they depend only on tax classes, written in the loop.
    let mut products = Vec::new();
    for entry in &page.entries {
        match &entry.change {
            Change::Store {
                name,
                currency,
                currency_exponent,
                tax_mode,
                cash_rounding_minor,
                utc_offset_minutes,
            } => {
                settings::put(&tx, "store_name", name)?;
                settings::put(&tx, "currency", currency)?;
                settings::put(&tx, "currency_exponent", &currency_exponent.to_string())?;
                settings::put(&tx, "tax_mode", tax_mode)?;
                settings::put(&tx, "cash_rounding_minor", &cash_rounding_minor.to_string())?;
                settings::put(&tx, "utc_offset_minutes", &utc_offset_minutes.to_string())?;
            }
            Change::TaxClass { id, name, rate_bp } => {
                tx.execute(
                    "INSERT INTO tax_class (id, name, rate_bp) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, rate_bp = excluded.rate_bp",
                    params![id, name, rate_bp],
                )?;
            }
            Change::Product {
                sku,
                name,
                tax_class,
                active,
                barcodes,
                prices,
            } => {
                let prices = prices
                    .iter()
                    .filter_map(|(from, price)| {
                        DateTime::from_timestamp_millis(*from).map(|at| (at, *price))
                    })
                    .collect();
                products.push(ProductRecord {
                    sku: sku.clone(),
                    name: name.clone(),
                    tax_class: tax_class.clone(),
                    active: *active,
                    barcodes: barcodes.clone(),
                    prices,
                });
            }
            Change::Stock { sku, on_hand } => {
                // The level includes this till's operations up to this page's checkpoint.
                tx.prepare_cached(
                    "INSERT INTO stock_level (sku, on_hand, synced_at, as_of_seq)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand,
                         synced_at = excluded.synced_at, as_of_seq = excluded.as_of_seq",
                )?
                .execute(params![sku, on_hand, now_ms, page.last_applied_seq])?;
            }
            Change::LoyaltyRules(rules) => members::apply_rules(&tx, rules)?,
            Change::MemberKeys(keys) => members::apply_keys(&tx, keys)?,
            Change::Member(member) => {
                members::apply_member(&tx, member, page.last_applied_seq, now_ms)?;
            }
            Change::MemberGone { id, merged_into } => {
                members::apply_member_gone(&tx, id, merged_into.as_deref())?;
            }
            Change::MemberLookupKeys(keys) => members::apply_lookup_keys(&tx, keys)?,
            Change::Conflict(notice) => members::apply_conflict(&tx, notice)?,
            Change::Pickup(order) => pickups::apply_order(&tx, order, page.last_applied_seq)?,
            Change::BoughtTogether(together) => floor::apply_bought_together(&tx, together)?,
            Change::MemberInterests(interests) => {
                members::apply_interests(&tx, interests, now_ms)?;
            }
            Change::StockReserved { sku, reserved } => {
                pickups::apply_reserved(&tx, sku, *reserved, now_ms)?;
            }
            Change::Unknown => {
                result.skipped += 1;
                continue;
            }
        }
        result.applied += 1;
    }
    catalog::upsert_products(&tx, &products)?;
    if resyncing {
        let mut seen = tx.prepare_cached(
            "DELETE FROM resync_unseen WHERE product_id = (SELECT id FROM product WHERE sku = ?1)",
        )?;
        for product in &products {
            seen.execute([product.sku.trim()])?;
        }
    }
    if resyncing && !page.has_more {
        // The new download is complete: what it did not bring has left the catalog.
        result.retired = tx.execute(
            "UPDATE product SET active = 0
             WHERE active = 1 AND id IN (SELECT product_id FROM resync_unseen)",
            [],
        )?;
        tx.execute("DELETE FROM resync_unseen", [])?;
    }
    if !page.has_more {
        members::build_lookup_indexes(&tx)?;
        pickups::prune_final(&tx, now_ms)?;
    }
    if let Some(allowance) = &page.allowance {
        members::apply_allowance(&tx, allowance, page.last_applied_seq)?;
    }
    tx.execute(
        "UPDATE sync_state SET cursor = ?1, last_applied_seq = max(last_applied_seq, ?2), last_sync_at = ?3
         WHERE id = 1",
        params![page.cursor, page.last_applied_seq, now_ms],
    )?;
    tx.commit()?;
    Ok(result)
}

/// Starts downloading the reference data again from cursor zero. The outbox is kept; products
/// the new download does not bring are retired at its end (see `resync_unseen`).
fn begin_download_again(tx: &rusqlite::Transaction<'_>) -> CoreResult<()> {
    tx.execute("UPDATE sync_state SET cursor = 0 WHERE id = 1", [])?;
    tx.execute("DELETE FROM stock_level", [])?;
    tx.execute(
        "INSERT OR IGNORE INTO resync_unseen (product_id) SELECT id FROM product",
        [],
    )?;
    Ok(())
}

/// An empty page that moves neither the cursor nor the write checkpoint (an idle round) only
/// says when the till last heard from the cloud. That time is written without waiting for the
/// disk (`synchronous = NORMAL` for this one statement; WAL keeps it atomic): a power cut can
/// only lose the time, which the next round writes again. Returns false, writing nothing, when
/// the page does move something.
fn heartbeat(conn: &Connection, page: &PullResponse, now_ms: i64) -> CoreResult<bool> {
    let state: Option<(i64, i64)> = conn
        .prepare_cached("SELECT cursor, last_applied_seq FROM sync_state WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((cursor, last_applied_seq)) = state else {
        return Ok(false);
    };
    if page.cursor != cursor || page.last_applied_seq > last_applied_seq {
        return Ok(false);
    }
    let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let written = conn
        .prepare_cached("UPDATE sync_state SET last_sync_at = ?1 WHERE id = 1")
        .and_then(|mut statement| statement.execute([now_ms]));
    conn.pragma_update(None, "synchronous", synchronous)?;
    written?;
    Ok(true)
}

/// Records that the cloud refused this till's token as revoked.
pub fn mark_revoked(conn: &Connection) -> CoreResult<()> {
    conn.execute("UPDATE sync_state SET revoked = 1 WHERE id = 1", [])?;
    Ok(())
}

/// Stock of a SKU as this till sees it: before the first sync, the sum of its own movements;
/// after, the cloud's level as of the write checkpoint it was pulled with plus this till's
/// movements that the checkpoint does not cover yet.
///
/// Each level keeps the checkpoint of the page that brought it (`as_of_seq`), not the newest
/// checkpoint: a page's checkpoint can cover operations whose new levels are on a later page,
/// and when the link drops before that page, the level this till holds still predates them.
pub fn stock_on_hand(conn: &Connection, sku: &str) -> CoreResult<i64> {
    let synced: Option<(i64, i64)> = conn
        .query_row(
            "SELECT on_hand,
                    COALESCE(as_of_seq, (SELECT last_applied_seq FROM sync_state WHERE id = 1), 0)
             FROM stock_level WHERE sku = ?1",
            [sku],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match synced {
        None => Ok(conn.query_row(
            "SELECT COALESCE(sum(m.delta), 0) FROM stock_movement m
             JOIN product p ON p.id = m.product_id WHERE p.sku = ?1",
            [sku],
            |row| row.get(0),
        )?),
        Some((level, as_of_seq)) => {
            let unsynced: i64 = conn.query_row(
                "SELECT COALESCE(sum(m.delta), 0) FROM stock_movement m
                 JOIN product p ON p.id = m.product_id
                 WHERE p.sku = ?1 AND m.op_seq > ?2",
                params![sku, as_of_seq],
                |row| row.get(0),
            )?;
            Ok(level + unsynced)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(cursor: i64, last_applied_seq: i64) -> PullResponse {
        PullResponse {
            entries: Vec::new(),
            cursor,
            has_more: false,
            reset: false,
            last_applied_seq,
            remaining: 0,
            allowance: None,
        }
    }

    #[test]
    fn an_idle_round_records_its_time_and_the_ledger_stays_durable() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut conn =
            crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a new ledger");
        let enrolment = EnrolResponse {
            device_id: "device".into(),
            store_id: "store".into(),
            store_name: "Store".into(),
            token: "token".into(),
            receipt_prefix: "AB12".into(),
        };
        let at = |ms| DateTime::from_timestamp_millis(ms).expect("a valid time");
        // The device row the enrolment updates.
        conn.execute(
            "INSERT INTO device (id, device_id, receipt_prefix, created_at) VALUES (1, 'd', 'X', 0)",
            [],
        )
        .expect("a device");
        record_enrolment(&mut conn, "http://127.0.0.1:1", &enrolment, at(1_000))
            .expect("an enrolment");
        apply_pull(&mut conn, &page(40, 3), at(2_000)).expect("a page that moves the cursor");
        apply_pull(&mut conn, &page(40, 3), at(3_000)).expect("an idle page");
        let linked = link(&conn).expect("the link").expect("enrolled");
        assert_eq!(
            (linked.cursor, linked.last_applied_seq, linked.last_sync_at),
            (40, 3, Some(3_000)),
            "an idle round keeps the cursor and checkpoint and records when it happened"
        );
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .expect("the setting");
        assert_eq!(
            synchronous, 2,
            "every other commit still waits for the disk (FULL)"
        );
        apply_pull(&mut conn, &page(40, 5), at(4_000)).expect("a page with a new checkpoint");
        let linked = link(&conn).expect("the link").expect("enrolled");
        assert_eq!(
            (linked.last_applied_seq, linked.last_sync_at),
            (5, Some(4_000)),
            "a page that moves the checkpoint is written as before"
        );
    }
    #[test]
    fn a_restored_cloud_gets_its_forgotten_operations_again_and_nothing_below() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut conn =
            crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a new ledger");
        conn.execute_batch(
            "INSERT INTO sync_state (id, cloud_url, cloud_device_id, store_id, token, enrolled_at,
                                     last_applied_seq, cursor)
             VALUES (1, 'http://127.0.0.1:1', 'd', 's', 't', 0, 5, 40);",
        )
        .expect("a link");
        for seq in 1..=7 {
            let acked = if seq <= 5 { Some(100 + seq) } else { None };
            conn.execute(
                "INSERT INTO outbox (seq, op_id, op_type, payload, created_at, acked_at)
                 VALUES (?1, ?2, 'sale.completed.v1', '{}', ?1, ?3)",
                params![seq, format!("op-{seq}"), acked],
            )
            .expect("an operation");
        }
        let before: Vec<(i64, String, String)> = conn
            .prepare("SELECT seq, op_id, payload FROM outbox ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .expect("the outbox");
        assert_eq!(
            resend_from(&mut conn, 3).expect("a re-send"),
            3,
            "3, 4 and 5 go again"
        );
        let acked: Vec<(i64, Option<i64>)> = conn
            .prepare("SELECT seq, acked_at FROM outbox ORDER BY seq")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("the outbox");
        assert_eq!(
            acked,
            vec![
                (1, Some(101)),
                (2, Some(102)),
                (3, None),
                (4, None),
                (5, None),
                (6, None),
                (7, None)
            ],
            "operations the cloud still has stay acknowledged; from the expected seq on all are pending"
        );
        let after: Vec<(i64, String, String)> = conn
            .prepare("SELECT seq, op_id, payload FROM outbox ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .expect("the outbox");
        assert_eq!(before, after, "every operation is kept, unchanged");
        let checkpoint = link(&conn)
            .expect("the link")
            .expect("linked")
            .last_applied_seq;
        assert_eq!(
            checkpoint, 2,
            "the write checkpoint goes back to what the cloud holds"
        );
        let cursor = link(&conn).expect("the link").expect("linked").cursor;
        assert_eq!(cursor, 0, "the restored feed is downloaded again from zero");
        for bad in [0, -1, 8, i64::MAX] {
            let refused = resend_from(&mut conn, bad);
            assert!(
                matches!(refused, Err(CoreError::BadInput(_))),
                "re-sending from {bad} would invent operations: {refused:?}"
            );
        }
        assert_eq!(
            crate::outbox::span(&conn).expect("the span"),
            (Some(3), 7),
            "a refused re-send changed nothing"
        );
    }
}
