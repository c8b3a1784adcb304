//! Members' e-shop favourites and recently viewed products at the till: kept as the cloud last
//! sent them, for the members whose look-up keys this store keeps, and read for the shop floor.

use omnitill_protocol::loyalty::MemberInterests;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, CoreResult};

/// Keeps a member's interests as the cloud sent them; both lists empty forgets them.
pub fn apply_interests(
    conn: &Connection,
    interests: &MemberInterests,
    now_ms: i64,
) -> CoreResult<()> {
    if interests.favourites.is_empty() && interests.viewed.is_empty() {
        conn.prepare_cached("DELETE FROM member_interests WHERE member_id = ?1")?
            .execute([&interests.member_id])?;
        return Ok(());
    }
    let data = serde_json::to_string(interests)
        .map_err(|e| CoreError::BadInput(format!("a member's interests cannot be kept: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO member_interests (member_id, synced_at, data) VALUES (?1, ?2, ?3)
         ON CONFLICT (member_id) DO UPDATE SET synced_at = excluded.synced_at, data = excluded.data",
    )?
    .execute(params![interests.member_id, now_ms, data])?;
    Ok(())
}

/// A member's interests as this till last heard them, and when (Unix ms); `None` when the till
/// keeps none for them.
pub fn interests(conn: &Connection, member_id: &str) -> CoreResult<Option<(MemberInterests, i64)>> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT data, synced_at FROM member_interests WHERE member_id = ?1")?
        .query_row([member_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(data, synced_at)| {
        serde_json::from_str(&data)
            .map(|interests| (interests, synced_at))
            .map_err(|e| {
                CoreError::LedgerDamaged(format!("a member's interests cannot be read: {e}"))
            })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use omnitill_protocol::loyalty::{Favourite, Viewed};

    use super::*;

    #[test]
    fn interests_are_kept_replaced_and_forgotten_as_the_cloud_says() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
        let mut sent = MemberInterests {
            member_id: "m-1".into(),
            favourites: vec![Favourite {
                sku: "TEA-DDO-75g".into(),
                saved_at_ms: 1,
                price_at_save_minor: Some(48_000),
            }],
            viewed: vec![Viewed {
                sku: "TEA-ALS-150g".into(),
                viewed_at_ms: 2,
            }],
        };
        apply_interests(&conn, &sent, 10).expect("kept");
        assert_eq!(
            interests(&conn, "m-1").expect("read"),
            Some((sent.clone(), 10))
        );
        sent.viewed.clear();
        apply_interests(&conn, &sent, 20).expect("replaced");
        assert_eq!(
            interests(&conn, "m-1").expect("read"),
            Some((sent.clone(), 20)),
            "the newest lists stand, with when they came"
        );
        sent.favourites.clear();
        apply_interests(&conn, &sent, 30).expect("withdrawn");
        assert_eq!(
            interests(&conn, "m-1").expect("read"),
            None,
            "empty lists forget the member"
        );
    }
}
