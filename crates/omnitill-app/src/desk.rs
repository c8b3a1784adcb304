//! The counter's state: the open till, who is logged in, the cart being rung up, and the
//! pickup work in hand (units scanned, an order being paid).
//!
//! `App` keeps it behind one mutex, so a use case sees the three together and consistent. A use
//! case holds the lock only for local work, never across a cloud call.

use std::collections::HashMap;

use omnitill_core::pickups::actions::Verified;
use omnitill_core::{Cart, StaffSession, Till};

use crate::error::{ApiError, ErrorCode};

pub struct Desk {
    pub till: Till,
    pub session: Option<StaffSession>,
    pub cart: Cart,
    /// Units scanned per (pickup order, line) not yet a whole line.
    pub pick_counts: HashMap<(String, i64), i64>,
    /// The pay-at-pickup order whose payment the cart takes.
    pub pickup_payment: Option<PickupPayment>,
}

/// A pay-at-pickup order being paid at checkout: the sale that completes hands it over.
#[derive(Debug, Clone)]
pub struct PickupPayment {
    pub order_id: String,
    pub verified: Verified,
}

impl Desk {
    pub fn new(till: Till) -> Desk {
        Desk {
            till,
            session: None,
            cart: Cart::new(),
            pick_counts: HashMap::new(),
            pickup_payment: None,
        }
    }

    /// The logged-in staff member, or `not_logged_in` when the till is locked.
    pub fn session(&self) -> Result<StaffSession, ApiError> {
        self.session
            .clone()
            .ok_or_else(|| ApiError::new(ErrorCode::NotLoggedIn, "log in to use the till"))
    }
}
