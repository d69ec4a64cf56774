//! CLI contracts: `--version`, `keygen`, `register` against an in-test platform, and
//! `read --once --profile` against a register-map meter served over real TCP.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use meter_agent::simulator::serve_image;
use meter_agent::sunspec::{RegisterImage, RegisterKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[test]
fn version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("meter-agent {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn keygen_out_prints_the_public_key_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("device.key");
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let pk = text
        .split("public_key=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let key = meter_agent::signer::load_key(&p).unwrap();
    assert_eq!(pk, key.public_key().to_hex());
    let again = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_sends_key_nameplate_location_and_zone() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(String::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 16384];
        let mut n = 0;
        // read until the JSON body is complete
        while !String::from_utf8_lossy(&buf[..n]).trim_end().ends_with('}') {
            n += sock.read(&mut buf[n..]).await.unwrap();
        }
        *s.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).to_string();
        sock.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "127.0.0.1:1".parse().unwrap(), &url, 10.0);
    let keys = keygen(&cfg);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["register", "--platform", &url, "--config"])
            .arg(&cfg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = seen.lock().unwrap().clone();
    assert!(req.starts_with("POST /v1/devices HTTP/1.1"), "{req}");
    let body: serde_json::Value =
        serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let pk = keys
        .split("public_key=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(body["public_key"], pk);
    assert_eq!(body["nameplate_w"], 5000);
    assert_eq!(body["zone"], "TEST");
    assert_eq!(body["latitude"], 52.52);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_once_with_the_sdm630_profile() {
    let f = |v: f32| [(v.to_bits() >> 16) as u16, v.to_bits() as u16];
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(serve_image(
        l,
        1,
        Arc::new(move || {
            let mut img = RegisterImage::default();
            img.put(RegisterKind::Input, 0x34, &f(-850.0));
            img.put(RegisterKind::Input, 0x48, &f(4321.5));
            img.put(RegisterKind::Input, 0x4A, &f(1234.25));
            img
        }),
    ));
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/sdm630.toml");
    let dev = format!("tcp://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["read", "--once", "--profile", profile, "--device", &dev])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "Eastron SDM630");
    assert_eq!(v["power_w"], -850);
    assert_eq!(v["import_wh"], 4_321_500);
    assert_eq!(v["energy_wh"], 1_234_250);
}

/// One agent, two sources (a SunSpec inverter and a profile meter): two devices, two keys,
/// two chains, both shipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_sources_per_agent() {
    let f = |v: f32| [(v.to_bits() >> 16) as u16, v.to_bits() as u16];
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let meter = l.local_addr().unwrap();
    tokio::spawn(serve_image(
        l,
        1,
        Arc::new(move || {
            let mut img = RegisterImage::default();
            img.put(RegisterKind::Input, 0x34, &f(-300.0));
            img.put(RegisterKind::Input, 0x48, &f(10.0));
            img.put(RegisterKind::Input, 0x4A, &f(20.0));
            img
        }),
    ));
    let sim = start_simulator(1.0).await;
    let (url, rx) = start_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), sim, &url, 0.1);
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/sdm630.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[[source]]\nname = \"grid\"\nkind = \"profile\"\nprofile = \"{profile}\"\nurl = \"tcp://{meter}\"\nnameplate_w = 5000\n"
    ));
    std::fs::write(&cfg, text).unwrap();
    let keys = keygen(&cfg);
    assert_eq!(keys.lines().count(), 2, "{keys}");
    let mut child = spawn_agent(&cfg, &dir.path().join("agent.log"));
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let g = rx.lock().unwrap();
        if g.by_device.len() == 2 && g.by_device.values().all(|s| s.len() >= 5) {
            break;
        }
    }
    child.kill().await.unwrap();
    let g = rx.lock().unwrap();
    assert_eq!(g.by_device.len(), 2, "{:?}", g.by_device.keys());
    for seqs in g.by_device.values() {
        assert!(seqs.len() >= 5);
        assert_eq!(
            *seqs.iter().next().unwrap(),
            1,
            "each device has its own chain from 1"
        );
    }
}
