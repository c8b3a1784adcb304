//! The member cache's writes from the feed (`apply_*`, called by `sync::apply_pull` inside its
//! transaction): the brand's keys and rules, members, their look-up keys, merges, conflicts
//! and the offline allowance; and the look-up indexes a large first download builds last.

use omnitill_protocol::loyalty::{
    Allowance, CachedMember, ConflictNotice, LoyaltyRules, MemberKeys, MemberLookupKeys,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, CoreResult};
use crate::lookup_keys;
use crate::loyalty;

/// Stores the brand's keys from the feed.
pub fn apply_keys(conn: &Connection, keys: &MemberKeys) -> CoreResult<()> {
    if loyalty::unhex(&keys.member_key_hex).is_none()
        || loyalty::unhex(&keys.qr_public_key_hex).is_none()
    {
        return Err(CoreError::BadInput(
            "the cloud sent member keys that are not hex".to_owned(),
        ));
    }
    conn.execute(
        "INSERT INTO member_keys (id, member_key_hex, qr_public_key_hex) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET member_key_hex = excluded.member_key_hex,
             qr_public_key_hex = excluded.qr_public_key_hex",
        params![keys.member_key_hex, keys.qr_public_key_hex],
    )?;
    Ok(())
}

/// Stores the brand's loyalty rules from the feed.
pub fn apply_rules(conn: &Connection, rules: &LoyaltyRules) -> CoreResult<()> {
    let text = serde_json::to_string(rules)
        .map_err(|e| CoreError::BadInput(format!("loyalty rules cannot be stored: {e}")))?;
    conn.execute(
        "INSERT INTO loyalty_rules (id, rules) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET rules = excluded.rules",
        [text],
    )?;
    Ok(())
}

/// Caches a member from the feed. `as_of_seq` is the page's write checkpoint: the balance
/// includes this till's operations up to it, so its pending entries up to it are dropped.
/// Phone and e-mail hashes in `member` are ignored: the old fast hashes are never stored, and
/// the memory-hard ones come with `apply_lookup_keys`.
pub fn apply_member(
    conn: &Connection,
    member: &CachedMember,
    as_of_seq: i64,
    now_ms: i64,
) -> CoreResult<()> {
    let coupons = serde_json::to_string(&member.coupons)
        .map_err(|e| CoreError::BadInput(format!("a member's coupons cannot be stored: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO member (id, card_hash, phone_hash, email_hash, phone_masked, email_masked,
             name, tier, balance, as_of_seq, synced_at, coupons, local_only)
         VALUES (?1, ?2, NULL, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)
         ON CONFLICT (id) DO UPDATE SET card_hash = excluded.card_hash,
             phone_hash = NULL, email_hash = NULL,
             phone_masked = excluded.phone_masked, email_masked = excluded.email_masked,
             name = excluded.name, tier = excluded.tier, balance = excluded.balance,
             as_of_seq = excluded.as_of_seq, synced_at = excluded.synced_at,
             coupons = excluded.coupons, local_only = 0",
    )?
    .execute(params![
        member.id,
        member.card_hash,
        member.phone_masked,
        member.email_masked,
        member.name,
        member.tier,
        member.balance,
        as_of_seq,
        now_ms,
        coupons,
    ])?;
    conn.prepare_cached("DELETE FROM member_points_pending WHERE member_id = ?1 AND op_seq <= ?2")?
        .execute(params![member.id, as_of_seq])?;
    conn.prepare_cached("DELETE FROM coupon_use_pending WHERE member_id = ?1 AND op_seq <= ?2")?
        .execute(params![member.id, as_of_seq])?;
    Ok(())
}

/// Stores a member's memory-hard phone and e-mail hashes for look-up at this store, or (both
/// `None`) forgets them: the member is then found online or by card. Hashes that are not 32
/// hex digits are refused.
pub fn apply_lookup_keys(conn: &Connection, keys: &MemberLookupKeys) -> CoreResult<()> {
    let well_formed = |hash: &Option<String>| {
        hash.as_deref().is_none_or(|h| {
            h.len() == 2 * lookup_keys::HASH_BYTES && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    if !well_formed(&keys.phone_hash) || !well_formed(&keys.email_hash) {
        return Err(CoreError::BadInput(format!(
            "the cloud sent look-up hashes for member {} that are not 32 hex digits",
            keys.member_id
        )));
    }
    if keys.phone_hash.is_none() && keys.email_hash.is_none() {
        conn.prepare_cached("DELETE FROM member_lookup WHERE member_id = ?1")?
            .execute([&keys.member_id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO member_lookup (member_id, phone_hash, email_hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (member_id) DO UPDATE SET phone_hash = excluded.phone_hash,
             email_hash = excluded.email_hash",
    )?
    .execute(params![keys.member_id, keys.phone_hash, keys.email_hash])?;
    Ok(())
}

/// Whether this till keeps `member_id`'s look-up keys: the member shops at this store or was
/// looked up here, so the feed also brings their e-shop lists.
pub fn keeps_lookup_keys(conn: &Connection, member_id: &str) -> CoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM member_lookup WHERE member_id = ?1")?
        .query_row([member_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Members whose phone or e-mail this till can look up offline.
pub fn keyed_count(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM member_lookup", [], |row| row.get(0))?)
}

/// Forgets a member the cloud merged into another or erased. Entries this till has not had
/// confirmed follow the surviving member.
pub fn apply_member_gone(conn: &Connection, id: &str, merged_into: Option<&str>) -> CoreResult<()> {
    conn.execute("DELETE FROM member WHERE id = ?1", [id])?;
    conn.execute("DELETE FROM member_lookup WHERE member_id = ?1", [id])?;
    if let Some(survivor) = merged_into {
        conn.execute(
            "UPDATE member_points_pending SET member_id = ?2 WHERE member_id = ?1",
            params![id, survivor],
        )?;
        conn.execute(
            "UPDATE coupon_use_pending SET member_id = ?2 WHERE member_id = ?1",
            params![id, survivor],
        )?;
    }
    Ok(())
}

/// Records a conflict (or its resolution) from the feed for the review list.
pub fn apply_conflict(conn: &Connection, notice: &ConflictNotice) -> CoreResult<()> {
    conn.execute(
        "INSERT INTO member_conflict (id, conflict, member_id, summary, created_at, resolved_at,
             note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET summary = excluded.summary,
             resolved_at = COALESCE(excluded.resolved_at, member_conflict.resolved_at),
             note = COALESCE(excluded.note, member_conflict.note)",
        params![
            notice.id,
            notice.conflict,
            notice.member_id,
            notice.summary,
            notice.created_at_ms,
            notice.resolved_at_ms,
            notice.note,
        ],
    )?;
    Ok(())
}

/// Records this till's allowance as of the page's write checkpoint.
pub fn apply_allowance(conn: &Connection, allowance: &Allowance, as_of_seq: i64) -> CoreResult<()> {
    conn.execute(
        "UPDATE sync_state SET allowance_granted = ?1, allowance_used = ?2,
             allowance_as_of_seq = ?3
         WHERE id = 1",
        params![allowance.granted_points, allowance.used_points, as_of_seq],
    )?;
    Ok(())
}

/// Whether a pull page's allowance differs from the one stored (a page that changes nothing
/// else must still record it).
pub fn allowance_changed(conn: &Connection, allowance: Option<&Allowance>) -> CoreResult<bool> {
    let Some(allowance) = allowance else {
        return Ok(false);
    };
    let stored: Option<(i64, i64)> = conn
        .prepare_cached("SELECT allowance_granted, allowance_used FROM sync_state WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(stored != Some((allowance.granted_points, allowance.used_points)))
}

/// Members in the cache.
pub fn cached_count(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM member", [], |row| row.get(0))?)
}

/// A page bringing at least this many members into an empty cache starts a deferred-index
/// download.
pub const DEFER_INDEXES_FROM: usize = 1_000;

/// The member cache's look-up indexes, as migration 0005 creates them.
const LOOKUP_INDEXES: [(&str, &str); 3] = [
    (
        "member_by_card",
        "CREATE INDEX IF NOT EXISTS member_by_card ON member (card_hash) WHERE card_hash IS NOT NULL",
    ),
    (
        "member_by_phone",
        "CREATE INDEX IF NOT EXISTS member_by_phone ON member (phone_hash) WHERE phone_hash IS NOT NULL",
    ),
    (
        "member_by_email",
        "CREATE INDEX IF NOT EXISTS member_by_email ON member (email_hash) WHERE email_hash IS NOT NULL",
    ),
];

/// At the start of a first download that brings many members (`brought` on this page, into
/// an empty cache), drops the look-up indexes: the hashes are random, so keeping three indexes
/// in step row by row rewrites most of their pages at every page's commit, which is most of a
/// large first download. `build_lookup_indexes` creates them again, sorted, once the download
/// is complete. Runs inside the page's transaction, so a crash leaves either both or neither.
/// Until then a look-up reads the whole (partial) cache: slower, never wrong.
pub(crate) fn defer_lookup_indexes(conn: &Connection, brought: usize) -> CoreResult<()> {
    if brought < DEFER_INDEXES_FROM {
        return Ok(());
    }
    let cached: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM member)")?
        .query_row([], |row| row.get(0))?;
    if cached {
        return Ok(());
    }
    for (name, _) in LOOKUP_INDEXES {
        conn.execute(&format!("DROP INDEX IF EXISTS {name}"), [])?;
    }
    Ok(())
}

/// Creates the look-up indexes a first download deferred; nothing when they exist.
pub(crate) fn build_lookup_indexes(conn: &Connection) -> CoreResult<()> {
    for (_, create) in LOOKUP_INDEXES {
        conn.execute(create, [])?;
    }
    Ok(())
}
