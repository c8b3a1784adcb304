//! Serving a till its store's change feed (`GET /v1/sync/pull`): pages after a cursor, with the
//! device's write checkpoint and offline allowance read in the same snapshot, and `reset` when
//! the till's cursor is one this database never issued or pruned from under it.

use omnitill_protocol::MAX_PULL_CHANGES;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::db::{Backend, Db};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};
use crate::members;

/// One feed entry as the cloud stored it: the change is passed through as the JSON that
/// `feed::publish` wrote, without decoding and encoding it again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredEntry {
    pub cursor: i64,
    /// One change: an object whose `kind` names it (`store`, `tax_class`, `product`, `stock`,
    /// `loyalty_rules`, `member_keys`, `member`, `member_gone`, `conflict`) beside its fields.
    #[schema(value_type = Object)]
    pub change: Box<RawValue>,
}

/// A page of the change feed, in the wire shape of `omnitill_protocol::pull::PullResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub entries: Vec<StoredEntry>,
    pub cursor: i64,
    pub has_more: bool,
    pub reset: bool,
    pub last_applied_seq: i64,
    pub remaining: i64,
    /// The till's offline redemption allowance as of `last_applied_seq`.
    pub allowance: Option<omnitill_protocol::loyalty::Allowance>,
}

/// How a change of a kind the till does not know is written.
const UNKNOWN_CHANGE: &str = r#"{"kind":"unknown"}"#;

/// A stored change as raw JSON. A row that is not JSON (it never should be) goes out as a
/// change of an unknown kind, which a till skips.
fn stored_change(data: String) -> Box<RawValue> {
    RawValue::from_string(data)
        .or_else(|_| RawValue::from_string(UNKNOWN_CHANGE.to_owned()))
        .unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// A page of `device`'s store feed after `cursor`.
///
/// The page is read from two ordered index scans, one per scope (the catalog `*` and the
/// device's store), each stopped after `limit + 1` rows and merged, so a page costs the same
/// however far the cursor is from the end of the feed. The extra row says whether more follow.
pub async fn pull(db: &Db, device: &Device, cursor: i64, limit: i64) -> CloudResult<FeedPage> {
    if cursor < 0 {
        return Err(CloudError::BadRequest(
            "the cursor cannot be negative".into(),
        ));
    }
    let limit = limit.clamp(1, MAX_PULL_CHANGES as i64);
    let mut tx = db.read.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    // The checkpoint is read first: the entries read after it include at least those writes.
    let (last_applied_seq, floor_seen): (i64, i64) =
        sqlx::query_as("SELECT last_applied_seq, floor_seen FROM device WHERE id = $1")
            .bind(&device.id)
            .fetch_one(&mut *tx)
            .await?;
    // Read in the same snapshot as the checkpoint, so the allowance counts exactly the offline
    // redemptions of the operations up to it.
    let allowance = members::allowance(&mut tx, &device.id, &device.store_id).await?;
    let (newest,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(value), 0) FROM counter WHERE name = 'feed'")
            .fetch_one(&mut *tx)
            .await?;
    let floor = feed::floor(&mut tx).await?;
    if cursor > newest || (cursor > 0 && cursor < floor && floor_seen < floor) {
        // Either the till has seen cursors this database never issued (the cloud was restored
        // or replaced), or rows after its cursor were pruned since it began downloading, so
        // it may hold a product whose retirement it will now never see. Either way it must
        // download its reference data again. A download that began after the prune goes on:
        // it never held the pruned products.
        tx.commit().await?;
        return Ok(FeedPage {
            entries: Vec::new(),
            cursor: 0,
            has_more: true,
            reset: true,
            last_applied_seq,
            remaining: 0,
            allowance: Some(allowance),
        });
    }
    let mut rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT cursor, data FROM (
             SELECT cursor, data FROM feed WHERE scope = $1 AND cursor > $3
             ORDER BY cursor LIMIT $4) AS catalog
         UNION ALL
         SELECT cursor, data FROM (
             SELECT cursor, data FROM feed WHERE scope = $2 AND cursor > $3
             ORDER BY cursor LIMIT $4) AS store
         ORDER BY cursor LIMIT $4",
    )
    .bind(ALL_STORES)
    .bind(&device.store_id)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = rows.last().map_or(cursor, |row| row.0);
    let remaining = if has_more {
        feed::count_after(&mut tx, [ALL_STORES, &device.store_id], next).await?
    } else {
        0
    };
    tx.commit().await?;
    if cursor == 0 && floor_seen < floor {
        // A download from zero starts after every prune up to `floor`: its later pages below
        // the floor are not a reason to start again.
        sqlx::query("UPDATE device SET floor_seen = $1 WHERE id = $2 AND floor_seen < $1")
            .bind(floor)
            .bind(&device.id)
            .execute(&db.write)
            .await?;
    }
    Ok(FeedPage {
        entries: rows
            .into_iter()
            .map(|(cursor, data)| StoredEntry {
                cursor,
                change: stored_change(data),
            })
            .collect(),
        cursor: next,
        has_more,
        reset: false,
        last_applied_seq,
        remaining,
        allowance: Some(allowance),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

    #[test]
    fn a_page_of_stored_changes_reads_as_the_protocol_response() {
        let product = Change::Product {
            sku: "TEA-001".into(),
            name: "凍頂烏龍茶 Oolong".into(),
            tax_class: "standard".into(),
            active: true,
            barcodes: vec!["4712345000015".into()],
            prices: vec![(1, 300)],
        };
        let stock = Change::Stock {
            sku: "TEA-001".into(),
            on_hand: -2,
        };
        let stored = |change: &Change| serde_json::to_string(change).expect("a change encodes");
        let page = FeedPage {
            entries: vec![
                StoredEntry {
                    cursor: 7,
                    change: stored_change(stored(&product)),
                },
                StoredEntry {
                    cursor: 9,
                    change: stored_change(stored(&stock)),
                },
                StoredEntry {
                    cursor: 10,
                    change: stored_change("not json".into()),
                },
            ],
            cursor: 10,
            has_more: true,
            reset: false,
            last_applied_seq: 3,
            remaining: 12,
            allowance: None,
        };
        let wire = serde_json::to_string(&page).expect("a page encodes");
        let read: PullResponse = serde_json::from_str(&wire).expect("a till reads the page");
        assert_eq!(
            read,
            PullResponse {
                entries: vec![
                    FeedEntry {
                        cursor: 7,
                        change: product,
                    },
                    FeedEntry {
                        cursor: 9,
                        change: stock,
                    },
                    FeedEntry {
                        cursor: 10,
                        change: Change::Unknown,
                    },
                ],
                cursor: 10,
                has_more: true,
                reset: false,
                last_applied_seq: 3,
                remaining: 12,
                allowance: None,
            },
            "stored changes pass through unchanged, and an unreadable one reads as unknown"
        );
    }
}
