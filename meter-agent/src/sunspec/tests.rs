use super::*;
use reading::DeviceStatus;

fn common(len: u16) -> Vec<u16> {
    let mut m = vec![0u16; usize::from(len) + 2];
    m[0] = 1;
    m[1] = len;
    m[2] = 0x5375; // "Su"
    m[3] = 0x6E00; // "n"
    m[50] = 0x3132; // "12"
    m
}

fn inverter_103(w: u16, wh: u32) -> Vec<u16> {
    let mut m = vec![0x8000u16; 52];
    m[0] = 103;
    m[1] = 50;
    m[14] = w;
    m[15] = 0;
    m[24] = (wh >> 16) as u16;
    m[25] = wh as u16;
    m[26] = 0;
    m[38] = 4;
    m
}

fn meter_203() -> Vec<u16> {
    let mut m = vec![0u16; 107];
    m[0] = 203;
    m[1] = 105;
    m[18] = 100;
    m[22] = 0;
    m[38..40].copy_from_slice(&[0, 500]);
    m[46..48].copy_from_slice(&[0, 900]);
    m[54] = 0;
    m
}

fn image(base: u16, models: &[Vec<u16>], end: bool) -> RegisterImage {
    let mut img = RegisterImage::default();
    let mut regs = SUNS_MARKER.to_vec();
    for m in models {
        regs.extend_from_slice(m);
    }
    if end {
        regs.extend_from_slice(&[END_MODEL, 0]);
    }
    img.put(RegisterKind::Holding, base, &regs);
    img
}

#[tokio::test]
async fn walks_chain_with_common_length_65_and_66() {
    for len in [65u16, 66] {
        let mut img = image(
            40000,
            &[common(len), inverter_103(1500, 123_456), meter_203()],
            true,
        );
        let map = discover(&mut img).await.unwrap();
        assert_eq!(map.base, 40000);
        let ids: Vec<u16> = map.models.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 103, 203]);
        assert_eq!(map.models[1].start, 40002 + 2 + len);
        let s = read_sample(&mut img, &map).await.unwrap();
        let inv = s.inverter.unwrap();
        assert_eq!(inv.power_w, Some(1500));
        assert_eq!(inv.energy_wh, Some(123_456));
        assert_eq!(inv.status, Some(DeviceStatus::Ok));
        let met = s.meter.unwrap();
        assert_eq!((met.export_wh, met.import_wh), (Some(500), Some(900)));
        let info = read_common(&mut img, &map).await.unwrap();
        assert_eq!(info.manufacturer.as_deref(), Some("Sun"));
        assert_eq!(info.serial.as_deref(), Some("12"));
    }
}

#[tokio::test]
async fn finds_marker_at_base_0_and_50000() {
    for base in [0u16, 50000] {
        let mut img = image(base, &[common(66), inverter_103(1, 2)], true);
        assert_eq!(discover(&mut img).await.unwrap().base, base);
    }
}

#[tokio::test]
async fn not_sunspec_when_no_marker() {
    let mut img = RegisterImage::default();
    img.put(RegisterKind::Holding, 40000, &[0x1234, 0x5678]);
    let err = discover(&mut img).await.unwrap_err();
    assert!(matches!(err, AgentError::NotSunSpec(_)), "{err}");
    assert!(err.to_string().contains("SunS"));
}

#[tokio::test]
async fn wrong_chains_are_rejected() {
    // no end model: the walk runs into unmapped registers
    let mut img = image(40000, &[common(66), inverter_103(1, 2)], false);
    assert!(matches!(
        discover(&mut img).await,
        Err(AgentError::BadModelChain(_))
    ));
    // first model is not the common model
    let mut img = image(40000, &[inverter_103(1, 2)], true);
    assert!(matches!(
        discover(&mut img).await,
        Err(AgentError::BadModelChain(_))
    ));
    // a length that runs past the address space
    let mut c = common(66);
    c[1] = 0xFFF0;
    let mut img = image(40000, &[c], true);
    assert!(matches!(
        discover(&mut img).await,
        Err(AgentError::BadModelChain(_))
    ));
    // a chain with no inverter or meter model
    let mut img = image(40000, &[common(66)], true);
    let map = discover(&mut img).await.unwrap();
    assert!(matches!(
        read_sample(&mut img, &map).await,
        Err(AgentError::NoValue(_))
    ));
}

#[tokio::test]
async fn a_model_shorter_than_its_plan_never_reads_the_next_model() {
    // a truncated 103 (L = 20) followed by the end model: W is inside, WH is not
    let mut inv = inverter_103(700, 5000);
    inv[1] = 20;
    inv.truncate(22);
    let mut img = image(40000, &[common(66), inv], true);
    let map = discover(&mut img).await.unwrap();
    let s = read_sample(&mut img, &map).await.unwrap();
    let inv = s.inverter.unwrap();
    assert_eq!(inv.power_w, Some(700));
    assert_eq!(
        inv.energy_wh, None,
        "WH lies outside the model, so it is absent"
    );
}

struct Counting {
    img: RegisterImage,
    sizes: Vec<u16>,
}

#[async_trait::async_trait]
impl RegisterReader for Counting {
    async fn read(&mut self, kind: RegisterKind, addr: u16, count: u16) -> Result<Vec<u16>> {
        self.sizes.push(count);
        self.img.read(kind, addr, count).await
    }
}

#[tokio::test]
async fn long_reads_are_split_at_125() {
    let mut img = RegisterImage::default();
    let regs: Vec<u16> = (0..300).collect();
    img.put(RegisterKind::Input, 100, &regs);
    let mut c = Counting { img, sizes: vec![] };
    let out = read_split(&mut c, RegisterKind::Input, 100, 300)
        .await
        .unwrap();
    assert_eq!(out, regs);
    assert_eq!(c.sizes, vec![125, 125, 50]);
}

#[tokio::test]
async fn scale_factor_is_read_in_the_same_request_as_the_value() {
    let img = image(40000, &[common(66), inverter_103(1, 2), meter_203()], true);
    let mut c = Counting { img, sizes: vec![] };
    let map = discover(&mut c).await.unwrap();
    c.sizes.clear();
    read_sample(&mut c, &map).await.unwrap();
    // one request per model: 40 registers of 103 (W..St with SFs), 55 of 203 (..TotWh_SF)
    assert_eq!(c.sizes, vec![40, 55]);
}

#[tokio::test]
async fn a_changed_chain_is_detected_not_decoded() {
    let mut img = image(40000, &[common(66), inverter_103(1500, 9000)], true);
    let map = discover(&mut img).await.unwrap();
    // the device now has garbage where model 103 was
    let start = map.models[1].start;
    img.put(RegisterKind::Holding, start, &[0x1234, 0x0042]);
    let err = read_sample(&mut img, &map).await.unwrap_err();
    assert!(matches!(err, AgentError::BadModelChain(_)), "{err}");
}
