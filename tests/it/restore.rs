//! A cloud restored from a backup taken mid-stream, on SQLite (the file copied while the cloud
//! is stopped) and PostgreSQL (a database made from the live one as a template): three tills
//! in two stores had pushed sales and refunds after the backup, which the restored cloud has
//! forgotten. Through the real engine, each till hears `sequence_gap`, sends the forgotten
//! operations again from its outbox, downloads its reference data again, and the tills
//! converge: every sale in the cloud exactly once, stock equal everywhere, every operation
//! still in every outbox.

use std::collections::HashMap;

use rand::SeedableRng;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::tills::{self, SyncedTill};

/// Every operation of a till's outbox, as (seq, op_id), in seq order.
fn outbox_of(till: &SyncedTill) -> Vec<(i64, String)> {
    let conn = till.temp.till.connection();
    let mut statement = conn
        .prepare("SELECT seq, op_id FROM outbox ORDER BY seq")
        .expect("the outbox can be read");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("rows")
        .map(|row| row.expect("a row"))
        .collect()
}

fn scenario(backend: Backend) {
    let runtime = tills::runtime();
    let mut cloud = CloudProcess::start(backend);
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
    let seed = 10_2026;
    println!("restore scenario seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // Seq 1-2 of each till reach the cloud; then the backup is taken.
    for till in &mut tills {
        till.sell_randomly(&mut rng, 2);
    }
    tills::converge(&runtime, &tills, 3, "before the backup");
    let backup = cloud.backup();

    // Seq 3-6 (three sales and a refund) reach the cloud after the backup and are acknowledged.
    for till in &mut tills {
        let receipts = till.sell_randomly(&mut rng, 3);
        assert!(
            till.refund_one(&receipts[0]),
            "a fresh sale can be refunded"
        );
    }
    tills::converge(&runtime, &tills, 3, "after the backup");
    assert!(
        tills.iter().all(|t| t.pending() == 0),
        "the cloud acknowledged seq 3-6 of every till before it was restored"
    );

    cloud.restore(&backup);

    // The tills go on selling, then sync with the restored cloud.
    for till in &mut tills {
        till.sell_randomly(&mut rng, 2);
    }
    let before: Vec<Vec<(i64, String)>> = tills.iter().map(outbox_of).collect();
    for (number, till) in tills.iter().enumerate() {
        let report = till
            .sync(&runtime)
            .unwrap_or_else(|e| panic!("till {number}'s first round after the restore: {e:?}"));
        assert_eq!(
            report.resent, 4,
            "till {number} sends again exactly the four operations the restored cloud forgot (seq 3-6)"
        );
        assert_eq!(
            report.pushed, 6,
            "till {number} pushes the four forgotten operations and its two new sales, nothing below seq 3"
        );
    }
    tills::converge(&runtime, &tills, 4, "after the restore");
    tills::assert_invariants(&cloud, &key, &initial, &tills, "restored cloud");
    for (number, till) in tills.iter().enumerate() {
        assert_eq!(
            outbox_of(till),
            before[number],
            "till {number} keeps every operation of its outbox, unchanged"
        );
        let again = till.sync(&runtime).expect("a quiet round");
        assert_eq!(
            (again.resent, again.pushed),
            (0, 0),
            "till {number}: once the cloud has everything, nothing is sent again"
        );
    }
}

#[test]
fn tills_send_again_what_a_restored_sqlite_cloud_forgot_and_converge() {
    scenario(Backend::Sqlite);
}

#[test]
fn tills_send_again_what_a_restored_postgresql_cloud_forgot_and_converge() {
    scenario(Backend::Postgres);
}
