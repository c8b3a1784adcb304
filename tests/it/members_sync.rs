//! Members through the real sync engine and a real cloud process, on SQLite and PostgreSQL:
//! tills enrol members and sell to them offline, then converge.
//!
//! The same phone number enrolled at two tills in two stores while both are offline becomes
//! one member at the cloud after sync, holding the points both tills' sales earned; each till
//! then finds the survivor by that phone, with the cloud's balance, which is the sum of the
//! member's entries. The merge reaches the review list of the store whose enrolment was
//! merged, where only a manager can resolve it, with a note, and the resolution syncs.

use omnitill_core::members::{Enrolment, Lookup};
use omnitill_core::{Cart, TenderKind, demo};
use serde_json::Value;

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::proxy::Fault;
use crate::support::tills::{self, SyncedTill};

const PHONE: &str = "0955-000-111";

/// Sells `items` of demo product `n` to the member `member_id` at `till`, paid by card.
fn sell_to_member(till: &mut SyncedTill, member_id: &str, n: u64, items: i64) -> String {
    let cashier = till.temp.cashier();
    let rules = till.temp.till.pricing_rules().expect("pricing rules");
    let mut cart = Cart::new();
    till.temp
        .till
        .attach_member(&mut cart, member_id)
        .expect("the member attaches");
    let item = till
        .temp
        .till
        .scan(&demo::demo_barcode(n))
        .expect("a demo item scans");
    cart.add_item(item, items).expect("the item goes in");
    let due = cart.totals(rules).due_minor;
    cart.add_tender(rules, TenderKind::Card, due, Some("T"))
        .expect("a card tender");
    till.temp
        .till
        .complete_sale(&cashier, &cart)
        .expect("the sale completes offline")
        .receipt_no
}

/// Enrols the test's member at a till, offline.
fn enrol(till: &mut SyncedTill, name: &str) -> String {
    let cashier = till.temp.cashier();
    till.temp
        .till
        .enrol_member(
            &cashier,
            &Enrolment {
                name: name.into(),
                phone: Some(PHONE.into()),
                email: None,
                birthday: None,
                consent_terms: true,
                consent_marketing: false,
            },
        )
        .expect("the member is enrolled offline")
        .id
}

fn scenario(backend: Backend) {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let key = cloud.api_key();
    let mut xinyi = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", true);
    let mut daan = SyncedTill::enrol(&runtime, &cloud, "TPE-DAAN", true);
    // A first sync brings each till the brand's keys and rules; then both lose the link.
    for till in [&xinyi, &daan] {
        till.sync(&runtime).expect("a first sync");
    }
    xinyi.proxy().set(Fault::Refuse);
    daan.proxy().set(Fault::Refuse);

    let at_xinyi = enrol(&mut xinyi, "周杰 Chou 🎵");
    let at_daan = enrol(&mut daan, "Chou Jie");
    assert_ne!(
        at_xinyi, at_daan,
        "each till gives its enrolment its own id"
    );
    sell_to_member(&mut xinyi, &at_xinyi, 1, 3);
    sell_to_member(&mut daan, &at_daan, 4, 2);
    let earned_offline: i64 = [&xinyi, &daan]
        .iter()
        .map(|till| {
            till.temp
                .till
                .connection()
                .query_row("SELECT sum(points_earned) FROM sale_member", [], |row| {
                    row.get::<_, i64>(0)
                })
                .expect("the member blocks of the sales")
        })
        .sum();
    assert!(earned_offline > 0, "the offline sales earned points");

    crate::support::fault_tills::heal(xinyi.proxy());
    crate::support::fault_tills::heal(daan.proxy());
    let both = [xinyi, daan];
    tills::converge(&runtime, &both, 6, "two tills that enrolled one phone");
    // One more round each: the merge is published after the second enrolment is applied.
    tills::converge(&runtime, &both, 6, "the merge reaches both tills");

    let found: Value = cloud.get_with_key(&key, &format!("/v1/members?phone={PHONE}"));
    let survivor = found["id"]
        .as_str()
        .expect("one member has the phone")
        .to_owned();
    assert!(
        survivor == at_xinyi || survivor == at_daan,
        "the survivor is one of the two enrolments, not a third member: {survivor}"
    );
    let history = cloud.get_with_key(&key, &format!("/v1/members/{survivor}/history"));
    let entries: i64 = history["points"]
        .as_array()
        .expect("the member's points entries")
        .iter()
        .map(|e| e["points"].as_i64().expect("points"))
        .sum();
    let balance = found["balance"].as_i64().expect("a balance");
    assert_eq!(
        balance, entries,
        "the cloud's balance is the sum of the member's entries"
    );
    assert_eq!(
        balance, earned_offline,
        "the one member holds what both tills' sales earned, each once"
    );
    // The merge is a conflict for the manager of the store whose enrolment was merged; one
    // resolves it with a note, which syncs to the cloud and stays resolved.
    let mut both = both;
    let flagged: Vec<usize> = (0..both.len())
        .filter(|&i| {
            let manager = both[i].temp.manager();
            !both[i]
                .temp
                .till
                .member_conflicts(&manager, false)
                .expect("the conflicts")
                .is_empty()
        })
        .collect();
    assert_eq!(
        flagged.len(),
        1,
        "exactly one store is told its enrolment was merged"
    );
    let at = flagged[0];
    let manager = both[at].temp.manager();
    let cashier = both[at].temp.cashier();
    let open = both[at]
        .temp
        .till
        .member_conflicts(&manager, false)
        .expect("the conflicts");
    assert_eq!(
        open[0].conflict, "merged_enrolment",
        "the conflict says what happened"
    );
    assert!(
        both[at]
            .temp
            .till
            .member_conflicts(&cashier, false)
            .is_err(),
        "a cashier cannot open the review list"
    );
    both[at]
        .temp
        .till
        .resolve_member_conflict(&manager, &open[0].id, "   ")
        .expect_err("a resolution needs a note");
    both[at]
        .temp
        .till
        .resolve_member_conflict(&manager, &open[0].id, "same customer, told at the counter")
        .expect("the manager resolves it");
    tills::converge(&runtime, &both, 6, "the resolution reaches the cloud");
    let all = both[at]
        .temp
        .till
        .member_conflicts(&manager, true)
        .expect("the conflicts");
    assert!(
        all.iter().all(|c| c.resolved_at_ms.is_some()),
        "after sync the conflict stays resolved: {all:?}"
    );
    let refused: i64 = both[at]
        .temp
        .till
        .connection()
        .query_row(
            "SELECT count(*) FROM op_outcome WHERE status = 'rejected'",
            [],
            |row| row.get(0),
        )
        .expect("outcomes");
    assert_eq!(
        refused, 0,
        "the cloud accepted the enrolments, sales and resolution"
    );

    for till in &both {
        match till.temp.till.lookup_member(PHONE).expect("a look-up") {
            Lookup::Found(member) => {
                assert_eq!(member.id, survivor, "every till finds the surviving member");
                assert_eq!(
                    member.balance, balance,
                    "every till shows the cloud's balance, nothing pending"
                );
                assert!(!member.local_only, "the cloud has confirmed the member");
            }
            other => panic!("the till must find the merged member by phone, not {other:?}"),
        }
    }
}

#[test]
fn one_phone_enrolled_at_two_offline_tills_becomes_one_member_with_both_sales_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn one_phone_enrolled_at_two_offline_tills_becomes_one_member_with_both_sales_on_postgresql() {
    scenario(Backend::Postgres);
}
