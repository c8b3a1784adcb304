//! `omnitill-cloud catalog import` as brand IT runs it, through the real binary on SQLite and
//! PostgreSQL: bad rows at the start, middle and end of a file are all named with their line,
//! column and reason, and nothing is written; `--skip-bad-rows` imports the good rows and still
//! names the bad; an import killed with SIGKILL at any moment leaves the catalog and the change
//! feed exactly as they were; a good import reaches a till through the real sync engine with
//! every product once; importing the same file again writes and publishes nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::Value;

use crate::support::cloud::{Backend, CloudProcess, binary, http};
use crate::support::tills::{self, SyncedTill};

const HEADER: &str = "sku,name,tax_class,active,barcodes,price_minor,effective_from";
/// Prices in the generated files apply from here, before the test tills' clock (2026-11-23).
const PRICES_FROM: &str = "2026-01-01T00:00:00Z";

/// The EAN-13 code with the 12-digit `payload`.
fn ean13(payload: u64) -> String {
    let digits = format!("{payload:012}");
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 1 { 3 } else { 1 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// A good row for generated product `n`.
fn good_row(n: u64, price: i64) -> String {
    format!(
        "IMPT-{n:07},Imported tea {n},standard,1,{},{price},{PRICES_FROM}",
        ean13(471_000_000_000 + n)
    )
}

/// `code` with its last digit changed, so its check digit is wrong.
fn wrong_check_digit(code: &str) -> String {
    let last = code.as_bytes()[code.len() - 1] - b'0';
    format!("{}{}", &code[..code.len() - 1], (last + 1) % 10)
}

fn price_of(n: u64) -> i64 {
    1_000 + (n as i64 % 97) * 100
}

fn write_file(dir: &Path, name: &str, rows: &[String]) -> String {
    let path = dir.join(name);
    let mut text = String::from(HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(&path, text).expect("the import file is written");
    path.display().to_string()
}

fn import(cloud: &CloudProcess, file: &str, extra: &[&str]) -> Output {
    Command::new(binary("omnitill-cloud"))
        .args(["--database", &cloud.database, "catalog", "import", file])
        .args(extra)
        .output()
        .expect("the import runs")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Counts that change with any write to the catalog or its feed.
fn catalog_state(cloud: &CloudProcess) -> String {
    let sql = "SELECT (SELECT COUNT(*) FROM product) || '/' || (SELECT COUNT(*) FROM barcode)
        || '/' || (SELECT COUNT(*) FROM price) || '/' || (SELECT COUNT(*) FROM feed)
        || '/' || (SELECT COALESCE(MAX(cursor), 0) FROM feed)
        || '/' || (SELECT value FROM counter WHERE name = 'feed')
        || '/' || (SELECT COALESCE(SUM(rows), 0) FROM feed_block)
        || '/' || (SELECT COALESCE(MAX(updated_at), 0) FROM product)";
    if cloud.database.starts_with("postgres") {
        let output = Command::new("psql")
            .arg(&cloud.database)
            .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    } else {
        let conn = rusqlite::Connection::open(&cloud.database).expect("the cloud's file opens");
        conn.query_row(sql, [], |row| row.get(0))
            .expect("the catalog state is read")
    }
}

fn products_like(cloud: &CloudProcess, prefix: &str) -> i64 {
    let state = |sql: &str| -> i64 {
        if cloud.database.starts_with("postgres") {
            let output = Command::new("psql")
                .arg(&cloud.database)
                .args(["-Atc", sql])
                .output()
                .expect("psql runs");
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .expect("a count")
        } else {
            let conn = rusqlite::Connection::open(&cloud.database).expect("the cloud's file opens");
            conn.query_row(sql, [], |row| row.get(0)).expect("a count")
        }
    };
    state(&format!(
        "SELECT COUNT(*) FROM product WHERE sku LIKE '{prefix}%'"
    ))
}

/// A barcode of a demo product already in the catalog, and that product's SKU.
fn demo_barcode_and_sku() -> (String, String) {
    let code = omnitill_core::demo::demo_barcode(1);
    let record = omnitill_core::demo::records(chrono::Utc::now())
        .into_iter()
        .find(|r| r.barcodes.contains(&code))
        .expect("demo product 1 has its barcode");
    (code, record.sku)
}

fn bad_rows_are_all_named(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (taken_code, taken_sku) = demo_barcode_and_sku();
    let mut rows: Vec<String> = (1..=1_000).map(|n| good_row(n, price_of(n))).collect();
    // Line numbers are the row's index + 2 (the header is line 1).
    rows[0] = format!(
        "IMPT-0000001,Imported tea 1,std,1,{},100,",
        ean13(471_000_000_001)
    );
    rows[1] = format!(
        "IMPT-0000002,Imported tea 2,standard,1,{},12.50,",
        ean13(471_000_000_002)
    );
    rows[497] = format!("IMPT-0000498,Imported tea 498,standard,1,{taken_code},100,");
    rows[498] = "IMPT-0000010,Imported tea again,standard,1,,100,".to_owned();
    rows[499] = format!(
        "IMPT-0000500,Imported tea 500,standard,1,{},100,",
        ean13(471_000_000_003)
    );
    rows[997] = "IMPT-0000998,Short row,standard,1,100".to_owned();
    let wrong_digit = wrong_check_digit(&ean13(471_000_000_999));
    rows[998] = format!("IMPT-0000999,,standard,1,{wrong_digit},100,");
    rows[999] = format!(
        "IMPT-0001000,Imported tea 1000,standard,maybe,{},-5,2026-02-30T00:00:00Z",
        ean13(471_000_001_000)
    );
    let file = write_file(dir.path(), "bad.csv", &rows);
    let before = catalog_state(&cloud);
    let output = import(&cloud, &file, &[]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code 2 says the file was refused; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout_lines(&output),
        vec![
            r#"line 2, column tax_class: unknown tax class "std"; known: standard, zero"#.to_owned(),
            r#"line 3, column price_minor: "12.50" is not a whole number of minor units (write 12.50 as 1250)"#.to_owned(),
            format!("line 4, column barcodes: barcode {} is also on line 501", ean13(471_000_000_003)),
            "line 11, column sku: SKU IMPT-0000010 is also on line 500".to_owned(),
            format!("line 499, column barcodes: barcode {taken_code} belongs to product {taken_sku}, which this file does not change"),
            "line 500, column sku: SKU IMPT-0000010 is also on line 11".to_owned(),
            format!("line 501, column barcodes: barcode {} is also on line 4", ean13(471_000_000_003)),
            "line 999: the row has 5 columns where the header has 7".to_owned(),
            "line 1,000, column name: is empty; every product needs a name".to_owned(),
            format!("line 1,000, column barcodes: barcode {wrong_digit} has a wrong check digit"),
            "line 1,001, column price_minor: -5 is negative; a price is 0 or more".to_owned(),
            r#"line 1,001, column active: "maybe" is not one of 1, 0, true, false, yes, no"#.to_owned(),
            r#"line 1,001, column effective_from: "2026-02-30T00:00:00Z" is not an RFC 3339 time such as 2026-12-01T00:00:00+08:00"#.to_owned(),
            "10 of 1,000 rows are bad; nothing was imported (fix them, or import the good rows with --skip-bad-rows)".to_owned(),
        ],
        "every bad row, at the start, the middle and the end, is named with its line, column and reason"
    );
    assert_eq!(
        catalog_state(&cloud),
        before,
        "a file with bad rows writes nothing, not even its good rows"
    );
    assert_eq!(
        products_like(&cloud, "IMPT-"),
        0,
        "no imported product exists"
    );
}

#[test]
fn bad_rows_at_the_start_middle_and_end_are_all_named_on_sqlite() {
    bad_rows_are_all_named(Backend::Sqlite);
}

#[test]
fn bad_rows_at_the_start_middle_and_end_are_all_named_on_postgresql() {
    bad_rows_are_all_named(Backend::Postgres);
}

#[test]
fn a_long_report_shows_the_first_hundred_problems_and_counts_the_rest() {
    let cloud = CloudProcess::start(Backend::Sqlite);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rows: Vec<String> = (1..=250)
        .map(|n| format!("IMPT-{n:07},Tea,std,1,,100,"))
        .collect();
    let file = write_file(dir.path(), "std.csv", &rows);
    let output = import(&cloud, &file, &[]);
    let lines = stdout_lines(&output);
    assert_eq!(output.status.code(), Some(2), "the file is refused");
    assert_eq!(
        lines.len(),
        102,
        "100 problems, the count of the rest, the summary"
    );
    assert_eq!(lines[100], "... and 150 more problems not shown");
    assert_eq!(
        lines[101],
        "250 of 250 rows are bad; nothing was imported (fix them, or import the good rows with --skip-bad-rows)",
        "the summary counts every bad row"
    );
}

#[test]
fn a_file_with_a_bad_header_is_refused_in_words() {
    let cloud = CloudProcess::start(Backend::Sqlite);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("header.csv");
    std::fs::write(&path, "sku,name,tax,price\nA-1,Tea,standard,100\n").expect("written");
    let before = catalog_state(&cloud);
    let output = import(&cloud, &path.display().to_string(), &["--skip-bad-rows"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad header refuses the file even when bad rows may be skipped"
    );
    let lines = stdout_lines(&output);
    assert!(
        lines
            .iter()
            .any(|l| l == "line 1: the header has no tax_class column")
            && lines
                .iter()
                .any(|l| l == "line 1: the header has no price_minor column"),
        "the header's problems are named: {lines:?}"
    );
    assert_eq!(catalog_state(&cloud), before, "nothing is written");
}

fn skipping_bad_rows(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut rows: Vec<String> = (1..=300).map(|n| good_row(n, price_of(n))).collect();
    rows[0] = "IMPT-0000001,Imported tea 1,std,1,,100,".to_owned();
    rows[150] = "IMPT-0000151,Imported tea 151,standard,1,,-1,".to_owned();
    rows[299] = "IMPT-0000300,Imported tea 300,zero,1,12345678,100,".to_owned();
    let file = write_file(dir.path(), "some-bad.csv", &rows);
    let output = import(&cloud, &file, &["--skip-bad-rows"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "exit code 3 says good rows were imported and bad ones skipped; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = stdout_lines(&output);
    assert_eq!(
        lines,
        vec![
            r#"line 2, column tax_class: unknown tax class "std"; known: standard, zero"#,
            "line 152, column price_minor: -1 is negative; a price is 0 or more",
            "line 301, column barcodes: barcode 12345678 has a wrong check digit",
            "imported 297 products from PATH: 297 new, 0 changed, 0 unchanged; 3 bad rows skipped"
                .replace("PATH", &file)
                .as_str(),
        ],
        "the bad rows are still listed"
    );
    assert_eq!(
        products_like(&cloud, "IMPT-"),
        297,
        "the good rows, and only they, are in the catalog"
    );
}

#[test]
fn skip_bad_rows_imports_the_good_rows_and_lists_the_bad_on_sqlite() {
    skipping_bad_rows(Backend::Sqlite);
}

#[test]
fn skip_bad_rows_imports_the_good_rows_and_lists_the_bad_on_postgresql() {
    skipping_bad_rows(Backend::Postgres);
}

/// Where in its progress the import is killed: the phase's label and a percentage.
const KILL_POINTS: [(&str, u32); 4] = [
    ("checking", 50),
    ("writing the catalog", 10),
    ("writing the catalog", 50),
    ("writing the catalog", 90),
];

fn killed_imports(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let products = 40_000;
    let rows: Vec<String> = (1..=products).map(|n| good_row(n, price_of(n))).collect();
    let file = write_file(dir.path(), "big.csv", &rows);
    // A first import, then kills of a second one that changes every price: both a new
    // catalog and an update of one must be all or nothing.
    for (round, prices) in [0, 1].into_iter().enumerate() {
        let file = if prices == 0 {
            file.clone()
        } else {
            let changed: Vec<String> = (1..=products)
                .map(|n| good_row(n, price_of(n) + 1))
                .collect();
            write_file(dir.path(), "changed.csv", &changed)
        };
        for (phase, percent) in KILL_POINTS {
            let before = catalog_state(&cloud);
            let mut child = Command::new(binary("omnitill-cloud"))
                .args(["--database", &cloud.database, "catalog", "import", &file])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the import starts");
            let stderr = child.stderr.take().expect("piped stderr");
            let mut seen = Vec::new();
            let mut reached = false;
            for line in BufReader::new(stderr).lines() {
                let line = line.expect("a progress line");
                seen.push(line.clone());
                let at = line
                    .rsplit_once(": ")
                    .and_then(|(_, p)| p.trim_end_matches(" %").parse::<u32>().ok());
                if line.starts_with(phase) && at.is_some_and(|p| p >= percent && p < 100) {
                    child.kill().expect("SIGKILL is sent");
                    reached = true;
                    break;
                }
            }
            let _ = child.wait();
            assert!(
                reached,
                "round {round}: the import never reported {phase} at {percent} %: {seen:?}"
            );
            assert_eq!(
                catalog_state(&cloud),
                before,
                "round {round}: an import killed while {phase} at {percent} % must leave the catalog and its feed exactly as before"
            );
        }
        let output = import(&cloud, &file, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "after the kills the import runs to its end: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout_lines(&output).last().map(String::as_str),
            Some(
                format!(
                    "imported 40,000 products from {file}: {} new, {} changed, 0 unchanged",
                    if prices == 0 { "40,000" } else { "0" },
                    if prices == 0 { "0" } else { "40,000" }
                )
                .as_str()
            ),
            "round {round}: none of the killed imports left anything behind"
        );
    }
}

#[test]
fn a_sigkilled_import_leaves_the_catalog_as_it_was_on_sqlite() {
    killed_imports(Backend::Sqlite);
}

#[test]
fn a_sigkilled_import_leaves_the_catalog_as_it_was_on_postgresql() {
    killed_imports(Backend::Postgres);
}

/// Every catalog entry a till downloads from cursor 0, as the wire has it.
fn pull_everything(cloud: &CloudProcess, token: &str) -> (Vec<Value>, i64) {
    let mut cursor = 0;
    let mut entries = Vec::new();
    loop {
        let page: Value = http()
            .get(format!(
                "{}/v1/sync/pull?cursor={cursor}&limit=5000",
                cloud.base_url
            ))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .bearer_auth(token)
            .send()
            .expect("pull request")
            .json()
            .expect("pull JSON");
        entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
        cursor = page["cursor"].as_i64().expect("a cursor");
        if !page["has_more"].as_bool().unwrap_or(false) {
            return (entries, cursor);
        }
    }
}

fn import_reaches_a_till(backend: Backend) {
    let runtime = tills::runtime();
    let cloud = CloudProcess::start(backend);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let products = 3_000u64;
    let mut rows: Vec<String> = (1..=products).map(|n| good_row(n, price_of(n))).collect();
    // A name with what PostgreSQL's COPY text format and CSV treat as structure.
    let odd_name = r#"Imported \tea "1", 茶\N"#;
    rows[0] = rows[0].replacen(
        "Imported tea 1,",
        &format!("\"{}\",", odd_name.replace('"', "\"\"")),
        1,
    );
    let file = write_file(dir.path(), "good.csv", &rows);
    let output = import(&cloud, &file, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a good file is imported: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let enrolment = cloud.enrol("TPE-XINYI", "Wire reader");
    let token = enrolment["token"]
        .as_str()
        .expect("a device token")
        .to_owned();
    let (entries, cursor) = pull_everything(&cloud, &token);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in &entries {
        if entry["change"]["kind"] == "product" {
            let sku = entry["change"]["sku"].as_str().expect("a SKU").to_owned();
            *seen.entry(sku).or_default() += 1;
        }
    }
    for n in 1..=products {
        assert_eq!(
            seen.get(&format!("IMPT-{n:07}")).copied(),
            Some(1),
            "product {n} is in the feed exactly once"
        );
    }
    assert!(
        seen.values().all(|count| *count == 1),
        "no product is in the feed twice"
    );
    let first = entries
        .iter()
        .find(|e| e["change"]["sku"] == "IMPT-0000001")
        .expect("the first product is in the feed");
    assert_eq!(
        first["change"]["name"], odd_name,
        "backslashes, quotes and commas in a name arrive as written"
    );

    let till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    till.sync(&runtime)
        .expect("the first sync downloads the catalog");
    let count: i64 = till
        .temp
        .till
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM product WHERE sku LIKE 'IMPT-%'",
            [],
            |row| row.get(0),
        )
        .expect("the till's products");
    assert_eq!(
        count, products as i64,
        "the till has every imported product"
    );
    for n in [1, 1_500, products] {
        let item = till
            .temp
            .till
            .scan(&ean13(471_000_000_000 + n))
            .expect("an imported barcode scans at the till");
        assert_eq!(
            (item.sku.as_str(), item.unit_price_minor),
            (format!("IMPT-{n:07}").as_str(), price_of(n)),
            "the till sells product {n} at the imported price"
        );
    }

    let before = catalog_state(&cloud);
    let output = import(&cloud, &file, &[]);
    assert_eq!(
        stdout_lines(&output).last().map(String::as_str),
        Some(
            format!("imported 3,000 products from {file}: 0 new, 0 changed, 3,000 unchanged")
                .as_str()
        ),
        "the same file again changes nothing"
    );
    assert_eq!(
        catalog_state(&cloud),
        before,
        "importing the same file again writes and publishes nothing"
    );
    let (again, _) = pull_everything(&cloud, &token);
    assert_eq!(
        again.len(),
        entries.len(),
        "the feed is the same after the second import"
    );

    // Every hundredth product repriced; the first keeps its odd name.
    let mut changed = rows.clone();
    for n in (100..=products).step_by(100) {
        changed[(n - 1) as usize] = good_row(n, price_of(n) + 5);
    }
    let changed_file = write_file(dir.path(), "changed.csv", &changed);
    let output = import(&cloud, &changed_file, &[]);
    assert_eq!(
        stdout_lines(&output).last().map(String::as_str),
        Some(
            format!(
                "imported 3,000 products from {changed_file}: 0 new, 30 changed, 2,970 unchanged"
            )
            .as_str()
        ),
        "only the repriced products change"
    );
    let page: Value = http()
        .get(format!(
            "{}/v1/sync/pull?cursor={cursor}&limit=5000",
            cloud.base_url
        ))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
        .bearer_auth(&token)
        .send()
        .expect("pull request")
        .json()
        .expect("pull JSON");
    let products_after: Vec<&Value> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["change"]["kind"] == "product")
        .collect();
    assert_eq!(
        products_after.len(),
        30,
        "a till that synced before downloads the 30 repriced products and nothing else"
    );
    till.sync(&runtime)
        .expect("the next sync brings the new prices");
    let item = till
        .temp
        .till
        .scan(&ean13(471_000_000_100))
        .expect("a repriced product scans");
    assert_eq!(
        item.unit_price_minor,
        price_of(100) + 5,
        "the till sells at the re-imported price"
    );
}

#[test]
fn an_import_reaches_a_till_whole_and_a_reimport_publishes_nothing_on_sqlite() {
    import_reaches_a_till(Backend::Sqlite);
}

#[test]
fn an_import_reaches_a_till_whole_and_a_reimport_publishes_nothing_on_postgresql() {
    import_reaches_a_till(Backend::Postgres);
}
