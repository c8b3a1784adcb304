//! A member enrolled at the till: what the cashier enters, its checks, and the enrolment
//! written to the cache and the outbox.

use chrono::{DateTime, Utc};
use omnitill_protocol::loyalty::MemberLookupKeys;
use rusqlite::{Connection, OptionalExtension, params};

use super::{MemberView, apply_lookup_keys, keys, no_keys, rules, view};
use crate::error::{CoreError, CoreResult};
use crate::lookup_keys;
use crate::loyalty::{self, KeyKind};
use crate::outbox;

/// What the cashier enters to enrol a new member at the till.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
pub struct Enrolment {
    /// The member's name, in any script.
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `YYYY-MM-DD`, optional.
    pub birthday: Option<String>,
    /// The member agreed to the membership terms (required).
    pub consent_terms: bool,
    /// The member agreed to marketing messages (optional).
    pub consent_marketing: bool,
}

/// The longest member name the till accepts, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// An enrolment checked and normalised: what the operation and the cache row carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEnrolment {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<String>,
}

/// Checks an enrolment: a name (any script, emoji included, no control characters), a phone
/// number or an e-mail (normalised), an optional real birthday, and consent to the terms.
pub fn check_enrolment(
    request: &Enrolment,
    default_calling_code: u16,
    today: chrono::NaiveDate,
) -> CoreResult<CheckedEnrolment> {
    let name = request.name.trim();
    if name.is_empty() {
        return Err(CoreError::BadInput("enter the member's name".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CoreError::BadInput(format!(
            "a name can have at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::BadInput(
            "a name cannot contain control characters".into(),
        ));
    }
    let filled = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let phone = filled(&request.phone)
        .map(|p| loyalty::normalise_phone(&p, default_calling_code))
        .transpose()?;
    let email = filled(&request.email)
        .map(|e| loyalty::normalise_email(&e))
        .transpose()?;
    if phone.is_none() && email.is_none() {
        return Err(CoreError::BadInput(
            "a phone number or an e-mail is needed to enrol a member".into(),
        ));
    }
    let birthday = filled(&request.birthday)
        .map(|text| {
            let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                CoreError::BadInput(format!(
                    "the birthday {text:?} is not a date like 1990-05-31"
                ))
            })?;
            let earliest = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(date);
            if date > today || date < earliest {
                return Err(CoreError::BadInput(format!(
                    "the birthday {text} is not a possible birthday"
                )));
            }
            Ok(date.format("%Y-%m-%d").to_string())
        })
        .transpose()?;
    if !request.consent_terms {
        return Err(CoreError::BadInput(
            "the member must agree to the membership terms to enrol".into(),
        ));
    }
    Ok(CheckedEnrolment {
        name: name.to_owned(),
        phone,
        email,
        birthday,
    })
}

/// Enrols a member at this till, online or offline, in one transaction: the member in the
/// cache (marked local until the cloud sends them back) and a `member.enrolled` operation.
/// A phone or e-mail this till already knows is refused with the member's name, to attach
/// them instead; one only the cloud knows is merged there, and the feed names the survivor.
#[allow(clippy::too_many_arguments)]
pub(crate) fn enrol(
    conn: &mut Connection,
    request: &Enrolment,
    staff_id: &str,
    member_id: &str,
    op_id: &str,
    now: DateTime<Utc>,
) -> CoreResult<MemberView> {
    let (member_key, _) = keys(conn)?.ok_or_else(no_keys)?;
    let rules = rules(conn)?;
    let checked = check_enrolment(request, rules.default_calling_code, now.date_naive())?;
    let phone_hash = checked
        .phone
        .as_deref()
        .map(|p| lookup_keys::key_hash(&member_key, KeyKind::Phone, p))
        .transpose()?;
    let email_hash = checked
        .email
        .as_deref()
        .map(|e| lookup_keys::key_hash(&member_key, KeyKind::Email, e))
        .transpose()?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .prepare_cached(
            "SELECT m.name FROM member_lookup k JOIN member m ON m.id = k.member_id
             WHERE k.phone_hash = ?1 OR k.email_hash = ?2 LIMIT 1",
        )?
        .query_row(params![phone_hash, email_hash], |row| row.get(0))
        .optional()?;
    if let Some(name) = existing {
        return Err(CoreError::BadInput(format!(
            "{name} is already a member with this phone number or e-mail: attach them instead"
        )));
    }
    let tier = loyalty::tier_for_spend(&rules, 0)
        .map(|t| t.code.clone())
        .unwrap_or_else(|| "member".to_owned());
    let now_ms = now.timestamp_millis();
    tx.prepare_cached(
        "INSERT INTO member (id, card_hash, phone_hash, email_hash, phone_masked, email_masked,
             name, tier, balance, as_of_seq, synced_at, coupons, local_only)
         VALUES (?1, NULL, NULL, NULL, ?2, ?3, ?4, ?5, 0, 0, 0, '[]', 1)",
    )?
    .execute(params![
        member_id,
        checked.phone.as_deref().map(loyalty::mask_phone),
        checked.email.as_deref().map(loyalty::mask_email),
        checked.name,
        tier,
    ])?;
    apply_lookup_keys(
        &tx,
        &MemberLookupKeys {
            member_id: member_id.to_owned(),
            phone_hash,
            email_hash,
        },
    )?;
    let seq = outbox::next_counter(&tx, "outbox")?;
    let op = omnitill_protocol::ops::MemberEnrolled {
        member_id: member_id.to_owned(),
        phone: checked.phone.clone(),
        email: checked.email.clone(),
        name: checked.name.clone(),
        birthday: checked.birthday.clone(),
        consent_terms: request.consent_terms,
        consent_marketing: request.consent_marketing,
        staff_id: staff_id.to_owned(),
        enrolled_at_ms: now_ms,
    };
    outbox::append(
        &tx,
        seq,
        op_id,
        omnitill_protocol::ops::MEMBER_ENROLLED,
        &op,
        now_ms,
    )?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'member.enrolled', ?3)",
        params![now_ms, staff_id, format!("member {member_id} enrolled")],
    )?;
    tx.commit()?;
    view(conn, member_id)?
        .ok_or_else(|| CoreError::NotFound(format!("member {member_id} after enrolment")))
}
