//! Each product's list of companions, ranked from the pair counts, and published when it
//! differs from what the tills were last sent.
//!
//! `rank_changed` reads the pairs of the products whose counts changed in this run (those in
//! `bought_delta`; every product after a full count) that reach `MIN_SALES`, ranks them
//! (`rank`: most sales first, ties by SKU, `COMPANIONS` kept) and compares them with the lists
//! last published (`bought_together`, the JSON the feed carried): `diff` keeps only the lists
//! that are new or changed, and withdraws (an empty list) those that have no companion left.
//! A product whose counts did not change keeps the list it has. `publish` writes the changed
//! lists in a few statements per ten thousand, and the feed in a few per two hundred
//! (`feed::publish_many`).

use std::collections::BTreeMap;

use omnitill_protocol::floor::{BoughtTogether, Companion};
use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use super::{COMPANIONS, MIN_SALES};
use crate::db::{Backend, batch_statement, json_rows, json_texts};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};
use crate::json_batches::encode;

/// Lists one statement writes at most.
const CHUNK: usize = 10_000;

/// A list to publish: `data` is its JSON as `bought_together` keeps it, `None` when the
/// product has no companion any more (the feed gets an empty list; the row goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListChange {
    together: BoughtTogether,
    data: Option<String>,
}

/// The lists a run publishes, and how many products it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ranked {
    pub changes: Vec<ListChange>,
    pub products: u64,
}

/// A pair count as read: (product, companion, sales).
type Pair = (String, String, i64);

/// Ranks the lists of the products whose counts changed (every product when `full`) and
/// compares them with what was published.
pub(super) async fn rank_changed(
    tx: &mut AnyConnection,
    backend: Backend,
    full: bool,
) -> CloudResult<Ranked> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut published: BTreeMap<String, String> = BTreeMap::new();
    let products = if full {
        pairs = sqlx::query_as("SELECT sku, companion, sales FROM bought_pair WHERE sales >= $1")
            .bind(MIN_SALES)
            .fetch_all(&mut *tx)
            .await?;
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT sku, data FROM bought_together")
            .fetch_all(&mut *tx)
            .await?;
        published.extend(rows);
        None
    } else {
        let changed: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT sku FROM bought_delta WHERE sales <> 0")
                .fetch_all(&mut *tx)
                .await?;
        let changed: Vec<String> = changed.into_iter().map(|(sku,)| sku).collect();
        // The products are bound as JSON, so each is looked up by its key, not found by a
        // scan of every pair.
        let products = json_texts(backend, 1);
        let pairs_of = format!(
            "SELECT p.sku, p.companion, p.sales FROM {products}
             JOIN bought_pair p ON p.sku = value WHERE p.sales >= $2"
        );
        let published_of =
            format!("SELECT b.sku, b.data FROM {products} JOIN bought_together b ON b.sku = value");
        for chunk in changed.chunks(CHUNK) {
            let skus = encode(&chunk)?;
            let rows: Vec<Pair> = sqlx::query_as(batch_statement(pairs_of.clone()))
                .bind(&skus)
                .bind(MIN_SALES)
                .fetch_all(&mut *tx)
                .await?;
            pairs.extend(rows);
            let rows: Vec<(String, String)> = sqlx::query_as(batch_statement(published_of.clone()))
                .bind(&skus)
                .fetch_all(&mut *tx)
                .await?;
            published.extend(rows);
        }
        Some(changed.len())
    };
    let lists = rank(pairs);
    // On a full count, every product with a list now or before was looked at.
    let products = products.unwrap_or_else(|| {
        let withdrawn = published.keys().filter(|sku| !lists.contains_key(*sku));
        lists.len().saturating_add(withdrawn.count())
    });
    Ok(Ranked {
        changes: diff(lists, &published)?,
        products: u64::try_from(products).unwrap_or(u64::MAX),
    })
}

/// Each product's companions from its (product, companion, sales) rows: most sales first,
/// ties by SKU, at most `COMPANIONS`.
fn rank(pairs: Vec<Pair>) -> BTreeMap<String, Vec<Companion>> {
    let mut lists: BTreeMap<String, Vec<Companion>> = BTreeMap::new();
    for (sku, companion, sales) in pairs {
        lists.entry(sku).or_default().push(Companion {
            sku: companion,
            sales,
        });
    }
    for companions in lists.values_mut() {
        companions.sort_by(|a, b| b.sales.cmp(&a.sales).then_with(|| a.sku.cmp(&b.sku)));
        companions.truncate(COMPANIONS);
    }
    lists
}

/// The lists to publish: those of `published` (product -> JSON) that are gone, withdrawn
/// first, then every list of `lists` whose JSON differs from the published one.
fn diff(
    lists: BTreeMap<String, Vec<Companion>>,
    published: &BTreeMap<String, String>,
) -> CloudResult<Vec<ListChange>> {
    let mut changes: Vec<ListChange> = published
        .keys()
        .filter(|sku| !lists.contains_key(*sku))
        .map(|sku| ListChange {
            together: BoughtTogether {
                sku: sku.clone(),
                companions: Vec::new(),
            },
            data: None,
        })
        .collect();
    for (sku, companions) in lists {
        let together = BoughtTogether { sku, companions };
        let data = serde_json::to_string(&together)
            .map_err(|e| CloudError::Internal(format!("companions cannot be encoded: {e}")))?;
        if published.get(&together.sku) != Some(&data) {
            changes.push(ListChange {
                together,
                data: Some(data),
            });
        }
    }
    Ok(changes)
}

/// Writes `changes` to `bought_together` and the feed; answers how many were published.
pub(super) async fn publish(
    tx: &mut AnyConnection,
    backend: Backend,
    changes: &[ListChange],
) -> CloudResult<u64> {
    let kept: Vec<(&str, &str)> = changes
        .iter()
        .filter_map(|c| {
            c.data
                .as_deref()
                .map(|data| (c.together.sku.as_str(), data))
        })
        .collect();
    let upsert = format!(
        "INSERT INTO bought_together (sku, data)
         SELECT value ->> 0, value ->> 1 FROM {} WHERE true
         ON CONFLICT (sku) DO UPDATE SET data = excluded.data",
        json_rows(backend, 1)
    );
    for chunk in kept.chunks(CHUNK) {
        sqlx::query(batch_statement(upsert.clone()))
            .bind(encode(&chunk)?)
            .execute(&mut *tx)
            .await?;
    }
    let gone: Vec<&str> = changes
        .iter()
        .filter(|c| c.data.is_none())
        .map(|c| c.together.sku.as_str())
        .collect();
    let delete = format!(
        "DELETE FROM bought_together WHERE sku IN (SELECT value FROM {})",
        json_texts(backend, 1)
    );
    for chunk in gone.chunks(CHUNK) {
        sqlx::query(batch_statement(delete.clone()))
            .bind(encode(&chunk)?)
            .execute(&mut *tx)
            .await?;
    }
    let feed_changes: Vec<(String, Change)> = changes
        .iter()
        .map(|c| {
            (
                c.together.sku.clone(),
                Change::BoughtTogether(c.together.clone()),
            )
        })
        .collect();
    feed::publish_many(tx, ALL_STORES, "bought_together", &feed_changes).await?;
    Ok(u64::try_from(changes.len()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(sku: &str, companion: &str, sales: i64) -> Pair {
        (sku.into(), companion.into(), sales)
    }

    fn listed(list: &[Companion]) -> Vec<(&str, i64)> {
        list.iter().map(|c| (c.sku.as_str(), c.sales)).collect()
    }

    #[test]
    fn a_list_is_the_most_frequent_companions_ties_by_sku_at_most_five() {
        let lists = rank(vec![
            pair("A", "G", 2),
            pair("A", "C", 3),
            pair("A", "B", 3),
            pair("A", "D", 9),
            pair("A", "E", 2),
            pair("A", "F", 2),
            pair("B", "A", 3),
        ]);
        assert_eq!(
            listed(&lists["A"]),
            [("D", 9), ("B", 3), ("C", 3), ("E", 2), ("F", 2)],
            "most sales first, equal counts by SKU, the sixth (G) left out"
        );
        assert_eq!(
            listed(&lists["B"]),
            [("A", 3)],
            "each product has its own list"
        );
    }

    #[test]
    fn only_new_changed_and_emptied_lists_are_published() {
        let unchanged = BoughtTogether {
            sku: "SAME".into(),
            companions: vec![Companion {
                sku: "X".into(),
                sales: 2,
            }],
        };
        let same_json = serde_json::to_string(&unchanged).expect("encodes");
        let published: BTreeMap<String, String> = [
            ("SAME".to_owned(), same_json),
            ("MOVED".to_owned(), "{\"old\":true}".to_owned()),
            ("GONE".to_owned(), "{\"old\":true}".to_owned()),
        ]
        .into_iter()
        .collect();
        let lists = rank(vec![
            pair("SAME", "X", 2),
            pair("MOVED", "X", 4),
            pair("NEW", "X", 2),
        ]);
        let changes = diff(lists, &published).expect("a diff");
        let keys: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.together.sku.as_str(), c.data.is_some()))
            .collect();
        assert_eq!(
            keys,
            [("GONE", false), ("MOVED", true), ("NEW", true)],
            "the withdrawn list first, then new and changed ones; the unchanged one is not sent"
        );
        assert!(
            changes[0].together.companions.is_empty(),
            "a withdrawal tells the tills the product has no companions"
        );
    }
}
