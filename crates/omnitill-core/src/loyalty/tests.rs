//! The membership rules both channels share.

use chrono::TimeZone;
use omnitill_protocol::loyalty::PointsPromotion;
use ring::signature;

use super::*;
use crate::error::CoreError;

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
                min_spend_minor: 2_000_000,
                multiplier_pct: 150,
                discount_bp: 500,
            },
        ],
        no_earn_skus: vec!["GIFT".into()],
        promotions: vec![PointsPromotion {
            id: "double".into(),
            name: "Double".into(),
            starts_at_ms: at(10).timestamp_millis(),
            ends_at_ms: at(12).timestamp_millis(),
            multiplier_pct: 200,
        }],
        expiry_months: 24,
        offline_member_cap_points: 500,
        offline_store_allowance_points: 20_000,
        default_calling_code: 886,
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0)
        .single()
        .expect("a valid time")
}

#[test]
fn phone_numbers_normalise_to_e164_or_are_refused_with_a_reason() {
    let ok = [
        ("0912-345-678", "+886912345678"),
        ("0912 345 678", "+886912345678"),
        ("+886 912 345 678", "+886912345678"),
        ("00886912345678", "+886912345678"),
        ("912345678", "+886912345678"),
        ("(02) 2345-6789", "+886223456789"),
        ("+1 415 555 0100", "+14155550100"),
    ];
    for (input, expected) in ok {
        assert_eq!(
            normalise_phone(input, 886).ok().as_deref(),
            Some(expected),
            "{input:?} is one phone number however it is typed"
        );
    }
    for bad in [
        "",
        "   ",
        "12",
        "0912a345678",
        "+0912345678",
        "++886912345678",
        "☎0912345678",
        "1234567890123456",
    ] {
        assert!(
            matches!(normalise_phone(bad, 886), Err(CoreError::BadInput(_))),
            "{bad:?} is refused with a message, not stored"
        );
    }
}

#[test]
fn e_mails_normalise_to_lower_case_or_are_refused_with_a_reason() {
    assert_eq!(
        normalise_email("  Mei.Lin+tea@Example.COM ")
            .ok()
            .as_deref(),
        Some("mei.lin+tea@example.com"),
        "case and spaces do not make a second member"
    );
    for bad in [
        "",
        "mei",
        "mei@",
        "@example.com",
        "mei@example",
        "mei@@example.com",
        "mei lin@example.com",
        "mei@exa mple.com",
        "mei@-example.com",
        "mei..lin@example.com",
        "mei@example.c0m",
    ] {
        assert!(
            matches!(normalise_email(bad), Err(CoreError::BadInput(_))),
            "{bad:?} is refused with a message"
        );
    }
}

#[test]
fn masks_show_no_digit_of_a_phone_and_the_first_letter_of_an_e_mail() {
    assert_eq!(
        mask_phone("+886912345678"),
        "••••••••",
        "no digit of a phone is shown: each one shown cuts an attacker's candidates tenfold"
    );
    assert_eq!(mask_email("mei.lin@example.com"), "m•••@example.com");
}

#[test]
fn card_numbers_carry_a_check_digit_and_a_prefix_no_product_uses() {
    let card = card_number(42);
    assert_eq!(card.len(), 13, "a card is an EAN-13");
    assert!(card.starts_with("29"), "in the in-store range 29");
    assert_eq!(parse_card(&card).ok(), Some(card.clone()), "a card parses");
    let mut wrong = card.clone().into_bytes();
    wrong[12] = if wrong[12] == b'9' {
        b'0'
    } else {
        wrong[12] + 1
    };
    let wrong = String::from_utf8(wrong).expect("digits");
    assert!(
        matches!(parse_card(&wrong), Err(CoreError::BadInput(m)) if m.contains("check digit")),
        "a mistyped card number fails its check digit"
    );
    assert!(
        !looks_like_card("4712345000015"),
        "a product barcode is no card"
    );
}

#[test]
fn look_up_hashes_depend_on_the_key_the_kind_and_the_value() {
    let a = lookup_hash(b"key-a", KeyKind::Phone, "+886912345678");
    assert_eq!(a, lookup_hash(b"key-a", KeyKind::Phone, "+886912345678"));
    assert_eq!(a.len(), 32, "128 bits, hex");
    assert_ne!(a, lookup_hash(b"key-b", KeyKind::Phone, "+886912345678"));
    assert_ne!(a, lookup_hash(b"key-a", KeyKind::Email, "+886912345678"));
    assert!(
        !a.contains("912345678"),
        "the hash does not show the number"
    );
}

#[test]
fn a_qr_token_is_accepted_until_it_expires_and_only_with_the_brand_key() {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
    let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair");
    let public = signature::KeyPair::public_key(&pair).as_ref().to_vec();
    let expires = at(10).timestamp() + 300;
    let token = sign_qr(&pair, "member-1", expires);
    assert!(looks_like_qr(&token));
    assert_eq!(
        verify_qr(&public, &token, at(10)).ok().as_deref(),
        Some("member-1"),
        "a fresh token names its member"
    );
    assert!(
        matches!(verify_qr(&public, &token, at(11)), Err(CoreError::BadInput(m)) if m.contains("expired")),
        "an expired token is refused and says so"
    );
    let forged = token.replace("member-1", "member-2");
    assert!(
        matches!(verify_qr(&public, &forged, at(10)), Err(CoreError::BadInput(m)) if m.contains("not a member code")),
        "a token whose member was changed fails its signature"
    );
    for garbage in [
        "OMQ1.",
        "OMQ1.a.b.c",
        "OMQ1.a.1.zz",
        "OMQ1.a.1.00.extra",
        "hello",
    ] {
        assert!(
            verify_qr(&public, garbage, at(10)).is_err(),
            "{garbage:?} is refused"
        );
    }
}

#[test]
fn points_follow_spend_tier_promotions_and_excluded_products() {
    let rules = rules();
    let line = |sku, total_minor| EarningLine { sku, total_minor };
    // (tier, lines, paid with points, hour, expected points, why)
    type Case<'a> = (&'a str, Vec<EarningLine<'a>>, Minor, u32, i64, &'a str);
    let cases: &[Case] = &[
        (
            "member",
            vec![line("TEA", 99_900)],
            0,
            8,
            9,
            "NT$999 earns 9 (floor)",
        ),
        (
            "member",
            vec![line("TEA", 100_000)],
            0,
            8,
            10,
            "exactly NT$1,000 earns 10",
        ),
        (
            "gold",
            vec![line("TEA", 100_000)],
            0,
            8,
            15,
            "gold earns half again",
        ),
        (
            "member",
            vec![line("TEA", 100_000)],
            0,
            10,
            20,
            "double points from 10:00",
        ),
        (
            "member",
            vec![line("TEA", 100_000)],
            0,
            12,
            10,
            "the promotion ends at 12:00",
        ),
        (
            "gold",
            vec![line("TEA", 100_000)],
            0,
            11,
            30,
            "tier and promotion multiply",
        ),
        (
            "member",
            vec![line("GIFT", 100_000)],
            0,
            8,
            0,
            "a gift card earns nothing",
        ),
        (
            "member",
            vec![line("TEA", 100_000), line("GIFT", 50_000)],
            0,
            8,
            10,
            "only earning lines count",
        ),
        (
            "member",
            vec![line("TEA", 100_000)],
            30_000,
            8,
            7,
            "what points paid earns nothing",
        ),
        (
            "member",
            vec![line("TEA", 100_000)],
            200_000,
            8,
            0,
            "never negative",
        ),
        (
            "unknown-tier",
            vec![line("TEA", 100_000)],
            0,
            8,
            10,
            "an unknown tier earns the base rate",
        ),
    ];
    for (tier, lines, paid, hour, expected, why) in cases {
        assert_eq!(
            points_earned(&rules, tier, lines, *paid, at(*hour)),
            *expected,
            "{why}"
        );
    }
    let nearest = LoyaltyRules {
        rounding: PointsRounding::Nearest,
        ..rules.clone()
    };
    assert_eq!(
        points_earned(&nearest, "member", &[line("TEA", 95_000)], 0, at(8)),
        10,
        "nearest rounds 9.5 up"
    );
    assert_eq!(
        points_earned(&nearest, "member", &[line("TEA", 94_999)], 0, at(8)),
        9,
        "nearest rounds 9.4999 down"
    );
}

#[test]
fn tiers_follow_rolling_spend() {
    let rules = rules();
    assert_eq!(
        tier_for_spend(&rules, 0).map(|t| t.code.as_str()),
        Some("member")
    );
    assert_eq!(
        tier_for_spend(&rules, 1_999_999).map(|t| t.code.as_str()),
        Some("member")
    );
    assert_eq!(
        tier_for_spend(&rules, 2_000_000).map(|t| t.code.as_str()),
        Some("gold")
    );
    assert_eq!(
        tier_for_spend(&no_rules(), 5).map(|t| t.code.as_str()),
        None
    );
}

#[test]
fn points_pay_whole_amounts_rounded_up_to_the_next_point() {
    let rules = rules();
    assert_eq!(points_value(&rules, 7), 700);
    assert_eq!(points_for_amount(&rules, 700), 7);
    assert_eq!(
        points_for_amount(&rules, 701),
        8,
        "a part point is a whole point"
    );
    assert_eq!(points_for_amount(&rules, 0), 0);
}

#[test]
fn the_offline_limit_is_the_least_bound_and_names_it() {
    let facts = |confirmed_balance, pending_redeemed, pending_offline_redeemed, allowance_left| {
        OfflineFacts {
            confirmed_balance,
            pending_redeemed,
            pending_offline_redeemed,
            member_cap: 500,
            allowance_left,
        }
    };
    // (facts, points, bound, why)
    let cases = [
        (
            facts(300, 0, 0, 20_000),
            300,
            OfflineBound::Balance,
            "a small balance binds",
        ),
        (
            facts(300, 100, 100, 20_000),
            200,
            OfflineBound::Balance,
            "pending redemptions come off the balance",
        ),
        (
            facts(5_000, 0, 0, 20_000),
            500,
            OfflineBound::MemberCap,
            "a big balance meets the member cap",
        ),
        (
            facts(5_000, 400, 400, 20_000),
            100,
            OfflineBound::MemberCap,
            "the cap counts what was redeemed offline",
        ),
        (
            facts(5_000, 0, 0, 80),
            80,
            OfflineBound::TillAllowance,
            "the till's allowance binds last",
        ),
        (
            facts(-20, 0, 0, 100),
            0,
            OfflineBound::Balance,
            "an overdrawn member redeems nothing",
        ),
        (
            facts(5_000, 0, 0, -5),
            0,
            OfflineBound::TillAllowance,
            "a spent allowance allows nothing",
        ),
    ];
    for (facts, points, bound, why) in cases {
        let limit = offline_limit(facts);
        assert_eq!((limit.points, limit.bound), (points, bound), "{why}");
    }
}

#[test]
fn the_points_a_payment_may_take_are_bounded_by_the_due_the_balance_and_offline_the_bound() {
    // NT$1 a point (100 minor), NT$25.50 due: 25 whole points at most.
    assert_eq!(
        points_usable(2_550, 100, 1_000, None),
        25,
        "no more than is due"
    );
    assert_eq!(
        points_usable(2_550, 100, 10, None),
        10,
        "no more than the balance"
    );
    assert_eq!(
        points_usable(2_550, 100, 1_000, Some(7)),
        7,
        "offline, no more than the bound"
    );
    assert_eq!(
        points_usable(2_550, 100, -5, None),
        0,
        "a negative balance gives nothing"
    );
    assert_eq!(
        points_usable(0, 100, 1_000, None),
        0,
        "nothing due, nothing to pay"
    );
    assert_eq!(
        points_usable(2_550, 0, 1_000, None),
        0,
        "points worth nothing pay nothing"
    );
    assert_eq!(
        points_usable(i64::MAX, 1, i64::MAX, None),
        i64::MAX,
        "no overflow at the limits"
    );
}
