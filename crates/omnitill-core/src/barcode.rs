//! Retail barcodes: EAN-13, EAN-8 and UPC-A, with check digits verified.
//!
//! A scanned code is normalised before look-up: UPC-A (12 digits) is the same GTIN as the
//! EAN-13 with a leading zero, so both spellings find the same product. EAN-8 stays 8 digits.

use crate::error::CoreError;

/// A barcode whose shape and check digit are valid, in its normalised spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gtin(String);

impl Gtin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The GS1 check digit for `payload` (all digits but the last).
pub fn check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(index, digit)| {
            let weight = if index % 2 == 0 { 3 } else { 1 };
            u32::from(*digit) * weight
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Parses a scanned or typed barcode. Surrounding white space is ignored.
pub fn parse(input: &str) -> Result<Gtin, CoreError> {
    let code = input.trim();
    if !code.bytes().all(|b| b.is_ascii_digit()) || !matches!(code.len(), 8 | 12 | 13) {
        return Err(CoreError::BadBarcode(code.chars().take(40).collect()));
    }
    let digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
    let (payload, last) = digits.split_at(digits.len() - 1);
    if check_digit(payload) != last[0] {
        return Err(CoreError::BadCheckDigit(code.to_owned()));
    }
    if code.len() == 12 {
        Ok(Gtin(format!("0{code}")))
    } else {
        Ok(Gtin(code.to_owned()))
    }
}

/// Builds a valid EAN-13 from its first 12 digits (used by demo and test catalogs).
pub fn ean13_from_payload(payload: u64) -> String {
    let body = format!("{:012}", payload % 1_000_000_000_000);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", check_digit(&digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes_parse_and_normalise() {
        let cases = [
            ("4006381333931", "4006381333931"), // EAN-13
            ("96385074", "96385074"),           // EAN-8
            ("036000291452", "0036000291452"),  // UPC-A becomes its EAN-13 spelling
            (" 4006381333931\n", "4006381333931"),
        ];
        for (input, normalised) in cases {
            let parsed = parse(input).unwrap_or_else(|e| panic!("{input:?} is valid: {e}"));
            assert_eq!(parsed.as_str(), normalised, "{input:?} normalises");
        }
    }

    #[test]
    fn wrong_check_digits_are_refused() {
        for input in ["4006381333932", "96385075", "036000291453"] {
            assert!(
                matches!(parse(input), Err(CoreError::BadCheckDigit(_))),
                "{input} has a wrong check digit and must be refused as such"
            );
        }
    }

    #[test]
    fn non_barcodes_are_refused() {
        for input in [
            "",
            "abc",
            "12345",
            "40063813339311",
            "4006381333g31",
            "-96385074",
        ] {
            assert!(
                matches!(parse(input), Err(CoreError::BadBarcode(_))),
                "{input:?} is not a barcode shape"
            );
        }
    }

    #[test]
    fn generated_ean13_codes_are_valid() {
        for payload in [0, 1, 471_000_000_001, 999_999_999_999] {
            let code = ean13_from_payload(payload);
            assert_eq!(code.len(), 13);
            assert!(
                parse(&code).is_ok(),
                "{code} generated from {payload} must validate"
            );
        }
    }
}
