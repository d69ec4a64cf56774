//! Payload parsers for MQTT devices, as pure functions: topic + payload in, the fields the
//! message carries out. Malformed payloads give an `Err` with the reason; never a number.

use serde_json::Value;

use crate::modbus_map::{Field, Unit};

/// The fields one message updates; `None` = not in this message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub power_w: Option<i32>,
    pub export_wh: Option<u64>,
    pub import_wh: Option<u64>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self == &Update::default()
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A scalar or, for multi-channel devices, the sum of an array of numbers.
fn num_or_sum(v: &Value) -> Option<f64> {
    match v {
        Value::Array(a) => a.iter().map(num).sum::<Option<f64>>(),
        other => num(other),
    }
}

pub fn to_w(v: f64, unit: Unit) -> Result<i32, String> {
    let w = match unit {
        Unit::W => v,
        Unit::KW => v * 1000.0,
        _ => return Err(format!("unit {unit:?} is not a power unit")),
    }
    .round();
    if w.is_finite() && w >= f64::from(i32::MIN) && w <= f64::from(i32::MAX) {
        Ok(w as i32)
    } else {
        Err(format!("power {v} out of range"))
    }
}

/// Energy to whole Wh. Devices publish decimal strings (e.g. kWh with 3 decimals), so the
/// nearest Wh is the value they meant.
pub fn to_wh(v: f64, unit: Unit) -> Result<u64, String> {
    let wh = match unit {
        Unit::Wh => v,
        Unit::KWh => v * 1000.0,
        _ => return Err(format!("unit {unit:?} is not an energy unit")),
    }
    .round();
    if wh.is_finite() && (0.0..1.8e19).contains(&wh) {
        Ok(wh as u64)
    } else {
        Err(format!("energy {v} is negative or out of range"))
    }
}

fn json(payload: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(payload).map_err(|e| format!("malformed JSON: {e}"))
}

/// Which Shelly Gen2+ component a source follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellyComponent {
    /// `em:N` (Pro 3EM): power from `em:N`, energy from `emdata:N`. A grid meter: its
    /// consumption is import and negative power, its returned energy is export.
    Em(u32),
    /// `switch:N` or `pm1:N`: `apower` and `aenergy.total` (Wh), taken as production.
    Metering(String),
}

impl ShellyComponent {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| format!("component {s:?} must look like em:0 or switch:0"))?;
        let n: u32 = id
            .parse()
            .map_err(|_| format!("component {s:?}: id is not a number"))?;
        match kind {
            "em" => Ok(ShellyComponent::Em(n)),
            "switch" | "pm1" => Ok(ShellyComponent::Metering(s.to_string())),
            _ => Err(format!(
                "component {s:?}: supported are em:N, switch:N and pm1:N"
            )),
        }
    }

    fn apply(&self, name: &str, obj: &Value, u: &mut Update) -> Result<(), String> {
        match self {
            ShellyComponent::Em(n) if name == format!("em:{n}") => {
                if let Some(p) = obj.get("total_act_power") {
                    let w = num(p).ok_or("total_act_power is not a number")?;
                    u.power_w = Some(to_w(-w, Unit::W)?);
                }
            }
            ShellyComponent::Em(n) if name == format!("emdata:{n}") => {
                if let Some(v) = obj.get("total_act") {
                    u.import_wh =
                        Some(to_wh(num(v).ok_or("total_act is not a number")?, Unit::Wh)?);
                }
                if let Some(v) = obj.get("total_act_ret") {
                    u.export_wh = Some(to_wh(
                        num(v).ok_or("total_act_ret is not a number")?,
                        Unit::Wh,
                    )?);
                }
            }
            ShellyComponent::Metering(c) if name == c => {
                if let Some(p) = obj.get("apower") {
                    let w = num(p).ok_or("apower is not a number")?;
                    u.power_w = Some(to_w(w.abs(), Unit::W)?);
                }
                if let Some(t) = obj.get("aenergy").and_then(|a| a.get("total")) {
                    u.export_wh = Some(to_wh(
                        num(t).ok_or("aenergy.total is not a number")?,
                        Unit::Wh,
                    )?);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Topics a Shelly source subscribes to.
pub fn shelly_topics(prefix: &str, c: &ShellyComponent) -> Vec<String> {
    let mut t = vec![format!("{prefix}/events/rpc")];
    match c {
        ShellyComponent::Em(n) => {
            t.push(format!("{prefix}/status/em:{n}"));
            t.push(format!("{prefix}/status/emdata:{n}"));
        }
        ShellyComponent::Metering(name) => t.push(format!("{prefix}/status/{name}")),
    }
    t
}

/// Shelly Gen2+: `<prefix>/events/rpc` (NotifyStatus / NotifyFullStatus, changed fields only)
/// or `<prefix>/status/<component>` (the full component status).
pub fn shelly(
    prefix: &str,
    c: &ShellyComponent,
    topic: &str,
    payload: &[u8],
) -> Result<Update, String> {
    let mut u = Update::default();
    let v = json(payload)?;
    if topic == format!("{prefix}/events/rpc") {
        let method = v.get("method").and_then(Value::as_str).unwrap_or_default();
        if method != "NotifyStatus" && method != "NotifyFullStatus" {
            return Ok(u); // NotifyEvent and replies carry no readings
        }
        let params = v
            .get("params")
            .and_then(Value::as_object)
            .ok_or("NotifyStatus without params object")?;
        for (name, obj) in params {
            c.apply(name, obj, &mut u)?;
        }
    } else if let Some(name) = topic.strip_prefix(&format!("{prefix}/status/")) {
        c.apply(name, &v, &mut u)?;
    }
    Ok(u)
}

/// Tasmota `tele/<topic>/SENSOR`: `ENERGY.Total` (kWh) and `ENERGY.Power` (W), scalars or
/// per-channel arrays (summed).
pub fn tasmota(payload: &[u8]) -> Result<Update, String> {
    let v = json(payload)?;
    let e = v
        .get("ENERGY")
        .ok_or("no ENERGY object (is this an energy-monitoring device?)")?;
    let mut u = Update::default();
    if let Some(t) = e.get("Total") {
        u.export_wh = Some(to_wh(
            num_or_sum(t).ok_or("ENERGY.Total is not a number")?,
            Unit::KWh,
        )?);
    }
    if let Some(p) = e.get("Power") {
        u.power_w = Some(to_w(
            num_or_sum(p).ok_or("ENERGY.Power is not a number")?,
            Unit::W,
        )?);
    }
    if u.is_empty() {
        return Err("ENERGY has neither Total nor Power".into());
    }
    Ok(u)
}

/// OpenDTU: plain-number payloads on `<prefix>/<serial>/0/yieldtotal` (kWh) and `/0/power` (W).
pub fn opendtu(prefix: &str, serial: &str, topic: &str, payload: &[u8]) -> Result<Update, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not text".to_string())?;
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("payload {text:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("payload {text:?} is not a finite number"));
    }
    let base = format!("{prefix}/{serial}/0/");
    let mut u = Update::default();
    match topic.strip_prefix(&base) {
        Some("yieldtotal") => u.export_wh = Some(to_wh(v, Unit::KWh)?),
        Some("power") => u.power_w = Some(to_w(v, Unit::W)?),
        _ => {}
    }
    Ok(u)
}

/// A generic field: the payload is JSON and `pointer` selects the number, or (empty pointer)
/// the payload is the number itself.
pub fn generic(field: Field, pointer: &str, unit: Unit, payload: &[u8]) -> Result<Update, String> {
    let v = if pointer.is_empty() {
        let text = std::str::from_utf8(payload).map_err(|_| "payload is not text".to_string())?;
        match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => f,
            _ => num(&json(payload)?).ok_or_else(|| format!("payload {text:?} is not a number"))?,
        }
    } else {
        let doc = json(payload)?;
        let at = doc
            .pointer(pointer)
            .ok_or_else(|| format!("nothing at JSON pointer {pointer}"))?;
        num(at).ok_or_else(|| format!("value at {pointer} is not a number: {at}"))?
    };
    let mut u = Update::default();
    match field {
        Field::Power => u.power_w = Some(to_w(v, unit)?),
        Field::Export => u.export_wh = Some(to_wh(v, unit)?),
        Field::Import => u.import_wh = Some(to_wh(v, unit)?),
    }
    Ok(u)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
