//! `member.enrolled.v1`: a member enrolled at a till, online or offline.
//!
//! `check` is pure: the new member's id is a UUID (the till makes it) and the sign-up is
//! usable (`members::check_sign_up`, by the brand's calling code). `apply` books a new member
//! under the till's id, or, when the phone or e-mail is already a member's, a merge into that
//! member; an id the cloud already knows is the same enrolment told twice and changes nothing.

use omnitill_protocol::ops::MemberEnrolled;
use sqlx::AnyConnection;

use super::{ApplyError, PushingDevice, Refusal};
use crate::members;

/// Checks an enrolment's id; the sign-up itself is checked by `members::apply_enrolment`.
pub fn check(enrolled: &MemberEnrolled) -> Result<(), Refusal> {
    if uuid::Uuid::parse_str(&enrolled.member_id).is_err() {
        return Err(Refusal(format!(
            "the new member's id {:?} is not a UUID",
            enrolled.member_id
        )));
    }
    Ok(())
}

pub async fn apply(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    enrolled: &MemberEnrolled,
) -> Result<(), ApplyError> {
    check(enrolled)?;
    members::apply_enrolment(tx, &device.store_id, enrolled, device.now_ms)
        .await?
        .map_err(|reason| ApplyError::Refused(Refusal(reason)))
}
