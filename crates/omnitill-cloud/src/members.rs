//! Members in the cloud: one person in both channels, with one points ledger, one coupon
//! wallet and one history (migration 0004).
//!
//! - **Balance.** A member's balance is the sum of their `points_entry` rows, always; no
//!   column holds it. Each entry has an `op_key` (a till's op_id or the e-shop's order
//!   reference, plus what the entry is for), unique, so an operation told twice books nothing
//!   twice.
//! - **Holds.** A till redeeming online reserves points under the sale id (`points_hold`); the
//!   sale's operation consumes the hold. Redeemable online = balance less live holds.
//! - **Offline.** A till's sale that redeemed offline is applied as it was made: the redemption
//!   is booked even past the balance (the sale stands), counts against the till's allowance,
//!   and an overdraft becomes a conflict on the store's review list.
//! - **Coupons** are single use across channels. A second use is booked as a conflict; the sale
//!   stands.
//! - **Merges.** A till enrolment whose phone or e-mail is already a member's becomes an alias
//!   of that member: everything sent under the till's id is booked to the survivor, and the
//!   feed tells tills to forget the new id (`member_gone`).
//! - **Feed.** Every change to a member republishes its cached form (brand-wide), with the
//!   card's keyed hash and display values masked; phone and e-mail look-up keys are
//!   memory-hard, computed once, and go only to the stores where the member shops
//!   (`lookup_keys`).
//!
//! - **Concurrency.** Everything that moves a balance, a hold or a coupon locks the member's
//!   row first (`locks::lock_member`), then checks, then writes; idempotency keys of the
//!   e-shop's calls name one request (`idempotency`).
//!
//! Layout: this file has the member (sign-up, profile, look-up, history, QR tokens), the
//! ledger's storage (`balance`, `held`, `add_entry`, `add_spend`), the feed form and the
//! checks of a till's sale and refund member parts; `rules` the brand's secrets and loyalty
//! rules; `coupons` issuing and using coupons; `conflicts` the review list; `enrolment` a
//! member enrolled at a till; `eshop` the e-shop's earn, redeem, adjust and coupon calls;
//! `holds` a till's online points holds and coupon reservations; `periodic` points expiry and
//! birthday coupons.
//!
//! Everything that writes takes the caller's transaction.

use chrono::{DateTime, Months, Utc};
use omnitill_core::loyalty::{self, EarningLine, KeyKind};
use omnitill_protocol::loyalty::{
    Allowance, CachedCoupon, CachedMember, LoyaltyRules, RefundMember, SaleMember,
};
pub use omnitill_protocol::loyalty::{
    CouponHoldRequest, Held, History, HistoryEntry, HoldRequest, Purchase,
};
use omnitill_protocol::pull::Change;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::db::{Db, next_counter, now_ms};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};

mod conflicts;
mod coupons;
mod enrolment;
mod eshop;
mod holds;
mod periodic;
mod rules;

pub use conflicts::{flag, flag_overdraft, resolve_conflict};
pub use coupons::{NewCoupon, issue_coupon, use_coupon};
pub(crate) use coupons::{insert_coupon, issue_coupon_in, usable_coupons};
pub use enrolment::{apply_enrolment, merge_enrolment};
pub use rules::{
    Secrets, check_rules, default_rules, ensure_setup, rules, rules_version, secrets, set_rules,
};

pub(crate) use eshop::earn_for_pickup;
pub use eshop::{
    Adjustment, OrderEarn, OrderLine, OrderRedeem, PointsBooked, adjust, earn_online,
    redeem_coupon_online, redeem_online,
};
pub use holds::{hold_points, release_coupon, release_hold, reserve_coupon};
pub use periodic::{birthday_coupon, expire_points, issue_birthday_coupons};

/// The channel of e-shop entries; a store id otherwise.
pub const ONLINE: &str = "online";

/// How long an online points hold or coupon reservation lasts unless its sale consumes it.
pub const HOLD_MS: i64 = 15 * 60 * 1_000;

/// A member's profile as the e-shop sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Member {
    pub id: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub card_no: String,
    pub name: String,
    pub birthday: Option<String>,
    pub tier: String,
    pub consent_marketing: bool,
    pub tags: Vec<String>,
    pub balance: i64,
    /// Balance less points held for sales being completed at tills.
    pub available: i64,
    pub coupons: Vec<CachedCoupon>,
}

/// What a new member gives: a phone or an e-mail (or both), a name, consent.
///
/// Phones are normalised to E.164 (a number without a country code takes the brand's), e-mails
/// to lower case; a phone or an e-mail that is not one is refused with 400, as is a sign-up
/// with neither, or without consent to the terms.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SignUp {
    pub phone: Option<String>,
    pub email: Option<String>,
    /// 1 to 100 characters in any script, without control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// `YYYY-MM-DD`; empty or absent for none.
    pub birthday: Option<String>,
    /// Must be true: a member consents to the membership terms.
    pub consent_terms: bool,
    #[serde(default)]
    pub consent_marketing: bool,
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagText>)]
    pub tags: Vec<String>,
}

/// A member's tag: up to 40 characters.
pub struct TagText;

impl utoipa::PartialSchema for TagText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(40))
            .into()
    }
}

impl ToSchema for TagText {}

/// A sign-up with its keys normalised and checked.
pub struct CheckedSignUp {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: String,
    pub birthday: Option<String>,
    pub consent_marketing: bool,
    pub tags: Vec<String>,
}

/// Normalises and checks a sign-up: a phone or an e-mail, consent to the terms, a name of 1 to
/// 100 characters in any script, a real `YYYY-MM-DD` birthday.
pub fn check_sign_up(sign_up: &SignUp, calling_code: u16) -> CloudResult<CheckedSignUp> {
    let bad = |why: String| CloudError::BadRequest(why);
    let phone = match sign_up.phone.as_deref().map(str::trim) {
        Some(phone) if !phone.is_empty() => {
            Some(loyalty::normalise_phone(phone, calling_code).map_err(|e| bad(e.to_string()))?)
        }
        _ => None,
    };
    let email = match sign_up.email.as_deref().map(str::trim) {
        Some(email) if !email.is_empty() => {
            Some(loyalty::normalise_email(email).map_err(|e| bad(e.to_string()))?)
        }
        _ => None,
    };
    if phone.is_none() && email.is_none() {
        return Err(bad(
            "a member needs a phone number or an e-mail address".into()
        ));
    }
    if !sign_up.consent_terms {
        return Err(bad(
            "the member must consent to the membership terms before joining".into(),
        ));
    }
    let name = sign_up.name.trim();
    let length = name.chars().count();
    if length == 0 || length > 100 || name.chars().any(char::is_control) {
        return Err(bad(
            "the name must be 1 to 100 characters, any script, without control characters".into(),
        ));
    }
    let birthday = match sign_up.birthday.as_deref().map(str::trim) {
        Some(day) if !day.is_empty() => {
            chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                bad(format!(
                    "the birthday {day:?} is not a date like 1990-04-01"
                ))
            })?;
            Some(day.to_owned())
        }
        _ => None,
    };
    if sign_up.tags.len() > 20 || sign_up.tags.iter().any(|t| t.chars().count() > 40) {
        return Err(bad(
            "a member has at most 20 tags of up to 40 characters".into()
        ));
    }
    Ok(CheckedSignUp {
        phone,
        email,
        name: name.to_owned(),
        birthday,
        consent_marketing: sign_up.consent_marketing,
        tags: sign_up.tags.clone(),
    })
}

/// The member an id now stands for: itself, or the member it was merged into.
pub async fn resolve(tx: &mut AnyConnection, id: &str) -> CloudResult<Option<String>> {
    let alias: Option<(String,)> =
        sqlx::query_as("SELECT member_id FROM member_alias WHERE alias_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((survivor,)) = alias {
        return Ok(Some(survivor));
    }
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM member WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(found.map(|(id,)| id))
}

/// The member holding a phone number or e-mail (normalised), if any.
async fn holder_of(
    tx: &mut AnyConnection,
    phone: Option<&str>,
    email: Option<&str>,
) -> CloudResult<Option<String>> {
    if let Some(phone) = phone {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM member WHERE phone = $1")
            .bind(phone)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((id,)) = row {
            return Ok(Some(id));
        }
    }
    if let Some(email) = email {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM member WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((id,)) = row {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Creates a member with `id` (a new member gets a card number and a welcome coupon) and
/// publishes them. `at_ms` is when they signed up; `now_ms` the cloud's clock now.
pub async fn create(
    tx: &mut AnyConnection,
    id: &str,
    member: &CheckedSignUp,
    channel: &str,
    at_ms: i64,
    now_ms: i64,
) -> CloudResult<()> {
    let serial = next_counter(&mut *tx, "member_card").await?;
    let card_no = loyalty::card_number(u64::try_from(serial).unwrap_or(0));
    let tags = serde_json::to_string(&member.tags).unwrap_or_else(|_| "[]".into());
    let rules = rules(&mut *tx).await?;
    let first_tier =
        loyalty::tier_for_spend(&rules, 0).map_or_else(|| "member".to_owned(), |t| t.code.clone());
    sqlx::query(
        "INSERT INTO member (id, phone, email, card_no, name, birthday, tier, consent_terms,
             consent_marketing, tags, enrolled_channel, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $11)",
    )
    .bind(id)
    .bind(member.phone.as_deref())
    .bind(member.email.as_deref())
    .bind(&card_no)
    .bind(&member.name)
    .bind(member.birthday.as_deref())
    .bind(first_tier)
    .bind(i64::from(member.consent_marketing))
    .bind(tags)
    .bind(channel)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    let welcome = NewCoupon {
        kind: "welcome".into(),
        title: "歡迎禮 Welcome NT$100 off".into(),
        discount_kind: "amount".into(),
        value: 10_000,
        min_spend_minor: 50_000,
        valid_from_ms: at_ms,
        valid_to_ms: at_ms + 90 * 24 * 3_600_000,
    };
    issue_coupon_in(tx, id, &welcome).await?;
    publish(tx, id, now_ms).await
}

/// The sum of a member's entries.
pub async fn balance(tx: &mut AnyConnection, member_id: &str) -> CloudResult<i64> {
    let (sum,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM points_entry WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(sum)
}

/// Points held for sales still being completed at tills.
pub(crate) async fn held(tx: &mut AnyConnection, member_id: &str, now_ms: i64) -> CloudResult<i64> {
    let (sum,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM points_hold
         WHERE member_id = $1 AND consumed = 0 AND expires_at > $2",
    )
    .bind(member_id)
    .bind(now_ms)
    .fetch_one(&mut *tx)
    .await?;
    Ok(sum)
}

/// One points entry, booked once per `op_key`. Returns whether it was new.
#[allow(clippy::too_many_arguments)]
pub async fn add_entry(
    tx: &mut AnyConnection,
    member_id: &str,
    kind: &str,
    points: i64,
    channel: &str,
    ref_id: &str,
    op_key: &str,
    at_ms: i64,
) -> CloudResult<bool> {
    if points == 0 {
        return Ok(false);
    }
    let written = sqlx::query(
        "INSERT INTO points_entry (id, member_id, kind, points, channel, ref_id, op_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (op_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(member_id)
    .bind(kind)
    .bind(points)
    .bind(channel)
    .bind(ref_id)
    .bind(op_key)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Books spend toward the member's tier (once per `ref_key`) and moves the tier to what the
/// last 12 months of spend reach.
pub async fn add_spend(
    tx: &mut AnyConnection,
    member_id: &str,
    channel: &str,
    ref_key: &str,
    spend_minor: i64,
    at_ms: i64,
) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO member_spend (ref_key, member_id, channel, spend_minor, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ref_key) DO NOTHING",
    )
    .bind(ref_key)
    .bind(member_id)
    .bind(channel)
    .bind(spend_minor)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    let year_ago = DateTime::from_timestamp_millis(now_ms())
        .and_then(|now| now.checked_sub_months(Months::new(12)))
        .map_or(0, |at| at.timestamp_millis());
    let (spend,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(spend_minor), 0) AS BIGINT) FROM member_spend
         WHERE member_id = $1 AND created_at >= $2",
    )
    .bind(member_id)
    .bind(year_ago)
    .fetch_one(&mut *tx)
    .await?;
    let rules = rules(&mut *tx).await?;
    if let Some(tier) = loyalty::tier_for_spend(&rules, spend) {
        sqlx::query("UPDATE member SET tier = $1, updated_at = $2 WHERE id = $3 AND tier <> $1")
            .bind(&tier.code)
            .bind(at_ms)
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

type MemberRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
);

async fn member_row(tx: &mut AnyConnection, id: &str) -> CloudResult<Option<MemberRow>> {
    Ok(sqlx::query_as(
        "SELECT id, phone, email, card_no, name, birthday, tier, consent_marketing, tags
         FROM member WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// A member's profile, balance and coupons, as of `now_ms` (the cloud's clock): the points held
/// now and the coupons valid now.
pub async fn profile(tx: &mut AnyConnection, id: &str, now_ms: i64) -> CloudResult<Option<Member>> {
    let Some(survivor) = resolve(&mut *tx, id).await? else {
        return Ok(None);
    };
    let Some((id, phone, email, card_no, name, birthday, tier, marketing, tags)) =
        member_row(&mut *tx, &survivor).await?
    else {
        return Ok(None);
    };
    let now = now_ms;
    let balance = balance(&mut *tx, &id).await?;
    let held = held(&mut *tx, &id, now).await?;
    let coupons = usable_coupons(&mut *tx, &id, now).await?;
    Ok(Some(Member {
        id,
        phone,
        email,
        card_no,
        name,
        birthday,
        tier,
        consent_marketing: marketing != 0,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        balance,
        available: balance - held,
        coupons,
    }))
}

/// The member as the brand-wide feed sends it to every till: the card's keyed hash and masked
/// values, and no phone or e-mail hash (those go only to the stores that need them, see
/// `lookup_keys`).
pub async fn cached(
    tx: &mut AnyConnection,
    secrets: &Secrets,
    id: &str,
    now_ms: i64,
) -> CloudResult<Option<CachedMember>> {
    let Some(member) = profile(&mut *tx, id, now_ms).await? else {
        return Ok(None);
    };
    Ok(Some(CachedMember {
        card_hash: crate::lookup_keys::card_hash(&secrets.member_key, &member.card_no),
        phone_hash: None,
        email_hash: None,
        phone_masked: member.phone.as_deref().map(loyalty::mask_phone),
        email_masked: member.email.as_deref().map(loyalty::mask_email),
        name: member.name,
        tier: member.tier,
        balance: member.balance,
        coupons: member.coupons,
        id: member.id,
    }))
}

/// Republishes a member's cached form to every till, as of `now_ms` (the cloud's clock).
pub async fn publish(tx: &mut AnyConnection, id: &str, now_ms: i64) -> CloudResult<()> {
    let secrets = secrets(&mut *tx).await?;
    if let Some(member) = cached(&mut *tx, &secrets, id, now_ms).await? {
        let key = member.id.clone();
        feed::publish(tx, ALL_STORES, "member", &key, &Change::Member(member)).await?;
    }
    Ok(())
}

/// A till's allowance for this pull: what it used, and its share of the store's allowance on
/// top (the store's allowance split evenly among its tills that are not revoked).
pub async fn allowance(
    tx: &mut AnyConnection,
    device_id: &str,
    store_id: &str,
) -> CloudResult<Allowance> {
    let (used,): (i64,) = sqlx::query_as("SELECT allowance_used FROM device WHERE id = $1")
        .bind(device_id)
        .fetch_one(&mut *tx)
        .await?;
    let (tills,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM device WHERE store_id = $1 AND revoked_at IS NULL")
            .bind(store_id)
            .fetch_one(&mut *tx)
            .await?;
    let rules = rules(&mut *tx).await?;
    let share = rules.offline_store_allowance_points / tills.max(1);
    Ok(Allowance {
        granted_points: used + share,
        used_points: used,
    })
}

/// Points earned by an e-shop order under the brand's rules.
pub fn points_for_order(
    rules: &LoyaltyRules,
    tier: &str,
    lines: &[(String, i64)],
    paid_with_points_minor: i64,
    at: DateTime<Utc>,
) -> i64 {
    let lines: Vec<EarningLine> = lines
        .iter()
        .map(|(sku, total_minor)| EarningLine {
            sku,
            total_minor: *total_minor,
        })
        .collect();
    loyalty::points_earned(rules, tier, &lines, paid_with_points_minor, at)
}

/// Finds the member by an e-shop look-up key: phone, e-mail or card number.
pub async fn find(
    tx: &mut AnyConnection,
    phone: Option<&str>,
    email: Option<&str>,
    card: Option<&str>,
) -> CloudResult<Option<String>> {
    let rules = rules(&mut *tx).await?;
    let bad = |e: omnitill_core::CoreError| CloudError::BadRequest(e.to_string());
    let phone = phone
        .map(|p| loyalty::normalise_phone(p, rules.default_calling_code))
        .transpose()
        .map_err(bad)?;
    let email = email
        .map(loyalty::normalise_email)
        .transpose()
        .map_err(bad)?;
    if let Some(card) = card {
        let card = loyalty::parse_card(card).map_err(bad)?;
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM member WHERE card_no = $1")
            .bind(card)
            .fetch_optional(&mut *tx)
            .await?;
        return Ok(row.map(|(id,)| id));
    }
    if phone.is_none() && email.is_none() {
        return Err(CloudError::BadRequest(
            "look a member up by phone, email or card".into(),
        ));
    }
    holder_of(tx, phone.as_deref(), email.as_deref()).await
}

/// Finds the member whose keyed (HMAC) look-up hash a till of an earlier version sent.
pub async fn find_by_hash(
    tx: &mut AnyConnection,
    kind: KeyKind,
    hash: &str,
) -> CloudResult<Option<String>> {
    // The cloud keeps keys in the clear and hashes them per request: scanning is fine for a
    // demo brand and a few hundred thousand members; a large brand would index the hashes.
    let secrets = secrets(&mut *tx).await?;
    let column = match kind {
        KeyKind::Phone => "phone",
        KeyKind::Email => "email",
        KeyKind::Card => "card_no",
    };
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, {column} FROM member"
    )))
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().find_map(|(id, key)| {
        let key = key?;
        (loyalty::lookup_hash(&secrets.member_key, kind, &key) == hash).then_some(id)
    }))
}

/// The largest number of points one operation may move, to refuse garbage early.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// Checks a sale's member block before anything is written; the reason is the refusal.
pub fn check_sale_member(member: &SaleMember) -> Result<(), String> {
    let in_range = |points: i64| (0..=MAX_POINTS).contains(&points);
    if !in_range(member.points_earned) || !in_range(member.points_redeemed) {
        return Err(format!(
            "the member's points must be 0 to {MAX_POINTS} (earned {}, redeemed {})",
            member.points_earned, member.points_redeemed
        ));
    }
    if member.points_redeemed > 0 && member.redemption.is_none() {
        return Err("points were redeemed without saying how they were authorised".into());
    }
    if member.spend_minor < 0 || member.tier_discount_minor < 0 {
        return Err("the member's spend and tier discount cannot be negative".into());
    }
    Ok(())
}

/// Checks a refund's member block; the reason is the refusal.
pub fn check_refund_member(member: &RefundMember) -> Result<(), String> {
    let in_range = |points: i64| (0..=MAX_POINTS).contains(&points);
    if !in_range(member.points_reversed) || !in_range(member.points_restored) {
        return Err(format!(
            "the refund's points must be 0 to {MAX_POINTS} (reversed {}, restored {})",
            member.points_reversed, member.points_restored
        ));
    }
    if member.spend_minor < 0 {
        return Err("the refund's spend cannot be negative".into());
    }
    Ok(())
}

/// An e-shop sign-up. A phone or e-mail already a member's is a conflict: look them up
/// instead.
pub async fn sign_up(db: &Db, sign_up: &SignUp) -> CloudResult<Member> {
    let mut tx = db.write.begin().await?;
    let rules = rules(&mut tx).await?;
    let checked = check_sign_up(sign_up, rules.default_calling_code)?;
    if holder_of(&mut tx, checked.phone.as_deref(), checked.email.as_deref())
        .await?
        .is_some()
    {
        return Err(CloudError::Conflict(
            "that phone number or e-mail already belongs to a member: look the member up".into(),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = db.now_ms();
    create(&mut tx, &id, &checked, ONLINE, now, now).await?;
    let member = profile(&mut tx, &id, now)
        .await?
        .ok_or_else(|| CloudError::Internal("a new member vanished".into()))?;
    tx.commit().await?;
    Ok(member)
}

/// A member's profile by id (an id merged away finds the survivor).
pub async fn get(db: &Db, id: &str) -> CloudResult<Member> {
    let mut conn = db.read.acquire().await?;
    profile(&mut conn, id, db.now_ms())
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))
}

/// Look-up for the e-shop by phone, e-mail or card number.
pub async fn look_up(
    db: &Db,
    phone: Option<&str>,
    email: Option<&str>,
    card: Option<&str>,
) -> CloudResult<Member> {
    let mut conn = db.read.acquire().await?;
    let id = find(&mut conn, phone, email, card)
        .await?
        .ok_or_else(|| CloudError::NotFound("a member with that phone, e-mail or card".into()))?;
    profile(&mut conn, &id, db.now_ms())
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))
}

/// A member's points entries and purchases from both channels, newest first.
pub async fn history(db: &Db, id: &str, limit: i64) -> CloudResult<History> {
    let limit = limit.clamp(1, 1_000);
    let mut conn = db.read.acquire().await?;
    let member_id = resolve(&mut conn, id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))?;
    let channel_name = "COALESCE((SELECT code FROM store WHERE store.id = channel), channel)";
    /// kind, points, channel, ref_id, created_at, note
    type EntryRow = (String, i64, String, Option<String>, i64, Option<String>);
    let points: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT kind, points, {channel_name}, ref_id, created_at, note FROM points_entry
             WHERE member_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    )))
    .bind(&member_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let purchases: Vec<(String, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ref_key, {channel_name}, spend_minor, created_at FROM member_spend
         WHERE member_id = $1 ORDER BY created_at DESC LIMIT $2"
    )))
    .bind(&member_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let balance = balance(&mut conn, &member_id).await?;
    Ok(History {
        member_id,
        balance,
        points: points
            .into_iter()
            .map(
                |(kind, points, channel, ref_id, at_ms, note)| HistoryEntry {
                    kind,
                    points,
                    channel,
                    ref_id,
                    at_ms,
                    note,
                },
            )
            .collect(),
        purchases: purchases
            .into_iter()
            .map(|(reference, channel, spend_minor, at_ms)| Purchase {
                reference,
                channel,
                spend_minor,
                at_ms,
            })
            .collect(),
    })
}

/// A fresh QR token for the member's app, valid for `ttl_s` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct QrToken {
    pub token: String,
    pub expires_at_s: i64,
}

pub async fn qr_token(db: &Db, id: &str, ttl_s: i64) -> CloudResult<QrToken> {
    let mut conn = db.read.acquire().await?;
    let member_id = resolve(&mut conn, id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))?;
    let secrets = secrets(&mut conn).await?;
    let expires_at_s = Utc::now().timestamp() + ttl_s.clamp(30, 3_600);
    Ok(QrToken {
        token: loyalty::sign_qr(&secrets.qr, &member_id, expires_at_s),
        expires_at_s,
    })
}

/// Puts the words on the entry booked under `op_key`.
pub(crate) async fn set_note(tx: &mut AnyConnection, op_key: &str, note: &str) -> CloudResult<()> {
    sqlx::query("UPDATE points_entry SET note = $1 WHERE op_key = $2")
        .bind(note)
        .bind(op_key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
