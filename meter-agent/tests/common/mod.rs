//! Shared fixtures: an in-process simulator, a tiny in-test platform receiver (HTTP, no web
//! framework) and agent config files.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use meter_agent::simulator::{self, solar::Site, SimConfig};
use reading::SignedReading;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const BIN: &str = env!("CARGO_BIN_EXE_meter-agent");

/// 2026-06-21 11:00 UTC: near solar noon in Berlin, so the simulator produces.
pub const NOON_MS: i64 = 1_781_953_200_000;

pub async fn start_simulator(speed: f64) -> SocketAddr {
    start_simulator_with_handle(speed).await.0
}

/// The simulator and the task serving it; aborting the task switches the "device" off.
pub async fn start_simulator_with_handle(
    speed: f64,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let cfg = SimConfig {
        site: Site {
            latitude: 52.52,
            longitude: 13.40,
            nameplate_w: 5000,
        },
        speed,
        start_ms: NOON_MS,
        initial_energy_wh: 1_000_000,
        load_w: 400,
        unit: 1,
        serial: "SIM-TEST".into(),
        panel: None,
        tamper: simulator::Tamper::Honest,
    };
    (addr, tokio::spawn(simulator::run(l, cfg)))
}

/// Starts `meter-agent run`, logging to `log` (appended).
pub fn spawn_agent(config: &Path, log: &Path) -> tokio::process::Child {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    tokio::process::Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(f)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// What the receiver has seen.
#[derive(Default, Debug)]
pub struct Received {
    /// Deduplicated by sequence.
    pub readings: BTreeMap<u64, SignedReading>,
    pub deliveries: u64,
    pub duplicates: u64,
    pub requests: u64,
    pub bad: Vec<String>,
    /// Every reading delivered, in arrival order (duplicates included).
    pub all: Vec<SignedReading>,
    /// Sequences per device id (for multi-source agents).
    pub by_device: BTreeMap<String, std::collections::BTreeSet<u64>>,
}

impl Received {
    /// Checks 1..=n are all there and chained; returns problems.
    pub fn check_chain(&self, n: u64) -> Vec<String> {
        let mut problems = Vec::new();
        for s in 1..=n {
            match self.readings.get(&s) {
                None => problems.push(format!("sequence {s} missing")),
                Some(r) if s > 1 => {
                    if let Some(prev) = self.readings.get(&(s - 1)) {
                        if r.reading.prev_hash != prev.chain_hash() {
                            problems.push(format!("sequence {s} does not chain to {}", s - 1));
                        }
                    }
                }
                Some(_) => {}
            }
        }
        problems.extend(self.bad.iter().cloned());
        problems
    }
}

/// A platform stand-in: `POST /v1/readings` → verifies each reading's signature, dedups by
/// sequence, answers `{"results":[...]}`. With `fail_every = k`, every k-th request is stored
/// but answered with HTTP 503, so the agent must resend and dedup must hold.
pub async fn start_receiver(fail_every: u64) -> (String, Arc<Mutex<Received>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let state = Arc::new(Mutex::new(Received::default()));
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = l.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let Some(body) = read_request(&mut sock).await else {
                    return;
                };
                let (status, answer) = handle(&st, &body, fail_every);
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, state)
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(buf[end + 4..end + 4 + len].to_vec());
            }
        }
    }
}

fn handle(st: &Mutex<Received>, body: &[u8], fail_every: u64) -> (&'static str, String) {
    let mut g = st.lock().unwrap();
    g.requests += 1;
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return ("400 Bad Request", format!("{{\"error\":\"{e}\"}}")),
    };
    let mut results = Vec::new();
    for item in v["readings"].as_array().cloned().unwrap_or_default() {
        let r = match SignedReading::from_json(&item.to_string()) {
            Ok(r) => r,
            Err(e) => {
                g.bad.push(format!("undecodable reading: {e}"));
                continue;
            }
        };
        let seq = r.reading.sequence;
        g.deliveries += 1;
        g.all.push(r.clone());
        g.by_device
            .entry(r.reading.device_id.to_string())
            .or_default()
            .insert(seq);
        if g.by_device.len() > 1 {
            // several devices: per-device bookkeeping only, the single-chain map would mix them
            results.push(format!("{{\"sequence\":{seq},\"status\":\"accepted\"}}"));
            continue;
        }
        let status = if let Some(old) = g.readings.get(&seq) {
            if old != &r {
                g.bad.push(format!(
                    "sequence {seq} delivered twice with different content"
                ));
            }
            g.duplicates += 1;
            "duplicate"
        } else {
            g.readings.insert(seq, r);
            "accepted"
        };
        results.push(format!("{{\"sequence\":{seq},\"status\":\"{status}\"}}"));
    }
    if fail_every > 0 && g.requests % fail_every == 0 {
        return (
            "503 Service Unavailable",
            "{\"error\":\"try later\"}".into(),
        );
    }
    ("200 OK", format!("{{\"results\":[{}]}}", results.join(",")))
}

/// Writes an agent config with one SunSpec source and an HTTP uplink; returns its path.
pub fn write_config(dir: &Path, sim: SocketAddr, uplink_url: &str, poll_s: f64) -> PathBuf {
    let text = format!(
        r#"data_dir = "{data}"
poll_interval_s = {poll_s}
device_timeout_ms = 1000
[site]
latitude = 52.52
longitude = 13.40
zone = "TEST"
[spool]
max_mb = 16
segment_kb = 16
[uplink]
kind = "http"
url = "{uplink_url}"
batch_size = 50
ack_timeout_s = 2
backoff_min_ms = 20
backoff_max_ms = 300
[[source]]
name = "roof"
kind = "sunspec"
url = "tcp://{sim}"
unit = 1
nameplate_w = 5000
"#,
        data = dir.join("data").display()
    );
    let p = dir.join("agent.toml");
    std::fs::write(&p, text).unwrap();
    p
}

pub fn keygen(config: &Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["keygen", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
