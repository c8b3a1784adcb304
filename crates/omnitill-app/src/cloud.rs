//! The cloud as the till's use cases see it: the calls a cashier waits on (a member look-up,
//! their history, a hold on points or on a coupon and its release) and a till's enrolment.
//!
//! The use cases reach the cloud only through `Cloud`, so they run without a network: the
//! product uses `HttpCloud` (the sync client, with the engine's view of the link), the tests a
//! fake that can be online, offline, slow or refusing. A call's failure is either `Unreachable`
//! (the till goes on offline) or `Refused` (the cloud's own words, shown as they are).

use std::future::Future;

use omnitill_protocol::enrol::{EnrolResponse, TillIdentity};
use omnitill_protocol::floor::MemberFloor;
use omnitill_protocol::loyalty::{CachedMember, CouponHoldRequest, History, HoldRequest};
use omnitill_sync::engine::EngineStatus;

/// Where this till's cloud is and the device token it presents there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudAddress {
    pub url: String,
    pub token: String,
}

/// Why a cloud call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// No answer in time, or a failure on the cloud's side: trying later may succeed, and the
    /// till goes on offline meanwhile.
    #[error("{0}")]
    Unreachable(String),
    /// The cloud answered no, for good: too few points, a coupon already used, a bad code.
    /// The words are the cloud's.
    #[error("the cloud refused: {0}")]
    Refused(String),
}

/// The cloud calls of the till's use cases. Every call but `enrol` goes to the address of the
/// till's link; `sync_status` says whether the till asks the cloud at all right now.
pub trait Cloud: Send + Sync + 'static {
    /// The background sync's last word on the link, while it runs. The till asks the cloud
    /// only while this says the link is up (`App::online`); otherwise the use cases apply the
    /// offline rules at once.
    fn sync_status(&self) -> Option<EngineStatus>;

    /// A member this till has not cached, by the kind ("phone", "email", "card", "qr") and
    /// normalised key the cashier gave. `None`: the cloud knows no such member.
    fn look_up_member(
        &self,
        at: &CloudAddress,
        kind: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<CachedMember>, CloudError>> + Send;

    /// A member's points entries and purchases from both channels.
    fn member_history(
        &self,
        at: &CloudAddress,
        member_id: &str,
    ) -> impl Future<Output = Result<History, CloudError>> + Send;

    /// What the cloud adds to a member's view on the shop floor.
    fn member_floor(
        &self,
        at: &CloudAddress,
        member_id: &str,
    ) -> impl Future<Output = Result<MemberFloor, CloudError>> + Send;

    /// Holds a member's points for a sale in progress.
    fn hold_points(
        &self,
        at: &CloudAddress,
        request: &HoldRequest,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Gives back the points held for `sale_id`.
    fn release_points(
        &self,
        at: &CloudAddress,
        sale_id: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Reserves a member's coupon for a sale in progress.
    fn hold_coupon(
        &self,
        at: &CloudAddress,
        request: &CouponHoldRequest,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Lifts the coupon reservation of `sale_id`.
    fn release_coupon(
        &self,
        at: &CloudAddress,
        sale_id: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Enrols this till with the cloud at `url` with a one-time `code`.
    fn enrol(
        &self,
        url: &str,
        enrolment: &TillEnrolment,
    ) -> impl Future<Output = Result<EnrolResponse, CloudError>> + Send;

    /// Tells the background sync that an operation is waiting to be sent.
    fn wake_sync(&self);

    /// Starts the background sync if it is not running (the till was just enrolled), and wakes
    /// it.
    fn start_sync(&self);
}

/// What a till says of itself when it enrols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TillEnrolment {
    pub code: String,
    pub device_name: String,
    /// The first of its operations the cloud has not acknowledged.
    pub first_seq: i64,
    pub identity: TillIdentity,
}
