//! A member attached while the link is up, then the link drops (or the cloud stalls, or says
//! no) before payment: the till goes on offline within the offline bounds, and a refusal
//! changes nothing.

use std::time::Duration;

use crate::ErrorCode;

use super::fake_cloud::{Call, Mode};
use super::{Counter, OFFLINE_MEMBER_CAP, member};

#[tokio::test]
async fn a_member_attached_online_pays_with_points_offline_when_the_link_drops_before_payment() {
    let counter = Counter::with_cashier().await;
    counter.ring_up(3);
    counter.cloud().knows(member("m-2", "4000000000000", 2_000));

    let cart = counter
        .app
        .attach_member("0911111111")
        .await
        .expect("a member the till has not cached is found at the cloud");
    assert_eq!(
        cart.member.as_ref().map(|m| m.member.id.as_str()),
        Some("m-2"),
        "the member the cloud found is attached"
    );
    assert!(
        counter
            .cloud()
            .calls()
            .iter()
            .any(|call| matches!(call, Call::LookUp { kind, .. } if kind == "phone")),
        "the look-up went to the cloud by phone"
    );
    assert!(
        counter.app.status().expect("status").sync.online,
        "the status bar says online while the engine does"
    );

    counter.cloud().set_mode(Mode::Offline);
    assert!(
        !counter.app.status().expect("status").sync.online,
        "the status bar says offline as soon as the engine does"
    );
    let over = counter
        .app
        .pay_with_points(OFFLINE_MEMBER_CAP + 1)
        .await
        .expect_err("more than the offline bound");
    assert_eq!(
        over.code,
        ErrorCode::OfflinePointsLimit,
        "offline, the member's offline cap bounds the points: {}",
        over.message
    );
    let cart = counter
        .app
        .pay_with_points(300)
        .await
        .expect("points within the offline bound are taken offline");
    let tender = cart.tenders.first().expect("a points payment");
    assert_eq!(tender.points, 300, "the points asked for are paid");
    assert!(
        !tender.reserved_online,
        "a payment made offline is not marked as held at the cloud"
    );
    assert!(
        !counter
            .cloud()
            .calls()
            .iter()
            .any(|call| matches!(call, Call::HoldPoints { .. })),
        "no hold is tried while the link is down"
    );
    let receipt = counter.app.add_tender("cash", cart.cash_due_minor, None);
    assert!(receipt.is_ok(), "the rest is paid in cash");
    counter
        .app
        .complete_sale()
        .expect("the sale completes offline");
}

#[tokio::test]
async fn a_cloud_that_does_not_answer_in_time_leaves_the_points_paid_offline() {
    let counter = Counter::with_member_sale(3).await;
    counter
        .cloud()
        .set_mode(Mode::Slow(Duration::from_millis(50)));
    let cart = counter
        .app
        .pay_with_points(200)
        .await
        .expect("a stalled cloud does not stop the sale");
    assert!(
        cart.tenders
            .iter()
            .any(|t| t.points == 200 && !t.reserved_online),
        "the points are paid offline after the hold timed out"
    );
}

#[tokio::test]
async fn a_refusal_from_the_cloud_is_shown_in_its_words_and_changes_nothing() {
    let counter = Counter::with_member_sale(3).await;
    counter
        .cloud()
        .set_mode(Mode::Refusing("only 12 points are left".into()));
    let refused = counter
        .app
        .pay_with_points(200)
        .await
        .expect_err("the cloud refuses the hold");
    assert_eq!(refused.code, ErrorCode::PointsUnavailable);
    assert_eq!(
        refused.message, "only 12 points are left",
        "the cashier reads the cloud's reason"
    );
    let coupon = counter
        .app
        .apply_coupon(super::COUPON)
        .await
        .expect_err("the cloud refuses the coupon");
    assert_eq!(coupon.code, ErrorCode::CouponUnavailable);
    let cart = counter.app.cart().expect("the cart");
    assert!(
        cart.tenders.is_empty(),
        "a refused points payment leaves no payment"
    );
    assert!(
        cart.member.as_ref().is_some_and(|m| m.coupon_id.is_none()),
        "a refused coupon is not applied"
    );
}

#[tokio::test]
async fn a_member_the_till_lacks_is_not_found_offline_and_the_message_says_why() {
    let counter = Counter::with_cashier().await;
    counter.cloud().set_mode(Mode::Offline);
    let error = counter
        .app
        .attach_member("0911111111")
        .await
        .expect_err("offline, an uncached member cannot be found");
    assert_eq!(error.code, ErrorCode::MemberNotFound);
    assert!(
        error.message.contains("offline"),
        "the message says the cloud cannot be asked while offline: {}",
        error.message
    );
    assert!(
        counter
            .cloud()
            .calls()
            .iter()
            .all(|call| !matches!(call, Call::LookUp { .. })),
        "nothing is sent while the link is down"
    );
}
