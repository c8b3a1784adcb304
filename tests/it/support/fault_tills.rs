//! Enrolled tills for the network-fault scenarios, made quickly because some need many.
//!
//! Seeding the demo ledger costs argon2 PIN hashes and a catalog with its search index, and
//! every log-in costs an argon2 verification. `LedgerTemplate` pays for them once: it seeds one
//! ledger, logs the cashier and the manager in on it, and hands out copies of the file. A copy
//! drops the original's device row before it opens, so it makes its own device id, and its
//! enrolment gives it the receipt prefix the cloud assigns; the staff rows are the original's,
//! so the sessions logged in once are valid on every copy. A copy's clock starts at the real
//! time, because the cloud dates its price schedule by the real time.
//!
//! `sell` and `refund_one` ring up sales and refunds on a till with those sessions, and `heal`
//! lifts a fault from a till's link and waits until its proxy listens again.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use omnitill_core::{
    Cart, ManagerApproval, ManualClock, StaffSession, TenderKind, Till, demo, sync as ledger_sync,
};
use omnitill_sync::{Client, engine};
use rand::Rng;

use super::cloud::CloudProcess;
use super::proxy::FaultProxy;
use super::tills::SyncedTill;
use super::{TempTill, ledger_path};

/// One seeded demo ledger to copy, with its staff logged in.
pub struct LedgerTemplate {
    original: TempTill,
    pub staff: Staff,
}

/// The demo cashier's session, the demo manager's session and approval, valid on every copy.
#[derive(Clone)]
pub struct Staff {
    pub cashier: StaffSession,
    pub manager: StaffSession,
    pub approval: ManagerApproval,
}

impl LedgerTemplate {
    pub fn new() -> LedgerTemplate {
        let mut original = TempTill::demo();
        let cashier = original.cashier();
        let manager = original.manager();
        let approval = ManagerApproval::from_session(&manager).expect("the manager approves");
        // Everything the copies need must be in the main file, not in the write-ahead log.
        original
            .till
            .connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
            .expect("the template's log is checkpointed");
        LedgerTemplate {
            original,
            staff: Staff {
                cashier,
                manager,
                approval,
            },
        }
    }

    /// A copy of the seeded ledger in its own directory, with a device identity of its own.
    pub fn copy(&self) -> TempTill {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = ledger_path(dir.path());
        std::fs::copy(ledger_path(self.original._dir.path()), &path)
            .expect("the template ledger copies");
        rusqlite::Connection::open(&path)
            .and_then(|conn| conn.execute("DELETE FROM device", []))
            .expect("the copy forgets the template's device identity");
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let till = Till::open(&path, clock.clone()).expect("the copied ledger opens");
        assert_ne!(
            till.device().device_id,
            self.original.till.device().device_id,
            "a copied ledger makes its own device id, or two tills would share one"
        );
        TempTill {
            _dir: dir,
            clock,
            till,
        }
    }

    /// Enrols a copy for `store`, as `SyncedTill::enrol` enrols a new demo till.
    pub fn enrol(
        &self,
        runtime: &tokio::runtime::Runtime,
        cloud: &CloudProcess,
        store: &'static str,
        through_proxy: bool,
    ) -> SyncedTill {
        let mut temp = self.copy();
        let proxy = through_proxy.then(|| FaultProxy::start(&cloud.base_url));
        let url = proxy
            .as_ref()
            .map_or_else(|| cloud.base_url.clone(), FaultProxy::url);
        let code = cloud.admin(&["enrolment-code", "--store", store]);
        let client = Client::new(&url, None).expect("an HTTP client");
        let identity =
            ledger_sync::till_identity(temp.till.connection()).expect("the till's identity");
        let enrolment = runtime
            .block_on(client.enrol(&code, "Counter", 1, &identity))
            .expect("enrolment with a fresh code succeeds");
        let now = temp.till.clock().now();
        ledger_sync::record_enrolment(temp.till.connection_mut(), &url, &enrolment, now)
            .expect("the enrolment is recorded");
        temp.till.reload_device().expect("the device reloads");
        assert_eq!(
            temp.till.device().receipt_prefix,
            enrolment.receipt_prefix,
            "a copied ledger numbers its receipts with the prefix the cloud assigned to it"
        );
        let engine = engine::open_ledger(&ledger_path(temp._dir.path()))
            .expect("the engine opens its own connection to the ledger");
        SyncedTill {
            temp,
            store,
            engine,
            proxy,
        }
    }
}

/// Rings up `sales` random card sales of 1-4 demo items (1-3 of each) on a till's cashier
/// connection (`SyncedTill::temp.till`); returns their receipt numbers.
pub fn sell(till: &mut Till, staff: &Staff, rng: &mut impl Rng, sales: usize) -> Vec<String> {
    let rules = till.pricing_rules().expect("pricing rules");
    let mut receipts = Vec::new();
    while receipts.len() < sales {
        let mut cart = Cart::new();
        for _ in 0..rng.random_range(1..=4) {
            let item = till
                .scan(&demo::demo_barcode(rng.random_range(1..=40)))
                .expect("the first 40 demo products are active and priced");
            cart.add_item(item, rng.random_range(1..=3))
                .expect("a demo item goes into the cart");
        }
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("T"))
            .expect("a card tender for the amount due");
        let receipt = till
            .complete_sale(&staff.cashier, &cart)
            .expect("a sale completes whatever the link is doing");
        receipts.push(receipt.receipt_no);
    }
    receipts
}

/// Refunds one unit of the first line of `receipt_no` that has any left to refund; returns
/// whether it did.
pub fn refund_one(till: &mut Till, staff: &Staff, receipt_no: &str) -> bool {
    let refundable = till
        .refundable(receipt_no)
        .expect("a sale of this till can be looked up for a refund");
    let Some(line) = refundable.lines.iter().find(|l| l.refundable_quantity > 0) else {
        return false;
    };
    till.refund(
        &staff.cashier,
        &staff.approval,
        receipt_no,
        &[(line.line_no, 1)],
    )
    .expect("a refund within what was sold succeeds");
    true
}

/// Heals a link and waits until the proxy accepts connections again: after `Refuse` it opens
/// its port again on its own thread, a moment later. The proxy must count the probe as its own
/// connection: anything else listening on its port would be a stranger.
pub fn heal(proxy: &FaultProxy) {
    proxy.pass();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let accepted = proxy.counters().connections.load(Ordering::SeqCst);
        if TcpStream::connect(proxy.address).is_ok() {
            assert!(
                proxy.wait_for(Duration::from_secs(10), |c| {
                    c.connections.load(Ordering::SeqCst) > accepted
                }),
                "the healed proxy itself accepted the connection made to its port"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a healed proxy accepts connections again"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
