//! Who may do what: the review lists are a manager's, refused in core for a cashier; nothing
//! at all works while the till is locked.

use omnitill_core::demo;

use crate::ErrorCode;

use super::Counter;

#[tokio::test]
async fn a_cashier_asking_for_the_review_list_is_refused_in_core() {
    let counter = Counter::with_cashier().await;
    let refusals = counter
        .app
        .refusals(false)
        .expect_err("a cashier may not see the review list");
    assert_eq!(refusals.code, ErrorCode::NotManager);
    let conflicts = counter
        .app
        .member_conflicts(true)
        .expect_err("nor the member conflicts");
    assert_eq!(conflicts.code, ErrorCode::NotManager);
    let resolve = counter
        .app
        .resolve_conflict("c-1", "checked")
        .expect_err("nor resolve one");
    assert_eq!(resolve.code, ErrorCode::NotManager);

    counter
        .app
        .login(demo::MANAGER.0, demo::MANAGER.1)
        .expect("the manager logs in");
    assert_eq!(
        counter.app.refusals(true).map(|list| list.len()),
        Ok(0),
        "a manager sees the (empty) list"
    );
}

#[tokio::test]
async fn a_locked_till_refuses_every_use_case_until_someone_logs_in() {
    let counter = Counter::open().await;
    let scanned = counter
        .app
        .scan_item(&demo::demo_barcode(1))
        .expect_err("nobody is logged in");
    assert_eq!(scanned.code, ErrorCode::NotLoggedIn);
    let attached = counter
        .app
        .attach_member(&super::card())
        .await
        .expect_err("nobody is logged in");
    assert_eq!(attached.code, ErrorCode::NotLoggedIn);
    assert!(
        counter.cloud().calls().len() == 1,
        "nothing but the enrolment reached the cloud"
    );
}
