//! End-to-end: the web page in headless Chromium against a running `sunmesh serve` (the built
//! binary, a temporary SQLite file, a free port). Screenshots are kept in
//! `<target dir>/e2e-artifacts/`. Skipped (with a line saying so) when Chromium or chromedriver
//! is missing, unless `SUNMESH_REQUIRE_BROWSER=1`.

mod common;
mod webdriver;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use serde_json::{json, Value};
use webdriver::{artifacts_dir, free_port, Browser};

/// A `sunmesh serve` child process, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &TestDb) -> Server {
        let port = free_port();
        // Its own port for the embedded MQTT broker too, so tests can run side by side.
        let config = db.work_dir().join("sunmesh.toml");
        let mqtt = format!("[mqtt]\nembedded_listen = \"127.0.0.1:{}\"\n", free_port());
        std::fs::write(&config, mqtt).expect("write the test config");
        let child = db
            .sunmesh()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sunmesh serve");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.http("GET", "/readyz", None, None).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "sunmesh serve did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// One JSON API call; (status, body) with status 0 when the server is unreachable.
    fn http(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, Value::Null);
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = key
            .map(|k| format!("Authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        let sent = write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut text = String::new();
        if sent.is_err() || stream.read_to_string(&mut text).is_err() {
            return (0, Value::Null);
        }
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let json = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An account made with `sunmesh account add` (the only way to make an operator); its key.
fn cli_account(db: &TestDb, name: &str, role: &str) -> String {
    let out = db
        .sunmesh()
        .args(["account", "add", "--name", name, "--role", role])
        .output()
        .expect("run sunmesh account add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .unwrap_or_else(|| panic!("no key in {text}"))
        .trim()
        .to_owned()
}

/// Accessibility basics checked in the live page: every form control labelled, table headers
/// scoped, tables captioned, images and charts named, buttons named, ids unique, a live region,
/// and text contrast of at least 4.5:1 (3:1 for large text). Returns the problems found.
const AUDIT: &str = r#"
const problems = [];
const visible = (e) => e.offsetParent !== null || getComputedStyle(e).position === "fixed";
for (const e of document.querySelectorAll("input, select, textarea")) {
  if (e.type === "hidden") continue;
  if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
    problems.push("unlabelled control: " + e.outerHTML.slice(0, 80));
}
for (const th of document.querySelectorAll("th"))
  if (!["col", "row", "colgroup", "rowgroup"].includes(th.getAttribute("scope"))) problems.push("th without scope: " + th.textContent);
for (const t of document.querySelectorAll("table"))
  if (!t.querySelector("caption")) problems.push("table without caption");
for (const i of document.querySelectorAll("img"))
  if (!i.hasAttribute("alt")) problems.push("img without alt: " + i.src);
for (const s of document.querySelectorAll("svg"))
  if (s.getAttribute("role") !== "img" || !s.querySelector("title")) problems.push("svg without role=img and title");
for (const b of document.querySelectorAll("button"))
  if (!b.textContent.trim() && !b.getAttribute("aria-label")) problems.push("button without a name");
const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push("duplicate id " + id);
if (!document.querySelector("[aria-live], [role=status], [role=alert]")) problems.push("no live region");
if (!document.documentElement.lang) problems.push("no lang on html");
if (!document.querySelector("main")) problems.push("no main landmark");
const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
  .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = (e) => {
  for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); }
  return [255, 255, 255];
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
while (walker.nextNode()) {
  const e = walker.currentNode.parentElement;
  if (!walker.currentNode.textContent.trim() || seen.has(e) || !visible(e) || e.closest("svg")) continue;
  seen.add(e);
  const style = getComputedStyle(e);
  const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(e))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need}: ${e.textContent.trim().slice(0, 40)}`);
}
return problems;
"#;

fn assert_accessible(browser: &Browser, page: &str) {
    let problems = browser.script(AUDIT, json!([]));
    assert_eq!(
        problems,
        json!([]),
        "accessibility problems on the {page} page"
    );
}

/// Presses Tab until the element with `id` has focus (at most 20 times); asserts the focus
/// ring is visible there.
fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..20 {
        browser.keys("\u{E004}");
        let focused = browser.script("return document.activeElement.id;", json!([]));
        if focused == json!(id) {
            let outline = browser.script(
                "return getComputedStyle(document.activeElement).outlineStyle;",
                json!([]),
            );
            assert_ne!(outline, json!("none"), "focus on #{id} is not visible");
            return;
        }
    }
    panic!("#{id} cannot be reached with the Tab key");
}

fn ready(browser: &Browser) {
    browser.wait_for(
        "the signed-in view",
        "return document.body.dataset.ready === 'true';",
        json!([]),
    );
}

#[test]
fn neighbour_signs_up_and_operator_signs_in() {
    let Some(browser) = Browser::start("neighbour_signs_up_and_operator_signs_in") else {
        return;
    };
    let db = TestDb::sqlite();
    let operator_key = cli_account(&db, "grid-op", "operator");
    // One settled slot (the last full hour, nothing traded in it) for the operator's report.
    let hour_ms = 3_600_000;
    let now_ms = platform::clock::now_ms();
    let slot = chrono::DateTime::from_timestamp_millis(now_ms / hour_ms * hour_ms - hour_ms)
        .expect("a valid time");
    let factors = db.work_dir().join("factors.csv");
    std::fs::write(
        &factors,
        "zone,valid_from,valid_to,kind,source,version,g_co2e_per_mwh\n\
         default,2000-01-01T00:00:00Z,2100-01-01T00:00:00Z,combined_margin,test,1,400000\n",
    )
    .expect("write factors");
    for args in [
        vec![
            "factors".to_owned(),
            "import".to_owned(),
            factors.display().to_string(),
        ],
        vec![
            "settle".to_owned(),
            "--zone".to_owned(),
            "default".to_owned(),
            "--slot".to_owned(),
            slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ],
    ] {
        let out = db.sunmesh().args(&args).output().expect("run sunmesh");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start(&db);
    let shots = artifacts_dir();

    // The welcome page, reached and used with the keyboard only.
    browser.goto(&server.url());
    browser.wait_for(
        "the welcome form",
        "return !document.getElementById('welcome').hidden;",
        json!([]),
    );
    assert_accessible(&browser, "welcome");
    // The audit itself finds what it looks for.
    let planted = browser.script(
        "const d = document.createElement('div'); d.id = 'planted';
         d.innerHTML = '<input><table><tr><th>x</th></tr></table><p>faint</p>';
         d.querySelector('p').style.color = '#bbb';
         document.querySelector('main').append(d);
         const found = (new Function(arguments[0]))(); d.remove(); return found;",
        json!([AUDIT]),
    );
    assert_eq!(
        planted.as_array().map(Vec::len),
        Some(4),
        "audit of planted faults: {planted}"
    );
    browser.screenshot(&shots.join("01-welcome.png"));
    tab_to(&browser, "sign-up-name");
    browser.keys("alice\u{E007}");

    // The key is shown once, and it is a working key for the API.
    browser.wait_for(
        "the new key",
        "return !document.getElementById('new-key').hidden;",
        json!([]),
    );
    let key = browser
        .script(
            "return document.getElementById('new-key-value').value;",
            json!([]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(key.starts_with("smk_"), "shown key: {key:?}");
    let (status, me) = server.http("GET", "/v1/me", Some(&key), None);
    assert_eq!(
        (status, me["name"].clone(), me["role"].clone()),
        (200, json!("alice"), json!("prosumer"))
    );
    let kept = browser.script(
        "return sessionStorage.getItem('sunmesh.apiKey');",
        json!([]),
    );
    assert_eq!(kept, json!(key), "the page keeps the key for this tab");
    browser.screenshot(&shots.join("02-new-key.png"));

    // The neighbour view, with empty states while nothing has happened yet.
    browser.click("#new-key-continue");
    ready(&browser);
    browser.wait_for_text("Hello, alice");
    for section in ["market", "orders", "trades", "balances", "devices"] {
        browser.wait_for(
            &format!("section #{section} to load"),
            "const s = document.getElementById(arguments[0]); return s && !s.querySelector('[aria-busy=true]');",
            json!([section]),
        );
    }
    assert_accessible(&browser, "neighbour");
    browser.screenshot(&shots.join("03-neighbour.png"));

    // A reload keeps the session; signing out forgets the key and stops the live updates.
    browser.goto(&server.url());
    ready(&browser);
    browser.wait_for_text("Hello, alice");
    browser.wait_for(
        "the page on the stream",
        "return document.body.dataset.live === 'stream';",
        json!([]),
    );
    browser.click("#sign-out");
    browser.wait_for_text("Signed out.");
    let kept = browser.script(
        "return sessionStorage.getItem('sunmesh.apiKey');",
        json!([]),
    );
    assert_eq!(kept, Value::Null);
    let live = browser.script("return document.body.dataset.live ?? null;", json!([]));
    assert_eq!(
        live,
        Value::Null,
        "live updates still running after sign-out"
    );

    // A wrong key is refused with a message that says what to do.
    browser.type_into("#sign-in-key", "smk_not-a-real-key");
    browser.click("#sign-in-form button[type=submit]");
    browser.wait_for_text("That API key is not valid");

    // The operator sees the operator view.
    browser.type_into("#sign-in-key", &operator_key);
    browser.click("#sign-in-form button[type=submit]");
    ready(&browser);
    browser.wait_for_text("Operator");
    for section in ["reports", "flagged", "log"] {
        browser.wait_for(
            &format!("section #{section} to load"),
            "const s = document.getElementById(arguments[0]); return s && !s.querySelector('[aria-busy=true]') && !s.innerText.includes('Loading');",
            json!([section]),
        );
    }
    // The settled slot is in the report for its day, and the log has its checkpoint.
    browser.script(
        "const f = document.getElementById('report-form');
         f.from.value = arguments[0]; f.to.value = arguments[0];",
        json!([slot.format("%Y-%m-%d").to_string()]),
    );
    browser.click("#report-form button[type=submit]");
    let report = wait_for_in(&browser, "#report-out", "Settled slots");
    let slot_text = slot.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(report.contains(&slot_text), "{slot_text} not in {report}");
    let checkpoint = wait_for_in(&browser, "#checkpoint", "Entries");
    assert!(checkpoint.contains("sunmesh.local/log"), "{checkpoint}");
    // Ingest's review queue is live (and empty).
    wait_for_in(&browser, "#flagged", "No flagged readings");
    assert_accessible(&browser, "operator");
    browser.screenshot(&shots.join("04-operator.png"));
}

/// Signs in through the form and waits for the view.
fn sign_in(browser: &Browser, key: &str) {
    browser.type_into("#sign-in-key", key);
    browser.click("#sign-in-form button[type=submit]");
    ready(browser);
}

fn sign_out(browser: &Browser) {
    browser.click("#sign-out");
    browser.wait_for_text("Signed out.");
}

fn wait_loaded(browser: &Browser, sections: &[&str]) {
    for section in sections {
        browser.wait_for(
            &format!("section #{section} to load"),
            "const s = document.getElementById(arguments[0]);
             return s && !s.querySelector('[aria-busy=true]') && !s.innerText.includes('Loading');",
            json!([section]),
        );
    }
}

/// The text of the element matching `css` once it contains `needle`.
fn wait_for_in(browser: &Browser, css: &str, needle: &str) -> String {
    browser.wait_for(
        &format!("{css} to show {needle:?}"),
        "const e = document.querySelector(arguments[0]);
         return e && e.checkVisibility() && e.innerText.includes(arguments[1]);",
        json!([css, needle]),
    );
    browser.text(css)
}

#[test]
fn neighbours_trade_in_the_page() {
    let Some(browser) = Browser::start("neighbours_trade_in_the_page") else {
        return;
    };
    let db = TestDb::sqlite();
    let admin_key = cli_account(&db, "admin", "admin");
    // The seller: a prosumer with a 5 kW installation in the market's zone.
    let seller_key = cli_account(&db, "bob", "prosumer");
    let pubkey = common::public_key(7).to_hex();
    let device = db
        .sunmesh()
        .args([
            "device",
            "add",
            "--pubkey",
            &pubkey,
            "--nameplate-w",
            "5000",
        ])
        .args([
            "--lat", "52.5", "--lon", "13.4", "--owner", "bob", "--zone", "default",
        ])
        .output()
        .expect("run sunmesh device add");
    assert!(
        device.status.success(),
        "{}",
        String::from_utf8_lossy(&device.stderr)
    );
    let device_id = String::from_utf8_lossy(&device.stdout)
        .split_whitespace()
        .nth(2)
        .expect("`registered device <id> ...`")
        .to_owned();
    let server = Server::start(&db);
    let shots = artifacts_dir();

    // Bob offers 1 kWh at 0.25 per kWh in a slot two hours ahead, over the API.
    let (status, slots) = server.http("GET", "/v1/slots?zone=default", Some(&seller_key), None);
    assert_eq!(status, 200, "{slots}");
    let slot = slots[8]["slot_start_ms"].as_i64().expect("an open slot");
    let sell = json!({"client_order_id": 1, "zone": "default", "slot_start_ms": slot, "side": "sell",
                      "type": "limit", "price_micro_per_kwh": 250_000, "qty_wh": 1000});
    let (status, placed) = server.http("POST", "/v1/orders", Some(&seller_key), Some(sell));
    assert_eq!(status, 201, "{placed}");

    // Alice signs up in the page; the admin funds her account with 10.000000.
    browser.goto(&server.url());
    browser.type_into("#sign-up-name", "alice");
    browser.click("#sign-up-form button[type=submit]");
    browser.wait_for(
        "the new key",
        "return !document.getElementById('new-key').hidden
            && document.getElementById('new-key-value').value.startsWith('smk_');",
        json!([]),
    );
    let key = browser
        .script(
            "return document.getElementById('new-key-value').value;",
            json!([]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned();
    let (_, me) = server.http("GET", "/v1/me", Some(&key), None);
    let deposit = json!({"account_id": me["id"], "amount_micro": 10_000_000});
    let (status, body) = server.http(
        "POST",
        "/v1/admin/deposits",
        Some(&admin_key),
        Some(deposit),
    );
    assert!(status == 200 || status == 201, "deposit: {status} {body}");
    browser.click("#new-key-continue");
    ready(&browser);
    wait_loaded(&browser, &["market", "orders", "trades", "balances"]);

    // The market shows Bob's ask in the slot the page selected.
    let market = wait_for_in(&browser, "#market", "0.250000/kWh");
    assert!(market.contains("Slots with orders"), "{market}");

    // Alice buys 1 kWh at up to 0.30: it crosses Bob's ask and trades at 0.25.
    browser.type_into("#order-form input[name=price]", "0.3");
    browser.type_into("#order-form input[name=quantity]", "1");
    browser.click("#order-form button[type=submit]");
    let result = wait_for_in(&browser, "#order-result", "Traded");
    assert!(result.contains("Traded 1.000 kWh in 1 trade"), "{result}");
    let trades = wait_for_in(&browser, "#trades", "bought");
    assert!(
        trades.contains("0.250000/kWh") && trades.contains("1.000 kWh"),
        "{trades}"
    );
    let orders = wait_for_in(&browser, "#orders", "filled");
    assert!(orders.contains("buy"), "{orders}");
    // Balances: the 10.00 deposit less the 0.25 paid for 1 kWh at 0.25/kWh.
    let balances = wait_for_in(&browser, "#balances", "9.750000");
    assert!(
        balances.contains("Settled balances and tokens"),
        "{balances}"
    );
    wait_for_in(&browser, "#market", "Trades");
    assert_accessible(&browser, "neighbour after a trade");
    browser.screenshot(&shots.join("05-buyer-traded.png"));

    // An order that rests can be cancelled from the page.
    browser.type_into("#order-form input[name=price]", "0.1");
    browser.type_into("#order-form input[name=quantity]", "0.5");
    browser.click("#order-form button[type=submit]");
    wait_for_in(&browser, "#order-result", "now open");
    browser.click("#orders button.small");
    wait_for_in(&browser, "#order-result", "cancelled");
    wait_for_in(&browser, "#orders", "cancelled");

    // Bob sees the same trade from his side.
    sign_out(&browser);
    sign_in(&browser, &seller_key);
    let trades = wait_for_in(&browser, "#trades", "sold");
    assert!(trades.contains("0.250000/kWh"), "{trades}");
    wait_loaded(
        &browser,
        &["market", "orders", "trades", "balances", "devices"],
    );

    // Bob looks up his installation by its id.
    browser.type_into("#device-form input[name=device]", &device_id);
    browser.click("#device-form button[type=submit]");
    wait_for_in(&browser, "#devices", &device_id);
    wait_for_in(&browser, "#devices", "No readings received yet");
    wait_loaded(&browser, &["devices"]);
    assert_accessible(&browser, "seller with a device");
    browser.screenshot(&shots.join("06-seller-traded.png"));

    // The page listens on the stream: a trade made elsewhere (both orders over the API) shows
    // on Bob's page well before its slow poll (60 s, longer than any wait here) would.
    browser.wait_for(
        "the page on the stream",
        "return document.body.dataset.live === 'stream';",
        json!([]),
    );
    let later_slot = slots[9]["slot_start_ms"].as_i64().expect("an open slot");
    let order = |side: &str, client_order_id: i64| {
        json!({"client_order_id": client_order_id, "zone": "default", "slot_start_ms": later_slot,
               "side": side, "type": "limit", "price_micro_per_kwh": 260_000, "qty_wh": 500})
    };
    let (status, placed) = server.http(
        "POST",
        "/v1/orders",
        Some(&seller_key),
        Some(order("sell", 2)),
    );
    assert_eq!(status, 201, "{placed}");
    let (status, placed) = server.http("POST", "/v1/orders", Some(&key), Some(order("buy", 90)));
    assert_eq!(status, 201, "{placed}");
    let trades = wait_for_in(&browser, "#trades", "0.260000/kWh");
    assert!(trades.contains("0.500 kWh"), "{trades}");
}
