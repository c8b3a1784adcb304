//! The demo brand's members: a few thousand people with history in both channels (e-shop
//! orders and store purchases over the last year), points earned and redeemed, tiers from their
//! spend, and welcome, birthday and campaign coupons, some already used.
//!
//! Everything is computed in memory from a seeded random generator and written with multi-row
//! statements, so `--demo` stays quick for every test cloud. Member 0 is the one the README
//! names: 陳美玲 Mei-ling Chen, phone 0912-345-678, e-mail mei@example.com.
//!
//! Phone and e-mail look-up keys are memory-hard (about 5 ms each), so the demo computes them
//! only for its regulars (`DEMO_REGULARS`): member 0 shops at every demo store, and members 1
//! to `DEMO_REGULARS - 1` each at one store (member `i` at store `i % stores`). Their keys are
//! in their store's feed, so a till finds them by phone offline; everyone else is found by
//! card or QR offline, and by phone or e-mail online.

use chrono::{DateTime, Utc};
use omnitill_core::loyalty;
use omnitill_protocol::loyalty::{CachedCoupon, CachedMember};
use omnitill_protocol::pull::Change;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::AnyConnection;

use crate::db::{Db, batch_statement, take_counter, value_rows};
use crate::error::CloudResult;
use crate::feed::{self, ALL_STORES};
use crate::members::{self, ONLINE};

/// Members the demo brand has.
pub const DEMO_MEMBERS: usize = 3_000;

/// Members whose look-up keys the demo computes and sends to their store (see the header).
pub const DEMO_REGULARS: usize = 40;

/// The member the README and the UI test use.
pub const DEMO_PHONE: &str = "+886912345678";
pub const DEMO_EMAIL: &str = "mei@example.com";

const SURNAMES: [&str; 12] = [
    "陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭",
];
const GIVEN: [&str; 10] = [
    "美玲", "志明", "淑芬", "俊傑", "怡君", "家豪", "雅婷", "冠宇", "佳穎", "宗翰",
];
const LATIN: [&str; 6] = ["", " Amy", " Kevin", " Jessie", " Eric", " 🌸"];

struct Person {
    id: String,
    phone: String,
    email: Option<String>,
    card_no: String,
    name: String,
    birthday: String,
    tier: String,
    created_at: i64,
}

struct Entry {
    member: usize,
    kind: &'static str,
    points: i64,
    channel: String,
    ref_id: String,
    at: i64,
}

struct Spend {
    member: usize,
    channel: String,
    reference: String,
    minor: i64,
    at: i64,
}

struct Coupon {
    id: String,
    member: usize,
    coupon: CachedCoupon,
    used: Option<(String, String, i64)>,
}

/// Seeds `count` members with a year of history. `store_ids` are the demo stores.
pub async fn seed(
    db: &Db,
    store_ids: &[String],
    count: usize,
    now: DateTime<Utc>,
) -> CloudResult<()> {
    let mut rng = StdRng::seed_from_u64(20_261_123);
    let mut tx = db.write.begin().await?;
    let rules = members::rules(&mut tx).await?;
    let secrets = members::secrets(&mut tx).await?;
    let now_ms = now.timestamp_millis();
    let year_ms = 365 * 24 * 3_600_000_i64;
    let last_card = take_counter(&mut tx, "member_card", count as i64).await?;
    let first_card = last_card - count as i64 + 1;
    let mut people = Vec::with_capacity(count);
    let mut entries = Vec::new();
    let mut spends = Vec::new();
    let mut coupons = Vec::new();
    for index in 0..count {
        let created_at = now_ms - year_ms - rng.random_range(0..year_ms);
        let (phone, email, name) = if index == 0 {
            (
                DEMO_PHONE.to_owned(),
                Some(DEMO_EMAIL.to_owned()),
                "陳美玲 Mei-ling Chen".to_owned(),
            )
        } else {
            let name = format!(
                "{}{}{}",
                SURNAMES[index % SURNAMES.len()],
                GIVEN[(index / SURNAMES.len()) % GIVEN.len()],
                LATIN[index % LATIN.len()]
            );
            let email = (index % 3 != 0).then(|| format!("member{index}@example.com"));
            (format!("+8869{:08}", 20_000_000 + index), email, name)
        };
        people.push(Person {
            id: uuid::Uuid::now_v7().to_string(),
            phone,
            email,
            card_no: loyalty::card_number(u64::try_from(first_card + index as i64).unwrap_or(0)),
            name,
            birthday: format!(
                "19{:02}-{:02}-{:02}",
                60 + index % 40,
                1 + index % 12,
                1 + index % 28
            ),
            tier: String::new(),
            created_at,
        });
        // A year of purchases: e-shop orders and store visits, each earning points.
        let purchases = if index == 0 {
            14
        } else {
            rng.random_range(0..8)
        };
        let mut balance = 0;
        let mut spend_year = 0;
        for purchase in 0..purchases {
            let at = now_ms - rng.random_range(3_600_000..year_ms);
            let channel = if purchase % 2 == 0 {
                ONLINE.to_owned()
            } else {
                store_ids[(index + purchase) % store_ids.len()].clone()
            };
            let minor = rng.random_range(30..800) * 10_000 + if index == 0 { 500_000 } else { 0 };
            let reference = format!("DEMO-{index}-{purchase}");
            let points = minor / rules.earn_minor_per_point.max(1);
            balance += points;
            spend_year += minor;
            entries.push(Entry {
                member: index,
                kind: "earn",
                points,
                channel: channel.clone(),
                ref_id: reference.clone(),
                at,
            });
            spends.push(Spend {
                member: index,
                channel,
                reference,
                minor,
                at,
            });
        }
        if balance > 40 && index % 4 == 1 {
            let points = rng.random_range(10..balance / 2);
            entries.push(Entry {
                member: index,
                kind: "redeem",
                points: -points,
                channel: ONLINE.to_owned(),
                ref_id: format!("DEMO-{index}-R"),
                at: now_ms - rng.random_range(3_600_000..year_ms / 4),
            });
        }
        people[index].tier = loyalty::tier_for_spend(&rules, spend_year)
            .map_or_else(|| "member".to_owned(), |t| t.code.clone());
        let welcome_used = index % 5 == 2;
        coupons.push(Coupon {
            id: uuid::Uuid::now_v7().to_string(),
            member: index,
            coupon: CachedCoupon {
                id: String::new(),
                kind: "welcome".into(),
                title: "歡迎禮 Welcome NT$100 off".into(),
                discount_kind: "amount".into(),
                value: 10_000,
                min_spend_minor: 50_000,
                valid_from_ms: created_at,
                valid_to_ms: now_ms + 60 * 24 * 3_600_000,
            },
            used: welcome_used.then(|| {
                (
                    ONLINE.to_owned(),
                    format!("order:DEMO-{index}-W"),
                    created_at + 3_600_000,
                )
            }),
        });
        if index % 7 == 0 {
            coupons.push(Coupon {
                id: uuid::Uuid::now_v7().to_string(),
                member: index,
                coupon: CachedCoupon {
                    id: String::new(),
                    kind: "birthday".into(),
                    title: "生日禮 Birthday 10 % off".into(),
                    discount_kind: "percent".into(),
                    value: 1_000,
                    min_spend_minor: 0,
                    valid_from_ms: now_ms - 24 * 3_600_000,
                    valid_to_ms: now_ms + 30 * 24 * 3_600_000,
                },
                used: None,
            });
        }
    }
    write_people(&mut tx, &people).await?;
    write_entries(&mut tx, &people, &entries).await?;
    write_spends(&mut tx, &people, &spends).await?;
    write_coupons(&mut tx, &people, &coupons).await?;
    // The feed: each member as tills cache them, computed from what was just written.
    let mut balances = vec![0_i64; people.len()];
    for entry in &entries {
        balances[entry.member] += entry.points;
    }
    let mut usable: Vec<Vec<CachedCoupon>> = vec![Vec::new(); people.len()];
    for coupon in coupons.iter().filter(|c| c.used.is_none()) {
        usable[coupon.member].push(CachedCoupon {
            id: coupon.id.clone(),
            ..coupon.coupon.clone()
        });
    }
    let mut changes = Vec::with_capacity(people.len());
    for (index, person) in people.iter().enumerate() {
        let balance = balances[index];
        let usable = std::mem::take(&mut usable[index]);
        let cached = CachedMember {
            id: person.id.clone(),
            card_hash: crate::lookup_keys::card_hash(&secrets.member_key, &person.card_no),
            phone_hash: None,
            email_hash: None,
            phone_masked: Some(loyalty::mask_phone(&person.phone)),
            email_masked: person.email.as_deref().map(loyalty::mask_email),
            name: person.name.clone(),
            tier: person.tier.clone(),
            balance,
            coupons: usable,
        };
        changes.push((person.id.clone(), Change::Member(cached)));
    }
    feed::publish_many(&mut tx, ALL_STORES, "member", &changes).await?;
    // The regulars' look-up keys, for their stores' tills.
    for (index, person) in people.iter().enumerate().take(DEMO_REGULARS) {
        let regular_at = now_ms - i64::try_from(index).unwrap_or(0) * 60_000;
        let stores: Vec<&String> = if index == 0 {
            store_ids.iter().collect()
        } else {
            store_ids
                .get(index % store_ids.len().max(1))
                .into_iter()
                .collect()
        };
        for store_id in stores {
            crate::lookup_keys::attach(&mut tx, &person.id, store_id, regular_at).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per multi-row statement.
const CHUNK: usize = 200;

async fn write_people(tx: &mut AnyConnection, people: &[Person]) -> CloudResult<()> {
    for chunk in people.chunks(CHUNK) {
        let insert = format!(
            "INSERT INTO member (id, phone, email, card_no, name, birthday, tier, consent_terms,
                 consent_marketing, tags, enrolled_channel, created_at, updated_at)
             VALUES {}",
            value_rows(chunk.len(), 13)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (offset, p) in chunk.iter().enumerate() {
            query = query
                .bind(p.id.as_str())
                .bind(p.phone.as_str())
                .bind(p.email.as_deref())
                .bind(p.card_no.as_str())
                .bind(p.name.as_str())
                .bind(p.birthday.as_str())
                .bind(p.tier.as_str())
                .bind(1_i64)
                .bind(i64::from(offset % 2 == 0))
                .bind("[]")
                .bind(ONLINE)
                .bind(p.created_at)
                .bind(p.created_at);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn write_entries(
    tx: &mut AnyConnection,
    people: &[Person],
    entries: &[Entry],
) -> CloudResult<()> {
    for chunk in entries.chunks(CHUNK) {
        let insert = format!(
            "INSERT INTO points_entry (id, member_id, kind, points, channel, ref_id, op_key, created_at)
             VALUES {}",
            value_rows(chunk.len(), 8)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for e in chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(people[e.member].id.as_str())
                .bind(e.kind)
                .bind(e.points)
                .bind(e.channel.as_str())
                .bind(e.ref_id.as_str())
                .bind(format!("demo:{}:{}", e.ref_id, e.kind))
                .bind(e.at);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn write_spends(
    tx: &mut AnyConnection,
    people: &[Person],
    spends: &[Spend],
) -> CloudResult<()> {
    for chunk in spends.chunks(CHUNK) {
        let insert = format!(
            "INSERT INTO member_spend (ref_key, member_id, channel, spend_minor, created_at) VALUES {}",
            value_rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for s in chunk {
            query = query
                .bind(s.reference.as_str())
                .bind(people[s.member].id.as_str())
                .bind(s.channel.as_str())
                .bind(s.minor)
                .bind(s.at);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn write_coupons(
    tx: &mut AnyConnection,
    people: &[Person],
    coupons: &[Coupon],
) -> CloudResult<()> {
    for chunk in coupons.chunks(CHUNK) {
        let insert = format!(
            "INSERT INTO coupon (id, member_id, kind, title, discount_kind, value, min_spend_minor,
                 valid_from, valid_to, used_at, used_channel, used_ref)
             VALUES {}",
            value_rows(chunk.len(), 12)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for c in chunk {
            let (used_channel, used_ref, used_at) = match &c.used {
                Some((channel, reference, at)) => {
                    (Some(channel.as_str()), Some(reference.as_str()), Some(*at))
                }
                None => (None, None, None),
            };
            query = query
                .bind(c.id.as_str())
                .bind(people[c.member].id.as_str())
                .bind(c.coupon.kind.as_str())
                .bind(c.coupon.title.as_str())
                .bind(c.coupon.discount_kind.as_str())
                .bind(c.coupon.value)
                .bind(c.coupon.min_spend_minor)
                .bind(c.coupon.valid_from_ms)
                .bind(c.coupon.valid_to_ms)
                .bind(used_at)
                .bind(used_channel)
                .bind(used_ref);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}
