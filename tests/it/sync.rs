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
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |step: omnitill_sync::engine::Progress| {
        seen.lock().expect("progress list").push(step);
    };
    let options = omnitill_sync::engine::RoundOptions {
        pull_page: 100,
        progress: &record,
    };
    let report = runtime
        .block_on(omnitill_sync::engine::sync_once_with(
            &till.engine,
            &options,
        ))
        .expect("the first sync succeeds");
    let seen = seen.into_inner().expect("progress list");
    assert!(
        seen.len() >= 3,
        "a catalog of hundreds of products arrives in several pages of 100, each reported: {seen:?}"
    );
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
