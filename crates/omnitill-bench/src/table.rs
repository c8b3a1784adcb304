//! The report: one table of metric, value, unit, target and verdict.
//!
//! Rows are added with a verdict already decided (`Verdict::Ok`, `Miss`, or `Info` for rows
//! with no target). Durations are shown in µs below a millisecond and in ms above, so each row
//! reads naturally. The table is printed with `|` separators and padded columns, so it reads
//! in a terminal and pastes into Markdown.

use std::fmt::Write as _;
use std::time::Duration;

/// Whether a row met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Miss,
    /// No target: the row informs.
    Info,
}

impl Verdict {
    pub fn from_check(met: bool) -> Verdict {
        if met { Verdict::Ok } else { Verdict::Miss }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Miss => "MISS",
            Verdict::Info => "—",
        }
    }
}

#[derive(Debug, Clone)]
struct Row {
    metric: String,
    value: String,
    unit: String,
    target: String,
    verdict: Verdict,
}

/// The report being built.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
}

/// A duration as (value, unit): µs with one decimal below 1 ms, ms with two below 100 ms.
pub fn duration_parts(duration: Duration) -> (String, &'static str) {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        (format!("{micros:.1}"), "µs")
    } else if micros < 100_000.0 {
        (format!("{:.2}", micros / 1_000.0), "ms")
    } else {
        (format!("{:.0}", micros / 1_000.0), "ms")
    }
}

/// A whole number with thousands separators: 1,000,000.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl Table {
    pub fn row(
        &mut self,
        metric: impl Into<String>,
        value: impl Into<String>,
        unit: &str,
        target: &str,
        verdict: Verdict,
    ) {
        self.rows.push(Row {
            metric: metric.into(),
            value: value.into(),
            unit: unit.to_owned(),
            target: target.to_owned(),
            verdict,
        });
    }

    /// A timing row. With a limit, the row is ok when the duration is below it.
    pub fn duration(
        &mut self,
        metric: impl Into<String>,
        duration: Duration,
        limit: Option<(Duration, &str)>,
    ) {
        let (value, unit) = duration_parts(duration);
        match limit {
            Some((limit, target)) => self.row(
                metric,
                value,
                unit,
                target,
                Verdict::from_check(duration < limit),
            ),
            None => self.row(metric, value, unit, "—", Verdict::Info),
        }
    }

    /// The table as text.
    pub fn render(&self) -> String {
        let header = Row {
            metric: "metric".into(),
            value: "value".into(),
            unit: "unit".into(),
            target: "target".into(),
            verdict: Verdict::Info,
        };
        let cells = |row: &Row, header_row: bool| -> [String; 5] {
            [
                row.metric.clone(),
                row.value.clone(),
                row.unit.clone(),
                row.target.clone(),
                if header_row {
                    "ok?".to_owned()
                } else {
                    row.verdict.as_str().to_owned()
                },
            ]
        };
        let mut all = vec![cells(&header, true)];
        all.extend(self.rows.iter().map(|row| cells(row, false)));
        let mut widths = [0usize; 5];
        for row in &all {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(display_width(cell));
            }
        }
        let mut out = String::new();
        for (index, row) in all.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(column, (cell, width))| {
                    let pad = " ".repeat(width - display_width(cell));
                    // Values are right-aligned so their digits line up.
                    if column == 1 && index > 0 {
                        format!("{pad}{cell}")
                    } else {
                        format!("{cell}{pad}")
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", line.join(" | "));
            if index == 0 {
                let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
                let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
            }
        }
        out
    }
}

/// Terminal columns of a cell: CJK characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|ch| match ch as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_microseconds_below_a_millisecond() {
        assert_eq!(
            duration_parts(Duration::from_nanos(38_250)),
            ("38.2".to_owned(), "µs")
        );
        assert_eq!(
            duration_parts(Duration::from_micros(1_500)),
            ("1.50".to_owned(), "ms")
        );
        assert_eq!(
            duration_parts(Duration::from_millis(812)),
            ("812".to_owned(), "ms")
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
    }

    #[test]
    fn rows_line_up_and_misses_are_marked() {
        let mut table = Table::default();
        table.duration(
            "barcode look-up p99",
            Duration::from_micros(40),
            Some((Duration::from_micros(500), "< 0.5 ms")),
        );
        table.duration(
            "commit p99",
            Duration::from_millis(3),
            Some((Duration::from_millis(2), "< 2 ms")),
        );
        table.row(
            "search p99, 1-char Chinese (茶)",
            "1.2",
            "ms",
            "—",
            Verdict::Info,
        );
        let text = table.render();
        let widths: Vec<usize> = text.lines().map(display_width).collect();
        assert!(
            widths.windows(2).all(|w| w[0] == w[1]),
            "every line has the same width:\n{text}"
        );
        assert!(text.contains("| ok "), "a met target is marked ok:\n{text}");
        assert!(
            text.contains("| MISS |"),
            "a missed target is marked MISS:\n{text}"
        );
    }
}
