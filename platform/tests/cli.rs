//! The `sunmesh device` commands, run as the built binary against a fresh database of each
//! backend.

mod common;

use std::process::Command;

use common::{on_each_backend, public_key, TestDb};
use serde_json::Value;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut command: Command, args: &[&str]) -> Outcome {
    let output = command.args(args).output().expect("run sunmesh");
    Outcome {
        code: output
            .status
            .code()
            .expect("sunmesh exited normally, not by a signal"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = run(db.sunmesh(), args);
    assert_eq!(
        out.code,
        0,
        "sunmesh {args:?} failed on {:?}: {}",
        db.backend(),
        out.stderr
    );
    out.stdout
}

fn list_json(db: &TestDb) -> Vec<Value> {
    let text = ok(db, &["device", "list", "--json"]);
    match serde_json::from_str(&text) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("device list --json printed {text:?}: {other:?}"),
    }
}

fn add_args(key: &str) -> Vec<&str> {
    vec![
        "device",
        "add",
        "--pubkey",
        key,
        "--nameplate-w",
        "4600",
        "--lat",
        "52.5201",
        "--lon",
        "13.4049",
    ]
}

fn add_list_revoke_round_trip(db: &TestDb) {
    let key = public_key(1).to_hex();
    let id = public_key(1).device_id().to_hex();

    let added = ok(db, &add_args(&key));
    assert!(
        added.starts_with(&format!("registered device {id} ")),
        "{added}"
    );

    let table = ok(db, &["device", "list"]);
    let line = table
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains(" active "), "{line}");
    assert!(
        line.contains("52.520100") && line.contains("13.404900"),
        "{line}"
    );

    let rows = list_json(db);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["public_key"], key.as_str());
    assert_eq!(row["nameplate_w"], 4600);
    assert_eq!(row["latitude_micro"], 52_520_100);
    assert_eq!(row["longitude_micro"], 13_404_900);
    assert_eq!(row["status"], "active");
    assert_eq!(row["revoked_at_ms"], Value::Null);

    let revoked = ok(db, &["device", "revoke", &id]);
    assert!(
        revoked.starts_with(&format!("revoked device {id}")),
        "{revoked}"
    );
    let rows = list_json(db);
    assert_eq!(rows[0]["status"], "revoked");
    assert!(
        rows[0]["revoked_at_ms"].as_i64().unwrap() >= rows[0]["registered_at_ms"].as_i64().unwrap()
    );
    let table = ok(db, &["device", "list"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id) && l.contains(" revoked ")),
        "{table}"
    );
}

fn owner_and_zone_default_and_can_be_given(db: &TestDb) {
    ok(db, &add_args(&public_key(1).to_hex()));
    let key2 = public_key(2).to_hex();
    let mut args = vec![
        "device",
        "add",
        "--pubkey",
        &key2,
        "--nameplate-w",
        "800",
        "--lat",
        "-33.86882",
    ];
    args.extend([
        "--lon",
        "-0.1278",
        "--owner",
        "Alice Müller",
        "--zone",
        "GB-LON",
    ]);
    ok(db, &args);

    let rows = list_json(db);
    assert_eq!(
        (rows[0]["owner"].as_str(), rows[0]["zone"].as_str()),
        (Some("local"), Some("default"))
    );
    assert_eq!(
        (rows[1]["owner"].as_str(), rows[1]["zone"].as_str()),
        (Some("Alice Müller"), Some("GB-LON"))
    );
    assert_eq!(rows[1]["latitude_micro"], -33_868_820);
    assert_eq!(rows[1]["longitude_micro"], -127_800);
    let accounts = db.store().accounts().unwrap();
    let names: Vec<_> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["local", "Alice Müller"]);
}

/// Each bad value is refused by argument parsing (exit status 2) with a message naming the
/// flag and what is accepted, before the database is opened: nothing is created.
fn bad_input_is_refused_and_changes_nothing(db: &TestDb) {
    let good_key = public_key(1).to_hex();
    let short_key = good_key[..63].to_owned();
    let long_key = format!("{good_key}00");
    let cases: [(&str, &str, &str, &str); 13] = [
        ("--pubkey", "zz", "--pubkey", "64 hex characters"),
        ("--pubkey", &short_key, "--pubkey", "64 hex characters"),
        ("--pubkey", &long_key, "--pubkey", "64 hex characters"),
        (
            "--pubkey",
            &"g".repeat(64),
            "--pubkey",
            "not valid hexadecimal",
        ),
        ("--nameplate-w", "-5", "--nameplate-w", "cannot be negative"),
        ("--nameplate-w", "0", "--nameplate-w", "at least 1 W"),
        (
            "--nameplate-w",
            "4.6",
            "--nameplate-w",
            "whole number of watts",
        ),
        ("--lat", "91", "--lat", "between -90 and 90"),
        ("--lat", "-90.5", "--lat", "between -90 and 90"),
        ("--lat", "north", "--lat", "decimal degrees"),
        ("--lon", "181", "--lon", "between -180 and 180"),
        ("--lon", "-180.000001", "--lon", "between -180 and 180"),
        ("--zone", "two words", "--zone", "only ASCII letters"),
    ];
    for (flag, value, named, reason) in cases {
        let mut args = add_args(&good_key);
        match args.iter().position(|a| *a == flag) {
            Some(i) => args[i + 1] = value,
            None => args.extend([flag, value]),
        }
        let out = run(db.sunmesh(), &args);
        assert_eq!(
            out.code, 2,
            "{flag} {value:?} was not refused: {}{}",
            out.stdout, out.stderr
        );
        assert!(
            out.stderr.contains(named) && out.stderr.contains(reason),
            "{flag} {value:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = run(
        db.sunmesh(),
        &[
            "device",
            "add",
            "--pubkey",
            &good_key,
            "--owner",
            "",
            "--nameplate-w",
            "1",
            "--lat",
            "0",
            "--lon",
            "0",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("must not be empty"), "{}", out.stderr);
    let out = run(
        db.sunmesh(),
        &[
            "device",
            "add",
            "--nameplate-w",
            "1",
            "--lat",
            "0",
            "--lon",
            "0",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--pubkey"), "{}", out.stderr);

    if let Some(path) = db.sqlite_path() {
        assert!(
            !path.exists(),
            "refused input must not even create the database file"
        );
    }
    assert!(list_json(db).is_empty());
    assert!(
        db.store().accounts().unwrap().is_empty(),
        "no owner account may be created"
    );
}

fn duplicate_add_is_refused_and_changes_nothing(db: &TestDb) {
    let key = public_key(1).to_hex();
    ok(db, &add_args(&key));
    let before = ok(db, &["device", "list", "--json"]);

    let mut again = add_args(&key);
    again.extend(["--owner", "bob"]);
    let out = run(db.sunmesh(), &again);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("already registered"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&public_key(1).device_id().to_hex()),
        "{}",
        out.stderr
    );
    assert_eq!(ok(db, &["device", "list", "--json"]), before);
    assert_eq!(db.store().account(&"bob".parse().unwrap()).unwrap(), None);
}

fn revoke_refuses_twice_unknown_and_malformed_ids(db: &TestDb) {
    let id = public_key(1).device_id().to_hex();
    ok(db, &add_args(&public_key(1).to_hex()));
    ok(db, &["device", "revoke", &id]);
    let before = ok(db, &["device", "list", "--json"]);

    let out = run(db.sunmesh(), &["device", "revoke", &id]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("already revoked") && out.stderr.contains("nothing changed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        ok(db, &["device", "list", "--json"]),
        before,
        "revoked_at must not move"
    );

    let unknown = public_key(2).device_id().to_hex();
    let out = run(db.sunmesh(), &["device", "revoke", &unknown]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("no device {unknown} is registered")),
        "{}",
        out.stderr
    );

    // A public key where an id is expected, and plain junk.
    for bad in [public_key(1).to_hex().as_str(), "xyz"] {
        let out = run(db.sunmesh(), &["device", "revoke", bad]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("invalid device id"), "{}", out.stderr);
    }
    assert_eq!(ok(db, &["device", "list", "--json"]), before);
}

fn empty_registry_lists_nothing(db: &TestDb) {
    assert_eq!(ok(db, &["device", "list"]).trim(), "no devices registered");
    assert_eq!(ok(db, &["device", "list", "--json"]).trim(), "[]");
}

on_each_backend!(
    add_list_revoke_round_trip,
    owner_and_zone_default_and_can_be_given,
    bad_input_is_refused_and_changes_nothing,
    duplicate_add_is_refused_and_changes_nothing,
    revoke_refuses_twice_unknown_and_malformed_ids,
    empty_registry_lists_nothing,
);

// ---- choosing the database -----------------------------------------------------------------

#[test]
fn default_database_is_sunmesh_db_in_the_working_directory() {
    let db = TestDb::sqlite();
    let mut command = db.sunmesh();
    command.env_remove("DATABASE_URL");
    let out = run(command, &add_args(&public_key(1).to_hex()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(db.work_dir().join("sunmesh.db").is_file());
    assert!(
        !db.sqlite_path().unwrap().exists(),
        "DATABASE_URL was removed, so it is not used"
    );
}

#[test]
fn database_flag_overrides_database_url_anywhere_on_the_line() {
    let db = TestDb::sqlite();
    let flag_db = db.work_dir().join("flag.db");
    let flag_db = flag_db.to_str().unwrap();
    let key = public_key(1).to_hex();
    let mut args = vec!["--database", flag_db];
    args.extend(add_args(&key));
    assert_eq!(run(db.sunmesh(), &args).code, 0);
    // Global flag: also accepted after the subcommand.
    let out = run(
        db.sunmesh(),
        &["device", "list", "--json", "--database", flag_db],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&public_key(1).device_id().to_hex()),
        "{}",
        out.stdout
    );
    assert!(
        !db.sqlite_path().unwrap().exists(),
        "DATABASE_URL's file must not be touched"
    );
    assert!(list_json(&db).is_empty());
}

#[test]
fn unreachable_postgres_is_reported_without_the_password() {
    let db = TestDb::sqlite();
    let out = run(
        db.sunmesh(),
        &[
            "--database",
            "postgres://sunmesh:hunter2@127.0.0.1:1/none",
            "device",
            "list",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot open database postgres://sunmesh:***@127.0.0.1:1/none"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(
        std::fs::read_dir(db.work_dir()).unwrap().next().is_none(),
        "no file may be created"
    );
}

#[test]
fn help_names_the_registry_commands_and_flags() {
    let db = TestDb::sqlite();
    let out = run(db.sunmesh(), &["device", "add", "--help"]);
    assert_eq!(out.code, 0);
    for flag in [
        "--pubkey",
        "--nameplate-w",
        "--lat",
        "--lon",
        "--owner",
        "--zone",
        "--database",
    ] {
        assert!(
            out.stdout.contains(flag),
            "{flag} missing from:\n{}",
            out.stdout
        );
    }
    let out = run(db.sunmesh(), &["device", "--help"]);
    for command in ["add", "list", "revoke"] {
        assert!(
            out.stdout.contains(command),
            "{command} missing from:\n{}",
            out.stdout
        );
    }
}
