//! MQTT against a real broker: Shelly, Tasmota and OpenDTU sources, and the MQTT uplink with
//! the platform's end-to-end ack. Mosquitto when `TEST_MQTT_URL` is set (e.g.
//! mqtt://127.0.0.1:1883), an embedded rumqttd broker otherwise.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use meter_agent::config::BrokerConfig;
use meter_agent::mqtt_source::{parse::ShellyComponent, Dialect, MqttSource};
use meter_agent::source::{Measurement, Source};
use meter_agent::uplink::mqtt::mqtt_options;
use reading::SignedReading;
use rumqttc::{AsyncClient, Event, Packet, QoS};

/// Mosquitto (or any broker) from `TEST_MQTT_URL`; otherwise an embedded rumqttd broker
/// started once for this test binary.
fn broker_url() -> Option<String> {
    if let Ok(u) = std::env::var("TEST_MQTT_URL") {
        if !u.is_empty() {
            return Some(u);
        }
    }
    static EMBEDDED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    EMBEDDED.get_or_init(start_embedded_broker).clone()
}

fn start_embedded_broker() -> Option<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let cfg = serde_json::json!({
        "id": 0,
        "router": { "max_connections": 100, "max_outgoing_packet_count": 1000,
                    "max_segment_size": 1048576, "max_segment_count": 10 },
        "v4": { "1": { "name": "v4-1", "listen": format!("127.0.0.1:{port}"),
                        "next_connection_delay_ms": 1,
                        "connections": { "connection_timeout_ms": 60000, "max_payload_size": 20480,
                                         "max_inflight_count": 500, "dynamic_filters": true } } }
    });
    let cfg: rumqttd::Config = match serde_json::from_value(cfg) {
        Ok(c) => c,
        Err(e) => {
            println!("cannot configure the embedded broker ({e}); skipping");
            return None;
        }
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(cfg);
        if let Err(e) = broker.start() {
            eprintln!("embedded broker stopped: {e}");
        }
    });
    // wait until it accepts connections
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            println!("TEST_MQTT_URL not set; using the embedded rumqttd broker on port {port}");
            return Some(format!("mqtt://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("embedded broker did not start; skipping");
    None
}

fn tag() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn client(url: &str, id: &str) -> AsyncClient {
    let (c, mut el) = AsyncClient::new(mqtt_options(url, id, None, None, None).unwrap(), 64);
    tokio::spawn(async move {
        loop {
            if el.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    c
}

/// Publishes `msgs` repeatedly until the source's sample satisfies `done` (the source may not
/// have subscribed yet when the first publish goes out).
async fn feed(
    pubc: &AsyncClient,
    src: &mut MqttSource,
    msgs: &[(String, Vec<u8>)],
    done: impl Fn(&Measurement) -> bool,
) -> Measurement {
    let t = Instant::now();
    loop {
        for (topic, payload) in msgs {
            pubc.publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        if let Ok(m) = src.sample().await {
            if done(&m) {
                return m;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "source never produced the expected values"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shelly_tasmota_opendtu_sources_through_a_real_broker() {
    let Some(url) = broker_url() else { return };
    let t = tag();
    let broker = BrokerConfig {
        url: url.clone(),
        username: None,
        password: None,
    };
    let pubc = client(&url, &format!("test-pub-{t}"));
    let stale = Duration::from_secs(60);

    // Shelly Pro 3EM
    let prefix = format!("shellypro3em-{t}");
    let mut shelly = MqttSource::start(
        "shelly",
        Dialect::Shelly {
            prefix: prefix.clone(),
            component: ShellyComponent::parse("em:0").unwrap(),
        },
        &broker,
        stale,
    )
    .unwrap();
    let rpc = format!("{prefix}/events/rpc");
    let m = feed(
        &pubc,
        &mut shelly,
        &[
            (rpc.clone(), br#"{"src":"x","dst":"x/events","method":"NotifyStatus","params":{"ts":1.0,"em:0":{"total_act_power":-1515.4}}}"#.to_vec()),
            (rpc.clone(), br#"{"src":"x","dst":"x/events","method":"NotifyStatus","params":{"ts":2.0,"emdata:0":{"total_act":3604.27,"total_act_ret":9876.5}}}"#.to_vec()),
        ],
        |m| m.energy_wh.is_some() && m.power_w.is_some(),
    )
    .await;
    assert_eq!(
        (m.power_w, m.energy_wh, m.import_wh),
        (Some(1515), Some(9877), Some(3604))
    );

    // Tasmota, then a malformed payload that must change nothing
    let topic = format!("tasmota_{t}");
    let mut tas = MqttSource::start(
        "tasmota",
        Dialect::Tasmota {
            topic: topic.clone(),
        },
        &broker,
        stale,
    )
    .unwrap();
    let sensor = format!("tele/{topic}/SENSOR");
    let m = feed(
        &pubc,
        &mut tas,
        &[(sensor.clone(), br#"{"Time":"2023-04-11T07:31:34","ENERGY":{"Total":1234.567,"Today":1.2,"Power":245}}"#.to_vec())],
        |m| m.energy_wh.is_some(),
    )
    .await;
    assert_eq!((m.power_w, m.energy_wh), (Some(245), Some(1_234_567)));
    pubc.publish(
        sensor.clone(),
        QoS::AtLeastOnce,
        false,
        b"{\"ENERGY\":{\"Total\":".to_vec(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tas.sample().await.unwrap().energy_wh, Some(1_234_567));

    // OpenDTU, then the night-time drop to 0 that must be held
    let serial = format!("1141{}", t.replace('-', ""));
    let mut dtu = MqttSource::start(
        "dtu",
        Dialect::OpenDtu {
            prefix: "solar".into(),
            serial: serial.clone(),
        },
        &broker,
        stale,
    )
    .unwrap();
    let m = feed(
        &pubc,
        &mut dtu,
        &[
            (format!("solar/{serial}/0/yieldtotal"), b"1523.456".to_vec()),
            (format!("solar/{serial}/0/power"), b"612.3".to_vec()),
        ],
        |m| m.energy_wh.is_some() && m.power_w.is_some(),
    )
    .await;
    assert_eq!((m.power_w, m.energy_wh), (Some(612), Some(1_523_456)));
    pubc.publish(
        format!("solar/{serial}/0/yieldtotal"),
        QoS::AtLeastOnce,
        false,
        b"0".to_vec(),
    )
    .await
    .unwrap();
    pubc.publish(
        format!("solar/{serial}/0/yieldtotal"),
        QoS::AtLeastOnce,
        false,
        b"garbage".to_vec(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        dtu.sample().await.unwrap().energy_wh,
        Some(1_523_456),
        "a total that drops to 0 is not a reading"
    );
}

/// The platform stand-in for MQTT: collects readings and acks each contiguous prefix.
async fn mqtt_platform(url: &str, t: &str) -> Arc<Mutex<BTreeMap<u64, SignedReading>>> {
    let got = Arc::new(Mutex::new(BTreeMap::<u64, SignedReading>::new()));
    let (c, mut el) = AsyncClient::new(
        mqtt_options(url, &format!("test-platform-{t}"), None, None, None).unwrap(),
        256,
    );
    c.subscribe("sunmesh/v1/readings/+", QoS::AtLeastOnce)
        .await
        .unwrap();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Ok(r) = SignedReading::from_json(&String::from_utf8_lossy(&p.payload))
                    else {
                        continue;
                    };
                    let device = r.reading.device_id.to_string();
                    let through = {
                        let mut m = g.lock().unwrap();
                        m.insert(r.reading.sequence, r);
                        let mut n = 0;
                        while m.contains_key(&(n + 1)) {
                            n += 1;
                        }
                        n
                    };
                    let ack = format!("{{\"device_id\":\"{device}\",\"acked_through\":{through}}}");
                    let _ = c.try_publish(
                        format!("sunmesh/v1/acks/{device}"),
                        QoS::AtLeastOnce,
                        false,
                        ack,
                    );
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_uplink_is_acknowledged_end_to_end() {
    let Some(url) = broker_url() else { return };
    let t = tag();
    let got = mqtt_platform(&url, &t).await;
    let sim = start_simulator(60.0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), sim, "http://unused", 0.1);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "kind = \"http\"\nurl = \"http://unused\"",
        &format!("kind = \"mqtt\"\nurl = \"{url}\""),
    );
    std::fs::write(&cfg, text).unwrap();
    keygen(&cfg);
    let log = dir.path().join("agent.log");
    // run, kill -9 once in the middle (persistent session + spool resend), run again
    for run_ms in [1500u64, 2000] {
        let mut child = spawn_agent(&cfg, &log);
        tokio::time::sleep(Duration::from_millis(run_ms)).await;
        child.kill().await.unwrap();
    }
    let spool =
        meter_agent::spool::Spool::open(&dir.path().join("data/roof/spool"), Default::default())
            .unwrap();
    let g = got.lock().unwrap();
    assert!(
        g.len() >= 10,
        "only {} readings arrived: {}",
        g.len(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let acked = spool.acked();
    assert!(
        acked >= 5,
        "the platform's acks reached the spool (acked through {acked})"
    );
    for s in 1..=acked {
        let r = g
            .get(&s)
            .unwrap_or_else(|| panic!("acked sequence {s} never reached the platform"));
        if s > 1 {
            assert_eq!(r.reading.prev_hash, g[&(s - 1)].chain_hash());
        }
    }
}

/// The agent binary with an OpenDTU and a Tasmota source: readings carry the published totals,
/// the night-time drop to 0 and malformed payloads never become readings, the agent keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_binary_reads_mqtt_devices_and_ignores_bad_payloads() {
    let Some(url) = broker_url() else { return };
    let t = tag();
    let serial = format!("1141{}", t.replace('-', ""));
    let tas = format!("tasmota_{t}");
    let (rx_url, rx) = start_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"data_dir = "{data}"
poll_interval_s = 0.2
[site]
latitude = 52.52
longitude = 13.40
zone = "TEST"
[uplink]
kind = "http"
url = "{rx_url}"
backoff_min_ms = 20
backoff_max_ms = 200
[[source]]
name = "dtu"
kind = "opendtu"
serial = "{serial}"
nameplate_w = 800
broker = {{ url = "{url}" }}
[[source]]
name = "plug"
kind = "tasmota"
topic = "{tas}"
nameplate_w = 600
broker = {{ url = "{url}" }}
"#,
            data = dir.path().join("data").display()
        ),
    )
    .unwrap();
    let keys = keygen(&cfg);
    let id_of = |name: &str| -> String {
        let line = keys
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap();
        line.split("device_id=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let (dtu_id, plug_id) = (id_of("dtu"), id_of("plug"));
    let log = dir.path().join("agent.log");
    let mut child = spawn_agent(&cfg, &log);
    let pubc = client(&url, &format!("test-pub2-{t}"));
    let good_dtu = [
        (format!("solar/{serial}/0/yieldtotal"), b"1523.456".to_vec()),
        (format!("solar/{serial}/0/power"), b"612".to_vec()),
    ];
    let bad = [
        (format!("solar/{serial}/0/yieldtotal"), b"0".to_vec()),
        (format!("solar/{serial}/0/yieldtotal"), b"NaN".to_vec()),
        (
            format!("tele/{tas}/SENSOR"),
            b"{\"ENERGY\":{\"Total\":".to_vec(),
        ),
        (
            format!("tele/{tas}/SENSOR"),
            br#"{"ENERGY":{"Total":-3,"Power":5}}"#.to_vec(),
        ),
    ];
    let good_tas = (
        format!("tele/{tas}/SENSOR"),
        br#"{"Time":"2023-04-11T07:31:34","ENERGY":{"Total":2.5,"Power":120}}"#.to_vec(),
    );
    for i in 0..25 {
        for (topic, p) in good_dtu.iter().chain(std::iter::once(&good_tas)) {
            pubc.publish(topic.clone(), QoS::AtLeastOnce, false, p.clone())
                .await
                .unwrap();
        }
        if i > 5 {
            for (topic, p) in &bad {
                pubc.publish(topic.clone(), QoS::AtLeastOnce, false, p.clone())
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent keeps running"
    );
    child.kill().await.unwrap();
    let g = rx.lock().unwrap();
    assert_eq!(g.by_device.len(), 2, "both MQTT devices shipped readings");
    for (id, export, power) in [(&dtu_id, 1_523_456u64, 612i32), (&plug_id, 2500, 120)] {
        let mine: Vec<_> = g
            .all
            .iter()
            .filter(|r| &r.reading.device_id.to_string() == id)
            .collect();
        assert!(mine.len() >= 3, "{id}: {} readings", mine.len());
        for r in mine {
            assert_eq!(
                (r.reading.export_wh, r.reading.power_w),
                (export, power),
                "only good values become readings"
            );
        }
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("holding 1523456 Wh"),
        "the drop to 0 is logged as held"
    );
    assert!(
        log.contains("ignoring message"),
        "malformed payloads are logged"
    );
}
