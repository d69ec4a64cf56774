//! SunSpec over Modbus: discovery of the "SunS" marker, the model chain walk and reading the
//! inverter and meter models. All of it runs over [`RegisterReader`], so it is tested against
//! in-memory register images as well as real devices.

pub mod decode;
pub mod models;

use crate::error::{AgentError, Result};
use models::{decode_inverter, decode_meter, kind_of, InverterValues, MeterValues};

/// Base addresses tried for the "SunS" marker, in this order.
pub const BASE_ADDRESSES: [u16; 3] = [40000, 0, 50000];
/// "SunS" as two big-endian registers.
pub const SUNS_MARKER: [u16; 2] = [0x5375, 0x6E53];
/// The end model ID.
pub const END_MODEL: u16 = 0xFFFF;
/// Modbus allows at most 125 registers per read.
pub const MAX_READ: u16 = 125;
/// A chain longer than this is not a device, it is garbage.
pub const MAX_MODELS: usize = 64;

/// Which register table a read goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    /// Function 3.
    Holding,
    /// Function 4.
    Input,
}

/// Something that can read registers: a Modbus client, or a register image in tests.
#[async_trait::async_trait]
pub trait RegisterReader: Send {
    /// Reads exactly `count` (1..=125) registers from `addr`.
    async fn read(&mut self, kind: RegisterKind, addr: u16, count: u16) -> Result<Vec<u16>>;
}

/// Reads `count` registers starting at `addr`, split into requests of at most 125 registers.
pub async fn read_split<R: RegisterReader + ?Sized>(
    reader: &mut R,
    kind: RegisterKind,
    addr: u16,
    count: u16,
) -> Result<Vec<u16>> {
    let mut out = Vec::with_capacity(usize::from(count));
    let mut done: u16 = 0;
    while done < count {
        let n = (count - done).min(MAX_READ);
        let start = addr
            .checked_add(done)
            .ok_or_else(|| AgentError::NoValue(format!("read past register 65535 from {addr}")))?;
        let regs = reader.read(kind, start, n).await?;
        if regs.len() != usize::from(n) {
            return Err(AgentError::NoValue(format!(
                "device returned {} registers at {start}, asked for {n}",
                regs.len()
            )));
        }
        out.extend_from_slice(&regs);
        done += n;
    }
    Ok(out)
}

/// One model in the chain: its ID, the address of its ID register and its length L.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub id: u16,
    pub start: u16,
    pub len: u16,
}

/// The discovered model chain of one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SunSpecMap {
    pub base: u16,
    pub models: Vec<ModelEntry>,
}

impl SunSpecMap {
    /// The first inverter model (101..103, 111..113, 701) in chain order.
    pub fn inverter(&self) -> Option<ModelEntry> {
        self.models
            .iter()
            .copied()
            .find(|m| kind_of(m.id).is_some_and(|k| k.is_inverter()))
    }

    /// The first meter model (201..204, 211..214) in chain order.
    pub fn meter(&self) -> Option<ModelEntry> {
        self.models
            .iter()
            .copied()
            .find(|m| kind_of(m.id).is_some_and(|k| !k.is_inverter()))
    }
}

/// Finds the "SunS" marker and walks the model chain by lengths until the end model.
pub async fn discover<R: RegisterReader + ?Sized>(reader: &mut R) -> Result<SunSpecMap> {
    let mut tried = Vec::new();
    for base in BASE_ADDRESSES {
        match reader.read(RegisterKind::Holding, base, 2).await {
            Ok(regs) if regs == SUNS_MARKER => return walk_chain(reader, base).await,
            Ok(regs) => tried.push(format!("{base}: {regs:04X?}")),
            // an exception just means "nothing here"; try the next base
            Err(AgentError::ModbusException { code, .. }) => tried.push(format!("{base}: {code}")),
            Err(e) => return Err(e),
        }
    }
    Err(AgentError::NotSunSpec(format!(
        "no \"SunS\" marker at base 40000, 0 or 50000 ({})",
        tried.join("; ")
    )))
}

async fn walk_chain<R: RegisterReader + ?Sized>(reader: &mut R, base: u16) -> Result<SunSpecMap> {
    let mut models = Vec::new();
    let mut addr = base.checked_add(2).ok_or_else(|| {
        AgentError::BadModelChain("marker at the top of the address space".into())
    })?;
    loop {
        if models.len() >= MAX_MODELS {
            return Err(AgentError::BadModelChain(format!(
                "no end model (0xFFFF) after {MAX_MODELS} models"
            )));
        }
        let hdr = match reader.read(RegisterKind::Holding, addr, 2).await {
            Ok(h) => h,
            // some devices do not map the L register of the end model: read the ID alone
            Err(AgentError::ModbusException { code, .. }) => {
                match reader.read(RegisterKind::Holding, addr, 1).await {
                    Ok(id) if id == [END_MODEL] => break,
                    _ => {
                        return Err(AgentError::BadModelChain(format!(
                            "model header at {addr} unreadable ({code}); chain ends without the 0xFFFF end model"
                        )))
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let (id, len) = match hdr.as_slice() {
            [id, len] => (*id, *len),
            _ => return Err(AgentError::BadModelChain(format!("short header at {addr}"))),
        };
        if id == END_MODEL {
            break;
        }
        if models.is_empty() && id != 1 {
            return Err(AgentError::BadModelChain(format!(
                "first model at {addr} is {id}, SunSpec requires the common model 1 first"
            )));
        }
        if id == 0 {
            return Err(AgentError::BadModelChain(format!("model ID 0 at {addr}")));
        }
        models.push(ModelEntry {
            id,
            start: addr,
            len,
        });
        addr = addr
            .checked_add(2)
            .and_then(|a| a.checked_add(len))
            .ok_or_else(|| {
                AgentError::BadModelChain(format!(
                    "model {id} at {addr} with length {len} runs past register 65535"
                ))
            })?;
    }
    Ok(SunSpecMap { base, models })
}

/// Nameplate strings of the common model.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CommonInfo {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

/// Reads the common model (model 1, L = 65 or 66).
pub async fn read_common<R: RegisterReader + ?Sized>(
    reader: &mut R,
    map: &SunSpecMap,
) -> Result<CommonInfo> {
    let Some(m) = map.models.iter().find(|m| m.id == 1) else {
        return Ok(CommonInfo::default());
    };
    let n = (m.len + 2).min(66);
    let r = read_split(reader, RegisterKind::Holding, m.start, n).await?;
    let s = |a: usize, b: usize| r.get(a..b).and_then(decode::string);
    Ok(CommonInfo {
        manufacturer: s(2, 18),
        model: s(18, 34),
        serial: s(50, 66),
    })
}

async fn read_model<R: RegisterReader + ?Sized>(reader: &mut R, m: ModelEntry) -> Result<Vec<u16>> {
    let kind =
        kind_of(m.id).ok_or_else(|| AgentError::NoValue(format!("model {} unsupported", m.id)))?;
    // never read past the model's own end: the next model's registers are not ours
    let n = kind.plan_len().min(m.len.saturating_add(2));
    let regs = read_split(reader, RegisterKind::Holding, m.start, n).await?;
    // the header is re-read with the values: if the device rebooted into another layout, the
    // cached chain is stale and these registers are not the model we think they are
    if regs.first() != Some(&m.id) || regs.get(1) != Some(&m.len) {
        return Err(AgentError::BadModelChain(format!(
            "model {} at {} now reads as ID {:?} L {:?}; the model chain changed, rediscovering",
            m.id,
            m.start,
            regs.first(),
            regs.get(1)
        )));
    }
    Ok(regs)
}

/// One sample from a SunSpec device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SunSpecSample {
    pub inverter: Option<InverterValues>,
    pub meter: Option<MeterValues>,
}

/// Reads the inverter and meter models found in `map`.
pub async fn read_sample<R: RegisterReader + ?Sized>(
    reader: &mut R,
    map: &SunSpecMap,
) -> Result<SunSpecSample> {
    let inverter = match map.inverter() {
        Some(m) => decode_inverter(m.id, &read_model(reader, m).await?),
        None => None,
    };
    let meter = match map.meter() {
        Some(m) => decode_meter(m.id, &read_model(reader, m).await?),
        None => None,
    };
    if inverter.is_none() && meter.is_none() {
        let ids: Vec<u16> = map.models.iter().map(|m| m.id).collect();
        return Err(AgentError::NoValue(format!(
            "SunSpec device has no inverter (101-103, 111-113, 701) or meter (201-204, 211-214) model; models: {ids:?}"
        )));
    }
    Ok(SunSpecSample { inverter, meter })
}

/// An in-memory register image, used by tests and by the simulator.
#[derive(Clone, Debug, Default)]
pub struct RegisterImage {
    pub holding: std::collections::BTreeMap<u16, u16>,
    pub input: std::collections::BTreeMap<u16, u16>,
}

impl RegisterImage {
    pub fn put(&mut self, kind: RegisterKind, addr: u16, regs: &[u16]) {
        let map = match kind {
            RegisterKind::Holding => &mut self.holding,
            RegisterKind::Input => &mut self.input,
        };
        for (i, r) in regs.iter().enumerate() {
            if let Some(a) = addr.checked_add(i as u16) {
                map.insert(a, *r);
            }
        }
    }

    /// Reads like a Modbus server would: any unmapped register is an IllegalDataAddress.
    pub fn get(&self, kind: RegisterKind, addr: u16, count: u16) -> Result<Vec<u16>> {
        let map = match kind {
            RegisterKind::Holding => &self.holding,
            RegisterKind::Input => &self.input,
        };
        (0..count)
            .map(|i| {
                addr.checked_add(i)
                    .and_then(|a| map.get(&a).copied())
                    .ok_or(AgentError::ModbusException {
                        address: addr,
                        code: "IllegalDataAddress".into(),
                    })
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl RegisterReader for RegisterImage {
    async fn read(&mut self, kind: RegisterKind, addr: u16, count: u16) -> Result<Vec<u16>> {
        if count == 0 || count > MAX_READ {
            return Err(AgentError::ModbusException {
                address: addr,
                code: "IllegalDataValue".into(),
            });
        }
        self.get(kind, addr, count)
    }
}

#[cfg(test)]
mod tests;
