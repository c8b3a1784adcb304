//! Staff, PINs and permissions.
//!
//! Staff are cashiers or managers. A PIN is stored only as an argon2id hash. `login` returns a
//! `StaffSession` and `approve_as_manager` a `ManagerApproval`; both are `#[non_exhaustive]`, so
//! they can only be made in this crate and a core function that takes one knows the PIN was
//! checked. Five wrong PINs in a row lock that
//! staff code for a minute, which stops guessing at an unattended till.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{CoreError, CoreResult};

/// Wrong PINs in a row before a staff code is locked out.
pub const MAX_FAILED_ATTEMPTS: i64 = 5;
/// How long a lock-out lasts, in milliseconds.
pub const LOCKOUT_MILLIS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "cashier" => Some(Role::Cashier),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// A staff member whose PIN was just verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[non_exhaustive]
pub struct StaffSession {
    pub id: String,
    pub code: String,
    pub name: String,
    pub role: Role,
}

impl StaffSession {
    pub fn is_manager(&self) -> bool {
        self.role == Role::Manager
    }
}

/// A manager's PIN, verified for one approval.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagerApproval {
    pub manager_id: String,
    pub manager_name: String,
}

impl ManagerApproval {
    /// A logged-in manager approves their own action without typing the PIN again.
    pub fn from_session(session: &StaffSession) -> CoreResult<ManagerApproval> {
        if !session.is_manager() {
            return Err(CoreError::NotManager);
        }
        Ok(ManagerApproval {
            manager_id: session.id.clone(),
            manager_name: session.name.clone(),
        })
    }
}

fn check_pin_shape(pin: &str) -> CoreResult<()> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CoreError::BadInput("a PIN is 4 to 8 digits".into()))
    }
}

/// Hashes a PIN with argon2id and a random salt.
pub fn hash_pin(pin: &str) -> CoreResult<String> {
    check_pin_shape(pin)?;
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| CoreError::BadInput(format!("the PIN could not be salted: {e}")))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CoreError::BadInput(format!("the PIN could not be hashed: {e}")))
}

/// Adds a staff member. `code` is what they type at the login screen.
pub fn add_staff(
    conn: &Connection,
    id: &str,
    code: &str,
    name: &str,
    role: Role,
    pin: &str,
) -> CoreResult<()> {
    if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CoreError::BadInput(
            "a staff code is 1 to 16 letters or digits".into(),
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 80 {
        return Err(CoreError::BadInput(
            "a staff name is 1 to 80 characters".into(),
        ));
    }
    let hash = hash_pin(pin)?;
    conn.execute(
        "INSERT INTO staff (id, code, name, role, pin_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, code, name.trim(), role.as_str(), hash],
    )?;
    Ok(())
}

struct StaffRow {
    id: String,
    code: String,
    name: String,
    role: Role,
    pin_hash: String,
    failed_attempts: i64,
    locked_until: i64,
}

/// Checks a staff code and PIN. Wrong PINs count towards a lock-out; a right one resets it.
pub fn verify(
    conn: &Connection,
    code: &str,
    pin: &str,
    now: DateTime<Utc>,
) -> CoreResult<StaffSession> {
    let code = code.trim();
    if code.is_empty() || code.len() > 16 || pin.len() > 8 {
        return Err(CoreError::WrongPin);
    }
    let row = conn
        .query_row(
            "SELECT id, code, name, role, pin_hash, failed_attempts, locked_until
             FROM staff WHERE code = ?1 AND active = 1",
            [code],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((id, code, name, role, pin_hash, failed_attempts, locked_until)) = row else {
        return Err(CoreError::WrongPin);
    };
    let role = Role::parse(&role).ok_or_else(|| {
        CoreError::DatabaseRefused(format!("staff {code} has an unknown role {role:?}"))
    })?;
    let staff = StaffRow {
        id,
        code,
        name,
        role,
        pin_hash,
        failed_attempts,
        locked_until,
    };
    let now_ms = now.timestamp_millis();
    if staff.locked_until > now_ms {
        return Err(CoreError::LockedOut(staff.code));
    }
    let parsed = PasswordHash::new(&staff.pin_hash).map_err(|_| {
        CoreError::DatabaseRefused(format!("staff {} has a damaged PIN hash", staff.code))
    })?;
    if Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_err()
    {
        let failed = staff.failed_attempts + 1;
        let locked_until = if failed >= MAX_FAILED_ATTEMPTS {
            now_ms + LOCKOUT_MILLIS
        } else {
            0
        };
        let failed = if failed >= MAX_FAILED_ATTEMPTS {
            0
        } else {
            failed
        };
        conn.execute(
            "UPDATE staff SET failed_attempts = ?2, locked_until = ?3 WHERE id = ?1",
            params![staff.id, failed, locked_until],
        )?;
        return Err(CoreError::WrongPin);
    }
    if staff.failed_attempts != 0 || staff.locked_until != 0 {
        conn.execute(
            "UPDATE staff SET failed_attempts = 0, locked_until = 0 WHERE id = ?1",
            [&staff.id],
        )?;
    }
    Ok(StaffSession {
        id: staff.id,
        code: staff.code,
        name: staff.name,
        role: staff.role,
    })
}

/// Checks a manager's code and PIN for one approval.
pub fn approve(
    conn: &Connection,
    code: &str,
    pin: &str,
    now: DateTime<Utc>,
) -> CoreResult<ManagerApproval> {
    let session = verify(conn, code, pin, now)?;
    ManagerApproval::from_session(&session)
}

/// The display name of a staff id, for receipts.
pub fn name_of(conn: &Connection, id: &str) -> CoreResult<String> {
    Ok(conn
        .prepare_cached("SELECT name FROM staff WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?
        .unwrap_or_else(|| id.to_owned()))
}
