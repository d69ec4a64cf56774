//! The simulator's register map: "SunS" at 40000, common model 1 (L = 66), inverter model 103,
//! meter model 203 and the end model, laid out exactly as the SunSpec model definitions say so
//! that any SunSpec client can read it.

use crate::sunspec::{END_MODEL, SUNS_MARKER};

pub const BASE: u16 = 40000;
/// Start of model 1 (its ID register).
pub const COMMON_AT: u16 = BASE + 2;
pub const COMMON_LEN: u16 = 66;
pub const INVERTER_AT: u16 = COMMON_AT + 2 + COMMON_LEN;
pub const INVERTER_LEN: u16 = 50;
pub const METER_AT: u16 = INVERTER_AT + 2 + INVERTER_LEN;
pub const METER_LEN: u16 = 105;
pub const END_AT: u16 = METER_AT + 2 + METER_LEN;
/// Number of registers from BASE to the end of the end model.
pub const TOTAL: u16 = END_AT + 2 - BASE;

/// The live values the image is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimValues {
    pub nameplate_w: u32,
    pub pv_power_w: u32,
    pub pv_energy_wh: u64,
    /// Grid power, positive = importing.
    pub grid_power_w: i32,
    pub grid_import_wh: u64,
    pub grid_export_wh: u64,
}

fn put_str(regs: &mut [u16], s: &str) {
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        if let Some(r) = regs.get_mut(i) {
            let hi = u16::from(chunk[0]) << 8;
            let lo = chunk.get(1).map(|b| u16::from(*b)).unwrap_or(0);
            *r = hi | lo;
        }
    }
}

/// Smallest non-negative scale factor such that `v / 10^sf` fits in an int16.
fn sf_for(v: u64) -> i16 {
    let mut sf = 0i16;
    let mut x = v;
    while x > 32767 {
        x /= 10;
        sf += 1;
    }
    sf
}

fn acc32_regs(wh: u64, sf: i16) -> [u16; 2] {
    // an acc32 wraps; 0 would read as "not implemented", so a fresh counter starts at 1 Wh
    let v = (wh / 10u64.pow(sf as u32)).max(1) as u32;
    [(v >> 16) as u16, v as u16]
}

/// Builds the whole register image from BASE for the given values.
pub fn build(v: &SimValues, serial: &str) -> Vec<u16> {
    let mut r = vec![0u16; usize::from(TOTAL)];
    let off = |a: u16| usize::from(a - BASE);
    r[0..2].copy_from_slice(&SUNS_MARKER);

    // model 1
    let c = off(COMMON_AT);
    r[c] = 1;
    r[c + 1] = COMMON_LEN;
    put_str(&mut r[c + 2..c + 18], "sunmesh");
    put_str(&mut r[c + 18..c + 34], "meter-agent-simulator");
    put_str(&mut r[c + 42..c + 50], env!("CARGO_PKG_VERSION"));
    put_str(&mut r[c + 50..c + 66], serial);
    r[c + 66] = 1; // DA
    r[c + 67] = 0x8000; // Pad

    // model 103: unimplemented optional points carry their sentinels
    let i = off(INVERTER_AT);
    r[i] = 103;
    r[i + 1] = INVERTER_LEN;
    for x in &mut r[i + 2..i + 2 + usize::from(INVERTER_LEN)] {
        *x = 0xFFFF;
    }
    for o in [18, 20, 22, 31, 33, 34, 35, 36] {
        r[i + o] = 0x8000; // int16 points not implemented
    }
    for o in [19, 21, 23, 28, 30, 32, 37] {
        r[i + o] = 0x8000; // their scale factors
    }
    let volts = 2300u16; // 230.0 V, V_SF -1
    let amps_total = (f64::from(v.pv_power_w) / 230.0 * 100.0).round() as u16; // A_SF -2
    r[i + 2] = amps_total;
    r[i + 3..i + 6].fill(amps_total / 3);
    r[i + 6] = (-2i16) as u16;
    r[i + 7..i + 10].fill(3984); // 398.4 V line-line
    r[i + 10..i + 13].fill(volts);
    r[i + 13] = (-1i16) as u16;
    // a tampered inverter may report more than its nameplate: scale for whichever is larger
    let w_sf = sf_for(u64::from(v.nameplate_w.max(v.pv_power_w)));
    r[i + 14] = (v.pv_power_w / 10u32.pow(w_sf as u32)) as u16;
    r[i + 15] = w_sf as u16;
    r[i + 16] = 5000;
    r[i + 17] = (-2i16) as u16;
    let wh_sf = 0i16;
    r[i + 24..i + 26].copy_from_slice(&acc32_regs(v.pv_energy_wh, wh_sf));
    r[i + 26] = wh_sf as u16;
    r[i + 27..i + 28].fill(0xFFFF); // DCA not implemented (uint16)
    r[i + 29..i + 30].fill(0xFFFF);
    r[i + 33] = 350; // TmpCab 35.0 C
    r[i + 37] = (-1i16) as u16;
    r[i + 38] = if v.pv_power_w > 0 { 4 } else { 2 }; // MPPT or SLEEPING
    r[i + 39] = 0xFFFF;
    r[i + 40..i + 44].fill(0); // Evt1, Evt2: no events
                               // EvtVnd1..4 stay 0xFFFF (not implemented)

    // model 203
    let m = off(METER_AT);
    r[m] = 203;
    r[m + 1] = METER_LEN;
    for x in &mut r[m + 2..m + 2 + usize::from(METER_LEN)] {
        *x = 0x8000;
    }
    for o in (40..54).chain(55..71).chain(72..104) {
        r[m + o] = 0; // optional accumulators: 0 = not implemented
    }
    r[m + 105] = 0;
    r[m + 106] = 0; // Evt
    let g_sf = sf_for(u64::from(v.grid_power_w.unsigned_abs()).max(u64::from(v.nameplate_w)));
    let div = 10i32.pow(g_sf as u32);
    r[m + 18] = (v.grid_power_w / div) as u16;
    r[m + 22] = g_sf as u16;
    r[m + 7..m + 11].fill(2300); // PhV, PhVphA..C 230.0 V
    r[m + 15] = (-1i16) as u16;
    r[m + 16] = 5000;
    r[m + 17] = (-2i16) as u16;
    r[m + 38..m + 40].copy_from_slice(&acc32_regs(v.grid_export_wh, 0));
    r[m + 46..m + 48].copy_from_slice(&acc32_regs(v.grid_import_wh, 0));
    r[m + 54] = 0;

    let e = off(END_AT);
    r[e] = END_MODEL;
    r[e + 1] = 0;
    r
}
