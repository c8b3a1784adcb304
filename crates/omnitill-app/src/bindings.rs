//! The TypeScript the UI imports, generated from the Rust types with ts-rs: every IPC request
//! and reply, and the error contract (`ErrorCode`, `ApiError`), one file per type in
//! `ui/src/lib/generated/`.
//!
//! The files are committed, so the UI builds without Rust. The test below fails when the
//! folder differs from what the Rust types generate (a field or code added, renamed or removed
//! and not in the UI, or a file no type generates any more);
//! `OMNITILL_WRITE_BINDINGS=1 cargo test -p omnitill-app bindings` writes it again. Integers
//! are `number`: no amount, count or id the till handles comes near 2^53.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use omnitill_core::catalog::ProductHit;
use omnitill_core::floor::member_view::FloorView;
use omnitill_core::ledger::{ReceiptSummary, RefundQuote, RefundableSale};
use omnitill_core::members::{Conflict, Enrolment};
use omnitill_core::review::Refusal;
use omnitill_core::{Discount, Language, Settings};
use omnitill_protocol::loyalty::History;
use ts_rs::{Config, ExportError, TS};

use crate::checkout::ScanOutcome;
use crate::error::{ApiError, ErrorCode};
use crate::pickups::{FoundPickup, PickupCard, PickupQueue};
use crate::receipts::RefundRequest;
use crate::status::AppStatus;
use crate::views::{CartView, ReceiptView};

/// Where the generated files live.
pub fn generated_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/generated")
}

/// Writes every IPC type, with the types it refers to, into `dir`, and the error codes as a
/// value (`errorCodes.ts`).
pub fn export_all(dir: &Path) -> Result<(), ExportError> {
    let config = Config::new().with_large_int("number").with_out_dir(dir);
    ErrorCode::export_all(&config)?;
    ApiError::export_all(&config)?;
    AppStatus::export_all(&config)?;
    CartView::export_all(&config)?;
    ScanOutcome::export_all(&config)?;
    ReceiptView::export_all(&config)?;
    ReceiptSummary::export_all(&config)?;
    ProductHit::export_all(&config)?;
    RefundableSale::export_all(&config)?;
    RefundQuote::export_all(&config)?;
    RefundRequest::export_all(&config)?;
    Refusal::export_all(&config)?;
    Conflict::export_all(&config)?;
    History::export_all(&config)?;
    Enrolment::export_all(&config)?;
    Settings::export_all(&config)?;
    Language::export_all(&config)?;
    Discount::export_all(&config)?;
    FoundPickup::export_all(&config)?;
    PickupCard::export_all(&config)?;
    PickupQueue::export_all(&config)?;
    FloorView::export_all(&config)?;
    let codes = std::fs::read_to_string(dir.join("ErrorCode.ts"))?;
    std::fs::write(dir.join("errorCodes.ts"), error_code_values(&codes))?;
    Ok(())
}

/// The `ErrorCode` union's members as a value the UI can check a rejection against, from the
/// generated type's text (`"bad_input" | "unknown_barcode" | ...`).
fn error_code_values(error_code_ts: &str) -> String {
    let declaration = error_code_ts
        .lines()
        .find(|line| line.starts_with("export type ErrorCode"))
        .unwrap_or_default();
    let codes: Vec<&str> = declaration.split('"').skip(1).step_by(2).collect();
    let mut text = String::from(
        "// Generated with the ErrorCode type by crates/omnitill-app/src/bindings.rs. Do not edit.\n\
         import type { ErrorCode } from \"./ErrorCode\";\n\n\
         // Every ErrorCode, as a value: what a rejection's code is checked against.\n\
         export const ERROR_CODES = [\n",
    );
    for code in codes {
        text.push_str(&format!("  \"{code}\",\n"));
    }
    text.push_str("] as const satisfies readonly ErrorCode[];\n");
    text
}

/// Each `.ts` file in `dir` by name, with its text.
pub fn read_generated(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(name, std::fs::read_to_string(&path)?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_typescript_matches_the_rust_types() {
        let fresh = tempfile::tempdir().expect("a scratch folder");
        export_all(fresh.path()).expect("the IPC types generate TypeScript");
        let generated = read_generated(fresh.path()).expect("the generated files read back");
        let dir = generated_dir();
        if std::env::var("OMNITILL_WRITE_BINDINGS").is_ok_and(|v| v == "1") {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("the generated folder can be made");
            for (name, text) in &generated {
                std::fs::write(dir.join(name), text).expect("a generated file can be written");
            }
        }
        let committed = read_generated(&dir).expect("the committed files read");
        let stale: std::collections::BTreeSet<&String> = generated
            .keys()
            .chain(committed.keys())
            .filter(|name| generated.get(*name) != committed.get(*name))
            .collect();
        assert!(
            stale.is_empty(),
            "the UI's generated types are stale: {stale:?}; the UI would compile against an IPC \
             contract the till no longer has. Run OMNITILL_WRITE_BINDINGS=1 cargo test -p \
             omnitill-app bindings and commit the result"
        );
    }
}
