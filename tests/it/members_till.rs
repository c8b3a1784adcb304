//! A member at the till's checkout, on a real ledger file: the member found by phone and
//! attached, the tier discount and a coupon, points paid offline within the offline bound
//! (and refused past it with the reason), points earned by the brand's rules, the receipt's
//! points lines marked pending, the operation carrying the member block, and a refund that
//! takes back the earned points and gives back the redeemed ones.

use omnitill_core::lookup_keys;
use omnitill_core::loyalty::{self, KeyKind};
use omnitill_core::members::{self, Lookup};
use omnitill_core::{CoreError, TenderKind, outbox, receipt_text, sync as ledger_sync};
use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::loyalty::{
    Allowance, CachedCoupon, CachedMember, LoyaltyRules, MemberKeys, MemberLookupKeys,
    PointsRounding, TierRule,
};

use crate::support::TempTill;

const MEMBER_KEY: &str = "00112233445566778899aabbccddeeff";

fn rules() -> LoyaltyRules {
    LoyaltyRules {
        version: 1,
        earn_minor_per_point: 10_000,
        point_value_minor: 100,
        rounding: PointsRounding::Floor,
        tiers: vec![
            TierRule {
                code: "member".into(),
                name: "Member".into(),
                min_spend_minor: 0,
                multiplier_pct: 100,
                discount_bp: 0,
            },
            TierRule {
                code: "gold".into(),
                name: "Gold".into(),
                min_spend_minor: 6_000_000,
                multiplier_pct: 150,
                discount_bp: 500,
            },
        ],
        no_earn_skus: Vec::new(),
        promotions: Vec::new(),
        expiry_months: 24,
        offline_member_cap_points: 500,
        offline_store_allowance_points: 20_000,
        default_calling_code: 886,
    }
}

/// A demo till enrolled to a (pretend) cloud, with the brand's keys, rules, an allowance of
/// 1,000 points and one gold member with 1,000 points and an NT$100 coupon.
fn till_with_member() -> TempTill {
    let mut temp = TempTill::demo();
    let enrolment = EnrolResponse {
        device_id: "device-1".into(),
        store_id: "store-1".into(),
        store_name: "Xinyi".into(),
        token: "token".into(),
        receipt_prefix: "MX1".into(),
    };
    let now = temp.till.clock().now();
    ledger_sync::record_enrolment(
        temp.till.connection_mut(),
        "http://127.0.0.1:9",
        &enrolment,
        now,
    )
    .expect("an enrolment");
    temp.till.reload_device().expect("the device reloads");
    let conn = temp.till.connection();
    let key = loyalty::unhex(MEMBER_KEY).expect("hex");
    members::apply_keys(
        conn,
        &MemberKeys {
            member_key_hex: MEMBER_KEY.into(),
            qr_public_key_hex: "00".repeat(32),
        },
    )
    .expect("keys");
    members::apply_rules(conn, &rules()).expect("rules");
    members::apply_allowance(
        conn,
        &Allowance {
            granted_points: 1_000,
            used_points: 0,
        },
        0,
    )
    .expect("an allowance");
    let phone = "+886933222111";
    members::apply_member(
        conn,
        &CachedMember {
            id: "member-1".into(),
            card_hash: loyalty::lookup_hash(&key, KeyKind::Card, &loyalty::card_number(5)),
            phone_hash: None,
            email_hash: None,
            phone_masked: Some(loyalty::mask_phone(phone)),
            email_masked: None,
            name: "林偉 Lin Wei".into(),
            tier: "gold".into(),
            balance: 1_000,
            coupons: vec![CachedCoupon {
                id: "coupon-1".into(),
                kind: "welcome".into(),
                title: "Welcome NT$100 off".into(),
                discount_kind: "amount".into(),
                value: 10_000,
                min_spend_minor: 50_000,
                valid_from_ms: 0,
                valid_to_ms: i64::MAX,
            }],
        },
        0,
        0,
    )
    .expect("a member");
    // The member shops at this store: the feed brought their memory-hard phone hash.
    members::apply_lookup_keys(
        conn,
        &MemberLookupKeys {
            member_id: "member-1".into(),
            phone_hash: Some(
                lookup_keys::key_hash(&key, KeyKind::Phone, phone).expect("a phone hash"),
            ),
            email_hash: None,
        },
    )
    .expect("the member's look-up keys");
    temp
}

#[test]
fn a_member_sale_earns_redeems_and_refunds_points_with_the_offline_bound_enforced() {
    let mut temp = till_with_member();
    let cashier = temp.cashier();
    let pricing = temp.till.pricing_rules().expect("pricing rules");

    let Lookup::Found(found) = temp.till.lookup_member("0933-222-111").expect("a look-up") else {
        panic!("the member is in the cache");
    };
    assert_eq!(found.balance, 1_000);
    let mut cart = temp.cart_of(&[1, 2, 3]);
    let before = cart.totals(pricing).total_minor;
    temp.till
        .attach_member(&mut cart, &found.id)
        .expect("the member attaches");
    let with_tier = cart.totals(pricing);
    assert_eq!(
        with_tier.tier_discount_minor,
        omnitill_core::money::percent_of(before, 500),
        "gold takes 5 % off the sale"
    );
    temp.till
        .apply_coupon(&mut cart, "coupon-1", false)
        .expect("the coupon applies offline");
    let totals = cart.totals(pricing);
    assert_eq!(
        totals.coupon_discount_minor, 10_000,
        "the coupon takes NT$100 off"
    );
    assert_eq!(
        totals.total_minor,
        before - with_tier.tier_discount_minor - 10_000,
        "the total is after the tier discount and the coupon"
    );

    // Offline, the member cap (500) is the tightest bound: 600 points are refused with why.
    let limit = temp.till.offline_points_limit(&found.id).expect("a limit");
    assert_eq!(
        (limit.points, limit.bound),
        (500, loyalty::OfflineBound::MemberCap)
    );
    match temp.till.pay_with_points(&mut cart, 600, false) {
        Err(CoreError::OfflinePointsLimit(message)) => assert!(
            message.contains("at most 500") && message.contains("offline"),
            "the cashier is told the limit and why: {message}"
        ),
        other => panic!("600 points offline must be refused, not {other:?}"),
    }
    assert!(
        cart.tenders().is_empty(),
        "a refused tender leaves the cart as it was"
    );
    temp.till
        .pay_with_points(&mut cart, 300, false)
        .expect("300 points fit every bound");
    let due = cart.totals(pricing).due_minor;
    assert_eq!(due, totals.total_minor - 30_000, "300 points pay NT$300");
    cart.add_tender(pricing, TenderKind::Card, due, Some("T-1"))
        .expect("the card pays the rest");
    let receipt = temp
        .till
        .complete_sale(&cashier, &cart)
        .expect("the sale completes");

    let expected_earned = (totals.total_minor - 30_000) * 150 / 100 / 10_000;
    let member = receipt.member.as_ref().expect("the receipt has the member");
    assert_eq!(
        member.points_earned, expected_earned,
        "earned on what money paid, at 150 %"
    );
    assert_eq!(member.points_redeemed, 300);
    assert_eq!(member.balance_after, 1_000 - 300 + expected_earned);
    assert!(
        member.balance_pending,
        "the balance is pending until the cloud confirms it"
    );
    let text = receipt_text::render_text(&receipt, 42).join("\n");
    for words in [
        "Points 300",
        "Points earned",
        "Points redeemed",
        "(pending)",
        "Member discount (Gold)",
        "Welcome NT$100 off",
    ] {
        assert!(text.contains(words), "the receipt shows {words:?}:\n{text}");
    }
    let view = temp.till.member(&found.id).expect("the member");
    assert_eq!(
        view.balance, member.balance_after,
        "look-up shows the same balance"
    );
    assert!(view.coupons.is_empty(), "the used coupon no longer shows");

    let ops = outbox::pending(temp.till.connection(), 10).expect("the outbox");
    let sale_op = ops.last().expect("the sale's operation");
    assert_eq!(
        sale_op.op_type,
        outbox::SALE_COMPLETED_V2,
        "a member sale is a v2 operation"
    );
    let payload: serde_json::Value = serde_json::from_str(&sale_op.payload).expect("JSON");
    assert_eq!(payload["member"]["points_redeemed"], 300);
    assert_eq!(payload["member"]["redemption"], "offline");
    assert_eq!(payload["member"]["coupon"]["coupon_id"], "coupon-1");
    assert_eq!(payload["member"]["points_earned"], expected_earned);

    // The bound counts what this till redeemed: 200 left of the member's offline cap.
    let limit = temp.till.offline_points_limit(&found.id).expect("a limit");
    assert_eq!((limit.points, limit.allowance_left), (200, 700));

    // A full refund takes the earned points back and gives the redeemed ones back.
    let manager = temp.manager();
    let approval = temp
        .till
        .approve_as_manager(
            omnitill_core::demo::MANAGER.0,
            omnitill_core::demo::MANAGER.1,
        )
        .expect("the manager approves");
    let refundable = temp
        .till
        .refundable(&receipt.receipt_no)
        .expect("refundable");
    let all: Vec<(i64, i64)> = refundable
        .lines
        .iter()
        .map(|l| (l.line_no, l.refundable_quantity))
        .collect();
    let refund = temp
        .till
        .refund(&manager, &approval, &receipt.receipt_no, &all)
        .expect("the refund completes");
    let back = refund.member.as_ref().expect("the refund has the member");
    assert_eq!(
        back.points_earned, expected_earned,
        "every earned point is taken back"
    );
    assert_eq!(
        back.points_redeemed, 300,
        "every redeemed point is given back"
    );
    assert_eq!(
        back.balance_after, 1_000,
        "the member is where they started"
    );
    let points_back: i64 = refund
        .tenders
        .iter()
        .filter(|t| t.kind == TenderKind::Points)
        .map(|t| t.points)
        .sum();
    assert_eq!(points_back, 300, "the points tender gets its points back");
    let ops = outbox::pending(temp.till.connection(), 10).expect("the outbox");
    let refund_op = ops.last().expect("the refund's operation");
    assert_eq!(refund_op.op_type, outbox::REFUND_COMPLETED_V2);
    let payload: serde_json::Value = serde_json::from_str(&refund_op.payload).expect("JSON");
    assert_eq!(payload["member"]["points_reversed"], expected_earned);
    assert_eq!(payload["member"]["points_restored"], 300);
}

#[test]
fn without_an_allowance_nothing_is_redeemed_offline_and_the_cashier_is_told_why() {
    let mut temp = till_with_member();
    members::apply_allowance(
        temp.till.connection(),
        &Allowance {
            granted_points: 50,
            used_points: 50,
        },
        0,
    )
    .expect("a spent allowance");
    let mut cart = temp.cart_of(&[1]);
    temp.till
        .attach_member(&mut cart, "member-1")
        .expect("the member attaches");
    match temp.till.pay_with_points(&mut cart, 1, false) {
        Err(CoreError::OfflinePointsLimit(message)) => assert!(
            message.contains("allowance"),
            "the message names the till's allowance: {message}"
        ),
        other => panic!("no points may be redeemed offline, not {other:?}"),
    }
    let _ = temp.cashier();
}

/// Rows of a table in the ledger, to prove a refusal wrote nothing.
fn count(temp: &TempTill, table: &str) -> i64 {
    temp.till
        .connection()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("a count")
}

#[test]
fn a_member_enrolled_offline_is_cached_masked_with_one_operation_and_bad_input_changes_nothing() {
    let mut temp = till_with_member();
    let staff = temp.cashier();
    let good = members::Enrolment {
        name: "王小明 Wang 🌟".into(),
        phone: Some("0988-123-456".into()),
        email: Some("  Wang.Xiao@Example.COM ".into()),
        birthday: Some("1990-05-31".into()),
        consent_terms: true,
        consent_marketing: false,
    };
    let (members_before, ops_before) = (count(&temp, "member"), count(&temp, "outbox"));
    let refusals: Vec<(&str, members::Enrolment)> = vec![
        (
            "no phone and no e-mail",
            members::Enrolment {
                phone: None,
                email: Some("   ".into()),
                ..good.clone()
            },
        ),
        (
            "a phone with letters",
            members::Enrolment {
                phone: Some("09ab-123".into()),
                ..good.clone()
            },
        ),
        (
            "an e-mail without a domain",
            members::Enrolment {
                email: Some("wang@".into()),
                ..good.clone()
            },
        ),
        (
            "no consent to the terms",
            members::Enrolment {
                consent_terms: false,
                ..good.clone()
            },
        ),
        (
            "an empty name",
            members::Enrolment {
                name: "   ".into(),
                ..good.clone()
            },
        ),
        (
            "a control character in the name",
            members::Enrolment {
                name: "Wang\u{7}".into(),
                ..good.clone()
            },
        ),
        (
            "a birthday in the future",
            members::Enrolment {
                birthday: Some("2999-01-01".into()),
                ..good.clone()
            },
        ),
        (
            "a birthday that is no date",
            members::Enrolment {
                birthday: Some("1990-02-30".into()),
                ..good.clone()
            },
        ),
        (
            "the phone of a member this till knows",
            members::Enrolment {
                phone: Some("0933-222-111".into()),
                email: None,
                ..good.clone()
            },
        ),
    ];
    for (why, request) in &refusals {
        match temp.till.enrol_member(&staff, request) {
            Err(CoreError::BadInput(message)) => {
                assert!(!message.is_empty(), "{why}: the refusal says why in words")
            }
            other => panic!("{why} must be refused as bad input, not {other:?}"),
        }
        assert_eq!(
            (count(&temp, "member"), count(&temp, "outbox")),
            (members_before, ops_before),
            "{why}: a refused enrolment writes nothing"
        );
    }

    let member = temp.till.enrol_member(&staff, &good).expect("an enrolment");
    assert!(
        member.local_only,
        "the new member is local until the cloud confirms"
    );
    assert_eq!(
        member.name, "王小明 Wang 🌟",
        "names keep any script and emoji"
    );
    assert_eq!(
        member.phone_masked.as_deref(),
        Some(loyalty::PHONE_MASK),
        "the mask shows no digit of the phone"
    );
    assert!(
        member
            .email_masked
            .as_deref()
            .is_some_and(|m| !m.contains("wang.xiao")),
        "the e-mail is cached masked only: {:?}",
        member.email_masked
    );
    assert_eq!(member.balance, 0, "a new member starts with no points");
    let stored: String = temp
        .till
        .connection()
        .query_row(
            "SELECT group_concat(coalesce(phone_masked, '') || coalesce(email_masked, '')) FROM member WHERE id = ?1",
            [&member.id],
            |row| row.get(0),
        )
        .expect("the cached row");
    assert!(
        !stored.contains("988123456") && !stored.contains("wang.xiao"),
        "no phone number or e-mail address in the clear in the cache: {stored}"
    );
    let ops = outbox::pending(temp.till.connection(), 100).expect("the outbox");
    let op = ops.last().expect("an operation");
    assert_eq!(op.op_type, "member.enrolled.v1", "one enrolment operation");
    assert_eq!(
        count(&temp, "outbox"),
        ops_before + 1,
        "exactly one operation for the enrolment"
    );
    let payload: serde_json::Value = serde_json::from_str(&op.payload).expect("JSON");
    assert_eq!(
        payload["phone"], "+886988123456",
        "the phone is sent in E.164"
    );
    assert_eq!(
        payload["email"], "wang.xiao@example.com",
        "the e-mail is sent normalised"
    );
    assert_eq!(payload["member_id"], member.id.as_str());
    // Found at once by the phone, offline.
    match temp.till.lookup_member("0988 123 456").expect("a look-up") {
        Lookup::Found(found) => assert_eq!(found.id, member.id, "the new member is found"),
        other => panic!("the member just enrolled must be found offline, not {other:?}"),
    }
}

/// A cached member of the generated member base, number `n`.
fn generated_member(key: &[u8], n: u64) -> CachedMember {
    let phone = format!("+8869{:08}", 30_000_000 + n);
    CachedMember {
        id: format!("gen-{n:08}"),
        card_hash: loyalty::lookup_hash(key, KeyKind::Card, &loyalty::card_number(1_000 + n)),
        phone_hash: None,
        email_hash: None,
        phone_masked: Some(loyalty::mask_phone(&phone)),
        email_masked: None,
        name: format!("Member {n}"),
        tier: "member".into(),
        balance: n as i64,
        coupons: Vec::new(),
    }
}

fn lookup_indexes(temp: &TempTill) -> i64 {
    temp.till
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'member_by_%'",
            [],
            |row| row.get(0),
        )
        .expect("the schema")
}

#[test]
fn a_first_download_of_many_members_builds_their_look_up_indexes_once_at_its_end() {
    use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

    let mut temp = TempTill::demo();
    let now = temp.till.clock().now();
    let key = loyalty::unhex(MEMBER_KEY).expect("hex");
    let page = |from: u64, to: u64, has_more: bool| PullResponse {
        entries: (from..to)
            .map(|n| FeedEntry {
                cursor: n as i64 + 10,
                change: Change::Member(generated_member(&key, n)),
            })
            .collect(),
        cursor: to as i64 + 10,
        has_more,
        reset: false,
        last_applied_seq: 0,
        remaining: if has_more { 1_500 } else { 0 },
        allowance: None,
    };
    let keys = PullResponse {
        entries: vec![
            FeedEntry {
                cursor: 1,
                change: Change::MemberKeys(MemberKeys {
                    member_key_hex: MEMBER_KEY.into(),
                    qr_public_key_hex: "00".repeat(32),
                }),
            },
            FeedEntry {
                cursor: 2,
                change: Change::LoyaltyRules(rules()),
            },
        ],
        cursor: 2,
        has_more: true,
        reset: false,
        last_applied_seq: 0,
        remaining: 3_000,
        allowance: None,
    };
    ledger_sync::apply_pull(temp.till.connection_mut(), &keys, now).expect("keys and rules");
    assert_eq!(
        lookup_indexes(&temp),
        3,
        "a new ledger has the three look-up indexes"
    );

    ledger_sync::apply_pull(temp.till.connection_mut(), &page(0, 1_500, true), now)
        .expect("the first page of members");
    assert_eq!(
        lookup_indexes(&temp),
        0,
        "a first download of many members defers the look-up indexes"
    );
    match temp
        .till
        .lookup_member(&loyalty::card_number(1_000 + 7))
        .expect("a look-up")
    {
        Lookup::Found(member) => assert_eq!(
            member.id, "gen-00000007",
            "during the download a look-up still finds the member, without the index"
        ),
        other => panic!("a downloaded member must be found mid-download, not {other:?}"),
    }
    ledger_sync::apply_pull(temp.till.connection_mut(), &page(1_500, 3_000, false), now)
        .expect("the last page of members");
    assert_eq!(
        lookup_indexes(&temp),
        3,
        "the end of the download builds the look-up indexes again"
    );
    match temp
        .till
        .lookup_member(&loyalty::card_number(1_000 + 2_999))
        .expect("a look-up by card")
    {
        Lookup::Found(member) => assert_eq!(member.id, "gen-00002999"),
        other => panic!("the last member must be found by card, not {other:?}"),
    }
    // A later page of many members into a cache that is not empty keeps the indexes.
    ledger_sync::apply_pull(temp.till.connection_mut(), &page(3_000, 4_500, true), now)
        .expect("a later large page");
    assert_eq!(
        lookup_indexes(&temp),
        3,
        "only a first download into an empty cache defers the indexes"
    );
    assert_eq!(
        temp.till.integrity_check().expect("a check"),
        vec!["ok".to_owned()],
        "the ledger is intact after the indexes were rebuilt"
    );
}
