//! The use cases, run without a window against a fake cloud (`fake_cloud`): a demo till on a
//! real ledger file, linked to the fake, with the brand's member keys and rules and one cached
//! member, as a pull from the cloud would leave it.

mod access;
mod enrolment;
mod fake_cloud;
mod floor;
mod holds;
mod link_drops;
mod pickups;
mod printing;
mod refund_quote;

use omnitill_core::demo;
use omnitill_core::loyalty::{self, KeyKind};
use omnitill_protocol::loyalty::{
    Allowance, CachedCoupon, CachedMember, LoyaltyRules, MemberKeys, TierRule,
};
use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

use crate::App;
use crate::upkeep;
use fake_cloud::{FakeCloud, Mode};

/// The brand's member key, hex.
const MEMBER_KEY: &str = "6d656d6265722d6b6579";
/// The most points one member may redeem at this till offline.
pub const OFFLINE_MEMBER_CAP: i64 = 500;
/// The cached member's points.
pub const BALANCE: i64 = 2_000;
/// The cached member's coupon.
pub const COUPON: &str = "coupon-1";

pub struct Counter {
    _dir: tempfile::TempDir,
    pub app: App<FakeCloud>,
}

impl Counter {
    /// A demo till, enrolled with an online fake cloud, with the cloud's reference data for
    /// members applied; nobody logged in.
    pub async fn open() -> Counter {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let till = upkeep::open_till(dir.path(), true).expect("the demo till opens");
        let app = App::new(Ok(till), FakeCloud::new(Mode::Online));
        app.login(demo::MANAGER.0, demo::MANAGER.1)
            .expect("the demo manager logs in");
        app.enrol_till("http://127.0.0.1:9", "ENROL-CODE")
            .await
            .expect("the till enrols with the fake cloud");
        app.lock().expect("the till locks");
        app.with_desk(|desk| {
            let now = desk.till.clock().now();
            desk.till.apply_pull(&reference_data(), now)?;
            Ok(())
        })
        .expect("the member reference data applies");
        Counter { _dir: dir, app }
    }

    /// The same, with the demo cashier logged in.
    pub async fn with_cashier() -> Counter {
        let counter = Counter::open().await;
        counter
            .app
            .login(demo::CASHIER.0, demo::CASHIER.1)
            .expect("the demo cashier logs in");
        counter
    }

    /// The cashier ringing up `count` of a demo product for the cached member, attached by
    /// their card.
    pub async fn with_member_sale(count: i64) -> Counter {
        let counter = Counter::with_cashier().await;
        counter.ring_up(count);
        counter
            .app
            .attach_member(&card())
            .await
            .expect("the cached member attaches by card");
        counter
    }

    pub fn cloud(&self) -> &FakeCloud {
        self.app.cloud()
    }

    /// Rings up `count` of the first demo product.
    pub fn ring_up(&self, count: i64) {
        let view = self
            .app
            .scan_item(&demo::demo_barcode(1))
            .expect("a demo product scans");
        let line = view.lines.first().expect("a line").line_id;
        self.app
            .set_quantity(line, count)
            .expect("the quantity is set");
    }
}

/// The cached member's card number.
pub fn card() -> String {
    loyalty::card_number(7)
}

/// A member as the cloud sends it, with `balance` points and the coupon `COUPON`.
pub fn member(id: &str, card: &str, balance: i64) -> CachedMember {
    let key = loyalty::unhex(MEMBER_KEY).expect("the member key is hex");
    CachedMember {
        id: id.into(),
        card_hash: loyalty::lookup_hash(&key, KeyKind::Card, card),
        phone_hash: None,
        email_hash: None,
        phone_masked: None,
        email_masked: None,
        name: "林美玲".into(),
        tier: "member".into(),
        balance,
        coupons: vec![CachedCoupon {
            id: COUPON.into(),
            kind: "birthday".into(),
            title: "Birthday 10 %".into(),
            discount_kind: "percent".into(),
            value: 1_000,
            min_spend_minor: 0,
            valid_from_ms: 0,
            valid_to_ms: i64::MAX,
        }],
    }
}

/// What a first pull brings for members: keys, rules, one member, an offline allowance.
fn reference_data() -> PullResponse {
    let rules = LoyaltyRules {
        version: 1,
        earn_minor_per_point: 100,
        point_value_minor: 1,
        tiers: vec![TierRule {
            code: "member".into(),
            name: "Member".into(),
            min_spend_minor: 0,
            multiplier_pct: 100,
            discount_bp: 0,
        }],
        offline_member_cap_points: OFFLINE_MEMBER_CAP,
        offline_store_allowance_points: 10_000,
        ..loyalty::no_rules()
    };
    let changes = [
        Change::MemberKeys(MemberKeys {
            member_key_hex: MEMBER_KEY.into(),
            qr_public_key_hex: "00".repeat(32),
        }),
        Change::LoyaltyRules(rules),
        Change::Member(member("m-1", &card(), BALANCE)),
    ];
    let entries: Vec<FeedEntry> = changes
        .into_iter()
        .zip(1..)
        .map(|(change, cursor)| FeedEntry { cursor, change })
        .collect();
    PullResponse {
        cursor: entries.len() as i64,
        entries,
        has_more: false,
        reset: false,
        last_applied_seq: 0,
        remaining: 0,
        allowance: Some(Allowance {
            granted_points: 10_000,
            used_points: 0,
        }),
    }
}
