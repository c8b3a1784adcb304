//! Where the cloud takes "now" from, as core does: hold expiry, points expiry, birthday months
//! and the hourly jobs' periods all read the `Db`'s clock, never the system clock directly.
//!
//! `SystemClock` (core's) is what a serving cloud uses. `ManualClock` (core's) moves only when a
//! test advances it, for in-process tests. `ShiftedClock` runs at the real rate from a chosen
//! start: a cloud process started with `--test-clock` and `OMNITILL_CLOUD_NOW_MS` uses it, so
//! tests can put several processes at the same controlled moment (a birthday month, two years
//! after points were earned). Nothing reads that variable without the flag.

use std::sync::Arc;

use chrono::{DateTime, Utc};
pub use omnitill_core::{Clock, ManualClock, SystemClock};

/// The clock a `Db` carries, shared by every request and job of the process.
pub type SharedClock = Arc<dyn Clock>;

/// The variable `--test-clock` reads: the Unix milliseconds the process's clock starts at.
pub const TEST_CLOCK_VAR: &str = "OMNITILL_CLOUD_NOW_MS";

/// A clock that runs at the real rate, shifted so that it read `start` when it was made.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    shift_ms: i64,
}

impl ShiftedClock {
    pub fn starting_at(start: DateTime<Utc>) -> ShiftedClock {
        ShiftedClock {
            shift_ms: start
                .timestamp_millis()
                .saturating_sub(Utc::now().timestamp_millis()),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let ms = Utc::now().timestamp_millis().saturating_add(self.shift_ms);
        DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
    }
}

/// The real clock.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// The clock `--test-clock` asks for: shifted to start at `OMNITILL_CLOUD_NOW_MS`. The value
/// must be a Unix time in milliseconds between 2000 and 2200.
pub fn test_clock_from_env() -> Result<SharedClock, String> {
    let text = std::env::var(TEST_CLOCK_VAR)
        .map_err(|_| format!("--test-clock needs {TEST_CLOCK_VAR} (Unix milliseconds)"))?;
    let start = parse_start(&text)?;
    Ok(Arc::new(ShiftedClock::starting_at(start)))
}

/// Milliseconds the cloud itself reads `now` in.
pub fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now().timestamp_millis()
}

fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    const YEAR_2000_MS: i64 = 946_684_800_000;
    const YEAR_2200_MS: i64 = 7_258_118_400_000;
    let ms: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{TEST_CLOCK_VAR}={text:?} is not a whole number of milliseconds"))?;
    if !(YEAR_2000_MS..YEAR_2200_MS).contains(&ms) {
        return Err(format!(
            "{TEST_CLOCK_VAR}={ms} is outside the years 2000 to 2200"
        ));
    }
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("{TEST_CLOCK_VAR}={ms} is no time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_starts_where_it_was_told_and_moves_on() {
        let start = DateTime::from_timestamp_millis(1_900_000_000_000).expect("a time");
        let clock = ShiftedClock::starting_at(start);
        let read = clock.now();
        assert!(
            read >= start && read < start + chrono::Duration::seconds(5),
            "a shifted clock reads its start time plus what really passed, not {read}"
        );
    }

    #[test]
    fn the_test_clock_start_must_be_a_plausible_time() {
        assert!(parse_start("1900000000000").is_ok(), "2030 is accepted");
        assert!(parse_start("12").is_err(), "1970 is refused as a typo");
        assert!(parse_start("soon").is_err(), "words are refused");
    }
}
