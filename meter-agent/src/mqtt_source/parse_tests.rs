use super::*;

const PRO3EM: &str = "shellypro3em-c8f09e8a1b2c";

#[test]
fn shelly_pro_3em_notify_status() {
    let c = ShellyComponent::parse("em:0").unwrap();
    let topic = format!("{PRO3EM}/events/rpc");
    let power = br#"{"src":"shellypro3em-c8f09e8a1b2c","dst":"shellypro3em-c8f09e8a1b2c/events","method":"NotifyStatus","params":{"ts":1700000000.12,"em:0":{"id":0,"a_act_power":-512.3,"b_act_power":-498.0,"c_act_power":-505.1,"total_act_power":-1515.4,"total_current":6.6}}}"#;
    let u = shelly(PRO3EM, &c, &topic, power).unwrap();
    assert_eq!(
        u,
        Update {
            power_w: Some(1515),
            export_wh: None,
            import_wh: None
        },
        "exporting: positive for us"
    );
    let energy = br#"{"src":"shellypro3em-c8f09e8a1b2c","dst":"shellypro3em-c8f09e8a1b2c/events","method":"NotifyStatus","params":{"ts":1700000060.0,"emdata:0":{"id":0,"a_total_act_energy":1200.5,"total_act":3604.27,"total_act_ret":9876.5}}}"#;
    let u = shelly(PRO3EM, &c, &topic, energy).unwrap();
    assert_eq!((u.import_wh, u.export_wh), (Some(3604), Some(9877)));
    // the full status topic form
    let st = br#"{"id":0,"total_act":10.0,"total_act_ret":20.0}"#;
    let u = shelly(PRO3EM, &c, &format!("{PRO3EM}/status/emdata:0"), st).unwrap();
    assert_eq!((u.import_wh, u.export_wh), (Some(10), Some(20)));
}

#[test]
fn shelly_switch_and_pm1() {
    let c = ShellyComponent::parse("switch:0").unwrap();
    let p = "shellyplus1pm-a8032ab12345";
    let msg = br#"{"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events","method":"NotifyStatus","params":{"ts":1700000000.5,"switch:0":{"id":0,"apower":612.4,"aenergy":{"by_minute":[10175.5,10195.1,10180.0],"minute_ts":1700000000,"total":123456.789}}}}"#;
    let u = shelly(p, &c, &format!("{p}/events/rpc"), msg).unwrap();
    assert_eq!((u.power_w, u.export_wh), (Some(612), Some(123_457)));
    // other components in the same notification are ignored
    let other = br#"{"method":"NotifyStatus","params":{"switch:1":{"apower":5}}}"#;
    assert!(shelly(p, &c, &format!("{p}/events/rpc"), other)
        .unwrap()
        .is_empty());
    let event = br#"{"method":"NotifyEvent","params":{"events":[{"event":"btn_down"}]}}"#;
    assert!(shelly(p, &c, &format!("{p}/events/rpc"), event)
        .unwrap()
        .is_empty());
    let pm = ShellyComponent::parse("pm1:0").unwrap();
    let st = br#"{"id":0,"voltage":231.2,"current":0.5,"apower":99.6,"freq":50,"aenergy":{"total":5000.0}}"#;
    assert_eq!(
        shelly(p, &pm, &format!("{p}/status/pm1:0"), st)
            .unwrap()
            .export_wh,
        Some(5000)
    );
}

#[test]
fn shelly_bad_input() {
    let c = ShellyComponent::parse("em:0").unwrap();
    let t = "x/events/rpc";
    assert!(shelly("x", &c, t, b"{not json")
        .unwrap_err()
        .contains("malformed JSON"));
    assert!(shelly("x", &c, t, br#"{"method":"NotifyStatus"}"#).is_err());
    assert!(shelly(
        "x",
        &c,
        t,
        br#"{"method":"NotifyStatus","params":{"em:0":{"total_act_power":"lots"}}}"#
    )
    .is_err());
    assert!(shelly(
        "x",
        &c,
        t,
        br#"{"method":"NotifyStatus","params":{"emdata:0":{"total_act":-5}}}"#
    )
    .is_err());
    assert!(ShellyComponent::parse("light:0").is_err());
    assert!(ShellyComponent::parse("em").is_err());
}

#[test]
fn tasmota_sensor() {
    let msg = br#"{"Time":"2023-04-11T07:31:34","ENERGY":{"TotalStartTime":"2022-01-01T00:00:00","Total":1234.567,"Yesterday":3.210,"Today":1.234,"Period":12,"Power":245,"ApparentPower":260,"ReactivePower":80,"Factor":0.94,"Voltage":231,"Current":1.125}}"#;
    assert_eq!(
        tasmota(msg).unwrap(),
        Update {
            power_w: Some(245),
            export_wh: Some(1_234_567),
            import_wh: None
        }
    );
    let multi =
        br#"{"Time":"2023-04-11T07:31:34","ENERGY":{"Total":[0.000,2.910],"Power":[0,120]}}"#;
    assert_eq!(
        tasmota(multi).unwrap(),
        Update {
            power_w: Some(120),
            export_wh: Some(2910),
            import_wh: None
        }
    );
    assert!(tasmota(br#"{"Time":"x","DS18B20":{"Temperature":21.5}}"#)
        .unwrap_err()
        .contains("ENERGY"));
    assert!(tasmota(br#"{"ENERGY":{"Total":null}}"#).is_err());
    assert!(tasmota(b"").is_err());
}

#[test]
fn opendtu_topics() {
    let p = "solar";
    let s = "114182912345";
    assert_eq!(
        opendtu(p, s, "solar/114182912345/0/yieldtotal", b"1523.456")
            .unwrap()
            .export_wh,
        Some(1_523_456)
    );
    assert_eq!(
        opendtu(p, s, "solar/114182912345/0/power", b"612.3")
            .unwrap()
            .power_w,
        Some(612)
    );
    assert!(
        opendtu(p, s, "solar/114182912345/1/power", b"300")
            .unwrap()
            .is_empty(),
        "DC string, not AC"
    );
    assert!(opendtu(p, s, "solar/114182912345/0/yieldtotal", b"nan").is_err());
    assert!(opendtu(p, s, "solar/114182912345/0/yieldtotal", b"offline").is_err());
}

#[test]
fn generic_fields() {
    let doc = br#"{"power":{"now":1500.2},"energy":{"total":"12.5"}}"#;
    assert_eq!(
        generic(Field::Power, "/power/now", Unit::W, doc)
            .unwrap()
            .power_w,
        Some(1500)
    );
    assert_eq!(
        generic(Field::Export, "/energy/total", Unit::KWh, doc)
            .unwrap()
            .export_wh,
        Some(12_500)
    );
    assert_eq!(
        generic(Field::Import, "", Unit::Wh, b" 77 ")
            .unwrap()
            .import_wh,
        Some(77)
    );
    assert!(generic(Field::Export, "/missing", Unit::Wh, doc)
        .unwrap_err()
        .contains("pointer"));
    assert!(
        generic(Field::Power, "/power", Unit::W, doc).is_err(),
        "an object is not a number"
    );
    assert!(generic(Field::Export, "", Unit::Wh, b"-1").is_err());
    assert!(
        generic(Field::Power, "", Unit::Wh, b"1").is_err(),
        "Wh is not a power unit"
    );
}
