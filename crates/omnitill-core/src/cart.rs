//! The cart and its pricing rules: lines, discounts, tax, cash rounding and tenders.
//!
//! A `Cart` lives in memory while the cashier works; nothing reaches the ledger until
//! `Till::complete_sale`. Pricing is a pure function of the cart and `PricingRules`:
//!
//! 1. Each line's gross is unit price x quantity. A line discount (a percentage, rounded half
//!    away from zero, or an amount no larger than the gross) comes off first.
//! 2. Cart-level discounts come next, each on what the one before left: the cashier's cart
//!    discount, then the member's tier discount (a percentage), then a member's coupon (a
//!    percentage or an amount, only while the sale reaches the coupon's minimum spend). Their
//!    sum is shared out over the lines in proportion to what each line came to after its own
//!    discount, by the largest-remainder method, so the shares add up exactly.
//! 3. Tax is computed per line on what remains, rounded half away from zero to one minor unit.
//!    Inclusive stores report it out of the price (amount x rate / (1 + rate)); exclusive stores
//!    add it. Sale totals are the sums of the line figures, never recomputed on the total.
//! 4. Card and points tenders pay exact amounts, never more than is due (points at the brand's
//!    point value). When a cash tender settles the rest of a sale, the
//!    rest is rounded to the store's cash increment (for example 0.10) and the difference is
//!    recorded as the sale's rounding. A cash tender that does not settle is taken as it is.
//!
//! Once a tender has been taken, the lines and discounts are frozen until the tenders are
//! removed, so the amount a customer has paid never silently changes meaning.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};
use crate::money::{self, Minor};
use crate::receipt::TenderKind;
use crate::settings::TaxMode;

/// The largest quantity on one line. A quantity above it is almost surely a scanner typing a
/// barcode into the quantity field.
pub const MAX_LINE_QUANTITY: i64 = 9_999;
/// The most lines one sale may have.
pub const MAX_LINES: usize = 500;
/// The most tenders one sale may have.
pub const MAX_TENDERS: usize = 20;
/// The most change a cash tender may produce, in minor units: more is a typing slip.
pub const MAX_CHANGE_MINOR: Minor = 10_000_000;
/// The longest card terminal reference.
pub const MAX_REFERENCE_LEN: usize = 64;

/// A discount on a line or on the whole cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// A percentage in basis points: 1,000 is 10 %.
    Percent { basis_points: u32 },
    /// A fixed amount in minor units.
    Amount { minor: Minor },
}

impl Discount {
    fn amount_on(self, base: Minor) -> Minor {
        match self {
            Discount::Percent { basis_points } => money::percent_of(base, basis_points),
            Discount::Amount { minor } => minor.min(base),
        }
    }

    fn validate(self, base: Minor) -> CoreResult<()> {
        match self {
            Discount::Percent { basis_points } if basis_points == 0 || basis_points > 10_000 => {
                Err(CoreError::BadDiscount(
                    "a percentage discount must be more than 0 % and at most 100 %".into(),
                ))
            }
            Discount::Amount { minor } if minor <= 0 => Err(CoreError::BadDiscount(
                "a discount amount must be more than zero".into(),
            )),
            Discount::Amount { minor } if minor > base => Err(CoreError::BadDiscount(
                "the discount is more than the amount it applies to".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A product as priced at the moment it was scanned. The sale keeps this price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PricedItem {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub barcode: Option<String>,
    pub unit_price_minor: Minor,
    pub tax_rate_bp: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub line_id: u32,
    pub item: PricedItem,
    pub quantity: i64,
    pub discount: Option<Discount>,
}

/// The member attached to a sale, as the till knew them when they were attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CartMember {
    pub member_id: String,
    pub name: String,
    pub tier: String,
    pub tier_name: String,
    /// The tier's discount on the sale, in basis points.
    pub tier_discount_bp: u32,
}

/// A member's coupon applied to the sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CartCoupon {
    pub coupon_id: String,
    pub title: String,
    pub discount: Discount,
    /// The least the sale must come to (after other discounts) for the coupon to apply.
    pub min_spend_minor: Minor,
    /// Reserved at the cloud for this sale (false: used offline, checked at sync).
    pub reserved_online: bool,
}

/// A payment taken for the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tender {
    pub kind: TenderKind,
    /// What the sale keeps from this tender.
    pub amount_minor: Minor,
    /// What the customer handed over (cash) or was charged (card).
    pub tendered_minor: Minor,
    pub change_minor: Minor,
    /// The cash rounding this tender settled the sale with (zero unless it settled it).
    pub rounding_minor: Minor,
    pub reference: Option<String>,
    /// Points redeemed (points tenders only).
    pub points: i64,
    /// Whether points were reserved at the cloud (points tenders only; false: offline).
    pub reserved_online: bool,
}

/// The store rules pricing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingRules {
    pub tax_mode: TaxMode,
    pub cash_rounding_minor: Minor,
}

/// One line's figures after all discounts and tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTotals {
    pub line_id: u32,
    pub gross_minor: Minor,
    pub line_discount_minor: Minor,
    pub cart_discount_share_minor: Minor,
    pub tax_minor: Minor,
    /// What the customer pays for the line: tax included in both tax modes.
    pub total_minor: Minor,
}

impl LineTotals {
    pub fn discount_minor(&self) -> Minor {
        self.line_discount_minor + self.cart_discount_share_minor
    }
}

/// The cart's figures. `due_minor` is what a card would still pay; `cash_due_minor` what cash
/// would, after rounding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartTotals {
    pub lines: Vec<LineTotals>,
    pub subtotal_minor: Minor,
    /// Every discount: lines', the cart's, the tier's and the coupon's.
    pub discount_minor: Minor,
    /// The member's tier discount, part of `discount_minor`.
    pub tier_discount_minor: Minor,
    /// The coupon's discount, part of `discount_minor`.
    pub coupon_discount_minor: Minor,
    pub tax_minor: Minor,
    pub total_minor: Minor,
    pub rounding_minor: Minor,
    pub paid_minor: Minor,
    pub due_minor: Minor,
    pub cash_due_minor: Minor,
    pub change_minor: Minor,
    pub fully_paid: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<CartLine>,
    next_line_id: u32,
    cart_discount: Option<Discount>,
    tenders: Vec<Tender>,
    member: Option<CartMember>,
    coupon: Option<CartCoupon>,
    /// The sale's id, fixed once something at the cloud is keyed by it (a points hold).
    sale_id: Option<String>,
}

impl Cart {
    pub fn new() -> Cart {
        Cart::default()
    }

    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    pub fn tenders(&self) -> &[Tender] {
        &self.tenders
    }

    pub fn cart_discount(&self) -> Option<Discount> {
        self.cart_discount
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn member(&self) -> Option<&CartMember> {
        self.member.as_ref()
    }

    pub fn coupon(&self) -> Option<&CartCoupon> {
        self.coupon.as_ref()
    }

    /// The sale's id if one was fixed in advance.
    pub fn sale_id(&self) -> Option<&str> {
        self.sale_id.as_deref()
    }

    /// Fixes the sale's id (the first call wins) and returns it.
    pub fn fix_sale_id(&mut self, new_id: impl FnOnce() -> String) -> String {
        self.sale_id.get_or_insert_with(new_id).clone()
    }

    /// Attaches a member (replacing another) or, with `None`, takes the member off with their
    /// coupon. Not once payments are taken.
    pub fn set_member(&mut self, member: Option<CartMember>) -> CoreResult<()> {
        self.ensure_editable()?;
        if member.as_ref().map(|m| &m.member_id) != self.member.as_ref().map(|m| &m.member_id) {
            self.coupon = None;
        }
        if let Some(member) = &member
            && member.tier_discount_bp > 10_000
        {
            return Err(CoreError::BadDiscount(
                "a tier discount cannot be more than 100 %".into(),
            ));
        }
        self.member = member;
        Ok(())
    }

    /// Applies a member's coupon, or takes it off with `None`. The sale must have a member and
    /// reach the coupon's minimum spend.
    pub fn set_coupon(
        &mut self,
        rules: PricingRules,
        coupon: Option<CartCoupon>,
    ) -> CoreResult<()> {
        self.ensure_editable()?;
        if let Some(coupon) = &coupon {
            if self.member.is_none() {
                return Err(CoreError::BadInput(
                    "attach the member before using their coupon".into(),
                ));
            }
            let before = self.before_coupon(rules);
            if before < coupon.min_spend_minor {
                return Err(CoreError::BadDiscount(format!(
                    "the coupon \"{}\" needs a larger sale: see its minimum spend",
                    coupon.title
                )));
            }
            match coupon.discount {
                Discount::Percent { .. } => coupon.discount.validate(before)?,
                Discount::Amount { minor } if minor <= 0 => coupon.discount.validate(before)?,
                Discount::Amount { .. } => {}
            }
        }
        self.coupon = coupon;
        Ok(())
    }

    /// What the sale comes to before the coupon: after line, cart and tier discounts.
    fn before_coupon(&self, rules: PricingRules) -> Minor {
        let (base, manual, tier) = self.cart_level(rules);
        base - manual - tier
    }

    /// (lines after their discounts, the cart discount, the tier discount).
    fn cart_level(&self, _rules: PricingRules) -> (Minor, Minor, Minor) {
        let base = self.after_line_discounts();
        let manual = self.cart_discount.map_or(0, |d| d.amount_on(base));
        let tier = self
            .member
            .as_ref()
            .map_or(0, |m| money::percent_of(base - manual, m.tier_discount_bp));
        (base, manual, tier)
    }

    /// Pays with `points` of the attached member at `point_value_minor` each: never more than
    /// is due. `reserved_online` says the points were held at the cloud for this sale;
    /// otherwise the caller has checked the offline bound.
    pub fn add_points_tender(
        &mut self,
        rules: PricingRules,
        points: i64,
        point_value_minor: Minor,
        reserved_online: bool,
    ) -> CoreResult<()> {
        if self.member.is_none() {
            return Err(CoreError::BadTender(
                "attach a member to pay with points".into(),
            ));
        }
        if self.lines.is_empty() {
            return Err(CoreError::EmptyCart);
        }
        if self.tenders.len() >= MAX_TENDERS {
            return Err(CoreError::BadTender(format!(
                "a sale can have at most {MAX_TENDERS} payments"
            )));
        }
        if points <= 0 || point_value_minor <= 0 {
            return Err(CoreError::BadTender(
                "enter how many points to use (more than 0)".into(),
            ));
        }
        if self
            .tenders
            .iter()
            .any(|t| t.kind == TenderKind::Points && t.reserved_online != reserved_online)
        {
            return Err(CoreError::BadTender(
                "points on one sale are either all reserved online or all offline".into(),
            ));
        }
        let amount = points.checked_mul(point_value_minor).unwrap_or(Minor::MAX);
        let due = self.totals(rules).due_minor;
        if amount > due {
            return Err(CoreError::BadTender(format!(
                "{points} points pay more than is still due"
            )));
        }
        self.tenders.push(Tender {
            kind: TenderKind::Points,
            amount_minor: amount,
            tendered_minor: amount,
            change_minor: 0,
            rounding_minor: 0,
            reference: None,
            points,
            reserved_online,
        });
        Ok(())
    }

    /// Points redeemed on this cart so far.
    pub fn points_redeemed(&self) -> i64 {
        self.tenders
            .iter()
            .filter(|t| t.kind == TenderKind::Points)
            .map(|t| t.points)
            .sum()
    }

    fn ensure_editable(&self) -> CoreResult<()> {
        if self.tenders.is_empty() {
            Ok(())
        } else {
            Err(CoreError::BadInput(
                "payments have been taken: remove them before changing the cart".into(),
            ))
        }
    }

    fn line_index(&self, line_id: u32) -> CoreResult<usize> {
        self.lines
            .iter()
            .position(|line| line.line_id == line_id)
            .ok_or_else(|| CoreError::NotFound(format!("cart line {line_id}")))
    }

    fn check_quantity(quantity: i64) -> CoreResult<()> {
        if (1..=MAX_LINE_QUANTITY).contains(&quantity) {
            Ok(())
        } else {
            Err(CoreError::BadQuantity(quantity))
        }
    }

    /// Adds `quantity` of an item. Scanning an item that is already on a line at the same price
    /// adds to that line. Returns the line's id.
    pub fn add_item(&mut self, item: PricedItem, quantity: i64) -> CoreResult<u32> {
        self.ensure_editable()?;
        Self::check_quantity(quantity)?;
        if let Some(line) = self.lines.iter_mut().find(|line| {
            line.item.product_id == item.product_id
                && line.item.unit_price_minor == item.unit_price_minor
        }) {
            let new_quantity = line.quantity + quantity;
            Self::check_quantity(new_quantity)?;
            let gross = line.item.unit_price_minor * new_quantity;
            if let Some(discount) = line.discount {
                discount.validate(gross)?;
            }
            line.quantity = new_quantity;
            return Ok(line.line_id);
        }
        if self.lines.len() >= MAX_LINES {
            return Err(CoreError::BadInput(format!(
                "a sale can have at most {MAX_LINES} lines"
            )));
        }
        self.next_line_id += 1;
        let line_id = self.next_line_id;
        self.lines.push(CartLine {
            line_id,
            item,
            quantity,
            discount: None,
        });
        Ok(line_id)
    }

    pub fn set_quantity(&mut self, line_id: u32, quantity: i64) -> CoreResult<()> {
        self.ensure_editable()?;
        Self::check_quantity(quantity)?;
        let index = self.line_index(line_id)?;
        let line = &self.lines[index];
        if let Some(discount) = line.discount {
            discount.validate(line.item.unit_price_minor * quantity)?;
        }
        self.lines[index].quantity = quantity;
        self.check_cart_discount_still_fits()
    }

    pub fn remove_line(&mut self, line_id: u32) -> CoreResult<()> {
        self.ensure_editable()?;
        let index = self.line_index(line_id)?;
        self.lines.remove(index);
        if self.lines.is_empty() {
            self.cart_discount = None;
        }
        self.check_cart_discount_still_fits()
    }

    pub fn set_line_discount(
        &mut self,
        line_id: u32,
        discount: Option<Discount>,
    ) -> CoreResult<()> {
        self.ensure_editable()?;
        let index = self.line_index(line_id)?;
        let line = &self.lines[index];
        if let Some(discount) = discount {
            discount.validate(line.item.unit_price_minor * line.quantity)?;
        }
        let previous = self.lines[index].discount;
        self.lines[index].discount = discount;
        if let Err(e) = self.check_cart_discount_still_fits() {
            self.lines[index].discount = previous;
            return Err(e);
        }
        Ok(())
    }

    pub fn set_cart_discount(&mut self, discount: Option<Discount>) -> CoreResult<()> {
        self.ensure_editable()?;
        if let Some(discount) = discount {
            if self.lines.is_empty() {
                return Err(CoreError::EmptyCart);
            }
            discount.validate(self.after_line_discounts())?;
        }
        self.cart_discount = discount;
        Ok(())
    }

    /// An amount cart discount must keep fitting when lines shrink.
    fn check_cart_discount_still_fits(&self) -> CoreResult<()> {
        match self.cart_discount {
            Some(discount) => discount.validate(self.after_line_discounts()),
            None => Ok(()),
        }
    }

    fn after_line_discounts(&self) -> Minor {
        self.lines
            .iter()
            .map(|line| {
                let gross = line.item.unit_price_minor * line.quantity;
                gross - line.discount.map_or(0, |d| d.amount_on(gross))
            })
            .sum()
    }

    /// Takes a payment. For cash, `amount_minor` is what the customer hands over; for card, what
    /// the terminal charged, which may not exceed what is due.
    pub fn add_tender(
        &mut self,
        rules: PricingRules,
        kind: TenderKind,
        amount_minor: Minor,
        reference: Option<&str>,
    ) -> CoreResult<()> {
        if self.lines.is_empty() {
            return Err(CoreError::EmptyCart);
        }
        if self.tenders.len() >= MAX_TENDERS {
            return Err(CoreError::BadTender(format!(
                "a sale can have at most {MAX_TENDERS} payments"
            )));
        }
        let totals = self.totals(rules);
        if totals.fully_paid {
            return Err(CoreError::BadTender(
                "the sale is already fully paid".into(),
            ));
        }
        if amount_minor < 0 {
            return Err(CoreError::BadTender("an amount cannot be negative".into()));
        }
        let tender = match kind {
            TenderKind::Points => {
                return Err(CoreError::BadTender(
                    "points are paid with the member's points, not as cash or card".into(),
                ));
            }
            TenderKind::Card => {
                if amount_minor == 0 {
                    return Err(CoreError::BadTender(
                        "enter the amount charged on the card".into(),
                    ));
                }
                if amount_minor > totals.due_minor {
                    return Err(CoreError::CardExceedsDue {
                        card: amount_minor,
                        due: totals.due_minor,
                    });
                }
                let reference = reference.map(str::trim).unwrap_or("");
                if reference.is_empty()
                    || reference.chars().count() > MAX_REFERENCE_LEN
                    || reference.chars().any(char::is_control)
                {
                    return Err(CoreError::BadTender(format!(
                        "a card payment needs the terminal reference (1 to {MAX_REFERENCE_LEN} characters)"
                    )));
                }
                Tender {
                    kind,
                    amount_minor,
                    tendered_minor: amount_minor,
                    change_minor: 0,
                    rounding_minor: 0,
                    reference: Some(reference.to_owned()),
                    points: 0,
                    reserved_online: false,
                }
            }
            TenderKind::Cash => {
                let cash_due = totals.cash_due_minor;
                if amount_minor == 0 && cash_due > 0 {
                    return Err(CoreError::BadTender("enter the cash received".into()));
                }
                if amount_minor > cash_due.saturating_add(MAX_CHANGE_MINOR) {
                    return Err(CoreError::BadTender(
                        "that is far more cash than is due: check the amount".into(),
                    ));
                }
                if amount_minor >= cash_due {
                    Tender {
                        kind,
                        amount_minor: cash_due,
                        tendered_minor: amount_minor,
                        change_minor: amount_minor - cash_due,
                        rounding_minor: cash_due - totals.due_minor,
                        reference: None,
                        points: 0,
                        reserved_online: false,
                    }
                } else {
                    Tender {
                        kind,
                        amount_minor,
                        tendered_minor: amount_minor,
                        change_minor: 0,
                        rounding_minor: 0,
                        reference: None,
                        points: 0,
                        reserved_online: false,
                    }
                }
            }
        };
        self.tenders.push(tender);
        Ok(())
    }

    pub fn remove_tender(&mut self, index: usize) -> CoreResult<()> {
        if index >= self.tenders.len() {
            return Err(CoreError::NotFound(format!("payment {}", index + 1)));
        }
        self.tenders.remove(index);
        Ok(())
    }

    /// Prices the cart.
    pub fn totals(&self, rules: PricingRules) -> CartTotals {
        let grosses: Vec<Minor> = self
            .lines
            .iter()
            .map(|line| line.item.unit_price_minor * line.quantity)
            .collect();
        let line_discounts: Vec<Minor> = self
            .lines
            .iter()
            .zip(&grosses)
            .map(|(line, gross)| line.discount.map_or(0, |d| d.amount_on(*gross)))
            .collect();
        let after_line: Vec<Minor> = grosses
            .iter()
            .zip(&line_discounts)
            .map(|(gross, discount)| gross - discount)
            .collect();
        let (base, manual, tier) = self.cart_level(rules);
        let before_coupon = base - manual - tier;
        let coupon = match &self.coupon {
            Some(coupon) if before_coupon >= coupon.min_spend_minor => {
                coupon.discount.amount_on(before_coupon)
            }
            _ => 0,
        };
        let shares = allocate(manual + tier + coupon, &after_line);

        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            let amount = after_line[index] - shares[index];
            let (tax, total) = match rules.tax_mode {
                TaxMode::Inclusive => (money::inclusive_tax(amount, line.item.tax_rate_bp), amount),
                TaxMode::Exclusive => {
                    let tax = money::exclusive_tax(amount, line.item.tax_rate_bp);
                    (tax, amount + tax)
                }
            };
            lines.push(LineTotals {
                line_id: line.line_id,
                gross_minor: grosses[index],
                line_discount_minor: line_discounts[index],
                cart_discount_share_minor: shares[index],
                tax_minor: tax,
                total_minor: total,
            });
        }
        let subtotal = grosses.iter().sum();
        let discount = lines.iter().map(LineTotals::discount_minor).sum();
        let tax = lines.iter().map(|l| l.tax_minor).sum();
        let total: Minor = lines.iter().map(|l| l.total_minor).sum();
        let paid: Minor = self.tenders.iter().map(|t| t.amount_minor).sum();
        let rounding: Minor = self.tenders.iter().map(|t| t.rounding_minor).sum();
        let change = self.tenders.iter().map(|t| t.change_minor).sum();
        let due = (total + rounding - paid).max(0);
        let cash_due = money::round_to_increment(due, rules.cash_rounding_minor).max(0);
        CartTotals {
            lines,
            subtotal_minor: subtotal,
            discount_minor: discount,
            tier_discount_minor: tier,
            coupon_discount_minor: coupon,
            tax_minor: tax,
            total_minor: total,
            rounding_minor: rounding,
            paid_minor: paid,
            due_minor: due,
            cash_due_minor: cash_due,
            change_minor: change,
            fully_paid: !self.lines.is_empty() && due == 0,
        }
    }
}

/// Shares `amount` out over `weights` in proportion, largest remainder first (ties go to the
/// earlier line), so the shares add up to exactly `amount`.
pub fn allocate(amount: Minor, weights: &[Minor]) -> Vec<Minor> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if amount == 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(*weight);
        shares.push((exact / total) as Minor);
        remainders.push((exact % total, index));
    }
    let mut left = amount - shares.iter().sum::<Minor>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders {
        if left <= 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    shares
}

#[cfg(test)]
mod tests;
