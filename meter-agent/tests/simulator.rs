//! The agent against the simulator over real TCP: `read --once`, and the full daemon
//! (read → sign → spool → HTTP uplink → ack).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use meter_agent::modbus_link::ModbusLink;
use meter_agent::sunspec::{discover, read_sample};

fn read_once(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["read", "--once"])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_once_against_the_simulator() {
    let sim = start_simulator(1.0).await;
    let url = format!("tcp://{sim}");
    let out = tokio::task::spawn_blocking(move || read_once(&["--sunspec", &url, "--unit", "1"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], 103);
    assert_eq!(v["meter_model"], 203);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["models"], serde_json::json!([1, 103, 203]));
    let p = v["power_w"].as_i64().unwrap();
    assert!(p > 2000 && p <= 5000, "noon power {p}");
    assert!(v["energy_wh"].as_u64().unwrap() >= 1_000_000);
    assert_eq!(v["manufacturer"], "sunmesh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_energy_integrates_over_real_tcp() {
    let sim = start_simulator(600.0).await; // 10 simulated minutes per second
    let mut link = ModbusLink::new(
        format!("tcp://{sim}").parse().unwrap(),
        1,
        Duration::from_secs(2),
    );
    let map = discover(&mut link).await.unwrap();
    let a = read_sample(&mut link, &map)
        .await
        .unwrap()
        .inverter
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let b = read_sample(&mut link, &map)
        .await
        .unwrap()
        .inverter
        .unwrap();
    let gained = b.energy_wh.unwrap() - a.energy_wh.unwrap();
    // ~10 simulated minutes at 3-4.3 kW: roughly 500-720 Wh; bounded by nameplate × time
    assert!(
        gained > 200 && gained < 5000 * 20 / 60,
        "gained {gained} Wh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_unit_id_times_out_with_a_clear_message() {
    let sim = start_simulator(1.0).await;
    let url = format!("tcp://{sim}");
    let out = tokio::task::spawn_blocking(move || {
        read_once(&["--sunspec", &url, "--unit", "7", "--timeout-ms", "300"])
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not answer") || err.contains("no answer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_fails_clearly() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let url = format!("tcp://{addr}");
    let out =
        tokio::task::spawn_blocking(move || read_once(&["--sunspec", &url, "--timeout-ms", "500"]))
            .await
            .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not answer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_ships_signed_chained_readings_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_simulator(60.0).await;
    let (url, rx) = start_receiver(3).await;
    let cfg = write_config(dir.path(), sim, &url, 0.1);
    let keys = keygen(&cfg);
    let pk_hex = keys
        .split("public_key=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let pk = reading::PublicKey::from_hex(&pk_hex).unwrap();
    let mut child = spawn_agent(&cfg, &dir.path().join("agent.log"));
    let mut got = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = rx.lock().unwrap().readings.len();
        if got >= 20 {
            break;
        }
    }
    child.kill().await.unwrap();
    let g = rx.lock().unwrap();
    assert!(got >= 20, "only {got} readings arrived");
    let n = *g.readings.keys().max().unwrap();
    assert!(g.check_chain(n).is_empty(), "{:?}", g.check_chain(n));
    assert!(
        g.duplicates > 0,
        "every 3rd answer was a 503, so some readings were resent"
    );
    let mut last_export = 0;
    for r in g.readings.values() {
        r.verify(&pk).unwrap();
        assert!(
            r.reading.export_wh >= last_export,
            "production counter never goes back"
        );
        last_export = r.reading.export_wh;
        assert!(r.reading.power_w > 0);
        assert!(r.reading.import_wh > 0, "import comes from the 203 meter");
    }
}

/// Reads registers with hand-built Modbus TCP frames (no tokio-modbus, no agent code), the way
/// any third-party SunSpec client would.
fn raw_read(s: &mut std::net::TcpStream, tid: u16, addr: u16, count: u16) -> Vec<u16> {
    use std::io::{Read, Write};
    let mut req = Vec::new();
    req.extend_from_slice(&tid.to_be_bytes());
    req.extend_from_slice(&[0, 0, 0, 6, 1, 3]); // protocol 0, length 6, unit 1, FC 3
    req.extend_from_slice(&addr.to_be_bytes());
    req.extend_from_slice(&count.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut hdr = [0u8; 9];
    s.read_exact(&mut hdr).unwrap();
    assert_eq!(u16::from_be_bytes([hdr[0], hdr[1]]), tid);
    assert_eq!(hdr[7], 3, "not an exception");
    let mut data = vec![0u8; usize::from(hdr[8])];
    s.read_exact(&mut data).unwrap();
    data.chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_layout_matches_the_sunspec_spec_for_a_raw_client() {
    let sim = start_simulator(1.0).await;
    let regs = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(sim).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let marker = raw_read(&mut s, 1, 40000, 2);
        // model headers where the spec puts them: 40002 (L = 66), 40070, 40122, 40229
        let headers: Vec<Vec<u16>> = [40002u16, 40070, 40122, 40229]
            .iter()
            .map(|a| raw_read(&mut s, 2, *a, 2))
            .collect();
        let inverter = raw_read(&mut s, 3, 40070, 52);
        (marker, headers, inverter)
    })
    .await
    .unwrap();
    let (marker, headers, inv) = regs;
    assert_eq!(marker, vec![0x5375, 0x6E53], "\"SunS\"");
    assert_eq!(
        headers,
        vec![vec![1, 66], vec![103, 50], vec![203, 105], vec![0xFFFF, 0]]
    );
    // 103: W at offset 14 with W_SF at 15, WH acc32 at 24-25 with WH_SF at 26, St at 38
    let w = f64::from(inv[14] as i16) * 10f64.powi(i32::from(inv[15] as i16));
    assert!(w > 2000.0 && w <= 5000.0, "{w}");
    let wh = (u32::from(inv[24]) << 16 | u32::from(inv[25])) as f64
        * 10f64.powi(i32::from(inv[26] as i16));
    assert!(wh >= 1_000_000.0);
    assert_eq!(inv[38], 4, "MPPT: producing");
}
