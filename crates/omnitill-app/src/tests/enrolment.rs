//! Enrolling a till: an address that may not carry the device token is refused before
//! anything is sent, and only a manager enrols.

use omnitill_core::demo;

use crate::App;
use crate::ErrorCode;

use super::fake_cloud::{Call, FakeCloud, Mode};

fn unlinked() -> (tempfile::TempDir, App<FakeCloud>) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let till = crate::upkeep::open_till(dir.path(), true).expect("the demo till opens");
    (dir, App::new(Ok(till), FakeCloud::new(Mode::Online)))
}

#[tokio::test]
async fn enrolment_with_a_bad_url_is_refused_before_the_cloud_is_asked() {
    let (_dir, app) = unlinked();
    app.login(demo::MANAGER.0, demo::MANAGER.1)
        .expect("the manager logs in");
    let long = format!("https://{}.example.com", "a".repeat(300));
    for url in [
        "http://example.com",
        "ftp://127.0.0.1",
        "not an address",
        "",
        long.as_str(),
    ] {
        let error = app
            .enrol_till(url, "CODE")
            .await
            .expect_err("an address that may not carry the token");
        assert_eq!(
            error.code,
            ErrorCode::BadInput,
            "{url:?}: {}",
            error.message
        );
    }
    assert!(
        app.cloud().calls().is_empty(),
        "nothing was sent to any of them"
    );
    assert!(!app.is_linked(), "the till stays unlinked");
    assert_eq!(app.cloud().wakes(), 0, "sync was not started");
}

#[tokio::test]
async fn only_a_manager_enrols_the_till_and_then_sync_starts() {
    let (_dir, app) = unlinked();
    app.login(demo::CASHIER.0, demo::CASHIER.1)
        .expect("the cashier logs in");
    let error = app
        .enrol_till("http://127.0.0.1:9", "CODE")
        .await
        .expect_err("a cashier may not enrol");
    assert_eq!(error.code, ErrorCode::NotManager);
    assert!(app.cloud().calls().is_empty(), "nothing was sent");

    app.login(demo::MANAGER.0, demo::MANAGER.1)
        .expect("the manager logs in");
    app.enrol_till(" http://127.0.0.1:9 ", "CODE")
        .await
        .expect("a manager enrols");
    assert_eq!(
        app.cloud().calls(),
        vec![Call::Enrol {
            url: "http://127.0.0.1:9".into()
        }],
        "the trimmed address is asked once"
    );
    assert!(app.is_linked(), "the link is recorded in the ledger");
    assert_eq!(app.cloud().wakes(), 1, "the background sync starts");
    let status = app.status().expect("status");
    assert_eq!(
        status.receipt_prefix.as_deref(),
        Some("T1"),
        "receipts carry the prefix the cloud gave"
    );
}

#[tokio::test]
async fn a_refused_enrolment_says_so_and_leaves_the_till_unlinked() {
    let (_dir, app) = unlinked();
    app.cloud()
        .set_mode(Mode::Refusing("this code was used already".into()));
    app.login(demo::MANAGER.0, demo::MANAGER.1)
        .expect("the manager logs in");
    let error = app
        .enrol_till("http://127.0.0.1:9", "CODE")
        .await
        .expect_err("the cloud refuses the code");
    assert_eq!(error.code, ErrorCode::Sync);
    assert!(
        error.message.contains("this code was used already"),
        "the cloud's reason is shown: {}",
        error.message
    );
    assert!(!app.is_linked());
}
