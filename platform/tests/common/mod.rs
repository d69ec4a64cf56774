//! Fresh databases for integration tests.
//!
//! Every test gets its own database: a SQLite file in a new temporary directory, or a new
//! PostgreSQL schema in the database named by `TEST_DATABASE_URL` (the URL is given
//! `options=-csearch_path=<schema>`, so every connection of every pool, and the `sunmesh`
//! binary, work inside that schema only). Both are removed when the [`TestDb`] is dropped, also
//! when the test fails.
//!
//! Write a scenario once as `fn name(db: &TestDb)` and run it on both backends with
//! `on_each_backend!(name, ...)`, which makes the tests `name::sqlite` and `name::postgres`;
//! the PostgreSQL one prints a line and passes when `TEST_DATABASE_URL` is unset.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use platform::registry::{Location, NameplateW, NewDevice};
use platform::store::{Backend, Store};
use reading::{PublicKey, SigningKey};

/// The variable naming the PostgreSQL database the tests may create schemas in.
pub const POSTGRES_URL_ENV: &str = "TEST_DATABASE_URL";

/// One test's private database; dropped, it deletes itself.
pub struct TestDb {
    backend: Backend,
    url: String,
    /// The directory commands run in: the SQLite file's directory, or a scratch directory, so
    /// that a default `sunmesh.db` never lands in the source tree.
    work_dir: tempfile::TempDir,
    postgres: Option<PostgresSchema>,
}

struct PostgresSchema {
    admin_url: String,
    schema: String,
}

impl TestDb {
    /// A new, empty SQLite database file (created by the first `Store::open`).
    pub fn sqlite() -> TestDb {
        let work_dir = tempfile::tempdir().expect("create a temporary directory");
        let url = work_dir
            .path()
            .join("sunmesh-test.db")
            .to_str()
            .expect("temporary paths are UTF-8 here")
            .to_owned();
        TestDb {
            backend: Backend::Sqlite,
            url,
            work_dir,
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL schema, or `None` (after printing why) when
    /// `TEST_DATABASE_URL` is not set. `test` names the caller in that line.
    pub fn postgres(test: &str) -> Option<TestDb> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_ENV)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            println!("skipping {test} on PostgreSQL: {POSTGRES_URL_ENV} is not set");
            return None;
        };
        let schema = unique_schema_name();
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!("{POSTGRES_URL_ENV} is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .unwrap_or_else(|e| panic!("create schema {schema}: {e}"));
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
        Some(TestDb {
            backend: Backend::Postgres,
            url,
            work_dir: tempfile::tempdir().expect("create a temporary directory"),
            postgres: Some(PostgresSchema { admin_url, schema }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What `--database` / `DATABASE_URL` should be for this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file, for tests that look at it directly.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite).then(|| PathBuf::from(&self.url))
    }

    /// A scratch directory that lives as long as this database.
    pub fn work_dir(&self) -> &Path {
        self.work_dir.path()
    }

    /// Opens (and on first use migrates) the database.
    pub fn store(&self) -> Store {
        Store::open(&self.url)
            .unwrap_or_else(|e| panic!("open the {:?} test database: {e}", self.backend))
    }

    /// The built `sunmesh` binary, pointed at this database through `DATABASE_URL` and run in
    /// [`TestDb::work_dir`].
    pub fn sunmesh(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sunmesh"));
        command
            .env("DATABASE_URL", &self.url)
            .env_remove("RUST_LOG")
            .current_dir(self.work_dir.path());
        command
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            // Never panic here: this may run while a failed test unwinds.
            let dropped = PgConnection::establish(&pg.admin_url)
                .map_err(|e| e.to_string())
                .and_then(|mut admin| {
                    admin
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", pg.schema))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                eprintln!("warning: could not drop test schema {}: {e}", pg.schema);
            }
        }
    }
}

/// Unique among concurrent test processes (pid) and within one (counter); the clock keeps a
/// schema left behind by a killed run from colliding with a later run that reuses the pid.
fn unique_schema_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("sunmesh_test_{}_{n}_{nanos}", std::process::id())
}

/// A fixed point in time for tests (UTC ms, 2026-05-28).
pub const T0: i64 = 1_780_000_000_000;

/// A real Ed25519 public key, the same for the same `seed`.
pub fn public_key(seed: u8) -> PublicKey {
    SigningKey::from_seed(&[seed; 32])
        .expect("a 32-byte seed is a valid Ed25519 seed")
        .public_key()
}

/// A valid registration of the device with key `public_key(seed)`, owned by `owner`.
pub fn new_device(seed: u8, owner: &str) -> NewDevice {
    NewDevice {
        public_key: public_key(seed),
        owner: owner.parse().expect("a valid account name"),
        nameplate: NameplateW::new(4_600).expect("a valid nameplate"),
        location: Location {
            latitude: "52.520008".parse().expect("a valid latitude"),
            longitude: "-0.127758".parse().expect("a valid longitude"),
        },
        zone: "DE-BER-1".parse().expect("a valid zone"),
    }
}

/// Runs `f(thread index)` on `n` threads released together, returning the results in order.
pub fn race<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("worker thread panicked"))
        .collect()
}

/// Defines `$name::sqlite` and `$name::postgres` tests that each call `fn $name(&TestDb)` on a
/// fresh database of that backend.
#[allow(unused_macros)]
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&crate::common::TestDb::sqlite());
            }

            #[test]
            fn postgres() {
                if let Some(db) = crate::common::TestDb::postgres(stringify!($name)) {
                    super::$name(&db);
                }
            }
        }
    )+};
}
#[allow(unused_imports)]
pub(crate) use on_each_backend;
