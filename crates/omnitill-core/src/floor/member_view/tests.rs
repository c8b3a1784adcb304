//! The member's floor view on a real ledger fed as the cloud feeds it: what is shown first,
//! why each suggestion and action is there, and where the lists come from offline and online.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::floor::{BoughtTogether, Companion, MemberFloor, StoreStock};
use omnitill_protocol::loyalty::{
    CachedCoupon, CachedMember, Favourite, MemberInterests, MemberLookupKeys, Viewed,
};
use omnitill_protocol::pickup::PickupOrder;
use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

use super::{ListsSource, NextAction};
use crate::{ManualClock, Till, demo};

const MEI: &str = "member-mei";
const WALK_IN: &str = "member-walk-in";
const KEYED_NO_LISTS: &str = "member-keyed";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0)
        .single()
        .expect("a time")
}

fn ms(days_ago: i64) -> i64 {
    at().timestamp_millis() - days_ago * 86_400_000
}

fn member(id: &str, coupons: Vec<CachedCoupon>) -> CachedMember {
    CachedMember {
        id: id.into(),
        card_hash: format!("{id}-card"),
        phone_hash: None,
        email_hash: None,
        phone_masked: Some("••••5678".into()),
        email_masked: None,
        name: format!("{id} name"),
        tier: "basic".into(),
        balance: 1_200,
        coupons,
    }
}

fn birthday_coupon(valid_to_ms: i64) -> CachedCoupon {
    CachedCoupon {
        id: "coupon-birthday".into(),
        kind: "birthday".into(),
        title: "生日禮 Birthday 10 % off".into(),
        discount_kind: "percent".into(),
        value: 1_000,
        min_spend_minor: 0,
        valid_from_ms: ms(5),
        valid_to_ms,
    }
}

fn keys(id: &str) -> MemberLookupKeys {
    MemberLookupKeys {
        member_id: id.into(),
        phone_hash: Some("00112233445566778899aabbccddeeff".into()),
        email_hash: None,
    }
}

fn together(sku: &str, companions: &[(&str, i64)]) -> Change {
    Change::BoughtTogether(BoughtTogether {
        sku: sku.into(),
        companions: companions
            .iter()
            .map(|(sku, sales)| Companion {
                sku: (*sku).into(),
                sales: *sales,
            })
            .collect(),
    })
}

fn ready_order(member_id: &str) -> PickupOrder {
    PickupOrder {
        id: "order-ready".into(),
        order_ref: "WEB-1".into(),
        store_id: "store-xinyi".into(),
        code: "ACD34F".into(),
        status: "ready".into(),
        payment: "paid_online".into(),
        member_id: Some(member_id.into()),
        guest_name: None,
        contact_masked: None,
        currency: "TWD".into(),
        total_minor: 48_000,
        promised_at_ms: ms(1),
        expires_at_ms: ms(-6),
        created_at_ms: ms(1),
        updated_at_ms: ms(1),
        review: None,
        lines: Vec::new(),
    }
}

/// A demo till of the Xinyi store, fed: Mei with favourites (one out of stock here, one whose
/// price fell since she saved it), views, companions, a birthday coupon and a ready pickup; a
/// walk-in member whose lists this store does not keep; a keyed member with no lists.
fn till() -> (tempfile::TempDir, Till) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let clock = Arc::new(ManualClock::new(at()));
    let mut till = Till::open(&dir.path().join("till.sqlite3"), clock).expect("a ledger");
    demo::seed_demo(&mut till).expect("the demo store");
    let enrolled = EnrolResponse {
        device_id: "device-1".into(),
        store_id: "store-xinyi".into(),
        store_name: "Xinyi".into(),
        token: "token".into(),
        receipt_prefix: "AB12".into(),
    };
    till.record_enrolment("http://127.0.0.1:9", &enrolled, at())
        .expect("enrolled");
    let changes = vec![
        Change::Member(member(MEI, vec![birthday_coupon(ms(-20))])),
        Change::Member(member(WALK_IN, Vec::new())),
        Change::Member(member(KEYED_NO_LISTS, Vec::new())),
        Change::MemberLookupKeys(keys(MEI)),
        Change::MemberLookupKeys(keys(KEYED_NO_LISTS)),
        Change::MemberInterests(MemberInterests {
            member_id: MEI.into(),
            favourites: vec![
                // Newest first, as the cloud sends them. Out of stock here.
                Favourite {
                    sku: "TEA-SML-75g".into(),
                    saved_at_ms: ms(1),
                    price_at_save_minor: Some(42_000),
                },
                // Saved at 520, sold at 480 today.
                Favourite {
                    sku: "TEA-DDO-75g".into(),
                    saved_at_ms: ms(30),
                    price_at_save_minor: Some(52_000),
                },
            ],
            viewed: vec![Viewed {
                sku: "TEA-ALS-75g".into(),
                viewed_at_ms: ms(2),
            }],
        }),
        Change::Stock {
            sku: "TEA-DDO-75g".into(),
            on_hand: 12,
        },
        Change::StockReserved {
            sku: "TEA-DDO-75g".into(),
            reserved: 2,
        },
        Change::Stock {
            sku: "TEA-SML-75g".into(),
            on_hand: 3,
        },
        Change::StockReserved {
            sku: "TEA-SML-75g".into(),
            reserved: 3,
        },
        Change::Stock {
            sku: "TEA-ALS-75g".into(),
            on_hand: 4,
        },
        Change::Stock {
            sku: "TEA-ALS-150g".into(),
            on_hand: 5,
        },
        Change::Stock {
            sku: "TEA-OBT-75g".into(),
            on_hand: 0,
        },
        Change::Stock {
            sku: "TEA-DDO-150g".into(),
            on_hand: 0,
        },
        together(
            "TEA-DDO-75g",
            &[
                ("TEA-OBT-75g", 400),
                ("TEA-ALS-150g", 312),
                ("TEA-SML-75g", 90),
            ],
        ),
        together("TEA-ALS-75g", &[("TEA-ALS-150g", 50), ("TEA-DDO-150g", 40)]),
        Change::Pickup(ready_order(MEI)),
    ];
    let response = PullResponse {
        cursor: changes.len() as i64,
        entries: changes
            .into_iter()
            .zip(1..)
            .map(|(change, cursor)| FeedEntry { cursor, change })
            .collect(),
        has_more: false,
        reset: false,
        last_applied_seq: 0,
        remaining: 0,
        allowance: None,
    };
    till.apply_pull(&response, at()).expect("the feed applies");
    (dir, till)
}

#[test]
fn offline_the_view_puts_what_is_in_stock_here_first_and_says_why_each_line_is_there() {
    let (_dir, till) = till();
    let view = till.member_floor(MEI, None).expect("Mei's view");

    assert_eq!(
        view.lists_from,
        ListsSource::Till,
        "offline, the till's copy"
    );
    assert_eq!(
        view.lists_as_of_ms,
        Some(at().timestamp_millis()),
        "the copy's age is shown, so staff know how old it is"
    );
    assert_eq!(view.tags, None, "tags are only in the cloud");
    assert_eq!(view.purchases, None, "the till keeps no member's history");
    let favourites: Vec<(&str, i64, bool)> = view
        .favourites
        .iter()
        .map(|f| {
            (
                f.product.sku.as_str(),
                f.product.available_here,
                f.price_dropped,
            )
        })
        .collect();
    assert_eq!(
        favourites,
        [("TEA-DDO-75g", 10, true), ("TEA-SML-75g", 0, false)],
        "in stock here first (12 on hand less 2 held for pickups), and the one cheaper than \
         when saved says so; the 3 Sun Moon Lake on hand are all held for pickup orders"
    );
    assert_eq!(view.viewed.len(), 1, "what she viewed is shown");

    let suggestions: Vec<(&str, &str, i64)> = view
        .suggestions
        .iter()
        .map(|s| (s.product.sku.as_str(), s.because_sku.as_str(), s.sales))
        .collect();
    assert_eq!(
        suggestions,
        [("TEA-ALS-150g", "TEA-DDO-75g", 312)],
        "only what this store has for sale is suggested (Oriental Beauty is out, Sun Moon Lake \
         is her favourite already, Dongding 150g has no stock here), with its strongest reason"
    );
    assert!(
        view.suggestions[0].because_name.contains("凍頂烏龍茶"),
        "the reason names the product it sells with"
    );

    assert_eq!(
        view.actions,
        [
            NextAction::PickupReady {
                order_id: "order-ready".into(),
                code: "ACD34F".into()
            },
            NextAction::BirthdayCoupon {
                coupon_id: "coupon-birthday".into(),
                title: "生日禮 Birthday 10 % off".into(),
                valid_to_ms: ms(-20)
            },
            NextAction::FavouriteCheaper {
                sku: "TEA-DDO-75g".into(),
                name: view.favourites[0].product.name.clone(),
                was_minor: 52_000,
                now_minor: 48_000
            },
        ],
        "a ready pickup, the unused birthday coupon and the cheaper favourite in stock; no \
         points expiry offline, since only the cloud knows it"
    );
}

#[test]
fn a_member_whose_lists_this_store_does_not_keep_is_told_apart_from_one_with_no_lists() {
    let (_dir, till) = till();
    let walk_in = till.member_floor(WALK_IN, None).expect("a cached member");
    assert_eq!(
        walk_in.lists_from,
        ListsSource::InCloud,
        "offline, a member who does not shop here has lists only the cloud holds"
    );
    assert!(walk_in.favourites.is_empty() && walk_in.suggestions.is_empty());

    let keyed = till
        .member_floor(KEYED_NO_LISTS, None)
        .expect("a keyed member");
    assert_eq!(
        keyed.lists_from,
        ListsSource::Till,
        "a member this store keeps who saved nothing has empty lists, not missing ones"
    );
    assert!(
        till.member_floor("member-unknown", None).is_err(),
        "a member the till does not know is refused"
    );
}

#[test]
fn online_the_clouds_lists_tags_points_and_other_stores_stock_are_shown() {
    let (_dir, till) = till();
    let floor = MemberFloor {
        member_id: WALK_IN.into(),
        tags: vec!["VIP".into(), "gifting".into()],
        interests: MemberInterests {
            member_id: WALK_IN.into(),
            favourites: vec![Favourite {
                sku: "TEA-SML-75g".into(),
                saved_at_ms: ms(3),
                price_at_save_minor: None,
            }],
            viewed: Vec::new(),
        },
        points_expiring: 300,
        points_expiring_by_ms: ms(-30),
        stock_elsewhere: vec![StoreStock {
            sku: "TEA-SML-75g".into(),
            store_code: "DAAN".into(),
            store_name: "Da'an".into(),
            available: 7,
        }],
        purchases: vec![omnitill_protocol::loyalty::Purchase {
            reference: "WEB-9".into(),
            channel: "online".into(),
            spend_minor: 96_000,
            at_ms: ms(3),
        }],
    };
    let view = till
        .member_floor(WALK_IN, Some(&floor))
        .expect("the walk-in's view online");
    assert_eq!(view.lists_from, ListsSource::Cloud);
    assert_eq!(view.lists_as_of_ms, None, "the cloud's lists are current");
    assert_eq!(view.tags, Some(floor.tags.clone()));
    assert_eq!(
        view.purchases,
        Some(floor.purchases.clone()),
        "online, the member's purchases in both channels come along"
    );
    assert_eq!(
        view.favourites[0].elsewhere, floor.stock_elsewhere,
        "a favourite out of stock here shows where else it is"
    );
    assert!(
        view.actions.contains(&NextAction::PointsExpiring {
            points: 300,
            by_ms: ms(-30)
        }),
        "points about to lapse are worth a word"
    );
}
