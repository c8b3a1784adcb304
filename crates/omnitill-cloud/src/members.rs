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
//! Layout: this file has the member, the ledger's storage (`balance`, `held`, `add_entry`),
//! the feed form and the till's sale, refund and enrolment parts; `eshop` the e-shop's earn,
//! redeem, adjust and coupon calls; `holds` a till's online points holds and coupon
//! reservations; `periodic` points expiry and birthday coupons.
//!
//! Everything that writes takes the caller's transaction.

use chrono::{DateTime, Months, Utc};
use omnitill_core::loyalty::{self, EarningLine, KeyKind};
use omnitill_protocol::loyalty::{
    Allowance, CachedCoupon, CachedMember, ConflictNotice, LoyaltyRules, MemberKeys,
    PointsRounding, RefundMember, SaleMember, TierRule,
};
pub use omnitill_protocol::loyalty::{
    CouponHoldRequest, Held, History, HistoryEntry, HoldRequest, Purchase,
};
use omnitill_protocol::ops::MemberEnrolled;
use omnitill_protocol::pull::Change;
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::db::{Db, next_counter, now_ms};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};

mod eshop;
mod holds;
mod periodic;

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

/// The brand's secrets.
pub struct Secrets {
    pub member_key: Vec<u8>,
    pub qr: Ed25519KeyPair,
}

impl Secrets {
    pub fn keys(&self) -> MemberKeys {
        MemberKeys {
            member_key_hex: loyalty::hex(&self.member_key),
            qr_public_key_hex: loyalty::hex(self.qr.public_key().as_ref()),
        }
    }
}

/// The rules a new brand starts with (TWD: NT$100 earns a point, a point pays NT$1).
pub fn default_rules() -> LoyaltyRules {
    let tier = |code: &str, name: &str, min_spend_minor, multiplier_pct, discount_bp| TierRule {
        code: code.into(),
        name: name.into(),
        min_spend_minor,
        multiplier_pct,
        discount_bp,
    };
    LoyaltyRules {
        version: 0,
        earn_minor_per_point: 10_000,
        point_value_minor: 100,
        rounding: PointsRounding::Floor,
        tiers: vec![
            tier("member", "會員 Member", 0, 100, 0),
            tier("silver", "銀卡 Silver", 2_000_000, 120, 200),
            tier("gold", "金卡 Gold", 6_000_000, 150, 500),
        ],
        no_earn_skus: Vec::new(),
        promotions: Vec::new(),
        expiry_months: 24,
        offline_member_cap_points: 500,
        offline_store_allowance_points: 20_000,
        default_calling_code: 886,
    }
}

/// Makes the brand's secrets and rules on first start and publishes them to the feed.
pub async fn ensure_setup(db: &Db) -> CloudResult<()> {
    let mut tx = db.write.begin().await?;
    let rng = ring::rand::SystemRandom::new();
    let have: Vec<(String,)> = sqlx::query_as("SELECT name FROM brand_secret")
        .fetch_all(&mut *tx)
        .await?;
    let has = |name: &str| have.iter().any(|(n,)| n == name);
    let mut changed = false;
    if !has("member_key") {
        let mut key = [0_u8; 32];
        rng.fill(&mut key)
            .map_err(|_| CloudError::Internal("no random bytes for the member key".into()))?;
        put_secret(&mut tx, "member_key", &loyalty::hex(&key)).await?;
        changed = true;
    }
    if !has("qr_key") {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| CloudError::Internal("the QR signing key cannot be made".into()))?;
        put_secret(&mut tx, "qr_key", &loyalty::hex(pkcs8.as_ref())).await?;
        changed = true;
    }
    if changed {
        let secrets = secrets(&mut tx).await?;
        let change = Change::MemberKeys(secrets.keys());
        feed::publish(&mut tx, ALL_STORES, "member_keys", "brand", &change).await?;
    }
    let (rules_count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM loyalty_rules")
        .fetch_one(&mut *tx)
        .await?;
    let (versions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM loyalty_rules_version")
        .fetch_one(&mut *tx)
        .await?;
    if rules_count == 0 {
        write_rules(&mut tx, &default_rules()).await?;
    } else if versions == 0 {
        // Rules from before versions (cloud migration 0006): published again as version 1.
        let current = rules(&mut tx).await?;
        write_rules(&mut tx, &current).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn put_secret(tx: &mut AnyConnection, name: &str, value: &str) -> CloudResult<()> {
    sqlx::query("INSERT INTO brand_secret (name, value) VALUES ($1, $2)")
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The brand's secrets (made by `ensure_setup`).
pub async fn secrets(tx: &mut AnyConnection) -> CloudResult<Secrets> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, value FROM brand_secret")
        .fetch_all(&mut *tx)
        .await?;
    let find = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, value)| loyalty::unhex(value))
            .ok_or_else(|| CloudError::Internal(format!("the brand secret {name} is missing")))
    };
    let member_key = find("member_key")?;
    let qr = Ed25519KeyPair::from_pkcs8(&find("qr_key")?)
        .map_err(|_| CloudError::Internal("the QR signing key is damaged".into()))?;
    Ok(Secrets { member_key, qr })
}

/// The brand's loyalty rules.
pub async fn rules(tx: &mut AnyConnection) -> CloudResult<LoyaltyRules> {
    let row: Option<(String,)> = sqlx::query_as("SELECT rules FROM loyalty_rules WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some((text,)) => serde_json::from_str(&text).map_err(|e| {
            CloudError::Internal(format!("the stored loyalty rules are damaged: {e}"))
        }),
        None => Ok(default_rules()),
    }
}

/// The rules the cloud published as `version`, if it did.
pub async fn rules_version(
    tx: &mut AnyConnection,
    version: i64,
) -> CloudResult<Option<LoyaltyRules>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT rules FROM loyalty_rules_version WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
    row.map(|(text,)| {
        serde_json::from_str(&text).map_err(|e| {
            CloudError::Internal(format!(
                "the stored loyalty rules {version} are damaged: {e}"
            ))
        })
    })
    .transpose()
}

/// Checks a set of rules for what would make them unusable.
pub fn check_rules(rules: &LoyaltyRules) -> CloudResult<()> {
    let bad = |why: &str| Err(CloudError::BadRequest(format!("the loyalty rules {why}")));
    if rules.earn_minor_per_point < 0 || rules.point_value_minor < 0 {
        return bad("cannot have a negative earn rate or point value");
    }
    if rules.offline_member_cap_points < 0 || rules.offline_store_allowance_points < 0 {
        return bad("cannot have a negative offline cap or allowance");
    }
    if rules.tiers.is_empty() || rules.tiers.iter().all(|t| t.min_spend_minor != 0) {
        return bad("need a tier that starts at a spend of 0");
    }
    if rules
        .tiers
        .iter()
        .any(|t| t.multiplier_pct > 1_000 || t.discount_bp > 10_000)
    {
        return bad("have a tier multiplier above 1000 % or a discount above 100 %");
    }
    if rules
        .promotions
        .iter()
        .any(|p| p.ends_at_ms <= p.starts_at_ms || p.multiplier_pct > 1_000)
    {
        return bad("have a promotion that ends before it starts or multiplies above 1000 %");
    }
    Ok(())
}

/// Replaces the brand's rules and publishes them.
pub async fn set_rules(db: &Db, rules: &LoyaltyRules) -> CloudResult<()> {
    check_rules(rules)?;
    let mut tx = db.write.begin().await?;
    write_rules(&mut tx, rules).await?;
    tx.commit().await?;
    Ok(())
}

/// Publishes `rules` as the next version: kept for good in `loyalty_rules_version` (a till's
/// sale names the version it earned points by), current in `loyalty_rules`, and in the feed.
async fn write_rules(tx: &mut AnyConnection, rules: &LoyaltyRules) -> CloudResult<()> {
    let (newest,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM loyalty_rules_version")
            .fetch_one(&mut *tx)
            .await?;
    let rules = LoyaltyRules {
        version: newest + 1,
        ..rules.clone()
    };
    let text = serde_json::to_string(&rules)
        .map_err(|e| CloudError::Internal(format!("rules cannot be encoded: {e}")))?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO loyalty_rules_version (version, rules, published_at) VALUES ($1, $2, $3)",
    )
    .bind(rules.version)
    .bind(&text)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO loyalty_rules (id, rules, updated_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
    )
    .bind(text)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let change = Change::LoyaltyRules(rules);
    feed::publish(tx, ALL_STORES, "loyalty_rules", "brand", &change).await?;
    Ok(())
}

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

/// A coupon to issue. `valid_to_ms` must come after `valid_from_ms`, and a percent is at most
/// 10000 basis points.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCoupon {
    /// `welcome`, `birthday` or `campaign`.
    #[schema(value_type = crate::openapi::CouponKind)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 80, pattern = r"\S")]
    pub title: String,
    /// `percent` (value in basis points) or `amount` (minor units).
    #[schema(value_type = crate::openapi::DiscountKind)]
    pub discount_kind: String,
    #[schema(minimum = 1)]
    pub value: i64,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub min_spend_minor: i64,
    pub valid_from_ms: i64,
    pub valid_to_ms: i64,
}

fn check_coupon(coupon: &NewCoupon) -> CloudResult<()> {
    let bad = |why: &str| Err(CloudError::BadRequest(format!("a coupon {why}")));
    if !matches!(coupon.kind.as_str(), "welcome" | "birthday" | "campaign") {
        return bad("is a welcome, birthday or campaign coupon");
    }
    let title = coupon.title.trim().chars().count();
    if title == 0 || title > 80 {
        return bad("needs a title of 1 to 80 characters");
    }
    match coupon.discount_kind.as_str() {
        "percent" if (1..=10_000).contains(&coupon.value) => {}
        "amount" if coupon.value > 0 => {}
        _ => return bad("takes a percent (1 to 10000 basis points) or a positive amount off"),
    }
    if coupon.min_spend_minor < 0 || coupon.valid_to_ms <= coupon.valid_from_ms {
        return bad("needs a minimum spend of 0 or more and a window that ends after it starts");
    }
    Ok(())
}

async fn issue_coupon_in(
    tx: &mut AnyConnection,
    member_id: &str,
    coupon: &NewCoupon,
) -> CloudResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    insert_coupon(tx, &id, member_id, coupon).await?;
    Ok(id)
}

/// Inserts a coupon under `id`; false when a coupon with that id exists already.
async fn insert_coupon(
    tx: &mut AnyConnection,
    id: &str,
    member_id: &str,
    coupon: &NewCoupon,
) -> CloudResult<bool> {
    check_coupon(coupon)?;
    let written = sqlx::query(
        "INSERT INTO coupon (id, member_id, kind, title, discount_kind, value, min_spend_minor,
             valid_from, valid_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(member_id)
    .bind(&coupon.kind)
    .bind(coupon.title.trim())
    .bind(&coupon.discount_kind)
    .bind(coupon.value)
    .bind(coupon.min_spend_minor)
    .bind(coupon.valid_from_ms)
    .bind(coupon.valid_to_ms)
    .execute(&mut *tx)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Issues a coupon to a member and republishes them.
pub async fn issue_coupon(db: &Db, member_id: &str, coupon: &NewCoupon) -> CloudResult<String> {
    let mut tx = db.write.begin().await?;
    let member_id = resolve(&mut tx, member_id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {member_id}")))?;
    let id = issue_coupon_in(&mut tx, &member_id, coupon).await?;
    publish(&mut tx, &member_id, db.now_ms()).await?;
    tx.commit().await?;
    Ok(id)
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

/// Records a conflict for a store's review list (once per kind and reference) and publishes it
/// to that store's tills.
pub async fn flag(
    tx: &mut AnyConnection,
    store_id: &str,
    conflict: &str,
    member_id: &str,
    ref_id: &str,
    summary: &str,
) -> CloudResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let at = now_ms();
    let written = sqlx::query(
        "INSERT INTO member_conflict (id, store_id, conflict, member_id, ref_id, summary,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (conflict, ref_id) DO NOTHING",
    )
    .bind(&id)
    .bind(store_id)
    .bind(conflict)
    .bind(member_id)
    .bind(ref_id)
    .bind(summary)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if written.rows_affected() == 1 {
        let notice = ConflictNotice {
            id: id.clone(),
            conflict: conflict.to_owned(),
            member_id: member_id.to_owned(),
            summary: summary.to_owned(),
            created_at_ms: at,
            resolved_at_ms: None,
            note: None,
        };
        feed::publish(tx, store_id, "conflict", &id, &Change::Conflict(notice)).await?;
    }
    Ok(())
}

/// Flags an overdraft if the member's balance is below zero after `ref_id`.
pub async fn flag_overdraft(
    tx: &mut AnyConnection,
    store_id: &str,
    member_id: &str,
    ref_id: &str,
    receipt: &str,
) -> CloudResult<()> {
    let balance = balance(&mut *tx, member_id).await?;
    if balance < 0 {
        let summary = format!(
            "Points overdrawn: {receipt} redeemed more than the member had; balance now {balance}"
        );
        flag(tx, store_id, "overdraft", member_id, ref_id, &summary).await?;
    }
    Ok(())
}

/// Marks a conflict resolved from `store_id`'s review list and republishes it.
pub async fn resolve_conflict(
    tx: &mut AnyConnection,
    store_id: &str,
    conflict_id: &str,
    note: &str,
    resolved_by: &str,
    at_ms: i64,
) -> CloudResult<bool> {
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "UPDATE member_conflict SET resolved_at = $1, resolved_by = $2, note = $3
         WHERE id = $4 AND store_id = $5 AND resolved_at IS NULL
         RETURNING conflict, member_id, summary, created_at",
    )
    .bind(at_ms)
    .bind(resolved_by)
    .bind(note)
    .bind(conflict_id)
    .bind(store_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((conflict, member_id, summary, created_at)) = row else {
        return Ok(false);
    };
    let notice = ConflictNotice {
        id: conflict_id.to_owned(),
        conflict,
        member_id,
        summary,
        created_at_ms: created_at,
        resolved_at_ms: Some(at_ms),
        note: Some(note.to_owned()),
    };
    feed::publish(
        tx,
        store_id,
        "conflict",
        conflict_id,
        &Change::Conflict(notice),
    )
    .await?;
    Ok(true)
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

/// A member's coupons that can still be used (unused, not expired).
async fn usable_coupons(
    tx: &mut AnyConnection,
    member_id: &str,
    now_ms: i64,
) -> CloudResult<Vec<CachedCoupon>> {
    type Row = (String, String, String, String, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, title, discount_kind, value, min_spend_minor, valid_from, valid_to
         FROM coupon WHERE member_id = $1 AND used_at IS NULL AND valid_to > $2 ORDER BY valid_to",
    )
    .bind(member_id)
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                kind,
                title,
                discount_kind,
                value,
                min_spend_minor,
                valid_from_ms,
                valid_to_ms,
            )| {
                CachedCoupon {
                    id,
                    kind,
                    title,
                    discount_kind,
                    value,
                    min_spend_minor,
                    valid_from_ms,
                    valid_to_ms,
                }
            },
        )
        .collect())
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

/// Merges a till's enrolment into `survivor`: its id becomes an alias, tills forget it, and
/// the store's review list shows the merge.
pub async fn merge_enrolment(
    tx: &mut AnyConnection,
    store_id: &str,
    new_id: &str,
    survivor: &str,
    at_ms: i64,
    now_ms: i64,
) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO member_alias (alias_id, member_id, merged_at) VALUES ($1, $2, $3)
         ON CONFLICT (alias_id) DO NOTHING",
    )
    .bind(new_id)
    .bind(survivor)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    let gone = Change::MemberGone {
        id: new_id.to_owned(),
        merged_into: Some(survivor.to_owned()),
    };
    feed::publish(tx, ALL_STORES, "member", new_id, &gone).await?;
    let summary = "Enrolled at the till with a phone or e-mail the brand already knew: merged \
                   into the existing member, with everything the till recorded";
    flag(tx, store_id, "merged_enrolment", survivor, new_id, summary).await?;
    publish(tx, survivor, now_ms).await
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

/// Marks a coupon used by `ref_id` in `channel`. A coupon already used by something else is a
/// double use: flagged once per coupon for the channel's review list, and the use stands.
pub async fn use_coupon(
    tx: &mut AnyConnection,
    channel: &str,
    member_id: &str,
    coupon_id: &str,
    ref_id: &str,
    receipt: &str,
    at_ms: i64,
) -> CloudResult<()> {
    let row: Option<(String, Option<String>, Option<String>, String)> =
        sqlx::query_as("SELECT member_id, used_ref, used_channel, title FROM coupon WHERE id = $1")
            .bind(coupon_id)
            .fetch_optional(&mut *tx)
            .await?;
    match row {
        None => {
            let summary = format!("{receipt} used a coupon the brand does not know ({coupon_id})");
            flag(
                tx,
                channel,
                "unknown_coupon",
                member_id,
                coupon_id,
                &summary,
            )
            .await
        }
        Some((_, Some(used_ref), _, _)) if used_ref == ref_id => Ok(()),
        Some((_, Some(used_ref), used_channel, title)) => {
            let summary = format!(
                "Coupon \"{title}\" was used twice: by {used_ref} ({}) and by {receipt}; the sales stand",
                used_channel.as_deref().unwrap_or("?")
            );
            flag(
                tx,
                channel,
                "coupon_double_use",
                member_id,
                coupon_id,
                &summary,
            )
            .await
        }
        Some((_, None, _, _)) => {
            sqlx::query(
                "UPDATE coupon SET used_at = $1, used_channel = $2, used_ref = $3,
                     reserved_ref = NULL, reserved_until = NULL
                 WHERE id = $4",
            )
            .bind(at_ms)
            .bind(channel)
            .bind(ref_id)
            .bind(coupon_id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
    }
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

/// Books a member enrolled at a till: a new member under the till's id, or, when the phone or
/// e-mail is already a member's, a merge into that member. Refused (with the reason) when the
/// enrolment itself is unusable.
pub async fn apply_enrolment(
    tx: &mut AnyConnection,
    store_id: &str,
    enrolled: &MemberEnrolled,
    now_ms: i64,
) -> CloudResult<Result<(), String>> {
    if uuid::Uuid::parse_str(&enrolled.member_id).is_err() {
        return Ok(Err(format!(
            "the new member's id {:?} is not a UUID",
            enrolled.member_id
        )));
    }
    if resolve(&mut *tx, &enrolled.member_id).await?.is_some() {
        return Ok(Ok(()));
    }
    let rules = rules(&mut *tx).await?;
    let sign_up = SignUp {
        phone: enrolled.phone.clone(),
        email: enrolled.email.clone(),
        name: enrolled.name.clone(),
        birthday: enrolled.birthday.clone(),
        consent_terms: enrolled.consent_terms,
        consent_marketing: enrolled.consent_marketing,
        tags: Vec::new(),
    };
    let checked = match check_sign_up(&sign_up, rules.default_calling_code) {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Err(refusal.to_string())),
    };
    let at = enrolled.enrolled_at_ms;
    match holder_of(&mut *tx, checked.phone.as_deref(), checked.email.as_deref()).await? {
        Some(survivor) => {
            merge_enrolment(tx, store_id, &enrolled.member_id, &survivor, at, now_ms).await?
        }
        None => create(tx, &enrolled.member_id, &checked, store_id, at, now_ms).await?,
    }
    // Enrolled here: the store's tills get the member's memory-hard look-up keys.
    let member_id = resolve(&mut *tx, &enrolled.member_id)
        .await?
        .unwrap_or_else(|| enrolled.member_id.clone());
    crate::lookup_keys::attach(&mut *tx, &member_id, store_id, at).await?;
    Ok(Ok(()))
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
