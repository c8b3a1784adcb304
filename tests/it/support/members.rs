//! Members for the scenarios that run through a real cloud: the e-shop's side (sign-up, online
//! orders that earn and redeem, the member's balance and entries at the cloud) and the till's
//! side (a sale to a member, what a till's own receipts say it gave and took).

use omnitill_core::{Cart, CoreError, StaffSession, TenderKind, Till, demo};
use serde_json::{Value, json};

use super::cloud::{CloudProcess, http};

/// The e-shop's view of the cloud: every call carries the brand's API key.
pub struct EShop<'a> {
    pub cloud: &'a CloudProcess,
    pub key: String,
}

impl<'a> EShop<'a> {
    pub fn new(cloud: &'a CloudProcess) -> EShop<'a> {
        EShop {
            key: cloud.api_key(),
            cloud,
        }
    }

    /// One API call; the status and the body (JSON, or null when it is not JSON).
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        api_call(self.cloud, &self.key, method, path, body)
    }

    /// Signs a member up in the e-shop; returns the member as the API answers.
    pub fn sign_up(&self, phone: &str, name: &str) -> Value {
        let (status, member) = self.call(
            reqwest::Method::POST,
            "/v1/members",
            Some(json!({ "phone": phone, "name": name, "consent_terms": true })),
        );
        assert_eq!(status, 201, "the member signs up in the e-shop: {member}");
        member
    }

    /// An e-shop order of `minor` that earns points; returns the points it earned.
    pub fn earn(&self, member_id: &str, order_ref: &str, minor: i64) -> i64 {
        let (status, booked) = self.call(
            reqwest::Method::POST,
            &format!("/v1/members/{member_id}/earn"),
            Some(
                json!({ "order_ref": order_ref, "lines": [{ "sku": "X", "total_minor": minor }] }),
            ),
        );
        assert_eq!(status, 200, "an online order earns points: {booked}");
        booked["points"]
            .as_i64()
            .expect("the points the order earned")
    }

    /// An e-shop order that redeems `points`; the status (200 booked, 409 too few) and body.
    pub fn redeem(&self, member_id: &str, order_ref: &str, points: i64) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/members/{member_id}/redeem"),
            Some(json!({ "order_ref": order_ref, "points": points })),
        )
    }

    /// The member's balance at the cloud.
    pub fn balance(&self, member_id: &str) -> i64 {
        let (status, member) = self.call(
            reqwest::Method::GET,
            &format!("/v1/members/{member_id}"),
            None,
        );
        assert_eq!(status, 200, "the member is found by id: {member}");
        member["balance"].as_i64().expect("a balance")
    }

    /// The member's points entries at the cloud (kind, points, channel, ref_id, at_ms), up to the
    /// 1,000 newest.
    pub fn entries(&self, member_id: &str) -> Vec<Value> {
        let (status, history) = self.call(
            reqwest::Method::GET,
            &format!("/v1/members/{member_id}/history?limit=1000"),
            None,
        );
        assert_eq!(status, 200, "the member's history: {history}");
        history["points"]
            .as_array()
            .expect("the member's entries")
            .clone()
    }

    /// The balance at the cloud, after checking it is the sum of the member's entries.
    pub fn balance_as_sum_of_entries(&self, member_id: &str, context: &str) -> i64 {
        let balance = self.balance(member_id);
        let sum: i64 = self
            .entries(member_id)
            .iter()
            .map(|e| e["points"].as_i64().expect("points"))
            .sum();
        assert_eq!(
            balance, sum,
            "[{context}] the cloud's balance is the sum of the member's entries"
        );
        balance
    }
}

/// One call to the cloud's e-shop API with `key`; the status and the body (JSON, or null).
pub fn api_call(
    cloud: &CloudProcess,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", cloud.base_url))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("the e-shop API answers");
    let status = response.status().as_u16();
    let text = response.text().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Fills a cart for the member with demo items until at least `due_at_least` is due.
pub fn member_cart(till: &Till, member_id: &str, due_at_least: i64) -> Result<Cart, CoreError> {
    let rules = till.pricing_rules()?;
    let mut cart = Cart::new();
    till.attach_member(&mut cart, member_id)?;
    let mut n = 1;
    while cart.is_empty() || cart.totals(rules).due_minor < due_at_least {
        let item = till.scan(&demo::demo_barcode(n))?;
        cart.add_item(item, 1)?;
        n = n % 40 + 1;
    }
    Ok(cart)
}

/// Pays what is left on the cart by card and completes the sale; returns the receipt number.
pub fn pay_by_card_and_complete(till: &mut Till, cashier: &StaffSession, mut cart: Cart) -> String {
    let rules = till.pricing_rules().expect("pricing rules");
    let due = cart.totals(rules).due_minor;
    if due > 0 {
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("a card tender for what is left");
    }
    till.complete_sale(cashier, &cart)
        .expect("a member's sale completes, online or not")
        .receipt_no
}

/// The points a till's own receipts say it gave and took: earned less redeemed on sales, less
/// reversed plus restored on refunds.
pub fn till_points(till: &Till) -> i64 {
    let conn = till.connection();
    let sales: i64 = conn
        .query_row(
            "SELECT COALESCE(sum(points_earned - points_redeemed), 0) FROM sale_member",
            [],
            |row| row.get(0),
        )
        .expect("the sales' member blocks");
    let refunds: i64 = conn
        .query_row(
            "SELECT COALESCE(sum(points_restored - points_reversed), 0) FROM refund_member",
            [],
            |row| row.get(0),
        )
        .expect("the refunds' member blocks");
    sales + refunds
}
