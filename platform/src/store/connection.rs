//! Connections: one enum over SQLite and PostgreSQL, pooled with r2d2, and the embedded
//! migrations that run before the pool hands out its first connection.

use std::fmt;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::Error as DieselError;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{PlatformError, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// How long a SQLite connection waits for another's lock (busy_timeout) before failing;
/// generous: a loaded 2-core box running migrations for several openers needs it.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(15);

/// Set on every SQLite connection after journal_mode (see [`apply_sqlite_settings`]):
/// synchronous=FULL makes a commit durable once it returns (WAL alone would trade that for
/// speed); foreign keys are off in SQLite unless asked for; no connection checkpoints the WAL
/// inside its own COMMIT: the store's checkpoint thread does (`checkpoint.rs`), and SQLite
/// checkpoints when the last connection closes. temp_store=MEMORY keeps statement journals
/// (every multi-row INSERT inside a transaction writes one, to undo itself on a constraint
/// error) and sort spills out of temp files: settling a day (`settle_day_store`) went from
/// 8.4–9.6 s (5 runs) to 7.6–8.2 s (6 runs). They hold nothing that must survive a crash.
const SQLITE_PRAGMAS: &str = "PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA wal_autocheckpoint = 0;
PRAGMA temp_store = MEMORY;";

/// Serialises migration runs of several platform instances starting against one PostgreSQL
/// database. Arbitrary but fixed: "sunmesh" in ASCII.
const POSTGRES_MIGRATION_LOCK: i64 = 0x73_75_6e_6d_65_73_68;

/// A connection to either backend; queries written once against it run on both.
///
/// Establish it through [`DatabaseTarget`], never `AnyConnection::establish`: the derived
/// `establish` falls back to SQLite for any string, so a PostgreSQL URL whose server is down
/// would silently open a local file of that name.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the database is, decided once from the `--database` / `DATABASE_URL` text:
/// `postgres://` or `postgresql://` URLs are PostgreSQL, anything else is a SQLite file path
/// (an optional `sqlite://` prefix is dropped).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseTarget {
    backend: Backend,
    location: String,
}

impl DatabaseTarget {
    pub fn parse(text: &str) -> Result<Self> {
        let (backend, location) =
            if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                (Backend::Postgres, text)
            } else {
                (
                    Backend::Sqlite,
                    text.strip_prefix("sqlite://").unwrap_or(text),
                )
            };
        if backend == Backend::Sqlite {
            let reason = if location.is_empty() {
                Some("the SQLite path is empty")
            } else if location == ":memory:" || location.contains("mode=memory") {
                Some("an in-memory SQLite database is not supported: every pooled connection would see its own empty database; use a file path")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(PlatformError::UnsupportedDatabase {
                    target: text.to_owned(),
                    reason,
                });
            }
        }
        Ok(Self {
            backend,
            location: location.to_owned(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The target as it may be shown in logs and errors: a URL's password is masked.
    pub fn redacted(&self) -> String {
        redact_password(&self.location)
    }

    /// Opens one connection, with the SQLite pragmas applied.
    pub fn establish(&self) -> Result<AnyConnection> {
        let connect_error = |source| PlatformError::Connect {
            target: self.redacted(),
            source,
        };
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.location)
                .map(AnyConnection::Postgresql)
                .map_err(connect_error),
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.location).map_err(connect_error)?;
                apply_sqlite_settings(&mut conn)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// busy_timeout first, so that what follows waits for other connections' locks; then WAL.
///
/// Every connection asks for WAL, and until it has read the file a connection does not know
/// the file is WAL already, so it switches: a read lock, then an upgrade to write the header.
/// When two connections upgrade together SQLite fails one at once with "database is locked"
/// rather than let both wait for each other; no busy_timeout applies. That happens when
/// several processes (or a pool, its checkpoint thread and the migrations) open a new file
/// together, so the switch is retried, within the same wait a lock would get.
fn apply_sqlite_settings(conn: &mut SqliteConnection) -> Result<()> {
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {};",
        SQLITE_BUSY_WAIT.as_millis()
    ))?;
    let deadline = Instant::now() + SQLITE_BUSY_WAIT;
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Ok(()) => break,
            // diesel reports SQLITE_BUSY only by its message.
            Err(DieselError::DatabaseError(_, info))
                if info.message() == "database is locked" && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error.into()),
        }
    }
    conn.batch_execute(SQLITE_PRAGMAS)?;
    Ok(())
}

/// Masked, because stores (which hold a target) end up in debug logs.
impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseTarget")
            .field("backend", &self.backend)
            .field("location", &self.redacted())
            .finish()
    }
}

/// Masks the password in `scheme://user:password@host/...`.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &url[scheme_end + at..]
        ),
        _ => url.to_owned(),
    }
}

/// Runs the pending migrations of the connection's backend, all in one write transaction
/// (each migration in its own savepoint): several processes opening a fresh database at once
/// would otherwise all find the migrations pending, and all but one fail on CREATE TABLE.
/// SQLite's write lock serialises them; PostgreSQL needs an advisory lock, since two
/// transactions may both read "nothing applied" before either creates a table.
pub(crate) fn run_migrations(conn: &mut AnyConnection) -> Result<()> {
    write_transaction(conn, |conn| {
        let applied = match conn {
            AnyConnection::Sqlite(inner) => inner.run_pending_migrations(SQLITE_MIGRATIONS),
            AnyConnection::Postgresql(inner) => {
                inner.batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK})"
                ))?;
                inner.run_pending_migrations(POSTGRES_MIGRATIONS)
            }
        };
        applied
            .map(drop)
            .map_err(|source| PlatformError::Migration { source })
    })
}

/// Runs `f` in a transaction meant to write. On SQLite it is `BEGIN IMMEDIATE`, taking the
/// write lock up front (waiting up to busy_timeout): a deferred transaction that reads first
/// and writes later fails with SQLITE_BUSY if another connection commits in between, and no
/// timeout helps. On PostgreSQL it is a plain transaction; races surface as constraint
/// violations, which the callers map.
pub(crate) fn write_transaction<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    // The derived transaction manager delegates to the inner connection's manager, so beginning
    // on the inner connection and committing through the enum keeps diesel's bookkeeping right.
    match conn {
        AnyConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgresql(inner) => AnsiTransactionManager::begin_transaction(inner)?,
    }
    match f(conn) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            match <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
                Err(rollback_error) => Err(rollback_error.into()),
            }
        }
    }
}

/// Hands r2d2 connections of one [`DatabaseTarget`].
#[derive(Clone, Debug)]
pub struct AnyConnectionManager {
    target: DatabaseTarget,
}

impl AnyConnectionManager {
    pub fn new(target: DatabaseTarget) -> Self {
        Self { target }
    }
}

impl ManageConnection for AnyConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        self.target.establish().map_err(|error| match error {
            PlatformError::Connect { source, .. } => r2d2::Error::ConnectionError(source),
            PlatformError::Database(source) => r2d2::Error::QueryError(source),
            other => r2d2::Error::QueryError(DieselError::QueryBuilderError(other.into())),
        })
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections opening one new file at once all switch it to WAL. SQLite refuses that
    /// switch at once, without waiting, to all but one of two connections upgrading their read
    /// locks together; `establish` must wait its turn instead of failing. One round of eight
    /// failed about one time in twenty before it did, so a hundred rounds.
    #[test]
    fn connections_racing_to_switch_a_new_file_to_wal_all_succeed() {
        let dir = tempfile::tempdir().expect("dir");
        for round in 0..100 {
            let path = dir.path().join(format!("race-{round}.db"));
            let target = DatabaseTarget::parse(path.to_str().expect("utf-8 path")).expect("path");
            let barrier = std::sync::Barrier::new(8);
            std::thread::scope(|s| {
                let opens: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            target.establish().map(drop)
                        })
                    })
                    .collect();
                for open in opens {
                    let outcome = open.join().expect("thread");
                    assert!(outcome.is_ok(), "round {round}: {outcome:?}");
                }
            });
        }
    }

    #[test]
    fn postgres_urls_select_postgres_and_anything_else_is_a_sqlite_path() {
        let pg = DatabaseTarget::parse("postgres://u@h/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        let pg = DatabaseTarget::parse("postgresql://u@h/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        let file = DatabaseTarget::parse("sunmesh.db").unwrap();
        assert_eq!(file.backend(), Backend::Sqlite);
        let prefixed = DatabaseTarget::parse("sqlite://data/sunmesh.db").unwrap();
        assert_eq!(prefixed.backend(), Backend::Sqlite);
        assert_eq!(prefixed.redacted(), "data/sunmesh.db");
    }

    #[test]
    fn in_memory_and_empty_sqlite_targets_are_refused() {
        for bad in ["", ":memory:", "sqlite://", "file:x?mode=memory"] {
            assert!(
                matches!(
                    DatabaseTarget::parse(bad),
                    Err(PlatformError::UnsupportedDatabase { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_password("postgres://alice:s3cret@db:5432/x?sslmode=require"),
            "postgres://alice:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://alice@db/x"),
            "postgres://alice@db/x"
        );
        assert_eq!(redact_password("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_password("./sunmesh.db"), "./sunmesh.db");
        let target = DatabaseTarget::parse("postgres://alice:s3cret@db/x").unwrap();
        assert!(!format!("{target:?}").contains("s3cret"));
    }
}
