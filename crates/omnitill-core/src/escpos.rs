//! Receipts as ESC/POS bytes for a 42-column thermal printer with a Traditional Chinese font.
//!
//! `render_escpos` writes one print job: `ESC @` to initialise the printer; `FS &` to enter
//! Chinese (two-byte) character mode; the store name centred, bold and double height; the
//! receipt's text lines, each ending in LF; the receipt number as a centred Code 128 barcode
//! with its human-readable text below; a few lines of feed and a partial cut.
//!
//! Chinese text is sent in Big5, the code system of Traditional Chinese printer models. On
//! those printers (Epson's TW models and the common Taiwanese compatibles) the two-byte code
//! system is chosen by the printer's firmware or memory switches, and `FS &` is the portable
//! way to turn two-byte mode on; no `ESC t` code page is selected, because in two-byte mode
//! bytes below 0x80 print as ASCII and a Big5 lead byte starts a Chinese character. Text is
//! encoded with `encoding_rs::BIG5`; a character Big5 has no code for is printed as '?'.
//!
//! In two-byte mode a Big5 character takes two columns and an ASCII one takes one, so a line's
//! printed width is its number of Big5 bytes. The lines come from the same layout as
//! `receipt_text::render_text`, measured that way: for Chinese and ASCII text they are the same
//! lines, and characters that `unicode-width` counts as one column but Big5 prints in two
//! (such as '×' and '·') still cannot push a line past 42 columns. The barcode's code values
//! come from `code128::symbol_values`; a receipt number that Code 128 cannot hold, or that is
//! too long for the command's length byte, is printed as text only.

use encoding_rs::{BIG5, EncoderResult};

use crate::code128;
use crate::receipt::Receipt;
use crate::receipt_text::render_parts;

/// The printer's line width in columns of its normal font.
pub const COLUMNS: usize = 42;

const ESC: u8 = 0x1B;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;
const LF: u8 = 0x0A;

/// `ESC @`: clears the buffer and resets every mode to its power-on setting.
const INITIALISE: [u8; 2] = [ESC, b'@'];
/// `FS &`: two-byte (Chinese) character mode, so Big5 prints as Chinese.
const CHINESE_MODE: [u8; 2] = [FS, b'&'];
/// `ESC a 1` and `ESC a 0`: centre or left-align what follows.
const ALIGN_CENTRE: [u8; 3] = [ESC, b'a', 1];
const ALIGN_LEFT: [u8; 3] = [ESC, b'a', 0];
/// `ESC E 1` and `ESC E 0`: bold on and off.
const BOLD_ON: [u8; 3] = [ESC, b'E', 1];
const BOLD_OFF: [u8; 3] = [ESC, b'E', 0];
/// `GS ! 0x01` and `GS ! 0x00`: double height (normal width), and back to normal size.
const DOUBLE_HEIGHT: [u8; 3] = [GS, b'!', 0x01];
const NORMAL_SIZE: [u8; 3] = [GS, b'!', 0x00];
/// `GS h 80`: a barcode 80 dots (10 mm) high.
const BARCODE_HEIGHT: [u8; 3] = [GS, b'h', 80];
/// `GS w 2`: barcode modules 2 dots wide.
const BARCODE_MODULE_WIDTH: [u8; 3] = [GS, b'w', 2];
/// `GS H 2`: the human-readable text below the barcode.
const BARCODE_TEXT_BELOW: [u8; 3] = [GS, b'H', 2];
/// `GS k 73`: a Code 128 barcode; a length byte and the data follow.
const BARCODE_CODE128: [u8; 3] = [GS, b'k', 73];
/// `ESC d 4`: feed four lines, so the last printed line clears the cutter.
const FEED: [u8; 3] = [ESC, b'd', 4];
/// `GS V 66 0`: feed to the cutting position and cut partially.
const PARTIAL_CUT: [u8; 4] = [GS, b'V', 66, 0];

/// One complete print job for `receipt`, from initialisation to the cut.
pub fn render_escpos(receipt: &Receipt) -> Vec<u8> {
    let parts = render_parts(receipt, COLUMNS, printed_columns);
    let mut bytes = Vec::with_capacity(2048);
    bytes.extend_from_slice(&INITIALISE);
    bytes.extend_from_slice(&CHINESE_MODE);

    bytes.extend_from_slice(&ALIGN_CENTRE);
    bytes.extend_from_slice(&BOLD_ON);
    bytes.extend_from_slice(&DOUBLE_HEIGHT);
    for line in &parts.title {
        bytes.extend(big5(line));
        bytes.push(LF);
    }
    bytes.extend_from_slice(&NORMAL_SIZE);
    bytes.extend_from_slice(&BOLD_OFF);
    bytes.extend_from_slice(&ALIGN_LEFT);

    for line in &parts.body {
        bytes.extend(big5(line));
        bytes.push(LF);
    }

    if let Some(data) = barcode_data(&receipt.receipt_no) {
        // The data is at most 255 bytes, which `barcode_data` checks.
        let length = u8::try_from(data.len()).unwrap_or(u8::MAX);
        bytes.extend_from_slice(&ALIGN_CENTRE);
        bytes.extend_from_slice(&BARCODE_HEIGHT);
        bytes.extend_from_slice(&BARCODE_MODULE_WIDTH);
        bytes.extend_from_slice(&BARCODE_TEXT_BELOW);
        bytes.extend_from_slice(&BARCODE_CODE128);
        bytes.push(length);
        bytes.extend(data);
        bytes.extend_from_slice(&ALIGN_LEFT);
    }

    bytes.extend_from_slice(&FEED);
    bytes.extend_from_slice(&PARTIAL_CUT);
    bytes
}

/// The data of a `GS k 73` command for `text`: the code values between the start code and the
/// check value, written the way ESC/POS expects. "{B" or "{C" selects the code set, a code set
/// B character is its ASCII byte ('{' doubled), a code set C pair is one byte of value 0 to 99,
/// and the printer adds the check value and stop code itself. `None` when Code 128 cannot hold
/// `text` or the data would not fit the one-byte length.
fn barcode_data(text: &str) -> Option<Vec<u8>> {
    let values = code128::symbol_values(text).ok()?;
    // The values are a start code, the data, a check value and the stop code.
    let (start, rest) = values.split_first()?;
    let data = rest.get(..rest.len().checked_sub(2)?)?;
    let mut in_set_c = *start == code128::START_C;
    let mut bytes = if in_set_c {
        b"{C".to_vec()
    } else {
        b"{B".to_vec()
    };
    for &value in data {
        if in_set_c {
            if value == code128::CODE_B {
                bytes.extend_from_slice(b"{B");
                in_set_c = false;
            } else {
                bytes.push(value);
            }
        } else if value == code128::CODE_C {
            bytes.extend_from_slice(b"{C");
            in_set_c = true;
        } else {
            let character = value + b' ';
            if character == b'{' {
                bytes.extend_from_slice(b"{{");
            } else {
                bytes.push(character);
            }
        }
    }
    (bytes.len() <= usize::from(u8::MAX)).then_some(bytes)
}

/// `text` in Big5, with '?' for each character Big5 has no code for.
fn big5(text: &str) -> Vec<u8> {
    let mut encoder = BIG5.new_encoder();
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text;
    let mut buffer = [0u8; 256];
    loop {
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(rest, &mut buffer, true);
        bytes.extend_from_slice(&buffer[..written]);
        rest = rest.get(read..).unwrap_or_default();
        match result {
            EncoderResult::InputEmpty => return bytes,
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(_) => bytes.push(b'?'),
        }
    }
}

/// The columns `text` takes on the printer in two-byte mode: one per byte sent.
fn printed_columns(text: &str) -> usize {
    big5(text).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{ReceiptKind, ReceiptLine, ReceiptTender, TenderKind};
    use crate::receipt_text::render_text;
    use crate::settings::TaxMode;

    fn receipt(names: &[&str]) -> Receipt {
        let lines: Vec<ReceiptLine> = names
            .iter()
            .map(|name| ReceiptLine {
                name: name.to_string(),
                sku: "TEA-001".to_string(),
                quantity: 1,
                unit_price_minor: 6_500,
                discount_minor: 0,
                total_minor: 6_500,
            })
            .collect();
        let total = 6_500 * lines.len() as i64;
        Receipt {
            kind: ReceiptKind::Sale,
            receipt_no: "S01-000123".to_string(),
            original_receipt_no: None,
            created_at: "2025-03-01T14:05:09+08:00".to_string(),
            store_name: "Omnitill 茶館".to_string(),
            staff_name: "王小明".to_string(),
            approved_by: None,
            currency: "TWD".to_string(),
            currency_exponent: 2,
            tax_mode: TaxMode::Inclusive,
            lines,
            subtotal_minor: total,
            discount_minor: 0,
            tax_minor: 310,
            rounding_minor: 0,
            total_minor: total,
            tenders: vec![ReceiptTender {
                kind: TenderKind::Cash,
                amount_minor: total,
                tendered_minor: 100_000,
                change_minor: 100_000 - total,
                reference: None,
                points: 0,
            }],
            change_minor: 100_000 - total,
            member: None,
        }
    }

    /// What a printer makes of a job: the text lines it prints and the data of each barcode.
    #[derive(Debug, Default)]
    struct Printed {
        lines: Vec<Vec<u8>>,
        barcodes: Vec<Vec<u8>>,
    }

    /// Reads `bytes` as the printer would. Fails on any command this renderer does not send,
    /// or text left without a LF.
    fn printed(bytes: &[u8]) -> Result<Printed, String> {
        let mut lines = Vec::new();
        let mut barcodes = Vec::new();
        let mut line = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            let command = bytes.get(index..).unwrap_or_default();
            let length = match command {
                [ESC, b'@', ..] | [FS, b'&', ..] => 2,
                [ESC, b'a' | b'E' | b'd', _, ..] | [GS, b'!' | b'h' | b'w' | b'H', _, ..] => 3,
                [GS, b'V', 66, _, ..] => 4,
                [GS, b'k', 73, length, ..] => {
                    let end = 4 + usize::from(*length);
                    let data = command.get(4..end).ok_or("barcode data cut short")?;
                    barcodes.push(data.to_vec());
                    end
                }
                [ESC | FS | GS, ..] => return Err(format!("unknown command at byte {index}")),
                [LF, ..] => {
                    lines.push(std::mem::take(&mut line));
                    1
                }
                [byte, ..] => {
                    line.push(*byte);
                    1
                }
                [] => 1,
            };
            index += length;
        }
        if !line.is_empty() {
            return Err(format!("text without a final LF: {line:?}"));
        }
        Ok(Printed { lines, barcodes })
    }

    #[test]
    fn a_job_starts_with_initialise_and_chinese_mode_and_ends_with_the_cut() {
        let bytes = render_escpos(&receipt(&["烏龍茶"]));
        assert!(
            bytes.starts_with(&[ESC, b'@', FS, b'&']),
            "the job must reset the printer and then enter two-byte mode before any text"
        );
        assert!(
            bytes.ends_with(&[GS, b'V', 66, 0]),
            "the job must end with the partial cut so the receipt can be torn off"
        );
        assert!(
            printed(&bytes).is_ok(),
            "every byte must be a known command or text ending in LF: {:?}",
            printed(&bytes).err()
        );
    }

    #[test]
    fn chinese_text_is_sent_in_big5() {
        // (text in a receipt, why)
        let cases: &[(&str, &str)] = &[
            ("烏龍茶", "a product name"),
            ("王小明", "the staff name"),
            ("茶館", "the store name, printed large"),
        ];
        let bytes = render_escpos(&receipt(&["烏龍茶"]));
        for (text, why) in cases {
            let (expected, _, unmappable) = BIG5.encode(text);
            assert!(!unmappable, "{text} has Big5 codes");
            assert!(
                bytes
                    .windows(expected.len())
                    .any(|window| window == expected.as_ref()),
                "{why} must reach the printer as Big5 bytes {expected:02X?}"
            );
        }
        assert!(
            !bytes.windows(3).any(|window| window == "烏".as_bytes()),
            "UTF-8 must never reach a Big5 printer"
        );
    }

    #[test]
    fn characters_big5_lacks_print_as_question_marks() {
        // (text, bytes, why)
        let cases: &[(&str, &[u8], &str)] = &[
            ("tea 😀", b"tea ?", "an emoji has no Big5 code"),
            ("caf\u{e9}", b"caf?", "Big5 has no accented Latin letters"),
            ("", b"", "nothing stays nothing"),
            (
                "\u{1F375}\u{1F375}",
                b"??",
                "each unmappable character is one '?'",
            ),
        ];
        for (text, expected, why) in cases {
            assert_eq!(big5(text), *expected, "{why}");
        }
    }

    #[test]
    fn the_barcode_command_carries_the_receipt_number() {
        let bytes = render_escpos(&receipt(&["烏龍茶"]));
        let barcodes = printed(&bytes).unwrap_or_default().barcodes;
        // "S01-" in code set B, then the six digits "000123" as pairs 00 01 23 in code set C.
        let expected: &[u8] = b"{BS01-{C\x00\x01\x17";
        assert_eq!(
            barcodes,
            vec![expected.to_vec()],
            "one Code 128 barcode of the receipt number, packing the digits in code set C"
        );
        let command = [&[GS, b'k', 73, expected.len() as u8][..], expected].concat();
        assert!(
            bytes.windows(command.len()).any(|window| window == command),
            "GS k 73 must be followed by the data length and the data"
        );
        for setting in [[GS, b'h', 80], [GS, b'w', 2], [GS, b'H', 2]] {
            assert!(
                bytes.windows(3).any(|window| window == setting),
                "the barcode's height, module width and text position must be set: {setting:?}"
            );
        }
    }

    #[test]
    fn barcode_data_follows_the_escpos_code_set_rules() {
        // (receipt number, GS k data, why)
        let cases: &[(&str, Option<&[u8]>, &str)] = &[
            (
                "PJJ123C",
                Some(b"{BPJJ123C"),
                "short digit runs stay in code set B",
            ),
            ("AB{C", Some(b"{BAB{{C"), "a '{' in the data is sent twice"),
            (
                "12345678",
                Some(b"{C\x0c\x22\x38\x4e"),
                "all digits start in code set C, two digits a byte",
            ),
            (
                "12345",
                Some(b"{C\x0c\x22{B5"),
                "an odd digit after the pairs goes back to code set B",
            ),
            ("退貨-001", None, "Code 128 cannot hold Chinese: text only"),
            ("", None, "an empty number has no barcode"),
        ];
        for (text, expected, why) in cases {
            assert_eq!(barcode_data(text).as_deref(), *expected, "{text:?}: {why}");
        }
        let long = "A".repeat(300);
        assert_eq!(
            barcode_data(&long),
            None,
            "data longer than the length byte can say is not sent as a barcode"
        );
    }

    #[test]
    fn no_printed_line_is_wider_than_the_paper() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["阿里山高山烏龍茶特級手採茶葉禮盒裝三百公克附提袋加購"],
                "a long Chinese name wraps",
            ),
            (
                &["抹茶拿鐵 × 2 · 大杯 · 少冰 · 半糖 · 加珍珠 · 外帶 ×"],
                "'×' and '·' are one column on screen but two on a Big5 printer",
            ),
            (
                &["Fresh milk tea with brown sugar pearls and extra cream"],
                "a long English name wraps at spaces",
            ),
        ];
        for (names, why) in cases {
            let bytes = render_escpos(&receipt(names));
            let lines = printed(&bytes).unwrap_or_default().lines;
            assert!(
                lines.len() > 10,
                "{why}: the receipt must have been printed"
            );
            for line in lines {
                assert!(
                    line.len() <= COLUMNS,
                    "{why}: a line of {} columns overflows the 42-column paper: {:?}",
                    line.len(),
                    BIG5.decode(&line).0
                );
            }
        }
    }

    #[test]
    fn printed_lines_are_the_text_renderers_lines() {
        let receipt = receipt(&["烏龍茶", "Paper bag"]);
        let lines = printed(&render_escpos(&receipt)).unwrap_or_default().lines;
        let printed: Vec<String> = lines
            .iter()
            .map(|line| BIG5.decode(line).0.into_owned())
            .collect();
        let text = render_text(&receipt, COLUMNS);
        assert_eq!(
            printed.first().map(String::as_str),
            Some("Omnitill 茶館"),
            "the store name is printed once, large, and the printer centres it"
        );
        assert_eq!(
            printed.get(1..),
            text.get(1..),
            "for Chinese and ASCII text the printer prints exactly the screen's lines"
        );
    }
}
