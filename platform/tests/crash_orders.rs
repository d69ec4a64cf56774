//! Durability under SIGKILL: the real `sunmesh serve` is killed 20 times while clients submit
//! and cancel orders at full speed. After every restart each order a client got a 2xx for is
//! present with the state that answer reported, and the rebuilt engine's state hash equals a
//! from-scratch replay of the journal (`sunmesh journal replay`).

mod common;
mod http_support;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::TestDb;
use http_support::Client;
use serde_json::{json, Value};

const KILLS: usize = 20;
const CLIENTS: usize = 4;

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn account(db: &TestDb, name: &str, role: &str) -> String {
    let out = db
        .sunmesh()
        .args(["account", "add", "--name", name, "--role", role])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .unwrap()
        .to_owned()
}

fn start(db: &TestDb, config: &std::path::Path, addr: SocketAddr) -> Child {
    let child = db
        .sunmesh()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut probe = Client::new(addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while probe.request("GET", "/healthz", None, None).is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        thread::sleep(Duration::from_millis(20));
    }
    child
}

/// What the client was told: order id → (status, remaining_wh, whether a cancel of it was in
/// flight when the server died, so "cancelled" is an equally valid outcome).
type Acked = HashMap<i64, (String, i64, bool)>;

fn client_run(
    addr: SocketAddr,
    key: String,
    slot: i64,
    next_cid: &mut u64,
    acked: &mut Acked,
    stop: &AtomicBool,
) {
    let mut client = Client::new(addr);
    let mut last_open: Vec<i64> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        *next_cid += 1;
        let n = *next_cid;
        let result = if n % 4 == 0 && !last_open.is_empty() {
            let id = last_open.swap_remove(0);
            let answer = client.request("DELETE", &format!("/v1/orders/{id}"), Some(&key), None);
            if answer.is_err() {
                if let Some(expected) = acked.get_mut(&id) {
                    expected.2 = true;
                }
            }
            answer
        } else {
            let body = json!({"client_order_id": n, "zone": "default", "slot_start_ms": slot,
                "side": "buy", "type": "limit", "price_micro_per_kwh": 100 * (1 + n % 50) as i64,
                "qty_wh": 1 + n % 10});
            client.request("POST", "/v1/orders", Some(&key), Some(&body))
        };
        match result {
            Ok((status, body)) if (200..300).contains(&status) => {
                let order = if body.get("order").is_some() {
                    &body["order"]
                } else {
                    &body
                };
                let id = order["order_id"].as_i64().unwrap();
                let state = (
                    order["status"].as_str().unwrap().to_owned(),
                    order["remaining_wh"].as_i64().unwrap(),
                    false,
                );
                if state.0 == "open" {
                    last_open.push(id);
                }
                acked.insert(id, state);
            }
            Ok((status, body)) => panic!("unexpected answer {status} {body}"),
            // Killed mid-request: the outcome is unknown, so nothing is asserted about it.
            Err(_) => return,
        }
    }
}

fn all_orders(client: &mut Client, key: &str) -> HashMap<i64, (String, i64)> {
    let mut out = HashMap::new();
    let mut before = i64::MAX;
    loop {
        let (status, page) = client
            .request(
                "GET",
                &format!("/v1/orders?limit=1000&before={before}"),
                Some(key),
                None,
            )
            .unwrap();
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            return out;
        }
        for o in &page {
            let id = o["order_id"].as_i64().unwrap();
            out.insert(
                id,
                (
                    o["status"].as_str().unwrap().to_owned(),
                    o["remaining_wh"].as_i64().unwrap(),
                ),
            );
            before = before.min(id);
        }
    }
}

#[test]
fn acknowledged_orders_survive_sigkill_and_the_journal_replays_to_the_same_state() {
    let db = TestDb::sqlite();
    let addr = free_addr();
    let config = db.work_dir().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\n[api]\nrequests_per_second_per_key = 1000000\nburst_per_key = 1000000\n\
             [market]\nsnapshot_every = 500\n"
        ),
    )
    .unwrap();
    let admin = account(&db, "admin", "admin");
    let operator = account(&db, "ops", "operator");
    let traders: Vec<String> = (0..CLIENTS)
        .map(|i| account(&db, &format!("t{i}"), "consumer"))
        .collect();
    let now = platform::clock::now_ms();
    let slot = (now / 900_000 + 12) * 900_000;

    let mut server = start(&db, &config, addr);
    let mut admin_client = Client::new(addr);
    for i in 0..CLIENTS {
        let (status, body) = admin_client
            .request(
                "POST",
                "/v1/admin/deposits",
                Some(&admin),
                Some(&json!({"account_id": i as i64 + 3, "amount_micro": 1_000_000_000_000i64})),
            )
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let mut acked: Vec<Acked> = vec![HashMap::new(); CLIENTS];
    let mut cids: Vec<u64> = vec![0; CLIENTS];
    let mut total_acked = 0;
    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (key, stop) = (traders[i].clone(), stop.clone());
                let mut state = std::mem::take(&mut acked[i]);
                let mut cid = cids[i];
                thread::spawn(move || {
                    client_run(addr, key, slot, &mut cid, &mut state, &stop);
                    (state, cid)
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(150 + 37 * round as u64 % 300));
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for (i, h) in handles.into_iter().enumerate() {
            let (state, cid) = h.join().unwrap();
            acked[i] = state;
            cids[i] = cid;
        }

        server = start(&db, &config, addr);
        let mut client = Client::new(addr);
        total_acked = 0;
        for (i, key) in traders.iter().enumerate() {
            let stored = all_orders(&mut client, key);
            for (id, (status, remaining, maybe_cancelled)) in &acked[i] {
                let found = stored.get(id);
                let as_told = found == Some(&(status.clone(), *remaining));
                let cancelled = *maybe_cancelled && found == Some(&("cancelled".to_owned(), 0));
                assert!(
                    as_told || cancelled,
                    "round {round}: order {id} of client {i} was acknowledged as {status}/{remaining} but is {found:?}"
                );
            }
            total_acked += acked[i].len();
        }
        let (status, engine) = client
            .request("GET", "/v1/admin/engine", Some(&operator), None)
            .unwrap();
        assert_eq!(status, 200);
        let out = db
            .sunmesh()
            .args(["journal", "replay", "--upto"])
            .arg(engine["journal_len"].as_i64().unwrap().to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let replayed: Value = json!(text
            .lines()
            .find_map(|l| l.strip_prefix("state_hash "))
            .unwrap());
        assert_eq!(
            replayed, engine["state_hash"],
            "round {round}: rebuilt engine differs from a replay"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
    println!("crash test: {KILLS} SIGKILLs, {total_acked} acknowledged orders/cancels all present");
    assert!(
        total_acked > KILLS * CLIENTS,
        "the clients got through: {total_acked}"
    );
}
