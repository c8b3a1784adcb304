//! The IPC commands for a member at checkout: find and attach a member in one scan, use one of
//! their coupons, and pay with their points.
//!
//! Each command does its local work under the shell's lock and its one cloud call (a look-up
//! of a member the cache lacks, a hold on points or on a coupon) without it, with the sync
//! client's short member timeout. The cloud is asked only while the sync engine reports the
//! link up; when it is down or does not answer, the till goes on offline and core applies the
//! offline bounds. A business refusal from the cloud (too few points, a coupon already used)
//! is shown as it is and changes nothing.

use omnitill_core::members::{Conflict, Enrolment, Lookup};
use omnitill_core::{Cart, CoreError, TenderKind};
use omnitill_protocol::loyalty::{CouponHoldRequest, History, HoldRequest};
use omnitill_sync::Client;
use omnitill_sync::SyncError;
use tauri::State;

use crate::args::{Lenient, required};
use crate::checkout::{edit_cart, wake_sync};
use crate::error::{ApiError, ErrorCode, Reply};
use crate::state::{AppState, Shell};
use crate::views::CartView;

/// A client for the till's cloud while the engine reports the link up, else `None`.
fn cloud_if_online(state: &AppState, shell: &Shell) -> Reply<Option<Client>> {
    let online = state
        .sync
        .as_ref()
        .filter(|sync| sync.is_started())
        .is_some_and(|sync| sync.status().state.is_up());
    if !online {
        return Ok(None);
    }
    match shell.till.sync_link()? {
        Some(link) if !link.revoked => Client::new(&link.cloud_url, Some(link.token))
            .map(Some)
            .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string())),
        _ => Ok(None),
    }
}

/// The cloud's refusal as the cashier's error: its own words, under `code`.
fn refused(error: SyncError, code: ErrorCode) -> ApiError {
    match error {
        SyncError::Refused { message, .. } => ApiError::new(code, message),
        other => ApiError::new(ErrorCode::Sync, other.to_string()),
    }
}

/// Finds a member by what was scanned or typed (QR code, card, phone, e-mail) and attaches
/// them to the sale with their tier discount. A member this till has not cached is asked of
/// the cloud when the link is up, and cached.
#[tauri::command]
pub async fn member_attach(
    state: State<'_, AppState>,
    input: Option<Lenient<String>>,
) -> Reply<CartView> {
    let input = required("input", input)?;
    attach(&state, &input).await
}

/// Attaches the member `input` (a phone, e-mail, card or QR token) names to the sale, asking
/// the cloud when this till has not cached them and the link is up.
pub(crate) async fn attach(state: &AppState, input: &str) -> Reply<CartView> {
    if input.len() > 512 {
        return Err(ApiError::new(
            ErrorCode::MemberInput,
            "that is too long to be a member's code",
        ));
    }
    let before = state.with_shell(|shell| Ok(Holds::of(&shell.cart)))?;
    let not_cached = state.with_shell(|shell| {
        shell.session()?;
        match shell.till.lookup_member(input).map_err(member_input)? {
            Lookup::Found(member) => {
                shell.till.attach_member(&mut shell.cart, &member.id)?;
                Ok(None)
            }
            Lookup::NotCached { kind, key } => {
                Ok(Some((kind, key, cloud_if_online(state, shell)?)))
            }
        }
    })?;
    if let Some((kind, key, client)) = not_cached {
        let Some(client) = client else {
            return Err(ApiError::new(
                ErrorCode::MemberNotFound,
                format!(
                    "no member with this {} in this till's member list, and the cloud cannot be asked while offline",
                    kind.label()
                ),
            ));
        };
        let member = client
            .look_up_member(kind.label(), &key)
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Sync,
                    format!(
                        "this member is not in this till's list and the cloud did not answer: {e}"
                    ),
                )
            })?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MemberNotFound,
                    format!("no member has this {}", kind.label()),
                )
            })?;
        state.with_shell(|shell| {
            shell.session()?;
            let view = shell.till.cache_member(&member)?;
            shell.till.attach_member(&mut shell.cart, &view.id)?;
            Ok(())
        })?;
    }
    // Another member's coupon, reserved for this sale, came off with them.
    let after = state.with_shell(|shell| Ok(Holds::of(&shell.cart)))?;
    before.release_unused(state, after).await;
    edit_cart(state, |_| Ok(()))
}

/// What the cashier typed for a member (a look-up key, an enrolment form) was refused: its own
/// code, so the UI says "check what was typed" rather than the generic refusal, with the
/// reason as detail. Other errors keep their codes.
fn member_input(error: CoreError) -> ApiError {
    match error {
        CoreError::BadInput(reason) => ApiError::new(ErrorCode::MemberInput, reason),
        other => ApiError::from(other),
    }
}

/// Enrols a new member at this till (online or offline: the sync engine sends the enrolment
/// on) and attaches them to the sale.
#[tauri::command]
pub async fn member_enrol(
    state: State<'_, AppState>,
    request: Option<Lenient<Enrolment>>,
) -> Reply<CartView> {
    let request = required("request", request)?;
    let view = edit_cart(&state, |shell| {
        let session = shell.session()?;
        let member = shell
            .till
            .enrol_member(&session, &request)
            .map_err(member_input)?;
        shell.till.attach_member(&mut shell.cart, &member.id)?;
        Ok(())
    })?;
    wake_sync(&state);
    Ok(view)
}

/// The attached member's history from both channels, asked of the cloud (the till caches no
/// history): only while the link is up.
#[tauri::command]
pub async fn member_history(state: State<'_, AppState>) -> Reply<History> {
    let (member_id, client) = state.with_shell(|shell| {
        shell.session()?;
        let member_id = shell
            .cart
            .member()
            .map(|m| m.member_id.clone())
            .ok_or_else(|| ApiError::bad_input("attach a member to see their history"))?;
        Ok((member_id, cloud_if_online(&state, shell)?))
    })?;
    let client = client.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Sync,
            "the member's history is kept in the cloud: it shows when the till is online",
        )
    })?;
    client
        .member_history(&member_id)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string()))
}

/// Takes the member (and their coupon, whose reservation is lifted) off the sale.
#[tauri::command]
pub async fn member_detach(state: State<'_, AppState>) -> Reply<CartView> {
    edit_cart_releasing(&state, |shell| Ok(shell.cart.set_member(None)?)).await
}

/// Applies one of the attached member's coupons: reserved at the cloud for this sale when the
/// link is up, used offline (and checked at sync) when it is not.
#[tauri::command]
pub async fn cart_apply_coupon(
    state: State<'_, AppState>,
    coupon_id: Option<Lenient<String>>,
) -> Reply<CartView> {
    let coupon_id = required("couponId", coupon_id)?;
    let online = state.with_shell(|shell| {
        shell.session()?;
        // Checked on a copy first, so a coupon the sale cannot take is never reserved.
        let mut trial = shell.cart.clone();
        shell
            .till
            .apply_coupon(&mut trial, &coupon_id, false)
            .map_err(|error| match error {
                // The member's cached coupons no longer include it: a sync brought its use.
                CoreError::NotFound(_) => ApiError::new(
                    ErrorCode::CouponUnavailable,
                    "this coupon is no longer the member's to use: it was used or withdrawn",
                ),
                other => ApiError::from(other),
            })?;
        let sale_id = shell.till.fix_sale_id(&mut shell.cart);
        let replacing = Holds::of(&shell.cart)
            .coupon
            .is_some_and(|held| held != coupon_id);
        Ok(cloud_if_online(&state, shell)?.map(|client| (client, sale_id, replacing)))
    })?;
    let mut reserved_online = false;
    if let Some((client, sale_id, replacing)) = online {
        if replacing {
            // The coupon it replaces was reserved under the same sale id: lift that first.
            let _ = client.release_coupon(&sale_id).await;
        }
        let request = CouponHoldRequest {
            coupon_id: coupon_id.clone(),
            sale_id,
        };
        match client.hold_coupon(&request).await {
            Ok(()) => reserved_online = true,
            Err(error) if error.is_transient() => {}
            Err(error) => return Err(refused(error, ErrorCode::CouponUnavailable)),
        }
    }
    edit_cart(&state, |shell| {
        Ok(shell
            .till
            .apply_coupon(&mut shell.cart, &coupon_id, reserved_online)?)
    })
}

/// Takes the coupon off the sale; a reservation at the cloud is lifted, so the member can use
/// the coupon elsewhere at once.
#[tauri::command]
pub async fn cart_remove_coupon(state: State<'_, AppState>) -> Reply<CartView> {
    edit_cart_releasing(&state, |shell| {
        let rules = shell.till.pricing_rules()?;
        Ok(shell.cart.set_coupon(rules, None)?)
    })
    .await
}

/// Pays part of the sale with the attached member's points: held at the cloud for this sale
/// when the link is up; offline, within the offline bound, which the refusal names.
#[tauri::command]
pub async fn cart_pay_points(
    state: State<'_, AppState>,
    points: Option<Lenient<i64>>,
) -> Reply<CartView> {
    let points = required("points", points)?;
    let online = state.with_shell(|shell| {
        shell.session()?;
        let member_id = shell
            .cart
            .member()
            .map(|m| m.member_id.clone())
            .ok_or_else(|| {
                ApiError::new(ErrorCode::BadTender, "attach a member to pay with points")
            })?;
        if shell
            .cart
            .tenders()
            .iter()
            .any(|t| t.kind == TenderKind::Points && t.reserved_online)
        {
            return Err(ApiError::new(
                ErrorCode::BadTender,
                "this sale already uses points held at the cloud: remove that payment to change it",
            ));
        }
        // Checked on a copy first (the amount against what is due), so nothing is held in vain.
        let mut trial = shell.cart.clone();
        let value = shell.till.point_value_minor()?;
        trial.add_points_tender(shell.till.pricing_rules()?, points, value, true)?;
        let Some(client) = cloud_if_online(&state, shell)? else {
            return Ok(None);
        };
        let sale_id = shell.till.fix_sale_id(&mut shell.cart);
        Ok(Some((client, sale_id, member_id)))
    })?;
    if let Some((client, sale_id, member_id)) = online {
        let request = HoldRequest {
            sale_id: sale_id.clone(),
            member_id,
            points,
        };
        match client.hold_points(&request).await {
            Ok(_) => {
                let paid = edit_cart(&state, |shell| {
                    Ok(shell.till.pay_with_points(&mut shell.cart, points, true)?)
                });
                if paid.is_err() {
                    // The points were held but the sale did not take them: give them back.
                    let _ = client.release_points(&sale_id).await;
                }
                return paid;
            }
            // The cloud did not answer in time: the till goes on offline.
            Err(error) if error.is_transient() => {}
            Err(error) => return Err(refused(error, ErrorCode::PointsUnavailable)),
        }
    }
    edit_cart(&state, |shell| {
        Ok(shell.till.pay_with_points(&mut shell.cart, points, false)?)
    })
}

/// What the cloud holds for the sale being rung up: points paid online and a coupon reserved
/// online, under the sale's id. Taken before a cart edit and compared after it, so whatever the
/// edit stopped using is given back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    sale_id: Option<String>,
    points: bool,
    coupon: Option<String>,
}

impl Holds {
    pub fn of(cart: &Cart) -> Holds {
        Holds {
            sale_id: cart.sale_id().map(str::to_owned),
            points: cart
                .tenders()
                .iter()
                .any(|t| t.kind == TenderKind::Points && t.reserved_online),
            coupon: cart
                .coupon()
                .filter(|c| c.reserved_online)
                .map(|c| c.coupon_id.clone()),
        }
    }

    /// Which of these holds `now` (the cart after an edit) no longer uses: (points, coupon).
    fn unused(&self, now: &Holds) -> (bool, bool) {
        let same_sale = self.sale_id.is_some() && now.sale_id == self.sale_id;
        (
            self.points && !(same_sale && now.points),
            self.coupon.is_some() && !(same_sale && now.coupon == self.coupon),
        )
    }

    /// Gives back what these holds had and `now` no longer uses. Best effort: a hold the cloud
    /// does not hear about (the link is down) runs out on its own.
    pub async fn release_unused(self, state: &AppState, now: Holds) {
        let (points, coupon) = self.unused(&now);
        let Some(sale_id) = self.sale_id.filter(|_| points || coupon) else {
            return;
        };
        let client = state.with_shell(|shell| cloud_if_online(state, shell));
        if let Ok(Some(client)) = client {
            if points {
                let _ = client.release_points(&sale_id).await;
            }
            if coupon {
                let _ = client.release_coupon(&sale_id).await;
            }
        }
    }
}

/// `edit_cart`, then gives back what the cloud holds for the sale and the edit stopped using
/// (a points payment removed, a coupon taken off, a cart cleared).
pub async fn edit_cart_releasing(
    state: &AppState,
    edit: impl FnOnce(&mut Shell) -> Reply<()>,
) -> Reply<CartView> {
    let mut holds = None;
    let view = edit_cart(state, |shell| {
        let before = Holds::of(&shell.cart);
        edit(shell)?;
        holds = Some((before, Holds::of(&shell.cart)));
        Ok(())
    })?;
    if let Some((before, after)) = holds {
        before.release_unused(state, after).await;
    }
    Ok(view)
}

/// The manager's list of member conflicts (overdrafts, coupons used twice, merged enrolments).
#[tauri::command]
pub async fn member_conflicts(
    state: State<'_, AppState>,
    include_resolved: Option<Lenient<bool>>,
) -> Reply<Vec<Conflict>> {
    let include_resolved = required("includeResolved", include_resolved)?;
    state.with_shell(|shell| {
        let session = shell.session()?;
        Ok(shell.till.member_conflicts(&session, include_resolved)?)
    })
}

/// A manager marks a member conflict resolved with a note; it syncs to the cloud.
#[tauri::command]
pub async fn conflict_resolve(
    state: State<'_, AppState>,
    conflict_id: Option<Lenient<String>>,
    note: Option<Lenient<String>>,
) -> Reply<Conflict> {
    let conflict_id = required("conflictId", conflict_id)?;
    let note = required("note", note)?;
    let conflict = state.with_shell(|shell| {
        let session = shell.session()?;
        Ok(shell
            .till
            .resolve_member_conflict(&session, &conflict_id, &note)?)
    })?;
    wake_sync(&state);
    Ok(conflict)
}

#[cfg(test)]
mod tests {
    use super::Holds;

    fn holds(sale: Option<&str>, points: bool, coupon: Option<&str>) -> Holds {
        Holds {
            sale_id: sale.map(str::to_owned),
            points,
            coupon: coupon.map(str::to_owned),
        }
    }

    #[test]
    fn what_a_cart_edit_stopped_using_is_given_back_and_nothing_else() {
        let both = holds(Some("s1"), true, Some("c1"));
        let cases = [
            (
                holds(Some("s1"), true, Some("c1")),
                (false, false),
                "nothing changed",
            ),
            (
                holds(Some("s1"), false, Some("c1")),
                (true, false),
                "points payment removed",
            ),
            (
                holds(Some("s1"), true, None),
                (false, true),
                "coupon taken off",
            ),
            (
                holds(Some("s1"), true, Some("c2")),
                (false, true),
                "another coupon",
            ),
            (
                holds(None, false, None),
                (true, true),
                "the cart was cleared",
            ),
            (
                holds(Some("s2"), true, Some("c1")),
                (true, true),
                "a new sale",
            ),
        ];
        for (after, expected, why) in cases {
            assert_eq!(both.unused(&after), expected, "{why}");
        }
        assert_eq!(
            holds(None, false, None).unused(&holds(None, false, None)),
            (false, false),
            "a sale that held nothing gives nothing back"
        );
        assert_eq!(
            holds(Some("s1"), false, Some("c1")).unused(&holds(Some("s1"), false, None)),
            (false, true),
            "points never held are never released"
        );
    }
}
