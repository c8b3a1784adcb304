//! The hold lifecycle: what the cloud holds for a sale is given back when the sale stops
//! using it, and cannot be lifted while the link is down (it then runs out at the cloud).

use std::time::Duration;

use super::fake_cloud::{Call, Mode};
use super::{COUPON, Counter};

fn sale_id_of_hold(calls: &[Call]) -> Option<String> {
    calls.iter().find_map(|call| match call {
        Call::HoldPoints { sale_id, .. } | Call::HoldCoupon { sale_id, .. } => {
            Some(sale_id.clone())
        }
        _ => None,
    })
}

#[tokio::test]
async fn points_held_for_a_cart_edit_that_then_fails_are_given_back() {
    let counter = Counter::with_member_sale(3).await;
    let due = counter.app.cart().expect("the cart").due_minor;
    // The hold takes a while; meanwhile a card pays the whole sale, so the points no longer fit.
    counter.cloud().set_latency(Duration::from_millis(200));
    let (paid, _) = tokio::join!(counter.app.pay_with_points(300), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        counter
            .app
            .add_tender("card", due, Some("TERMINAL-1"))
            .expect("a card pays the whole sale while the hold is asked")
    });
    assert!(
        paid.is_err(),
        "points cannot be added to a sale already paid in full"
    );
    let calls = counter.cloud().calls();
    let held = sale_id_of_hold(&calls).expect("the points were held at the cloud");
    assert!(
        calls.contains(&Call::ReleasePoints { sale_id: held }),
        "points the sale did not take are given back at once: {calls:?}"
    );
}

#[tokio::test]
async fn a_coupon_taken_off_the_sale_has_its_reservation_lifted() {
    let counter = Counter::with_member_sale(2).await;
    let cart = counter
        .app
        .apply_coupon(COUPON)
        .await
        .expect("the coupon applies");
    let member = cart.member.expect("the member");
    assert!(
        member.coupon_reserved_online && member.coupon_discount_minor > 0,
        "online, the coupon is reserved at the cloud and discounts the sale"
    );
    let held = sale_id_of_hold(&counter.cloud().calls()).expect("the coupon was reserved");

    let cart = counter
        .app
        .remove_coupon()
        .await
        .expect("the coupon comes off");
    assert!(cart.member.is_some_and(|m| m.coupon_id.is_none()));
    assert!(
        counter
            .cloud()
            .calls()
            .contains(&Call::ReleaseCoupon { sale_id: held }),
        "the reservation is lifted, so the member can use the coupon elsewhere at once"
    );
}

#[tokio::test]
async fn a_hold_cannot_be_lifted_offline_and_the_cart_still_changes() {
    let counter = Counter::with_member_sale(2).await;
    counter
        .app
        .apply_coupon(COUPON)
        .await
        .expect("the coupon is reserved online");
    counter.cloud().set_mode(Mode::Offline);

    let cart = counter
        .app
        .detach_member()
        .await
        .expect("the member comes off while offline");
    assert!(cart.member.is_none(), "the member and their coupon are off");
    assert!(
        !counter
            .cloud()
            .calls()
            .iter()
            .any(|call| matches!(call, Call::ReleaseCoupon { .. })),
        "nothing is sent while the link is down: the reservation runs out at the cloud"
    );
}

#[tokio::test]
async fn clearing_the_cart_gives_back_both_points_and_coupon() {
    let counter = Counter::with_member_sale(3).await;
    counter.app.apply_coupon(COUPON).await.expect("coupon");
    counter.app.pay_with_points(100).await.expect("points");
    counter.app.clear_cart().await.expect("the cart clears");
    let calls = counter.cloud().calls();
    let held = sale_id_of_hold(&calls).expect("held");
    assert!(
        calls.contains(&Call::ReleasePoints {
            sale_id: held.clone()
        }) && calls.contains(&Call::ReleaseCoupon { sale_id: held }),
        "a cleared sale gives back everything it held: {calls:?}"
    );
}
