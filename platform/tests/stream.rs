//! `GET /v1/stream` over a real socket: a client that only listens receives the book updates,
//! trades and its own order events as they are committed; filters narrow the public messages;
//! other accounts' order events never arrive; a missing key is refused before the upgrade.
//! A one-time ticket (what the web page uses) opens one stream for the key that asked for it.

mod common;
#[path = "http_support/mod.rs"]
mod http_support;
mod trading_support;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{on_each_backend, TestDb};
use http_support::Client;
use platform::api::{self, AppState};
use platform::registry::Role;
use serde_json::{json, Value};
use trading_support::Exchange;
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// The app served on a loopback port from a thread of its own; dropping this stops it, so the
/// state (and the exchange's writer with it) is gone before the test's database is.
struct Served {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn serve(state: AppState) -> Served {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(async move {
                let server = actix_web::HttpServer::new(move || api::app(state.clone()))
                    .workers(1)
                    .listen(listener)
                    .unwrap()
                    .run();
                handle_tx.send(server.handle()).unwrap();
                server.await
            })
            .unwrap();
    });
    Served {
        addr,
        handle: handle_rx.recv().unwrap(),
        thread: Some(thread),
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Not graceful: open WebSockets would hold a graceful stop for its whole timeout.
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connect(
    addr: SocketAddr,
    key: Option<&str>,
    query: &str,
) -> Result<Socket, Box<tungstenite::Error>> {
    let mut request = format!("ws://{addr}/v1/stream{query}")
        .into_client_request()
        .unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {key}").parse().unwrap());
    }
    let (socket, _) = tungstenite::connect(request).map_err(Box::new)?;
    if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    Ok(socket)
}

/// Every text message that arrives within `wait`, without ever sending anything.
fn listen(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(text)) => got.push(serde_json::from_str(&text).unwrap()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("stream failed: {e}"),
        }
    }
    got
}

fn of_type<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["type"] == kind).collect()
}

/// The status of a refused upgrade (the test fails on an upgrade or a non-HTTP error).
fn refused_status(outcome: Result<Socket, Box<tungstenite::Error>>) -> u16 {
    match outcome {
        Err(e) => match *e {
            tungstenite::Error::Http(response) => response.status().as_u16(),
            other => panic!("expected an HTTP refusal, got {other}"),
        },
        Ok(_) => panic!("expected a refusal, got an upgrade"),
    }
}

fn listeners_receive_books_trades_and_their_own_orders(db: &TestDb) {
    let ex = Exchange::start(db);
    let admin = ex.account("root", Role::Admin);
    let seller = ex.account("sol", Role::Prosumer);
    let buyer = ex.account("bea", Role::Consumer);
    let watcher = ex.account("wim", Role::Consumer);
    ex.device(1, "sol", 4_000);
    let slot = ex.slot();
    let served = serve(ex.state());
    let addr = served.addr;
    let mut http = Client::new(addr);

    // No key: refused with the error shape, no upgrade.
    assert_eq!(refused_status(connect(addr, None, "")), 401);

    let mut seller_ws = connect(addr, Some(&seller.key), "").unwrap();
    let mut watcher_ws = connect(addr, Some(&watcher.key), "").unwrap();
    let mut elsewhere_ws = connect(addr, Some(&watcher.key), "?zone=nowhere").unwrap();

    let (status, body) = http
        .request(
            "POST",
            "/v1/admin/deposits",
            Some(&admin.key),
            Some(&json!({"account_id": buyer.id, "amount_micro": 1_000_000})),
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let order = |side: &str| {
        json!({"client_order_id": 1, "zone": "default", "slot_start_ms": slot, "side": side,
               "type": "limit", "price_micro_per_kwh": 200_000, "qty_wh": 500})
    };
    for (key, side) in [(&seller.key, "sell"), (&buyer.key, "buy")] {
        let (status, body) = http
            .request("POST", "/v1/orders", Some(key), Some(&order(side)))
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }

    // The seller only listens: its two order events (placed, filled), the books and the trade.
    let seen = listen(&mut seller_ws, Duration::from_secs(2));
    let trades = of_type(&seen, "trade");
    assert_eq!(trades.len(), 1, "{seen:?}");
    assert_eq!(trades[0]["qty_wh"], 500);
    assert_eq!(trades[0]["slot_start_ms"], slot);
    let books = of_type(&seen, "book");
    assert!(!books.is_empty(), "{seen:?}");
    let last_book = books.last().unwrap();
    assert_eq!(last_book["zone"], "default");
    assert!(
        last_book["bids"].as_array().unwrap().is_empty(),
        "{last_book}"
    );
    let orders: Vec<&Value> = of_type(&seen, "order")
        .iter()
        .map(|m| &m["order"])
        .collect();
    assert!(!orders.is_empty(), "{seen:?}");
    assert!(
        orders
            .iter()
            .all(|o| o["side"] == "sell" && o["type"] == "limit"),
        "only the seller's own orders: {orders:?}"
    );
    assert_eq!(orders.last().unwrap()["status"], "filled", "{orders:?}");

    // Another account sees the public messages and none of the two traders' orders.
    let watched = listen(&mut watcher_ws, Duration::from_millis(500));
    assert_eq!(of_type(&watched, "trade").len(), 1, "{watched:?}");
    assert!(of_type(&watched, "order").is_empty(), "{watched:?}");
    // A filter on another zone hides this zone's books and trades.
    let filtered = listen(&mut elsewhere_ws, Duration::from_millis(500));
    assert!(filtered.is_empty(), "{filtered:?}");
}

fn a_ticket_opens_one_stream_for_its_key(db: &TestDb) {
    let ex = Exchange::start(db);
    let seller = ex.account("sol", Role::Prosumer);
    let other = ex.account("oli", Role::Consumer);
    ex.device(1, "sol", 4_000);
    let slot = ex.slot();
    let served = serve(ex.state());
    let addr = served.addr;
    let mut http = Client::new(addr);
    fn ticket_of(http: &mut Client, key: &str) -> String {
        let (status, body) = http
            .request("POST", "/v1/stream/tickets", Some(key), None)
            .unwrap();
        assert_eq!(status, 201, "{body}");
        assert!(body["expires_at_ms"].as_i64().unwrap() > 0, "{body}");
        body["ticket"].as_str().unwrap().to_owned()
    }

    // The ticket alone, no header: the stream is the seller's, so its own orders arrive; a
    // header of another account beside the ticket changes nothing.
    let ticket = ticket_of(&mut http, &seller.key);
    let query = format!("?ticket={ticket}");
    let mut ws = connect(addr, Some(&other.key), &query).unwrap();
    let sell = json!({"client_order_id": 1, "zone": "default", "slot_start_ms": slot,
                      "side": "sell", "type": "limit", "price_micro_per_kwh": 200_000,
                      "qty_wh": 500});
    let (status, body) = http
        .request("POST", "/v1/orders", Some(&seller.key), Some(&sell))
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let seen = listen(&mut ws, Duration::from_secs(1));
    let orders = of_type(&seen, "order");
    assert_eq!(orders.len(), 1, "{seen:?}");
    assert_eq!(orders[0]["order"]["side"], "sell");

    // Used once; never issued; issued to a key revoked since: all refused before the upgrade.
    assert_eq!(refused_status(connect(addr, None, &query)), 401);
    assert_eq!(refused_status(connect(addr, None, "?ticket=smt_00")), 401);
    let unused = ticket_of(&mut http, &seller.key);
    let (status, keys) = http
        .request("GET", "/v1/keys", Some(&seller.key), None)
        .unwrap();
    assert_eq!(status, 200, "{keys}");
    let key_id = keys[0]["id"].as_i64().unwrap();
    let (status, body) = http
        .request(
            "DELETE",
            &format!("/v1/keys/{key_id}"),
            Some(&seller.key),
            None,
        )
        .unwrap();
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        refused_status(connect(addr, None, &format!("?ticket={unused}"))),
        401
    );
}

on_each_backend!(
    listeners_receive_books_trades_and_their_own_orders,
    a_ticket_opens_one_stream_for_its_key
);
