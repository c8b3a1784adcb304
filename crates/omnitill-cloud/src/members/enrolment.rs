//! A member enrolled at a till: created as sent, or merged into the member who already has the
//! phone or e-mail (the till's id becomes an alias and tills forget it).

use omnitill_protocol::ops::MemberEnrolled;
use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use super::{SignUp, check_sign_up, create, flag, holder_of, publish, resolve, rules};
use crate::error::CloudResult;
use crate::feed::{self, ALL_STORES};

/// Merges a till's enrolment into `survivor`: its id becomes an alias, tills forget it, and
/// the store's review list shows the merge.
pub async fn merge_enrolment(
    tx: &mut AnyConnection,
    store_id: &str,
    new_id: &str,
    survivor: &str,
    at_ms: i64,
    now_ms: i64,
) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO member_alias (alias_id, member_id, merged_at) VALUES ($1, $2, $3)
         ON CONFLICT (alias_id) DO NOTHING",
    )
    .bind(new_id)
    .bind(survivor)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    let gone = Change::MemberGone {
        id: new_id.to_owned(),
        merged_into: Some(survivor.to_owned()),
    };
    feed::publish(tx, ALL_STORES, "member", new_id, &gone).await?;
    let summary = "Enrolled at the till with a phone or e-mail the brand already knew: merged \
                   into the existing member, with everything the till recorded";
    flag(tx, store_id, "merged_enrolment", survivor, new_id, summary).await?;
    publish(tx, survivor, now_ms).await
}

/// Books a member enrolled at a till: a new member under the till's id, or, when the phone or
/// e-mail is already a member's, a merge into that member. Refused (with the reason) when the
/// enrolment itself is unusable.
pub async fn apply_enrolment(
    tx: &mut AnyConnection,
    store_id: &str,
    enrolled: &MemberEnrolled,
    now_ms: i64,
) -> CloudResult<Result<(), String>> {
    if uuid::Uuid::parse_str(&enrolled.member_id).is_err() {
        return Ok(Err(format!(
            "the new member's id {:?} is not a UUID",
            enrolled.member_id
        )));
    }
    if resolve(&mut *tx, &enrolled.member_id).await?.is_some() {
        return Ok(Ok(()));
    }
    let rules = rules(&mut *tx).await?;
    let sign_up = SignUp {
        phone: enrolled.phone.clone(),
        email: enrolled.email.clone(),
        name: enrolled.name.clone(),
        birthday: enrolled.birthday.clone(),
        consent_terms: enrolled.consent_terms,
        consent_marketing: enrolled.consent_marketing,
        tags: Vec::new(),
    };
    let checked = match check_sign_up(&sign_up, rules.default_calling_code) {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Err(refusal.to_string())),
    };
    let at = enrolled.enrolled_at_ms;
    match holder_of(&mut *tx, checked.phone.as_deref(), checked.email.as_deref()).await? {
        Some(survivor) => {
            merge_enrolment(tx, store_id, &enrolled.member_id, &survivor, at, now_ms).await?
        }
        None => create(tx, &enrolled.member_id, &checked, store_id, at, now_ms).await?,
    }
    // Enrolled here: the store's tills get the member's memory-hard look-up keys.
    let member_id = resolve(&mut *tx, &enrolled.member_id)
        .await?
        .unwrap_or_else(|| enrolled.member_id.clone());
    crate::lookup_keys::attach(&mut *tx, &member_id, store_id, at).await?;
    Ok(Ok(()))
}
