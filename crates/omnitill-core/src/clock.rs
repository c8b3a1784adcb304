//! Time and identity sources, passed in so domain logic never reads the system clock itself.
//!
//! `SystemClock` is what the app uses. `ManualClock` is for tests: it starts at a fixed instant
//! and moves only when told, so effective-dated prices and receipts are reproducible.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use uuid::{NoContext, Timestamp, Uuid};

/// Where core gets "now" and new ids from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// A new UUIDv7 whose time part is `now()`, so ids sort by creation time.
    fn new_id(&self) -> Uuid {
        let now = self.now();
        let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
        Uuid::new_v7(Timestamp::from_unix(
            NoContext,
            seconds,
            now.timestamp_subsec_nanos(),
        ))
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests that only moves when advanced.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}
