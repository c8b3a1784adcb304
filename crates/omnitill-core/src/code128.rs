//! Code 128 barcodes for receipt numbers, as code values and as a row of modules.
//!
//! `symbol_values` turns printable ASCII into the symbol's code values: a start code, the data,
//! the modulo-103 check value and the stop code. Text is written in code set B, except that a
//! run of four or more digits (or text that is exactly two digits) is packed two digits to a
//! symbol in code set C, following the minimal-length rules of ISO/IEC 15417 Annex E. `encode`
//! draws those values as a string of modules, `'1'` for a black module and `'0'` for a white
//! one, without the quiet zones, which the renderer adds. The ESC/POS renderer reuses the code
//! values so that the printer and the screen show the same symbol. The bar and space widths of
//! every value are in `PATTERNS`, in the order of the standard's table.

use thiserror::Error;

/// Why a text cannot be drawn as a Code 128 barcode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Code128Error {
    /// The text has no characters; a barcode needs at least one.
    #[error("a barcode needs at least one character")]
    Empty,
    /// A character outside printable ASCII (space to `~`). `position` counts characters from 1.
    #[error(
        "character {character:?} at position {position} cannot be put in a barcode: only printable ASCII (space to '~') can"
    )]
    Unsupported { character: char, position: usize },
}

/// Switches from code set B to code set C (value 99 in code set B).
pub(crate) const CODE_C: u8 = 99;
/// Switches from code set C to code set B (value 100 in code set C).
pub(crate) const CODE_B: u8 = 100;
/// Starts a symbol in code set B.
pub(crate) const START_B: u8 = 104;
/// Starts a symbol in code set C.
pub(crate) const START_C: u8 = 105;
/// Ends every symbol.
const STOP: u8 = 106;

/// Widths of the alternating bars and spaces of each code value, bar first, in modules.
/// Values 0 to 105 have three bars and three spaces, 11 modules in all. The stop code (106)
/// has a fourth bar and takes 13 modules.
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

/// The code set a symbol is writing in at a given point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeSet {
    B,
    C,
}

/// The code values of `text` as a Code 128 symbol: start code, data (with any code set
/// switches), check value and stop code. Every value is below 107.
pub fn symbol_values(text: &str) -> Result<Vec<u8>, Code128Error> {
    let bytes = printable_ascii(text)?;
    let digit_run = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };

    let leading_digits = digit_run(0);
    let starts_in_c = leading_digits >= 4 || (leading_digits == 2 && leading_digits == bytes.len());
    let mut values = Vec::with_capacity(bytes.len() + 4);
    let mut set = if starts_in_c {
        values.push(START_C);
        CodeSet::C
    } else {
        values.push(START_B);
        CodeSet::B
    };

    let mut index = 0;
    while index < bytes.len() {
        match set {
            CodeSet::C => {
                if digit_run(index) >= 2 {
                    let tens = bytes[index] - b'0';
                    let units = bytes[index + 1] - b'0';
                    values.push(tens * 10 + units);
                    index += 2;
                } else {
                    // An odd digit left over, or the end of the digits: back to code set B.
                    values.push(CODE_B);
                    set = CodeSet::B;
                }
            }
            CodeSet::B => {
                let run = digit_run(index);
                if run >= 4 {
                    // An odd run keeps its first digit in code set B so the rest pairs up.
                    if run % 2 == 1 {
                        values.push(bytes[index] - b' ');
                        index += 1;
                    }
                    values.push(CODE_C);
                    set = CodeSet::C;
                } else {
                    values.push(bytes[index] - b' ');
                    index += 1;
                }
            }
        }
    }

    values.push(check_value(&values));
    values.push(STOP);
    Ok(values)
}

/// The modules of `text` as a Code 128 symbol, `'1'` for black and `'0'` for white, from the
/// start code to the end of the stop code, without quiet zones. A symbol of `n` code values
/// before the stop code is `11 * n + 13` modules wide.
pub fn encode(text: &str) -> Result<String, Code128Error> {
    let values = symbol_values(text)?;
    let mut modules = String::with_capacity(values.len() * 11 + 2);
    for value in values {
        let widths = PATTERNS[usize::from(value)];
        for (element, width) in widths.bytes().enumerate() {
            let colour = if element % 2 == 0 { '1' } else { '0' };
            for _ in 0..(width - b'0') {
                modules.push(colour);
            }
        }
    }
    Ok(modules)
}

/// The check value of a symbol whose start code and data values are `values`: the start code
/// plus each data value times its position, modulo 103.
fn check_value(values: &[u8]) -> u8 {
    let sum: usize = values
        .iter()
        .enumerate()
        .map(|(position, &value)| position.max(1) * usize::from(value))
        .sum();
    // The remainder is below 103, so it fits in a byte.
    (sum % 103) as u8
}

/// The bytes of `text` if it is non-empty printable ASCII, or the first reason it is not.
fn printable_ascii(text: &str) -> Result<&[u8], Code128Error> {
    if text.is_empty() {
        return Err(Code128Error::Empty);
    }
    match text
        .chars()
        .enumerate()
        .find(|(_, character)| !(' '..='~').contains(character))
    {
        Some((index, character)) => Err(Code128Error::Unsupported {
            character,
            position: index + 1,
        }),
        None => Ok(text.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Start B as drawn in every published Code 128 table: bars and spaces 2 1 1 2 1 4.
    const START_B_MODULES: &str = "11010010000";
    /// Start C: bars and spaces 2 1 1 2 3 2.
    const START_C_MODULES: &str = "11010011100";
    /// Stop: bars and spaces 2 3 3 1 1 1 2, which ends in a bar.
    const STOP_MODULES: &str = "1100011101011";

    #[test]
    fn pjj123c_matches_the_published_example() {
        // Values in code set B are the ASCII code minus 32: P=48, J=42, 1=17, 2=18, 3=19, C=35.
        // The check is (104 + 48*1 + 42*2 + 42*3 + 17*4 + 18*5 + 19*6 + 35*7) mod 103
        // = 879 mod 103 = 55.
        let expected_values = vec![104, 48, 42, 42, 17, 18, 19, 35, 55, 106];
        assert_eq!(
            symbol_values("PJJ123C"),
            Ok(expected_values),
            "a run of three digits stays in code set B and the check value is 55"
        );

        // The modules of each value, written out from the standard's width table.
        let expected_modules = [
            START_B_MODULES, // 104 Start B
            "11101110110",   // 48 'P'
            "10110111000",   // 42 'J'
            "10110111000",   // 42 'J'
            "10011100110",   // 17 '1'
            "11001110010",   // 18 '2'
            "11001011100",   // 19 '3'
            "10001000110",   // 35 'C'
            "11101000110",   // 55 check
            STOP_MODULES,    // 106 Stop
        ]
        .concat();
        assert_eq!(
            encode("PJJ123C").as_deref(),
            Ok(expected_modules.as_str()),
            "the modules must be exactly the standard's patterns for each value"
        );
    }

    #[test]
    fn check_values_are_computed_by_hand() {
        // (text, values including start, check and stop, how the check value comes about)
        let cases: &[(&str, &[u8], &str)] = &[
            ("A", &[104, 33, 34, 106], "(104 + 33*1) mod 103 = 34"),
            (
                "123",
                &[104, 17, 18, 19, 8, 106],
                "three digits stay in code set B; (104 + 17 + 36 + 57) mod 103 = 8",
            ),
            (
                "12",
                &[105, 12, 14, 106],
                "exactly two digits start in code set C; (105 + 12) mod 103 = 14",
            ),
            (
                "12345678",
                &[105, 12, 34, 56, 78, 47, 106],
                "four or more digits start in code set C; (105 + 12 + 68 + 168 + 312) mod 103 = 47",
            ),
            (
                "12345",
                &[105, 12, 34, 100, 21, 54, 106],
                "the odd digit after the pairs goes back to code set B; \
                 (105 + 12 + 68 + 300 + 84) mod 103 = 54",
            ),
            (
                "A12345B",
                &[104, 33, 17, 99, 23, 45, 100, 34, 78, 106],
                "an odd run keeps its first digit in code set B; \
                 (104 + 33 + 34 + 297 + 92 + 225 + 600 + 238) mod 103 = 78",
            ),
        ];
        for (text, expected, why) in cases {
            assert_eq!(
                symbol_values(text).as_deref(),
                Ok(*expected),
                "{text:?}: {why}"
            );
        }
    }

    #[test]
    fn start_and_stop_patterns_frame_every_symbol() {
        let cases = ["A", "S01-000123", "12345678", "hello world", "~ {}"];
        for text in cases {
            let modules = encode(text).unwrap_or_default();
            let start = if text.bytes().take_while(u8::is_ascii_digit).count() >= 4 {
                START_C_MODULES
            } else {
                START_B_MODULES
            };
            assert!(
                modules.starts_with(start),
                "{text:?} must open with its start code's pattern"
            );
            assert!(
                modules.ends_with(STOP_MODULES),
                "{text:?} must close with the stop pattern so scanners read it in both directions"
            );
        }
    }

    #[test]
    fn module_count_is_eleven_per_value_plus_thirteen_for_stop() {
        let cases = [
            "A",
            "PJJ123C",
            "S01-20250301-0007",
            "1234",
            "12345",
            "A12345B",
            "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        ];
        for text in cases {
            let values = symbol_values(text).unwrap_or_default();
            let modules = encode(text).unwrap_or_default();
            let before_stop = values.len() - 1;
            assert_eq!(
                modules.len(),
                11 * before_stop + 13,
                "{text:?}: every value is 11 modules and the stop code 13"
            );
            assert!(
                modules
                    .bytes()
                    .all(|module| module == b'0' || module == b'1'),
                "{text:?}: modules are only '0' and '1'"
            );
        }
    }

    #[test]
    fn refuses_empty_and_non_ascii_text() {
        let cases: &[(&str, Code128Error)] = &[
            ("", Code128Error::Empty),
            (
                "烏龍茶",
                Code128Error::Unsupported {
                    character: '烏',
                    position: 1,
                },
            ),
            (
                "AB\u{e9}",
                Code128Error::Unsupported {
                    character: '\u{e9}',
                    position: 3,
                },
            ),
            (
                "A\tB",
                Code128Error::Unsupported {
                    character: '\t',
                    position: 2,
                },
            ),
            (
                "A\u{7f}",
                Code128Error::Unsupported {
                    character: '\u{7f}',
                    position: 2,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                symbol_values(text).as_ref(),
                Err(expected),
                "{text:?} must be refused, not drawn as a barcode a scanner misreads"
            );
            assert_eq!(
                encode(text).as_ref().map(|_| ()),
                Err(expected),
                "encode must refuse {text:?} the same way"
            );
        }
    }
}
