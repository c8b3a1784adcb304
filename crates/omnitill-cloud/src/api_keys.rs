//! API keys for the e-shop and other systems: created with scopes, checked per route, revoked.
//!
//! A key is random, shown once, and stored only as its SHA-256 hash with a name (for people)
//! and its scopes (`scopes.rs`). A revoked key is refused with 401 from then on.

use crate::db::{Db, now_ms};
use crate::devices::{hash_secret, random_secret};
use crate::error::{CloudError, CloudResult};
use crate::scopes::{self, Scope};

/// A key as brand IT sees it in `api-key list`: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// Creates a key with `scopes`; returns it (shown once).
pub async fn create(db: &Db, name: &str, scopes: &[Scope]) -> CloudResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(CloudError::BadRequest(
            "a key's name is 1 to 80 characters".into(),
        ));
    }
    if scopes.is_empty() {
        return Err(CloudError::BadRequest(
            "a key needs at least one scope".into(),
        ));
    }
    let key = format!("otk_{}", random_secret(40));
    sqlx::query("INSERT INTO api_key (key_hash, name, created_at, scopes) VALUES ($1, $2, $3, $4)")
        .bind(hash_secret(&key))
        .bind(name)
        .bind(now_ms())
        .bind(scopes::encode(scopes))
        .execute(&db.write)
        .await?;
    Ok(key)
}

/// Checks a key and that it holds `needed`: 401 for an unknown or revoked key, 403 in words
/// for a key without the scope.
pub async fn check(db: &Db, key: &str, needed: Scope) -> CloudResult<()> {
    let row: Option<(Option<i64>, String)> =
        sqlx::query_as("SELECT revoked_at, scopes FROM api_key WHERE key_hash = $1")
            .bind(hash_secret(key))
            .fetch_optional(&db.read)
            .await?;
    match row {
        Some((None, held)) => scopes::require(&scopes::decode(&held), needed),
        Some((Some(_), _)) => Err(CloudError::Unauthorized("the API key was revoked".into())),
        None => Err(CloudError::Unauthorized("the API key is not known".into())),
    }
}

/// What `revoke` is given: the key itself, or the name of the keys to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which<'a> {
    Key(&'a str),
    Name(&'a str),
}

/// Revokes the key, or every active key with the name. Returns how many were revoked; none is
/// a `NotFound` in words.
pub async fn revoke(db: &Db, which: Which<'_>) -> CloudResult<u64> {
    let (sql, value, what) = match which {
        Which::Key(key) => (
            "UPDATE api_key SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL",
            hash_secret(key),
            "an active API key like that".to_owned(),
        ),
        Which::Name(name) => (
            "UPDATE api_key SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
            name.trim().to_owned(),
            format!("an active API key named {:?}", name.trim()),
        ),
    };
    let done = sqlx::query(sql)
        .bind(now_ms())
        .bind(value)
        .execute(&db.write)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CloudError::NotFound(what));
    }
    Ok(done.rows_affected())
}

/// Every key, oldest first.
pub async fn list(db: &Db) -> CloudResult<Vec<KeyInfo>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT name, scopes, created_at, revoked_at FROM api_key ORDER BY created_at, name",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, held, created_at_ms, revoked_at_ms)| KeyInfo {
            name,
            scopes: scopes::decode(&held),
            created_at_ms,
            revoked_at_ms,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::MIGRATIONS;

    fn temp_path() -> String {
        std::env::temp_dir()
            .join(format!(
                "omnitill-keys-test-{}.sqlite3",
                uuid::Uuid::now_v7().simple()
            ))
            .display()
            .to_string()
    }

    #[tokio::test]
    async fn a_key_made_before_scopes_keeps_every_scope_after_the_upgrade() {
        let path = temp_path();
        // A cloud as it was before migration 0009, with an e-shop's key.
        sqlx::any::install_default_drivers();
        let old = sqlx::AnyPool::connect(&format!("sqlite://{path}?mode=rwc"))
            .await
            .expect("a new SQLite file");
        sqlx::raw_sql(
            "CREATE TABLE schema_migration (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&old)
        .await
        .expect("the migration table");
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 < 9) {
            sqlx::raw_sql(*sql)
                .execute(&old)
                .await
                .expect("an old migration");
            sqlx::query("INSERT INTO schema_migration VALUES ($1, $2, 0)")
                .bind(*version)
                .bind(*name)
                .execute(&old)
                .await
                .expect("recorded");
        }
        sqlx::query("INSERT INTO api_key (key_hash, name, created_at) VALUES ($1, 'shop', 0)")
            .bind(hash_secret("otk_OLD"))
            .execute(&old)
            .await
            .expect("an old key");
        old.close().await;

        let db = Db::connect(&path).await.expect("the upgrade migrates");
        for scope in Scope::ALL {
            assert!(
                check(&db, "otk_OLD", scope).await.is_ok(),
                "an e-shop must keep working after the upgrade: the old key lacks {scope:?}"
            );
        }
        let fresh = create(&db, "dashboard", &[Scope::Read])
            .await
            .expect("a new key");
        assert!(check(&db, &fresh, Scope::Read).await.is_ok());
        assert!(
            matches!(
                check(&db, &fresh, Scope::Loyalty).await,
                Err(CloudError::Forbidden(_))
            ),
            "a new key holds only what it was given"
        );
        assert_eq!(revoke(&db, Which::Name("shop")).await.expect("revoked"), 1);
        assert!(
            matches!(
                check(&db, "otk_OLD", Scope::Read).await,
                Err(CloudError::Unauthorized(_))
            ),
            "a revoked key is refused whatever its scopes"
        );
        assert!(
            matches!(
                revoke(&db, Which::Name("shop")).await,
                Err(CloudError::NotFound(_))
            ),
            "nothing left to revoke is said, not ignored"
        );
        let _ = std::fs::remove_file(&path);
    }
}
