//! The TypeScript the UI imports, generated from the shell's Rust types with ts-rs: the IPC
//! error contract (`ErrorCode`, `ApiError`), in `ui/src/lib/generated/`.
//!
//! The files are committed, so the UI builds without Rust. The test below fails when one of
//! them differs from what the Rust types generate (a code added, renamed or removed here and
//! not in the UI); `OMNITILL_WRITE_BINDINGS=1 cargo test -p omnitill bindings` writes them
//! again.

use std::path::PathBuf;

use ts_rs::{Config, TS};

use crate::error::{ApiError, ErrorCode};

/// Where the generated files live.
pub fn generated_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/generated")
}

/// Each generated file's name and text.
pub fn generated() -> Result<Vec<(&'static str, String)>, ts_rs::ExportError> {
    let config = Config::new();
    Ok(vec![
        ("ErrorCode.ts", ErrorCode::export_to_string(&config)?),
        ("ApiError.ts", ApiError::export_to_string(&config)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_typescript_matches_the_rust_types() {
        let files = generated().expect("the types generate TypeScript");
        let write = std::env::var("OMNITILL_WRITE_BINDINGS").is_ok_and(|v| v == "1");
        let dir = generated_dir();
        let mut stale = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            if write {
                std::fs::create_dir_all(&dir).expect("the generated folder can be made");
                std::fs::write(&path, &text).expect("a generated file can be written");
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != text {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "the UI's generated types are stale: {stale:?}; the UI would compile against an error \
             contract the till no longer has. Run OMNITILL_WRITE_BINDINGS=1 cargo test -p omnitill \
             bindings and commit the result"
        );
    }
}
