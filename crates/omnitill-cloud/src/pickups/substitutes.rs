//! Substitutes for a pickup line the store cannot find.
//!
//! The brand names, per SKU, the SKUs it would offer instead, in the order it prefers them
//! (`set`, `get`; `PUT`/`GET /v1/pickup-substitutes/{sku}`). The e-shop says, when it places an
//! order, whether the customer accepts a substitute (`accepts_substitutes`, no by default).
//!
//! When a store marks a line missing, the cloud decides what the customer gets for it
//! (`resolve_missing`, in the transaction of the store's operation):
//! - **a substitute**, when the order accepts substitutes and one of the SKU's substitutes, the
//!   first in the brand's order that qualifies, is active, has a price now of at most the
//!   line's unit price (price × quantity ≤ the line's total), and has at least the line's
//!   quantity available at the store (on hand less reserved). The line's own reservation is
//!   released and the substitute's quantity is held for the line (`reservations::Kind::
//!   Substitute`), then taken at handover like any other; the line stays charged at its own
//!   price, so the customer pays the same;
//! - **a refund** otherwise: the line's reservation is released and the line is not charged
//!   (`pickups::amounts`).
//!
//! The levels of the line's SKU and of every substitute are locked first, in one order
//! (`stock::lock_levels`), so what is read as available is still available when it is held,
//! whatever a till's sale or another order does at the same moment.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::reservations::{self, Kind, Settle};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::stock;

/// The most substitutes a SKU may have.
pub const MAX_SUBSTITUTES: usize = 10;
/// The longest SKU, in characters (as the catalog import allows).
pub const MAX_SKU_CHARS: usize = 64;
/// A missing line's resolution: the line is refunded (not charged).
pub const REFUND: &str = "refund";
/// A missing line's resolution: a substitute is offered at the line's price.
pub const SUBSTITUTE: &str = "substitute";

/// The substitutes the brand names for a SKU, as the e-shop or brand IT sends them. A field
/// it does not know is refused, so a misspelt one is not taken for an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubstituteList {
    /// SKUs of the catalog, the first preferred; each at most once and never the SKU itself.
    /// An empty list removes every substitute.
    #[schema(value_type = SubstituteSkus)]
    pub substitutes: Vec<String>,
}

/// A SKU's substitutes, as the cloud keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PickupSubstitutes {
    pub sku: String,
    /// In the brand's order of preference.
    pub substitutes: Vec<String>,
}

/// The document's shape of `SubstituteList::substitutes`: up to 10 distinct SKUs of 1 to 64
/// characters, none a control character.
pub struct SubstituteSkus;

impl utoipa::PartialSchema for SubstituteSkus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        let sku = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_SKU_CHARS))
            .pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]+$"));
        ArrayBuilder::new()
            .items(sku)
            .max_items(Some(MAX_SUBSTITUTES))
            .unique_items(true)
            .into()
    }
}

impl ToSchema for SubstituteSkus {}

/// The substitutes the brand names for `sku`; 404 when the catalog has no such SKU.
pub async fn get(db: &Db, sku: &str) -> CloudResult<PickupSubstitutes> {
    let mut tx = db.read.begin().await?;
    product(&mut tx, sku, false).await?;
    Ok(PickupSubstitutes {
        sku: sku.to_owned(),
        substitutes: named(&mut tx, sku).await?,
    })
}

/// Names `list` as the substitutes of `sku`, replacing those named before. Refused (400, naming
/// the field) when the list is too long, names a SKU twice, names the SKU itself or a SKU the
/// catalog lacks; 404 when `sku` is not in the catalog.
pub async fn set(db: &Db, sku: &str, list: &SubstituteList) -> CloudResult<PickupSubstitutes> {
    check(&list.substitutes)?;
    let mut tx = db.write.begin().await?;
    // The product's row is the lock of its list: two writers at once replace it in turn.
    product(&mut tx, sku, true).await?;
    for (index, substitute) in list.substitutes.iter().enumerate() {
        if substitute == sku {
            return Err(CloudError::BadRequest(format!(
                "substitutes[{index}]: {sku} cannot be its own substitute"
            )));
        }
        let known: Option<(String,)> = sqlx::query_as("SELECT sku FROM product WHERE sku = $1")
            .bind(substitute)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(CloudError::BadRequest(format!(
                "substitutes[{index}]: SKU {substitute} is not in the catalog"
            )));
        }
    }
    sqlx::query("DELETE FROM pickup_substitute WHERE sku = $1")
        .bind(sku)
        .execute(&mut *tx)
        .await?;
    for (index, substitute) in list.substitutes.iter().enumerate() {
        let preference = i64::try_from(index + 1)
            .map_err(|_| CloudError::BadRequest("substitutes: too many SKUs".into()))?;
        sqlx::query(
            "INSERT INTO pickup_substitute (sku, preference, substitute_sku) VALUES ($1, $2, $3)",
        )
        .bind(sku)
        .bind(preference)
        .bind(substitute)
        .execute(&mut *tx)
        .await?;
    }
    let named = named(&mut tx, sku).await?;
    tx.commit().await?;
    Ok(PickupSubstitutes {
        sku: sku.to_owned(),
        substitutes: named,
    })
}

/// The checks of a list that need no database; each refusal names the field.
fn check(substitutes: &[String]) -> CloudResult<()> {
    if substitutes.len() > MAX_SUBSTITUTES {
        return Err(CloudError::BadRequest(format!(
            "substitutes: at most {MAX_SUBSTITUTES} SKUs, not {}",
            substitutes.len()
        )));
    }
    for (index, substitute) in substitutes.iter().enumerate() {
        let chars = substitute.chars().count();
        if chars == 0 || chars > MAX_SKU_CHARS || substitute.chars().any(char::is_control) {
            return Err(CloudError::BadRequest(format!(
                "substitutes[{index}]: a SKU is 1 to {MAX_SKU_CHARS} characters, none of them \
                 a control character"
            )));
        }
        if substitutes[..index].contains(substitute) {
            return Err(CloudError::BadRequest(format!(
                "substitutes[{index}]: {substitute} is named twice"
            )));
        }
    }
    Ok(())
}

/// Checks that `sku` is in the catalog (404 otherwise), locking its row when `lock` (on
/// PostgreSQL; SQLite's one writer already runs writers in turn).
async fn product(tx: &mut AnyConnection, sku: &str, lock: bool) -> CloudResult<()> {
    let suffix = if lock && crate::locks::is_postgres(tx) {
        " FOR UPDATE"
    } else {
        ""
    };
    let found: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT sku FROM product WHERE sku = $1{suffix}"
    )))
    .bind(sku)
    .fetch_optional(&mut *tx)
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| CloudError::NotFound(format!("product {sku}")))
}

/// The substitutes named for `sku`, preferred first.
async fn named(tx: &mut AnyConnection, sku: &str) -> CloudResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT substitute_sku FROM pickup_substitute WHERE sku = $1 ORDER BY preference",
    )
    .bind(sku)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|(s,)| s).collect())
}

/// A missing line, as `resolve_missing` needs it.
#[derive(Debug, Clone)]
pub(crate) struct MissingLine<'a> {
    pub order_id: &'a str,
    pub line_no: i64,
    pub store_id: &'a str,
    pub sku: &'a str,
    pub quantity: i64,
    pub total_minor: i64,
}

/// What a missing line got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    Refund,
    Substitute(String),
}

/// Decides what the customer gets for a line the store marked missing, in the store
/// operation's transaction, and moves the reservations to match: the line's own is released;
/// a substitute's is held. `now_ms` is when the cloud decides (the price in force then);
/// `at_ms` when the store found the line missing.
pub(crate) async fn resolve_missing(
    tx: &mut AnyConnection,
    line: &MissingLine<'_>,
    now_ms: i64,
    at_ms: i64,
) -> CloudResult<Resolution> {
    let candidates = if super::accepts_substitutes(tx, line.order_id).await? {
        named(tx, line.sku).await?
    } else {
        Vec::new()
    };
    let mut skus: Vec<&str> = candidates.iter().map(String::as_str).collect();
    skus.push(line.sku);
    stock::lock_levels(tx, line.store_id, &skus).await?;
    reservations::settle(
        tx,
        line.order_id,
        Some(line.line_no),
        Settle::Released,
        "missing",
        at_ms,
    )
    .await?;
    let mut resolution = Resolution::Refund;
    for candidate in candidates {
        let facts = candidate_facts(tx, line.store_id, &candidate, now_ms).await?;
        if qualifies(&facts, line.quantity, line.total_minor) {
            reservations::hold(
                tx,
                line.order_id,
                line.line_no,
                Kind::Substitute,
                line.store_id,
                &candidate,
                line.quantity,
            )
            .await?;
            resolution = Resolution::Substitute(candidate);
            break;
        }
    }
    let (word, substitute) = match &resolution {
        Resolution::Refund => (REFUND, None),
        Resolution::Substitute(sku) => (SUBSTITUTE, Some(sku.as_str())),
    };
    sqlx::query(
        "UPDATE pickup_line SET resolution = $1, substitute_sku = $2
         WHERE order_id = $3 AND line_no = $4",
    )
    .bind(word)
    .bind(substitute)
    .bind(line.order_id)
    .bind(line.line_no)
    .execute(&mut *tx)
    .await?;
    Ok(resolution)
}

/// What decides whether a substitute qualifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CandidateFacts {
    /// In the catalog and active.
    active: bool,
    /// Its price in force, if it has one.
    price_minor: Option<i64>,
    /// On hand less reserved at the store.
    available: i64,
}

/// Whether a substitute with `facts` may replace a missing line of `quantity` units that the
/// customer pays `line_total` for: active, in stock for every unit, and no dearer per unit.
fn qualifies(facts: &CandidateFacts, quantity: i64, line_total: i64) -> bool {
    let cheap_enough = facts
        .price_minor
        .and_then(|price| price.checked_mul(quantity))
        .is_some_and(|cost| cost <= line_total);
    facts.active && cheap_enough && quantity > 0 && facts.available >= quantity
}

async fn candidate_facts(
    tx: &mut AnyConnection,
    store_id: &str,
    sku: &str,
    now_ms: i64,
) -> CloudResult<CandidateFacts> {
    let active: Option<(i64,)> = sqlx::query_as("SELECT active FROM product WHERE sku = $1")
        .bind(sku)
        .fetch_optional(&mut *tx)
        .await?;
    let price: Option<(i64,)> = sqlx::query_as(
        "SELECT price_minor FROM price WHERE sku = $1 AND effective_from <= $2
         ORDER BY effective_from DESC LIMIT 1",
    )
    .bind(sku)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await?;
    let level: Option<(i64, i64)> = sqlx::query_as(
        "SELECT on_hand, reserved FROM stock_level WHERE store_id = $1 AND sku = $2",
    )
    .bind(store_id)
    .bind(sku)
    .fetch_optional(&mut *tx)
    .await?;
    let available = level.map_or(0, |(on_hand, reserved)| on_hand.saturating_sub(reserved));
    Ok(CandidateFacts {
        active: active.is_some_and(|(a,)| a != 0),
        price_minor: price.map(|(p,)| p),
        available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(active: bool, price_minor: Option<i64>, available: i64) -> CandidateFacts {
        CandidateFacts {
            active,
            price_minor,
            available,
        }
    }

    #[test]
    fn a_substitute_qualifies_only_active_in_stock_and_no_dearer_per_unit() {
        // A line of 2 units the customer pays 1,000 for: 500 a unit.
        let cases = [
            (
                facts(true, Some(500), 2),
                true,
                "the same unit price, just enough stock",
            ),
            (facts(true, Some(400), 9), true, "cheaper, plenty of stock"),
            (facts(true, Some(501), 9), false, "dearer by one per unit"),
            (facts(true, Some(500), 1), false, "one unit short"),
            (facts(true, Some(500), -3), false, "oversold"),
            (
                facts(false, Some(100), 9),
                false,
                "retired from the catalog",
            ),
            (facts(true, None, 9), false, "no price in force"),
            (
                facts(true, Some(i64::MAX), 9),
                false,
                "a price whose total overflows",
            ),
        ];
        for (candidate, expected, why) in cases {
            assert_eq!(qualifies(&candidate, 2, 1_000), expected, "{why}");
        }
    }

    #[test]
    fn a_substitute_list_is_refused_naming_the_field_that_is_wrong() {
        let sku = |s: &str| s.to_owned();
        assert!(check(&[]).is_ok(), "an empty list clears the substitutes");
        assert!(check(&[sku("A"), sku("B")]).is_ok());
        let cases: [(Vec<String>, &str); 4] = [
            (vec![sku("A"); 11], "substitutes: at most 10"),
            (vec![sku("A"), sku("")], "substitutes[1]"),
            (vec![sku("A\u{7}")], "substitutes[0]"),
            (
                vec![sku("A"), sku("B"), sku("A")],
                "substitutes[2]: A is named twice",
            ),
        ];
        for (list, field) in cases {
            let refused = check(&list);
            assert!(
                matches!(&refused, Err(CloudError::BadRequest(m)) if m.starts_with(field)),
                "{list:?} is refused naming {field}: {refused:?}"
            );
        }
    }
}
