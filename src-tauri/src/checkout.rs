//! The cart in progress, as the shell keeps it for the logged-in staff member: its view for
//! the UI, a change made to it, and the nudge that sends a finished sale to the cloud soon.
//! Shared by the commands (`commands`) and a member's part of checkout (`members`), so
//! neither imports the other for them.

use omnitill_core::cart::PricingRules;

use crate::error::Reply;
use crate::state::{AppState, Shell};
use crate::views::{CartView, MemberFacts};

/// The cart as the UI shows it, with what the attached member may use and gets.
pub(crate) fn cart_view(shell: &Shell) -> Reply<CartView> {
    let store = shell.till.store()?;
    let rules = PricingRules {
        tax_mode: store.tax_mode,
        cash_rounding_minor: store.cash_rounding_minor,
    };
    let member = match shell.cart.member() {
        Some(attached) => Some(MemberFacts {
            member: shell.till.member(&attached.member_id)?,
            offline_limit: shell.till.offline_points_limit(&attached.member_id)?,
            point_value_minor: shell.till.point_value_minor()?,
        }),
        None => None,
    };
    Ok(CartView::new(&shell.cart, rules, &store.currency, member))
}

/// Runs a cart change for the logged-in staff member and returns the new cart.
pub(crate) fn edit_cart(
    state: &AppState,
    f: impl FnOnce(&mut Shell) -> Reply<()>,
) -> Reply<CartView> {
    state.with_shell(|shell| {
        shell.session()?;
        f(shell)?;
        cart_view(shell)
    })
}

/// Tells the sync engine a new operation is waiting.
pub(crate) fn wake_sync(state: &AppState) {
    if let Some(sync) = &state.sync {
        sync.wake();
    }
}
