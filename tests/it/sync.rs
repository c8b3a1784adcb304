//! Tills sync through the real engine with a real cloud process, on SQLite and PostgreSQL:
//! three tills in two stores sell offline and refund, then sync; afterwards every sale is in the
//! cloud exactly once, every till's stock equals its store's stock in the cloud, the cloud's
//! stock is the initial stock minus sales plus refunds, and no outbox holds anything.

use std::collections::HashMap;

use rand::SeedableRng;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::tills::{self, SyncedTill};

fn scenario(backend: Backend) {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let initial: HashMap<&'static str, _> = ["TPE-XINYI", "TPE-DAAN"]
        .into_iter()
        .map(|store| (store, tills::cloud_stock(&cloud, &key, store)))
        .collect();
    let mut tills = vec![
        SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false),
        SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false),
        SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", false),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for till in &mut tills {
        let receipts = till.sell_randomly(&mut rng, 12);
        assert!(
            till.refund_one(&receipts[0]),
            "a fresh sale can be refunded"
        );
    }
    assert!(
        tills.iter().all(|t| t.pending() == 13),
        "12 sales and a refund wait in each outbox"
    );
    tills::converge(&runtime, &tills, 3, "a healthy link");
    tills::assert_invariants(&cloud, &key, &initial, &tills, "healthy link");
}

#[test]
fn three_tills_converge_with_a_cloud_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn three_tills_converge_with_a_cloud_on_postgresql() {
    scenario(Backend::Postgres);
}

#[test]
fn first_sync_reports_download_progress_until_nothing_remains() {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let till = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", false);
    let (seen, report) = first_sync_with_progress(&runtime, &till);
    assert!(
        seen.len() >= 3,
        "a catalog of hundreds of products arrives in several pages of 100, each reported: {seen:?}"
    );
    assert_eq!(
        seen.last().map(|step| step.search_waiting),
        Some(0),
        "the round ends with every downloaded product indexed: {seen:?}"
    );
    assert_eq!(
        till.temp.till.search_backlog().expect("the backlog"),
        0,
        "nothing is left waiting for the search index"
    );
    let hits = till.temp.till.search("oolong").expect("a search");
    assert!(
        !hits.is_empty(),
        "downloaded products are found by name once the round ends"
    );
    // The download's own steps: each brings more, and done + remaining stays the whole feed.
    let seen: Vec<_> = seen
        .into_iter()
        .scan(0, |last, step| {
            let more = step.downloaded > *last;
            *last = step.downloaded;
            Some(more.then_some(step))
        })
        .flatten()
        .collect();
    let total = seen[0].downloaded + seen[0].remaining;
    for pair in seen.windows(2) {
        assert!(
            pair[1].downloaded > pair[0].downloaded,
            "the downloaded count only grows: {seen:?}"
        );
        assert_eq!(
            pair[1].downloaded + pair[1].remaining,
            total,
            "with no changes meanwhile, done + remaining is the whole feed: {seen:?}"
        );
    }
    let last = seen.last().expect("a last step");
    assert_eq!(last.remaining, 0, "the bar ends with nothing left");
    assert_eq!(
        last.downloaded as usize, report.pulled,
        "the bar's count is what was applied"
    );
}

/// Runs a till's first sync in pages of 100 and returns every progress step it reported.
fn first_sync_with_progress(
    runtime: &tokio::runtime::Runtime,
    till: &SyncedTill,
) -> (
    Vec<omnitill_sync::engine::Progress>,
    omnitill_sync::engine::RoundReport,
) {
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |step: omnitill_sync::engine::Progress| {
        seen.lock().expect("progress list").push(step);
    };
    let options = omnitill_sync::engine::RoundOptions {
        pull_page: 100,
        progress: &record,
        ..Default::default()
    };
    let report = runtime
        .block_on(omnitill_sync::engine::sync_once_with(
            &till.engine,
            &options,
        ))
        .expect("the first sync succeeds");
    (seen.into_inner().expect("progress list"), report)
}

/// Puts an operation of a type this cloud does not know into the till's outbox, as a newer
/// till would, under the next sequence number.
fn queue_unknown_operation(till: &mut SyncedTill) -> i64 {
    let conn = till.temp.till.connection_mut();
    let tx = conn.transaction().expect("a transaction");
    let seq: i64 = tx
        .query_row(
            "INSERT INTO counter (name, value) VALUES ('outbox', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |row| row.get(0),
        )
        .expect("the next seq");
    tx.execute(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at) VALUES (?1, ?2, 'member.points_redeemed.v9', '{\"receipt_no\":\"X-1\"}', 0)",
        rusqlite::params![seq, uuid::Uuid::now_v7().to_string()],
    )
    .expect("the operation is queued");
    tx.commit().expect("commit");
    seq
}

#[test]
fn a_refused_operation_goes_to_the_review_list_without_blocking_later_sales() {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    till.sell_randomly(&mut rng, 1);
    let refused_seq = queue_unknown_operation(&mut till);
    till.sell_randomly(&mut rng, 2);
    till.sync(&runtime)
        .expect("the round succeeds despite the refusal");
    assert_eq!(
        till.pending(),
        0,
        "the refusal is acknowledged like any outcome, so nothing stays queued behind it"
    );
    assert_eq!(
        tills::cloud_receipts(&cloud, &key, "TPE-XINYI").len(),
        3,
        "the sales before and after the refused operation reached the cloud"
    );
    let manager = till.temp.manager();
    let list = till
        .temp
        .till
        .refusals(&manager, false)
        .expect("the review list");
    assert_eq!(list.len(), 1, "one refusal waits for review: {list:?}");
    assert_eq!(list[0].seq, refused_seq);
    assert_eq!(list[0].op_type, "member.points_redeemed.v9");
    assert_eq!(list[0].receipt_no.as_deref(), Some("X-1"));
    assert!(
        list[0].reason.contains("member.points_redeemed.v9"),
        "the cloud's reason names what it could not apply: {:?}",
        list[0].reason
    );
    assert_eq!(till.temp.till.unreviewed_refusals().expect("count"), 1);

    let cashier = till.temp.cashier();
    assert!(
        matches!(
            till.temp
                .till
                .mark_refusal_reviewed(&cashier, refused_seq, "seen"),
            Err(omnitill_core::CoreError::NotManager)
        ),
        "only a manager may clear the review list"
    );
    assert!(
        matches!(
            till.temp.till.refusals(&cashier, false),
            Err(omnitill_core::CoreError::NotManager)
        ),
        "only a manager may read the review list: the rule is core's, not the shell's"
    );
    let reviewed = till
        .temp
        .till
        .mark_refusal_reviewed(
            &manager,
            refused_seq,
            "points redeemed by hand in the e-shop admin",
        )
        .expect("the manager marks it reviewed");
    assert!(reviewed.resolved_at_ms.is_some());
    assert!(
        reviewed.resolved_by.is_some(),
        "the list says who reviewed it"
    );
    assert!(
        till.temp
            .till
            .refusals(&manager, false)
            .expect("list")
            .is_empty(),
        "a reviewed refusal leaves the to-do list"
    );
    assert_eq!(
        till.temp.till.refusals(&manager, true).expect("list").len(),
        1,
        "and stays in the full history"
    );
    assert!(
        till.temp
            .till
            .mark_refusal_reviewed(&manager, refused_seq, "again")
            .is_err(),
        "a refusal is reviewed once"
    );
    assert!(
        till.temp
            .till
            .mark_refusal_reviewed(&manager, 999_999, "none")
            .is_err(),
        "an unknown operation cannot be marked"
    );
}

#[test]
fn a_till_behind_the_feed_floor_downloads_again_keeps_its_outbox_and_drops_retired_products() {
    behind_the_floor(Backend::Sqlite);
}

#[test]
fn a_till_behind_the_feed_floor_downloads_again_with_a_cloud_on_postgresql() {
    behind_the_floor(Backend::Postgres);
}

fn behind_the_floor(backend: Backend) {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let initial: HashMap<&'static str, _> =
        HashMap::from([("TPE-XINYI", tills::cloud_stock(&cloud, &key, "TPE-XINYI"))]);
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    till.sync(&runtime).expect("the first sync");
    let cursor_before = ledger_link(&till).cursor;
    assert!(cursor_before > 0, "the first sync moved the cursor");

    // Offline sales wait in the outbox while the brand retires a product and prunes the feed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    till.sell_randomly(&mut rng, 3);
    let retired = omnitill_core::demo::demo_barcode(120);
    let item = till
        .temp
        .till
        .scan(&retired)
        .expect("the product sells before it is retired");
    let tax_class: String = till
        .temp
        .till
        .connection()
        .query_row(
            "SELECT tax_class FROM product WHERE sku = ?1",
            [&item.sku],
            |r| r.get(0),
        )
        .expect("the product's tax class");
    let csv = till.temp._dir.path().join("retire.csv");
    std::fs::write(
        &csv,
        format!(
            "sku,name,tax_class,active,barcodes,price_minor\n{},\"{}\",{},false,{},{}\n",
            item.sku, item.name, tax_class, retired, item.unit_price_minor
        ),
    )
    .expect("the CSV is written");
    cloud.admin(&["catalog", "import", &csv.display().to_string()]);
    let pruned = cloud.admin(&["feed", "prune-retired"]);
    let count: u64 = pruned
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        count >= 1,
        "the retired product (and the demo's discontinued ones) left the feed: {pruned}"
    );

    let fresh = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", false);
    let (seen, report) = first_sync_with_progress(&runtime, &fresh);
    let first = seen.first().expect("a progress step");
    assert_eq!(
        first.downloaded + first.remaining,
        report.pulled as i64,
        "after a prune, a new till's bar still counts exactly the rows it downloads: {seen:?}"
    );

    till.sync(&runtime)
        .expect("the round after the prune succeeds");
    assert_eq!(
        till.pending(),
        0,
        "the outbox survived the re-download and was pushed"
    );
    assert!(
        matches!(
            till.temp.till.scan(&retired),
            Err(omnitill_core::CoreError::InactiveProduct(_))
        ),
        "a product the new download did not bring can no longer be sold"
    );
    assert!(
        till.temp
            .till
            .scan(&omnitill_core::demo::demo_barcode(1))
            .is_ok(),
        "products still in the catalog sell as before"
    );
    let unseen: i64 = till
        .temp
        .till
        .connection()
        .query_row("SELECT count(*) FROM resync_unseen", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        unseen, 0,
        "the re-download finished and left no bookkeeping behind"
    );
    tills::assert_invariants(
        &cloud,
        &key,
        &initial,
        std::slice::from_ref(&till),
        "after a reset",
    );
}

fn ledger_link(till: &SyncedTill) -> omnitill_core::sync::SyncLink {
    omnitill_core::sync::link(till.temp.till.connection())
        .expect("the link reads")
        .expect("the till is enrolled")
}

#[test]
fn a_refusal_whose_answer_was_lost_still_reaches_the_review_list() {
    use crate::support::proxy::Fault;

    let runtime = tills::runtime();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", true);
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    till.sell_randomly(&mut rng, 1);
    let refused_seq = queue_unknown_operation(&mut till);
    till.proxy().once(Fault::DropResponse);
    assert!(
        till.sync(&runtime).is_err(),
        "the push's answer was lost on the way back"
    );
    assert_eq!(
        till.pending(),
        2,
        "the till does not know yet what the cloud did with its push"
    );
    till.sync(&runtime).expect("the re-sent push is answered");
    assert_eq!(till.pending(), 0, "the re-sent operations are acknowledged");
    let manager = till.temp.manager();
    let list = till
        .temp
        .till
        .refusals(&manager, false)
        .expect("the review list");
    assert_eq!(
        list.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![refused_seq],
        "the cloud repeats its stored refusal for a re-sent operation, so the manager sees it"
    );
    assert!(
        list[0].reason.contains("member.points_redeemed.v9"),
        "with the cloud's original reason: {:?}",
        list[0].reason
    );
}

#[test]
fn a_till_enrolled_again_after_revocation_pushes_its_waiting_sales_without_a_gap() {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let initial: HashMap<&'static str, _> =
        HashMap::from([("TPE-XINYI", tills::cloud_stock(&cloud, &key, "TPE-XINYI"))]);
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    till.sell_randomly(&mut rng, 2);
    till.sync(&runtime).expect("the first two sales are pushed");
    till.sell_randomly(&mut rng, 3);
    let old_device = ledger_link(&till).cloud_device_id;
    cloud.admin(&["device", "revoke", &old_device]);
    assert!(
        matches!(till.sync(&runtime), Err(omnitill_sync::SyncError::Revoked)),
        "the revoked till is refused"
    );
    assert_eq!(till.pending(), 3, "the three later sales wait");

    // The manager enrols the till again with a new code; its outbox goes on from seq 3.
    let first_seq = omnitill_core::sync::first_unacknowledged_seq(till.temp.till.connection())
        .expect("the first unacknowledged seq");
    assert_eq!(
        first_seq, 3,
        "two operations were acknowledged before the revocation"
    );
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let client = omnitill_sync::Client::new(&cloud.base_url, None).expect("client");
    let enrolment = runtime
        .block_on(
            client.enrol(
                &code,
                "Counter",
                first_seq,
                &omnitill_core::sync::till_identity(till.temp.till.connection())
                    .expect("the till's identity"),
            ),
        )
        .expect("the till enrols again");
    let now = till.temp.till.clock().now();
    omnitill_core::sync::record_enrolment(
        till.temp.till.connection_mut(),
        &cloud.base_url,
        &enrolment,
        now,
    )
    .expect("the new enrolment is recorded");
    till.sync(&runtime)
        .expect("the waiting sales are pushed under the new enrolment");
    assert_eq!(till.pending(), 0, "nothing is stuck behind a sequence gap");
    tills::assert_invariants(
        &cloud,
        &key,
        &initial,
        std::slice::from_ref(&till),
        "enrolled again",
    );
}
