use super::*;
use crate::sunspec::RegisterImage;

fn f32_regs(v: f32) -> [u16; 2] {
    let b = v.to_bits();
    [(b >> 16) as u16, b as u16]
}

fn shipped(name: &str) -> Profile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name);
    Profile::load(&path).unwrap()
}

#[tokio::test]
async fn sdm630_profile_reads_float_registers() {
    let p = shipped("sdm630.toml");
    let mut img = RegisterImage::default();
    img.put(RegisterKind::Input, 0x34, &f32_regs(-1234.6));
    img.put(RegisterKind::Input, 0x48, &f32_regs(12345.678));
    img.put(RegisterKind::Input, 0x4A, &f32_regs(42.0));
    let s = read_profile(&mut img, &p).await.unwrap();
    assert_eq!(s.power_w, Some(-1235));
    assert_eq!(s.import_wh, Some(12_345_677)); // f32 rounding of 12345.678 kWh, floored
    assert_eq!(s.export_wh, Some(42_000));
}

#[tokio::test]
async fn sdm120_and_dtsu666_profiles_load_and_read() {
    let p = shipped("sdm120.toml");
    let mut img = RegisterImage::default();
    img.put(RegisterKind::Input, 0x0C, &f32_regs(230.0));
    img.put(RegisterKind::Input, 0x48, &f32_regs(1.5));
    img.put(RegisterKind::Input, 0x4A, &f32_regs(0.0));
    let s = read_profile(&mut img, &p).await.unwrap();
    assert_eq!(
        (s.power_w, s.import_wh, s.export_wh),
        (Some(230), Some(1500), Some(0))
    );

    let p = shipped("dtsu666.toml");
    let mut img = RegisterImage::default();
    img.put(RegisterKind::Holding, 0x2012, &f32_regs(15000.0)); // 0.1 W steps
    img.put(RegisterKind::Holding, 0x101E, &f32_regs(100.0));
    img.put(RegisterKind::Holding, 0x1028, &f32_regs(f32::NAN));
    let s = read_profile(&mut img, &p).await.unwrap();
    assert_eq!(
        (s.power_w, s.import_wh, s.export_wh),
        (Some(1500), Some(100_000), None)
    );
}

#[test]
fn every_shipped_profile_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        Profile::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        n += 1;
    }
    assert!(n >= 3);
}

#[test]
fn word_order_and_integer_types() {
    let text = r#"
name = "test"
[[register]]
field = "import"
address = 10
function = "holding"
type = "u32"
word_order = "little"
scale = 0.1
unit = "kWh"
not_available = [0xFFFFFFFF]
[[register]]
field = "power"
address = 20
function = "holding"
type = "i16"
unit = "W"
"#;
    let p = Profile::parse(text, "inline").unwrap();
    let imp = &p.registers[0];
    // little word order: low word first; 0x0001_0000 = 65536 → ×0.1 kWh = 6553.6 kWh
    assert_eq!(decode_raw(imp, &[0x0000, 0x0001]), Some(65536.0));
    let mut s = MapSample::default();
    apply(&mut s, imp, &[0x0000, 0x0001]);
    assert_eq!(s.import_wh, Some(6_553_600));
    assert_eq!(
        decode_raw(imp, &[0xFFFF, 0xFFFF]),
        None,
        "not_available value"
    );
    assert_eq!(decode_raw(&p.registers[1], &[0xFFFE]), Some(-2.0));
    assert_eq!(decode_raw(imp, &[1]), None, "too few registers");
}

#[test]
fn negative_energy_is_absent() {
    let p = Profile::parse(
        "name='x'\n[[register]]\nfield='export'\naddress=0\nfunction='input'\ntype='f32'\nunit='kWh'\n",
        "inline",
    )
    .unwrap();
    let mut s = MapSample::default();
    apply(&mut s, &p.registers[0], &f32_regs(-5.0));
    assert_eq!(s.export_wh, None);
}

#[test]
fn bad_profiles_are_rejected_with_reasons() {
    let cases = [
        ("name='x'\n[[register]]\nfield='power'\naddress=0\nfunction='input'\ntype='f32'\nunit='W'\n", "export or an import"),
        ("name='x'\n[[register]]\nfield='export'\naddress=0\nfunction='input'\ntype='f32'\nunit='W'\n", "cannot have unit"),
        ("name='x'\n[[register]]\nfield='export'\naddress=65535\nfunction='input'\ntype='f32'\nunit='Wh'\n", "past 65535"),
        ("name='x'\n[[register]]\nfield='export'\naddress=0\nfunction='coil'\ntype='f32'\nunit='Wh'\n", "unknown variant"),
        ("name='x'\n[[register]]\nfield='export'\naddress=0\nfunction='input'\ntype='f32'\nunit='Wh'\nscale=0\n", "scale"),
    ];
    for (text, want) in cases {
        let e = Profile::parse(text, "inline").unwrap_err().to_string();
        assert!(e.contains(want), "{e} should mention {want}");
    }
}
