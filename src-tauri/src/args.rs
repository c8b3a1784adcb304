//! Command-line options of the till and lenient decoding of IPC arguments.
//!
//! `--data-dir DIR` (or `OMNITILL_DATA_DIR`) chooses where the ledger lives, so two tills can
//! run side by side. `--seed-demo` fills an empty ledger with the demo store. `--exit-when-ready`
//! quits as soon as the first screen has rendered (the benchmark's cold-start measure).
//! `--recover LEDGER` builds a new ledger from a damaged one, downloads the reference data
//! again, prints what it saved, and exits (no window). The till fills its screen, kiosk style;
//! `--windowed` keeps a 1280x800 window with decorations, for development.
//!
//! IPC arguments arrive as JSON from the web view. `Lenient<T>` accepts any JSON and keeps the
//! decoding result, so a malformed call becomes a typed `bad_input` error instead of Tauri's
//! untyped one.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use omnitill_app::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub data_dir: PathBuf,
    pub seed_demo: bool,
    pub exit_when_ready: bool,
    /// Enrol with this cloud and one-time code at start, if the till is not linked yet.
    pub enrol: Option<(String, String)>,
    /// Recover this damaged ledger file and exit.
    pub recover: Option<PathBuf>,
    /// A window instead of the whole screen (`--windowed`).
    pub windowed: bool,
}

/// Parses the till's options. Unknown options are refused with a message.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env_data_dir: Option<String>,
    home: Option<String>,
) -> Result<Options, String> {
    let mut data_dir = env_data_dir.filter(|d| !d.is_empty()).map(PathBuf::from);
    let mut seed_demo = false;
    let mut exit_when_ready = false;
    let mut enrol_url = None;
    let mut enrol_code = None;
    let mut recover = None;
    let mut windowed = false;
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data-dir" => {
                let dir = args.next().ok_or("--data-dir needs a directory")?;
                data_dir = Some(PathBuf::from(dir));
            }
            other if other.starts_with("--data-dir=") => {
                data_dir = Some(PathBuf::from(&other["--data-dir=".len()..]));
            }
            "--seed-demo" => seed_demo = true,
            "--exit-when-ready" => exit_when_ready = true,
            "--windowed" => windowed = true,
            "--enrol-url" => {
                enrol_url = Some(args.next().ok_or("--enrol-url needs the cloud's address")?)
            }
            "--enrol-code" => {
                enrol_code = Some(args.next().ok_or("--enrol-code needs a one-time code")?)
            }
            "--recover" => {
                let ledger = args
                    .next()
                    .ok_or("--recover needs the damaged ledger file (till.sqlite3)")?;
                recover = Some(PathBuf::from(ledger));
            }
            other => {
                return Err(format!(
                    "unknown option {other:?}; use --data-dir DIR, --seed-demo, --exit-when-ready, \
                     --windowed, --recover LEDGER"
                ));
            }
        }
    }
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => {
            let home = home.ok_or("HOME is not set; pass --data-dir DIR")?;
            PathBuf::from(home).join(".local/share/omnitill")
        }
    };
    let enrol = match (enrol_url, enrol_code) {
        (Some(url), Some(code)) => Some((url, code)),
        (None, None) => None,
        _ => return Err("--enrol-url and --enrol-code go together".into()),
    };
    Ok(Options {
        data_dir,
        seed_demo,
        exit_when_ready,
        enrol,
        recover,
        windowed,
    })
}

/// An IPC argument that always decodes, keeping the error for the command to report.
pub struct Lenient<T>(Result<T, String>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Lenient(
            serde_json::from_value(value).map_err(|e| e.to_string()),
        ))
    }
}

/// Takes a required argument, or explains what was wrong with it.
pub fn required<T>(name: &str, value: Option<Lenient<T>>) -> Result<T, ApiError> {
    match value {
        Some(Lenient(Ok(value))) => Ok(value),
        Some(Lenient(Err(reason))) => Err(ApiError::bad_input(format!(
            "argument {name} is malformed: {reason}"
        ))),
        None => Err(ApiError::bad_input(format!("argument {name} is missing"))),
    }
}

/// Takes an argument that may be absent or null.
pub fn optional<T>(name: &str, value: Option<Lenient<Option<T>>>) -> Result<Option<T>, ApiError> {
    match value {
        None => Ok(None),
        Some(value) => required(name, Some(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("omnitill")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn data_dir_comes_from_the_flag_then_the_environment_then_home() {
        let flag = parse(
            args(&["--data-dir", "/tmp/a"]),
            Some("/tmp/env".into()),
            Some("/home/x".into()),
        );
        assert_eq!(
            flag.map(|o| o.data_dir),
            Ok(PathBuf::from("/tmp/a")),
            "the flag wins"
        );
        let env = parse(args(&[]), Some("/tmp/env".into()), Some("/home/x".into()));
        assert_eq!(
            env.map(|o| o.data_dir),
            Ok(PathBuf::from("/tmp/env")),
            "then the variable"
        );
        let home = parse(args(&[]), None, Some("/home/x".into()));
        assert_eq!(
            home.map(|o| o.data_dir),
            Ok(PathBuf::from("/home/x/.local/share/omnitill"))
        );
    }

    #[test]
    fn recover_names_the_damaged_ledger() {
        let parsed = parse(
            args(&["--recover", "/tmp/d/till.sqlite3"]),
            None,
            Some("/h".into()),
        );
        assert_eq!(
            parsed.map(|o| o.recover),
            Ok(Some(PathBuf::from("/tmp/d/till.sqlite3"))),
            "the recovery works on the file the manager names"
        );
        assert!(
            parse(args(&["--recover"]), None, Some("/h".into())).is_err(),
            "--recover without a file is refused with a message"
        );
    }

    #[test]
    fn the_till_fills_its_screen_unless_asked_for_a_window() {
        let parse_windowed = |list: &[&str]| {
            parse(args(list), None, Some("/h".into())).map(|options| options.windowed)
        };
        assert_eq!(
            parse_windowed(&[]),
            Ok(false),
            "a till opens full screen by default"
        );
        assert_eq!(
            parse_windowed(&["--windowed"]),
            Ok(true),
            "--windowed keeps a window for development"
        );
    }

    #[test]
    fn bad_options_are_refused_with_a_message() {
        assert!(parse(args(&["--data-dir"]), None, Some("/h".into())).is_err());
        assert!(parse(args(&["--frobnicate"]), None, Some("/h".into())).is_err());
        assert!(
            parse(args(&[]), None, None).is_err(),
            "no HOME and no data dir"
        );
    }

    #[test]
    fn malformed_ipc_arguments_become_bad_input() {
        let parsed: Lenient<i64> = serde_json::from_str("\"seven\"").expect("any JSON decodes");
        let error = required("quantity", Some(parsed)).expect_err("a string is not a quantity");
        assert_eq!(error.code, omnitill_app::ErrorCode::BadInput);
        let missing: Result<i64, ApiError> = required("quantity", None);
        assert_eq!(
            missing.map_err(|e| e.code),
            Err(omnitill_app::ErrorCode::BadInput)
        );
    }
}
