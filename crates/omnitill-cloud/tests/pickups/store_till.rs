//! A till of the demo store pushing pickup operations to a cloud in process, as a real till's
//! sync engine does (part of the `pickups` test).

use omnitill_cloud::devices::{self, Device};
use omnitill_cloud::{Db, push};
use omnitill_protocol::push::{Operation, Outcome, PushRequest, Status};
use serde_json::{Value, json};

use super::STORE;

/// A till of the demo store pushing pickup operations, as a real till's sync engine does.
pub struct StoreTill {
    token: String,
    seq: i64,
}

impl StoreTill {
    pub async fn enrol(db: &Db, name: &str) -> StoreTill {
        let code = devices::issue_enrolment_code(db, STORE)
            .await
            .expect("an enrolment code");
        let enrolled = devices::enrol(db, "127.0.0.1", &code, name, 1, None)
            .await
            .expect("the till enrols");
        StoreTill {
            token: enrolled.token,
            seq: 0,
        }
    }

    pub async fn push(&mut self, db: &Db, op_type: &str, payload: Value) -> Outcome {
        let device: Device = devices::authenticate(db, &self.token)
            .await
            .expect("the till's token");
        self.seq += 1;
        let request = PushRequest {
            operations: vec![Operation {
                seq: self.seq,
                op_id: uuid::Uuid::now_v7().to_string(),
                op_type: op_type.into(),
                created_at_ms: db.now_ms(),
                payload,
            }],
        };
        let mut response = push::push(db, &device, &request)
            .await
            .expect("the push is answered");
        response.outcomes.pop().expect("one outcome")
    }

    pub async fn line(&mut self, db: &Db, order_id: &str, line_no: i64, missing: bool) -> Outcome {
        let (state, reason) = if missing {
            ("missing", Some("not on the shelf"))
        } else {
            ("picked", None)
        };
        let payload = json!({ "order_id": order_id, "line_no": line_no, "state": state,
                              "reason": reason, "staff_id": "staff-1", "at_ms": db.now_ms() });
        self.push(db, "pickup.line.v1", payload).await
    }

    /// Picks what is left, marks the order ready and hands it over.
    pub async fn finish(&mut self, db: &Db, order_id: &str, to_pick: &[i64]) {
        for line_no in to_pick {
            let picked = self.line(db, order_id, *line_no, false).await;
            assert_eq!(picked.status, Status::Applied, "picked: {picked:?}");
        }
        let at_ms = db.now_ms();
        let ready = json!({ "order_id": order_id, "staff_id": "staff-1", "at_ms": at_ms });
        let outcome = self.push(db, "pickup.ready.v1", ready).await;
        assert_eq!(outcome.status, Status::Applied, "ready: {outcome:?}");
        let handed = json!({ "order_id": order_id, "staff_id": "staff-1", "at_ms": at_ms,
                             "verified_by": "code", "sale_id": "sale-1" });
        let outcome = self.push(db, "pickup.handed_over.v1", handed).await;
        assert_eq!(outcome.status, Status::Applied, "handed over: {outcome:?}");
    }
}
