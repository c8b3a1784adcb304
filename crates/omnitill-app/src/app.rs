//! `App`: the till's use cases over one open ledger and one cloud. The shell holds one `App`
//! and each IPC command calls one of its methods.
//!
//! The use cases themselves are spread by area over `checkout`, `members`, `receipts`,
//! `review`, `settings` and `status`, each an `impl App` block. This file holds what they all
//! share: the counter's state behind its lock, the one definition of "online", and a cart
//! edit that answers with the cart as the UI shows it.

use std::sync::Mutex;

use omnitill_core::Till;
use omnitill_core::cart::PricingRules;

use crate::cloud::{Cloud, CloudAddress};
use crate::desk::Desk;
use crate::error::{ApiError, ErrorCode, Reply};
use crate::views::{CartView, MemberFacts};

pub struct App<C> {
    desk: Option<Mutex<Desk>>,
    startup_error: Option<ApiError>,
    pub(crate) cloud: C,
}

impl<C: Cloud> App<C> {
    /// The use cases over `till`, or over nothing but the reason it did not open: then every
    /// use case answers with that reason, and `status` shows it.
    pub fn new(till: Result<Till, ApiError>, cloud: C) -> App<C> {
        match till {
            Ok(till) => App {
                desk: Some(Mutex::new(Desk::new(till))),
                startup_error: None,
                cloud,
            },
            Err(error) => App {
                desk: None,
                startup_error: Some(error),
                cloud,
            },
        }
    }

    /// The cloud these use cases call.
    pub fn cloud(&self) -> &C {
        &self.cloud
    }

    /// Whether the till's ledger opened.
    pub fn is_open(&self) -> bool {
        self.desk.is_some()
    }

    /// Whether this till is linked to a cloud (enrolled, revoked or not).
    pub fn is_linked(&self) -> bool {
        self.with_desk(|desk| Ok(desk.till.sync_link()?.is_some()))
            .unwrap_or(false)
    }

    /// Runs `f` on the counter's state, or returns the start-up error when the ledger did not
    /// open.
    pub(crate) fn with_desk<T>(&self, f: impl FnOnce(&mut Desk) -> Reply<T>) -> Reply<T> {
        let Some(desk) = &self.desk else {
            return Err(self
                .startup_error
                .clone()
                .unwrap_or_else(|| ApiError::new(ErrorCode::Internal, "the till did not start")));
        };
        let mut guard = desk.lock().unwrap_or_else(|poison| poison.into_inner());
        f(&mut guard)
    }

    pub(crate) fn startup_error(&self) -> Option<ApiError> {
        self.startup_error.clone()
    }

    /// The cloud to ask now, or `None` when the till works offline: no link, a revoked link,
    /// or the sync engine not reporting the link up. The one definition of "online", which
    /// the status bar shows as `sync.online`.
    pub(crate) fn online(&self, desk: &Desk) -> Reply<Option<CloudAddress>> {
        let up = self
            .cloud
            .sync_status()
            .is_some_and(|status| status.state.is_up());
        if !up {
            return Ok(None);
        }
        Ok(desk
            .till
            .sync_link()?
            .filter(|link| !link.revoked)
            .map(|link| CloudAddress {
                url: link.cloud_url,
                token: link.token,
            }))
    }

    /// Runs a cart change for the logged-in staff member and answers with the new cart.
    pub(crate) fn edit_cart(&self, f: impl FnOnce(&mut Desk) -> Reply<()>) -> Reply<CartView> {
        self.with_desk(|desk| {
            desk.session()?;
            f(desk)?;
            cart_view(desk)
        })
    }
}

/// The cart as the UI shows it, with what the attached member may use and gets.
pub(crate) fn cart_view(desk: &Desk) -> Reply<CartView> {
    let store = desk.till.store()?;
    let rules = PricingRules {
        tax_mode: store.tax_mode,
        cash_rounding_minor: store.cash_rounding_minor,
    };
    let member = match desk.cart.member() {
        Some(attached) => Some(MemberFacts {
            member: desk.till.member(&attached.member_id)?,
            offline_limit: desk.till.offline_points_limit(&attached.member_id)?,
            point_value_minor: desk.till.point_value_minor()?,
        }),
        None => None,
    };
    Ok(CartView::new(&desk.cart, rules, &store.currency, member))
}
