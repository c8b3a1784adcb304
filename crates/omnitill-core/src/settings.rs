//! Store and till settings kept in the ledger's `setting` table.
//!
//! Settings are typed here and validated on write, so a bad value (a cash rounding of zero, an
//! idle lock of a year, a printer address that is not host:port) is refused with a message
//! and never stored.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::money::Minor;

/// Whether shelf prices include tax (tax is reported out of them) or exclude it (tax is added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

impl TaxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }

    pub fn parse(text: &str) -> Option<TaxMode> {
        match text {
            "inclusive" => Some(TaxMode::Inclusive),
            "exclusive" => Some(TaxMode::Exclusive),
            _ => None,
        }
    }
}

/// Labels on screen: English or Traditional Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub enum Language {
    #[serde(rename = "en")]
    English,
    #[serde(rename = "zh-Hant")]
    TraditionalChinese,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::TraditionalChinese => "zh-Hant",
        }
    }

    pub fn parse(text: &str) -> Option<Language> {
        match text {
            "en" => Some(Language::English),
            "zh-Hant" => Some(Language::TraditionalChinese),
            _ => None,
        }
    }
}

/// The store this till sells for: fixed at set-up, owned by the cloud later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct StoreInfo {
    pub name: String,
    pub currency: String,
    pub currency_exponent: u32,
    pub tax_mode: TaxMode,
    pub cash_rounding_minor: Minor,
    /// The store's offset from UTC in minutes, used to print local times on receipts.
    pub utc_offset_minutes: i32,
}

/// What a manager can change on the till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Settings {
    pub language: Language,
    pub idle_lock_seconds: u32,
    pub printer_address: Option<String>,
    pub cash_rounding_minor: Minor,
    pub tax_mode: TaxMode,
}

/// The longest idle lock a manager may set: eight hours.
pub const MAX_IDLE_LOCK_SECONDS: u32 = 8 * 3600;

impl Settings {
    /// Checks every field; the error names the first bad one in words.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.idle_lock_seconds > MAX_IDLE_LOCK_SECONDS {
            return Err(CoreError::BadInput(format!(
                "idle lock must be at most {MAX_IDLE_LOCK_SECONDS} seconds"
            )));
        }
        if !(1..=100_000).contains(&self.cash_rounding_minor) {
            return Err(CoreError::BadInput(
                "cash rounding must be between 1 (none) and 100,000 minor units".into(),
            ));
        }
        if let Some(address) = &self.printer_address {
            validate_printer_address(address)?;
        }
        Ok(())
    }
}

/// A printer address is `host:port` or a bare host (port 9100 is then assumed).
pub fn validate_printer_address(address: &str) -> Result<(), CoreError> {
    let bad = || {
        CoreError::BadInput(format!(
            "printer address {address:?} must look like 192.168.1.50:9100 or printer.local"
        ))
    };
    let trimmed = address.trim();
    if trimmed.is_empty() || trimmed.len() > 253 || trimmed.contains(char::is_whitespace) {
        return Err(bad());
    }
    match trimmed.rsplit_once(':') {
        None => Ok(()),
        Some((host, port)) if is_host(host) && port.parse::<u16>().is_ok_and(|p| p != 0) => Ok(()),
        Some(_) => Err(bad()),
    }
}

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>, CoreError> {
    Ok(conn
        .query_row("SELECT value FROM setting WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?)
}

pub(crate) fn put(conn: &Connection, key: &str, value: &str) -> Result<(), CoreError> {
    conn.execute(
        "INSERT INTO setting (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// A host name, an IPv4 address, or an IPv6 address in brackets.
fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty() && !host.contains(':')
}

fn corrupt(key: &str, value: &str) -> CoreError {
    CoreError::DatabaseRefused(format!("setting {key} holds an unreadable value {value:?}"))
}

fn get_or(conn: &Connection, key: &str, default: &str) -> Result<String, CoreError> {
    Ok(get(conn, key)?.unwrap_or_else(|| default.to_owned()))
}

fn get_number<T: std::str::FromStr>(
    conn: &Connection,
    key: &str,
    default: &str,
) -> Result<T, CoreError> {
    let value = get_or(conn, key, default)?;
    value.parse().map_err(|_| corrupt(key, &value))
}

pub(crate) fn load_store(conn: &Connection) -> Result<StoreInfo, CoreError> {
    let tax_mode_text = get_or(conn, "tax_mode", "inclusive")?;
    Ok(StoreInfo {
        name: get_or(conn, "store_name", "Omnitill store")?,
        currency: get_or(conn, "currency", "TWD")?,
        currency_exponent: get_number(conn, "currency_exponent", "2")?,
        tax_mode: TaxMode::parse(&tax_mode_text)
            .ok_or_else(|| corrupt("tax_mode", &tax_mode_text))?,
        cash_rounding_minor: get_number(conn, "cash_rounding_minor", "1")?,
        utc_offset_minutes: get_number(conn, "utc_offset_minutes", "0")?,
    })
}

pub(crate) fn load_settings(conn: &Connection) -> Result<Settings, CoreError> {
    let store = load_store(conn)?;
    let language_text = get_or(conn, "language", "en")?;
    Ok(Settings {
        language: Language::parse(&language_text)
            .ok_or_else(|| corrupt("language", &language_text))?,
        idle_lock_seconds: get_number(conn, "idle_lock_seconds", "300")?,
        printer_address: get(conn, "printer_address")?.filter(|a| !a.is_empty()),
        cash_rounding_minor: store.cash_rounding_minor,
        tax_mode: store.tax_mode,
    })
}

pub(crate) fn save_settings(conn: &Connection, settings: &Settings) -> Result<(), CoreError> {
    settings.validate()?;
    put(conn, "language", settings.language.as_str())?;
    put(
        conn,
        "idle_lock_seconds",
        &settings.idle_lock_seconds.to_string(),
    )?;
    put(
        conn,
        "printer_address",
        settings
            .printer_address
            .as_deref()
            .map(str::trim)
            .unwrap_or(""),
    )?;
    put(
        conn,
        "cash_rounding_minor",
        &settings.cash_rounding_minor.to_string(),
    )?;
    put(conn, "tax_mode", settings.tax_mode.as_str())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_addresses_are_checked() {
        for good in [
            "127.0.0.1:9100",
            "printer.local",
            "10.0.0.5",
            "pos-printer:9101",
            "[::1]:9100",
        ] {
            assert!(
                validate_printer_address(good).is_ok(),
                "{good} is a usable address"
            );
        }
        for bad in [
            "",
            " ",
            "host:",
            ":9100",
            "host:0",
            "host:99999",
            "a b:9100",
            "::1:9100",
        ] {
            assert!(
                validate_printer_address(bad).is_err(),
                "{bad:?} must be refused"
            );
        }
    }
}
