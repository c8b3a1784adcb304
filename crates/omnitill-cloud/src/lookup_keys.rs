//! Members' phone and e-mail look-up keys for tills: memory-hard hashes computed once per
//! member, and sent only to the stores whose tills need them (migration 0010).
//!
//! - **Computed once.** `ensure` hashes a member's phone and e-mail with argon2id
//!   (`omnitill_core::lookup_keys`, about 5 ms and 12 MiB each, on a blocking thread) the first
//!   time a store needs them, and keeps them in `member_lookup_key`; publishing a member never
//!   hashes again. The brand-wide member feed carries no phone or e-mail hash at all.
//! - **Only where the member shops.** `attach` records that a member shopped at a store, enrolled
//!   there or was looked up there (`member_store`), and publishes their keys in that store's
//!   scope of the feed (`member_lookup_keys`). A store keeps the keys of its
//!   `KEYED_MEMBERS_PER_STORE` newest members: attaching one more withdraws the oldest (the
//!   same change with both hashes `None`), who is then found online. The member's e-shop
//!   favourites (`interests`) follow the keys: published with them, withdrawn with them. Two attaches racing on
//!   PostgreSQL may leave a store one or two over the bound until its next attach trims it.
//! - **Online look-up.** A till asks by the normalised key it was given (`till_look_up`); the
//!   cloud finds the member by its clear, indexed column, attaches them to the till's store and
//!   answers with their keys, so the till finds them offline next time. A till of an earlier
//!   version asks by its keyed hash (`members::find_by_hash`).

use omnitill_core::lookup_keys::{self, KEYED_MEMBERS_PER_STORE};
use omnitill_core::loyalty::{self, KeyKind};
use omnitill_protocol::loyalty::{CachedMember, MemberLookupKeys, MemberLookupRequest};
use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use crate::db::{Db, now_ms};
use crate::devices::Device;
use crate::error::{CloudError, CloudResult};
use crate::feed;
use crate::members;

/// A member's phone and e-mail look-up hashes (either may be absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredKeys {
    pub phone_hash: Option<String>,
    pub email_hash: Option<String>,
}

/// The member's look-up keys, computed and stored the first time they are asked for. `None`
/// when no such member exists.
pub async fn ensure(tx: &mut AnyConnection, member_id: &str) -> CloudResult<Option<StoredKeys>> {
    let stored: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT phone_hash, email_hash FROM member_lookup_key WHERE member_id = $1")
            .bind(member_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((phone_hash, email_hash)) = stored {
        return Ok(Some(StoredKeys {
            phone_hash,
            email_hash,
        }));
    }
    let clear: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT phone, email FROM member WHERE id = $1")
            .bind(member_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((phone, email)) = clear else {
        return Ok(None);
    };
    let secrets = members::secrets(&mut *tx).await?;
    let keys = compute(secrets.member_key, phone, email).await?;
    sqlx::query(
        "INSERT INTO member_lookup_key (member_id, phone_hash, email_hash, computed_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (member_id) DO NOTHING",
    )
    .bind(member_id)
    .bind(keys.phone_hash.as_deref())
    .bind(keys.email_hash.as_deref())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(Some(keys))
}

/// Hashes a phone and an e-mail on a blocking thread (argon2id takes milliseconds of CPU).
pub async fn compute(
    member_key: Vec<u8>,
    phone: Option<String>,
    email: Option<String>,
) -> CloudResult<StoredKeys> {
    let hashed = tokio::task::spawn_blocking(move || {
        let hash = |kind, value: Option<String>| {
            value
                .map(|v| lookup_keys::key_hash(&member_key, kind, &v))
                .transpose()
        };
        Ok::<_, omnitill_core::CoreError>(StoredKeys {
            phone_hash: hash(KeyKind::Phone, phone)?,
            email_hash: hash(KeyKind::Email, email)?,
        })
    })
    .await
    .map_err(|e| CloudError::Internal(format!("hashing look-up keys stopped: {e}")))?;
    hashed.map_err(|e| CloudError::Internal(format!("look-up keys cannot be hashed: {e}")))
}

/// Records that `member_id` shopped, enrolled or was looked up at `store_id` at `at_ms`, and
/// makes sure the store's tills have the member's look-up keys, withdrawing the store's oldest
/// keyed members beyond `KEYED_MEMBERS_PER_STORE`. In the caller's transaction.
pub async fn attach(
    tx: &mut AnyConnection,
    member_id: &str,
    store_id: &str,
    at_ms: i64,
) -> CloudResult<()> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT last_at, keyed FROM member_store WHERE member_id = $1 AND store_id = $2",
    )
    .bind(member_id)
    .bind(store_id)
    .fetch_optional(&mut *tx)
    .await?;
    let keyed = match row {
        None => {
            sqlx::query(
                "INSERT INTO member_store (member_id, store_id, last_at, keyed)
                 VALUES ($1, $2, $3, 0) ON CONFLICT (member_id, store_id) DO NOTHING",
            )
            .bind(member_id)
            .bind(store_id)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
            false
        }
        Some((last_at, keyed)) => {
            if at_ms > last_at {
                sqlx::query(
                    "UPDATE member_store SET last_at = $3
                     WHERE member_id = $1 AND store_id = $2 AND last_at < $3",
                )
                .bind(member_id)
                .bind(store_id)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
            }
            keyed != 0
        }
    };
    if keyed {
        return Ok(());
    }
    let Some(keys) = ensure(&mut *tx, member_id).await? else {
        return Ok(());
    };
    if keys.phone_hash.is_none() && keys.email_hash.is_none() {
        return Ok(());
    }
    sqlx::query("UPDATE member_store SET keyed = 1 WHERE member_id = $1 AND store_id = $2")
        .bind(member_id)
        .bind(store_id)
        .execute(&mut *tx)
        .await?;
    publish(tx, store_id, member_id, keys).await?;
    // The floor sees the member's e-shop favourites wherever the tills can find them.
    let interests = crate::interests::current(tx, member_id).await?;
    if !interests.favourites.is_empty() || !interests.viewed.is_empty() {
        crate::interests::publish_to(tx, store_id, interests).await?;
    }
    withdraw_oldest(tx, store_id).await
}

/// Withdraws the keys of a store's keyed members beyond the newest `KEYED_MEMBERS_PER_STORE`.
async fn withdraw_oldest(tx: &mut AnyConnection, store_id: &str) -> CloudResult<()> {
    let keyed: Vec<(String,)> = sqlx::query_as(
        "SELECT member_id FROM member_store WHERE store_id = $1 AND keyed = 1
         ORDER BY last_at DESC, member_id",
    )
    .bind(store_id)
    .fetch_all(&mut *tx)
    .await?;
    for (member_id,) in keyed.into_iter().skip(KEYED_MEMBERS_PER_STORE) {
        sqlx::query("UPDATE member_store SET keyed = 0 WHERE member_id = $1 AND store_id = $2")
            .bind(&member_id)
            .bind(store_id)
            .execute(&mut *tx)
            .await?;
        publish(tx, store_id, &member_id, StoredKeys::default()).await?;
        let withdrawn = omnitill_protocol::loyalty::MemberInterests {
            member_id: member_id.clone(),
            favourites: Vec::new(),
            viewed: Vec::new(),
        };
        crate::interests::publish_to(tx, store_id, withdrawn).await?;
    }
    Ok(())
}

/// Publishes a member's keys (or, both `None`, their withdrawal) in a store's feed scope.
async fn publish(
    tx: &mut AnyConnection,
    store_id: &str,
    member_id: &str,
    keys: StoredKeys,
) -> CloudResult<()> {
    let change = Change::MemberLookupKeys(MemberLookupKeys {
        member_id: member_id.to_owned(),
        phone_hash: keys.phone_hash,
        email_hash: keys.email_hash,
    });
    feed::publish(tx, store_id, "member_lookup_keys", member_id, &change).await?;
    Ok(())
}

/// A till looking up a member its cache does not hold: by the normalised key it sends, or
/// (a till of an earlier version) by its keyed hash. The member is attached to the till's
/// store, and the answer carries their look-up keys.
pub async fn till_look_up(
    db: &Db,
    device: &Device,
    request: &MemberLookupRequest,
) -> CloudResult<CachedMember> {
    let kind = match request.kind.as_str() {
        "phone" => KeyKind::Phone,
        "email" => KeyKind::Email,
        "card" => KeyKind::Card,
        other => {
            return Err(CloudError::BadRequest(format!(
                "look-up kind {:?} is not phone, email or card",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let mut tx = db.write.begin().await?;
    let id = match request.key.as_deref() {
        Some(key) => {
            let (phone, email, card) = match kind {
                KeyKind::Phone => (Some(key), None, None),
                KeyKind::Email => (None, Some(key), None),
                KeyKind::Card => (None, None, Some(key)),
            };
            members::find(&mut tx, phone, email, card).await?
        }
        None => {
            let hash = request.hash.as_str();
            if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CloudError::BadRequest(
                    "send the member's phone, e-mail or card number as `key`, or a look-up hash of 32 hex digits"
                        .into(),
                ));
            }
            members::find_by_hash(&mut tx, kind, hash).await?
        }
    };
    let id = id.ok_or_else(|| CloudError::NotFound("a member with that key".into()))?;
    let id = members::resolve(&mut tx, &id).await?.unwrap_or(id);
    let now = db.now_ms();
    attach(&mut tx, &id, &device.store_id, now).await?;
    let secrets = members::secrets(&mut tx).await?;
    let mut member = members::cached(&mut tx, &secrets, &id, now)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))?;
    let keys = ensure(&mut tx, &id).await?.unwrap_or_default();
    member.phone_hash = keys.phone_hash;
    member.email_hash = keys.email_hash;
    tx.commit().await?;
    Ok(member)
}

/// The card look-up hash of a card number (the fast keyed hash; see
/// `omnitill_core::lookup_keys` for why a card needs no memory-hard hash).
pub fn card_hash(member_key: &[u8], card_no: &str) -> String {
    loyalty::lookup_hash(member_key, KeyKind::Card, card_no)
}
