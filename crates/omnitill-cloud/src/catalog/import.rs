//! The catalog import use case: read and check every row of a CSV file, then write the good
//! rows in one transaction, or nothing.
//!
//! 1. `import_file::read` checks each row on its own (shape, encoding, lengths, numbers, dates,
//!    barcode check digits); a file whose header is unusable is refused as a whole.
//! 2. In the import's transaction (`import_store::ImportTx`: `import_store::begin` on SQLite,
//!    `import_postgres::begin` on PostgreSQL, both keeping other catalog writers out), `import_check::check_rows` checks the rows against each other and the catalog
//!    (tax classes, SKUs and barcodes repeated in the file or owned by another product).
//! 3. With any bad row and no `skip_bad_rows`, the transaction is rolled back: nothing is
//!    written. Otherwise `import_check::plan` leaves out what the catalog already has and
//!    `ImportTx::write` writes the rest and its feed records, and the transaction commits.
//!
//! A process killed at any moment therefore leaves the catalog and the change feed as they
//! were, and the feed shows an import whole, under cursors taken in its transaction.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::import_check::{self, Plan};
use super::import_file::{self, Problem, Unreadable};
use super::import_postgres;
use super::import_store::{self, ImportTx};
use crate::db::{Backend, Db};
use crate::error::{CloudError, CloudResult};

/// How an import runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the good rows of a file that has bad ones (the bad ones are still reported).
    pub skip_bad_rows: bool,
    /// The moment of the import (Unix ms): prices without `effective_from` apply from it.
    pub now: i64,
}

/// The import's two long steps, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and checking the file; the total is its size in bytes.
    Reading,
    /// Writing to the database; the total is rows of all tables together.
    Writing,
}

/// Where the import reports its progress.
pub trait Progress {
    /// A phase begins, with `total` units of work.
    fn begin(&mut self, phase: Phase, total: u64);
    /// `done` of the phase's units are done.
    fn advance(&mut self, done: u64);
    /// The phase is over.
    fn end(&mut self);
}

/// What the import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every row was good and the catalog now has them all.
    Imported,
    /// Bad rows were skipped as asked; the good ones were imported.
    ImportedSkippingBadRows,
    /// The file had bad rows (or an unusable header); nothing was written.
    Refused,
}

/// The import's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub outcome: Outcome,
    /// Product rows in the file.
    pub rows: u64,
    /// How many of them are bad.
    pub bad_rows: u64,
    /// Every problem found, by line.
    pub problems: Vec<Problem>,
    /// Products created, changed, and already as the file has them.
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Imports the catalog file at `path`.
pub async fn import_file(
    db: &Db,
    path: &Path,
    options: ImportOptions,
    progress: &mut dyn Progress,
) -> CloudResult<ImportReport> {
    let file = File::open(path)
        .map_err(|e| CloudError::BadRequest(format!("cannot open {}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.begin(Phase::Reading, size);
    let read = import_file::read(BufReader::with_capacity(1 << 20, file), |bytes| {
        progress.advance(bytes)
    });
    progress.end();
    let file_rows = match read {
        Ok(rows) => rows,
        Err(Unreadable::Header(problems)) => {
            return Ok(ImportReport {
                outcome: Outcome::Refused,
                rows: 0,
                bad_rows: 0,
                problems,
                new: 0,
                updated: 0,
                unchanged: 0,
            });
        }
        Err(Unreadable::Io(error)) => {
            return Err(CloudError::BadRequest(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    };
    match db.backend {
        Backend::Sqlite => {
            let tx = import_store::begin(db).await?;
            let result = check_and_write(tx, file_rows, options, progress).await;
            import_store::end(db).await?;
            result
        }
        Backend::Postgres => {
            let tx = import_postgres::begin(db).await?;
            check_and_write(tx, file_rows, options, progress).await
        }
    }
}

async fn check_and_write(
    mut tx: impl ImportTx,
    file_rows: import_file::FileRows,
    options: ImportOptions,
    progress: &mut dyn Progress,
) -> CloudResult<ImportReport> {
    let snapshot = tx.snapshot().await?;
    let rows = file_rows.rows;
    let found = import_check::check_rows(&rows, &snapshot, options.skip_bad_rows);
    let mut bad = vec![false; rows.len()];
    for (index, _) in &found {
        bad[*index] = true;
    }
    let mut problems = file_rows.problems;
    problems.extend(found.into_iter().map(|(_, problem)| problem));
    // Stable: a row's problems stay in column order.
    problems.sort_by_key(|p| p.line);
    let bad_rows = problems
        .iter()
        .map(|p| p.line)
        .collect::<BTreeSet<_>>()
        .len() as u64;
    let mut report = ImportReport {
        outcome: Outcome::Imported,
        rows: file_rows.total,
        bad_rows,
        problems,
        new: 0,
        updated: 0,
        unchanged: 0,
    };
    if bad_rows > 0 && !options.skip_bad_rows {
        tx.rollback().await?;
        report.outcome = Outcome::Refused;
        return Ok(report);
    }
    let good = rows
        .iter()
        .zip(&bad)
        .filter(|(_, bad)| !**bad)
        .map(|(row, _)| row);
    let plan: Plan<'_> = import_check::plan(good, &snapshot, options.now);
    // Freeing millions of small strings takes seconds; it need not hold up the write.
    std::thread::spawn(move || drop(snapshot));
    progress.begin(Phase::Writing, import_store::work(&plan));
    tx.write(&plan, options.now, &mut |done| progress.advance(done))
        .await?;
    tx.commit().await?;
    progress.end();
    report.new = plan.new;
    report.updated = plan.updated;
    report.unchanged = plan.unchanged;
    drop(plan);
    std::thread::spawn(move || drop(rows));
    if bad_rows > 0 {
        report.outcome = Outcome::ImportedSkippingBadRows;
    }
    Ok(report)
}
