//! Opening the database: migrations (once, also when several processes start together),
//! schema.rs against what the migrations built, the SQLite connection settings, the tables'
//! own constraints, and clear errors for databases that cannot be opened.

mod common;

use std::collections::BTreeSet;

use common::{new_device, on_each_backend, public_key, race, TestDb, T0};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use platform::store::{AnyConnection, Backend, Store};
use platform::PlatformError;

fn reopening_keeps_data_and_migrates_once(db: &TestDb) {
    let id = {
        let store = db.store();
        store
            .register_device_creating_owner(&new_device(1, "local"), T0)
            .unwrap()
            .id
    };
    // Opening again runs no migration twice (it would fail on CREATE TABLE) and sees the data.
    let store = db.store();
    let also = db.store();
    assert_eq!(store.devices().unwrap().len(), 1);
    assert_eq!(also.device(&id).unwrap().map(|d| d.id), Some(id));
}

fn concurrent_first_opens_migrate_once(db: &TestDb) {
    let url = db.url().to_owned();
    let outcomes = race(8, move |_| Store::open(&url).map(|_| ()));
    for outcome in &outcomes {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert!(db.store().devices().unwrap().is_empty());
}

/// Rows that bypass the typed API are still refused by the tables' own constraints (and
/// SQLite enforces the foreign key, so the pragma is on).
fn constraints_back_up_the_types(db: &TestDb) {
    let store = db.store();
    let device = store
        .register_device_creating_owner(&new_device(1, "local"), T0)
        .unwrap();
    let mut conn = store.connection().unwrap();
    let key = public_key(2);
    let insert = |owner_id: &str, nameplate: &str, lat: &str, status: &str, revoked_at: &str| {
        format!(
            "INSERT INTO devices (id, public_key, owner_id, nameplate_w, latitude_micro, \
             longitude_micro, zone, status, registered_at_ms, revoked_at_ms) VALUES \
             ('{}', '{}', {owner_id}, {nameplate}, {lat}, 0, 'default', '{status}', 0, {revoked_at})",
            key.device_id(),
            key.to_hex()
        )
    };
    let owner = device.owner_id.to_string();
    let cases = [
        (
            "unknown owner",
            insert("999999", "1", "0", "active", "NULL"),
        ),
        (
            "negative nameplate",
            insert(&owner, "-5", "0", "active", "NULL"),
        ),
        ("zero nameplate", insert(&owner, "0", "0", "active", "NULL")),
        (
            "latitude out of range",
            insert(&owner, "1", "90000001", "active", "NULL"),
        ),
        (
            "unknown status",
            insert(&owner, "1", "0", "retired", "NULL"),
        ),
        (
            "revoked without a time",
            insert(&owner, "1", "0", "revoked", "NULL"),
        ),
        (
            "active with a revocation time",
            insert(&owner, "1", "0", "active", "5"),
        ),
    ];
    for (what, sql) in &cases {
        assert!(
            conn.batch_execute(sql).is_err(),
            "{what} was accepted by {:?}",
            db.backend()
        );
    }
    let err = conn
        .batch_execute("INSERT INTO accounts (name, role, created_at_ms) VALUES ('x', 'root', 0)")
        .unwrap_err();
    assert!(!err.to_string().is_empty());
    // The statements above were valid apart from the violated rule: this one goes in.
    conn.batch_execute(&insert(&owner, "1", "0", "active", "NULL"))
        .unwrap();
    drop(conn);
    assert_eq!(store.devices().unwrap().len(), 2);
}

/// A row edited by hand so that its id no longer matches its key is reported, not served.
fn hand_edited_rows_are_reported(db: &TestDb) {
    let store = db.store();
    let device = store
        .register_device_creating_owner(&new_device(1, "local"), T0)
        .unwrap();
    store
        .connection()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE devices SET public_key = '{}' WHERE id = '{}'",
            public_key(2).to_hex(),
            device.id
        ))
        .unwrap();
    let err = store.device(&device.id).unwrap_err();
    assert!(
        matches!(
            err,
            PlatformError::CorruptRow {
                table: "devices",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("not derived from the public key"),
        "{err}"
    );
    assert!(store.devices().is_err());
}

// ---- schema.rs against the migrated database -------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct ColumnInfo {
    name: String,
    sql_type: String,
    nullable: bool,
}

/// Columns of a schema.rs table: names from the SQL diesel generates for `all_columns`, types
/// from the Rust type of that tuple, so nothing here is listed by hand.
macro_rules! schema_columns {
    ($table:ident) => {{
        use platform::store::schema::$table;
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(
            &$table::table.select($table::all_columns),
        )
        .to_string();
        let types = std::any::type_name::<
            <<$table::table as diesel::Table>::AllColumns as diesel::Expression>::SqlType,
        >();
        (stringify!($table), columns_from(&sql, types))
    }};
}

fn columns_from(select_sql: &str, tuple_type: &str) -> Vec<ColumnInfo> {
    let list = select_sql
        .strip_prefix("SELECT ")
        .and_then(|s| s.split(" FROM ").next())
        .unwrap_or_else(|| panic!("unexpected SQL {select_sql}"));
    let names = list.split(", ").map(|c| {
        c.rsplit('.')
            .next()
            .unwrap()
            .trim_matches(['`', '"'])
            .to_owned()
    });
    let types = tuple_type
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(", ")
        .map(|t| t.trim_end_matches(',').replace("diesel::sql_types::", ""))
        .filter(|t| !t.is_empty());
    let columns: Vec<_> = names
        .zip(types)
        .map(|(name, ty)| {
            match ty
                .strip_prefix("Nullable<")
                .and_then(|t| t.strip_suffix('>'))
            {
                Some(inner) => ColumnInfo {
                    name,
                    sql_type: inner.to_owned(),
                    nullable: true,
                },
                None => ColumnInfo {
                    name,
                    sql_type: ty,
                    nullable: false,
                },
            }
        })
        .collect();
    assert_eq!(
        columns.len(),
        list.split(", ").count(),
        "parsed {tuple_type}"
    );
    columns
}

#[derive(QueryableByName)]
struct DbColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sql_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

#[derive(QueryableByName)]
struct DbTable {
    #[diesel(sql_type = Text)]
    name: String,
}

fn database_tables(conn: &mut AnyConnection) -> BTreeSet<String> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        AnyConnection::Postgresql(_) => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    diesel::sql_query(sql)
        .load::<DbTable>(conn)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .filter(|name| name != "__diesel_schema_migrations")
        .collect()
}

fn database_columns(conn: &mut AnyConnection, table: &str) -> Vec<ColumnInfo> {
    let rows = match conn {
        // An INTEGER PRIMARY KEY is the rowid: never NULL even though not declared NOT NULL.
        AnyConnection::Sqlite(_) => diesel::sql_query(
            "SELECT name, type AS sql_type, (\"notnull\" = 0 AND pk = 0) AS nullable \
             FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(table)
        .load::<DbColumn>(conn),
        AnyConnection::Postgresql(_) => diesel::sql_query(
            "SELECT column_name::text AS name, data_type::text AS sql_type, \
             (is_nullable = 'YES')::int AS nullable FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<DbColumn>(conn),
    };
    rows.unwrap()
        .into_iter()
        .map(|c| ColumnInfo {
            name: c.name,
            sql_type: c.sql_type,
            nullable: c.nullable != 0,
        })
        .collect()
}

/// Whether a column declared `db_type` in the migration reads and writes as diesel's
/// `schema_type`. PostgreSQL must match exactly; SQLite's INTEGER is 64-bit, so it serves both
/// `Integer` and `BigInt` (the PostgreSQL side decides which).
fn compatible(backend: Backend, db_type: &str, schema_type: &str) -> bool {
    let expected: &[&str] = match (backend, db_type) {
        (Backend::Postgres, "bigint") => &["BigInt"],
        (Backend::Postgres, "integer") => &["Integer"],
        (Backend::Postgres, "smallint") => &["SmallInt"],
        (Backend::Postgres, "text") => &["Text"],
        (Backend::Postgres, "boolean") => &["Bool"],
        (Backend::Postgres, "bytea") => &["Binary"],
        (Backend::Sqlite, "INTEGER") => &["BigInt", "Integer", "SmallInt", "Bool"],
        (Backend::Sqlite, "TEXT") => &["Text"],
        (Backend::Sqlite, "BLOB") => &["Binary"],
        _ => &[],
    };
    expected.contains(&schema_type)
}

fn schema_matches_migrations(db: &TestDb) {
    let store = db.store();
    let mut conn = store.connection().unwrap();
    // Every table of schema.rs; a table added to the migrations must be added here too.
    let schema = [
        schema_columns!(accounts),
        schema_columns!(devices),
        schema_columns!(settlement_trades),
        schema_columns!(slot_energy),
        schema_columns!(ledger_transfers),
        schema_columns!(ledger_balances),
        schema_columns!(settlement_runs),
        schema_columns!(mints),
        schema_columns!(log_leaves),
        schema_columns!(log_checkpoints),
        schema_columns!(report_rows),
        schema_columns!(emission_factors),
        schema_columns!(reward_epochs),
        schema_columns!(api_keys),
        schema_columns!(readings),
        schema_columns!(reading_energy),
        schema_columns!(rejected_readings),
        schema_columns!(device_heads),
        schema_columns!(reading_gaps),
        schema_columns!(verified_energy),
        schema_columns!(trading_journal),
        schema_columns!(trading_snapshots),
        schema_columns!(trading_orders),
        schema_columns!(trading_trades),
        schema_columns!(trading_balances),
    ];
    let schema_tables: BTreeSet<String> = schema.iter().map(|(t, _)| (*t).to_owned()).collect();
    assert_eq!(
        database_tables(&mut conn),
        schema_tables,
        "tables in the {:?} migrations differ from schema.rs (or from this test's list)",
        db.backend()
    );
    for (table, expected) in &schema {
        let actual = database_columns(&mut conn, table);
        let names = |cols: &[ColumnInfo]| cols.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&actual),
            names(expected),
            "{table} columns on {:?}",
            db.backend()
        );
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                compatible(db.backend(), &a.sql_type, &e.sql_type),
                "{table}.{}: migration type {} on {:?} but schema.rs says {}",
                a.name,
                a.sql_type,
                db.backend(),
                e.sql_type
            );
            assert_eq!(
                a.nullable,
                e.nullable,
                "{table}.{} nullability on {:?}",
                a.name,
                db.backend()
            );
        }
    }
}

on_each_backend!(
    reopening_keeps_data_and_migrates_once,
    concurrent_first_opens_migrate_once,
    constraints_back_up_the_types,
    hand_edited_rows_are_reported,
    schema_matches_migrations,
);

// ---- backend-specific ----------------------------------------------------------------------

#[derive(QueryableByName, Debug, PartialEq)]
struct Pragmas {
    #[diesel(sql_type = Text)]
    journal_mode: String,
    #[diesel(sql_type = Integer)]
    synchronous: i32,
    #[diesel(sql_type = Integer)]
    foreign_keys: i32,
    #[diesel(sql_type = BigInt)]
    busy_timeout: i64,
}

#[test]
fn every_sqlite_connection_is_wal_full_sync_with_foreign_keys() {
    let db = TestDb::sqlite();
    let store = db.store();
    // Held at once, so they are distinct pooled connections.
    let mut held: Vec<_> = (0..3).map(|_| store.connection().unwrap()).collect();
    for conn in &mut held {
        let pragmas = diesel::sql_query(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
             (SELECT synchronous FROM pragma_synchronous) AS synchronous, \
             (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, \
             (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout",
        )
        .get_result::<Pragmas>(&mut **conn)
        .unwrap();
        // synchronous: 2 = FULL.
        assert_eq!(
            pragmas,
            Pragmas {
                journal_mode: "wal".into(),
                synchronous: 2,
                foreign_keys: 1,
                busy_timeout: 15_000
            }
        );
    }
    assert_eq!(store.backend(), Backend::Sqlite);
}

#[test]
fn sqlite_file_in_a_missing_directory_fails_clearly() {
    let db = TestDb::sqlite();
    let path = db.work_dir().join("no-such-dir").join("x.db");
    let err = Store::open(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, PlatformError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn unreachable_postgres_fails_fast_and_hides_the_password() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let err = Store::open("postgres://sunmesh:hunter2@127.0.0.1:1/none").unwrap_err();
    assert!(matches!(err, PlatformError::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://sunmesh:***@127.0.0.1:1/none"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn in_memory_sqlite_is_refused() {
    let err = Store::open(":memory:").unwrap_err();
    assert!(
        matches!(err, PlatformError::UnsupportedDatabase { .. }),
        "{err}"
    );
}
