//! omnitill-protocol: the wire types shared by the till's sync engine and the cloud.
//!
//! Every request carries `PROTOCOL_HEADER` with `PROTOCOL_VERSION` and, except enrolment, the
//! device token as `Authorization: Bearer <token>`. Bodies are JSON. A peer that speaks another
//! version gets `ErrorCode::VersionMismatch` with both versions named. Additions are new
//! operation types and new change kinds; existing ones keep their meaning.
//!
//! Layout: `errors` (the error body and its codes), `ops` (operation payloads), `enrol`,
//! `push` (the outbox going up), `pull` (the store's change feed coming down), `loyalty`
//! (members, points rules and coupons on the wire), `pickup` (click-and-collect orders) and
//! `floor` (what sells together, for the shop floor).

use serde::{Deserialize, Serialize};

pub mod floor;
pub mod loyalty;
pub mod pickup;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The header that carries the protocol version on every request and response.
pub const PROTOCOL_HEADER: &str = "x-omnitill-protocol";
/// The largest request body the cloud accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The most operations one push may carry.
pub const MAX_PUSH_OPS: usize = 500;
/// The most changes one pull page returns.
pub const MAX_PULL_CHANGES: usize = 20_000;

/// Why a request failed, as the cloud says it. `code` is one of `ErrorCode`'s names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// The closed set of error codes. Unknown codes from a newer peer decode as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON of the right shape, or a field is out of range.
    BadRequest,
    /// The body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// No token, or a token the cloud does not know.
    Unauthorized,
    /// The device's token was revoked.
    Revoked,
    /// The device may not touch this store.
    Forbidden,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// An enrolment code is unknown, used or expired.
    BadEnrolmentCode,
    /// A push skipped a sequence number.
    SequenceGap,
    NotFound,
    /// The request clashes with what the cloud holds: a phone or e-mail that is already a
    /// member's, fewer points than asked for, a coupon already used.
    Conflict,
    Internal,
    /// Too many failed attempts from one address (enrolment); `Retry-After` says when to try again.
    RateLimited,
    /// The request's `Content-Type` is not `application/json`.
    UnsupportedMediaType,
    /// The route does not take this method; `Allow` names the ones it takes.
    MethodNotAllowed,
    #[serde(other)]
    Other,
}

pub mod ops;

/// Enrolment: a manager types the cloud's address and a one-time code at the till.
pub mod enrol {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct EnrolRequest {
        /// The one-time code from `omnitill-cloud enrolment-code`.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 64, pattern = r"\S")
        )]
        pub code: String,
        /// A name for the till, shown to brand IT ("Counter 1"): 1 to 80 characters, not only
        /// spaces.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 80, pattern = r"\S")
        )]
        pub device_name: String,
        /// The `seq` of the first operation this till will push under the new enrolment: 1 for a
        /// new till; for a till enrolled again (after a revocation, or to another cloud), the
        /// first operation its old enrolment never had acknowledged. Absent means 1.
        #[serde(default = "first_seq_default")]
        #[cfg_attr(
            feature = "openapi",
            schema(minimum = 1, maximum = 4_503_599_627_370_496_i64, default = 1)
        )]
        pub first_seq: i64,
        /// Who the till is, from its own ledger. Absent from tills that predate it: the cloud
        /// then learns the till's id from its first operation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub till: Option<TillIdentity>,
    }

    /// A till's identity across its enrolments: the device id its operations carry (made by
    /// the till on its first start), the receipt prefix it numbers with now (its own, before a
    /// first enrolment, or its last enrolment's), and the token of its last enrolment, which
    /// proves a re-enrolled till is the one that held that id.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct TillIdentity {
        /// 1 to 64 letters, digits or dashes.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9-]{1,64}$")
        )]
        pub device_id: String,
        pub receipt_prefix: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub previous_token: Option<String>,
    }

    fn first_seq_default() -> i64 {
        1
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct EnrolResponse {
        pub device_id: String,
        pub store_id: String,
        pub store_name: String,
        /// The bearer token for every later request. Shown once, stored by the till.
        pub token: String,
        /// Unique across the brand, so receipt numbers never collide.
        pub receipt_prefix: String,
    }
}

/// Push: the till sends its outbox in `seq` order.
pub mod push {
    use super::*;

    /// One outbox operation as it travels.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Operation {
        pub seq: i64,
        pub op_id: String,
        pub op_type: String,
        pub created_at_ms: i64,
        /// The operation's payload, whose shape `op_type` names (see the protocol crate's `ops`).
        pub payload: serde_json::Value,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct PushRequest {
        /// In `seq` order without gaps, at most `MAX_PUSH_OPS`.
        #[cfg_attr(feature = "openapi", schema(max_items = 500))]
        pub operations: Vec<Operation>,
    }

    /// What became of one operation.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum Status {
        /// Applied now.
        Applied,
        /// Applied before (a retried push); nothing changed.
        Duplicate,
        /// Refused for a business reason, stored as its outcome; later operations go on.
        Rejected,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Outcome {
        pub seq: i64,
        pub op_id: String,
        pub status: Status,
        pub reason: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct PushResponse {
        pub outcomes: Vec<Outcome>,
        /// The device's last applied `seq` after this push.
        pub last_applied_seq: i64,
    }
}

/// Pull: the store's change feed, after a cursor.
pub mod pull {
    use super::*;

    /// One change to reference data the till caches. New kinds are additions; a till that
    /// does not know a kind skips it and says so in its status.
    ///
    /// On the wire it is an object whose `kind` names the variant, beside the variant's fields.
    /// Decoding is written out (see `ChangeVisitor`) because it is most of what a till does
    /// with a large download: when `kind` comes first, as this crate writes it, the fields are
    /// read straight into the variant instead of being buffered and read twice.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Change {
        Store {
            name: String,
            currency: String,
            currency_exponent: u32,
            tax_mode: String,
            cash_rounding_minor: i64,
            utc_offset_minutes: i32,
        },
        TaxClass {
            id: String,
            name: String,
            rate_bp: u32,
        },
        Product {
            sku: String,
            name: String,
            tax_class: String,
            active: bool,
            barcodes: Vec<String>,
            /// (effective from, Unix ms; price in minor units)
            prices: Vec<(i64, i64)>,
        },
        /// The store's stock of one SKU, including every operation up to the pull's
        /// `last_applied_seq` from this device.
        Stock { sku: String, on_hand: i64 },
        /// The brand's loyalty rules (brand-wide).
        LoyaltyRules(crate::loyalty::LoyaltyRules),
        /// The keys for member look-up hashes and QR codes (brand-wide).
        MemberKeys(crate::loyalty::MemberKeys),
        /// A member as the till caches it (brand-wide), newest state.
        Member(crate::loyalty::CachedMember),
        /// A member the till must forget: merged into another (whose id is given) or erased.
        MemberGone {
            id: String,
            merged_into: Option<String>,
        },
        /// A member's phone and e-mail look-up hashes for this store's tills, or (both `None`)
        /// their withdrawal.
        MemberLookupKeys(crate::loyalty::MemberLookupKeys),
        /// A conflict for this store's review list, or its resolution.
        Conflict(crate::loyalty::ConflictNotice),
        /// A member's e-shop favourites and recently viewed products, for a store whose tills
        /// keep the member's look-up keys; both lists empty withdraws them.
        MemberInterests(crate::loyalty::MemberInterests),
        /// A product's most frequent companions in both channels' sales (brand-wide).
        BoughtTogether(crate::floor::BoughtTogether),
        /// A click-and-collect order to be collected at this store, newest state.
        Pickup(crate::pickup::PickupOrder),
        /// How much of a SKU's stock at this store open pickup orders hold: available is
        /// `on_hand - reserved`.
        StockReserved { sku: String, reserved: i64 },
        /// A kind this build does not know (decoded only; a newer cloud's addition).
        Unknown,
    }

    #[derive(Deserialize)]
    struct StoreFields {
        name: String,
        currency: String,
        currency_exponent: u32,
        tax_mode: String,
        cash_rounding_minor: i64,
        utc_offset_minutes: i32,
    }

    #[derive(Deserialize)]
    struct TaxClassFields {
        id: String,
        name: String,
        rate_bp: u32,
    }

    #[derive(Deserialize)]
    struct ProductFields {
        sku: String,
        name: String,
        tax_class: String,
        active: bool,
        barcodes: Vec<String>,
        prices: Vec<(i64, i64)>,
    }

    #[derive(Deserialize)]
    struct MemberGoneFields {
        id: String,
        merged_into: Option<String>,
    }

    #[derive(Deserialize)]
    struct StockFields {
        sku: String,
        on_hand: i64,
    }

    #[derive(Deserialize)]
    struct StockReservedFields {
        sku: String,
        reserved: i64,
    }

    impl Change {
        /// Reads the fields of the variant `kind` names from `fields`; an unknown kind's
        /// fields are skipped.
        fn from_fields<'de, D: serde::Deserializer<'de>>(
            kind: &str,
            fields: D,
        ) -> Result<Change, D::Error> {
            Ok(match kind {
                "store" => {
                    let f = StoreFields::deserialize(fields)?;
                    Change::Store {
                        name: f.name,
                        currency: f.currency,
                        currency_exponent: f.currency_exponent,
                        tax_mode: f.tax_mode,
                        cash_rounding_minor: f.cash_rounding_minor,
                        utc_offset_minutes: f.utc_offset_minutes,
                    }
                }
                "tax_class" => {
                    let f = TaxClassFields::deserialize(fields)?;
                    Change::TaxClass {
                        id: f.id,
                        name: f.name,
                        rate_bp: f.rate_bp,
                    }
                }
                "product" => {
                    let f = ProductFields::deserialize(fields)?;
                    Change::Product {
                        sku: f.sku,
                        name: f.name,
                        tax_class: f.tax_class,
                        active: f.active,
                        barcodes: f.barcodes,
                        prices: f.prices,
                    }
                }
                "stock" => {
                    let f = StockFields::deserialize(fields)?;
                    Change::Stock {
                        sku: f.sku,
                        on_hand: f.on_hand,
                    }
                }
                "loyalty_rules" => Change::LoyaltyRules(Deserialize::deserialize(fields)?),
                "member_keys" => Change::MemberKeys(Deserialize::deserialize(fields)?),
                "member" => Change::Member(Deserialize::deserialize(fields)?),
                "member_gone" => {
                    let f = MemberGoneFields::deserialize(fields)?;
                    Change::MemberGone {
                        id: f.id,
                        merged_into: f.merged_into,
                    }
                }
                "member_lookup_keys" => Change::MemberLookupKeys(Deserialize::deserialize(fields)?),
                "conflict" => Change::Conflict(Deserialize::deserialize(fields)?),
                "pickup" => Change::Pickup(Deserialize::deserialize(fields)?),
                "member_interests" => Change::MemberInterests(Deserialize::deserialize(fields)?),
                "bought_together" => Change::BoughtTogether(Deserialize::deserialize(fields)?),
                "stock_reserved" => {
                    let f = StockReservedFields::deserialize(fields)?;
                    Change::StockReserved {
                        sku: f.sku,
                        reserved: f.reserved,
                    }
                }
                _ => {
                    serde::de::IgnoredAny::deserialize(fields)?;
                    Change::Unknown
                }
            })
        }
    }

    impl<'de> Deserialize<'de> for Change {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Change, D::Error> {
            deserializer.deserialize_map(ChangeVisitor)
        }
    }

    struct ChangeVisitor;

    impl<'de> serde::de::Visitor<'de> for ChangeVisitor {
        type Value = Change;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a change object with a \"kind\"")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Change, A::Error> {
            use serde::de::Error;
            let first: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
            match first.as_deref() {
                Some("kind") => {
                    let kind: std::borrow::Cow<'de, str> = map.next_value()?;
                    Change::from_fields(&kind, serde::de::value::MapAccessDeserializer::new(map))
                }
                Some(key) => {
                    // `kind` comes later: gather the object, then read it the same way.
                    let mut object = serde_json::Map::new();
                    object.insert(key.to_owned(), map.next_value()?);
                    while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                        object.insert(key, value);
                    }
                    let kind = match object.remove("kind") {
                        Some(serde_json::Value::String(kind)) => kind,
                        _ => return Err(A::Error::missing_field("kind")),
                    };
                    Change::from_fields(&kind, serde_json::Value::Object(object))
                        .map_err(A::Error::custom)
                }
                None => Err(A::Error::missing_field("kind")),
            }
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct FeedEntry {
        pub cursor: i64,
        pub change: Change,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct PullResponse {
        pub entries: Vec<FeedEntry>,
        /// The cursor to send next time.
        pub cursor: i64,
        pub has_more: bool,
        /// The till's cursor is older than the feed keeps: drop the reference cache and pull
        /// again from zero. The outbox is kept.
        pub reset: bool,
        /// The write checkpoint: the cloud's data includes this device's operations up to it.
        pub last_applied_seq: i64,
        /// How many entries the whole feed holds after the cursor, for a progress bar.
        pub remaining: i64,
        /// This till's offline redemption allowance, as of the write checkpoint.
        #[serde(default)]
        pub allowance: Option<crate::loyalty::Allowance>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_change_kind_from_a_newer_cloud_decodes_as_unknown() {
        let entry: pull::FeedEntry =
            serde_json::from_str(r#"{"cursor": 7, "change": {"kind": "hologram", "x": 1}}"#)
                .expect("a newer kind still decodes");
        assert_eq!(
            entry.change,
            pull::Change::Unknown,
            "it is skipped, not an error"
        );
    }

    fn every_kind() -> Vec<pull::Change> {
        use pull::Change;
        vec![
            Change::Store {
                name: "信義店 Xinyi".into(),
                currency: "TWD".into(),
                currency_exponent: 0,
                tax_mode: "inclusive".into(),
                cash_rounding_minor: 1,
                utc_offset_minutes: 480,
            },
            Change::TaxClass {
                id: "standard".into(),
                name: "VAT 5%".into(),
                rate_bp: 500,
            },
            Change::Product {
                sku: "TEA-001".into(),
                name: "凍頂烏龍茶 \"Oolong\" 🍵".into(),
                tax_class: "standard".into(),
                active: false,
                barcodes: vec!["4712345000015".into()],
                prices: vec![(1_733_097_600_000, 48_000)],
            },
            Change::Stock {
                sku: "TEA-001".into(),
                on_hand: -3,
            },
            Change::LoyaltyRules(crate::loyalty::LoyaltyRules {
                version: 3,
                earn_minor_per_point: 10_000,
                point_value_minor: 100,
                rounding: crate::loyalty::PointsRounding::Floor,
                tiers: vec![crate::loyalty::TierRule {
                    code: "gold".into(),
                    name: "金卡 Gold".into(),
                    min_spend_minor: 2_000_000,
                    multiplier_pct: 150,
                    discount_bp: 500,
                }],
                no_earn_skus: vec!["GIFT-100".into()],
                promotions: vec![crate::loyalty::PointsPromotion {
                    id: "p1".into(),
                    name: "Double points".into(),
                    starts_at_ms: 1,
                    ends_at_ms: 2,
                    multiplier_pct: 200,
                }],
                expiry_months: 24,
                offline_member_cap_points: 500,
                offline_store_allowance_points: 20_000,
                default_calling_code: 886,
            }),
            Change::MemberKeys(crate::loyalty::MemberKeys {
                member_key_hex: "00ff".into(),
                qr_public_key_hex: "aa".into(),
            }),
            Change::Member(crate::loyalty::CachedMember {
                id: "m1".into(),
                card_hash: "c".into(),
                phone_hash: Some("p".into()),
                email_hash: None,
                phone_masked: Some("••••5678".into()),
                email_masked: None,
                name: "陳小明 🌸".into(),
                tier: "gold".into(),
                balance: -12,
                coupons: vec![crate::loyalty::CachedCoupon {
                    id: "c1".into(),
                    kind: "birthday".into(),
                    title: "生日 10%".into(),
                    discount_kind: "percent".into(),
                    value: 1_000,
                    min_spend_minor: 0,
                    valid_from_ms: 1,
                    valid_to_ms: 2,
                }],
            }),
            Change::MemberGone {
                id: "m2".into(),
                merged_into: Some("m1".into()),
            },
            Change::MemberLookupKeys(crate::loyalty::MemberLookupKeys {
                member_id: "m1".into(),
                phone_hash: Some("00aa".into()),
                email_hash: None,
            }),
            Change::Conflict(crate::loyalty::ConflictNotice {
                id: "k1".into(),
                conflict: "overdraft".into(),
                member_id: "m1".into(),
                summary: "Balance went to -12 points".into(),
                created_at_ms: 5,
                resolved_at_ms: None,
                note: None,
            }),
        ]
    }

    #[test]
    fn every_change_kind_decodes_to_what_was_encoded() {
        for change in every_kind() {
            let text = serde_json::to_string(&change).expect("a change encodes");
            assert!(
                text.starts_with(r#"{"kind":"#),
                "the kind is written first, so a till reads the fields directly: {text}"
            );
            let back: pull::Change = serde_json::from_str(&text).expect("it decodes");
            assert_eq!(back, change, "a change survives the wire unchanged");
        }
    }

    #[test]
    fn a_change_whose_kind_comes_last_decodes_the_same() {
        for change in every_kind() {
            let serde_json::Value::Object(mut fields) =
                serde_json::to_value(&change).expect("a change encodes")
            else {
                panic!("a change is an object");
            };
            let kind = fields.remove("kind").expect("a kind");
            let mut text = serde_json::to_string(&fields).expect("the fields encode");
            text.pop();
            text.push_str(&format!(r#","kind":{kind}}}"#));
            let back: pull::Change = serde_json::from_str(&text).expect("it decodes");
            assert_eq!(back, change, "field order must not matter: {text}");
        }
    }

    #[test]
    fn a_change_without_a_kind_or_with_bad_fields_is_an_error() {
        for text in [
            r#"{}"#,
            r#"{"sku": "A", "on_hand": 1}"#,
            r#"{"kind": "stock", "sku": "A"}"#,
            r#"{"kind": "stock", "sku": "A", "on_hand": "many"}"#,
            r#"{"sku": "A", "on_hand": 1, "kind": 5}"#,
            r#"[1, 2]"#,
        ] {
            assert!(
                serde_json::from_str::<pull::Change>(text).is_err(),
                "garbage from the network must not decode as a change: {text}"
            );
        }
    }

    #[test]
    fn an_unknown_error_code_decodes_as_other() {
        let body: ErrorBody = serde_json::from_str(r#"{"code": "teapot", "message": "m"}"#)
            .expect("a newer code still decodes");
        assert_eq!(body.code, ErrorCode::Other);
    }
}
