//! A copied ledger yields no phone book, on SQLite and PostgreSQL clouds.
//!
//! A till of store Xinyi syncs with a real cloud (the demo brand plus three members who signed
//! up online: one shops at Xinyi, one at Daan, one nowhere) through the real sync engine. Its
//! ledger file is then copied and read as a thief would read it, with plain SQLite: the brand's
//! member key, every hash and every mask. The test checks that
//! - no member row holds a fast keyed phone or e-mail hash, and no mask shows a digit;
//! - the phone hashes it holds are argon2id with the shared memory-hard parameters, which
//!   meet the floor, and none is the fast keyed hash of any of the 10^4 numbers that fit what
//!   the old mask showed (the old attack finds nothing);
//! - only members who shop at Xinyi (or were looked up there) have a phone hash on the till,
//!   at most `KEYED_MEMBERS_PER_STORE`: the member who shops at Daan has none;
//! - look-up still works: by phone offline for a member who shops here, by card offline for
//!   anyone, and by phone online for the others, after which this till and the store's other
//!   tills find them by phone offline.
//!
//! A ledger that an earlier version left with fast hashes and four-digit masks loses both
//! when it is opened (till migration 0006).

use std::collections::HashSet;

use omnitill_core::lookup_keys::{self, KEYED_MEMBERS_PER_STORE, LOOKUP_KDF, LOOKUP_KDF_FLOOR};
use omnitill_core::loyalty::{self, KeyKind};
use omnitill_core::members::Lookup;
use omnitill_core::{Cart, TenderKind, demo, sync as ledger_sync};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::Value;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;
use crate::support::proxy::Fault;
use crate::support::tills::{self, SyncedTill};

const HERE: &str = "0977-111-222";
const THERE: &str = "0977-333-444";
const NOWHERE: &str = "0977-555-666";

/// Sells one demo item to `member_id` at `till`, by card, and syncs twice: the sale goes up,
/// then the store's feed brings the member's look-up keys back.
fn sell_to_member_and_sync(
    runtime: &tokio::runtime::Runtime,
    till: &mut SyncedTill,
    member_id: &str,
) {
    let cashier = till.temp.cashier();
    let rules = till.temp.till.pricing_rules().expect("pricing rules");
    let mut cart = Cart::new();
    till.temp
        .till
        .attach_member(&mut cart, member_id)
        .expect("the member attaches by id");
    let item = till
        .temp
        .till
        .scan(&demo::demo_barcode(3))
        .expect("a demo item scans");
    cart.add_item(item, 1).expect("the item goes in");
    let due = cart.totals(rules).due_minor;
    cart.add_tender(rules, TenderKind::Card, due, Some("T"))
        .expect("a card tender");
    till.temp
        .till
        .complete_sale(&cashier, &cart)
        .expect("the sale completes");
    for _ in 0..2 {
        till.sync(runtime).expect("a sync");
    }
}

/// A cached member as a thief reads it: id, phone hash, e-mail hash, phone mask.
type StolenMember = (String, Option<String>, Option<String>, Option<String>);

/// What a thief reads from a copy of the ledger file.
struct Stolen {
    member_key: Vec<u8>,
    /// Every cached member.
    members: Vec<StolenMember>,
    /// (member id, phone hash) of the memory-hard look-up keys.
    phone_hashes: Vec<(String, String)>,
}

fn steal(till: &SyncedTill) -> Stolen {
    till.temp
        .till
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect("the log is checkpointed, as a till at rest would be");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir.path().join("stolen.sqlite3");
    std::fs::copy(crate::support::ledger_path(till.temp._dir.path()), &copy)
        .expect("the ledger file copies");
    let conn = Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("plain SQLite opens the copy");
    let key_hex: String = conn
        .query_row("SELECT member_key_hex FROM member_keys", [], |row| {
            row.get(0)
        })
        .expect("the brand's member key is in the ledger");
    let members = conn
        .prepare("SELECT id, phone_hash, email_hash, phone_masked FROM member")
        .expect("the member table")
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    let phone_hashes = conn
        .prepare("SELECT member_id, phone_hash FROM member_lookup WHERE phone_hash IS NOT NULL")
        .expect("the look-up table")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    Stolen {
        member_key: loyalty::unhex(&key_hex).expect("hex"),
        members,
        phone_hashes,
    }
}

fn id_of(member: &Value) -> String {
    member["id"].as_str().expect("a member id").to_owned()
}

fn a_copied_ledger_yields_no_phone_book(backend: Backend) {
    let context = format!("copied ledger, {backend:?}");
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let here = eshop.sign_up(HERE, "Shops Here");
    let there = eshop.sign_up(THERE, "Shops There");
    let nowhere = eshop.sign_up(NOWHERE, "Shops Nowhere");
    let (here_id, there_id, nowhere_id) = (id_of(&here), id_of(&there), id_of(&nowhere));

    let mut xinyi = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", true);
    let mut daan = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", false);
    xinyi.sync(&runtime).expect("a first sync at Xinyi");
    daan.sync(&runtime).expect("a first sync at Daan");
    sell_to_member_and_sync(&runtime, &mut xinyi, &here_id);
    sell_to_member_and_sync(&runtime, &mut daan, &there_id);
    xinyi.sync(&runtime).expect("Xinyi syncs after Daan's sale");

    let stolen = steal(&xinyi);
    assert!(
        stolen.members.len() > 3_000,
        "[{context}] the till caches the whole member base ({}), by card",
        stolen.members.len()
    );
    for (id, phone_hash, email_hash, mask) in &stolen.members {
        assert!(
            phone_hash.is_none() && email_hash.is_none(),
            "[{context}] member {id}: no fast keyed phone or e-mail hash is stored"
        );
        assert!(
            !mask
                .as_deref()
                .unwrap_or("")
                .chars()
                .any(|c| c.is_ascii_digit()),
            "[{context}] member {id}: the mask shows no digit ({mask:?})"
        );
    }
    let keyed: HashSet<&str> = stolen
        .phone_hashes
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        keyed.contains(here_id.as_str()),
        "[{context}] the member who shops at Xinyi can be found by phone there offline"
    );
    assert!(
        !keyed.contains(there_id.as_str()) && !keyed.contains(nowhere_id.as_str()),
        "[{context}] members who do not shop at Xinyi have no phone hash on its till"
    );
    assert!(
        keyed.len() <= KEYED_MEMBERS_PER_STORE,
        "[{context}] a store keeps at most {KEYED_MEMBERS_PER_STORE} members' phone hashes ({})",
        keyed.len()
    );

    // The per-guess work is memory-hard: the stored hash is argon2id with the shared
    // parameters (not a cheaper set), and they meet the floor.
    assert!(
        lookup_keys::meets_floor(LOOKUP_KDF, LOOKUP_KDF_FLOOR),
        "the look-up hash parameters meet the floor the threat model counts on"
    );
    let here_hash = stolen
        .phone_hashes
        .iter()
        .find(|(id, _)| *id == here_id)
        .map(|(_, hash)| hash.clone())
        .expect("the member's phone hash");
    let here_e164 = loyalty::normalise_phone(HERE, 886).expect("a phone");
    assert_eq!(
        here_hash,
        lookup_keys::slow_hash(&stolen.member_key, KeyKind::Phone, &here_e164, LOOKUP_KDF)
            .expect("a hash"),
        "[{context}] the stored phone hash is argon2id with the memory-hard parameters"
    );
    let cheap = lookup_keys::LookupKdf {
        memory_kib: 64,
        passes: 1,
        lanes: 1,
    };
    assert_ne!(
        here_hash,
        lookup_keys::slow_hash(&stolen.member_key, KeyKind::Phone, &here_e164, cheap)
            .expect("a hash"),
        "[{context}] a cheaper argon2 does not reproduce the stored hash"
    );
    // The old attack: the fast keyed hash of every number that fits a four-digit mask.
    let stored: HashSet<&str> = stolen
        .phone_hashes
        .iter()
        .map(|(_, hash)| hash.as_str())
        .collect();
    let tail = &here_e164[here_e164.len() - 4..];
    let matched = (0..10_000)
        .map(|middle| format!("+8869{middle:04}{tail}"))
        .filter(|candidate| {
            stored.contains(
                loyalty::lookup_hash(&stolen.member_key, KeyKind::Phone, candidate).as_str(),
            )
        })
        .count();
    assert_eq!(
        matched, 0,
        "[{context}] no stored hash is the fast keyed hash of any candidate of the old mask"
    );

    // Look-up offline: by phone for the member who shops here, by card for anyone.
    xinyi.proxy().set(Fault::Refuse);
    match xinyi.temp.till.lookup_member(HERE).expect("a look-up") {
        Lookup::Found(member) => assert_eq!(member.id, here_id, "[{context}] found by phone"),
        other => panic!("[{context}] the member who shops here is found offline, not {other:?}"),
    }
    let there_card = there["card_no"].as_str().expect("a card number");
    match xinyi
        .temp
        .till
        .lookup_member(there_card)
        .expect("a look-up")
    {
        Lookup::Found(member) => assert_eq!(member.id, there_id, "[{context}] found by card"),
        other => panic!("[{context}] any member is found by card offline, not {other:?}"),
    }
    let key = match xinyi.temp.till.lookup_member(NOWHERE).expect("a look-up") {
        Lookup::NotCached {
            kind: KeyKind::Phone,
            key,
        } => key,
        other => {
            panic!("[{context}] a member who never shopped here is asked online, not {other:?}")
        }
    };
    assert_eq!(
        key, "+886977555666",
        "the cloud is asked by the normalised number"
    );

    // Online: the cloud answers with the member's keys and attaches them to the store.
    crate::support::fault_tills::heal(xinyi.proxy());
    let link = ledger_sync::link(xinyi.temp.till.connection())
        .expect("the link")
        .expect("an enrolled till");
    let client = omnitill_sync::Client::new(&link.cloud_url, Some(link.token)).expect("a client");
    let answer = runtime
        .block_on(client.look_up_member("phone", &key))
        .expect("the cloud answers")
        .expect("the cloud knows the member");
    assert_eq!(
        answer.id, nowhere_id,
        "[{context}] the cloud finds them by phone"
    );
    assert!(
        answer.phone_hash.is_some(),
        "[{context}] the answer carries the member's memory-hard phone hash"
    );
    xinyi
        .temp
        .till
        .cache_member(&answer)
        .expect("the answer is cached");
    xinyi.proxy().set(Fault::Refuse);
    match xinyi.temp.till.lookup_member(NOWHERE).expect("a look-up") {
        Lookup::Found(member) => assert_eq!(member.id, nowhere_id),
        other => panic!("[{context}] once looked up here, found offline, not {other:?}"),
    }
    let unknown = runtime
        .block_on(client.look_up_member("phone", "+886900000001"))
        .expect_err("the link is down");
    assert!(unknown.is_transient(), "an unreachable cloud is transient");
    crate::support::fault_tills::heal(xinyi.proxy());
    let nobody = runtime
        .block_on(client.look_up_member("phone", "+886900000001"))
        .expect("the cloud answers");
    assert!(nobody.is_none(), "[{context}] an unknown number is nobody");

    // The store's other till learns the looked-up member's keys from the feed.
    let second = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    second.sync(&runtime).expect("a first sync");
    match second.temp.till.lookup_member(NOWHERE).expect("a look-up") {
        Lookup::Found(member) => assert_eq!(member.id, nowhere_id),
        other => panic!("[{context}] the store's feed carries the keys, not {other:?}"),
    }
    match daan.temp.till.lookup_member(NOWHERE) {
        Ok(Lookup::NotCached { .. }) => {}
        other => panic!("[{context}] another store never got them: {other:?}"),
    }
}

#[test]
fn a_copied_ledger_yields_no_phone_book_on_sqlite() {
    a_copied_ledger_yields_no_phone_book(Backend::Sqlite);
}

#[test]
fn a_copied_ledger_yields_no_phone_book_on_postgresql() {
    a_copied_ledger_yields_no_phone_book(Backend::Postgres);
}

#[test]
fn a_ledger_with_fast_hashes_from_an_earlier_version_loses_them_when_opened() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("till.sqlite3");
    {
        // What version 5 left: the first five migrations, fast hashes, four-digit masks.
        let conn = Connection::open(&path).expect("a new file");
        for (name, sql) in omnitill_core::db::MIGRATIONS {
            if name.get(..4).is_some_and(|number| number <= "0005") {
                conn.execute_batch(sql).expect("an early migration");
            }
        }
        conn.pragma_update(None, "application_id", omnitill_core::db::APPLICATION_ID)
            .expect("the ledger's id");
        conn.execute_batch(
            "INSERT INTO member (id, card_hash, phone_hash, email_hash, phone_masked,
                 email_masked, name, tier, balance, as_of_seq, synced_at)
             VALUES ('m-1', 'c1', '0123456789abcdef0123456789abcdef',
                 'fedcba9876543210fedcba9876543210', '••••5678', 'm•••@example.com',
                 'Old', 'member', 0, 0, 0);
             PRAGMA user_version = 5;",
        )
        .expect("a ledger as version 5 left it");
    }
    let conn = omnitill_core::db::open_ledger(&path).expect("the ledger opens and migrates");
    let (phone_hash, email_hash, mask, card_hash): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = conn
        .query_row(
            "SELECT phone_hash, email_hash, phone_masked, card_hash FROM member WHERE id = ?1",
            params!["m-1"],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .expect("the member");
    assert_eq!(
        (phone_hash, email_hash),
        (None, None),
        "the fast hashes are cleared: they are never trusted or kept again"
    );
    assert_eq!(
        mask.as_deref(),
        Some(loyalty::PHONE_MASK),
        "the four digits are gone"
    );
    assert_eq!(
        card_hash.as_deref(),
        Some("c1"),
        "the card's keyed hash stays"
    );
    let keyed: i64 = conn
        .query_row("SELECT COUNT(*) FROM member_lookup", [], |row| row.get(0))
        .expect("the new table");
    assert_eq!(
        keyed, 0,
        "no phone is found offline until the feed sends its keys"
    );
}
