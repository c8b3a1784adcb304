//! Money arithmetic in integer minor units, with the rounding rules the till documents.
//!
//! Every amount is an `i64` count of the currency's minor unit (cents for TWD's 2 digits). The
//! only rounding rule is "half away from zero" to one minor unit, used for percentage discounts
//! and tax, and to a configurable increment for cash. Intermediate products are `i128`, so no
//! realistic amount overflows.

/// An amount in minor units of the sale's currency.
pub type Minor = i64;

/// Divides `numerator` by `denominator` and rounds half away from zero.
///
/// `denominator` must be positive; callers pass constants or validated settings.
pub fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// `amount` times `basis_points` / 10,000, rounded half away from zero.
pub fn percent_of(amount: Minor, basis_points: u32) -> Minor {
    div_round_half_away(i128::from(amount) * i128::from(basis_points), 10_000) as Minor
}

/// Tax contained in a tax-inclusive `amount` at `rate_bp`: amount x rate / (10,000 + rate).
pub fn inclusive_tax(amount: Minor, rate_bp: u32) -> Minor {
    div_round_half_away(
        i128::from(amount) * i128::from(rate_bp),
        10_000 + i128::from(rate_bp),
    ) as Minor
}

/// Tax added on top of a tax-exclusive `amount` at `rate_bp`.
pub fn exclusive_tax(amount: Minor, rate_bp: u32) -> Minor {
    percent_of(amount, rate_bp)
}

/// Rounds `amount` to the nearest multiple of `increment` (half away from zero). An increment of
/// 1 or less leaves the amount as it is.
pub fn round_to_increment(amount: Minor, increment: Minor) -> Minor {
    if increment <= 1 {
        return amount;
    }
    (div_round_half_away(i128::from(amount), i128::from(increment)) * i128::from(increment))
        as Minor
}

/// The share of `total` that `part` units out of `whole` represent, rounded down, so that
/// shares taken in steps always add up to exactly `total` once `part` reaches `whole`.
pub fn pro_rata_floor(total: Minor, part: i64, whole: i64) -> Minor {
    if whole <= 0 {
        return 0;
    }
    (i128::from(total) * i128::from(part)).div_euclid(i128::from(whole)) as Minor
}

/// Formats minor units as a plain decimal with thousands separators: 123450 with exponent 2
/// is "1,234.50". Negative amounts get a leading minus sign.
pub fn format_minor(amount: Minor, exponent: u32) -> String {
    let negative = amount < 0;
    let magnitude = amount.unsigned_abs();
    let scale = 10u64.pow(exponent);
    let major = magnitude / scale;
    let minor = magnitude % scale;
    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if negative { "-" } else { "" };
    if exponent == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{minor:0width$}", width = exponent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_rounds_half_away_from_zero() {
        let cases: &[(i128, i128, i128)] = &[
            (5, 10, 1),
            (4, 10, 0),
            (-5, 10, -1),
            (-4, 10, 0),
            (15, 10, 2),
            (25, 10, 3),
            (-25, 10, -3),
            (0, 7, 0),
            (14, 7, 2),
        ];
        for &(n, d, expected) in cases {
            assert_eq!(
                div_round_half_away(n, d),
                expected,
                "{n}/{d} must round half away from zero"
            );
        }
    }

    #[test]
    fn tax_and_percent_follow_the_documented_rule() {
        // (amount, rate, inclusive tax, exclusive tax)
        let cases: &[(Minor, u32, Minor, Minor)] = &[
            (10_500, 500, 500, 525),
            (100, 500, 5, 5),
            (21, 500, 1, 1), // 21*5/105 = 1.0 exactly; 21*0.05 = 1.05 -> 1
            (10, 500, 0, 1), // 10*5/105 = 0.476 -> 0; 10*0.05 = 0.5 -> 1 (half away)
            (-10, 500, 0, -1),
            (0, 500, 0, 0),
            (99_999, 0, 0, 0),
            (12_345, 1_000, 1_122, 1_235), // 12345/11 = 1122.27; 1234.5 -> 1235
        ];
        for &(amount, rate, inc, exc) in cases {
            assert_eq!(
                inclusive_tax(amount, rate),
                inc,
                "inclusive tax of {amount} at {rate}bp"
            );
            assert_eq!(
                exclusive_tax(amount, rate),
                exc,
                "exclusive tax of {amount} at {rate}bp"
            );
        }
    }

    #[test]
    fn cash_rounds_to_the_configured_increment() {
        let cases: &[(Minor, Minor, Minor)] = &[
            (1_234, 10, 1_230),
            (1_235, 10, 1_240),
            (1_239, 10, 1_240),
            (1_250, 100, 1_300),
            (1_249, 100, 1_200),
            (1_249, 1, 1_249),
            (1_249, 0, 1_249),
            (4, 10, 0),
            (5, 10, 10),
            (-5, 10, -10),
        ];
        for &(amount, increment, expected) in cases {
            assert_eq!(
                round_to_increment(amount, increment),
                expected,
                "{amount} rounded to {increment}"
            );
        }
    }

    #[test]
    fn pro_rata_shares_add_up_to_the_total() {
        let total = 1_000;
        let whole = 3;
        let mut given = 0;
        for step in 1..=whole {
            let share = pro_rata_floor(total, step, whole) - pro_rata_floor(total, step - 1, whole);
            given += share;
        }
        assert_eq!(
            given, total,
            "refunding every unit in steps must give back exactly the total"
        );
    }

    #[test]
    fn formatting_groups_thousands_and_pads_minor_digits() {
        let cases: &[(Minor, u32, &str)] = &[
            (0, 2, "0.00"),
            (5, 2, "0.05"),
            (123_450, 2, "1,234.50"),
            (-123_450, 2, "-1,234.50"),
            (100_000_000, 2, "1,000,000.00"),
            (999, 0, "999"),
            (1_000, 0, "1,000"),
        ];
        for &(amount, exponent, expected) in cases {
            assert_eq!(format_minor(amount, exponent), expected);
        }
    }
}
