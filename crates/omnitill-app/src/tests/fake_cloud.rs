//! A cloud for the use-case tests: online, offline, slow or refusing, as a test sets it, with
//! a record of every call made to it.

use std::sync::Mutex;
use std::time::Duration;

use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::floor::MemberFloor;
use omnitill_protocol::loyalty::{
    CachedMember, CouponHoldRequest, History, HoldRequest, MemberInterests,
};
use omnitill_sync::engine::{EngineStatus, LinkState};

use crate::cloud::{Cloud, CloudAddress, CloudError, TillEnrolment};

/// How the fake answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The link is up and every call succeeds.
    Online,
    /// The sync engine reports the link down.
    Offline,
    /// The link looks up, but every call waits this long and then times out.
    Slow(Duration),
    /// The link is up, and every call is refused with these words.
    Refusing(String),
}

/// A call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    LookUp { kind: String, key: String },
    History { member_id: String },
    Floor { member_id: String },
    HoldPoints { sale_id: String, points: i64 },
    ReleasePoints { sale_id: String },
    HoldCoupon { sale_id: String, coupon_id: String },
    ReleaseCoupon { sale_id: String },
    Enrol { url: String },
}

pub struct FakeCloud {
    mode: Mutex<Mode>,
    calls: Mutex<Vec<Call>>,
    /// The member a look-up finds, whatever was asked.
    member: Mutex<Option<CachedMember>>,
    wakes: Mutex<usize>,
    /// How long each call takes before it is answered by the mode.
    latency: Mutex<Duration>,
    /// What the cloud adds to a member's floor view.
    floor: Mutex<Option<MemberFloor>>,
}

impl FakeCloud {
    pub fn new(mode: Mode) -> FakeCloud {
        FakeCloud {
            mode: Mutex::new(mode),
            calls: Mutex::new(Vec::new()),
            member: Mutex::new(None),
            wakes: Mutex::new(0),
            latency: Mutex::new(Duration::ZERO),
            floor: Mutex::new(None),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.mode) = mode;
    }

    /// Every call takes `latency` before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// The member the next look-ups find.
    pub fn knows(&self, member: CachedMember) {
        *lock(&self.member) = Some(member);
    }

    /// What the floor view of any member gets from the cloud (none: empty lists).
    pub fn floor_answers(&self, floor: MemberFloor) {
        *lock(&self.floor) = Some(floor);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// How often the background sync was woken or started.
    pub fn wakes(&self) -> usize {
        *lock(&self.wakes)
    }

    /// Records `call`, then answers by the mode: `Ok` when the call may succeed.
    async fn answer(&self, call: Call) -> Result<(), CloudError> {
        lock(&self.calls).push(call);
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mode = lock(&self.mode).clone();
        match mode {
            Mode::Online => Ok(()),
            Mode::Offline => Err(CloudError::Unreachable(
                "the cloud cannot be reached".into(),
            )),
            Mode::Slow(wait) => {
                tokio::time::sleep(wait).await;
                Err(CloudError::Unreachable(
                    "the cloud did not answer in time".into(),
                ))
            }
            Mode::Refusing(words) => Err(CloudError::Refused(words)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Cloud for FakeCloud {
    fn sync_status(&self) -> Option<EngineStatus> {
        let state = match *lock(&self.mode) {
            Mode::Offline => LinkState::Offline,
            _ => LinkState::Online,
        };
        Some(EngineStatus {
            state,
            ..EngineStatus::default()
        })
    }

    async fn look_up_member(
        &self,
        _at: &CloudAddress,
        kind: &str,
        key: &str,
    ) -> Result<Option<CachedMember>, CloudError> {
        self.answer(Call::LookUp {
            kind: kind.into(),
            key: key.into(),
        })
        .await?;
        Ok(lock(&self.member).clone())
    }

    async fn member_history(
        &self,
        _at: &CloudAddress,
        member_id: &str,
    ) -> Result<History, CloudError> {
        self.answer(Call::History {
            member_id: member_id.into(),
        })
        .await?;
        Ok(History {
            member_id: member_id.into(),
            balance: 0,
            points: Vec::new(),
            purchases: Vec::new(),
        })
    }

    async fn member_floor(
        &self,
        _at: &CloudAddress,
        member_id: &str,
    ) -> Result<MemberFloor, CloudError> {
        self.answer(Call::Floor {
            member_id: member_id.into(),
        })
        .await?;
        Ok(lock(&self.floor).clone().unwrap_or_else(|| MemberFloor {
            member_id: member_id.into(),
            tags: Vec::new(),
            interests: MemberInterests {
                member_id: member_id.into(),
                favourites: Vec::new(),
                viewed: Vec::new(),
            },
            points_expiring: 0,
            points_expiring_by_ms: 0,
            stock_elsewhere: Vec::new(),
            purchases: Vec::new(),
        }))
    }

    async fn hold_points(
        &self,
        _at: &CloudAddress,
        request: &HoldRequest,
    ) -> Result<(), CloudError> {
        self.answer(Call::HoldPoints {
            sale_id: request.sale_id.clone(),
            points: request.points,
        })
        .await
    }

    async fn release_points(&self, _at: &CloudAddress, sale_id: &str) -> Result<(), CloudError> {
        self.answer(Call::ReleasePoints {
            sale_id: sale_id.into(),
        })
        .await
    }

    async fn hold_coupon(
        &self,
        _at: &CloudAddress,
        request: &CouponHoldRequest,
    ) -> Result<(), CloudError> {
        self.answer(Call::HoldCoupon {
            sale_id: request.sale_id.clone(),
            coupon_id: request.coupon_id.clone(),
        })
        .await
    }

    async fn release_coupon(&self, _at: &CloudAddress, sale_id: &str) -> Result<(), CloudError> {
        self.answer(Call::ReleaseCoupon {
            sale_id: sale_id.into(),
        })
        .await
    }

    async fn enrol(
        &self,
        url: &str,
        enrolment: &TillEnrolment,
    ) -> Result<EnrolResponse, CloudError> {
        self.answer(Call::Enrol { url: url.into() }).await?;
        Ok(EnrolResponse {
            device_id: format!("device-{}", enrolment.identity.device_id),
            store_id: "store-1".into(),
            store_name: "Store 1".into(),
            token: "token-1".into(),
            receipt_prefix: "T1".into(),
        })
    }

    fn wake_sync(&self) {
        *lock(&self.wakes) += 1;
    }

    fn start_sync(&self) {
        *lock(&self.wakes) += 1;
    }
}
