//! `Till`: the one entry point the desktop shell, tests and benchmarks use.
//!
//! A `Till` owns the ledger connection, the clock, and this device's identity. Each method is
//! one use case (log in, scan, complete a sale, refund, read a receipt, change settings) and
//! checks its own permissions, so a caller cannot skip a rule by calling in a different order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};

use crate::cart::{Cart, CartCoupon, CartMember, Discount, PricedItem, PricingRules};
use crate::catalog::{self, ProductHit};
use crate::clock::Clock;
use crate::db;
use crate::error::{CoreError, CoreResult};
use crate::health::LedgerHealth;
use crate::ledger::{self, Device, ReceiptSummary, RefundQuote, RefundableSale};
use crate::outbox;
use crate::receipt::Receipt;
use crate::settings::{self, Language, Settings, StoreInfo};
use crate::staff::{self, ManagerApproval, StaffSession};
use crate::{loyalty, members};

mod floor;
mod pickups;
mod sync_steps;

/// The alphabet of receipt prefixes: Crockford base 32, no I, L, O or U to misread.
const PREFIX_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// How many refusals the review list shows at most.
const REVIEW_LIST_LIMIT: usize = 200;

pub struct Till {
    pub(crate) conn: Connection,
    clock: Arc<dyn Clock>,
    device: Device,
    path: PathBuf,
    /// Shared with every other connection to this file in the process (`health`).
    health: Arc<LedgerHealth>,
}

impl Drop for Till {
    /// A damaged ledger is left as it is: closing skips the checkpoint that would copy the
    /// write-ahead log into the file.
    fn drop(&mut self) {
        if self.health.is_damaged() {
            let _ = self
                .conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        }
    }
}

impl Till {
    /// Opens the ledger at `path`, creating it on first use, and makes sure this device has an
    /// identity. An unusable existing file is refused and left untouched.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> CoreResult<Till> {
        let conn = db::open_ledger(path)?;
        let health = LedgerHealth::for_ledger(path);
        if health.is_damaged() {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        }
        let device = match load_device(&conn)? {
            Some(device) => device,
            None => {
                health.ensure_writable()?;
                ensure_device(&conn, clock.as_ref())?
            }
        };
        Ok(Till {
            conn,
            clock,
            device,
            path: path.to_owned(),
            health,
        })
    }

    /// The health of this till's ledger file, shared with every connection to it.
    pub fn health(&self) -> &Arc<LedgerHealth> {
        &self.health
    }

    /// Refuses a write once the ledger was found damaged (`CoreError::LedgerDamaged`).
    pub fn ensure_writable(&self) -> CoreResult<()> {
        self.health.ensure_writable()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The raw connection, for the tests and the benchmark only (the `raw-ledger` feature):
    /// everything else goes through the typed methods of `Till`.
    #[cfg(any(test, feature = "raw-ledger"))]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    #[cfg(any(test, feature = "raw-ledger"))]
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn store(&self) -> CoreResult<StoreInfo> {
        settings::load_store(&self.conn)
    }

    pub fn settings(&self) -> CoreResult<Settings> {
        settings::load_settings(&self.conn)
    }

    pub fn pricing_rules(&self) -> CoreResult<PricingRules> {
        let store = self.store()?;
        Ok(PricingRules {
            tax_mode: store.tax_mode,
            cash_rounding_minor: store.cash_rounding_minor,
        })
    }

    /// Changes settings. Only a manager may.
    pub fn update_settings(
        &mut self,
        session: &StaffSession,
        new: &Settings,
    ) -> CoreResult<Settings> {
        self.ensure_writable()?;
        if !session.is_manager() {
            return Err(CoreError::NotManager);
        }
        new.validate()?;
        let now = self.clock.now().timestamp_millis();
        let tx = self.conn.transaction()?;
        settings::save_settings(&tx, new)?;
        tx.execute(
            "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'settings.changed', ?3)",
            params![now, session.id, format!("{new:?}")],
        )?;
        tx.commit()?;
        self.settings()
    }

    /// Switches the screen language. Anyone may, even before logging in.
    pub fn set_language(&mut self, language: Language) -> CoreResult<Settings> {
        self.ensure_writable()?;
        settings::put(&self.conn, "language", language.as_str())?;
        self.settings()
    }

    /// Logs a staff member in with their code and PIN.
    pub fn login(&mut self, code: &str, pin: &str) -> CoreResult<StaffSession> {
        self.ensure_writable()?;
        let now = self.clock.now();
        let result = staff::verify(&self.conn, code, pin, now);
        let (staff_id, action) = match &result {
            Ok(session) => (Some(session.id.clone()), "login"),
            Err(_) => (None, "login.failed"),
        };
        self.conn.execute(
            "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![
                now.timestamp_millis(),
                staff_id,
                action,
                format!("staff code {}", code.trim())
            ],
        )?;
        result
    }

    /// Checks a manager's code and PIN for one approval (a refund, an override).
    pub fn approve_as_manager(&mut self, code: &str, pin: &str) -> CoreResult<ManagerApproval> {
        self.ensure_writable()?;
        staff::approve(&self.conn, code, pin, self.clock.now())
    }

    /// Looks up a scanned barcode, priced now.
    pub fn scan(&self, code: &str) -> CoreResult<PricedItem> {
        catalog::scan(&self.conn, code, self.clock.now())
    }

    /// Looks up a product chosen from search, priced now.
    pub fn item(&self, product_id: i64) -> CoreResult<PricedItem> {
        catalog::priced_item(&self.conn, product_id, None, self.clock.now())
    }

    pub fn search(&self, query: &str) -> CoreResult<Vec<ProductHit>> {
        catalog::search(&self.conn, query, self.clock.now())
    }

    /// Records a fully paid cart as a sale and returns its receipt.
    pub fn complete_sale(&mut self, session: &StaffSession, cart: &Cart) -> CoreResult<Receipt> {
        self.ensure_writable()?;
        // The sync engine may have enrolled this till (a new receipt prefix) on its own
        // connection since the last sale.
        self.reload_device()?;
        let store = self.store()?;
        let rules = PricingRules {
            tax_mode: store.tax_mode,
            cash_rounding_minor: store.cash_rounding_minor,
        };
        let sale_id = match cart.sale_id() {
            Some(fixed) => fixed.to_owned(),
            None => self.clock.new_id().to_string(),
        };
        let op_id = self.clock.new_id().to_string();
        let now = self.clock.now();
        let receipt_no = ledger::complete_sale(
            &mut self.conn,
            &self.device,
            &store,
            rules,
            session,
            cart,
            &sale_id,
            &op_id,
            now,
        )?;
        ledger::receipt(&self.conn, &store, &receipt_no)
    }

    /// Finds a member by a typed or scanned phone number, e-mail, card number or QR code in
    /// this till's member cache.
    pub fn lookup_member(&self, input: &str) -> CoreResult<members::Lookup> {
        members::lookup(&self.conn, input, self.clock.now())
    }

    /// Enrols a new member at this till, online or offline (the sync engine sends the
    /// enrolment on; the cloud merges it into a member who already has the phone or e-mail).
    pub fn enrol_member(
        &mut self,
        session: &StaffSession,
        request: &members::Enrolment,
    ) -> CoreResult<members::MemberView> {
        self.ensure_writable()?;
        let member_id = self.clock.new_id().to_string();
        let op_id = self.clock.new_id().to_string();
        let now = self.clock.now();
        members::enrol(
            &mut self.conn,
            request,
            &session.id,
            &member_id,
            &op_id,
            now,
        )
    }

    /// A cached member as the cashier sees them.
    pub fn member(&self, member_id: &str) -> CoreResult<members::MemberView> {
        members::view(&self.conn, member_id)?
            .ok_or_else(|| CoreError::NotFound(format!("member {member_id}")))
    }

    /// Caches a member the cloud answered for (a look-up of a member not yet in the cache).
    pub fn cache_member(
        &mut self,
        member: &omnitill_protocol::loyalty::CachedMember,
    ) -> CoreResult<members::MemberView> {
        self.ensure_writable()?;
        let as_of_seq = crate::sync::link(&self.conn)?.map_or(0, |l| l.last_applied_seq);
        members::apply_member(
            &self.conn,
            member,
            as_of_seq,
            self.clock.now().timestamp_millis(),
        )?;
        // The cloud's answer carries the member's memory-hard look-up hashes: the member was
        // looked up here, so the next look-up finds them offline.
        if member.phone_hash.is_some() || member.email_hash.is_some() {
            members::apply_lookup_keys(
                &self.conn,
                &omnitill_protocol::loyalty::MemberLookupKeys {
                    member_id: member.id.clone(),
                    phone_hash: member.phone_hash.clone(),
                    email_hash: member.email_hash.clone(),
                },
            )?;
        }
        self.member(&member.id)
    }

    /// Attaches a cached member to the cart, with their tier's discount.
    pub fn attach_member(
        &self,
        cart: &mut Cart,
        member_id: &str,
    ) -> CoreResult<members::MemberView> {
        let member = self.member(member_id)?;
        cart.set_member(Some(CartMember {
            member_id: member.id.clone(),
            name: member.name.clone(),
            tier: member.tier.clone(),
            tier_name: member.tier_name.clone(),
            tier_discount_bp: member.tier_discount_bp,
        }))?;
        Ok(member)
    }

    /// Applies one of the attached member's coupons. `reserved_online` says it was reserved at
    /// the cloud for this sale; otherwise it is used offline and checked at sync.
    pub fn apply_coupon(
        &self,
        cart: &mut Cart,
        coupon_id: &str,
        reserved_online: bool,
    ) -> CoreResult<()> {
        let member_id = cart
            .member()
            .map(|m| m.member_id.clone())
            .ok_or_else(|| CoreError::BadInput("attach the member before using a coupon".into()))?;
        let member = self.member(&member_id)?;
        let coupon = member
            .coupons
            .iter()
            .find(|c| c.id == coupon_id)
            .ok_or_else(|| CoreError::NotFound(format!("coupon {coupon_id} of this member")))?;
        let now = self.clock.now().timestamp_millis();
        if now < coupon.valid_from_ms || now >= coupon.valid_to_ms {
            return Err(CoreError::BadDiscount(format!(
                "the coupon \"{}\" is not valid today",
                coupon.title
            )));
        }
        let discount = match coupon.discount_kind.as_str() {
            "percent" => Discount::Percent {
                basis_points: u32::try_from(coupon.value).unwrap_or(0),
            },
            _ => Discount::Amount {
                minor: coupon.value,
            },
        };
        cart.set_coupon(
            self.pricing_rules()?,
            Some(CartCoupon {
                coupon_id: coupon.id.clone(),
                title: coupon.title.clone(),
                discount,
                min_spend_minor: coupon.min_spend_minor,
                reserved_online,
            }),
        )
    }

    /// What one point pays, in minor units, under the brand's rules.
    pub fn point_value_minor(&self) -> CoreResult<i64> {
        Ok(members::rules(&self.conn)?.point_value_minor)
    }

    /// The cart's sale id, fixed now if it was not: the key of anything held at the cloud for
    /// this sale (points, a coupon).
    pub fn fix_sale_id(&self, cart: &mut Cart) -> String {
        cart.fix_sale_id(|| self.clock.new_id().to_string())
    }

    /// How many of the attached member's points this till may redeem offline, and why.
    pub fn offline_points_limit(&self, member_id: &str) -> CoreResult<loyalty::OfflineLimit> {
        Ok(loyalty::offline_limit(members::offline_facts(
            &self.conn, member_id,
        )?))
    }

    /// Pays part of the cart with the attached member's points. Offline (`reserved_online`
    /// false) the points must fit the offline bound, said in words when they do not; online
    /// the caller has held them at the cloud under the cart's sale id.
    pub fn pay_with_points(
        &self,
        cart: &mut Cart,
        points: i64,
        reserved_online: bool,
    ) -> CoreResult<()> {
        let member_id = cart
            .member()
            .map(|m| m.member_id.clone())
            .ok_or_else(|| CoreError::BadTender("attach a member to pay with points".into()))?;
        if !reserved_online {
            let limit = self.offline_points_limit(&member_id)?;
            let asked = points + cart.points_redeemed();
            if asked > limit.points {
                return Err(CoreError::OfflinePointsLimit(
                    members::offline_limit_message(&limit, asked),
                ));
            }
        }
        let value = members::rules(&self.conn)?.point_value_minor;
        cart.add_points_tender(self.pricing_rules()?, points, value, reserved_online)
    }

    pub fn receipt(&self, receipt_no: &str) -> CoreResult<Receipt> {
        ledger::receipt(&self.conn, &self.store()?, receipt_no)
    }

    pub fn recent_receipts(&self, limit: usize) -> CoreResult<Vec<ReceiptSummary>> {
        ledger::recent(&self.conn, &self.store()?, limit.min(200))
    }

    pub fn refundable(&self, receipt_no: &str) -> CoreResult<RefundableSale> {
        ledger::refundable(&self.conn, &self.store()?, receipt_no)
    }

    /// What refunding `lines` (line number, quantity) of a past sale would give back, line by
    /// line, computed as `refund` computes it: what the refund screen shows before the manager
    /// approves.
    pub fn refund_quote(&self, receipt_no: &str, lines: &[(i64, i64)]) -> CoreResult<RefundQuote> {
        ledger::refund_quote(&self.conn, receipt_no, lines)
    }

    /// Refunds lines of a past sale, as (line number, quantity) pairs. A manager's approval is
    /// required every time, even when the logged-in staff member is a manager.
    pub fn refund(
        &mut self,
        session: &StaffSession,
        approval: &ManagerApproval,
        receipt_no: &str,
        lines: &[(i64, i64)],
    ) -> CoreResult<Receipt> {
        self.ensure_writable()?;
        self.reload_device()?;
        let refund_id = self.clock.new_id().to_string();
        let op_id = self.clock.new_id().to_string();
        let now = self.clock.now();
        let refund_no = ledger::refund(
            &mut self.conn,
            &self.device,
            session,
            approval,
            receipt_no,
            lines,
            &refund_id,
            &op_id,
            now,
        )?;
        self.receipt(&refund_no)
    }

    /// Records that the till locked itself or was locked.
    pub fn record_lock(&self, session: Option<&StaffSession>) -> CoreResult<()> {
        self.ensure_writable()?;
        self.conn.execute(
            "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'lock', 'till locked')",
            params![self.clock.now().timestamp_millis(), session.map(|s| s.id.clone())],
        )?;
        Ok(())
    }

    /// Indexes up to `limit` products waiting in the search backlog, in one short durable
    /// transaction, and returns how many it indexed.
    pub fn index_search(&mut self, limit: usize) -> CoreResult<usize> {
        self.ensure_writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let indexed = catalog::index_pending(&tx, limit)?;
        tx.commit()?;
        Ok(indexed)
    }

    /// Whether any product waits to be indexed for search (cheap).
    pub fn search_waiting(&self) -> CoreResult<bool> {
        catalog::search_backlog_nonempty(&self.conn)
    }

    /// How many products wait to be indexed for search (reads the whole backlog).
    pub fn search_backlog(&self) -> CoreResult<i64> {
        catalog::search_backlog_len(&self.conn)
    }

    /// Unacknowledged outbox operations and the time of the oldest (Unix ms).
    pub fn pending_operations(&self) -> CoreResult<(i64, Option<i64>)> {
        outbox::pending_summary(&self.conn)
    }

    /// Operations the cloud refused, newest first: those still to review, or all. Managers
    /// only.
    pub fn refusals(
        &self,
        session: &StaffSession,
        include_reviewed: bool,
    ) -> CoreResult<Vec<crate::review::Refusal>> {
        if !session.is_manager() {
            return Err(CoreError::NotManager);
        }
        crate::review::refusals(&self.conn, include_reviewed, REVIEW_LIST_LIMIT)
    }

    /// How many refusals wait for a manager's review.
    pub fn unreviewed_refusals(&self) -> CoreResult<i64> {
        crate::review::unreviewed_count(&self.conn)
    }

    /// Marks a refusal reviewed, with the manager's note. Only a manager may.
    pub fn mark_refusal_reviewed(
        &mut self,
        session: &StaffSession,
        seq: i64,
        note: &str,
    ) -> CoreResult<crate::review::Refusal> {
        self.ensure_writable()?;
        let now = self.clock.now();
        crate::review::mark_reviewed(&mut self.conn, session, seq, note, now)
    }

    /// Member conflicts the cloud found (overdrafts, coupons used twice, merged enrolments):
    /// those still open, or all of them. Managers only.
    pub fn member_conflicts(
        &self,
        session: &StaffSession,
        include_resolved: bool,
    ) -> CoreResult<Vec<members::Conflict>> {
        if !session.is_manager() {
            return Err(CoreError::NotManager);
        }
        members::conflicts(&self.conn, include_resolved, 200)
    }

    /// Open member conflicts, for the status bar.
    pub fn open_member_conflicts(&self) -> CoreResult<i64> {
        members::open_conflicts(&self.conn)
    }

    /// A manager marks a member conflict resolved with a note; the resolution syncs to the
    /// cloud as an operation.
    pub fn resolve_member_conflict(
        &mut self,
        session: &StaffSession,
        conflict_id: &str,
        note: &str,
    ) -> CoreResult<members::Conflict> {
        self.ensure_writable()?;
        let approval = ManagerApproval::from_session(session)?;
        let op_id = self.clock.new_id().to_string();
        let now_ms = self.clock.now().timestamp_millis();
        members::resolve_conflict(
            &mut self.conn,
            &approval.manager_id,
            conflict_id,
            note,
            &op_id,
            now_ms,
        )
    }

    /// Runs SQLite's full integrity check.
    pub fn integrity_check(&self) -> CoreResult<Vec<String>> {
        db::integrity_check(&self.conn)
    }

    /// Stock on hand in this till's view (see `sync::stock_on_hand`).
    pub fn stock_on_hand(&self, sku: &str) -> CoreResult<i64> {
        crate::sync::stock_on_hand(&self.conn, sku)
    }

    /// Re-reads this device's identity (its receipt prefix changes at enrolment).
    pub fn reload_device(&mut self) -> CoreResult<()> {
        self.device = ensure_device(&self.conn, self.clock.as_ref())?;
        Ok(())
    }
}

fn load_device(conn: &Connection) -> CoreResult<Option<Device>> {
    Ok(conn
        .query_row(
            "SELECT device_id, receipt_prefix FROM device WHERE id = 1",
            [],
            |row| {
                Ok(Device {
                    device_id: row.get(0)?,
                    receipt_prefix: row.get(1)?,
                })
            },
        )
        .optional()?)
}

fn ensure_device(conn: &Connection, clock: &dyn Clock) -> CoreResult<Device> {
    if let Some(device) = load_device(conn)? {
        return Ok(device);
    }
    let mut rng = rand::rng();
    let prefix: String = (0..4)
        .map(|_| PREFIX_ALPHABET[rng.random_range(0..PREFIX_ALPHABET.len())] as char)
        .collect();
    let device = Device {
        device_id: clock.new_id().to_string(),
        receipt_prefix: prefix,
    };
    conn.execute(
        "INSERT INTO device (id, device_id, receipt_prefix, created_at) VALUES (1, ?1, ?2, ?3)",
        params![
            device.device_id,
            device.receipt_prefix,
            clock.now().timestamp_millis()
        ],
    )?;
    Ok(device)
}
