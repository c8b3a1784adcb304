//! A member at checkout in the real window: scanned by QR, paying with points held online,
//! and offline meeting the limit in words.

use super::*;

/// The demo's gold member, 陳美玲 Mei-ling Chen, as the e-shop API sees her.
fn demo_member(cloud: &crate::support::cloud::CloudProcess, key: &str) -> Value {
    cloud.get_with_key(key, "/v1/members?phone=0912-345-678")
}

/// A fresh QR token from the member app, made by the cloud (signed, valid for minutes).
fn member_qr(cloud: &crate::support::cloud::CloudProcess, key: &str, member_id: &str) -> String {
    let response = crate::support::cloud::http()
        .post(format!("{}/v1/members/{member_id}/qr", cloud.base_url))
        .bearer_auth(key)
        .send()
        .expect("the QR request is answered");
    assert!(
        response.status().is_success(),
        "the cloud issues a QR token for a member: {}",
        response.status()
    );
    let body: Value = response.json().expect("QR JSON");
    body["token"].as_str().expect("a token").to_owned()
}

/// Opens the payment dialog, pays `points` of the attached member's points (P), and returns
/// the dialog still open for the rest.
fn pay_points(driver: &WebDriver, points: i64) {
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    press(driver, "p");
    let field = driver.wait_for("#tender-amount[data-kind='points']");
    field.clear();
    field.send_keys(&format!("{points}{}", keys::ENTER));
}

#[test]
fn a_member_scanned_by_qr_pays_with_points_and_offline_meets_the_limit_in_words() {
    use crate::support::cloud::{Backend, CloudProcess};

    let _one = one_window_at_a_time();
    let mut cloud = CloudProcess::start(Backend::Sqlite);
    let key = cloud.api_key();
    let member = demo_member(&cloud, &key);
    let member_id = member["id"].as_str().expect("the member's id").to_owned();
    // Customer service gave her points for a late parcel; the till shows why her points moved.
    let (status, answer) = crate::support::members::api_call(
        &cloud,
        &key,
        reqwest::Method::POST,
        &format!("/v1/members/{member_id}/adjust"),
        Some(json!({ "reference": "CS-77", "points": 50, "reason": "Late parcel 包裹延遲" })),
    );
    assert_eq!(status, 200, "customer service adjusts her points: {answer}");
    let code = cloud.admin(&["enrolment-code", "--store", "TPE-XINYI"]);
    let window = TillWindow::start_with_args(
        "member_points",
        &["--enrol-url", &cloud.base_url, "--enrol-code", &code],
    );
    let driver = window.driver();
    sign_in(driver, demo::CASHIER.0, demo::CASHIER.1);
    poll_until(
        "the till to be online with nothing pending",
        SYNC_WAIT,
        || sync_state(driver).filter(|(state, pending)| state == "online" && *pending == 0),
    );

    // 0. Bad look-ups in the member dialog: each says why, and attaches nobody.
    press(driver, keys::F6);
    let unknown_card = omnitill_core::loyalty::card_number(7_654_321);
    let mut wrong_digit = unknown_card.clone();
    let last = wrong_digit.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    wrong_digit.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    for (typed, code, says) in [
        ("09x2", "member_input", "not a phone number"),
        ("mei@", "member_input", "not an e-mail address"),
        (wrong_digit.as_str(), "member_input", "check digit"),
        (unknown_card.as_str(), "member_not_found", "No member found"),
    ] {
        let field = driver.wait_for("#member-input");
        field.clear();
        field.send_keys(&format!("{typed}{}", keys::ENTER));
        let message = wait_for_message(driver, code);
        let detail = driver.find("#message").prop("innerText");
        let detail = detail.as_str().unwrap_or_default();
        assert!(
            message.contains(says) || detail.contains(says),
            "{typed:?}: the cashier is told why ({message:?} / {detail:?})"
        );
        assert!(
            driver.find_all("#cart-member").is_empty(),
            "{typed:?}: a failed look-up attaches nobody"
        );
    }
    window.shot("member-bad-lookup");
    press(driver, keys::ESCAPE);
    driver.wait_until("the member dialog to close", || {
        driver.find_all("#member-dialog").is_empty().then_some(())
    });

    // 1. The member's QR code, scanned into the ordinary scan field, attaches her.
    scan(driver, &member_qr(&cloud, &key, &member_id));
    // innerText: WebKit's visible-text atom skips the name's ellipsis box.
    let strip = driver.wait_for("#cart-member").prop("innerText");
    let strip = strip.as_str().unwrap_or_default();
    assert!(
        strip.contains("Mei-ling Chen"),
        "one scan of the QR code attaches the member, shown beside the total: {strip:?}"
    );
    // F6 shows her tier, her balance as of the last sync and her coupons.
    press(driver, keys::F6);
    let card = driver.wait_for("#member-card").text();
    assert!(
        card.contains("Mei-ling Chen") && card.contains("pts"),
        "the member dialog shows the member and her points: {card:?}"
    );
    // Her purchases from both channels, asked of the cloud while online.
    let channels: Vec<String> = driver.wait_until("the member's purchases from the cloud", || {
        let rows = driver.find_all("#member-history tr[data-channel]");
        (!rows.is_empty()).then(|| rows.iter().filter_map(|r| r.attr("data-channel")).collect())
    });
    assert!(
        channels.iter().any(|c| c == "online") && channels.iter().any(|c| c != "online"),
        "the look-up shows purchases from the e-shop and from stores: {channels:?}"
    );
    let adjusted = driver.wait_for("#member-points tr[data-kind='adjust']");
    let adjusted = adjusted.prop("innerText");
    let adjusted = adjusted.as_str().unwrap_or_default();
    assert!(
        adjusted.contains("+50") && adjusted.contains("Late parcel"),
        "the points movements show the adjustment with its reason: {adjusted:?}"
    );
    window.shot("member-dialog");
    press(driver, keys::ESCAPE);
    driver.wait_until("the member dialog to close", || {
        driver.find_all("#member-dialog").is_empty().then_some(())
    });

    // 2. Sell two items; her tier discount applies.
    scan(driver, &demo::demo_barcode(DONGDING_75G.n));
    scan(driver, &demo::demo_barcode(ALISHAN_75G.n));
    wait_for_cart(driver, &[(DONGDING_75G.sku, 1), (ALISHAN_75G.sku, 1)]);
    let gross = DONGDING_75G.price_minor + ALISHAN_75G.price_minor;
    assert!(
        cart_total_minor(driver) < gross,
        "a gold member's tier discount lowers the total below {gross}"
    );
    window.shot("member-attached");

    // 3. 100 points pay part of it, held at the cloud; cash pays the rest.
    pay_points(driver, 100);
    let tender = driver.wait_for("li[data-testid='tender'][data-kind='points']");
    assert!(
        tender.text().contains("100"),
        "the payment list shows the points used: {:?}",
        tender.text()
    );
    window.shot("points-tender");
    driver
        .wait_for("#tender-amount[data-kind='cash']")
        .send_keys(keys::ENTER);

    // 4. The receipt's points lines.
    driver.wait_for("#receipt[data-kind='sale']");
    let text = driver.find("#receipt-text").text();
    assert!(
        text.contains("Points redeemed") && text.contains("100"),
        "the receipt says 100 points were redeemed:\n{text}"
    );
    assert!(
        text.contains("Points earned") && text.contains("Points balance"),
        "the receipt says the points earned and the balance after:\n{text}"
    );
    assert!(
        text.contains("(pending)"),
        "the balance is marked pending until the cloud confirms the sale:\n{text}"
    );
    window.shot("receipt-points");
    press(driver, keys::ENTER);
    driver.wait_for("#checkout #scan");
    let reader = open_ledger_read_only(&window);
    let redeemed: i64 = reader
        .query_row(
            "SELECT points_redeemed FROM sale_member ORDER BY rowid DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .expect("the sale's member block is in the ledger");
    assert_eq!(redeemed, 100, "the ledger records the points redeemed");

    // 5. Offline, redeeming past the offline limit is refused with the reason in words.
    let qr = member_qr(&cloud, &key, &member_id);
    cloud.stop();
    poll_until("the status bar to show offline", SYNC_WAIT, || {
        sync_state(driver).filter(|(state, _)| state == "offline")
    });
    scan(driver, &qr);
    driver.wait_for("#cart-member");
    scan(driver, &demo::demo_barcode(ALISHAN_75G.n));
    wait_for_cart(driver, &[(ALISHAN_75G.sku, 1)]);
    press(driver, keys::F12);
    driver.wait_for("#pay-dialog");
    press(driver, "p");
    let limit = driver.wait_for("#points-offline-limit").text();
    assert!(
        limit.contains("Offline") && limit.contains("at most"),
        "offline, the payment dialog states the limit and why before anything is typed: {limit:?}"
    );
    let field = driver.wait_for("#tender-amount[data-kind='points']");
    field.clear();
    field.send_keys(&format!("600{}", keys::ENTER));
    let message = wait_for_message(driver, "offline_points_limit");
    assert!(
        message.contains("offline") || message.contains("Offline"),
        "the cashier is told points are limited offline: {message:?}"
    );
    let detail = driver.find("#message .detail").prop("innerText");
    let detail = detail.as_str().unwrap_or_default();
    assert!(
        detail.contains("at most") && detail.contains("600"),
        "the message gives the limit and what was asked: {detail:?}"
    );
    window.shot("offline-limit");
    assert!(
        driver
            .find_all("li[data-testid='tender'][data-kind='points']")
            .is_empty(),
        "a refused redemption adds no payment"
    );

    // 6. Still offline, a new customer enrols at the counter and is attached to the sale.
    press(driver, keys::ESCAPE);
    driver.wait_until("the payment dialog to close", || {
        driver.find_all("#pay-dialog").is_empty().then_some(())
    });
    press(driver, keys::F6);
    driver.wait_for("#member-dialog");
    press(driver, keys::F7);
    driver.wait_for("#enrol-name").send_keys("吳小華 Wu");
    // WebDriver's key typing drops characters outside the BMP; an emoji arrives the way an input
    // method or the emoji picker commits it: as text inserted into the field, with an input event.
    driver.execute(
        "const field = document.querySelector('#enrol-name');
         field.focus();
         field.setRangeText(arguments[0], field.value.length, field.value.length, 'end');
         field.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: arguments[0] }));",
        vec![json!(" 🌸")],
    );
    driver.find("#enrol-phone").send_keys("0977-555-222");
    // Without consent to the terms the till refuses, in words, and enrols nobody.
    driver.find("#enrol-name").send_keys(keys::ENTER);
    wait_for_message(driver, "member_input");
    let refused = driver.find("#message .detail").prop("innerText");
    assert!(
        refused.as_str().unwrap_or_default().contains("terms"),
        "the cashier is told consent to the terms is needed: {refused:?}"
    );
    driver.find("#enrol-terms").click();
    driver.find("#enrol-name").send_keys(keys::ENTER);
    driver.wait_until("the new member to be attached", || {
        let strip = driver.try_find("#cart-member").ok()?.prop("innerText");
        strip
            .as_str()
            .filter(|s| s.contains("吳小華"))
            .map(str::to_owned)
    });
    window.shot("enrolled-offline");
    let enrolled: i64 = reader
        .query_row(
            "SELECT count(*) FROM outbox WHERE op_type = 'member.enrolled.v1' AND acked_at IS NULL",
            [],
            |row| row.get(0),
        )
        .expect("the outbox");
    assert_eq!(
        enrolled, 1,
        "the offline enrolment waits in the outbox as one operation"
    );
    let name: String = reader
        .query_row("SELECT name FROM member WHERE local_only = 1", [], |row| {
            row.get(0)
        })
        .expect("the enrolled member is cached");
    assert_eq!(
        name, "吳小華 Wu 🌸",
        "the name is kept as typed, emoji and all"
    );
}
