//! Checkout's use cases: log in and lock, ring items up, discounts and payments, and the sale's
//! completion.
//!
//! Every cart change answers with the cart as the UI shows it (`CartView`). A change that stops
//! using something the cloud holds for the sale (points paid online, a reserved coupon) gives
//! it back (`holds`).

use omnitill_core::catalog::ProductHit;
use omnitill_core::scan::{self, ScanKind};
use omnitill_core::{Cart, Discount, StaffSession, TenderKind};
use serde::Serialize;
use ts_rs::TS;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::{ApiError, Reply};
use crate::views::{CartView, ReceiptView};

/// What a scan at checkout did: core's classification of the code, and the cart after it.
#[derive(Debug, Serialize, TS)]
pub struct ScanOutcome {
    pub kind: ScanKind,
    pub cart: CartView,
}

impl<C: Cloud> App<C> {
    /// Logs a staff member in with their code and PIN.
    pub fn login(&self, staff_code: &str, pin: &str) -> Reply<StaffSession> {
        self.with_desk(|desk| {
            let session = desk.till.login(staff_code, pin)?;
            desk.session = Some(session.clone());
            Ok(session)
        })
    }

    /// Locks the till; the cart stays for the next log-in.
    pub fn lock(&self) -> Reply<()> {
        self.with_desk(|desk| {
            desk.till.record_lock(desk.session.as_ref())?;
            desk.session = None;
            Ok(())
        })
    }

    pub fn cart(&self) -> Reply<CartView> {
        self.edit_cart(|_| Ok(()))
    }

    /// Adds the item with this barcode (or SKU) to the cart.
    pub fn scan_item(&self, code: &str) -> Reply<CartView> {
        self.edit_cart(|desk| {
            let item = desk.till.scan(code)?;
            desk.cart.add_item(item, 1)?;
            Ok(())
        })
    }

    /// A code scanned or typed into checkout's scan field: core classifies it; a member's card
    /// or QR token attaches the member, anything else is an item to add.
    pub async fn checkout_scan(&self, code: &str) -> Reply<ScanOutcome> {
        let kind = scan::classify(code);
        let cart = if kind.is_member() {
            self.attach_member(code.trim()).await?
        } else {
            self.scan_item(code)?
        };
        Ok(ScanOutcome { kind, cart })
    }

    pub fn add_product(&self, product_id: i64) -> Reply<CartView> {
        self.edit_cart(|desk| {
            let item = desk.till.item(product_id)?;
            desk.cart.add_item(item, 1)?;
            Ok(())
        })
    }

    pub fn set_quantity(&self, line_id: u32, quantity: i64) -> Reply<CartView> {
        self.edit_cart(|desk| Ok(desk.cart.set_quantity(line_id, quantity)?))
    }

    pub fn remove_line(&self, line_id: u32) -> Reply<CartView> {
        self.edit_cart(|desk| Ok(desk.cart.remove_line(line_id)?))
    }

    pub fn set_line_discount(&self, line_id: u32, discount: Option<Discount>) -> Reply<CartView> {
        self.edit_cart(|desk| Ok(desk.cart.set_line_discount(line_id, discount)?))
    }

    pub fn set_cart_discount(&self, discount: Option<Discount>) -> Reply<CartView> {
        self.edit_cart(|desk| Ok(desk.cart.set_cart_discount(discount)?))
    }

    /// Empties the cart, giving back whatever the cloud held for it.
    pub async fn clear_cart(&self) -> Reply<CartView> {
        self.edit_cart_releasing(|desk| {
            desk.cart = Cart::new();
            desk.pickup_payment = None;
            Ok(())
        })
        .await
    }

    /// Adds a cash or card payment (`kind` as the UI names it).
    pub fn add_tender(
        &self,
        kind: &str,
        amount_minor: i64,
        reference: Option<&str>,
    ) -> Reply<CartView> {
        let kind = TenderKind::parse(kind).ok_or_else(|| {
            ApiError::bad_input(format!("tender kind {kind:?} is not cash or card"))
        })?;
        self.edit_cart(|desk| {
            let rules = desk.till.pricing_rules()?;
            Ok(desk.cart.add_tender(rules, kind, amount_minor, reference)?)
        })
    }

    /// Removes a payment; points held at the cloud for it are given back.
    pub async fn remove_tender(&self, index: usize) -> Reply<CartView> {
        self.edit_cart_releasing(|desk| Ok(desk.cart.remove_tender(index)?))
            .await
    }

    /// Completes the paid sale: it is in the ledger, its receipt is answered, the cart starts
    /// afresh and the sync engine is told.
    pub fn complete_sale(&self) -> Reply<ReceiptView> {
        let receipt = self.with_desk(|desk| {
            let session = desk.session()?;
            let receipt = desk.till.complete_sale(&session, &desk.cart)?;
            let sale_id = desk.cart.sale_id().map(str::to_owned);
            desk.cart = Cart::new();
            if let Some(sale_id) = sale_id {
                crate::pickups::hand_over_paid(desk, &sale_id)?;
            }
            Ok(ReceiptView::new(receipt))
        })?;
        self.cloud.wake_sync();
        Ok(receipt)
    }

    pub fn search_catalog(&self, query: &str) -> Reply<Vec<ProductHit>> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(desk.till.search(query)?)
        })
    }
}
