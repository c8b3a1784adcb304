//! The till and its cloud in the real window: sales through an outage, an operation the cloud
//! refused reviewed by a manager, and the status bar while sales go again to a restored cloud.

use super::*;

#[test]
fn sales_made_while_the_cloud_is_down_wait_as_pending_and_reach_it_when_it_returns() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let mut cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "offline_then_online",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    poll_until("the till to be online with the cloud", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "online")
    });

    cloud.stop();
    for product in [&DONGDING_75G, &ALISHAN_75G, &SUN_MOON_LAKE_75G] {
        scan(driver, &demo::demo_barcode(product.n));
        wait_for_cart(driver, &[(product.sku, 1)]);
        pay_cash_and_start_next_sale(driver);
    }
    let (state, pending) = poll_until(
        "the status bar to show offline with 3 pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "offline" && *pending == 3),
    );
    assert_eq!(
        (state.as_str(), pending),
        ("offline", 3),
        "three sales wait while the cloud is down"
    );
    let words = driver.find("#sync-status").text();
    assert!(
        words.contains('3'),
        "the status bar says how many wait: {words:?}"
    );
    window.shot("offline-three-pending");
    let sales = cloud_sales(&cloud, &key);
    assert!(
        sales.is_none(),
        "the cloud is down, so its API does not answer"
    );

    cloud.restart();
    poll_until(
        "the status bar to show online with nothing pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "online" && *pending == 0),
    );
    window.shot("online-nothing-pending");
    let sales = cloud_sales(&cloud, &key).expect("the cloud answers again");
    assert_eq!(
        sales.len(),
        3,
        "the three offline sales are in the cloud, once each"
    );
}

/// The store's sales through the cloud's API, or None when it does not answer.
fn cloud_sales(cloud: &crate::support::cloud::CloudProcess, key: &str) -> Option<Vec<Value>> {
    let response = crate::support::cloud::http()
        .get(format!("{}/v1/stores/TPE-XINYI/sales", cloud.base_url))
        .bearer_auth(key)
        .send()
        .ok()?;
    response.json::<Vec<Value>>().ok()
}

#[test]
fn a_manager_reviews_an_operation_the_cloud_refused() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "review_refusal",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::MANAGER.0, demo::MANAGER.1);
    poll_until("the till to be online with the cloud", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "online")
    });

    // A newer till's kind of operation, which this cloud cannot apply, queued beside the app's
    // own connection (WAL lets a second writer in between the app's transactions).
    let mut ledger = Connection::open(window.ledger_path()).expect("the ledger opens for writing");
    ledger
        .busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    let tx = ledger.transaction().expect("a transaction");
    let seq: i64 = tx
        .query_row(
            "UPDATE counter SET value = value + 1 WHERE name = 'outbox' RETURNING value",
            [],
            |row| row.get(0),
        )
        .unwrap_or(1);
    if seq == 1 {
        tx.execute("INSERT INTO counter (name, value) VALUES ('outbox', 1)", [])
            .expect("the first outbox number");
    }
    tx.execute(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at) VALUES (?1, ?2, 'member.points_redeemed.v9', '{\"receipt_no\":\"W-77\"}', ?3)",
        params![seq, uuid::Uuid::now_v7().to_string(), chrono::Utc::now().timestamp_millis()],
    )
    .expect("the operation is queued");
    tx.commit().expect("commit");

    // The next sale wakes the engine, which pushes both; the refusal does not hold the sale back.
    scan(driver, &demo::demo_barcode(DONGDING_75G.n));
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1)]);
    pay_cash_and_start_next_sale(driver);
    let flagged = poll_until(
        "the status bar to flag one refusal for review",
        SYNC_WAIT,
        || {
            let flag = driver.try_find("#sync-review").ok()?;
            (flag.attr("data-count")?.as_str() == "1").then(|| flag.text())
        },
    );
    assert!(
        flagged.contains('1'),
        "the status bar says how many refusals wait: {flagged:?}"
    );
    poll_until("nothing pending after the refusal", SYNC_WAIT, || {
        sync_state(driver).filter(|(_, pending)| *pending == 0)
    });

    press(driver, keys::F11);
    driver.wait_for("#settings #open-review");
    window.shot("settings-with-refusal");
    press(driver, keys::F9);
    let row = driver.wait_for(&format!("#review-list tr[data-seq='{seq}']"));
    let text = row.text();
    assert!(
        text.contains("W-77") && text.contains("member.points_redeemed.v9"),
        "the row names the receipt and the cloud's reason: {text:?}"
    );
    window.shot("review-list");
    driver
        .wait_for("#review-note")
        .send_keys("points redeemed by hand in the e-shop admin");
    driver.find("#review-note").send_keys(keys::ENTER);
    driver.wait_for("#review-empty");
    poll_until("the status bar flag to clear", SYNC_WAIT, || {
        driver.try_find("#sync-review").err().map(|_| ())
    });
    window.shot("review-done");
    let reader = open_ledger_read_only(&window);
    let (resolved_by, note): (String, String) = reader
        .query_row(
            "SELECT resolved_by, note FROM op_outcome WHERE seq = ?1",
            [seq],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the refusal's outcome is in the ledger");
    assert!(
        !resolved_by.is_empty(),
        "the ledger records which manager reviewed it"
    );
    assert_eq!(note, "points redeemed by hand in the e-shop admin");
}

#[test]
fn the_status_bar_says_the_restored_cloud_gets_sales_again_in_both_languages() {
    use crate::support::cloud::{Backend, CloudProcess};
    use crate::support::proxy::Fault;
    use crate::support::tills::{self, SyncedTill};

    let _window_lock = one_window_at_a_time();
    for (language, words) in [
        (
            omnitill_core::Language::English,
            "The cloud was restored from a backup",
        ),
        (
            omnitill_core::Language::TraditionalChinese,
            "雲端已從備份還原",
        ),
    ] {
        let runtime = tills::runtime();
        let mut cloud = CloudProcess::start(Backend::Sqlite);
        let key = cloud.api_key();
        let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", true);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        till.sell_randomly(&mut rng, 2);
        till.sync(&runtime).expect("seq 1-2 reach the cloud");
        let backup = cloud.backup();
        till.sell_randomly(&mut rng, 3);
        till.sync(&runtime).expect("seq 3-5 reach the cloud");
        cloud.restore(&backup);
        // A sale made meanwhile is what the app's engine pushes first.
        let receipts = till.sell_randomly(&mut rng, 1);
        till.temp.till.set_language(language).expect("the language");
        // Each request waits a second and a half on its way, so the re-sending is on screen.
        till.proxy().set(Fault::Delay(Duration::from_millis(1_500)));

        let data_dir = till.temp._dir.path().display().to_string();
        let name = match language {
            omnitill_core::Language::English => "resending-en",
            _ => "resending-zh",
        };
        let window = TillWindow::start_with_args(name, &["--data-dir", &data_dir]);
        let driver = window.driver();
        sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
        let line = driver.wait_until("the status bar to say the sales are sent again", || {
            let text = driver.try_find("#sync-resending").ok()?.prop("innerText");
            text.as_str()
                .filter(|t| t.contains(words))
                .map(str::to_owned)
        });
        let total = driver.find("#sync-resending").attr("data-total");
        assert_eq!(
            total.as_deref(),
            Some("3"),
            "it says how many: the three the restored cloud forgot (seq 3-5; the new sale was never sent): {line}"
        );
        window.shot("resending");
        till.proxy().pass();
        driver.wait_until("everything to be in the restored cloud", || {
            let gone = driver.find_all("#sync-resending").is_empty();
            (gone && sync_state(driver).is_some_and(|(_, pending)| pending == 0)).then_some(())
        });
        let in_cloud = tills::cloud_receipts(&cloud, &key, "TPE-XINYI");
        let mut ours = till.sale_receipts();
        ours.sort();
        assert_eq!(
            in_cloud, ours,
            "the restored cloud holds every sale of the till exactly once (new sale {receipts:?})"
        );
        drop(window);
    }
}
