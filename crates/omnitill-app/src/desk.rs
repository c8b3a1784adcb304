//! The counter's state: the open till, who is logged in, and the cart being rung up.
//!
//! `App` keeps it behind one mutex, so a use case sees the three together and consistent. A use
//! case holds the lock only for local work, never across a cloud call.

use omnitill_core::{Cart, StaffSession, Till};

use crate::error::{ApiError, ErrorCode};

pub struct Desk {
    pub till: Till,
    pub session: Option<StaffSession>,
    pub cart: Cart,
}

impl Desk {
    pub fn new(till: Till) -> Desk {
        Desk {
            till,
            session: None,
            cart: Cart::new(),
        }
    }

    /// The logged-in staff member, or `not_logged_in` when the till is locked.
    pub fn session(&self) -> Result<StaffSession, ApiError> {
        self.session
            .clone()
            .ok_or_else(|| ApiError::new(ErrorCode::NotLoggedIn, "log in to use the till"))
    }
}
