//! The catalog import file: its CSV format, and every check of a row that needs nothing but
//! the row itself.
//!
//! The file is UTF-8 CSV with a header row that names its columns, in any order:
//!
//! | column | required | what it holds |
//! |---|---|---|
//! | `sku` | yes | 1 to 64 characters, unique in the file |
//! | `name` | yes | 1 to 200 characters |
//! | `tax_class` | yes | the id of a tax class the cloud has (`standard`, `zero`, ...) |
//! | `price_minor` | yes | the price in minor units, a whole number from 0 to `MAX_PRICE_MINOR` |
//! | `active` | no | `1`/`0`, `true`/`false` or `yes`/`no`; empty or absent means for sale |
//! | `barcodes` | no | EAN-13, EAN-8 or UPC-A codes separated by `|`, with correct check digits |
//! | `effective_from` | no | when the price applies, an RFC 3339 time; empty or absent means now |
//!
//! `read` returns the rows that passed and a `Problem` (line, column, reason in words) for
//! every one that did not; a file whose header is unusable is refused as a whole. Checks that
//! need the other rows or the catalog are in `import_check`.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use crate::catalog::normalise_barcode;

/// The columns the import knows, in the order the documentation lists them.
pub const COLUMNS: [&str; 7] = [
    "sku",
    "name",
    "tax_class",
    "price_minor",
    "active",
    "barcodes",
    "effective_from",
];
/// The columns every file must have.
pub const REQUIRED: [&str; 4] = ["sku", "name", "tax_class", "price_minor"];
/// The longest SKU, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The most barcodes one product may have.
pub const MAX_BARCODES: usize = 32;
/// The highest price a row may give, in minor units (a thousand million in a currency with
/// cents): far above any till's price, far below where sums of a sale could overflow.
pub const MAX_PRICE_MINOR: i64 = 100_000_000_000;
/// The earliest and latest `effective_from` a row may give (2000-01-01 and 2100-01-01, UTC ms).
const EARLIEST_PRICE_MS: i64 = 946_684_800_000;
const LATEST_PRICE_MS: i64 = 4_102_444_800_000;

/// A row that passed its own checks, with its values cleaned: trimmed text, barcodes in their
/// stored form (UPC-A as EAN-13), sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: u64,
    pub sku: String,
    pub name: String,
    pub tax_class: String,
    pub active: bool,
    pub barcodes: Vec<String>,
    pub price_minor: i64,
    /// When the price applies (Unix ms); `None` means from the moment of the import.
    pub effective_from: Option<i64>,
}

/// What is wrong with one row: its line in the file, the column (none when the problem is the
/// row's shape) and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: Option<&'static str>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(
                f,
                "line {}, column {column}: {}",
                thousands(self.line),
                self.reason
            ),
            None => write!(f, "line {}: {}", thousands(self.line), self.reason),
        }
    }
}

/// What reading a file found.
#[derive(Debug, Default)]
pub struct FileRows {
    /// The rows that passed their own checks, in file order.
    pub rows: Vec<ImportRow>,
    /// The problems of the other rows, in file order.
    pub problems: Vec<Problem>,
    /// How many product rows the file has, good and bad.
    pub total: u64,
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The header (or the lack of one) makes every row meaningless.
    Header(Vec<Problem>),
    /// The file could not be read from the disk.
    Io(String),
}

/// Reads and checks every row of `input`. `progress` is called now and then with the number of
/// bytes read so far.
pub fn read(input: impl Read, mut progress: impl FnMut(u64)) -> Result<FileRows, Unreadable> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header = match reader.byte_headers() {
        Ok(header) => header.clone(),
        Err(error) => return Err(read_error(error)),
    };
    let columns = Columns::from_header(&header)?;
    let mut found = FileRows::default();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(read_error(error)),
        }
        found.total += 1;
        let line = record.position().map_or(0, |p| p.line());
        match columns.check(line, &record) {
            Ok(row) => found.rows.push(row),
            Err(mut problems) => found.problems.append(&mut problems),
        }
        if found.total.is_multiple_of(8_192) {
            progress(reader.position().byte());
        }
    }
    progress(reader.position().byte());
    Ok(found)
}

fn read_error(error: csv::Error) -> Unreadable {
    let line = error.position().map_or(1, |p| p.line());
    match error.into_kind() {
        csv::ErrorKind::Io(error) => Unreadable::Io(error.to_string()),
        other => Unreadable::Header(vec![Problem {
            line,
            column: None,
            reason: format!("the file cannot be read as CSV: {other:?}"),
        }]),
    }
}

/// Where each known column is in the file.
struct Columns {
    index: HashMap<&'static str, usize>,
    width: usize,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Columns, Unreadable> {
        let refuse = |reason: String| {
            Unreadable::Header(vec![Problem {
                line: 1,
                column: None,
                reason,
            }])
        };
        if header.is_empty() || (header.len() == 1 && header[0].trim_ascii().is_empty()) {
            return Err(refuse(format!(
                "the file is empty; its first line must be a header naming the columns, e.g. {}",
                COLUMNS.join(",")
            )));
        }
        let mut problems = Vec::new();
        let mut index = HashMap::new();
        for (position, name) in header.iter().enumerate() {
            let Ok(name) = std::str::from_utf8(name) else {
                problems.push(format!(
                    "header column {} is not UTF-8 text; save the file as UTF-8",
                    position + 1
                ));
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            match COLUMNS.iter().find(|known| **known == name) {
                Some(known) => {
                    if index.insert(*known, position).is_some() {
                        problems.push(format!("the header names column {known} twice"));
                    }
                }
                None => problems.push(format!(
                    "the header names an unknown column {name:?}; the columns are {}",
                    COLUMNS.join(", ")
                )),
            }
        }
        for required in REQUIRED {
            if !index.contains_key(required) {
                problems.push(format!("the header has no {required} column"));
            }
        }
        if problems.is_empty() {
            Ok(Columns {
                index,
                width: header.len(),
            })
        } else {
            Err(Unreadable::Header(
                problems
                    .into_iter()
                    .map(|reason| Problem {
                        line: 1,
                        column: None,
                        reason,
                    })
                    .collect(),
            ))
        }
    }

    /// Checks one row; every problem of the row is returned, not only the first.
    fn check(&self, line: u64, record: &csv::ByteRecord) -> Result<ImportRow, Vec<Problem>> {
        if record.len() != self.width {
            return Err(vec![Problem {
                line,
                column: None,
                reason: format!(
                    "the row has {} columns where the header has {}",
                    record.len(),
                    self.width
                ),
            }]);
        }
        let mut problems = Vec::new();
        let mut field = |column: &'static str| -> Option<&str> {
            let bytes = record.get(*self.index.get(column)?)?;
            match std::str::from_utf8(bytes) {
                Ok(text) => Some(text.trim()),
                Err(error) => {
                    let at = error.valid_up_to();
                    problems.push(Problem {
                        line,
                        column: Some(column),
                        reason: format!(
                            "is not UTF-8 text (byte 0x{:02X} at position {}); save the file as UTF-8",
                            bytes[at],
                            at + 1
                        ),
                    });
                    None
                }
            }
        };
        let sku = field("sku");
        let name = field("name");
        let tax_class = field("tax_class");
        let price = field("price_minor");
        let active = field("active");
        let barcodes = field("barcodes");
        let effective_from = field("effective_from");
        let mut report = |column: &'static str, result: Result<(), String>| {
            if let Err(reason) = result {
                problems.push(Problem {
                    line,
                    column: Some(column),
                    reason,
                });
            }
        };
        let sku = sku.inspect(|s| {
            report("sku", check_text(s, "SKU", MAX_SKU_CHARS));
        });
        let name = name.inspect(|s| {
            report("name", check_text(s, "name", MAX_NAME_CHARS));
        });
        let tax_class = tax_class.inspect(|s| {
            report(
                "tax_class",
                if s.is_empty() {
                    Err("is empty; every product needs a tax class".into())
                } else {
                    Ok(())
                },
            );
        });
        let price = price.and_then(|s| {
            parse_price(s)
                .map_err(|e| report("price_minor", Err(e)))
                .ok()
        });
        let active = active.map_or(Some(true), |s| {
            parse_active(s).map_err(|e| report("active", Err(e))).ok()
        });
        let barcodes = barcodes.map_or(Some(Vec::new()), |s| {
            parse_barcodes(s)
                .map_err(|e| report("barcodes", Err(e)))
                .ok()
        });
        let effective_from = effective_from.map_or(Some(None), |s| {
            parse_effective_from(s)
                .map_err(|e| report("effective_from", Err(e)))
                .ok()
        });
        match (
            sku,
            name,
            tax_class,
            price,
            active,
            barcodes,
            effective_from,
        ) {
            (
                Some(sku),
                Some(name),
                Some(tax_class),
                Some(price_minor),
                Some(active),
                Some(barcodes),
                Some(effective_from),
            ) if problems.is_empty() => Ok(ImportRow {
                line,
                sku: sku.to_owned(),
                name: name.to_owned(),
                tax_class: tax_class.to_owned(),
                active,
                barcodes,
                price_minor,
                effective_from,
            }),
            _ => Err(problems),
        }
    }
}

/// A SKU or name: not empty, not too long, no control characters (PostgreSQL refuses NUL in
/// text, and a till cannot show the others).
fn check_text(text: &str, what: &str, most: usize) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("is empty; every product needs a {what}"));
    }
    let chars = text.chars().count();
    if chars > most {
        return Err(format!(
            "is {chars} characters long; a {what} has at most {most}"
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains the control character U+{:04X}, which a {what} cannot hold",
            u32::from(c)
        ));
    }
    Ok(())
}

fn parse_price(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err("is empty; every product needs a price in minor units".into());
    }
    let Ok(price) = text.parse::<i64>() else {
        return Err(if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            format!("{text} is too large; the highest price is {MAX_PRICE_MINOR}")
        } else {
            format!("{text:?} is not a whole number of minor units (write 12.50 as 1250)")
        });
    };
    if price < 0 {
        return Err(format!("{price} is negative; a price is 0 or more"));
    }
    if price > MAX_PRICE_MINOR {
        return Err(format!(
            "{price} is too large; the highest price is {MAX_PRICE_MINOR}"
        ));
    }
    Ok(price)
}

fn parse_active(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("{text:?} is not one of 1, 0, true, false, yes, no")),
    }
}

fn parse_barcodes(text: &str) -> Result<Vec<String>, String> {
    let mut codes = Vec::new();
    for code in text.split('|').map(str::trim).filter(|c| !c.is_empty()) {
        codes.push(normalise_barcode(code)?);
    }
    if codes.len() > MAX_BARCODES {
        return Err(format!(
            "{} barcodes; a product has at most {MAX_BARCODES}",
            codes.len()
        ));
    }
    codes.sort_unstable();
    if let Some(pair) = codes.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("barcode {} is given twice", pair[0]));
    }
    Ok(codes)
}

fn parse_effective_from(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2026-12-01T00:00:00+08:00"))?
        .timestamp_millis();
    if !(EARLIEST_PRICE_MS..LATEST_PRICE_MS).contains(&at) {
        return Err(format!("{text} is outside the years 2000 to 2099"));
    }
    Ok(Some(at))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "sku,name,tax_class,active,barcodes,price_minor\n";

    fn read_text(text: &str) -> Result<FileRows, Unreadable> {
        read(text.as_bytes(), |_| {})
    }

    fn problems_of(text: &str) -> Vec<String> {
        read_text(text)
            .expect("the header is good")
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_row_is_cleaned_up() {
        let file = read_text(&format!(
            "{HEADER} TEA-1 , Oolong tea ,standard,yes,4006381333931| 036000291452 ,12000\n"
        ))
        .expect("a readable file");
        assert!(file.problems.is_empty(), "no problems: {:?}", file.problems);
        assert_eq!(
            file.rows,
            vec![ImportRow {
                line: 2,
                sku: "TEA-1".into(),
                name: "Oolong tea".into(),
                tax_class: "standard".into(),
                active: true,
                barcodes: vec!["0036000291452".into(), "4006381333931".into()],
                price_minor: 12_000,
                effective_from: None,
            }],
            "text is trimmed, UPC-A becomes EAN-13 and barcodes are sorted"
        );
    }

    #[test]
    fn columns_come_in_any_order_and_optional_ones_may_be_missing() {
        let file = read_text("price_minor,Tax_Class,name,sku\n500,zero,Water,W-1\n")
            .expect("a readable file");
        assert_eq!(file.rows.len(), 1, "the row is read: {:?}", file.problems);
        let row = &file.rows[0];
        assert_eq!(
            (
                row.sku.as_str(),
                row.price_minor,
                row.active,
                row.barcodes.len()
            ),
            ("W-1", 500, true, 0),
            "a missing active column means for sale, missing barcodes means none"
        );
    }

    #[test]
    fn every_problem_of_a_row_is_named_with_its_column() {
        let problems = problems_of(&format!(
            "{HEADER}A-1,Good,standard,1,4006381333931,100\n,{},standard,maybe,4006381333932,12.50\n",
            "x".repeat(201)
        ));
        assert_eq!(
            problems,
            vec![
                "line 3, column sku: is empty; every product needs a SKU",
                "line 3, column name: is 201 characters long; a name has at most 200",
                "line 3, column price_minor: \"12.50\" is not a whole number of minor units (write 12.50 as 1250)",
                "line 3, column active: \"maybe\" is not one of 1, 0, true, false, yes, no",
                "line 3, column barcodes: barcode 4006381333932 has a wrong check digit",
            ],
            "each bad field of the row is reported, with the row's line"
        );
    }

    #[test]
    fn prices_out_of_range_are_refused() {
        for (price, reason) in [
            ("-1", "-1 is negative; a price is 0 or more"),
            (
                "100000000001",
                "100000000001 is too large; the highest price is 100000000000",
            ),
            (
                "99999999999999999999",
                "99999999999999999999 is too large; the highest price is 100000000000",
            ),
            ("", "is empty; every product needs a price in minor units"),
        ] {
            let problems = problems_of(&format!("{HEADER}A-1,Tea,standard,1,,{price}\n"));
            assert_eq!(
                problems,
                vec![format!("line 2, column price_minor: {reason}")],
                "price {price:?} must be refused in words"
            );
        }
        assert!(
            problems_of(&format!("{HEADER}A-1,Tea,standard,1,,0\n")).is_empty(),
            "a free product is allowed"
        );
    }

    #[test]
    fn a_row_with_the_wrong_number_of_columns_is_named() {
        let problems = problems_of(&format!(
            "{HEADER}A-1,Tea,standard,1,100\nB-1,Tea,standard,1,,100,x\n"
        ));
        assert_eq!(
            problems,
            vec![
                "line 2: the row has 5 columns where the header has 6",
                "line 3: the row has 7 columns where the header has 6",
            ],
            "short and long rows are both named"
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_its_position() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"A-1,Caf\xe9,standard,1,,100\n");
        let file = read(bytes.as_slice(), |_| {}).expect("the header is good");
        assert_eq!(
            file.problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "line 2, column name: is not UTF-8 text (byte 0xE9 at position 4); save the file as UTF-8"
            ],
            "a Latin-1 file is refused with the place of the first bad byte"
        );
    }

    #[test]
    fn control_characters_are_refused() {
        let problems = problems_of(&format!("{HEADER}A-1,\"Tea\u{0}\",standard,1,,100\n"));
        assert_eq!(
            problems,
            vec![
                "line 2, column name: contains the control character U+0000, which a name cannot hold"
            ],
            "PostgreSQL cannot store NUL in text, so the check must catch it first"
        );
    }

    #[test]
    fn barcodes_given_twice_or_too_many_are_refused() {
        let problems = problems_of(&format!(
            "{HEADER}A-1,Tea,standard,1,036000291452|0036000291452,100\n"
        ));
        assert_eq!(
            problems,
            vec!["line 2, column barcodes: barcode 0036000291452 is given twice"],
            "a UPC-A and its EAN-13 form are the same barcode"
        );
        let many = vec!["4006381333931"; MAX_BARCODES + 1].join("|");
        let problems = problems_of(&format!("{HEADER}A-1,Tea,standard,1,{many},100\n"));
        assert_eq!(
            problems,
            vec!["line 2, column barcodes: 33 barcodes; a product has at most 32"],
            "the barcode count is capped"
        );
    }

    #[test]
    fn effective_dates_are_rfc3339_and_in_range() {
        let header = "sku,name,tax_class,price_minor,effective_from\n";
        let file = read_text(&format!(
            "{header}A-1,Tea,standard,100,2026-12-01T00:00:00+08:00\nA-2,Tea,standard,100,2026-13-01\nA-3,Tea,standard,100,1999-12-31T23:59:59Z\n"
        ))
        .expect("the header is good");
        assert_eq!(
            file.rows[0].effective_from,
            Some(1_796_054_400_000),
            "the time zone of the date is honoured"
        );
        assert_eq!(
            file.problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "line 3, column effective_from: \"2026-13-01\" is not an RFC 3339 time such as 2026-12-01T00:00:00+08:00",
                "line 4, column effective_from: 1999-12-31T23:59:59Z is outside the years 2000 to 2099",
            ],
            "bad dates are refused in words"
        );
    }

    #[test]
    fn a_bad_header_refuses_the_whole_file() {
        for (text, reasons) in [
            (
                "",
                vec![
                    "line 1: the file is empty; its first line must be a header naming the columns, e.g. sku,name,tax_class,price_minor,active,barcodes,effective_from",
                ],
            ),
            (
                "sku,name,tax,price_minor\n",
                vec![
                    "line 1: the header names an unknown column \"tax\"; the columns are sku, name, tax_class, price_minor, active, barcodes, effective_from",
                    "line 1: the header has no tax_class column",
                ],
            ),
            (
                "sku,name,tax_class,price_minor,sku\n",
                vec!["line 1: the header names column sku twice"],
            ),
        ] {
            match read_text(text) {
                Err(Unreadable::Header(problems)) => assert_eq!(
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    reasons,
                    "header {text:?} must be refused in words"
                ),
                other => panic!("header {text:?} must be refused, not {other:?}"),
            }
        }
    }

    #[test]
    fn a_byte_order_mark_and_crlf_lines_are_accepted() {
        let file = read_text("\u{feff}sku,name,tax_class,price_minor\r\nA-1,Tea,standard,100\r\n")
            .expect("a file saved by a spreadsheet is readable");
        assert_eq!(file.rows.len(), 1, "the row is read: {:?}", file.problems);
    }

    #[test]
    fn lines_are_counted_in_the_file_including_quoted_line_breaks() {
        let problems = problems_of(&format!(
            "{HEADER}A-1,\"two\nlines\",standard,1,,100\nA-2,Tea,standard,1,,x\n"
        ));
        assert_eq!(
            problems,
            vec![
                "line 2, column name: contains the control character U+000A, which a name cannot hold",
                "line 4, column price_minor: \"x\" is not a whole number of minor units (write 12.50 as 1250)",
            ],
            "a line break inside a name is refused, and lines are counted in the file, not in rows"
        );
    }

    #[test]
    fn numbers_are_written_with_thousands_separators() {
        assert_eq!(thousands(999_998), "999,998");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
    }
}
