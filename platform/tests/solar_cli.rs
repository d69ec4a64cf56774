//! `sunmesh solar`: one JSON object from settlement::solar, and clear errors for bad input.

use std::process::Command;

fn sunmesh(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sunmesh"))
        .args(args)
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run sunmesh")
}

#[test]
fn prints_sun_position_and_clear_sky_as_one_json_object() {
    // pvlib-python 0.16.1 spa_python reference (settlement/tests/solar_positions.rs):
    // Sydney 1962-02-05T07:30:00Z.
    let out = sunmesh(&[
        "solar",
        "--lat",
        "-33.8688",
        "--lon",
        "151.2093",
        "--at",
        "1962-02-05T18:30:00+11:00",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let num = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {text}"))
    };
    assert!((num("elevation_deg") - 16.843852299).abs() < 1e-5, "{text}");
    assert!(
        (num("apparent_elevation_deg") - 16.898389368).abs() < 1e-5,
        "{text}"
    );
    assert!((num("azimuth_deg") - 261.698987170).abs() < 1e-5, "{text}");
    let ghi = num("clear_sky_ghi_wm2");
    assert_eq!(
        ghi,
        settlement::solar::clear_sky_ghi_wm2(-33.8688, 151.2093, -249409800000)
    );
    assert!(ghi > 100.0 && ghi < 700.0, "{ghi}");
    assert_eq!(v.as_object().unwrap().len(), 4);
}

#[test]
fn night_has_no_clear_sky_irradiance() {
    let out = sunmesh(&[
        "solar",
        "--lat",
        "52.52",
        "--lon",
        "13.405",
        "--at",
        "2026-06-21T00:00:00Z",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["elevation_deg"].as_f64().unwrap() < 0.0);
    assert_eq!(v["clear_sky_ghi_wm2"].as_f64(), Some(0.0));
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    for (args, needle) in [
        (
            ["--lat", "91", "--lon", "0", "--at", "2026-06-21T00:00:00Z"],
            "outside -90..=90",
        ),
        (
            [
                "--lat",
                "0",
                "--lon",
                "-180.5",
                "--at",
                "2026-06-21T00:00:00Z",
            ],
            "outside -180..=180",
        ),
        (
            [
                "--lat",
                "north",
                "--lon",
                "0",
                "--at",
                "2026-06-21T00:00:00Z",
            ],
            "not a number",
        ),
        (
            ["--lat", "NaN", "--lon", "0", "--at", "2026-06-21T00:00:00Z"],
            "outside",
        ),
        (
            ["--lat", "0", "--lon", "0", "--at", "2026-06-21 12:00"],
            "RFC 3339",
        ),
        (
            ["--lat", "0", "--lon", "0", "--at", "2026-06-21T12:00:00"],
            "RFC 3339",
        ),
    ] {
        let mut all = vec!["solar"];
        all.extend(args);
        let out = sunmesh(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
