//! Click-and-collect and the member on the shop floor, in the real window against a real cloud:
//! a new e-shop order raises its notice, is picked by scanning with one line missing, made
//! ready and handed over by its typed code; then a member's view shows a favourite in stock and
//! a suggestion with its reason, and both go into a sale. Screenshots in English and Chinese.

use super::*;
use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The order's pick-list row for `line_no`.
fn line_selector(line_no: i64) -> String {
    format!("tr[data-testid='pickup-line'][data-line-no='{line_no}']")
}

fn wait_for_line_state(driver: &WebDriver, line_no: i64, state: &str) {
    let selector = format!("{}[data-state='{state}']", line_selector(line_no));
    driver.wait_for(&selector);
}

fn wait_for_status(driver: &WebDriver, status: &str) {
    driver.wait_for(&format!("#pickup-detail[data-status='{status}']"));
}

fn notice_count(driver: &WebDriver) -> i64 {
    driver
        .find_all("#pickup-notice")
        .first()
        .and_then(|notice| notice.attr("data-count"))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_new_pickup_is_picked_by_scan_made_ready_and_handed_over_by_code_and_floor_picks_go_into_a_sale()
 {
    let _one = one_window_at_a_time();
    let cloud = CloudProcess::start(Backend::Sqlite);
    let eshop = EShop::new(&cloud);
    let enrolment = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "pickups",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &enrolment],
    );
    let driver = window.driver();
    sign_in(driver, demo::MANAGER.0, demo::MANAGER.1);
    poll_until("the till to be online", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "online")
    });
    // The demo's own new orders are counted once the first pull has brought them.
    let before = driver.wait_until("the demo's new orders to be counted", || {
        Some(notice_count(driver)).filter(|count| *count > 0)
    });

    // 1. The e-shop places an order for this store: it arrives with the pull, with its notice.
    let (status, placed) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups",
        Some(json!({
            "order_ref": "WEB-UI-1", "store": "TPE-XINYI", "payment": "paid_online",
            "guest_name": "林小姐", "guest_contact": "0912-000-111", "currency": "TWD",
            "promised_at_ms": now_ms() + 3_600_000,
            "lines": [
                { "sku": DONGDING_75G.sku, "quantity": 2, "total_minor": 2 * DONGDING_75G.price_minor },
                { "sku": ALISHAN_75G.sku, "quantity": 1, "total_minor": ALISHAN_75G.price_minor }
            ]
        })),
    );
    assert_eq!(status, 201, "the e-shop places the order: {placed}");
    let code = placed["order"]["code"]
        .as_str()
        .expect("a pickup code")
        .to_owned();
    poll_until("the notice to count the new order", SYNC_WAIT, || {
        (notice_count(driver) == before + 1).then_some(())
    });
    window.shot("notice");
    driver.find("#pickup-notice").click();
    driver.wait_for("#pickups");
    let order = format!("button[data-testid='pickup-order'][data-code='{code}']");
    driver.wait_for(&order).click();
    window.shot("queue");

    // 2. Picking: two Dongding scanned one by one; a wrong product is refused in words.
    let scan_field = driver.wait_for("#pickup-scan");
    scan_field.send_keys(&format!(
        "{}{}",
        barcode_of(&SUN_MOON_LAKE_75G),
        keys::ENTER
    ));
    wait_for_message(driver, "pickup_refused");
    let detail = driver.find("#message").prop("innerText");
    assert!(
        detail
            .as_str()
            .unwrap_or_default()
            .contains("not on this order"),
        "a product not on the order is refused, saying so: {detail}"
    );
    for _ in 0..2 {
        driver.find("#pickup-scan").send_keys(&format!(
            "{}{}",
            barcode_of(&DONGDING_75G),
            keys::ENTER
        ));
    }
    wait_for_line_state(driver, 1, "picked");
    // The Alishan is not on the shelf: marked missing with a reason.
    driver.find("#pickup-scan").send_keys(keys::ARROW_DOWN);
    driver.wait_for(&format!("{}.current", line_selector(2)));
    press(driver, keys::F3);
    driver
        .wait_for("#pickup-missing-reason")
        .send_keys(&format!("架上無貨 none on the shelf{}", keys::ENTER));
    wait_for_line_state(driver, 2, "missing");
    window.shot("picked");

    // 3. Ready.
    press(driver, keys::F8);
    wait_for_status(driver, "ready");

    // 4. The customer says the code; it is typed, verified, and the order handed over.
    driver
        .find("#pickup-find")
        .send_keys(&format!("{}{}", code.to_lowercase(), keys::ENTER));
    driver.wait_for("#pickup-verified[data-verified='code']");
    window.shot("verified");
    press(driver, keys::F12);
    wait_for_status(driver, "partially_collected");
    let ledger = open_ledger_read_only(&window);
    let handovers: i64 = ledger
        .query_row(
            "SELECT count(*) FROM outbox WHERE op_type = 'pickup.handed_over.v1'
             AND json_extract(payload, '$.verified_by') = 'code'",
            [],
            |row| row.get(0),
        )
        .expect("the outbox reads");
    assert_eq!(
        handovers, 1,
        "one handover, verified by its code, is recorded"
    );
    // The cloud hears of it: collected in part, the missing line not charged.
    poll_until("the cloud to show the order collected", SYNC_WAIT, || {
        let (status, view) = eshop.call(reqwest::Method::GET, "/v1/pickups/WEB-UI-1", None);
        (status == 200 && view["order"]["status"] == "partially_collected").then_some(())
    });

    // The same screens in Chinese.
    driver.find("#language-indicator").click();
    driver.wait_for("html[lang='zh-Hant']");
    window.shot("collected-zh");
    driver.find("#language-indicator").click();
    driver.wait_for("html[lang='en']");

    // 5. A member on the floor: her favourite in stock here and a suggestion with its reason,
    // both added to the sale.
    press(driver, keys::ESCAPE);
    driver.wait_for("#checkout #scan");
    press(driver, keys::F6);
    driver
        .wait_for("#member-input")
        .send_keys(&format!("0912345678{}", keys::ENTER));
    driver.wait_for("#cart-member");
    press(driver, keys::ESCAPE);
    driver.wait_gone("#member-dialog");
    press(driver, keys::F1);
    driver.wait_for("#floor");
    let favourite = driver.wait_until("a favourite in stock here", || {
        driver
            .find_all("[data-testid='floor-favourite']")
            .into_iter()
            .find(|f| {
                f.attr("data-available")
                    .and_then(|n| n.parse::<i64>().ok())
                    .is_some_and(|n| n > 0)
            })
            .and_then(|f| f.attr("data-sku"))
    });
    let suggestion = driver
        .wait_for("[data-testid='floor-suggestion']")
        .attr("data-sku")
        .expect("a suggested SKU");
    let reason = driver.find("[data-testid='floor-reason']").text();
    assert!(
        reason.contains("Bought with") && reason.contains("customers"),
        "a suggestion says why it is there: {reason:?}"
    );
    window.shot("floor");
    for sku in [&favourite, &suggestion] {
        driver
            .find(&format!(
                "button[data-testid='floor-add'][data-sku='{sku}']"
            ))
            .click();
    }
    driver.find("#language-indicator").click();
    driver.wait_for("html[lang='zh-Hant']");
    window.shot("floor-zh");
    driver.find("#language-indicator").click();
    press(driver, keys::ESCAPE);
    driver.wait_for("#checkout #scan");
    wait_for_cart(driver, &[(favourite.as_str(), 1), (suggestion.as_str(), 1)]);
    window.shot("floor-sale");
}

fn barcode_of(product: &DemoProduct) -> String {
    demo::demo_barcode(product.n)
}
