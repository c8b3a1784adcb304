//! A damaged ledger in the real window: selling stops with the manager's screen, in both
//! languages, and the file is left as it was.

use super::*;

/// A demo ledger in `dir` (in `language`) with one index page overwritten: it opens, and the
/// background check finds the damage. Returns the ledger's bytes.
fn damaged_demo_ledger(dir: &std::path::Path, language: omnitill_core::Language) -> Vec<u8> {
    let path = dir.join("till.sqlite3");
    {
        let mut till =
            omnitill_core::Till::open(&path, std::sync::Arc::new(omnitill_core::SystemClock))
                .expect("a new ledger");
        demo::seed_demo(&mut till).expect("the demo store");
        till.set_language(language).expect("the language");
        till.connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("a checkpoint");
    }
    let (root, page_size): (i64, i64) = {
        let conn = Connection::open(&path).expect("the ledger");
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'barcode_by_product'",
                [],
                |row| row.get(0),
            )
            .expect("the index");
        let size = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("the page size");
        (root, size)
    };
    let mut bytes = std::fs::read(&path).expect("the ledger");
    let end = usize::try_from(root * page_size).expect("an offset");
    for byte in &mut bytes[end - 40..end - 8] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("the damaged ledger");
    assert!(
        !omnitill_core::health::check_ledger(&path)
            .expect("the check runs")
            .is_empty(),
        "the overwritten index page is damage the check finds"
    );
    bytes
}

#[test]
fn a_damaged_ledger_stops_selling_with_the_managers_screen_in_both_languages() {
    let _window_lock = one_window_at_a_time();
    for (language, title) in [
        (omnitill_core::Language::English, "Selling has stopped"),
        (omnitill_core::Language::TraditionalChinese, "已停止銷售"),
    ] {
        let dir = tempfile::tempdir().expect("a data directory");
        let before = damaged_demo_ledger(dir.path(), language);
        let data_dir = dir.path().display().to_string();
        let name = match language {
            omnitill_core::Language::English => "damaged-ledger-en",
            _ => "damaged-ledger-zh",
        };
        let window = TillWindow::start_with_args(name, &["--data-dir", &data_dir]);
        let driver = window.driver();
        let screen = driver.wait_for("#fatal-error[data-code='ledger_damaged']");
        let text = screen.prop("innerText");
        let text = text.as_str().unwrap_or_default();
        assert!(
            text.contains(title) && text.contains("--recover"),
            "the screen says selling stopped, in the till's language, and how the manager recovers: {text}"
        );
        assert!(
            driver.find_all("#login").is_empty() && driver.find_all("#checkout").is_empty(),
            "nothing to sell with is on screen"
        );
        let refused = invoke_raw(
            driver,
            "login",
            json!({ "staffCode": "1001", "pin": "1234" }),
        );
        assert_eq!(
            refused["err"]["code"], "ledger_damaged",
            "core refuses a sign-in's write to the damaged ledger: {refused}"
        );
        window.shot("damaged-ledger");
        drop(window);
        assert!(
            std::fs::read(dir.path().join("till.sqlite3")).expect("the ledger") == before,
            "the damaged ledger is left byte for byte as it was"
        );
    }
}
