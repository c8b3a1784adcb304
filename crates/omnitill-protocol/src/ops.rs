//! The operations a till pushes: one `op_type` string per payload shape, forever.
//!
//! On the wire an operation stays `push::Operation`, an `op_type` and a JSON `payload`, so every
//! till that ever shipped keeps working. `TillOperation` ties each type to its payload: the
//! cloud decodes a pushed operation with `TillOperation::decode` and matches on the variant, so
//! a type it knows can never be read as another's payload. A changed meaning is a new type (a
//! new variant), never a new reading of an old one.

use serde::{Deserialize, Serialize};

/// Operation type of a completed sale.
pub const SALE_COMPLETED: &str = "sale.completed.v1";
/// Operation type of a completed refund.
pub const REFUND_COMPLETED: &str = "refund.completed.v1";
/// A completed sale with a member attached: `SaleCompleted` with `member` set. A cloud that
/// predates members refuses it as unknown instead of dropping the member's points.
pub const SALE_COMPLETED_V2: &str = "sale.completed.v2";
/// A completed refund of a member's sale: `RefundCompleted` with `member` set.
pub const REFUND_COMPLETED_V2: &str = "refund.completed.v2";
/// A member enrolled at the till (`MemberEnrolled`).
pub const MEMBER_ENROLLED: &str = "member.enrolled.v1";
/// A manager marked a conflict of the review list resolved (`ConflictResolved`).
pub const CONFLICT_RESOLVED: &str = "conflict.resolved.v1";
/// A line of a pickup order picked, or found missing (`PickupLineMarked`).
pub const PICKUP_LINE: &str = "pickup.line.v1";
/// A pickup order marked ready for the customer (`PickupReady`).
pub const PICKUP_READY: &str = "pickup.ready.v1";
/// A pickup order handed over to the customer (`PickupHandedOver`).
pub const PICKUP_HANDED_OVER: &str = "pickup.handed_over.v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLineOp {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub tax_rate_bp: u32,
    pub tax_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderOp {
    pub kind: String,
    pub amount_minor: i64,
    pub reference: Option<String>,
}

/// What the cloud learns of a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleCompleted {
    pub sale_id: String,
    pub receipt_no: String,
    pub device_id: String,
    pub staff_id: String,
    pub created_at_ms: i64,
    pub currency: String,
    pub tax_mode: String,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub rounding_minor: i64,
    pub total_minor: i64,
    pub lines: Vec<SaleLineOp>,
    pub tenders: Vec<TenderOp>,
    /// The member of the sale (`SALE_COMPLETED_V2` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<crate::loyalty::SaleMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLineOp {
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

/// What the cloud learns of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundCompleted {
    pub refund_id: String,
    pub receipt_no: String,
    pub sale_id: String,
    pub device_id: String,
    pub staff_id: String,
    pub approved_by: String,
    pub created_at_ms: i64,
    pub tax_minor: i64,
    pub rounding_minor: i64,
    pub total_minor: i64,
    pub lines: Vec<RefundLineOp>,
    pub tenders: Vec<TenderOp>,
    /// The member part (`REFUND_COMPLETED_V2` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<crate::loyalty::RefundMember>,
}

/// A member enrolled at a till, online or offline. `member_id` is the till's new id; if
/// the phone or e-mail already belongs to a member, the cloud merges this one into it and
/// the feed says which id survived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEnrolled {
    pub member_id: String,
    /// E.164, normalised by the till.
    pub phone: Option<String>,
    /// Normalised (trimmed, lower case).
    pub email: Option<String>,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub consent_terms: bool,
    pub consent_marketing: bool,
    pub staff_id: String,
    pub enrolled_at_ms: i64,
}

/// A conflict of the review list marked resolved by a manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictResolved {
    pub conflict_id: String,
    pub note: String,
    pub resolved_by: String,
    pub resolved_at_ms: i64,
}

/// A line of a pickup order as the store found it: `picked`, or `missing` with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupLineMarked {
    pub order_id: String,
    pub line_no: i64,
    /// `picked` or `missing`.
    pub state: String,
    pub reason: Option<String>,
    pub staff_id: String,
    pub at_ms: i64,
}

/// A pickup order ready for the customer: the e-shop tells them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupReady {
    pub order_id: String,
    pub staff_id: String,
    pub at_ms: i64,
}

/// A pickup order handed over at the store, online or offline. It always stands: an order
/// the e-shop cancelled meanwhile is collected after all, and its refund flagged for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupHandedOver {
    pub order_id: String,
    pub staff_id: String,
    pub at_ms: i64,
    /// How the customer proved the order theirs: `qr`, `code` or `member_card`.
    pub verified_by: String,
    /// The till's sale that took the payment of a pay-at-pickup order.
    pub sale_id: Option<String>,
}

/// Every operation type a till may push, with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TillOperation {
    /// `sale.completed.v1`: a sale with no member.
    Sale(SaleCompleted),
    /// `sale.completed.v2`: a sale with its member block.
    MemberSale(SaleCompleted),
    /// `refund.completed.v1`: a refund of a sale with no member.
    Refund(RefundCompleted),
    /// `refund.completed.v2`: a refund of a member's sale, with its member block.
    MemberRefund(RefundCompleted),
    /// `member.enrolled.v1`.
    MemberEnrolled(MemberEnrolled),
    /// `conflict.resolved.v1`.
    ConflictResolved(ConflictResolved),
    /// `pickup.line.v1`.
    PickupLine(PickupLineMarked),
    /// `pickup.ready.v1`.
    PickupReady(PickupReady),
    /// `pickup.handed_over.v1`.
    PickupHandedOver(PickupHandedOver),
}

/// Why a pushed `(op_type, payload)` is not a `TillOperation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A type this build does not know.
    UnknownType(String),
    /// A known type whose payload does not have its shape.
    Malformed {
        op_type: &'static str,
        reason: String,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::UnknownType(other) => write!(
                f,
                "operation type {other:?} is not known to this cloud (it knows {}); update the \
                 cloud service",
                KNOWN_TYPES.join(", ")
            ),
            DecodeError::Malformed { op_type, reason } => {
                write!(f, "the {op_type} payload is malformed: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Every operation type, in the order the variants are declared.
pub const KNOWN_TYPES: [&str; 9] = [
    SALE_COMPLETED,
    SALE_COMPLETED_V2,
    REFUND_COMPLETED,
    REFUND_COMPLETED_V2,
    MEMBER_ENROLLED,
    CONFLICT_RESOLVED,
    PICKUP_LINE,
    PICKUP_READY,
    PICKUP_HANDED_OVER,
];

impl TillOperation {
    /// Reads a pushed operation. A member sale or refund must carry its member block, and a
    /// plain one must not: the type says which it is.
    pub fn decode(
        op_type: &str,
        payload: &serde_json::Value,
    ) -> Result<TillOperation, DecodeError> {
        fn read<T: serde::de::DeserializeOwned>(
            op_type: &'static str,
            payload: &serde_json::Value,
        ) -> Result<T, DecodeError> {
            T::deserialize(payload).map_err(|e| DecodeError::Malformed {
                op_type,
                reason: e.to_string(),
            })
        }
        let malformed = |op_type: &'static str, reason: &str| DecodeError::Malformed {
            op_type,
            reason: reason.to_owned(),
        };
        Ok(match op_type {
            SALE_COMPLETED => {
                let sale: SaleCompleted = read(SALE_COMPLETED, payload)?;
                if sale.member.is_some() {
                    return Err(malformed(SALE_COMPLETED, "a plain sale carries no member"));
                }
                TillOperation::Sale(sale)
            }
            SALE_COMPLETED_V2 => {
                let sale: SaleCompleted = read(SALE_COMPLETED_V2, payload)?;
                if sale.member.is_none() {
                    return Err(malformed(
                        SALE_COMPLETED_V2,
                        "a member sale without its member",
                    ));
                }
                TillOperation::MemberSale(sale)
            }
            REFUND_COMPLETED => {
                let refund: RefundCompleted = read(REFUND_COMPLETED, payload)?;
                if refund.member.is_some() {
                    return Err(malformed(
                        REFUND_COMPLETED,
                        "a plain refund carries no member",
                    ));
                }
                TillOperation::Refund(refund)
            }
            REFUND_COMPLETED_V2 => {
                let refund: RefundCompleted = read(REFUND_COMPLETED_V2, payload)?;
                if refund.member.is_none() {
                    return Err(malformed(
                        REFUND_COMPLETED_V2,
                        "a member refund without its member",
                    ));
                }
                TillOperation::MemberRefund(refund)
            }
            MEMBER_ENROLLED => TillOperation::MemberEnrolled(read(MEMBER_ENROLLED, payload)?),
            CONFLICT_RESOLVED => TillOperation::ConflictResolved(read(CONFLICT_RESOLVED, payload)?),
            PICKUP_LINE => TillOperation::PickupLine(read(PICKUP_LINE, payload)?),
            PICKUP_READY => TillOperation::PickupReady(read(PICKUP_READY, payload)?),
            PICKUP_HANDED_OVER => {
                TillOperation::PickupHandedOver(read(PICKUP_HANDED_OVER, payload)?)
            }
            other => return Err(DecodeError::UnknownType(other.to_owned())),
        })
    }

    /// The `op_type` this operation travels under.
    pub fn op_type(&self) -> &'static str {
        match self {
            TillOperation::Sale(_) => SALE_COMPLETED,
            TillOperation::MemberSale(_) => SALE_COMPLETED_V2,
            TillOperation::Refund(_) => REFUND_COMPLETED,
            TillOperation::MemberRefund(_) => REFUND_COMPLETED_V2,
            TillOperation::MemberEnrolled(_) => MEMBER_ENROLLED,
            TillOperation::ConflictResolved(_) => CONFLICT_RESOLVED,
            TillOperation::PickupLine(_) => PICKUP_LINE,
            TillOperation::PickupReady(_) => PICKUP_READY,
            TillOperation::PickupHandedOver(_) => PICKUP_HANDED_OVER,
        }
    }

    /// The payload as it travels.
    pub fn payload(&self) -> serde_json::Value {
        let encoded = match self {
            TillOperation::Sale(sale) | TillOperation::MemberSale(sale) => {
                serde_json::to_value(sale)
            }
            TillOperation::Refund(refund) | TillOperation::MemberRefund(refund) => {
                serde_json::to_value(refund)
            }
            TillOperation::MemberEnrolled(enrolled) => serde_json::to_value(enrolled),
            TillOperation::ConflictResolved(resolved) => serde_json::to_value(resolved),
            TillOperation::PickupLine(line) => serde_json::to_value(line),
            TillOperation::PickupReady(ready) => serde_json::to_value(ready),
            TillOperation::PickupHandedOver(handed) => serde_json::to_value(handed),
        };
        // These types have string keys and no maps of their own: encoding cannot fail.
        encoded.unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(member: Option<crate::loyalty::SaleMember>) -> SaleCompleted {
        SaleCompleted {
            sale_id: "s1".into(),
            receipt_no: "AB12-000001".into(),
            device_id: "d1".into(),
            staff_id: "st".into(),
            created_at_ms: 1,
            currency: "TWD".into(),
            tax_mode: "inclusive".into(),
            subtotal_minor: 100,
            discount_minor: 0,
            tax_minor: 5,
            rounding_minor: 0,
            total_minor: 100,
            lines: vec![SaleLineOp {
                line_no: 1,
                sku: "A".into(),
                quantity: 1,
                unit_price_minor: 100,
                discount_minor: 0,
                tax_rate_bp: 500,
                tax_minor: 5,
                total_minor: 100,
            }],
            tenders: vec![TenderOp {
                kind: "card".into(),
                amount_minor: 100,
                reference: Some("R".into()),
            }],
            member,
        }
    }

    fn member() -> crate::loyalty::SaleMember {
        crate::loyalty::SaleMember {
            member_id: "m".into(),
            tier: "base".into(),
            tier_discount_minor: 0,
            points_earned: 1,
            points_redeemed: 0,
            redemption: None,
            coupon: None,
            spend_minor: 100,
            rules_version: Some(1),
        }
    }

    #[test]
    fn every_operation_decodes_from_its_own_type_and_payload() {
        let ops = vec![
            TillOperation::Sale(sale(None)),
            TillOperation::MemberSale(sale(Some(member()))),
            TillOperation::ConflictResolved(ConflictResolved {
                conflict_id: "c".into(),
                note: "n".into(),
                resolved_by: "m".into(),
                resolved_at_ms: 1,
            }),
        ];
        for op in ops {
            let back = TillOperation::decode(op.op_type(), &op.payload()).expect("it decodes");
            assert_eq!(back, op, "type and payload travel together unchanged");
        }
    }

    #[test]
    fn a_payload_under_the_wrong_type_or_an_unknown_type_is_refused() {
        let plain = TillOperation::Sale(sale(None)).payload();
        let with_member = TillOperation::MemberSale(sale(Some(member()))).payload();
        for (op_type, payload) in [
            (SALE_COMPLETED_V2, &plain),
            (SALE_COMPLETED, &with_member),
            (REFUND_COMPLETED, &plain),
            (MEMBER_ENROLLED, &plain),
            ("sale.completed.v9", &plain),
        ] {
            assert!(
                TillOperation::decode(op_type, payload).is_err(),
                "a {op_type} must not be read from another type's payload"
            );
        }
        assert_eq!(
            TillOperation::decode("sale.completed.v9", &plain),
            Err(DecodeError::UnknownType("sale.completed.v9".into())),
            "an unknown type is named as such"
        );
    }
}
