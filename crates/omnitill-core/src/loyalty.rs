//! Membership rules both channels share: normalising look-up keys, member card numbers, keyed
//! look-up hashes, signed QR tokens, points earned, tiers and the offline redemption bound.
//!
//! Everything here is pure: no store, no clock of its own (times are passed in). The till uses it
//! at checkout and the cloud uses it for e-shop orders, so a member earns by one rule anywhere.
//!
//! - Phone numbers are normalised to E.164 (`+886912345678`). A number typed without a country
//!   code takes the store's (`default_calling_code`); a national trunk `0` is dropped.
//! - E-mails are trimmed and lower-cased, and must look like `local@domain.tld`.
//! - Member cards are EAN-13 numbers in the in-store range `29…`, so the scan field tells a card
//!   from a product by its prefix, and a mistyped digit fails the check digit.
//! - Card look-up hashes are HMAC-SHA-256 under the brand's member key, hex. Phone and e-mail
//!   look-up hashes are memory-hard (`lookup_keys`): a till keeps no phone book, only hashes it
//!   can match a typed key against, each guess costing milliseconds.
//! - QR tokens are `OMQ1.<member id>.<expires, Unix s>.<Ed25519 signature, hex>`, signed by the
//!   cloud; a till checks them offline with the brand's public key. They expire within minutes.
//! - Points: eligible spend (lines that earn, less what points paid) / `earn_minor_per_point`,
//!   times the tier's multiplier and the best promotion running, rounded by the brand's rule.
//! - Offline redemption is bounded by the least of the member's confirmed balance less this
//!   till's pending redemptions, the per-member offline cap less this till's pending offline
//!   redemptions for the member, and this till's remaining allowance (DESIGN.md).

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::{LoyaltyRules, PointsRounding, TierRule};
use ring::{hmac, signature};

use crate::barcode;
use crate::error::{CoreError, CoreResult};
use crate::money::Minor;

/// What a look-up hash is of; each kind is hashed apart, so equal strings never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Phone,
    Email,
    Card,
}

impl KeyKind {
    /// The name the cloud uses for this kind of key.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::Phone => "phone",
            KeyKind::Email => "email",
            KeyKind::Card => "card",
        }
    }
}

/// The keyed look-up hash of a normalised key, hex (HMAC-SHA-256, first 16 bytes).
pub fn lookup_hash(member_key: &[u8], kind: KeyKind, normalised: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, member_key);
    let mut context = hmac::Context::with_key(&key);
    context.update(kind.label().as_bytes());
    context.update(b"\0");
    context.update(normalised.as_bytes());
    hex(&context.sign().as_ref()[..16])
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The bytes of a hex string, or `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Normalises a phone number to E.164. `default_calling_code` (886 for Taiwan) applies to a
/// number typed without one.
pub fn normalise_phone(input: &str, default_calling_code: u16) -> CoreResult<String> {
    let trimmed = input.trim();
    let bad = || {
        CoreError::BadInput(format!(
            "{:?} is not a phone number: use digits, with +country code or as dialled at home",
            trimmed.chars().take(30).collect::<String>()
        ))
    };
    if trimmed.is_empty() {
        return Err(CoreError::BadInput("the phone number is empty".into()));
    }
    let mut digits = String::new();
    for (index, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if index == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{default_calling_code}{rest}")
    } else {
        format!("{default_calling_code}{digits}")
    };
    // E.164: at most 15 digits, a country code that does not start with 0, and room for a
    // subscriber number after it.
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{international}"))
}

/// Normalises an e-mail address: trimmed, lower case, one `@`, a domain with a dot.
pub fn normalise_email(input: &str) -> CoreResult<String> {
    let email = input.trim().to_lowercase();
    let bad = |why: &str| {
        CoreError::BadInput(format!(
            "{:?} is not an e-mail address: {why}",
            email.chars().take(40).collect::<String>()
        ))
    };
    if email.is_empty() {
        return Err(CoreError::BadInput("the e-mail address is empty".into()));
    }
    if email.len() > 254 {
        return Err(bad("it is longer than 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("it needs an @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c) || !c.is_ascii());
    if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad(
            "the part before @ has a character an address cannot have",
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
        return Err(bad("the domain after @ must look like example.com"));
    }
    Ok(email)
}

/// What a till shows of a member's phone number: that there is one, and no digit of it.
/// Every digit shown divides what a copied ledger costs to read (ARCHITECTURE.md, "Threat
/// model"): the last four cut the Taiwanese mobiles that fit from 10^8 to 10^4.
pub const PHONE_MASK: &str = "••••••••";

/// The masked form of an E.164 number (`PHONE_MASK`, whatever the number).
pub fn mask_phone(_e164: &str) -> String {
    PHONE_MASK.to_owned()
}

/// "m•••@example.com" for a normalised e-mail.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// The GS1 prefix of member cards: 29 is reserved for a retailer's own numbers.
pub const CARD_PREFIX: &str = "29";

/// The card number of a member's `serial`: `29`, ten digits, and an EAN-13 check digit.
pub fn card_number(serial: u64) -> String {
    barcode::ean13_from_payload(29 * 10_000_000_000 + serial % 10_000_000_000)
}

/// Whether a scanned code is a member card (its prefix), before its check digit is checked.
pub fn looks_like_card(code: &str) -> bool {
    let code = code.trim();
    code.len() == 13 && code.starts_with(CARD_PREFIX) && code.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a typed or scanned member card number.
pub fn parse_card(input: &str) -> CoreResult<String> {
    let code = input.trim();
    if !looks_like_card(code) {
        return Err(CoreError::BadInput(format!(
            "{:?} is not a member card number: it has 13 digits and starts with {CARD_PREFIX}",
            code.chars().take(30).collect::<String>()
        )));
    }
    match barcode::parse(code) {
        Ok(gtin) => Ok(gtin.as_str().to_owned()),
        Err(_) => Err(CoreError::BadInput(format!(
            "member card {code} has a wrong check digit: scan it again or type it carefully"
        ))),
    }
}

/// The prefix of every member QR token.
pub const QR_PREFIX: &str = "OMQ1.";

/// Whether a scanned text is a member QR token (by its prefix).
pub fn looks_like_qr(text: &str) -> bool {
    text.trim().starts_with(QR_PREFIX)
}

/// What a QR token's signature covers.
fn qr_message(member_id: &str, expires_at_s: i64) -> String {
    format!("{QR_PREFIX}{member_id}.{expires_at_s}")
}

/// Signs a QR token for a member (the cloud does this; `key_pair` is the brand's Ed25519 key).
pub fn sign_qr(key_pair: &signature::Ed25519KeyPair, member_id: &str, expires_at_s: i64) -> String {
    let message = qr_message(member_id, expires_at_s);
    let signed = key_pair.sign(message.as_bytes());
    format!("{message}.{}", hex(signed.as_ref()))
}

/// Checks a scanned QR token against the brand's public key and the time; returns the member
/// id it names.
pub fn verify_qr(public_key: &[u8], token: &str, now: DateTime<Utc>) -> CoreResult<String> {
    let token = token.trim();
    let unreadable =
        || CoreError::BadInput("this QR code is not a member code of this brand".to_owned());
    let body = token.strip_prefix(QR_PREFIX).ok_or_else(unreadable)?;
    let mut parts = body.split('.');
    let (Some(member_id), Some(expires), Some(signature_hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unreadable());
    };
    let expires_at_s: i64 = expires.parse().map_err(|_| unreadable())?;
    let signature_bytes = unhex(signature_hex).ok_or_else(unreadable)?;
    let message = qr_message(member_id, expires_at_s);
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(message.as_bytes(), &signature_bytes)
        .map_err(|_| unreadable())?;
    if now.timestamp() > expires_at_s {
        return Err(CoreError::BadInput(
            "this member QR code has expired: ask the member to refresh it in the app".to_owned(),
        ));
    }
    Ok(member_id.to_owned())
}

/// The tier `spend_minor` over the last 12 months reaches (the lowest if the rules have no
/// tier for it).
pub fn tier_for_spend(rules: &LoyaltyRules, spend_minor: i64) -> Option<&TierRule> {
    rules
        .tiers
        .iter()
        .filter(|tier| tier.min_spend_minor <= spend_minor)
        .max_by_key(|tier| tier.min_spend_minor)
        .or_else(|| rules.tiers.iter().min_by_key(|tier| tier.min_spend_minor))
}

/// The rule of a tier by its code.
pub fn tier<'a>(rules: &'a LoyaltyRules, code: &str) -> Option<&'a TierRule> {
    rules.tiers.iter().find(|tier| tier.code == code)
}

/// A line as the earning rule sees it: its SKU and what it finally came to.
#[derive(Debug, Clone, Copy)]
pub struct EarningLine<'a> {
    pub sku: &'a str,
    pub total_minor: Minor,
}

/// Points a purchase earns: eligible spend (lines that earn, less `paid_with_points_minor`),
/// per `earn_minor_per_point`, times the tier's multiplier and the best promotion at `at`,
/// rounded by the brand's rule. Never negative.
pub fn points_earned(
    rules: &LoyaltyRules,
    tier_code: &str,
    lines: &[EarningLine<'_>],
    paid_with_points_minor: Minor,
    at: DateTime<Utc>,
) -> i64 {
    if rules.earn_minor_per_point <= 0 {
        return 0;
    }
    let eligible: i128 = lines
        .iter()
        .filter(|line| !rules.no_earn_skus.iter().any(|sku| sku == line.sku))
        .map(|line| i128::from(line.total_minor.max(0)))
        .sum::<i128>()
        - i128::from(paid_with_points_minor.max(0));
    if eligible <= 0 {
        return 0;
    }
    let tier_pct = i128::from(tier(rules, tier_code).map_or(100, |t| t.multiplier_pct));
    let at_ms = at.timestamp_millis();
    let promo_pct = i128::from(
        rules
            .promotions
            .iter()
            .filter(|p| p.starts_at_ms <= at_ms && at_ms < p.ends_at_ms)
            .map(|p| p.multiplier_pct)
            .max()
            .unwrap_or(100),
    );
    let numerator = eligible * tier_pct * promo_pct;
    let denominator = i128::from(rules.earn_minor_per_point) * 100 * 100;
    let points = match rules.rounding {
        PointsRounding::Floor => numerator / denominator,
        PointsRounding::Nearest => (numerator + denominator / 2) / denominator,
    };
    i64::try_from(points).unwrap_or(i64::MAX)
}

/// What paying with `points` comes to, in minor units.
pub fn points_value(rules: &LoyaltyRules, points: i64) -> Minor {
    points.saturating_mul(rules.point_value_minor)
}

/// The fewest points that pay at least `amount_minor` (what a cashier asks for to pay an
/// amount).
pub fn points_for_amount(rules: &LoyaltyRules, amount_minor: Minor) -> i64 {
    if rules.point_value_minor <= 0 || amount_minor <= 0 {
        return 0;
    }
    (amount_minor + rules.point_value_minor - 1) / rules.point_value_minor
}

/// Which bound limits an offline redemption, for the cashier's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineBound {
    /// The member's confirmed balance, less what this till redeemed and has not synced.
    Balance,
    /// The brand's per-member cap on offline redemption.
    MemberCap,
    /// What is left of this till's offline allowance.
    TillAllowance,
}

/// The most points a till may redeem offline for a member, and which bound sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OfflineLimit {
    pub points: i64,
    pub bound: OfflineBound,
    pub balance_left: i64,
    pub member_cap_left: i64,
    pub allowance_left: i64,
}

/// What the till knows when it bounds an offline redemption.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineFacts {
    /// The member's balance as of the last sync.
    pub confirmed_balance: i64,
    /// Points this till redeemed for the member (online or offline) not yet in that balance.
    pub pending_redeemed: i64,
    /// Points this till redeemed for the member offline and has not synced.
    pub pending_offline_redeemed: i64,
    /// The brand's per-member offline cap.
    pub member_cap: i64,
    /// This till's allowance: granted, less used as the cloud counted it, less this till's
    /// offline redemptions (for any member) not yet counted.
    pub allowance_left: i64,
}

/// The offline redemption bound of DESIGN.md: the least of the three, never below zero. On a
/// tie the bound reported is the first of balance, member cap, allowance.
pub fn offline_limit(facts: OfflineFacts) -> OfflineLimit {
    let balance_left = (facts.confirmed_balance - facts.pending_redeemed).max(0);
    let member_cap_left = (facts.member_cap - facts.pending_offline_redeemed).max(0);
    let allowance_left = facts.allowance_left.max(0);
    let (points, bound) = [
        (balance_left, OfflineBound::Balance),
        (member_cap_left, OfflineBound::MemberCap),
        (allowance_left, OfflineBound::TillAllowance),
    ]
    .into_iter()
    .fold((i64::MAX, OfflineBound::Balance), |best, next| {
        if next.0 < best.0 { next } else { best }
    });
    OfflineLimit {
        points,
        bound,
        balance_left,
        member_cap_left,
        allowance_left,
    }
}

/// The brand's rules when the cloud has not sent any yet: no earning, no redemption offline.
pub fn no_rules() -> LoyaltyRules {
    LoyaltyRules {
        version: 0,
        earn_minor_per_point: 0,
        point_value_minor: 0,
        rounding: PointsRounding::Floor,
        tiers: Vec::new(),
        no_earn_skus: Vec::new(),
        promotions: Vec::new(),
        expiry_months: 0,
        offline_member_cap_points: 0,
        offline_store_allowance_points: 0,
        default_calling_code: 886,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use omnitill_protocol::loyalty::PointsPromotion;

    use super::*;

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
        let facts =
            |confirmed_balance, pending_redeemed, pending_offline_redeemed, allowance_left| {
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
}
