//! Storage: diesel over SQLite (the embedded default) or PostgreSQL, chosen by the database
//! URL, with one schema and one code path for both.
//!
//! The API is synchronous and takes `&self`; async callers run it on a blocking thread
//! (`web::block`, `spawn_blocking`). A [`Store`] is a cheap handle to a connection pool.

/// Runs `$body` with `$c` bound to the inner connection of either backend. For statements
/// diesel's MultiConnection cannot build (multi-row INSERT, ON CONFLICT): each arm is
/// type-checked for its own backend.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::AnyConnection::Sqlite($c) => $body,
            $crate::store::AnyConnection::Postgresql($c) => $body,
        }
    };
}

mod accounts;
mod api_keys;
mod bulk;
mod checkpoint;
mod connection;
mod device_heads;
mod devices;
pub(crate) mod ledger;
pub(crate) mod log;
mod reading_review;
pub mod readings;
pub(crate) mod report_rows;
pub mod schema;
pub(crate) mod settlement;
mod settlement_feed;
mod tallies;
pub(crate) mod tokens;
mod trading;

pub use api_keys::{ApiKeyInfo, MAX_KEY_LABEL_CHARS, MAX_LIVE_KEYS_PER_ACCOUNT};
pub(crate) use connection::write_transaction;
pub use connection::{AnyConnection, AnyConnectionManager, Backend, DatabaseTarget};
pub use ledger::{PendingState, StoredTransfer};
pub use log::{StoredCheckpoint, MAX_LEAVES_PER_READ};
pub use report_rows::StoredReportRow;
pub use settlement::StoredRun;
pub use tallies::{TradeTotals, VerdictTally};
pub use tokens::RewardEpochRow;
pub use trading::{JournalRow, JournalWriter, OrderFilter, OrderRow, TradeRow, TradingBatch};

use std::sync::Arc;

use diesel::r2d2::{Pool, PooledConnection};

use crate::error::Result;
use checkpoint::Checkpointer;

/// Most connections one store opens. SQLite serialises writers anyway, so a few readers
/// suffice; PostgreSQL's default server limit is 100 for all instances together.
pub const SQLITE_POOL_SIZE: u32 = 8;
pub const POSTGRES_POOL_SIZE: u32 = 16;

/// A pooled connection, for queries that have no `Store` method yet.
pub type PooledConn = PooledConnection<AnyConnectionManager>;

/// The platform's database: migrated on open, shared by clones.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool<AnyConnectionManager>,
    target: DatabaseTarget,
    /// SQLite: the one thread that copies the WAL into the database file (connections do not
    /// checkpoint inside their own COMMITs; see `checkpoint`). Stops with the last clone.
    checkpointer: Option<Arc<Checkpointer>>,
}

impl Store {
    /// Opens the database named by `url` (a SQLite path, or a `postgres://` URL), creating a
    /// SQLite file if needed, and runs pending migrations before returning.
    pub fn open(url: &str) -> Result<Store> {
        let target = DatabaseTarget::parse(url)?;
        // One direct connection first: a wrong URL fails now with the driver's message rather
        // than after the pool's retry timeout.
        let mut conn = target.establish()?;
        connection::run_migrations(&mut conn)?;
        drop(conn);
        let max_size = match target.backend() {
            Backend::Sqlite => SQLITE_POOL_SIZE,
            Backend::Postgres => POSTGRES_POOL_SIZE,
        };
        let pool = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .build_unchecked(AnyConnectionManager::new(target.clone()));
        let checkpointer = match target.backend() {
            Backend::Sqlite => Some(Arc::new(Checkpointer::start(target.clone())?)),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            target,
            checkpointer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.target.backend()
    }

    /// The database this store was opened on, with any password masked.
    pub fn describe(&self) -> String {
        self.target.redacted()
    }

    /// A connection from the pool (waits up to r2d2's timeout when all are busy).
    pub fn connection(&self) -> Result<PooledConn> {
        Ok(self.pool.get()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn store_can_be_shared_across_threads() {
        assert_shareable::<Store>();
    }
}
