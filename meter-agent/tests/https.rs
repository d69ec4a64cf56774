//! HTTPS uplink (build feature `tls`): a batch POST to a TLS receiver whose self-signed CA is
//! given as `ca_file`, and a refusal when the CA is not trusted.
//! Run with `cargo test -p meter-agent --features tls --test https`.
#![cfg(feature = "tls")]

use std::sync::Arc;
use std::time::Duration;

use meter_agent::signer::{next_reading, ChainTip, Values};
use meter_agent::uplink::{http::HttpUplink, Uplink, Verdict};
use reading::{DeviceStatus, SigningKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, ServerConfig};

async fn tls_receiver() -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![ck.cert.der().clone()],
            PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text[..i]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap();
                        if buf.len() >= i + 4 + len {
                            break buf[i + 4..i + 4 + len].to_vec();
                        }
                    }
                };
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let results: Vec<String> = v["readings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| format!("{{\"sequence\":{},\"status\":\"accepted\"}}", r["sequence"]))
                    .collect();
                let answer = format!("{{\"results\":[{}]}}", results.join(","));
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, ck.cert.pem())
}

fn batch() -> Vec<reading::SignedReading> {
    let k = SigningKey::from_seed(&[4; 32]).unwrap();
    let mut tip = ChainTip::GENESIS;
    (0..3)
        .map(|i| {
            let r = next_reading(
                &k,
                &tip,
                1_000 + i,
                Values {
                    export_wh: 10,
                    import_wh: 0,
                    power_w: 1,
                    status: DeviceStatus::Ok,
                },
            );
            tip = ChainTip::of(&r);
            r
        })
        .collect()
}

#[tokio::test]
async fn https_batch_post_with_a_private_ca() {
    let (port, pem) = tls_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = format!("https://localhost:{port}");
    let mut up = HttpUplink::with_ca_file(&url, Duration::from_secs(5), Some(&ca)).unwrap();
    let res = up.ship(&batch()).await.unwrap();
    assert_eq!(res.len(), 3);
    assert!(res.iter().all(|r| r.status == Verdict::Accepted));

    // without the CA the certificate is not trusted: no readings leave
    let mut untrusted = HttpUplink::with_ca_file(&url, Duration::from_secs(5), None).unwrap();
    let err = untrusted.ship(&batch()).await.unwrap_err().to_string();
    assert!(err.contains("TLS handshake"), "{err}");
}
