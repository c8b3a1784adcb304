//! A member at checkout: find and attach them in one scan, enrol a new one, show their
//! history, use one of their coupons, and pay with their points.
//!
//! Each use case does its local work under the counter's lock and its one cloud call (a look-up
//! of a member the cache lacks, a hold on points or on a coupon) without it. The cloud is asked
//! only while the till is online (`App::online`); when it is not, or does not answer in time,
//! the till goes on offline and core applies the offline bounds. A refusal from the cloud (too
//! few points, a coupon already used) is shown in the cloud's words and changes nothing. A hold
//! the sale then fails to take is given back.

use omnitill_core::members::{Enrolment, Lookup};
use omnitill_core::{CoreError, TenderKind};
use omnitill_protocol::loyalty::{CouponHoldRequest, History, HoldRequest};

use crate::app::App;
use crate::cloud::{Cloud, CloudError};
use crate::error::{ApiError, ErrorCode, Reply};
use crate::holds::Holds;
use crate::views::CartView;

/// The longest look-up input (a phone, e-mail, card or QR token) the till tries.
pub const MAX_MEMBER_INPUT_BYTES: usize = 512;

impl<C: Cloud> App<C> {
    /// Attaches the member `input` (a phone, e-mail, card or QR token) names to the sale with
    /// their tier discount, asking the cloud when this till has not cached them and the till is
    /// online. Another member's coupon reserved for this sale is released.
    pub async fn attach_member(&self, input: &str) -> Reply<CartView> {
        if input.len() > MAX_MEMBER_INPUT_BYTES {
            return Err(ApiError::new(
                ErrorCode::MemberInput,
                "that is too long to be a member's code",
            ));
        }
        let before = self.with_desk(|desk| Ok(Holds::of(&desk.cart)))?;
        let not_cached = self.with_desk(|desk| {
            desk.session()?;
            match desk.till.lookup_member(input).map_err(member_input)? {
                Lookup::Found(member) => {
                    desk.till.attach_member(&mut desk.cart, &member.id)?;
                    Ok(None)
                }
                Lookup::NotCached { kind, key } => Ok(Some((kind, key, self.online(desk)?))),
            }
        })?;
        if let Some((kind, key, at)) = not_cached {
            let Some(at) = at else {
                return Err(ApiError::new(
                    ErrorCode::MemberNotFound,
                    format!(
                        "no member with this {} in this till's member list, and the cloud cannot be asked while offline",
                        kind.label()
                    ),
                ));
            };
            let member = self
                .cloud
                .look_up_member(&at, kind.label(), &key)
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
            self.with_desk(|desk| {
                desk.session()?;
                let view = desk.till.cache_member(&member)?;
                desk.till.attach_member(&mut desk.cart, &view.id)?;
                Ok(())
            })?;
        }
        let after = self.with_desk(|desk| Ok(Holds::of(&desk.cart)))?;
        self.release_unused(before, after).await;
        self.cart()
    }

    /// Enrols a new member at this till (online or offline: the sync engine sends the
    /// enrolment on) and attaches them to the sale.
    pub fn enrol_member(&self, request: &Enrolment) -> Reply<CartView> {
        let view = self.edit_cart(|desk| {
            let session = desk.session()?;
            let member = desk
                .till
                .enrol_member(&session, request)
                .map_err(member_input)?;
            desk.till.attach_member(&mut desk.cart, &member.id)?;
            Ok(())
        })?;
        self.cloud.wake_sync();
        Ok(view)
    }

    /// The attached member's history from both channels, asked of the cloud (the till caches
    /// no history): only while the till is online.
    pub async fn member_history(&self) -> Reply<History> {
        let (member_id, at) = self.with_desk(|desk| {
            desk.session()?;
            let member_id = desk
                .cart
                .member()
                .map(|m| m.member_id.clone())
                .ok_or_else(|| ApiError::bad_input("attach a member to see their history"))?;
            Ok((member_id, self.online(desk)?))
        })?;
        let at = at.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Sync,
                "the member's history is kept in the cloud: it shows when the till is online",
            )
        })?;
        self.cloud
            .member_history(&at, &member_id)
            .await
            .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string()))
    }

    /// Takes the member (and their coupon, whose reservation is lifted) off the sale.
    pub async fn detach_member(&self) -> Reply<CartView> {
        self.edit_cart_releasing(|desk| Ok(desk.cart.set_member(None)?))
            .await
    }

    /// Applies one of the attached member's coupons: reserved at the cloud for this sale when
    /// the till is online, used offline (and checked at sync) when it is not or the cloud does
    /// not answer.
    pub async fn apply_coupon(&self, coupon_id: &str) -> Reply<CartView> {
        let online = self.with_desk(|desk| {
            desk.session()?;
            // Checked on a copy first, so a coupon the sale cannot take is never reserved.
            let mut trial = desk.cart.clone();
            desk.till
                .apply_coupon(&mut trial, coupon_id, false)
                .map_err(|error| match error {
                    // The member's cached coupons no longer include it: a sync brought its use.
                    CoreError::NotFound(_) => ApiError::new(
                        ErrorCode::CouponUnavailable,
                        "this coupon is no longer the member's to use: it was used or withdrawn",
                    ),
                    other => ApiError::from(other),
                })?;
            let sale_id = desk.till.fix_sale_id(&mut desk.cart);
            let replacing = Holds::of(&desk.cart)
                .coupon()
                .is_some_and(|held| held != coupon_id);
            Ok(self.online(desk)?.map(|at| (at, sale_id, replacing)))
        })?;
        let mut reserved_online = false;
        if let Some((at, sale_id, replacing)) = online {
            if replacing {
                // The coupon it replaces was reserved under the same sale id: lift that first.
                let _ = self.cloud.release_coupon(&at, &sale_id).await;
            }
            let request = CouponHoldRequest {
                coupon_id: coupon_id.to_owned(),
                sale_id,
            };
            match self.cloud.hold_coupon(&at, &request).await {
                Ok(()) => reserved_online = true,
                Err(CloudError::Unreachable(_)) => {}
                Err(CloudError::Refused(reason)) => {
                    return Err(ApiError::new(ErrorCode::CouponUnavailable, reason));
                }
            }
        }
        self.edit_cart(|desk| {
            Ok(desk
                .till
                .apply_coupon(&mut desk.cart, coupon_id, reserved_online)?)
        })
    }

    /// Takes the coupon off the sale; a reservation at the cloud is lifted, so the member can
    /// use the coupon elsewhere at once.
    pub async fn remove_coupon(&self) -> Reply<CartView> {
        self.edit_cart_releasing(|desk| {
            let rules = desk.till.pricing_rules()?;
            Ok(desk.cart.set_coupon(rules, None)?)
        })
        .await
    }

    /// Pays part of the sale with the attached member's points: held at the cloud for this
    /// sale when the till is online; offline (or when the cloud does not answer), within the
    /// offline bound, which the refusal names. Points held that the sale then does not take
    /// are given back.
    pub async fn pay_with_points(&self, points: i64) -> Reply<CartView> {
        let online = self.with_desk(|desk| {
            desk.session()?;
            let member_id = desk
                .cart
                .member()
                .map(|m| m.member_id.clone())
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::BadTender, "attach a member to pay with points")
                })?;
            if desk
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
            // Checked on a copy first (the amount against what is due), so nothing is held in
            // vain.
            let mut trial = desk.cart.clone();
            let value = desk.till.point_value_minor()?;
            trial.add_points_tender(desk.till.pricing_rules()?, points, value, true)?;
            let Some(at) = self.online(desk)? else {
                return Ok(None);
            };
            let sale_id = desk.till.fix_sale_id(&mut desk.cart);
            Ok(Some((at, sale_id, member_id)))
        })?;
        if let Some((at, sale_id, member_id)) = online {
            let request = HoldRequest {
                sale_id: sale_id.clone(),
                member_id,
                points,
            };
            match self.cloud.hold_points(&at, &request).await {
                Ok(()) => {
                    let paid = self.edit_cart(|desk| {
                        Ok(desk.till.pay_with_points(&mut desk.cart, points, true)?)
                    });
                    if paid.is_err() {
                        // The points were held but the sale did not take them: give them back.
                        let _ = self.cloud.release_points(&at, &sale_id).await;
                    }
                    return paid;
                }
                // The cloud did not answer in time: the till goes on offline.
                Err(CloudError::Unreachable(_)) => {}
                Err(CloudError::Refused(reason)) => {
                    return Err(ApiError::new(ErrorCode::PointsUnavailable, reason));
                }
            }
        }
        self.edit_cart(|desk| Ok(desk.till.pay_with_points(&mut desk.cart, points, false)?))
    }
}

/// What the cashier typed for a member (a look-up key, an enrolment form) was refused: its own
/// code, so the UI says "check what was typed" rather than the generic refusal, with the reason
/// as detail. Other errors keep their codes.
fn member_input(error: CoreError) -> ApiError {
    match error {
        CoreError::BadInput(reason) => ApiError::new(ErrorCode::MemberInput, reason),
        other => ApiError::from(other),
    }
}
