//! A minimal W3C WebDriver client over `std::net::TcpStream`, enough to drive headless
//! Chromium through chromedriver: navigate, find, click, type, run a script, screenshot.
//!
//! [`Browser::start`] returns `Ok(None)` when Chromium or chromedriver is not installed, so a
//! developer without them sees the browser tests skip; CI sets `SUNMESH_REQUIRE_BROWSER=1`,
//! which turns that into a failure.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Set to 1 (CI does) to fail instead of skipping when no browser is installed.
pub const REQUIRE_ENV: &str = "SUNMESH_REQUIRE_BROWSER";
/// Bound on any single wait for the page to reach a state.
pub const WAIT: Duration = Duration::from_secs(30);

/// What a test does when the browser is missing: skip (print why) unless it is required.
pub fn missing_browser(test: &str, why: &str) {
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{test}: {why}, and {REQUIRE_ENV}=1 requires the browser tests to run; \
             install them with scripts/install-browser-deps"
        );
    }
    println!("skipping {test}: {why} (scripts/install-browser-deps installs them)");
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env).map(PathBuf::from) {
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One headless Chromium session with its own chromedriver and a fresh profile.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium session. `None` (after saying so) when
    /// either program is not installed and the browser is not required; panics when it is
    /// installed but does not start.
    pub fn start(test: &str) -> Option<Browser> {
        let Some(chromium) = find_program(
            "SUNMESH_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        ) else {
            missing_browser(test, "chromium is not installed");
            return None;
        };
        let Some(chromedriver) = find_program("SUNMESH_CHROMEDRIVER", &["chromedriver"]) else {
            missing_browser(test, "chromedriver is not installed");
            return None;
        };
        match Self::launch(&chromium, &chromedriver) {
            Ok(browser) => Some(browser),
            Err(e) => panic!("{test}: headless Chromium did not start: {e}"),
        }
    }

    fn launch(chromium: &Path, chromedriver: &Path) -> Result<Browser, String> {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + WAIT;
        while browser.call("GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-quic",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}})),
        )?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no sessionId in {created}"))?
            .to_owned();
        Ok(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let (head, payload) = read_response(&mut stream)?;
        let value: Value = serde_json::from_str(&payload)
            .map_err(|e| format!("WebDriver answered non-JSON ({e}): {payload}"))?;
        if head.starts_with("HTTP/1.1 200") {
            Ok(value["value"].clone())
        } else {
            Err(format!("{method} {path}: {}", value["value"]))
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn find(&self, css: &str) -> Element {
        let found = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        Element(found[ELEMENT].as_str().expect("an element id").to_owned())
    }

    /// Clicks the element `css` finds. The page replaces a list when the stream says it changed,
    /// and an element found just before that is gone ("stale element reference"): it is found
    /// again, a few times at most.
    pub fn click(&self, css: &str) {
        let mut attempts = 0;
        loop {
            let Element(id) = self.find(css);
            let path = format!("/session/{}/element/{id}/click", self.session);
            match self.call("POST", &path, Some(json!({}))) {
                Ok(_) => return,
                Err(e) if e.contains("stale element reference") && attempts < 5 => attempts += 1,
                Err(e) => panic!("WebDriver: {e}"),
            }
        }
    }

    /// Replaces the element's text with `text`, typed (focusing it first, as a user would).
    pub fn type_into(&self, css: &str, text: &str) {
        let Element(id) = self.find(css);
        self.session_call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Presses keys on whatever has focus (`\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Runs `body` as a function in the page with `args`; returns its result.
    pub fn script(&self, body: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": body, "args": args})),
        )
    }

    /// The text of the first element matching `css`, or "" when there is none.
    pub fn text(&self, css: &str) -> String {
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// Waits until `condition` (a script body returning truthy) holds; panics after [`WAIT`]
    /// with `what` and the page's visible text.
    pub fn wait_for(&self, what: &str, condition: &str, args: Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.script(condition, args.clone());
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return;
            }
            if Instant::now() > deadline {
                let page = self.text("body");
                panic!("timed out waiting for {what}; the page shows:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's text contains `needle`.
    pub fn wait_for_text(&self, needle: &str) {
        self.wait_for(
            &format!("the text {needle:?}"),
            "return document.body.innerText.includes(arguments[0]);",
            json!([needle]),
        );
    }

    /// Saves a PNG of the viewport (full page height) to `path` and prints the path.
    pub fn screenshot(&self, path: &Path) {
        self.script("window.scrollTo(0, 0);", json!([]));
        let height = self
            .script("return document.documentElement.scrollHeight;", json!([]))
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 6000);
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({"width": 1280, "height": height + 120})),
        );
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or(""))
            .expect("a base64 PNG");
        std::fs::write(path, png).expect("write the screenshot");
        println!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Reads one HTTP/1.1 response: chromedriver keeps the connection open whatever the request
/// says, so the body is read by its Content-Length (or chunk sizes), not to end of stream.
fn read_response(stream: &mut TcpStream) -> Result<(String, String), String> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            Ok(_) => return Err("WebDriver closed the connection mid-header".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let mut body = Vec::new();
    if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("bad Content-Length {length}"))?;
        body.resize(length, 0);
        stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
                line.push(byte[0]);
            }
            let size = String::from_utf8_lossy(&line);
            let n = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| format!("bad chunk size {size}"))?;
            let mut chunk = vec![0; n + 2];
            stream.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        stream.read_to_end(&mut body).map_err(|e| e.to_string())?;
    }
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}

/// Where screenshots go: `<target dir>/e2e-artifacts/`, created on first use.
pub fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("create the e2e artefacts directory");
    dir
}
