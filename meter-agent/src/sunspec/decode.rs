//! SunSpec point decoding: big-endian registers, "not implemented" sentinels and scale factors.
//!
//! Every decoder returns `None` for a sentinel so that an unimplemented point can never turn
//! into a number further down.

/// int16; 0x8000 means "not implemented".
pub fn int16(r: u16) -> Option<i16> {
    (r != 0x8000).then_some(r as i16)
}

/// uint16, enum16, bitfield16; 0xFFFF means "not implemented".
pub fn uint16(r: u16) -> Option<u16> {
    (r != 0xFFFF).then_some(r)
}

/// acc32: a counter where 0 means "not implemented".
pub fn acc32(hi: u16, lo: u16) -> Option<u32> {
    let v = (u32::from(hi) << 16) | u32::from(lo);
    (v != 0).then_some(v)
}

/// uint32; 0xFFFFFFFF means "not implemented".
pub fn uint32(hi: u16, lo: u16) -> Option<u32> {
    let v = (u32::from(hi) << 16) | u32::from(lo);
    (v != u32::MAX).then_some(v)
}

/// int32; 0x80000000 means "not implemented".
pub fn int32(hi: u16, lo: u16) -> Option<i32> {
    let v = ((u32::from(hi) << 16) | u32::from(lo)) as i32;
    (v != i32::MIN).then_some(v)
}

/// uint64 (four registers, most significant first); all ones means "not implemented".
pub fn uint64(r: &[u16; 4]) -> Option<u64> {
    let v = r.iter().fold(0u64, |acc, w| (acc << 16) | u64::from(*w));
    (v != u64::MAX).then_some(v)
}

/// float32; NaN (and, defensively, infinities) mean "not implemented".
pub fn float32(hi: u16, lo: u16) -> Option<f32> {
    let v = f32::from_bits((u32::from(hi) << 16) | u32::from(lo));
    v.is_finite().then_some(v)
}

/// sunssf: an int16 power of ten in -10..=10; 0x8000 or anything outside the range is unusable.
pub fn sunssf(r: u16) -> Option<i8> {
    let v = int16(r)?;
    (-10..=10).contains(&v).then_some(v as i8)
}

/// `raw × 10^sf`, rounded to the nearest integer; `None` on overflow.
pub fn scale_round(raw: i64, sf: i8) -> Option<i64> {
    if sf >= 0 {
        raw.checked_mul(10i64.checked_pow(sf as u32)?)
    } else {
        let div = 10i64.checked_pow(u32::from(sf.unsigned_abs()))?;
        let q = raw / div;
        let r = raw % div;
        // round half away from zero
        if r.abs() * 2 >= div {
            Some(q + raw.signum())
        } else {
            Some(q)
        }
    }
}

/// `raw × 10^sf` rounded down, for counters: a counter must never be overstated.
pub fn scale_floor_u64(raw: u64, sf: i8) -> Option<u64> {
    if sf >= 0 {
        raw.checked_mul(10u64.checked_pow(sf as u32)?)
    } else {
        Some(raw / 10u64.checked_pow(u32::from(sf.unsigned_abs()))?)
    }
}

/// A float power in W to integer W; `None` when it does not fit.
pub fn float_to_w(v: f32) -> Option<i32> {
    let r = f64::from(v).round();
    (r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX)).then_some(r as i32)
}

/// A float energy in Wh to integer Wh (rounded down); negative energy is not a counter.
pub fn float_to_wh(v: f32) -> Option<u64> {
    let f = f64::from(v).floor();
    (0.0..1.8e19).contains(&f).then_some(f as u64)
}

/// A SunSpec string: two ASCII chars per register, NUL padded. All NUL means "not implemented".
pub fn string(regs: &[u16]) -> Option<String> {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_be_bytes()).collect();
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let s: String = bytes[..end]
        .iter()
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '?'
            }
        })
        .collect();
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_are_absent() {
        assert_eq!(int16(0x8000), None);
        assert_eq!(int16(0xFFFE), Some(-2));
        assert_eq!(uint16(0xFFFF), None);
        assert_eq!(acc32(0, 0), None);
        assert_eq!(acc32(0, 7), Some(7));
        assert_eq!(uint32(0xFFFF, 0xFFFF), None);
        assert_eq!(int32(0x8000, 0), None);
        assert_eq!(int32(0xFFFF, 0xFFFF), Some(-1));
        assert_eq!(uint64(&[0xFFFF; 4]), None);
        assert_eq!(uint64(&[0, 0, 1, 2]), Some(0x1_0002));
        assert_eq!(float32(0x7FC0, 0), None);
        assert_eq!(float32(0x7F80, 0), None, "infinity is not a reading");
        assert_eq!(
            float32(0x4049, 0x0FDB).map(|v| (v * 100.0) as i32),
            Some(314)
        );
        assert_eq!(sunssf(0x8000), None);
        assert_eq!(sunssf(11), None, "SF outside -10..=10 is garbage");
        assert_eq!(sunssf(0xFFFD), Some(-3));
    }

    #[test]
    fn scale_factors() {
        assert_eq!(scale_round(12345, -2), Some(123));
        assert_eq!(scale_round(12355, -1), Some(1236));
        assert_eq!(scale_round(-12355, -1), Some(-1236));
        assert_eq!(scale_round(150, 3), Some(150_000));
        assert_eq!(scale_round(i64::MAX, 1), None);
        assert_eq!(scale_floor_u64(1999, -1), Some(199));
        assert_eq!(scale_floor_u64(150, 3), Some(150_000));
        assert_eq!(scale_floor_u64(u64::MAX, 10), None);
    }

    #[test]
    fn strings() {
        let regs = [0x5375, 0x6E53, 0x7065, 0x6300, 0, 0];
        assert_eq!(string(&regs).as_deref(), Some("SunSpec"));
        assert_eq!(string(&[0, 0]), None);
    }

    #[test]
    fn float_conversions() {
        assert_eq!(float_to_w(1234.6), Some(1235));
        assert_eq!(float_to_w(3e10), None);
        assert_eq!(float_to_wh(-1.0), None);
        assert_eq!(float_to_wh(99.9), Some(99));
    }
}
