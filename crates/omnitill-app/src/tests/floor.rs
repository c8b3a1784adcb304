//! The member's floor view through the use case: the cloud is asked only while the till is
//! online, and a cloud that fails leaves the till's own copy.

use omnitill_core::floor::member_view::ListsSource;
use omnitill_protocol::floor::MemberFloor;
use omnitill_protocol::loyalty::{Favourite, MemberInterests};

use super::Counter;
use super::fake_cloud::{Call, Mode};
use crate::ErrorCode;

fn cloud_answer(member_id: &str) -> MemberFloor {
    MemberFloor {
        member_id: member_id.into(),
        tags: vec!["VIP".into()],
        interests: MemberInterests {
            member_id: member_id.into(),
            favourites: vec![Favourite {
                sku: "TEA-DDO-75g".into(),
                saved_at_ms: 0,
                price_at_save_minor: Some(50_000),
            }],
            viewed: Vec::new(),
        },
        points_expiring: 0,
        points_expiring_by_ms: 0,
        stock_elsewhere: Vec::new(),
        purchases: Vec::new(),
    }
}

#[tokio::test]
async fn online_the_cloud_is_asked_and_offline_or_failing_the_tills_copy_is_shown() {
    let counter = Counter::with_member_sale(1).await;
    let member_id = counter
        .app
        .cart()
        .expect("the cart")
        .member
        .expect("a member is attached")
        .member
        .id;
    counter.cloud().floor_answers(cloud_answer(&member_id));

    let online = counter.app.member_floor().await.expect("the view online");
    assert_eq!(online.lists_from, ListsSource::Cloud);
    assert_eq!(online.favourites.len(), 1, "the cloud's favourite is shown");
    assert!(
        counter.cloud().calls().contains(&Call::Floor {
            member_id: member_id.clone()
        }),
        "online, the cloud is asked for the member"
    );

    counter.cloud().set_mode(Mode::Offline);
    let asked = counter.cloud().calls().len();
    let offline = counter.app.member_floor().await.expect("the view offline");
    assert_ne!(offline.lists_from, ListsSource::Cloud);
    assert_eq!(
        offline.tags, None,
        "offline, no tags: only the cloud has them"
    );
    assert_eq!(
        counter.cloud().calls().len(),
        asked,
        "offline, the cloud is not asked at all"
    );

    counter
        .cloud()
        .set_mode(Mode::Refusing("no such member".into()));
    let refused = counter
        .app
        .member_floor()
        .await
        .expect("the view still shows");
    assert_ne!(
        refused.lists_from,
        ListsSource::Cloud,
        "a cloud that refuses leaves the till's copy"
    );
}

#[tokio::test]
async fn without_a_member_attached_the_view_is_refused_in_words() {
    let counter = Counter::with_cashier().await;
    let refused = counter.app.member_floor().await.expect_err("no member");
    assert_eq!(refused.code, ErrorCode::BadInput);
    assert!(
        refused.message.contains("attach a member"),
        "{}",
        refused.message
    );
}
