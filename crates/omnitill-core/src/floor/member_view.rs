//! A member as floor staff see them: their e-shop favourites with this store's stock and
//! today's price, what they viewed recently, "you may also like" from what sells together, and
//! the next best things to offer them, each with its reason.
//!
//! Everything here is read from the till's own ledger, so it works offline for the members
//! whose lists this store keeps (those who shop here or were looked up here). While the till is
//! online the use-case layer passes the cloud's answer (`MemberFloor`): its lists are the
//! newest, and it alone knows the member's tags, their points about to lapse and the other
//! stores' stock.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use omnitill_protocol::floor::{MemberFloor, StoreStock};
use omnitill_protocol::loyalty::{MemberInterests, Purchase};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use ts_rs::TS;

use crate::error::CoreResult;
use crate::members::{self, MemberView};
use crate::{pickups, sync};

/// How many suggestions the view offers.
pub const SUGGESTIONS: usize = 5;
/// How many favourites in stock the next best actions name at most.
pub const FAVOURITE_ACTIONS: usize = 3;
/// How many of the member's newest favourites, and of their views, "you may also like" draws
/// on: the ones they care about now, and a bound on the work for a member who saved hundreds.
pub const SUGGESTION_SEEDS: usize = 20;
/// How many recently viewed products the view shows.
pub const VIEWED_SHOWN: usize = 10;

/// The member's view on the shop floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FloorView {
    pub member: MemberView,
    /// Where the e-shop lists come from.
    pub lists_from: ListsSource,
    /// When the till last heard the lists (Unix ms); `None` when the cloud just sent them.
    pub lists_as_of_ms: Option<i64>,
    /// When this till last synced: this store's stock is as of then, plus its own sales.
    pub stock_as_of_ms: Option<i64>,
    /// The favourites, those in stock here first, newest saved first within each.
    pub favourites: Vec<FloorFavourite>,
    /// Recently viewed products, newest first.
    pub viewed: Vec<FloorViewed>,
    /// "You may also like": in stock here, most often bought with the member's products first.
    pub suggestions: Vec<Suggestion>,
    /// The next best things to offer, each with its reason.
    pub actions: Vec<NextAction>,
    /// The brand's tags for the member; `None` while the cloud was not asked.
    pub tags: Option<Vec<String>>,
    /// Their newest purchases in both channels; `None` while the cloud was not asked (the till
    /// keeps no member's history).
    pub purchases: Option<Vec<Purchase>>,
}

/// Where a member's e-shop lists came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ListsSource {
    /// The cloud's answer just now.
    Cloud,
    /// The till's copy from its last sync.
    Till,
    /// This till keeps no lists for the member and the cloud was not asked: they are in the
    /// cloud, and show when the till is online.
    InCloud,
}

/// A product as the floor view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FloorProduct {
    pub sku: String,
    /// The catalog's product, `None` when this till's catalog does not have the SKU.
    pub product_id: Option<i64>,
    pub name: String,
    /// Today's price, `None` when it has none (and cannot be sold).
    pub price_minor: Option<i64>,
    /// Whether it can be put in a cart here: in the catalog, active, priced.
    pub for_sale: bool,
    /// What this store has for sale: on hand less what pickup orders hold.
    pub available_here: i64,
}

/// A favourite, with what it cost when saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FloorFavourite {
    pub product: FloorProduct,
    pub saved_at_ms: i64,
    pub price_at_save_minor: Option<i64>,
    /// Cheaper today than when the member saved it.
    pub price_dropped: bool,
    /// The other stores that have it, most first (only while online).
    pub elsewhere: Vec<StoreStock>,
}

/// A product the member viewed in the e-shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FloorViewed {
    pub product: FloorProduct,
    pub viewed_at_ms: i64,
}

/// A product suggested because customers bought it with one of the member's products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Suggestion {
    pub product: FloorProduct,
    /// The member's product it sells with, and its name.
    pub because_sku: String,
    pub because_name: String,
    /// In how many sales, in stores and online, both were bought.
    pub sales: i64,
}

/// Something worth offering the member now, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextAction {
    /// A birthday coupon they have not used.
    BirthdayCoupon {
        coupon_id: String,
        title: String,
        valid_to_ms: i64,
    },
    /// Points that lapse soon unless used.
    PointsExpiring { points: i64, by_ms: i64 },
    /// A favourite cheaper than when they saved it, in stock here.
    FavouriteCheaper {
        sku: String,
        name: String,
        was_minor: i64,
        now_minor: i64,
    },
    /// A favourite this store has for sale.
    FavouriteInStock {
        sku: String,
        name: String,
        available: i64,
    },
    /// A pickup order of theirs that is ready here.
    PickupReady { order_id: String, code: String },
}

/// Member `member_id`'s floor view at `now`, with the cloud's answer when the till has one;
/// `None` when this till does not know the member.
pub fn member_view(
    conn: &Connection,
    member_id: &str,
    now: DateTime<Utc>,
    from_cloud: Option<&MemberFloor>,
) -> CoreResult<Option<FloorView>> {
    let Some(member) = members::view(conn, member_id)? else {
        return Ok(None);
    };
    let (lists, lists_from, lists_as_of_ms) = match from_cloud {
        Some(floor) => (floor.interests.clone(), ListsSource::Cloud, None),
        None => match members::interests(conn, member_id)? {
            Some((lists, synced_at)) => (lists, ListsSource::Till, Some(synced_at)),
            None if members::keeps_lookup_keys(conn, member_id)? => {
                (no_lists(member_id), ListsSource::Till, None)
            }
            None => (no_lists(member_id), ListsSource::InCloud, None),
        },
    };
    let elsewhere = from_cloud.map_or(&[][..], |floor| &floor.stock_elsewhere[..]);
    let mut favourites = Vec::with_capacity(lists.favourites.len());
    for favourite in &lists.favourites {
        let product = product(conn, &favourite.sku, now)?;
        let price_dropped = matches!(
            (product.price_minor, favourite.price_at_save_minor),
            (Some(now_price), Some(saved)) if now_price < saved
        );
        favourites.push(FloorFavourite {
            elsewhere: elsewhere
                .iter()
                .filter(|stock| stock.sku == favourite.sku)
                .cloned()
                .collect(),
            product,
            saved_at_ms: favourite.saved_at_ms,
            price_at_save_minor: favourite.price_at_save_minor,
            price_dropped,
        });
    }
    // In stock here first; the sort is stable, so newest saved stays first within each.
    favourites.sort_by_key(|f| !in_stock(&f.product));
    let mut viewed = Vec::new();
    for view in lists.viewed.iter().take(VIEWED_SHOWN) {
        viewed.push(FloorViewed {
            product: product(conn, &view.sku, now)?,
            viewed_at_ms: view.viewed_at_ms,
        });
    }
    let suggestions = suggestions(conn, &favourites, &viewed, now)?;
    let actions = next_actions(conn, &member, &favourites, from_cloud, now)?;
    Ok(Some(FloorView {
        member,
        lists_from,
        lists_as_of_ms,
        stock_as_of_ms: sync::link(conn)?.and_then(|link| link.last_sync_at),
        favourites,
        viewed,
        suggestions,
        actions,
        tags: from_cloud.map(|floor| floor.tags.clone()),
        purchases: from_cloud.map(|floor| floor.purchases.clone()),
    }))
}

fn no_lists(member_id: &str) -> MemberInterests {
    MemberInterests {
        member_id: member_id.to_owned(),
        favourites: Vec::new(),
        viewed: Vec::new(),
    }
}

fn in_stock(product: &FloorProduct) -> bool {
    product.for_sale && product.available_here > 0
}

/// The SKU as the floor shows it: its name, today's price and what this store has for sale.
fn product(conn: &Connection, sku: &str, now: DateTime<Utc>) -> CoreResult<FloorProduct> {
    type Row = (i64, String, bool, Option<i64>, Option<i64>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT p.id, p.name, p.active,
                    (SELECT price_minor FROM price WHERE product_id = p.id AND effective_from <= ?2
                     ORDER BY effective_from DESC LIMIT 1),
                    (SELECT reserved FROM stock_level WHERE sku = p.sku)
             FROM product p WHERE p.sku = ?1",
        )?
        .query_row(params![sku, now.timestamp_millis()], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()?;
    let Some((product_id, name, active, price_minor, reserved)) = row else {
        return Ok(FloorProduct {
            sku: sku.to_owned(),
            product_id: None,
            name: sku.to_owned(),
            price_minor: None,
            for_sale: false,
            available_here: 0,
        });
    };
    let available_here = sync::stock_on_hand(conn, sku)?.saturating_sub(reserved.unwrap_or(0));
    Ok(FloorProduct {
        sku: sku.to_owned(),
        product_id: Some(product_id),
        name,
        for_sale: active && price_minor.is_some(),
        price_minor,
        available_here,
    })
}

/// Products bought with the member's favourites and views, in stock here and not already
/// among the favourites; each keeps its strongest reason.
fn suggestions(
    conn: &Connection,
    favourites: &[FloorFavourite],
    viewed: &[FloorViewed],
    now: DateTime<Utc>,
) -> CoreResult<Vec<Suggestion>> {
    let mut newest_favourites: Vec<&FloorFavourite> = favourites.iter().collect();
    newest_favourites.sort_by_key(|f| std::cmp::Reverse(f.saved_at_ms));
    let seeds = newest_favourites
        .into_iter()
        .take(SUGGESTION_SEEDS)
        .map(|f| &f.product)
        .chain(viewed.iter().take(SUGGESTION_SEEDS).map(|v| &v.product));
    let favourite_skus: HashSet<&str> = favourites.iter().map(|f| f.product.sku.as_str()).collect();
    // Each candidate with its strongest reason: the seed it sells with most often.
    let mut best: HashMap<String, (&FloorProduct, i64)> = HashMap::new();
    for seed in seeds {
        let Some(together) = crate::floor::bought_together(conn, &seed.sku)? else {
            continue;
        };
        for companion in together.companions {
            if favourite_skus.contains(companion.sku.as_str()) || companion.sku == seed.sku {
                continue;
            }
            let entry = best.entry(companion.sku).or_insert((seed, companion.sales));
            if companion.sales > entry.1 {
                *entry = (seed, companion.sales);
            }
        }
    }
    let mut candidates: Vec<(String, &FloorProduct, i64)> = best
        .into_iter()
        .map(|(sku, (seed, sales))| (sku, seed, sales))
        .collect();
    candidates.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let mut chosen = Vec::new();
    for (sku, because, sales) in candidates {
        if chosen.len() == SUGGESTIONS {
            break;
        }
        let product = product(conn, &sku, now)?;
        if in_stock(&product) {
            chosen.push(Suggestion {
                product,
                because_sku: because.sku.clone(),
                because_name: because.name.clone(),
                sales,
            });
        }
    }
    Ok(chosen)
}

/// What is worth offering now: a pickup ready here first, then what saves the member money.
fn next_actions(
    conn: &Connection,
    member: &MemberView,
    favourites: &[FloorFavourite],
    from_cloud: Option<&MemberFloor>,
    now: DateTime<Utc>,
) -> CoreResult<Vec<NextAction>> {
    let now_ms = now.timestamp_millis();
    let mut actions: Vec<NextAction> = pickups::ready_for_member(conn, &member.id)?
        .into_iter()
        .map(|order| NextAction::PickupReady {
            order_id: order.id,
            code: order.code,
        })
        .collect();
    actions.extend(
        member
            .coupons
            .iter()
            .filter(|c| c.kind == "birthday" && c.valid_from_ms <= now_ms && now_ms < c.valid_to_ms)
            .map(|c| NextAction::BirthdayCoupon {
                coupon_id: c.id.clone(),
                title: c.title.clone(),
                valid_to_ms: c.valid_to_ms,
            }),
    );
    if let Some(floor) = from_cloud.filter(|floor| floor.points_expiring > 0) {
        actions.push(NextAction::PointsExpiring {
            points: floor.points_expiring,
            by_ms: floor.points_expiring_by_ms,
        });
    }
    for favourite in favourites
        .iter()
        .filter(|f| in_stock(&f.product))
        .take(FAVOURITE_ACTIONS)
    {
        let product = &favourite.product;
        match (
            favourite.price_dropped,
            favourite.price_at_save_minor,
            product.price_minor,
        ) {
            (true, Some(was_minor), Some(now_minor)) => {
                actions.push(NextAction::FavouriteCheaper {
                    sku: product.sku.clone(),
                    name: product.name.clone(),
                    was_minor,
                    now_minor,
                })
            }
            _ => actions.push(NextAction::FavouriteInStock {
                sku: product.sku.clone(),
                name: product.name.clone(),
                available: product.available_here,
            }),
        }
    }
    Ok(actions)
}

#[cfg(test)]
mod tests;
