//! The till fills the screen it runs on, kiosk style: at 1280x800 and at 1920x1080 its page is
//! the whole screen, from the sign-in to the checkout. `--windowed` keeps a 1280x800 window for
//! development. The screenshots land in target/ui-shots/screen-*/.

use super::{one_window_at_a_time, sign_in};
use crate::support::till_window::TillWindow;
use crate::support::webdriver::WebDriver;

/// The page's size in CSS pixels, as the web view lays it out.
fn page_size(driver: &WebDriver) -> (i64, i64) {
    let size = driver.execute("return [window.innerWidth, window.innerHeight];", vec![]);
    (
        size[0].as_i64().expect("a width"),
        size[1].as_i64().expect("a height"),
    )
}

/// Waits until the page has the size `expected` (the window manager, or the till itself,
/// resizes the window just after it opens).
fn wait_for_size(driver: &WebDriver, expected: (i64, i64), why: &str) {
    let mut last = (0, 0);
    let reached = std::time::Instant::now();
    while reached.elapsed() < std::time::Duration::from_secs(10) {
        last = page_size(driver);
        if last == expected {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{why}: the page is {last:?}, not {expected:?}");
}

fn fills(screen: &str, size: (i64, i64)) {
    let _window = one_window_at_a_time();
    let till = TillWindow::start_on_screen(&format!("screen-{screen}"), screen, &[]);
    let driver = till.driver();
    wait_for_size(
        driver,
        size,
        &format!("a till opens over the whole {screen} screen"),
    );
    till.shot("sign-in");
    sign_in(driver, "1001", "1234");
    assert_eq!(
        page_size(driver),
        size,
        "the checkout keeps the whole {screen} screen"
    );
    till.shot("checkout");
}

#[test]
fn the_till_fills_a_1920x1080_screen() {
    fills("1920x1080", (1920, 1080));
}

#[test]
fn the_till_fills_a_1280x800_screen() {
    fills("1280x800", (1280, 800));
}

#[test]
fn a_windowed_till_keeps_its_window_on_a_large_screen() {
    let _window = one_window_at_a_time();
    let till = TillWindow::start_on_screen("screen-windowed", "1920x1080", &["--windowed"]);
    let driver = till.driver();
    driver.wait_for("#login-code");
    let (width, height) = page_size(driver);
    assert!(
        (width, height) != (1920, 1080) && width <= 1280 && height <= 800,
        "--windowed keeps the 1280x800 window for development, not {width}x{height}"
    );
    till.shot("sign-in");
}
