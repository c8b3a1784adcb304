//! The catalog: products, barcodes, prices and search.

use super::*;

#[test]
fn short_grams_cover_cjk_characters_bigrams_and_words() {
    assert_eq!(
        short_grams("烏龍茶 Oolong 150g", "TEA-001"),
        "烏 龍 烏龍 茶 龍茶 oolong 150g tea 001"
    );
    assert_eq!(short_grams("T恤", "X"), "t 恤 x");
}

fn record(sku: &str, name: &str, codes: &[&str], price: Minor) -> ProductRecord {
    ProductRecord {
        sku: sku.into(),
        name: name.into(),
        tax_class: "standard".into(),
        active: true,
        barcodes: codes.iter().map(|c| (*c).to_owned()).collect(),
        prices: vec![(DateTime::<Utc>::UNIX_EPOCH, price)],
    }
}

/// Everything a catalog write leaves behind, in a comparable form.
fn catalog_state(conn: &Connection) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT sku || '|' || name || '|' || tax_class || '|' || active FROM product ORDER BY sku",
        "SELECT b.code || '>' || p.sku FROM barcode b JOIN product p ON p.id = b.product_id ORDER BY b.code",
        "SELECT p.sku || '@' || r.effective_from || '=' || r.price_minor FROM price r
         JOIN product p ON p.id = r.product_id ORDER BY p.sku, r.effective_from",
    ] {
        let mut statement = conn.prepare(sql).expect("a catalog query");
        let found = statement
            .query_map([], |row| row.get::<_, String>(0))
            .expect("rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("text");
        rows.extend(found);
    }
    let at = Utc::now();
    for query in [
        "烏",
        "烏龍",
        "oolong",
        "oo",
        "TEA-00",
        "jasmine",
        "茉莉花",
        "ba",
    ] {
        let hits: Vec<String> = search(conn, query, at)
            .expect("a search")
            .into_iter()
            .map(|hit| hit.sku)
            .collect();
        rows.push(format!("search {query}: {hits:?}"));
    }
    rows
}

#[test]
fn a_large_batch_of_new_products_is_written_whole_and_found() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = crate::db::open_ledger(&dir.path().join("l.sqlite3")).expect("a ledger");
    conn.execute_batch("INSERT INTO tax_class (id, name, rate_bp) VALUES ('standard', 'VAT', 500)")
        .expect("a tax class");
    // 250 products: two full chunks and a short one; every seventh arrives retired, and
    // each has two prices.
    let records: Vec<ProductRecord> = (0..250_u64)
        .map(|n| {
            let code = crate::barcode::ean13_from_payload(471_234_000_000 + n);
            let mut r = record(
                &format!("BULK-{n:03}"),
                &format!("烏龍 Bulk {n}"),
                &[&code],
                100 + n as i64,
            );
            r.active = n % 7 != 0;
            r.prices
                .push((DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(1), 200));
            r
        })
        .collect();
    let tx = conn.transaction().expect("a transaction");
    assert_eq!(upsert_products(&tx, &records).expect("a batch"), 250);
    tx.commit().expect("a commit");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("a count") };
    assert_eq!(
        count("SELECT count(*) FROM product"),
        250,
        "every product is written"
    );
    assert_eq!(
        count("SELECT count(*) FROM barcode"),
        250,
        "with its barcode"
    );
    assert_eq!(
        count("SELECT count(*) FROM price"),
        500,
        "and both its prices"
    );
    assert_eq!(
        count("SELECT count(*) FROM product WHERE active = 0"),
        36,
        "retired ones stay retired"
    );
    assert_eq!(
        count("SELECT count(*) FROM search_backlog"),
        250,
        "all wait for the search index"
    );
    let hit = search(&conn, "bulk 249", Utc::now()).expect("a search");
    assert_eq!(
        hit.len(),
        1,
        "an unindexed product is found by name: {hit:?}"
    );
    while index_pending(&conn, 100).expect("indexing") > 0 {}
    let hit = search(&conn, "bulk 249", Utc::now()).expect("a search");
    assert_eq!(hit.len(), 1, "and found the same way once indexed: {hit:?}");
    assert_eq!(
        scan_id(&conn, &records[249].barcodes[0]),
        Some(count("SELECT id FROM product WHERE sku = 'BULK-249'")),
        "the barcode names its product"
    );
}

fn scan_id(conn: &Connection, code: &str) -> Option<i64> {
    conn.query_row(
        "SELECT product_id FROM barcode WHERE code = ?1",
        [code],
        |r| r.get(0),
    )
    .optional()
    .expect("a look-up")
}

#[test]
fn a_batch_upsert_leaves_what_one_upsert_per_record_leaves() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let open = |name: &str| {
        let conn = crate::db::open_ledger(&dir.path().join(name)).expect("a new ledger");
        conn.execute_batch(
            "INSERT INTO tax_class (id, name, rate_bp) VALUES ('standard', 'VAT', 500)",
        )
        .expect("a tax class");
        conn
    };
    let first = [
        record("TEA-001", "凍頂烏龍茶 Oolong 75g", &["4712345000015"], 300),
        record("TEA-002", "茉莉花茶 Jasmine Tea", &["4712345000022"], 250),
        record("BAG-001", "紙提袋 Paper Bag", &["96385074"], 2),
    ];
    let second = [
        // Renamed and repriced, and its barcode moves to a new product below.
        record("TEA-001", "高山烏龍 Oolong 150g", &["4712345000039"], 500),
        record(
            "TEA-003",
            "Banana Chips",
            &["4712345000015", "036000291452"],
            120,
        ),
        // The same SKU twice in one batch: the later record wins whole.
        record("TEA-002", "Old Name", &[], 1),
        record(
            "TEA-002",
            "茉莉花綠茶 Jasmine Green",
            &["4712345000022"],
            260,
        ),
    ];
    let mut one_by_one = open("one.sqlite3");
    let mut batched = open("batch.sqlite3");
    let mut expected = Vec::new();
    for records in [&first[..], &second[..]] {
        let tx = one_by_one.transaction().expect("a transaction");
        for record in records {
            upsert_product(&tx, record).expect("an upsert");
        }
        tx.commit().expect("a commit");
        let tx = batched.transaction().expect("a transaction");
        upsert_products(&tx, records).expect("a batch upsert");
        tx.commit().expect("a commit");
        expected = catalog_state(&one_by_one);
        assert!(
            search_backlog_len(&batched).expect("the backlog") > 0,
            "a batch leaves its new and renamed products for the indexer"
        );
        assert_eq!(
            catalog_state(&batched),
            expected,
            "before indexing, a batch must leave the same products, barcodes, prices and \
             search results (unindexed products are searched directly)"
        );
        // Indexed two at a time, as the sync engine does in short transactions.
        while index_pending(&batched, 2).expect("indexing") > 0 {}
        assert_eq!(
            search_backlog_len(&batched).expect("the backlog"),
            0,
            "the indexer empties the backlog"
        );
        assert_eq!(
            catalog_state(&batched),
            expected,
            "after indexing, the search results are the same"
        );
    }
    // A price change alone leaves the search index as it is.
    let repriced = [record("TEA-003", "Banana Chips", &["4712345000015"], 99)];
    upsert_products(&batched, &repriced).expect("a price change");
    assert_eq!(
        search_backlog_len(&batched).expect("the backlog"),
        0,
        "a product whose name did not change is not indexed again"
    );
    assert_eq!(
        search_backlog_len(&one_by_one).expect("the backlog"),
        0,
        "a single upsert indexes its product at once"
    );
    assert!(
        expected.iter().any(|row| row == "4712345000015>TEA-003"),
        "the barcode moved to the later product: {expected:?}"
    );
    for table in ["product_fts", "product_short_fts"] {
        batched
            .execute_batch(&format!(
                "INSERT INTO {table} ({table}) VALUES ('integrity-check')"
            ))
            .unwrap_or_else(|e| panic!("{table} must be consistent after a batch: {e}"));
    }
    let bad = [record("X", "Bad", &["4712345000016"], 1)];
    assert!(
        upsert_products(&batched, &bad).is_err(),
        "a wrong check digit is refused in a batch too"
    );
}
