//! The shop floor at the till: which products sell together, as the cloud computes it from
//! both channels' sales (kept here, read-only), and the member's view that draws on it
//! (`member_view`).

pub mod member_view;

use omnitill_protocol::floor::BoughtTogether;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, CoreResult};

/// Keeps a product's companions as the cloud sent them; an empty list forgets them.
pub fn apply_bought_together(conn: &Connection, together: &BoughtTogether) -> CoreResult<()> {
    if together.companions.is_empty() {
        conn.prepare_cached("DELETE FROM bought_together WHERE sku = ?1")?
            .execute([&together.sku])?;
        return Ok(());
    }
    let data = serde_json::to_string(together)
        .map_err(|e| CoreError::BadInput(format!("companions cannot be kept: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO bought_together (sku, data) VALUES (?1, ?2)
         ON CONFLICT (sku) DO UPDATE SET data = excluded.data",
    )?
    .execute(params![together.sku, data])?;
    Ok(())
}

/// A product's companions, most frequent first; `None` when the till knows none.
pub fn bought_together(conn: &Connection, sku: &str) -> CoreResult<Option<BoughtTogether>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM bought_together WHERE sku = ?1")?
        .query_row([sku], |row| row.get(0))
        .optional()?;
    data.map(|data| {
        serde_json::from_str(&data)
            .map_err(|e| CoreError::LedgerDamaged(format!("companions cannot be read: {e}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use omnitill_protocol::floor::Companion;

    use super::*;

    #[test]
    fn companions_are_kept_replaced_and_forgotten_as_the_cloud_says() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
        let mut sent = BoughtTogether {
            sku: "TEA-DDO-75g".into(),
            companions: vec![Companion {
                sku: "CUP-01".into(),
                sales: 312,
            }],
        };
        apply_bought_together(&conn, &sent).expect("kept");
        assert_eq!(
            bought_together(&conn, "TEA-DDO-75g").expect("read"),
            Some(sent.clone())
        );
        sent.companions.clear();
        apply_bought_together(&conn, &sent).expect("withdrawn");
        assert_eq!(bought_together(&conn, "TEA-DDO-75g").expect("read"), None);
    }
}
