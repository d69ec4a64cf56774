//! Register-map devices: meters that are not SunSpec, described by a TOML profile (registers,
//! function, type, word order, scale, unit). Adding a meter is adding a profile file, no Rust.

use std::path::Path;

use serde::Deserialize;

use crate::error::{AgentError, Result};
use crate::sunspec::{read_split, RegisterKind, RegisterReader};

/// Which reading field a register feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// Instantaneous active power (W, negative = consuming).
    Power,
    /// Cumulative production / export counter.
    Export,
    /// Cumulative import counter.
    Import,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    U16,
    I16,
    U32,
    I32,
    U64,
    F32,
    F64,
}

impl ValueType {
    pub fn width(self) -> u16 {
        match self {
            Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
            Self::U64 | Self::F64 => 4,
        }
    }
}

/// Order of the 16-bit words of a multi-register value; bytes inside a word are always big-endian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOrder {
    /// Most significant word first (Modbus convention).
    #[default]
    Big,
    /// Least significant word first ("word-swapped", e.g. Sungrow).
    Little,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Unit {
    W,
    #[serde(rename = "kW")]
    KW,
    Wh,
    #[serde(rename = "kWh")]
    KWh,
}

impl Unit {
    fn factor(self) -> f64 {
        match self {
            Unit::W | Unit::Wh => 1.0,
            Unit::KW | Unit::KWh => 1000.0,
        }
    }
    fn is_power(self) -> bool {
        matches!(self, Unit::W | Unit::KW)
    }
}

fn one() -> f64 {
    1.0
}

/// One register (or register group) of a profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDef {
    pub field: Field,
    /// 0-based PDU address, as it goes on the wire.
    pub address: u16,
    pub function: RegisterKind,
    #[serde(rename = "type")]
    pub ty: ValueType,
    #[serde(default)]
    pub word_order: WordOrder,
    /// Multiplied with the raw value before the unit conversion.
    #[serde(default = "one")]
    pub scale: f64,
    pub unit: Unit,
    /// Raw values that mean "not available" on this meter (e.g. 0xFFFFFFFF).
    #[serde(default)]
    pub not_available: Vec<u64>,
}

/// A device profile loaded from TOML.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "register")]
    pub registers: Vec<RegisterDef>,
}

impl Profile {
    /// Parses and checks a profile; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Profile> {
        let bad = |reason: String| AgentError::Profile {
            path: origin.to_string(),
            reason,
        };
        let p: Profile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut seen = Vec::new();
        for r in &p.registers {
            if seen.contains(&r.field) {
                return Err(bad(format!("field {:?} is defined twice", r.field)));
            }
            seen.push(r.field);
            if (r.field == Field::Power) != r.unit.is_power() {
                return Err(bad(format!(
                    "field {:?} cannot have unit {:?}",
                    r.field, r.unit
                )));
            }
            if u32::from(r.address) + u32::from(r.ty.width()) > 65536 {
                return Err(bad(format!("register at {} runs past 65535", r.address)));
            }
            if !r.scale.is_finite() || r.scale == 0.0 {
                return Err(bad("scale must be a finite, non-zero number".into()));
            }
        }
        if !seen.contains(&Field::Export) && !seen.contains(&Field::Import) {
            return Err(bad(
                "a profile needs an export or an import energy register".into(),
            ));
        }
        Ok(p)
    }

    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|e| AgentError::io(path, e))?;
        Profile::parse(&text, &path.display().to_string())
    }
}

/// Decodes one value from its registers; `None` for NaN, infinities or a `not_available` value.
pub fn decode_raw(def: &RegisterDef, regs: &[u16]) -> Option<f64> {
    let n = usize::from(def.ty.width());
    let words = regs.get(..n)?;
    let mut ordered: Vec<u16> = words.to_vec();
    if def.word_order == WordOrder::Little {
        ordered.reverse();
    }
    let bits = ordered
        .iter()
        .fold(0u64, |acc, w| (acc << 16) | u64::from(*w));
    if def.not_available.contains(&bits) {
        return None;
    }
    let v = match def.ty {
        ValueType::U16 | ValueType::U32 | ValueType::U64 => bits as f64,
        ValueType::I16 => f64::from(bits as u16 as i16),
        ValueType::I32 => f64::from(bits as u32 as i32),
        ValueType::F32 => f64::from(f32::from_bits(bits as u32)),
        ValueType::F64 => f64::from_bits(bits),
    };
    v.is_finite().then_some(v)
}

/// A value in W or Wh after scale and unit.
pub fn to_base_unit(def: &RegisterDef, raw: f64) -> Option<f64> {
    let v = raw * def.scale * def.unit.factor();
    v.is_finite().then_some(v)
}

/// One sample of a register-map meter; `None` = absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSample {
    pub power_w: Option<i32>,
    pub export_wh: Option<u64>,
    pub import_wh: Option<u64>,
}

/// Converts the decoded value of `def` into the sample.
pub fn apply(sample: &mut MapSample, def: &RegisterDef, regs: &[u16]) {
    let Some(v) = decode_raw(def, regs).and_then(|raw| to_base_unit(def, raw)) else {
        return;
    };
    match def.field {
        Field::Power => {
            let r = v.round();
            if r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX) {
                sample.power_w = Some(r as i32);
            }
        }
        Field::Export | Field::Import => {
            // counters are rounded down so that a reading never claims energy not yet measured
            let f = v.floor();
            if (0.0..1.8e19).contains(&f) {
                let wh = Some(f as u64);
                if def.field == Field::Export {
                    sample.export_wh = wh;
                } else {
                    sample.import_wh = wh;
                }
            }
        }
    }
}

/// Reads every register of the profile from the device.
pub async fn read_profile<R: RegisterReader + ?Sized>(
    reader: &mut R,
    profile: &Profile,
) -> Result<MapSample> {
    let mut s = MapSample::default();
    for def in &profile.registers {
        let regs = read_split(reader, def.function, def.address, def.ty.width()).await?;
        apply(&mut s, def, &regs);
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
