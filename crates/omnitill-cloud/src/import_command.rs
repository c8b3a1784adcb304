//! `omnitill-cloud catalog import FILE.csv [--skip-bad-rows]`, the command's side of the
//! catalog import (part of the binary, not the library): progress on stderr (a bar on a
//! terminal, a line per 10 % otherwise), the report of bad rows on stdout (the first
//! `PROBLEMS_SHOWN`, then how many more), and the exit code.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use omnitill_cloud::Db;
use omnitill_cloud::catalog::import::{self, ImportOptions, ImportReport, Outcome, Phase};
use omnitill_cloud::catalog::import_file::thousands;

/// Exit code: every row was good and is imported.
pub const EXIT_IMPORTED: i32 = 0;
/// Exit code: the file has bad rows and nothing was written.
pub const EXIT_REFUSED: i32 = 2;
/// Exit code: with `--skip-bad-rows`, the good rows were imported and the bad ones skipped.
pub const EXIT_SKIPPED_BAD_ROWS: i32 = 3;
/// How many problems the report prints before it only counts the rest.
const PROBLEMS_SHOWN: usize = 100;

/// Runs the import and prints its report; returns the exit code.
pub async fn run(db: &Db, file: &str, skip_bad_rows: bool) -> Result<i32> {
    let options = ImportOptions {
        skip_bad_rows,
        now: chrono::Utc::now().timestamp_millis(),
    };
    let mut progress = Display::new(file);
    let report = import::import_file(db, Path::new(file), options, &mut progress).await?;
    print_report(file, &report);
    Ok(match report.outcome {
        Outcome::Imported => EXIT_IMPORTED,
        Outcome::Refused => EXIT_REFUSED,
        Outcome::ImportedSkippingBadRows => EXIT_SKIPPED_BAD_ROWS,
    })
}

fn print_report(file: &str, report: &ImportReport) {
    for problem in report.problems.iter().take(PROBLEMS_SHOWN) {
        println!("{problem}");
    }
    if report.problems.len() > PROBLEMS_SHOWN {
        println!(
            "... and {} more problems not shown",
            thousands((report.problems.len() - PROBLEMS_SHOWN) as u64)
        );
    }
    let bad = thousands(report.bad_rows);
    match report.outcome {
        Outcome::Refused if report.rows == 0 && report.bad_rows == 0 => {
            println!("{file} was refused; nothing was imported");
        }
        Outcome::Refused => println!(
            "{bad} of {} rows are bad; nothing was imported (fix them, or import the good rows \
             with --skip-bad-rows)",
            thousands(report.rows)
        ),
        Outcome::Imported | Outcome::ImportedSkippingBadRows => {
            let skipped = if report.bad_rows > 0 {
                format!("; {bad} bad rows skipped")
            } else {
                String::new()
            };
            println!(
                "imported {} products from {file}: {} new, {} changed, {} unchanged{skipped}",
                thousands((report.new + report.updated + report.unchanged) as u64),
                thousands(report.new as u64),
                thousands(report.updated as u64),
                thousands(report.unchanged as u64),
            );
        }
    }
}

/// Progress on stderr: a bar on a terminal, otherwise a line at every 10 %.
struct Display {
    file: String,
    terminal: bool,
    bar: Option<indicatif::ProgressBar>,
    phase: Phase,
    total: u64,
    tenths_shown: u64,
}

impl Display {
    fn new(file: &str) -> Display {
        Display {
            file: file.to_owned(),
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            phase: Phase::Reading,
            total: 0,
            tenths_shown: 0,
        }
    }

    fn label(&self) -> String {
        match self.phase {
            Phase::Reading => format!("checking {}", self.file),
            Phase::Writing => "writing the catalog".to_owned(),
        }
    }
}

impl import::Progress for Display {
    fn begin(&mut self, phase: Phase, total: u64) {
        self.phase = phase;
        self.total = total;
        self.tenths_shown = 0;
        if self.terminal {
            let template = match phase {
                Phase::Reading => "{msg} {bar:40} {bytes}/{total_bytes} ({eta} left)",
                Phase::Writing => "{msg} {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)",
            };
            let bar = indicatif::ProgressBar::new(total).with_message(self.label());
            bar.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        } else {
            eprintln!("{}: 0 %", self.label());
        }
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let tenths = (done.min(self.total) * 10)
            .checked_div(self.total)
            .unwrap_or(10);
        if tenths > self.tenths_shown {
            self.tenths_shown = tenths;
            eprintln!("{}: {} %", self.label(), tenths * 10);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        } else if self.tenths_shown < 10 {
            eprintln!("{}: 100 %", self.label());
        }
    }
}
