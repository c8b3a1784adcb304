//! A damaged ledger is found, not used, and recovered without losing what can still be read.
//!
//! A demo ledger with sales, a refund and a sync link is copied many times and one byte is
//! flipped at a random offset of each copy (seeded; the seed is printed). For every copy:
//! - the till never sells on it without saying so: core refuses to open it, or the integrity
//!   check reports damage and then every write is refused (`LedgerDamaged`) and the file stays
//!   byte for byte as it was, or the flip was harmless: the check passes, a sale completes and
//!   every earlier sale's receipt reads back;
//! - where the till refused or found damage, the recovery keeps the damaged file unchanged
//!   under a new name, makes a ledger that passes the integrity check and sells again, keeps
//!   the till's identity when it could be read, and loses no outbox operation that could
//!   still be read from the damaged file.
//!
//! Then `omnitill --recover` (the real binary) on an enrolled till's damaged ledger: the
//! damaged file is kept, the till keeps its identity and every operation, sends its offline
//! sales and downloads the store's data again, and the cloud holds each sale once.

use std::path::Path;
use std::sync::Arc;

use omnitill_core::{
    Cart, CoreError, StaffSession, SystemClock, TenderKind, Till, demo, health, recovery,
};
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags};

use crate::support::TempTill;

/// (seq, op_id, op_type, payload) of every outbox operation.
type Ops = Vec<(i64, String, String, String)>;

fn outbox(conn: &Connection) -> Ops {
    // Text is read as bytes: a flipped byte can leave a payload that is not UTF-8.
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(
            String::from_utf8_lossy(r.get_ref(i)?.as_bytes_or_null()?.unwrap_or_default())
                .into_owned(),
        )
    };
    conn.prepare("SELECT seq, op_id, op_type, payload FROM outbox ORDER BY seq")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, text(r, 1)?, text(r, 2)?, text(r, 3)?))
            })?
            .collect()
        })
        .expect("the outbox can be read")
}

/// The operations of a damaged file that can still be read one by one, as the recovery reads
/// them: row found, payload JSON.
fn readable_ops(path: &Path, newest: i64) -> Ops {
    let Ok(conn) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let _ = conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    );
    let Ok(mut statement) =
        conn.prepare("SELECT seq, op_id, op_type, payload FROM outbox NOT INDEXED WHERE seq = ?1")
    else {
        return Vec::new();
    };
    (1..=newest)
        .filter_map(|seq| {
            statement
                .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .ok()
        })
        .filter(
            |(_, op_id, op_type, payload): &(i64, String, String, String)| {
                !op_id.trim().is_empty()
                    && !op_type.trim().is_empty()
                    && serde_json::from_str::<serde_json::Value>(payload).is_ok()
            },
        )
        .collect()
}

/// A demo ledger with 40 sales, a refund, a sync link and the first 20 operations
/// acknowledged, written out in full (no write-ahead log left).
fn base_ledger() -> (TempTill, StaffSession, Vec<String>) {
    let mut temp = TempTill::demo();
    let cashier = temp.cashier();
    let manager = temp.manager();
    let rules = temp.till.pricing_rules().expect("pricing rules");
    let mut receipts = Vec::new();
    for n in 0..40u64 {
        let mut cart = temp.cart_of(&[1 + n % 30, 2 + n % 17]);
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("a card tender");
        receipts.push(
            temp.till
                .complete_sale(&cashier, &cart)
                .expect("a sale")
                .receipt_no,
        );
    }
    let approval = omnitill_core::ManagerApproval::from_session(&manager).expect("approval");
    temp.till
        .refund(&cashier, &approval, &receipts[3], &[(1, 1)])
        .expect("a refund");
    temp.till
        .connection()
        .execute_batch(
            "INSERT INTO sync_state (id, cloud_url, cloud_device_id, store_id, token, enrolled_at,
                                     last_applied_seq, cursor)
             VALUES (1, 'http://127.0.0.1:9', 'cloud-device', 'TPE-XINYI', 'secret-token', 0, 20, 77);
             UPDATE outbox SET acked_at = 1 WHERE seq <= 20;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .expect("a sync link and acknowledgements");
    (temp, cashier, receipts)
}

fn sell_one(till: &mut Till, cashier: &StaffSession) -> Result<String, CoreError> {
    let rules = till.pricing_rules()?;
    let mut cart = Cart::new();
    cart.add_item(till.scan(&demo::demo_barcode(5))?, 1)?;
    let due = cart.totals(rules).due_minor;
    cart.add_tender(rules, TenderKind::Card, due, Some("T"))?;
    Ok(till.complete_sale(cashier, &cart)?.receipt_no)
}

#[derive(Debug, Default)]
struct Tally {
    refused_at_open: usize,
    found_by_check: usize,
    refused_by_sqlite: usize,
    harmless: usize,
    harmless_but_changed: usize,
    recovered: usize,
    operations_lost: usize,
}

#[test]
fn a_flipped_byte_is_never_sold_on_silently_and_recovery_keeps_every_readable_operation() {
    let (base, cashier, receipts) = base_ledger();
    let base_path = crate::support::ledger_path(base._dir.path());
    let original = outbox(base.till.connection());
    let newest = original.last().map_or(0, |op| op.0);
    let device_id = base.till.device().device_id.clone();
    drop(base.till);
    let pristine = std::fs::read(&base_path).expect("the base ledger");
    assert!(
        !Path::new(&format!("{}-wal", base_path.display())).exists()
            || std::fs::metadata(format!("{}-wal", base_path.display())).map_or(0, |m| m.len())
                == 0,
        "the base ledger is complete in its file"
    );

    let seed: u64 = std::env::var("OMNITILL_FLIP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    let flips = 200;
    println!(
        "byte-flip test: seed {seed} (set OMNITILL_FLIP_SEED to repeat), {flips} flips in a {} byte ledger",
        pristine.len()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for flip in 0..flips {
        let offset = rng.random_range(0..pristine.len());
        let mask: u8 = rng.random_range(1..=255);
        let context = format!("flip {flip}: byte {offset} ^ {mask:#04x} (seed {seed})");
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("till.sqlite3");
        let mut damaged = pristine.clone();
        damaged[offset] ^= mask;
        std::fs::write(&path, &damaged).expect("the damaged copy");

        let mut found_damage = false;
        let mut sqlite_met_it = false;
        match Till::open(&path, Arc::new(SystemClock)) {
            Err(CoreError::DatabaseRefused(_)) => {
                tally.refused_at_open += 1;
                found_damage = true;
            }
            Err(other) => {
                // Any other refusal at open is said too; the till does not start selling.
                tally.refused_at_open += 1;
                found_damage = true;
                println!("{context}: refused at open with {other}");
            }
            Ok(mut till) => {
                let findings = health::check_and_record(&path, 1).expect("the check runs");
                if !findings.is_empty() {
                    tally.found_by_check += 1;
                    found_damage = true;
                    let refused = sell_one(&mut till, &cashier);
                    assert!(
                        matches!(refused, Err(CoreError::LedgerDamaged(_))),
                        "{context}: after the check found damage ({findings:?}) a sale is refused as damaged, got {refused:?}"
                    );
                    assert!(
                        matches!(
                            till.set_language(omnitill_core::Language::English),
                            Err(CoreError::LedgerDamaged(_))
                        ),
                        "{context}: and so is any other write"
                    );
                    drop(till);
                } else {
                    match sell_one(&mut till, &cashier) {
                        Ok(receipt) => {
                            for number in receipts.iter().chain(std::iter::once(&receipt)) {
                                let read = till.receipt(number);
                                assert!(
                                    read.is_ok(),
                                    "{context}: the check passed, so every sale reads back; {number}: {read:?}"
                                );
                            }
                            tally.harmless += 1;
                            let now = outbox(till.connection());
                            if now[..original.len()] != original[..] {
                                tally.harmless_but_changed += 1;
                            }
                        }
                        Err(CoreError::Store(error)) => {
                            // SQLite met the damage itself: the sale is refused, in words.
                            tally.refused_by_sqlite += 1;
                            found_damage = true;
                            sqlite_met_it = true;
                            println!("{context}: the sale was refused by SQLite: {error}");
                        }
                        Err(other) => {
                            panic!("{context}: a sound ledger must sell; it refused with {other:?}")
                        }
                    }
                    drop(till);
                }
            }
        }
        if !found_damage {
            continue;
        }
        if !sqlite_met_it {
            // Damage refused at open or found by the check is never written to. (A sale that
            // SQLite itself refused may have written to the log before it met the damage.)
            assert!(
                std::fs::read(&path).expect("the damaged file is still there") == damaged,
                "{context}: the damaged file is left byte for byte as it was"
            );
        }
        let readable = readable_ops(&path, newest);
        let report = recovery::recover_ledger(&path, &SystemClock)
            .unwrap_or_else(|e| panic!("{context}: the recovery ran: {e}"));
        tally.recovered += 1;
        tally.operations_lost += report.operations_lost.len();
        assert_eq!(
            std::fs::read(&report.damaged_kept_at).expect("the damaged file is kept"),
            damaged,
            "{context}: the damaged file is kept byte for byte under a new name"
        );
        let mut recovered =
            Till::open(&path, Arc::new(SystemClock)).expect("the recovered ledger opens");
        assert!(
            health::check_ledger(&path)
                .expect("the check runs")
                .is_empty(),
            "{context}: the recovered ledger passes the integrity check"
        );
        let kept = outbox(recovered.connection());
        for op in &readable {
            assert!(
                kept.contains(op),
                "{context}: operation {} could be read from the damaged file and must be in the recovered ledger",
                op.0
            );
        }
        let seqs: Vec<i64> = kept.iter().map(|op| op.0).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "{context}: the recovered outbox has no gap, so the cloud never refuses it as one"
        );
        if report.identity_kept {
            assert_eq!(
                recovered.device().device_id,
                device_id,
                "{context}: the till keeps its identity"
            );
        }
        if recovered.scan(&demo::demo_barcode(5)).is_ok() {
            let receipt = sell_one(&mut recovered, &cashier)
                .unwrap_or_else(|e| panic!("{context}: the recovered till sells: {e:?}"));
            let after: Vec<i64> = outbox(recovered.connection())
                .iter()
                .map(|op| op.0)
                .collect();
            assert_eq!(
                after.last().copied(),
                Some(seqs.len() as i64 + 1),
                "{context}: the new sale {receipt} continues the series after the saved operations"
            );
        }
    }
    println!("byte-flip outcomes: {tally:?}");
    assert!(
        tally.refused_at_open + tally.found_by_check > 0,
        "200 flips in a small ledger damage something the till must notice: {tally:?}"
    );
}

/// Overwrites bytes near the end of the first page of index `index`: the file opens, and the
/// integrity check finds the damage.
fn damage_index(path: &Path, index: &str) {
    let (root, page_size): (i64, i64) = {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the ledger");
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
                [index],
                |row| row.get(0),
            )
            .expect("the index");
        let size = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("the page size");
        (root, size)
    };
    let mut bytes = std::fs::read(path).expect("the ledger");
    let end = usize::try_from(root * page_size).expect("an offset");
    for byte in &mut bytes[end - 40..end - 8] {
        *byte ^= 0x5a;
    }
    std::fs::write(path, &bytes).expect("the damaged ledger");
}

#[test]
fn omnitill_recover_brings_an_enrolled_store_back_with_its_identity_and_the_clouds_data() {
    use crate::support::cloud::{Backend, CloudProcess, binary};
    use crate::support::tills::{self, SyncedTill};

    let runtime = tills::runtime();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    till.sell_randomly(&mut rng, 4);
    till.sync(&runtime).expect("four sales reach the cloud");
    let offline = till.sell_randomly(&mut rng, 3);
    let device = till.temp.till.device().clone();
    let before = outbox(till.temp.till.connection());
    let path = crate::support::ledger_path(till.temp._dir.path());
    till.temp
        .till
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("a checkpoint");
    let SyncedTill { temp, engine, .. } = till;
    drop(engine);
    let dir = temp._dir;
    drop(temp.till);
    damage_index(&path, "barcode_by_product");
    assert!(
        !health::check_ledger(&path)
            .expect("the check runs")
            .is_empty(),
        "the damage is found"
    );
    let damaged = std::fs::read(&path).expect("the damaged ledger");

    // What the manager runs.
    let output = std::process::Command::new(binary("omnitill"))
        .arg("--recover")
        .arg(&path)
        .env_remove("DISPLAY")
        .output()
        .expect("omnitill --recover runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the recovery succeeds: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("is damaged")
            && printed.contains("7 operations for the cloud were saved; 0 could not be read")
            && printed.contains("keeps its identity")
            && printed.contains("Synced with the cloud: 3 operations sent"),
        "it says, in words, what it saved and that the three offline sales went to the cloud: {printed}"
    );
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the data directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
        .filter(|e| !e.file_name().to_string_lossy().ends_with("-wal"))
        .filter(|e| !e.file_name().to_string_lossy().ends_with("-shm"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept beside the new one");
    assert_eq!(
        std::fs::read(kept[0].path()).expect("the kept file"),
        damaged,
        "byte for byte"
    );

    let recovered = Till::open(&path, Arc::new(SystemClock)).expect("the new ledger opens");
    assert!(
        health::check_ledger(&path)
            .expect("the check runs")
            .is_empty(),
        "the new ledger is sound"
    );
    assert_eq!(
        recovered.device(),
        &device,
        "the till keeps its identity and receipt prefix"
    );
    assert_eq!(
        outbox(recovered.connection()),
        before,
        "every operation is saved as it was"
    );
    assert_eq!(
        recovered.pending_operations().expect("the outbox").0,
        0,
        "the three offline sales reached the cloud"
    );
    let levels: i64 = recovered
        .connection()
        .query_row("SELECT count(*) FROM stock_level", [], |r| r.get(0))
        .expect("stock levels");
    assert!(levels > 0, "the store's stock was downloaded again");
    let cursor = omnitill_core::sync::link(recovered.connection())
        .expect("the link")
        .expect("still linked")
        .cursor;
    assert!(cursor > 0, "the feed was downloaded again from zero");
    let in_cloud = crate::support::tills::cloud_receipts(&cloud, &key, "TPE-DAAN");
    for receipt in &offline {
        assert_eq!(
            in_cloud.iter().filter(|r| *r == receipt).count(),
            1,
            "{receipt}, sold before the damage and saved by the recovery, is in the cloud once"
        );
    }
    assert_eq!(in_cloud.len(), 7, "seven sales, none twice: {in_cloud:?}");
}
