//! Which points of which SunSpec model give power, energy and status, and how to decode them.
//!
//! Offsets are relative to the model's ID register (offset 0 = ID, 1 = L), as in the SunSpec
//! model definitions. Each model has a read plan that covers every point we use *and its scale
//! factor* in one request of at most 125 registers, because scale factors may change at run time.

use super::decode::*;
use reading::DeviceStatus;

/// The kinds of model the agent reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// 101/102/103: integer + scale factor inverter.
    InverterInt,
    /// 111/112/113: float inverter.
    InverterFloat,
    /// 701: DER AC measurement (scale factors after the values).
    DerAc,
    /// 201..204: integer + scale factor meter.
    MeterInt,
    /// 211..214: float meter.
    MeterFloat,
}

pub fn kind_of(model_id: u16) -> Option<ModelKind> {
    match model_id {
        101..=103 => Some(ModelKind::InverterInt),
        111..=113 => Some(ModelKind::InverterFloat),
        701 => Some(ModelKind::DerAc),
        201..=204 => Some(ModelKind::MeterInt),
        211..=214 => Some(ModelKind::MeterFloat),
        _ => None,
    }
}

impl ModelKind {
    pub fn is_inverter(self) -> bool {
        matches!(self, Self::InverterInt | Self::InverterFloat | Self::DerAc)
    }

    /// Registers to read from the model start, covering every used point and its SF.
    pub fn plan_len(self) -> u16 {
        match self {
            Self::InverterInt => 40,   // St at 38
            Self::InverterFloat => 50, // St at 48
            Self::DerAc => 121,        // TotWh_SF at 120
            Self::MeterInt => 55,      // TotWh_SF at 54
            Self::MeterFloat => 70,    // TotWhImp at 68..69
        }
    }
}

/// Values of an inverter model; `None` = not implemented / unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InverterValues {
    pub model: u16,
    pub power_w: Option<i32>,
    pub energy_wh: Option<u64>,
    pub status: Option<DeviceStatus>,
}

/// Values of a meter model; `None` = not implemented / unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterValues {
    pub model: u16,
    pub power_w: Option<i32>,
    pub export_wh: Option<u64>,
    pub import_wh: Option<u64>,
}

fn at(regs: &[u16], off: usize) -> Option<u16> {
    regs.get(off).copied()
}

fn pair(regs: &[u16], off: usize) -> Option<(u16, u16)> {
    Some((at(regs, off)?, at(regs, off + 1)?))
}

fn scaled_w(raw: Option<i16>, sf: Option<i8>) -> Option<i32> {
    let v = scale_round(i64::from(raw?), sf?)?;
    i32::try_from(v).ok()
}

fn scaled_wh(raw: Option<u64>, sf: Option<i8>) -> Option<u64> {
    scale_floor_u64(raw?, sf?)
}

/// Operating state of models 101..113 (`St`).
pub fn inverter_state(st: u16) -> Option<DeviceStatus> {
    match st {
        1 => Some(DeviceStatus::Off),
        2 | 3 | 6 | 8 => Some(DeviceStatus::Standby),
        4 | 5 => Some(DeviceStatus::Ok),
        7 => Some(DeviceStatus::Fault),
        _ => None,
    }
}

/// Operating state of model 701 (`InvSt`).
pub fn der_state(st: u16) -> Option<DeviceStatus> {
    match st {
        0 => Some(DeviceStatus::Off),
        1 | 2 | 5 | 7 => Some(DeviceStatus::Standby),
        3 | 4 => Some(DeviceStatus::Ok),
        6 => Some(DeviceStatus::Fault),
        _ => None,
    }
}

/// Decodes an inverter model from registers read from its ID register on.
pub fn decode_inverter(model: u16, regs: &[u16]) -> Option<InverterValues> {
    let kind = kind_of(model)?;
    let (power_w, energy_wh, status) = match kind {
        ModelKind::InverterInt => (
            scaled_w(at(regs, 14).and_then(int16), at(regs, 15).and_then(sunssf)),
            scaled_wh(
                pair(regs, 24).and_then(|(h, l)| acc32(h, l)).map(u64::from),
                at(regs, 26).and_then(sunssf),
            ),
            at(regs, 38).and_then(uint16).and_then(inverter_state),
        ),
        ModelKind::InverterFloat => (
            pair(regs, 22)
                .and_then(|(h, l)| float32(h, l))
                .and_then(float_to_w),
            pair(regs, 32)
                .and_then(|(h, l)| float32(h, l))
                .and_then(float_to_wh)
                .filter(|wh| *wh != 0),
            at(regs, 48).and_then(uint16).and_then(inverter_state),
        ),
        ModelKind::DerAc => {
            let e = regs
                .get(19..23)
                .and_then(|s| <&[u16; 4]>::try_from(s).ok())
                .and_then(uint64);
            (
                scaled_w(at(regs, 10).and_then(int16), at(regs, 116).and_then(sunssf)),
                scaled_wh(e, at(regs, 120).and_then(sunssf)),
                at(regs, 4).and_then(uint16).and_then(der_state),
            )
        }
        ModelKind::MeterInt | ModelKind::MeterFloat => return None,
    };
    Some(InverterValues {
        model,
        power_w,
        energy_wh,
        status,
    })
}

/// Decodes a meter model from registers read from its ID register on.
pub fn decode_meter(model: u16, regs: &[u16]) -> Option<MeterValues> {
    let kind = kind_of(model)?;
    match kind {
        ModelKind::MeterInt => {
            let sf = at(regs, 54).and_then(sunssf);
            let acc = |off| {
                pair(regs, off)
                    .and_then(|(h, l)| acc32(h, l))
                    .map(u64::from)
            };
            Some(MeterValues {
                model,
                power_w: scaled_w(at(regs, 18).and_then(int16), at(regs, 22).and_then(sunssf)),
                export_wh: scaled_wh(acc(38), sf),
                import_wh: scaled_wh(acc(46), sf),
            })
        }
        ModelKind::MeterFloat => {
            let f = |off| pair(regs, off).and_then(|(h, l)| float32(h, l));
            Some(MeterValues {
                model,
                power_w: f(28).and_then(float_to_w),
                export_wh: f(60).and_then(float_to_wh).filter(|v| *v != 0),
                import_wh: f(68).and_then(float_to_wh).filter(|v| *v != 0),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_regs(v: f32) -> (u16, u16) {
        let b = v.to_bits();
        ((b >> 16) as u16, b as u16)
    }

    #[test]
    fn model_103_with_scale_factors() {
        let mut r = vec![0u16; 52];
        r[0] = 103;
        r[1] = 50;
        r[14] = 12345;
        r[15] = (-1i16) as u16;
        r[24] = 0x0001;
        r[25] = 0x0002; // 65538
        r[26] = 1;
        r[38] = 4;
        let v = decode_inverter(103, &r).unwrap();
        assert_eq!(v.power_w, Some(1235));
        assert_eq!(v.energy_wh, Some(655_380));
        assert_eq!(v.status, Some(DeviceStatus::Ok));
    }

    #[test]
    fn model_103_sentinels_are_absent() {
        let mut r = vec![0u16; 52];
        r[14] = 0x8000;
        r[15] = 0;
        r[24] = 0;
        r[25] = 0; // acc32 0 = not implemented
        r[26] = 0;
        r[38] = 0xFFFF;
        let v = decode_inverter(103, &r).unwrap();
        assert_eq!((v.power_w, v.energy_wh, v.status), (None, None, None));
        // a valid value with a sentinel scale factor is absent too
        r[14] = 100;
        r[15] = 0x8000;
        assert_eq!(decode_inverter(103, &r).unwrap().power_w, None);
    }

    #[test]
    fn short_block_gives_absent_not_panic() {
        let v = decode_inverter(103, &[103, 50, 1]).unwrap();
        assert_eq!(v.power_w, None);
        assert_eq!(decode_meter(203, &[]).unwrap().import_wh, None);
    }

    #[test]
    fn model_113_float() {
        let mut r = vec![0u16; 62];
        (r[22], r[23]) = f32_regs(2500.4);
        (r[32], r[33]) = f32_regs(1.5e6);
        r[48] = 2;
        let v = decode_inverter(113, &r).unwrap();
        assert_eq!(v.power_w, Some(2500));
        assert_eq!(v.energy_wh, Some(1_500_000));
        assert_eq!(v.status, Some(DeviceStatus::Standby));
        (r[22], r[23]) = (0x7FC0, 0);
        assert_eq!(decode_inverter(113, &r).unwrap().power_w, None);
    }

    #[test]
    fn model_701_scale_factors_after_values() {
        // values from pysunspec2's device_1547.json: W 9800 (SF 0), TotWhInj 150 (SF 3)
        let mut r = vec![0u16; 155];
        r[4] = 3;
        r[10] = 9800;
        r[19..23].copy_from_slice(&[0, 0, 0, 150]);
        r[116] = 0;
        r[120] = 3;
        let v = decode_inverter(701, &r).unwrap();
        assert_eq!(v.power_w, Some(9800));
        assert_eq!(v.energy_wh, Some(150_000));
        assert_eq!(v.status, Some(DeviceStatus::Ok));
        r[19..23].copy_from_slice(&[0xFFFF; 4]);
        assert_eq!(decode_inverter(701, &r).unwrap().energy_wh, None);
    }

    #[test]
    fn model_203_and_213() {
        let mut r = vec![0u16; 107];
        r[18] = (-500i16) as u16;
        r[22] = 0;
        r[38..40].copy_from_slice(&[0, 1000]);
        r[46..48].copy_from_slice(&[0, 2000]);
        r[54] = (-2i16) as u16;
        let m = decode_meter(203, &r).unwrap();
        assert_eq!(m.power_w, Some(-500));
        assert_eq!(m.export_wh, Some(10));
        assert_eq!(m.import_wh, Some(20));

        let mut f = vec![0u16; 126];
        (f[28], f[29]) = f32_regs(-42.0);
        (f[60], f[61]) = f32_regs(7.0);
        (f[68], f[69]) = f32_regs(f32::NAN);
        let m = decode_meter(213, &f).unwrap();
        assert_eq!(
            (m.power_w, m.export_wh, m.import_wh),
            (Some(-42), Some(7), None)
        );
    }

    #[test]
    fn plans_fit_one_request() {
        for id in [101, 111, 701, 201, 211] {
            assert!(kind_of(id).unwrap().plan_len() <= 125);
        }
    }
}
