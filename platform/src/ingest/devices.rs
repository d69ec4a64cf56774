//! `GET /v1/devices`: the devices a caller may see — its own, or every device for operators and
//! admins — with where each stands (active or revoked, under review or not).

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::IngestService;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::registry::{Device, DeviceState, Role};

/// Most devices one answer lists.
pub const MAX_DEVICES: i64 = 10_000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DevicesQuery {
    /// At most this many, oldest registration first (default and maximum 10,000).
    pub limit: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct DeviceView {
    /// 32 hex characters (SHA-256 of the public key, first 16 bytes).
    pub device_id: String,
    pub owner: String,
    pub nameplate_w: u32,
    pub latitude: String,
    pub longitude: String,
    pub zone: String,
    /// `active` or `revoked`.
    pub status: String,
    pub registered_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    /// Why the device is under review (an operator must look at its flagged readings), or
    /// absent when it is not.
    pub review_reason: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct DevicesView {
    pub devices: Vec<DeviceView>,
}

fn view(device: Device, review: Option<String>) -> DeviceView {
    let revoked_at_ms = match device.state {
        DeviceState::Revoked { at_ms } => Some(at_ms),
        DeviceState::Active => None,
    };
    DeviceView {
        device_id: device.id.to_hex(),
        owner: device.owner.to_string(),
        nameplate_w: device.nameplate.watts(),
        latitude: device.location.latitude.to_string(),
        longitude: device.location.longitude.to_string(),
        zone: device.zone.to_string(),
        status: if revoked_at_ms.is_some() {
            "revoked"
        } else {
            "active"
        }
        .to_owned(),
        registered_at_ms: device.registered_at_ms,
        revoked_at_ms,
        review_reason: review,
    }
}

/// My devices (prosumers, consumers), or every device (operators, admins).
#[utoipa::path(get, path = "/v1/devices", tag = "readings", params(DevicesQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = DevicesView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/v1/devices")]
pub async fn list_devices(
    query: web::Query<DevicesQuery>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<DevicesView>, ApiError> {
    let limit = crate::api::page_limit(query.limit, MAX_DEVICES, MAX_DEVICES)?;
    let everyone = matches!(caller.role(), Role::Operator | Role::Admin);
    let me = caller.id();
    let store = service.store().clone();
    let devices = web::block(move || -> crate::error::Result<Vec<DeviceView>> {
        let devices: Vec<Device> = store
            .devices()?
            .into_iter()
            .filter(|d| everyone || d.owner_id == me)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        let ids: Vec<_> = devices.iter().map(|d| d.id).collect();
        let mut reviews = store.device_reviews(&ids)?;
        Ok(devices
            .into_iter()
            .map(|d| {
                let review = reviews.remove(&d.id);
                view(d, review)
            })
            .collect())
    })
    .await??;
    Ok(web::Json(DevicesView { devices }))
}
