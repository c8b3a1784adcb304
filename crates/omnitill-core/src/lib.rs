//! omnitill-core: the till's domain rules and its local store.
//!
//! Everything a till decides lives here, on a rusqlite connection and nothing else: no Tauri,
//! no tokio, no HTTP. It fails only on its store (`CoreError::Store`, `DatabaseRefused`) or on
//! bad input. Time and ids come from a `Clock` that the caller passes in.
//!
//! Layout: `till` is the entry point and holds one module per concern behind it: `db` (opening
//! and migrating the ledger), `health` (the integrity check and the write guard of a damaged
//! ledger), `catalog` (products, barcodes, prices, search), `barcode`
//! (GTIN parsing), `cart` (pricing, discounts, tax, tenders), `ledger` (writing sales and
//! refunds, reading receipts), `outbox` (operations for the sync engine), `staff` (PINs and
//! permissions), `sync` (what the sync engine learns, written to the ledger), `loyalty` (the membership rules
//! both channels share), `lookup_keys` (memory-hard phone and e-mail look-up hashes), `members` (the private member cache and look-up), `settings`, `money`, `receipt` (the receipt document) with its renderers
//! `receipt_text`, `escpos` and `code128`, and `demo` (the demo store), and `recovery` (a new ledger from a damaged one).

pub mod barcode;
pub mod cart;
pub mod catalog;
pub mod clock;
pub mod code128;
pub mod db;
pub mod demo;
pub mod error;
pub mod escpos;
pub mod floor;
pub mod health;
pub mod ledger;
pub mod lookup_keys;
pub mod loyalty;
pub mod members;
pub mod money;
pub mod outbox;
pub mod pickup_code;
pub mod pickups;
pub mod receipt;
pub mod receipt_text;
pub mod recovery;
pub mod review;
pub mod scan;
pub mod settings;
pub mod staff;
pub mod sync;
pub mod till;

pub use cart::{Cart, Discount, PricedItem, PricingRules};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, CoreResult};
pub use receipt::{Receipt, ReceiptKind, TenderKind};
pub use settings::{Language, Settings, StoreInfo, TaxMode};
pub use staff::{ManagerApproval, Role, StaffSession};
pub use till::Till;
