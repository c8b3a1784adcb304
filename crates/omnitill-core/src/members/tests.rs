//! The member cache, look-ups, balances and a member's sales and refunds at the till.

use chrono::TimeZone;
use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::loyalty::{Allowance, CachedMember, MemberKeys, MemberLookupKeys};
use ring::signature::{self, KeyPair};

use super::*;
use crate::loyalty::OfflineBound;

const MEMBER_KEY: &str = "6d656d6265722d6b6579";

struct Fixture {
    _dir: tempfile::TempDir,
    conn: Connection,
    qr: signature::Ed25519KeyPair,
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, 0)
        .single()
        .expect("a valid time")
}

fn member(id: &str, phone: &str, email: &str, card: &str, balance: i64) -> CachedMember {
    let key = loyalty::unhex(MEMBER_KEY).expect("hex");
    CachedMember {
        id: id.into(),
        card_hash: loyalty::lookup_hash(&key, KeyKind::Card, card),
        phone_hash: Some(loyalty::lookup_hash(&key, KeyKind::Phone, phone)),
        email_hash: Some(loyalty::lookup_hash(&key, KeyKind::Email, email)),
        phone_masked: Some(loyalty::mask_phone(phone)),
        email_masked: Some(loyalty::mask_email(email)),
        name: "林美玲 Mei-ling 🌸".into(),
        tier: "gold".into(),
        balance,
        coupons: vec![CachedCoupon {
            id: "coupon-1".into(),
            kind: "birthday".into(),
            title: "Birthday 10 %".into(),
            discount_kind: "percent".into(),
            value: 1_000,
            min_spend_minor: 0,
            valid_from_ms: 0,
            valid_to_ms: i64::MAX,
        }],
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a new ledger");
    conn.execute(
        "INSERT INTO device (id, device_id, receipt_prefix, created_at) VALUES (1, 'd', 'X', 0)",
        [],
    )
    .expect("a device");
    let enrolment = EnrolResponse {
        device_id: "device".into(),
        store_id: "store".into(),
        store_name: "Store".into(),
        token: "token".into(),
        receipt_prefix: "AB12".into(),
    };
    crate::sync::record_enrolment(&mut conn, "http://127.0.0.1:1", &enrolment, at(0))
        .expect("an enrolment");
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
    let qr = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair");
    apply_keys(
        &conn,
        &MemberKeys {
            member_key_hex: MEMBER_KEY.into(),
            qr_public_key_hex: loyalty::hex(qr.public_key().as_ref()),
        },
    )
    .expect("keys");
    let mut rules = loyalty::no_rules();
    rules.offline_member_cap_points = 500;
    rules.tiers = vec![omnitill_protocol::loyalty::TierRule {
        code: "gold".into(),
        name: "Gold".into(),
        min_spend_minor: 0,
        multiplier_pct: 150,
        discount_bp: 500,
    }];
    apply_rules(&conn, &rules).expect("rules");
    apply_member(
        &conn,
        &member(
            "m-1",
            "+886912345678",
            "mei@example.com",
            &loyalty::card_number(7),
            1_000,
        ),
        0,
        at(0).timestamp_millis(),
    )
    .expect("a member");
    let key = loyalty::unhex(MEMBER_KEY).expect("hex");
    apply_lookup_keys(
        &conn,
        &MemberLookupKeys {
            member_id: "m-1".into(),
            phone_hash: Some(
                lookup_keys::key_hash(&key, KeyKind::Phone, "+886912345678").expect("hash"),
            ),
            email_hash: Some(
                lookup_keys::key_hash(&key, KeyKind::Email, "mei@example.com").expect("hash"),
            ),
        },
    )
    .expect("the member's look-up keys");
    Fixture {
        _dir: dir,
        conn,
        qr,
    }
}

/// An outbox operation to hang pending entries on.
fn operation(conn: &Connection, seq: i64) {
    conn.execute(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at)
         VALUES (?1, ?2, 'sale.completed.v2', '{}', 0)",
        params![seq, format!("op-{seq}")],
    )
    .expect("an operation");
}

fn pending(conn: &Connection, seq: i64, kind: &str, points: i64, offline: bool) {
    operation(conn, seq);
    conn.execute(
        "INSERT INTO member_points_pending (op_seq, member_id, kind, points, offline)
         VALUES (?1, 'm-1', ?2, ?3, ?4)",
        params![seq, kind, points, offline],
    )
    .expect("a pending entry");
}

fn found(result: CoreResult<Lookup>, why: &str) -> MemberView {
    match result {
        Ok(Lookup::Found(member)) => *member,
        other => panic!("{why}: {other:?}"),
    }
}

#[test]
fn a_member_is_found_by_phone_e_mail_card_or_qr_however_it_is_typed() {
    let f = fixture();
    let card = loyalty::card_number(7);
    let qr = loyalty::sign_qr(&f.qr, "m-1", at(5).timestamp());
    for input in [
        "0912-345-678",
        "+886 912 345 678",
        " MEI@Example.com ",
        card.as_str(),
        qr.as_str(),
    ] {
        let member = found(lookup(&f.conn, input, at(1)), input);
        assert_eq!(member.id, "m-1", "{input:?} finds the member");
        assert_eq!(member.phone_masked.as_deref(), Some(loyalty::PHONE_MASK));
        assert_eq!(member.tier_name, "Gold");
        assert_eq!(member.tier_discount_bp, 500);
        assert_eq!(member.coupons.len(), 1, "the member's coupon shows");
    }
    assert!(
        matches!(
            lookup(&f.conn, "0987 654 321", at(1)),
            Ok(Lookup::NotCached {
                kind: KeyKind::Phone,
                ..
            })
        ),
        "a valid number not in the cache is for the cloud to answer"
    );
}

#[test]
fn a_phone_is_found_only_by_its_memory_hard_hash_and_not_once_the_store_drops_it() {
    let f = fixture();
    let key = loyalty::unhex(MEMBER_KEY).expect("hex");
    // A member change that still carries the old fast hashes (an earlier cloud) stores none.
    let mut old_style = member(
        "m-2",
        "+886911111111",
        "two@example.com",
        "2900000000021",
        0,
    );
    old_style.phone_hash = Some(loyalty::lookup_hash(&key, KeyKind::Phone, "+886911111111"));
    apply_member(&f.conn, &old_style, 0, 0).expect("a member");
    assert!(
        matches!(lookup(&f.conn, "0911111111", at(1)), Ok(Lookup::NotCached { kind: KeyKind::Phone, ref key }) if key == "+886911111111"),
        "a fast keyed hash is never trusted: the member is asked of the cloud by the typed number"
    );
    let stored: Option<String> = f
        .conn
        .query_row("SELECT phone_hash FROM member WHERE id = 'm-2'", [], |r| {
            r.get(0)
        })
        .expect("the row");
    assert_eq!(stored, None, "the old fast hash is not stored");
    apply_lookup_keys(
        &f.conn,
        &MemberLookupKeys {
            member_id: "m-1".into(),
            phone_hash: None,
            email_hash: None,
        },
    )
    .expect("withdrawn");
    assert!(
        matches!(
            lookup(&f.conn, "0912345678", at(1)),
            Ok(Lookup::NotCached { .. })
        ),
        "a member whose keys the store withdrew is found online, not offline"
    );
    assert!(
        matches!(
            lookup(&f.conn, &loyalty::card_number(7), at(1)),
            Ok(Lookup::Found(_))
        ),
        "the card still finds them offline"
    );
    let bad = MemberLookupKeys {
        member_id: "m-1".into(),
        phone_hash: Some("not hex".into()),
        email_hash: None,
    };
    assert!(
        matches!(
            apply_lookup_keys(&f.conn, &bad),
            Err(CoreError::BadInput(_))
        ),
        "a malformed hash from the feed is refused"
    );
}

#[test]
fn bad_look_ups_are_refused_with_a_message() {
    let f = fixture();
    let expired = loyalty::sign_qr(&f.qr, "m-1", at(5).timestamp());
    let mut wrong_card = loyalty::card_number(7).into_bytes();
    wrong_card[12] = if wrong_card[12] == b'9' {
        b'0'
    } else {
        wrong_card[12] + 1
    };
    let wrong_card = String::from_utf8(wrong_card).expect("digits");
    let cases = [
        ("", "type a phone number"),
        ("mei@", "not an e-mail address"),
        ("09x2", "not a phone number"),
        (wrong_card.as_str(), "check digit"),
        (expired.as_str(), "expired"),
        ("OMQ1.m-1.1.00", "not a member code"),
    ];
    for (input, message) in cases {
        let now = if input == expired { at(30) } else { at(1) };
        match lookup(&f.conn, input, now) {
            Err(CoreError::BadInput(text)) => assert!(
                text.contains(message),
                "{input:?}: the message says why ({text})"
            ),
            other => panic!("{input:?} must be refused, not {other:?}"),
        }
    }
}

#[test]
fn before_the_first_sync_a_look_up_says_the_till_has_no_members_yet() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
    assert!(
        matches!(lookup(&conn, "0912345678", at(1)), Err(CoreError::BadInput(m)) if m.contains("not synced")),
        "without the brand's keys nothing can be matched"
    );
}

#[test]
fn the_cache_keeps_no_phone_number_e_mail_or_card_number_in_the_clear() {
    let f = fixture();
    let card = loyalty::card_number(7);
    let dump: Vec<String> = f
        .conn
        .prepare("SELECT quote(id) || quote(card_hash) || quote(phone_hash) || quote(email_hash) || quote(phone_masked) || quote(email_masked) || quote(name) || coupons || (SELECT group_concat(quote(phone_hash) || quote(email_hash)) FROM member_lookup) FROM member")
        .expect("a dump")
        .query_map([], |row| row.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let text = dump.join("\n");
    for secret in [
        "912345678",
        "886912345678",
        "mei@example.com",
        card.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret} must not be stored: {text}"
        );
    }
}

#[test]
fn the_balance_is_the_confirmed_one_plus_this_tills_entries_the_cloud_has_not_counted() {
    let f = fixture();
    pending(&f.conn, 5, "redeem", -300, true);
    pending(&f.conn, 6, "earn", 20, false);
    let seen = view(&f.conn, "m-1").expect("a view").expect("cached");
    assert_eq!(
        (seen.confirmed_balance, seen.pending_points, seen.balance),
        (1_000, -280, 720),
        "both unsynced entries count until the cloud has them"
    );
    // The cloud's balance now includes operation 5 (1,000 - 300), not yet 6.
    apply_member(
        &f.conn,
        &member(
            "m-1",
            "+886912345678",
            "mei@example.com",
            &loyalty::card_number(7),
            700,
        ),
        5,
        at(2).timestamp_millis(),
    )
    .expect("a newer member");
    let seen = view(&f.conn, "m-1").expect("a view").expect("cached");
    assert_eq!(
        (seen.confirmed_balance, seen.pending_points, seen.balance),
        (700, 20, 720),
        "the redemption is counted once, in the confirmed balance"
    );
}

#[test]
fn offline_redemption_is_bounded_by_balance_cap_and_allowance() {
    let f = fixture();
    apply_allowance(
        &f.conn,
        &Allowance {
            granted_points: 2_000,
            used_points: 1_800,
        },
        0,
    )
    .expect("an allowance");
    let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
    assert_eq!(
        (limit.points, limit.bound),
        (200, OfflineBound::TillAllowance),
        "200 of the till's allowance is left"
    );
    pending(&f.conn, 5, "redeem", -150, true);
    let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
    assert_eq!(
        (limit.points, limit.allowance_left, limit.member_cap_left),
        (50, 50, 350),
        "an offline redemption uses the allowance and the member's cap"
    );
    apply_allowance(
        &f.conn,
        &Allowance {
            granted_points: 12_000,
            used_points: 1_950,
        },
        5,
    )
    .expect("a topped-up allowance");
    let limit = loyalty::offline_limit(offline_facts(&f.conn, "m-1").expect("facts"));
    assert_eq!(
        (limit.points, limit.bound),
        (350, OfflineBound::MemberCap),
        "after a top-up the member's cap binds; the member's pending redemption still counts"
    );
}

#[test]
fn a_merged_member_is_forgotten_and_its_unsynced_entries_follow_the_survivor() {
    let f = fixture();
    pending(&f.conn, 5, "earn", 40, false);
    apply_member(
        &f.conn,
        &member(
            "m-2",
            "+886900000001",
            "other@example.com",
            &loyalty::card_number(8),
            10,
        ),
        0,
        0,
    )
    .expect("a second member");
    apply_member_gone(&f.conn, "m-1", Some("m-2")).expect("a merge");
    assert!(
        view(&f.conn, "m-1").expect("a view").is_none(),
        "m-1 is gone"
    );
    let survivor = view(&f.conn, "m-2").expect("a view").expect("cached");
    assert_eq!(
        survivor.balance, 50,
        "the entry moved to the surviving member"
    );
}
