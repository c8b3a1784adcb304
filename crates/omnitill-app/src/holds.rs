//! The hold lifecycle: what the cloud holds for the sale being rung up (points paid online, a
//! coupon reserved online) is given back as soon as the cart stops using it.
//!
//! `Holds` is taken before a cart edit and again after it; what the first has and the second no
//! longer uses is released at the cloud, best effort: a hold the cloud does not hear about (the
//! link is down) runs out on its own.

use omnitill_core::{Cart, TenderKind};

use crate::app::App;
use crate::cloud::Cloud;
use crate::desk::Desk;
use crate::error::Reply;
use crate::views::CartView;

/// What the cloud holds for a cart's sale, under the sale's id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    sale_id: Option<String>,
    points: bool,
    coupon: Option<String>,
}

impl Holds {
    pub fn of(cart: &Cart) -> Holds {
        Holds {
            sale_id: cart.sale_id().map(str::to_owned),
            points: cart
                .tenders()
                .iter()
                .any(|t| t.kind == TenderKind::Points && t.reserved_online),
            coupon: cart
                .coupon()
                .filter(|c| c.reserved_online)
                .map(|c| c.coupon_id.clone()),
        }
    }

    /// The coupon reserved online, if any.
    pub fn coupon(&self) -> Option<&str> {
        self.coupon.as_deref()
    }

    /// Which of these holds `now` (the cart after an edit) no longer uses: (points, coupon).
    fn unused(&self, now: &Holds) -> (bool, bool) {
        let same_sale = self.sale_id.is_some() && now.sale_id == self.sale_id;
        (
            self.points && !(same_sale && now.points),
            self.coupon.is_some() && !(same_sale && now.coupon == self.coupon),
        )
    }
}

impl<C: Cloud> App<C> {
    /// `edit_cart`, then gives back what the cloud holds for the sale and the edit stopped
    /// using (a points payment removed, a coupon taken off, a cart cleared).
    pub(crate) async fn edit_cart_releasing(
        &self,
        edit: impl FnOnce(&mut Desk) -> Reply<()>,
    ) -> Reply<CartView> {
        let mut holds = None;
        let view = self.edit_cart(|desk| {
            let before = Holds::of(&desk.cart);
            edit(desk)?;
            holds = Some((before, Holds::of(&desk.cart)));
            Ok(())
        })?;
        if let Some((before, after)) = holds {
            self.release_unused(before, after).await;
        }
        Ok(view)
    }

    /// Gives back what `before` had and `now` no longer uses.
    pub(crate) async fn release_unused(&self, before: Holds, now: Holds) {
        let (points, coupon) = before.unused(&now);
        let Some(sale_id) = before.sale_id.filter(|_| points || coupon) else {
            return;
        };
        let Ok(Some(at)) = self.with_desk(|desk| self.online(desk)) else {
            return;
        };
        if points {
            let _ = self.cloud.release_points(&at, &sale_id).await;
        }
        if coupon {
            let _ = self.cloud.release_coupon(&at, &sale_id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Holds;

    fn holds(sale: Option<&str>, points: bool, coupon: Option<&str>) -> Holds {
        Holds {
            sale_id: sale.map(str::to_owned),
            points,
            coupon: coupon.map(str::to_owned),
        }
    }

    #[test]
    fn what_a_cart_edit_stopped_using_is_given_back_and_nothing_else() {
        let both = holds(Some("s1"), true, Some("c1"));
        let cases = [
            (
                holds(Some("s1"), true, Some("c1")),
                (false, false),
                "nothing changed",
            ),
            (
                holds(Some("s1"), false, Some("c1")),
                (true, false),
                "points payment removed",
            ),
            (
                holds(Some("s1"), true, None),
                (false, true),
                "coupon taken off",
            ),
            (
                holds(Some("s1"), true, Some("c2")),
                (false, true),
                "another coupon",
            ),
            (
                holds(None, false, None),
                (true, true),
                "the cart was cleared",
            ),
            (
                holds(Some("s2"), true, Some("c1")),
                (true, true),
                "a new sale",
            ),
        ];
        for (after, expected, why) in cases {
            assert_eq!(both.unused(&after), expected, "{why}");
        }
        assert_eq!(
            holds(None, false, None).unused(&holds(None, false, None)),
            (false, false),
            "a sale that held nothing gives nothing back"
        );
        assert_eq!(
            holds(Some("s1"), false, Some("c1")).unused(&holds(Some("s1"), false, None)),
            (false, true),
            "points never held are never released"
        );
    }
}
