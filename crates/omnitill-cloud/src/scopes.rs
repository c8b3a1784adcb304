//! API key scopes: what an e-shop or other system may do with its key.
//!
//! Every e-shop route requires exactly one scope (stated in `api.rs` beside the route and in the
//! OpenAPI document's security requirement). A key holds a set of scopes; a key without the one
//! a route needs is refused with 403 and a sentence naming both. Scopes do not imply each other:
//! `admin` is for brand IT (prices, loyalty rules, points adjustments and coupons issued by
//! hand), not a superset. Keys made before scopes existed (cloud migration 0009) hold all four,
//! so an e-shop keeps working after the upgrade until brand IT replaces its key with a narrower
//! one.

use crate::error::{CloudError, CloudResult};

/// One permission an API key can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read stores, stock, sales, members, their history and the loyalty rules.
    Read,
    /// Record e-shop orders (`POST /v1/online-sales`).
    Orders,
    /// The e-shop's member calls: sign-up, earning and redeeming points, coupon use, QR tokens.
    Loyalty,
    /// Brand IT: prices, loyalty rules, points adjustments, coupons issued by hand.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are shown.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Orders, Scope::Loyalty, Scope::Admin];

    /// The scope's name, as typed on the command line, stored and shown in the document.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Orders => "orders",
            Scope::Loyalty => "loyalty",
            Scope::Admin => "admin",
        }
    }

    /// What the scope allows, in words, for refusals.
    pub fn allows(self) -> &'static str {
        match self {
            Scope::Read => "read stores, stock, sales, members and loyalty rules",
            Scope::Orders => "record e-shop orders",
            Scope::Loyalty => "sign members up, book their points and use their coupons",
            Scope::Admin => "change prices and loyalty rules, adjust points and issue coupons",
        }
    }

    fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }
}

/// Reads a list of scopes as typed: names separated by commas or spaces (`read,orders`).
/// An empty list or an unknown name is refused in words.
pub fn parse_list(text: &str) -> CloudResult<Vec<Scope>> {
    let mut scopes = Vec::new();
    for word in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let scope = Scope::from_name(&word.to_ascii_lowercase()).ok_or_else(|| {
            CloudError::BadRequest(format!(
                "{word:?} is not a scope; the scopes are {}",
                known_names()
            ))
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(CloudError::BadRequest(format!(
            "name at least one scope: {}",
            known_names()
        )));
    }
    scopes.sort();
    Ok(scopes)
}

/// The stored form: names separated by single spaces.
pub fn encode(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the stored form. A word this build does not know (written by a newer cloud) grants
/// nothing here.
pub fn decode(stored: &str) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = stored
        .split_whitespace()
        .filter_map(Scope::from_name)
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Refuses a key that lacks `needed`, saying what the route needs and what the key holds.
pub fn require(held: &[Scope], needed: Scope) -> CloudResult<()> {
    if held.contains(&needed) {
        return Ok(());
    }
    let held = if held.is_empty() {
        "no scope".to_owned()
    } else {
        format!("only {}", encode(held).replace(' ', ", "))
    };
    Err(CloudError::Forbidden(format!(
        "this API key may not {}: that needs the {} scope, and the key has {held}",
        needed.allows(),
        needed.name()
    )))
}

fn known_names() -> String {
    Scope::ALL.map(Scope::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_read_with_commas_or_spaces_in_any_case_and_once_each() {
        let scopes = parse_list("Orders, read read").expect("known names");
        assert_eq!(
            scopes,
            vec![Scope::Read, Scope::Orders],
            "duplicates collapse and the order is canonical"
        );
        assert_eq!(decode(&encode(&scopes)), scopes, "stored form round-trips");
    }

    #[test]
    fn an_unknown_or_empty_list_is_refused_in_words() {
        let unknown = parse_list("read,superuser").expect_err("superuser is no scope");
        assert!(
            unknown.to_string().contains("\"superuser\" is not a scope"),
            "the refusal names the bad word: {unknown}"
        );
        assert!(parse_list(" , ").is_err(), "a key with no scope is useless");
    }

    #[test]
    fn admin_does_not_imply_the_other_scopes() {
        let refusal = require(&[Scope::Admin], Scope::Orders).expect_err("admin is not orders");
        assert!(
            matches!(refusal, CloudError::Forbidden(_)),
            "a missing scope is a 403"
        );
        assert!(
            refusal.to_string().contains("needs the orders scope")
                && refusal.to_string().contains("only admin"),
            "the refusal says what is needed and what is held: {refusal}"
        );
        assert!(require(&[Scope::Read, Scope::Orders], Scope::Orders).is_ok());
    }

    #[test]
    fn a_stored_word_from_a_newer_cloud_grants_nothing() {
        assert_eq!(decode("read teleport"), vec![Scope::Read]);
    }
}
