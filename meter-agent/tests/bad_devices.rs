//! Bad input from devices: timeouts, Modbus exceptions, garbage registers, sentinels and wrong
//! model chains. The agent says why, keeps running and never emits a wrong reading.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use meter_agent::simulator::{serve_image, ImageFn};
use meter_agent::sunspec::{RegisterImage, RegisterKind, END_MODEL, SUNS_MARKER};
use tokio::net::TcpListener;

fn chain(models: &[Vec<u16>]) -> Vec<u16> {
    let mut r = SUNS_MARKER.to_vec();
    for m in models {
        r.extend_from_slice(m);
    }
    r.extend_from_slice(&[END_MODEL, 0]);
    r
}

fn common_model() -> Vec<u16> {
    let mut m = vec![0u16; 68];
    m[0] = 1;
    m[1] = 66;
    m
}

fn inverter(w: u16, wh: u32) -> Vec<u16> {
    let mut m = vec![0u16; 52];
    m[0] = 103;
    m[1] = 50;
    m[14] = w;
    m[24] = (wh >> 16) as u16;
    m[25] = wh as u16;
    m[38] = 4;
    m
}

async fn serve(f: ImageFn) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(serve_image(l, 1, f));
    a
}

fn fixed(regs: Vec<u16>) -> ImageFn {
    Arc::new(move || {
        let mut img = RegisterImage::default();
        img.put(RegisterKind::Holding, 40000, &regs);
        img
    })
}

async fn read_once(addr: SocketAddr) -> (bool, String, String) {
    let url = format!("tcp://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["read", "--once", "--sunspec", &url, "--timeout-ms", "400"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_device_gets_a_clear_reason() {
    // answers everything with IllegalDataAddress: not SunSpec
    let a = serve(Arc::new(RegisterImage::default)).await;
    let (ok, _, err) = read_once(a).await;
    assert!(
        !ok && err.contains("not a SunSpec device") && err.contains("IllegalDataAddress"),
        "{err}"
    );

    // garbage where the marker should be
    let a = serve(fixed(vec![0xDEAD, 0xBEEF, 1, 2, 3])).await;
    let (ok, _, err) = read_once(a).await;
    assert!(!ok && err.contains("SunS"), "{err}");

    // a chain without the end model
    let mut regs = chain(&[common_model(), inverter(100, 1000)]);
    regs.truncate(regs.len() - 2);
    let (ok, _, err) = read_once(serve(fixed(regs)).await).await;
    assert!(!ok && err.contains("end model"), "{err}");

    // a chain that does not start with the common model
    let (ok, _, err) = read_once(serve(fixed(chain(&[inverter(100, 1000)]))).await).await;
    assert!(!ok && err.contains("common model 1"), "{err}");

    // sentinels: W not implemented, WH acc32 = 0: absent (null), never a number
    let (ok, out, err) =
        read_once(serve(fixed(chain(&[common_model(), inverter(0x8000, 0)]))).await).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["power_w"].is_null() && v["energy_wh"].is_null(), "{v}");

    // accepts the connection and never answers
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let (ok, _, err) = read_once(a).await;
    assert!(!ok && err.contains("no answer within"), "{err}");
}

/// A device that cycles through good answers, sentinels, a changed (garbage) layout and
/// exceptions. Only the good answers may become readings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_survives_a_misbehaving_device_and_emits_only_good_readings() {
    let t0 = Instant::now();
    let image: ImageFn = Arc::new(move || {
        let phase = (t0.elapsed().as_millis() / 400) % 4;
        let secs = t0.elapsed().as_secs() as u32;
        let regs = match phase {
            0 => chain(&[common_model(), inverter(1500, 100_000 + secs)]),
            1 => chain(&[common_model(), inverter(0x8000, 0)]),
            2 => {
                let mut r = chain(&[common_model(), inverter(1500, 100_000)]);
                for (i, x) in r.iter_mut().enumerate().skip(70) {
                    *x = (i as u16).wrapping_mul(40503); // garbage where model 103 was
                }
                r
            }
            _ => return RegisterImage::default(), // every read is an exception
        };
        let mut img = RegisterImage::default();
        img.put(RegisterKind::Holding, 40000, &regs);
        img
    });
    let dev = serve(image).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, rx) = start_receiver(0).await;
    let cfg = write_config(dir.path(), dev, &url, 0.1);
    keygen(&cfg);
    let log = dir.path().join("agent.log");
    let mut child = spawn_agent(&cfg, &log);
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent keeps running"
    );
    child.kill().await.unwrap();
    let g = rx.lock().unwrap();
    assert!(
        g.readings.len() >= 5,
        "good phases still give readings: {}",
        g.readings.len()
    );
    for r in g.readings.values() {
        assert_eq!(r.reading.power_w, 1500, "{r:?}");
        assert!(
            r.reading.export_wh >= 100_000 && r.reading.export_wh < 100_100,
            "{r:?}"
        );
    }
    let n = *g.readings.keys().max().unwrap();
    assert!(g.check_chain(n).is_empty());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("no reading"), "reasons are logged");
    assert!(log.contains("absent"), "sentinel phase is explained: {log}");
    assert!(
        log.contains("rediscovering") || log.contains("model chain"),
        "garbage phase is explained"
    );
    assert!(
        log.contains("IllegalDataAddress"),
        "exception phase is explained"
    );
}
