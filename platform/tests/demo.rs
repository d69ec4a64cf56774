//! `sunmesh demo` end to end, as the built binary: a small neighbourhood (7 households, two of
//! them dishonest) through a whole simulated day at 6000× real time, twice with the same seed.
//!
//! What is asserted is what the demo promises: readings accepted, orders traded, slots settled
//! with ledger transfers, the dishonest meters' readings refused for the reasons their lies
//! deserve, the report files written, and the same orders and trades for the same seed. Which
//! readings exist depends on real scheduling (how many polls fit in a real second), so reading
//! counts and delivered energy are not compared between runs.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs the demo in `dir` and returns its summary.json.
fn demo(dir: &Path, seed: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_sunmesh"))
        .args([
            "demo",
            "--households",
            "7",
            "--seed",
            seed,
            "--speed",
            "6000",
            "--poll-s",
            "300",
            "--listen",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("run sunmesh demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sunmesh demo failed: {}\n{stdout}\nlog: {}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(dir.join("demo.log"))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The terminal summary names the things the issue asks for.
    for needle in [
        "Readings",
        "Trading",
        "Settlement",
        "Log checkpoint",
        "Web page",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

fn u(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {v}"))
}

fn house<'a>(summary: &'a Value, conduct: &str) -> &'a Value {
    summary["houses"]
        .as_array()
        .expect("houses")
        .iter()
        .find(|h| h["conduct"] == conduct)
        .unwrap_or_else(|| panic!("no {conduct} household in {summary}"))
}

fn reason(house: &Value, key: &str) -> u64 {
    house["reasons"][key].as_u64().unwrap_or(0)
}

#[test]
fn a_small_neighbourhood_runs_a_day_and_the_same_seed_trades_the_same() {
    let root = tempfile::tempdir().unwrap();
    let first = demo(&root.path().join("a"), "3");

    assert!(u(&first, "/readings/accepted") > 100, "{first}");
    assert!(u(&first, "/verified_export_wh") > 0);
    assert!(u(&first, "/trading/trades") > 0, "{}", first["trading"]);
    assert_eq!(
        u(&first, "/trading/orders_placed"),
        u(&first, "/trading/orders_accepted"),
        "no order refused (orders go out 3 h before their slot): {}",
        first["trading"]
    );
    assert!(
        u(&first, "/settlement/slots") >= 1,
        "{}",
        first["settlement"]
    );
    assert!(
        u(&first, "/settlement/transfers") >= 1,
        "{}",
        first["settlement"]
    );
    assert!(first["checkpoint"]["size"].as_u64().unwrap_or(0) >= 1);

    // The inflating meter claims 2.5 × its production: above its nameplate around noon.
    let inflating = house(&first, "inflating");
    assert!(
        reason(inflating, "rejected:above_nameplate") > 0,
        "{inflating}"
    );
    // The night producer claims 1 kW in the dark.
    let night = house(&first, "night_producer");
    assert!(reason(night, "rejected:production_at_night") > 0, "{night}");
    // Honest roofs are dark at night. (Their readings are not asserted clean otherwise: on a
    // clock 6000× real time, a few real milliseconds of scheduling delay on a busy machine
    // shift a reading by simulated minutes, see docs/demo.md.)
    for h in first["houses"].as_array().unwrap() {
        if h["conduct"] == "honest" {
            assert_eq!(reason(h, "rejected:production_at_night"), 0, "{h}");
        }
    }

    for file in [
        "report_csv",
        "report_json",
        "chart_svg",
        "summary_json",
        "database",
    ] {
        let path = first["files"][file].as_str().unwrap();
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{file} at {path} is missing or empty");
    }
    let csv = std::fs::read_to_string(first["files"]["report_csv"].as_str().unwrap()).unwrap();
    assert!(
        csv.lines().count() >= 2,
        "a header and at least one slot:\n{csv}"
    );

    let second = demo(&root.path().join("b"), "3");
    for pointer in [
        "/trading/orders_placed",
        "/trading/orders_accepted",
        "/trading/trades",
        "/trading/traded_wh",
        "/trading/traded_value_micro",
    ] {
        assert_eq!(
            first.pointer(pointer),
            second.pointer(pointer),
            "{pointer} differs between two runs with seed 3"
        );
    }
    let devices = |s: &Value| -> Vec<Value> {
        s["houses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                serde_json::json!([h["device_id"], h["nameplate_w"], h["load_w"], h["conduct"]])
            })
            .collect()
    };
    assert_eq!(devices(&first), devices(&second));
}
