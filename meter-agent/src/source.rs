//! Every kind of device behind one trait: a source gives a [`Measurement`] when asked.

use std::time::Duration;

use reading::DeviceStatus;
use serde::Serialize;

use crate::error::{AgentError, Result};
use crate::modbus_link::{DeviceUrl, ModbusLink};
use crate::modbus_map::{read_profile, Profile};
use crate::sunspec::{self, CommonInfo, SunSpecMap};

/// What a device said in one poll. `None` means "absent": the device does not implement the
/// point, or sent a sentinel; it is never replaced by a made-up number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Measurement {
    pub power_w: Option<i32>,
    /// Cumulative production (inverter) or export (meter) counter, Wh.
    pub energy_wh: Option<u64>,
    /// Grid import counter, Wh, when the device has a meter.
    pub import_wh: Option<u64>,
    pub status: DeviceStatus,
    /// Where the values came from, e.g. "sunspec 103" or "profile Eastron SDM630".
    pub model: String,
}

/// A device the agent polls.
#[async_trait::async_trait]
pub trait Source: Send {
    /// A short name for logs.
    fn describe(&self) -> String;
    /// Reads the device once.
    async fn sample(&mut self) -> Result<Measurement>;
}

/// A SunSpec device over Modbus TCP or RTU. The model chain is discovered on first use and
/// again after any failure, because inverters reorder or re-announce models after a firmware
/// update or a restart.
pub struct SunSpecSource {
    link: ModbusLink,
    url: DeviceUrl,
    unit: u8,
    map: Option<SunSpecMap>,
    pub info: CommonInfo,
}

impl SunSpecSource {
    pub fn new(url: DeviceUrl, unit: u8, timeout: Duration) -> Self {
        SunSpecSource {
            link: ModbusLink::new(url.clone(), unit, timeout),
            url,
            unit,
            map: None,
            info: CommonInfo::default(),
        }
    }

    /// The discovered model chain (after the first successful sample).
    pub fn map(&self) -> Option<&SunSpecMap> {
        self.map.as_ref()
    }

    async fn sample_inner(&mut self) -> Result<Measurement> {
        let map = match self.map.take() {
            Some(m) => m,
            None => {
                let m = sunspec::discover(&mut self.link).await?;
                self.info = sunspec::read_common(&mut self.link, &m).await?;
                tracing::info!(
                    device = %self.url, unit = self.unit, base = m.base,
                    models = ?m.models.iter().map(|x| x.id).collect::<Vec<_>>(),
                    manufacturer = ?self.info.manufacturer, model = ?self.info.model, serial = ?self.info.serial,
                    "SunSpec device discovered"
                );
                m
            }
        };
        let s = sunspec::read_sample(&mut self.link, &map).await?;
        self.map = Some(map);
        let (power_w, energy_wh, status, model) = match (&s.inverter, &s.meter) {
            (Some(inv), _) => (
                inv.power_w,
                inv.energy_wh,
                inv.status,
                match &s.meter {
                    Some(m) => format!("{}+{}", inv.model, m.model),
                    None => inv.model.to_string(),
                },
            ),
            (None, Some(m)) => (m.power_w, m.export_wh, None, m.model.to_string()),
            (None, None) => (None, None, None, String::new()),
        };
        Ok(Measurement {
            power_w,
            energy_wh,
            import_wh: s.meter.as_ref().and_then(|m| m.import_wh),
            // a meter-only device has no operating state; it answered, so it is ok
            status: status.unwrap_or(DeviceStatus::Ok),
            model,
        })
    }
}

#[async_trait::async_trait]
impl Source for SunSpecSource {
    fn describe(&self) -> String {
        format!("sunspec {} unit {}", self.url, self.unit)
    }

    async fn sample(&mut self) -> Result<Measurement> {
        self.sample_inner().await
    }
}

/// A register-map meter (a TOML profile) over Modbus TCP or RTU.
pub struct ProfileSource {
    link: ModbusLink,
    url: DeviceUrl,
    unit: u8,
    profile: Profile,
}

impl ProfileSource {
    pub fn new(url: DeviceUrl, unit: u8, timeout: Duration, profile: Profile) -> Self {
        ProfileSource {
            link: ModbusLink::new(url.clone(), unit, timeout),
            url,
            unit,
            profile,
        }
    }
}

#[async_trait::async_trait]
impl Source for ProfileSource {
    fn describe(&self) -> String {
        format!(
            "profile {:?} at {} unit {}",
            self.profile.name, self.url, self.unit
        )
    }

    async fn sample(&mut self) -> Result<Measurement> {
        let s = read_profile(&mut self.link, &self.profile).await?;
        if s.export_wh.is_none() && s.import_wh.is_none() {
            return Err(AgentError::NoValue(format!(
                "{}: no energy register gave a value",
                self.describe()
            )));
        }
        Ok(Measurement {
            power_w: s.power_w,
            energy_wh: s.export_wh,
            import_wh: s.import_wh,
            status: DeviceStatus::Ok,
            model: format!("profile {}", self.profile.name),
        })
    }
}

/// `read --once` against a SunSpec device: discovery, common model, one sample, as JSON.
pub async fn read_once_sunspec(
    url: DeviceUrl,
    unit: u8,
    timeout: Duration,
) -> Result<serde_json::Value> {
    let mut link = ModbusLink::new(url.clone(), unit, timeout);
    let map = sunspec::discover(&mut link).await?;
    let info = sunspec::read_common(&mut link, &map).await?;
    let s = sunspec::read_sample(&mut link, &map).await?;
    let inv = s.inverter.as_ref();
    let met = s.meter.as_ref();
    let status = inv.and_then(|i| i.status).unwrap_or(DeviceStatus::Ok);
    Ok(serde_json::json!({
        "device": url.to_string(),
        "unit": unit,
        "base": map.base,
        "models": map.models.iter().map(|m| m.id).collect::<Vec<_>>(),
        "model": inv.map(|i| i.model).or(met.map(|m| m.model)),
        "meter_model": met.map(|m| m.model),
        "power_w": inv.and_then(|i| i.power_w).or(met.and_then(|m| m.power_w)),
        "energy_wh": inv.and_then(|i| i.energy_wh).or(met.and_then(|m| m.export_wh)),
        "meter_power_w": met.and_then(|m| m.power_w),
        "export_wh": met.and_then(|m| m.export_wh),
        "import_wh": met.and_then(|m| m.import_wh),
        "status": status,
        "manufacturer": info.manufacturer,
        "device_model": info.model,
        "serial": info.serial,
    }))
}

/// `read --once` against a register-map meter.
pub async fn read_once_profile(
    url: DeviceUrl,
    unit: u8,
    timeout: Duration,
    profile: Profile,
) -> Result<serde_json::Value> {
    let name = profile.name.clone();
    let mut src = ProfileSource::new(url.clone(), unit, timeout, profile);
    let m = src.sample().await?;
    Ok(serde_json::json!({
        "device": url.to_string(),
        "unit": unit,
        "model": name,
        "power_w": m.power_w,
        "energy_wh": m.energy_wh,
        "import_wh": m.import_wh,
        "status": m.status,
    }))
}
