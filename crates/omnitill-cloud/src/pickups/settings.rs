//! The brand's pickup settings: how many days an order waits before it expires, and when a
//! member's order paid online earns its points (at the online payment, or at collection).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};

/// The longest an order may wait, in days.
pub const MAX_EXPIRY_DAYS: i64 = 30;

/// The brand's pickup settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PickupSettings {
    /// Days from placement to expiry, 1 to 30; new orders only.
    #[schema(minimum = 1, maximum = 30)]
    pub expiry_days: i64,
    /// `online_payment` or `collection`: when a member's order paid online earns points.
    pub points_on: String,
}

pub async fn get(db: &Db) -> CloudResult<PickupSettings> {
    let (expiry_days, points_on): (i64, String) =
        sqlx::query_as("SELECT expiry_days, points_on FROM pickup_settings WHERE id = 1")
            .fetch_one(&db.read)
            .await?;
    Ok(PickupSettings {
        expiry_days,
        points_on,
    })
}

/// Sets the brand's pickup settings; later orders follow them.
pub async fn set(db: &Db, settings: &PickupSettings) -> CloudResult<PickupSettings> {
    if !(1..=MAX_EXPIRY_DAYS).contains(&settings.expiry_days) {
        return Err(CloudError::BadRequest(format!(
            "expiry_days must be 1 to {MAX_EXPIRY_DAYS}"
        )));
    }
    if !matches!(settings.points_on.as_str(), "online_payment" | "collection") {
        return Err(CloudError::BadRequest(
            "points_on must be online_payment or collection".into(),
        ));
    }
    sqlx::query("UPDATE pickup_settings SET expiry_days = $1, points_on = $2 WHERE id = 1")
        .bind(settings.expiry_days)
        .bind(&settings.points_on)
        .execute(&db.write)
        .await?;
    get(db).await
}
