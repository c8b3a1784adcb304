//! The member scenarios of the OMO issue, each through the real sync engine, a real cloud
//! process (on SQLite and on PostgreSQL) and a `FaultProxy` in front of every till:
//! - a member earns in a store while it is offline and redeems in the e-shop at the same time;
//!   after sync the balance is the sum of the entries, at the cloud and on every till;
//! - two stores, both offline, each try to redeem more than the member has: neither goes past
//!   its offline bound, and after sync the overdraft is flagged once and no sale is reversed;
//! - one coupon is used in the e-shop and at an offline till on the same day: after sync the
//!   double use is flagged once, even though the push was retried, and the sale stands;
//! - a refund made after its sale synced reverses the points exactly once, although the push
//!   is retried through answers the proxy drops after the cloud committed.
//!
//! (The same phone enrolled at two offline tills is `members_sync`; hundreds of random
//! schedules are `random_members`.)

use omnitill_core::loyalty::OfflineBound;
use omnitill_core::members;
use omnitill_core::{Cart, CoreError};
use serde_json::Value;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::fault_tills::{LedgerTemplate, Staff, heal};
use crate::support::members::{EShop, member_cart, pay_by_card_and_complete, till_points};
use crate::support::proxy::Fault;
use crate::support::tills::{self, SyncedTill, cloud_receipts};

/// A cloud, the e-shop's key to it, and a template for the tills.
struct Scene {
    runtime: tokio::runtime::Runtime,
    cloud: CloudProcess,
    template: LedgerTemplate,
}

impl Scene {
    fn start(backend: Backend) -> Scene {
        Scene {
            runtime: tills::runtime(),
            cloud: CloudProcess::start(backend),
            template: LedgerTemplate::new(),
        }
    }

    fn eshop(&self) -> EShop<'_> {
        EShop::new(&self.cloud)
    }

    fn staff(&self) -> Staff {
        self.template.staff.clone()
    }

    /// A till of `store` behind its own proxy that has synced once (brand keys, rules, its
    /// allowance and the members), then loses its link.
    fn offline_till(&self, store: &'static str) -> SyncedTill {
        let till = self.template.enrol(&self.runtime, &self.cloud, store, true);
        till.sync(&self.runtime).expect("a first sync");
        till.proxy().set(Fault::Refuse);
        till
    }
}

/// The member as a till's cache holds them. (A member who signed up online is not found by
/// phone offline until they shop at the store or are looked up there: phone look-up keys go
/// only to those stores, see `privacy`.)
fn found(till: &SyncedTill, member_id: &str) -> members::MemberView {
    till.temp
        .till
        .member(member_id)
        .unwrap_or_else(|e| panic!("the till must have the member in its cache: {e}"))
}

/// Every till shows the cloud's balance with nothing pending.
fn assert_tills_show(tills: &[&SyncedTill], member_id: &str, balance: i64, context: &str) {
    for (number, till) in tills.iter().enumerate() {
        let member = found(till, member_id);
        assert_eq!(
            (member.balance, member.pending_points),
            (balance, 0),
            "[{context}] till {number} shows the cloud's balance, nothing pending"
        );
    }
}

/// Lifts every fault and syncs until all outboxes are empty.
fn heal_and_converge(scene: &Scene, tills: &[SyncedTill], context: &str) {
    for till in tills {
        heal(till.proxy());
    }
    tills::converge(&scene.runtime, tills, 6, context);
}

/// Syncs `till` through `fault` on every request `attempts` times: each try fails, and with
/// `DropResponse` the cloud has committed what the till sent before the answer is lost.
fn sync_through(scene: &Scene, till: &SyncedTill, fault: Fault, attempts: usize) {
    heal(till.proxy());
    till.proxy().set(fault);
    for attempt in 0..attempts {
        let error = till
            .sync(&scene.runtime)
            .expect_err("no sync can succeed while every answer is lost");
        assert!(
            error.is_transient(),
            "a lost answer is a transient failure, to retry (attempt {attempt}): {error:?}"
        );
    }
    assert!(
        till.proxy()
            .counters()
            .responses_dropped
            .load(std::sync::atomic::Ordering::SeqCst)
            >= attempts as u64,
        "the proxy really dropped the cloud's answers"
    );
    assert!(
        till.pending() > 0,
        "the till never heard the cloud's answer, so it keeps its operations to send again"
    );
}

/// Conflicts of `kind` on a till's review list, resolved or not.
fn conflicts_of(till: &SyncedTill, staff: &Staff, kind: &str) -> Vec<members::Conflict> {
    till.temp
        .till
        .member_conflicts(&staff.manager, true)
        .expect("a manager reads the review list")
        .into_iter()
        .filter(|c| c.conflict == kind)
        .collect()
}

/// Points refused offline, with nothing added to the cart.
fn assert_refused_offline(till: &SyncedTill, cart: &mut Cart, points: i64, why: &str) {
    let before = cart.clone();
    match till.temp.till.pay_with_points(cart, points, false) {
        Err(CoreError::OfflinePointsLimit(message)) => {
            assert!(
                message.contains(&points.to_string()),
                "{why}: the message says what was asked: {message}"
            );
        }
        other => panic!("{why}: {points} points must be refused offline, not {other:?}"),
    }
    assert_eq!(
        cart.points_redeemed(),
        before.points_redeemed(),
        "{why}: a refusal adds no points to the cart"
    );
}

fn earning_offline_while_redeeming_online(backend: Backend) {
    let context = format!("earn offline, redeem online, {backend:?}");
    let scene = Scene::start(backend);
    let eshop = scene.eshop();
    let staff = scene.staff();
    let phone = "0977-100-200";
    let member = eshop.sign_up(phone, "林雅婷 Ya-ting 🌸");
    let member_id = member["id"].as_str().expect("an id").to_owned();
    let mut expected = eshop.earn(&member_id, "WEB-START", 3_000_000);
    expected += member["balance"].as_i64().expect("a sign-up balance");

    let mut tills = vec![
        scene.offline_till("TPE-XINYI"),
        scene.offline_till("TPE-DAAN"),
    ];
    let known = found(&tills[0], &member_id).balance;
    assert_eq!(
        known, expected,
        "the first sync brought the member's balance"
    );

    // In store, offline: three sales that earn, and one that also redeems within the bound.
    for _ in 0..3 {
        let cart = member_cart(&tills[0].temp.till, &member_id, 40_000).expect("a cart");
        pay_by_card_and_complete(&mut tills[0].temp.till, &staff.cashier, cart);
    }
    let mut cart = member_cart(&tills[1].temp.till, &member_id, 20_000).expect("a cart");
    tills[1]
        .temp
        .till
        .pay_with_points(&mut cart, 50, false)
        .expect("50 points are within the offline bound");
    pay_by_card_and_complete(&mut tills[1].temp.till, &staff.cashier, cart);
    let pending = found(&tills[0], &member_id);
    assert!(
        pending.pending_points > 0,
        "the till shows the points it earned offline as pending"
    );

    // At the same time, in the e-shop: the cloud knows only what it has been told.
    let (status, answer) = eshop.redeem(&member_id, "WEB-REDEEM-1", 120);
    assert_eq!(
        status, 200,
        "the e-shop redeems from the cloud's balance: {answer}"
    );
    expected -= 120;
    expected += eshop.earn(&member_id, "WEB-ORDER-2", 450_000);
    let (status, answer) = eshop.redeem(&member_id, "WEB-REDEEM-2", 1_000_000);
    assert_eq!(
        status, 409,
        "the e-shop cannot redeem points the member does not have: {answer}"
    );

    // The store's link comes back through lost answers: the push is retried.
    sync_through(&scene, &tills[0], Fault::DropResponse, 2);
    heal_and_converge(&scene, &tills, &context);

    let balance = eshop.balance_as_sum_of_entries(&member_id, &context);
    let recorded = expected + tills.iter().map(|t| till_points(&t.temp.till)).sum::<i64>();
    assert_eq!(
        balance, recorded,
        "[{context}] the balance holds every store sale and online order exactly once"
    );
    let earned_in_store = eshop
        .entries(&member_id)
        .iter()
        .filter(|e| e["kind"] == "earn" && e["channel"] != "online")
        .count();
    assert_eq!(
        earned_in_store, 4,
        "[{context}] each of the four store sales earned exactly once, retries or not"
    );
    assert_tills_show(&[&tills[0], &tills[1]], &member_id, balance, &context);
}

fn two_offline_stores_overdrawing(backend: Backend) {
    let context = format!("two stores overdraw, {backend:?}");
    let scene = Scene::start(backend);
    let eshop = scene.eshop();
    let staff = scene.staff();
    let phone = "0977-300-400";
    let member = eshop.sign_up(phone, "Overdraw Test");
    let member_id = member["id"].as_str().expect("an id").to_owned();
    eshop.earn(&member_id, "WEB-START", 7_000_000);
    let start = eshop.balance(&member_id);

    let mut tills = vec![
        scene.offline_till("TPE-XINYI"),
        scene.offline_till("TPE-DAAN"),
    ];
    let mut redeemed = Vec::new();
    let mut receipts = Vec::new();
    for (number, till) in tills.iter_mut().enumerate() {
        let limit = till
            .temp
            .till
            .offline_points_limit(&member_id)
            .expect("the offline limit");
        assert!(
            limit.points < start,
            "[{context}] offline, a till may not redeem the whole balance ({} of {start})",
            limit.points
        );
        assert_eq!(
            limit.bound,
            OfflineBound::MemberCap,
            "[{context}] the brand's per-member cap sets this bound"
        );
        let mut cart =
            member_cart(&till.temp.till, &member_id, (start + 100) * 100).expect("a cart");
        assert_refused_offline(
            till,
            &mut cart,
            start + 1,
            &format!("[{context}] till {number}, more than the balance"),
        );
        assert_refused_offline(
            till,
            &mut cart,
            limit.points + 1,
            &format!("[{context}] till {number}, past the bound"),
        );
        till.temp
            .till
            .pay_with_points(&mut cart, limit.points, false)
            .expect("the bound itself may be redeemed");
        receipts.push(pay_by_card_and_complete(
            &mut till.temp.till,
            &staff.cashier,
            cart,
        ));
        redeemed.push(limit.points);
        // The bound now counts what this till redeemed: nothing more for this member.
        let mut again = member_cart(&till.temp.till, &member_id, 10_000).expect("a cart");
        assert_refused_offline(
            till,
            &mut again,
            1,
            &format!("[{context}] till {number}, after redeeming the bound"),
        );
        let left = members::allowance_left(till.temp.till.connection()).expect("allowance");
        assert!(
            left >= 0,
            "[{context}] till {number} stays within its store allowance ({left} left)"
        );
    }
    let total: i64 = redeemed.iter().sum();
    assert!(
        total > start,
        "[{context}] together the stores redeemed more than the member had ({total} > {start})"
    );

    // One store's push is applied while its answers are lost, then both converge.
    sync_through(&scene, &tills[1], Fault::DropResponse, 2);
    heal_and_converge(&scene, &tills, &context);

    let balance = eshop.balance_as_sum_of_entries(&member_id, &context);
    let recorded = start + tills.iter().map(|t| till_points(&t.temp.till)).sum::<i64>();
    assert_eq!(
        balance, recorded,
        "[{context}] both redemptions stand: the overdraft is booked, not undone"
    );
    assert!(
        balance < 0,
        "[{context}] the member is overdrawn: {balance}"
    );
    for (till, receipt) in tills.iter().zip(&receipts) {
        let at_cloud = cloud_receipts(&scene.cloud, &eshop.key, till.store);
        assert!(
            at_cloud.contains(receipt),
            "[{context}] the sale {receipt} stands at the cloud"
        );
        let refunded: i64 = till
            .temp
            .till
            .connection()
            .query_row("SELECT count(*) FROM refund", [], |row| row.get(0))
            .expect("refunds");
        assert_eq!(refunded, 0, "[{context}] no sale was reversed at the till");
    }
    let redeem_entries = eshop
        .entries(&member_id)
        .iter()
        .filter(|e| e["kind"] == "redeem")
        .count();
    assert_eq!(
        redeem_entries, 2,
        "[{context}] each store's redemption is booked once"
    );
    let overdrafts: usize = tills
        .iter()
        .map(|t| conflicts_of(t, &staff, "overdraft").len())
        .sum();
    assert_eq!(
        overdrafts, 1,
        "[{context}] the overdraft is flagged once, on the review list of the store that made it"
    );
    assert_tills_show(&[&tills[0], &tills[1]], &member_id, balance, &context);
}

fn a_coupon_used_in_both_channels(backend: Backend) {
    let context = format!("one coupon, two channels, {backend:?}");
    let scene = Scene::start(backend);
    let eshop = scene.eshop();
    let staff = scene.staff();
    let phone = "0977-500-600";
    let member = eshop.sign_up(phone, "Coupon Twice");
    let member_id = member["id"].as_str().expect("an id").to_owned();
    let coupon: Value = member["coupons"][0].clone();
    let coupon_id = coupon["id"].as_str().expect("a welcome coupon").to_owned();

    let mut tills = vec![scene.offline_till("TPE-XINYI")];
    let cached = found(&tills[0], &member_id);
    assert!(
        cached.coupons.iter().any(|c| c.id == coupon_id),
        "[{context}] the till cached the member's welcome coupon"
    );

    // The e-shop uses it first; the offline till cannot know.
    let (status, answer) = eshop.call(
        reqwest::Method::POST,
        &format!("/v1/coupons/{coupon_id}/redeem"),
        Some(serde_json::json!({ "member_id": member_id, "order_ref": "WEB-COUPON" })),
    );
    assert_eq!(
        status, 204,
        "[{context}] the e-shop uses the coupon: {answer}"
    );

    let till = &mut tills[0];
    let mut cart = member_cart(&till.temp.till, &member_id, 100_000).expect("a cart");
    till.temp
        .till
        .apply_coupon(&mut cart, &coupon_id, false)
        .expect("offline, the cached coupon applies");
    let rules = till.temp.till.pricing_rules().expect("rules");
    assert!(
        cart.totals(rules).coupon_discount_minor > 0,
        "[{context}] the coupon takes money off"
    );
    let receipt = pay_by_card_and_complete(&mut till.temp.till, &staff.cashier, cart);

    sync_through(&scene, &tills[0], Fault::DropResponse, 3);
    heal_and_converge(&scene, &tills, &context);
    // More rounds change nothing.
    tills::converge(&scene.runtime, &tills, 3, &context);

    let double = conflicts_of(&tills[0], &staff, "coupon_double_use");
    assert_eq!(
        double.len(),
        1,
        "[{context}] the double use is flagged exactly once: {double:?}"
    );
    assert!(
        double[0].summary.contains(&receipt),
        "[{context}] the flag names the store's receipt: {}",
        double[0].summary
    );
    assert!(
        cloud_receipts(&scene.cloud, &eshop.key, tills[0].store).contains(&receipt),
        "[{context}] the sale with the coupon stands at the cloud"
    );
    let discount: i64 = tills[0]
        .temp
        .till
        .connection()
        .query_row(
            "SELECT coupon_discount_minor FROM sale_member WHERE coupon_id = ?1",
            [&coupon_id],
            |row| row.get(0),
        )
        .expect("the sale's coupon");
    assert!(
        discount > 0,
        "[{context}] the till's sale keeps its discount"
    );
    assert!(
        found(&tills[0], &member_id)
            .coupons
            .iter()
            .all(|c| c.id != coupon_id),
        "[{context}] after sync the used coupon is gone from the till's cache"
    );
    let balance = eshop.balance_as_sum_of_entries(&member_id, &context);
    assert_tills_show(&[&tills[0]], &member_id, balance, &context);
}

fn a_refund_after_sync_through_lost_answers(backend: Backend) {
    let context = format!("refund after sync, {backend:?}");
    let scene = Scene::start(backend);
    let eshop = scene.eshop();
    let staff = scene.staff();
    let phone = "0977-700-800";
    let member = eshop.sign_up(phone, "Refund Once");
    let member_id = member["id"].as_str().expect("an id").to_owned();
    eshop.earn(&member_id, "WEB-START", 2_000_000);
    let start = eshop.balance(&member_id);

    let mut tills = vec![scene.offline_till("TPE-XINYI")];
    let till = &mut tills[0];
    let mut cart = member_cart(&till.temp.till, &member_id, 60_000).expect("a cart");
    till.temp
        .till
        .pay_with_points(&mut cart, 80, false)
        .expect("80 points within the offline bound");
    let receipt = pay_by_card_and_complete(&mut till.temp.till, &staff.cashier, cart);
    heal_and_converge(&scene, &tills, &context);
    let after_sale = eshop.balance_as_sum_of_entries(&member_id, &context);
    assert_eq!(
        after_sale,
        start + till_points(&tills[0].temp.till),
        "[{context}] the sale's earning and redemption are booked"
    );
    assert_ne!(after_sale, start, "[{context}] the sale moved the balance");

    // The whole sale is refunded; its push reaches the cloud but the answers are lost.
    let till = &mut tills[0];
    let lines: Vec<(i64, i64)> = till
        .temp
        .till
        .refundable(&receipt)
        .expect("the sale")
        .lines
        .iter()
        .map(|l| (l.line_no, l.refundable_quantity))
        .collect();
    till.temp
        .till
        .refund(&staff.cashier, &staff.approval, &receipt, &lines)
        .expect("a manager-approved refund of the whole sale");
    sync_through(&scene, &tills[0], Fault::DropResponse, 3);
    assert_eq!(
        eshop.balance(&member_id),
        start,
        "[{context}] the cloud booked the refund although the till never heard it did"
    );
    heal_and_converge(&scene, &tills, &context);
    tills::converge(&scene.runtime, &tills, 3, &context);

    let balance = eshop.balance_as_sum_of_entries(&member_id, &context);
    assert_eq!(
        balance, start,
        "[{context}] a whole refund takes back what the sale earned and gives back what it \
         redeemed, once"
    );
    let refund_entries = eshop
        .entries(&member_id)
        .iter()
        .filter(|e| e["kind"] == "reverse")
        .count();
    assert_eq!(
        refund_entries, 2,
        "[{context}] one entry reverses the earning and one restores the redemption"
    );
    assert_tills_show(&[&tills[0]], &member_id, balance, &context);
}

fn a_coupon_reservation_lifted(backend: Backend) {
    let context = format!("coupon reservation lifted, {backend:?}");
    let scene = Scene::start(backend);
    let eshop = scene.eshop();
    let member = eshop.sign_up("0977-900-100", "Lift The Hold");
    let coupon_id = member["coupons"][0]["id"]
        .as_str()
        .expect("a welcome coupon")
        .to_owned();
    let till = scene
        .template
        .enrol(&scene.runtime, &scene.cloud, "TPE-XINYI", false);
    till.sync(&scene.runtime).expect("a first sync");
    let link = omnitill_core::sync::link(till.temp.till.connection())
        .expect("the link")
        .expect("an enrolled till has a link");
    let client =
        omnitill_sync::Client::new(&link.cloud_url, Some(link.token)).expect("an HTTP client");
    let hold = |sale_id: &str| {
        scene.runtime.block_on(
            client.hold_coupon(&omnitill_protocol::loyalty::CouponHoldRequest {
                coupon_id: coupon_id.clone(),
                sale_id: sale_id.to_owned(),
            }),
        )
    };
    let use_online = |order: &str| {
        eshop.call(
            reqwest::Method::POST,
            &format!("/v1/coupons/{coupon_id}/redeem"),
            Some(serde_json::json!({ "order_ref": order })),
        )
    };

    hold("sale-a").expect("an unused coupon is reserved for the till's sale");
    hold("sale-a").expect("reserving it again for the same sale is harmless");
    assert!(
        hold("sale-b").is_err(),
        "[{context}] another sale cannot take a reserved coupon"
    );
    let (status, answer) = use_online("WEB-1");
    assert_eq!(
        status, 409,
        "[{context}] the e-shop cannot use a coupon a till has reserved: {answer}"
    );
    // The cashier takes the coupon off the sale: the reservation is lifted at once.
    scene
        .runtime
        .block_on(client.release_coupon("sale-a"))
        .expect("the till lifts its reservation");
    let (status, answer) = use_online("WEB-2");
    assert_eq!(
        status, 204,
        "[{context}] once lifted, the coupon is the member's to use anywhere: {answer}"
    );
    // Lifting again after the coupon was used changes nothing: a used coupon stays used.
    scene
        .runtime
        .block_on(client.release_coupon("sale-a"))
        .expect("lifting twice is harmless");
    let (status, answer) = use_online("WEB-3");
    assert_eq!(
        status, 409,
        "[{context}] a used coupon stays used: {answer}"
    );
    assert!(
        hold("sale-c").is_err(),
        "[{context}] and no till can reserve it"
    );
}

#[test]
fn a_coupon_taken_off_a_sale_is_free_for_the_e_shop_at_once_on_sqlite() {
    a_coupon_reservation_lifted(Backend::Sqlite);
}

#[test]
fn a_coupon_taken_off_a_sale_is_free_for_the_e_shop_at_once_on_postgresql() {
    a_coupon_reservation_lifted(Backend::Postgres);
}

#[test]
fn a_member_earning_in_store_offline_while_redeeming_online_has_one_balance_everywhere_on_sqlite() {
    earning_offline_while_redeeming_online(Backend::Sqlite);
}

#[test]
fn a_member_earning_in_store_offline_while_redeeming_online_has_one_balance_everywhere_on_postgresql()
 {
    earning_offline_while_redeeming_online(Backend::Postgres);
}

#[test]
fn two_offline_stores_overdrawing_stay_in_bounds_and_the_overdraft_is_flagged_once_on_sqlite() {
    two_offline_stores_overdrawing(Backend::Sqlite);
}

#[test]
fn two_offline_stores_overdrawing_stay_in_bounds_and_the_overdraft_is_flagged_once_on_postgresql() {
    two_offline_stores_overdrawing(Backend::Postgres);
}

#[test]
fn a_coupon_used_online_and_offline_the_same_day_is_flagged_once_on_sqlite() {
    a_coupon_used_in_both_channels(Backend::Sqlite);
}

#[test]
fn a_coupon_used_online_and_offline_the_same_day_is_flagged_once_on_postgresql() {
    a_coupon_used_in_both_channels(Backend::Postgres);
}

#[test]
fn a_refund_after_sync_reverses_points_once_through_lost_answers_on_sqlite() {
    a_refund_after_sync_through_lost_answers(Backend::Sqlite);
}

#[test]
fn a_refund_after_sync_reverses_points_once_through_lost_answers_on_postgresql() {
    a_refund_after_sync_through_lost_answers(Backend::Postgres);
}
