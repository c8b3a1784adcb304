//! How a member is named at a till: normalised phone numbers and e-mails, their masks, member
//! card numbers, keyed look-up hashes, and the cloud's signed QR tokens.

use chrono::{DateTime, Utc};
use ring::{hmac, signature};

use crate::barcode;
use crate::error::{CoreError, CoreResult};

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
