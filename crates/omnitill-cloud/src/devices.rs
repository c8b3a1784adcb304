//! Stores, tills and their credentials: enrolment codes (issued, revoked, rate-limited per
//! source address by `enrolment_limit`), device tokens, revocation. API keys are in `api_keys`.
//!
//! Secrets (enrolment codes, tokens, API keys) are random, shown once, and stored only as
//! SHA-256 hashes, so a copy of the database grants no access. A device token opens exactly
//! one store; a revoked token is refused with `revoked`, which the till shows in words.

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::{Db, now_ms};
use crate::error::{CloudError, CloudResult};
use crate::till_identity;

/// How long an enrolment code stays valid.
pub const ENROLMENT_CODE_TTL_MS: i64 = 24 * 3_600_000;

const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// A random secret of `len` characters (letters and digits without look-alikes).
pub fn random_secret(len: usize) -> String {
    random_text(PREFIX_ALPHABET, len)
}

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A store as the cloud keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Store {
    pub id: String,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub currency_exponent: i64,
    pub tax_mode: String,
    pub cash_rounding_minor: i64,
    pub utc_offset_minutes: i64,
}

/// An authenticated till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub store_id: String,
    pub last_applied_seq: i64,
}

pub struct NewStore<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub currency: &'a str,
    pub currency_exponent: i64,
    pub tax_mode: &'a str,
    pub cash_rounding_minor: i64,
    pub utc_offset_minutes: i64,
}

/// Creates a store and publishes its settings to its feed.
pub async fn create_store(db: &Db, new: &NewStore<'_>) -> CloudResult<Store> {
    let code = new.code.trim();
    if code.is_empty()
        || code.len() > 16
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(CloudError::BadRequest(
            "a store code is 1 to 16 letters, digits or dashes".into(),
        ));
    }
    if new.name.trim().is_empty() {
        return Err(CloudError::BadRequest("a store needs a name".into()));
    }
    if !matches!(new.tax_mode, "inclusive" | "exclusive") {
        return Err(CloudError::BadRequest(
            "tax mode is inclusive or exclusive".into(),
        ));
    }
    let store = Store {
        id: uuid::Uuid::now_v7().to_string(),
        code: code.to_owned(),
        name: new.name.trim().to_owned(),
        currency: new.currency.to_owned(),
        currency_exponent: new.currency_exponent,
        tax_mode: new.tax_mode.to_owned(),
        cash_rounding_minor: new.cash_rounding_minor,
        utc_offset_minutes: new.utc_offset_minutes,
    };
    let mut tx = db.write.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO store (id, code, name, currency, currency_exponent, tax_mode,
             cash_rounding_minor, utc_offset_minutes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (code) DO NOTHING",
    )
    .bind(&store.id)
    .bind(&store.code)
    .bind(&store.name)
    .bind(&store.currency)
    .bind(store.currency_exponent)
    .bind(&store.tax_mode)
    .bind(store.cash_rounding_minor)
    .bind(store.utc_offset_minutes)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(CloudError::BadRequest(format!(
            "store code {code} is taken"
        )));
    }
    let change = omnitill_protocol::pull::Change::Store {
        name: store.name.clone(),
        currency: store.currency.clone(),
        currency_exponent: store.currency_exponent as u32,
        tax_mode: store.tax_mode.clone(),
        cash_rounding_minor: store.cash_rounding_minor,
        utc_offset_minutes: store.utc_offset_minutes as i32,
    };
    crate::feed::publish(&mut tx, &store.id, "store", &store.id, &change).await?;
    tx.commit().await?;
    Ok(store)
}

type StoreRow = (String, String, String, String, i64, String, i64, i64);

fn store_from(row: StoreRow) -> Store {
    Store {
        id: row.0,
        code: row.1,
        name: row.2,
        currency: row.3,
        currency_exponent: row.4,
        tax_mode: row.5,
        cash_rounding_minor: row.6,
        utc_offset_minutes: row.7,
    }
}

/// Finds a store by its id or its code.
pub async fn find_store(db: &Db, id_or_code: &str) -> CloudResult<Store> {
    let row: Option<StoreRow> = sqlx::query_as(
        "SELECT id, code, name, currency, currency_exponent, tax_mode, cash_rounding_minor,
                utc_offset_minutes
         FROM store WHERE id = $1 OR code = $1",
    )
    .bind(id_or_code)
    .fetch_optional(&db.read)
    .await?;
    row.map(store_from)
        .ok_or_else(|| CloudError::NotFound(format!("store {id_or_code}")))
}

pub async fn list_stores(db: &Db) -> CloudResult<Vec<Store>> {
    let rows: Vec<StoreRow> = sqlx::query_as(
        "SELECT id, code, name, currency, currency_exponent, tax_mode, cash_rounding_minor,
                utc_offset_minutes
         FROM store ORDER BY code",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows.into_iter().map(store_from).collect())
}

/// Issues a one-time enrolment code for a store; returns the code (shown once).
pub async fn issue_enrolment_code(db: &Db, store: &str) -> CloudResult<String> {
    let store = find_store(db, store).await?;
    let code = random_text(CODE_ALPHABET, 10);
    sqlx::query("INSERT INTO enrolment_code (code_hash, store_id, expires_at) VALUES ($1, $2, $3)")
        .bind(hash_secret(&code))
        .bind(&store.id)
        .bind(db.now_ms().saturating_add(ENROLMENT_CODE_TTL_MS))
        .execute(&db.write)
        .await?;
    Ok(code)
}

/// What `revoke_enrolment_codes` is given: one code, or every unused code of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodesToRevoke<'a> {
    Code(&'a str),
    Store(&'a str),
}

/// Withdraws unused enrolment codes so they enrol nothing. Returns how many; none is a
/// `NotFound` in words (a used, expired or unknown code, or a store with no unused code).
pub async fn revoke_enrolment_codes(db: &Db, which: CodesToRevoke<'_>) -> CloudResult<u64> {
    let now = now_ms();
    let done = match which {
        CodesToRevoke::Code(code) => {
            sqlx::query(
                "UPDATE enrolment_code SET revoked_at = $1
                 WHERE code_hash = $2 AND used_at IS NULL AND revoked_at IS NULL
                   AND expires_at >= $1",
            )
            .bind(now)
            .bind(hash_secret(&code.trim().to_ascii_uppercase()))
            .execute(&db.write)
            .await?
        }
        CodesToRevoke::Store(store) => {
            let store = find_store(db, store).await?;
            sqlx::query(
                "UPDATE enrolment_code SET revoked_at = $1
                 WHERE store_id = $2 AND used_at IS NULL AND revoked_at IS NULL
                   AND expires_at >= $1",
            )
            .bind(now)
            .bind(&store.id)
            .execute(&db.write)
            .await?
        }
    };
    if done.rows_affected() == 0 {
        return Err(CloudError::NotFound(match which {
            CodesToRevoke::Code(_) => "an unused, unexpired enrolment code like that".into(),
            CodesToRevoke::Store(store) => format!("an unused enrolment code of store {store}"),
        }));
    }
    Ok(done.rows_affected())
}

/// The highest `first_seq` an enrolment accepts.
const MAX_FIRST_SEQ: i64 = 1 << 52;

/// Enrols a till with a one-time code. Returns the device, its store, token and prefix.
/// `first_seq` is the first operation the till will push under this enrolment (1 for a new
/// till; later for a till enrolled again with operations still to push), so its outbox goes on
/// without a gap. `source` is the address the attempt came from: a well-formed attempt counts
/// against its limit (`enrolment_limit`) unless it enrols.
pub async fn enrol(
    db: &Db,
    source: &str,
    code: &str,
    device_name: &str,
    first_seq: i64,
    till: Option<&omnitill_protocol::enrol::TillIdentity>,
) -> CloudResult<omnitill_protocol::enrol::EnrolResponse> {
    if !(1..=MAX_FIRST_SEQ).contains(&first_seq) {
        return Err(CloudError::BadRequest(format!(
            "first_seq {first_seq} is out of range (1 to {MAX_FIRST_SEQ})"
        )));
    }
    let name = device_name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(CloudError::BadRequest(
            "a till name is 1 to 80 characters".into(),
        ));
    }
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 64 {
        return Err(CloudError::BadEnrolmentCode(
            "the enrolment code is not valid".into(),
        ));
    }
    let now = db.now_ms();
    let attempt = crate::enrolment_limit::begin(db, source, now).await?;
    let code_hash = hash_secret(&code);
    let device_id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.write.begin().await?;
    // Claim the code first, on the condition that it is unused and current: of two enrolments
    // with one code at once, PostgreSQL lets the second update wait for the first and then
    // finds the code used; on SQLite the one writer runs them in turn.
    let claimed: Option<(String,)> = sqlx::query_as(
        "UPDATE enrolment_code SET used_at = $1, device_id = $2
         WHERE code_hash = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at >= $1
         RETURNING store_id",
    )
    .bind(now)
    .bind(&device_id)
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((store_id,)) = claimed else {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT used_at FROM enrolment_code WHERE code_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let why = match row {
            None => "the enrolment code is not valid",
            Some((Some(_),)) => "the enrolment code was already used",
            Some((None,)) => "the enrolment code has expired",
        };
        return Err(CloudError::BadEnrolmentCode(why.into()));
    };
    let till_id = match till {
        Some(identity) => Some(till_identity::bind_at_enrolment(&mut tx, identity).await?),
        None => None,
    };
    let token = format!("otd_{}", random_text(PREFIX_ALPHABET, 40));
    let mut prefix = None;
    for _ in 0..20 {
        let candidate = random_text(PREFIX_ALPHABET, 4);
        if !till_identity::prefix_free(&mut tx, &candidate).await? {
            continue;
        }
        // A prefix another enrolment took meanwhile is skipped, not a failed statement.
        let inserted = sqlx::query(
            "INSERT INTO device (id, store_id, name, token_hash, receipt_prefix, created_at,
                 last_applied_seq, till_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (receipt_prefix) DO NOTHING",
        )
        .bind(&device_id)
        .bind(&store_id)
        .bind(name)
        .bind(hash_secret(&token))
        .bind(&candidate)
        .bind(now)
        .bind(first_seq - 1)
        .bind(till_id.clone())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            prefix = Some(candidate);
            break;
        }
    }
    let Some(prefix) = prefix else {
        return Err(CloudError::Internal(
            "no free receipt prefix was found".into(),
        ));
    };
    if let (Some(till_id), Some(identity)) = (&till_id, till) {
        till_identity::grant_prefixes(&mut tx, till_id, &prefix, &identity.receipt_prefix).await?;
    }
    let (store_name,): (String,) = sqlx::query_as("SELECT name FROM store WHERE id = $1")
        .bind(&store_id)
        .fetch_one(&mut *tx)
        .await?;
    crate::enrolment_limit::succeeded(&mut tx, &attempt).await?;
    tx.commit().await?;
    Ok(omnitill_protocol::enrol::EnrolResponse {
        device_id,
        store_id,
        store_name,
        token,
        receipt_prefix: prefix,
    })
}

/// Finds the device a bearer token belongs to.
pub async fn authenticate(db: &Db, token: &str) -> CloudResult<Device> {
    let row: Option<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, store_id, last_applied_seq, revoked_at FROM device WHERE token_hash = $1",
    )
    .bind(hash_secret(token))
    .fetch_optional(&db.read)
    .await?;
    match row {
        None => Err(CloudError::Unauthorized(
            "the device token is not known".into(),
        )),
        Some((_, _, _, Some(_))) => Err(CloudError::Revoked),
        Some((id, store_id, last_applied_seq, None)) => Ok(Device {
            id,
            store_id,
            last_applied_seq,
        }),
    }
}

/// Revokes a device: its token is refused from now on.
pub async fn revoke(db: &Db, device_id: &str) -> CloudResult<()> {
    let done =
        sqlx::query("UPDATE device SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(device_id)
            .execute(&db.write)
            .await?;
    if done.rows_affected() == 0 {
        return Err(CloudError::NotFound(format!("active device {device_id}")));
    }
    Ok(())
}
