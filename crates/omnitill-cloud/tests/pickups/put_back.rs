//! A cancelled order's picked items go back on the shelf (part of the `pickups` test), on
//! SQLite and PostgreSQL: the store's `pickup.line.v1` with state `put_back` moves a picked line
//! of a cancelled order once and no stock (the cancellation released it); on an open order it
//! is refused in words.

use omnitill_cloud::pickups::cancel::{self, CancelRequest};
use omnitill_protocol::push::Status;
use serde_json::json;

use super::store_till::StoreTill;
use super::{request, reserved, seeded_with_clock};
use crate::support::both_backends;

#[tokio::test]
async fn a_cancelled_orders_picked_line_is_put_back_once_and_an_open_orders_is_refused() {
    both_backends(|database| async move {
        let (db, _clock) = seeded_with_clock(&database).await;
        let mut till = StoreTill::enrol(&db, "put-back till").await;
        let (_, placed) = omnitill_cloud::pickups::place::place(&db, &request("WEB-PB-1"))
            .await
            .expect("placed");
        let order_id = placed.order.id.clone();
        let picked = till.line(&db, &order_id, 1, false).await;
        assert_eq!(picked.status, Status::Applied, "{picked:?}");
        let put_back = |line_no: i64| {
            json!({ "order_id": order_id, "line_no": line_no, "state": "put_back",
                    "reason": null, "staff_id": "staff-1", "at_ms": db.now_ms() })
        };
        let early = till.push(&db, "pickup.line.v1", put_back(1)).await;
        assert_eq!(
            early.status,
            Status::Rejected,
            "an open order's items stay picked: {early:?}"
        );

        cancel::cancel(&db, "WEB-PB-1", &CancelRequest { reason: None })
            .await
            .expect("the e-shop cancels");
        let sku = placed.order.lines[0].sku.clone();
        let held_before = reserved(&db, &sku).await;
        for _ in 0..2 {
            let outcome = till.push(&db, "pickup.line.v1", put_back(1)).await;
            assert_eq!(outcome.status, Status::Applied, "{outcome:?}");
        }
        let order = omnitill_cloud::pickups::get(&db, "WEB-PB-1")
            .await
            .expect("the order reads");
        assert_eq!(
            order.order.lines[0].state, "put_back",
            "the line is back on the shelf"
        );
        assert_eq!(
            order.order.lines[1].state, "to_pick",
            "a line never picked has nothing to put back"
        );
        assert_eq!(
            reserved(&db, &sku).await,
            held_before,
            "putting back moves no stock: the cancellation released it"
        );
        database
    })
    .await;
}
