//! The brand's member secrets (the look-up key, the QR signing key) and its loyalty rules:
//! the current rules, every version published (a till's sale names the version it earned by),
//! their checks, and their publication to every till.

use omnitill_core::loyalty;
use omnitill_protocol::loyalty::{LoyaltyRules, MemberKeys, PointsRounding, TierRule};
use omnitill_protocol::pull::Change;
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sqlx::AnyConnection;

use crate::db::{Db, now_ms};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};

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

pub(crate) async fn put_secret(tx: &mut AnyConnection, name: &str, value: &str) -> CloudResult<()> {
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
pub(crate) async fn write_rules(tx: &mut AnyConnection, rules: &LoyaltyRules) -> CloudResult<()> {
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
