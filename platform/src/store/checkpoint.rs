//! Background WAL checkpoints for SQLite, beside the engine host's group commits.
//!
//! A checkpoint copies committed pages from the WAL into the database file and fsyncs that
//! file. It never decides durability (a commit is durable once its WAL frames are fsynced), so
//! it can run on its own thread and connection while the writer keeps committing: a PASSIVE
//! checkpoint takes no lock a writer waits for. SQLite starts the WAL file over only when a
//! write transaction begins while every frame has been copied; under a writer that never
//! pauses that may not happen, so past [`RESTART_FRAMES`] a RESTART checkpoint makes it
//! happen (it holds new writers back only while it copies the last frames).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl};

use super::connection::{AnyConnection, DatabaseTarget};
use crate::error::{PlatformError, Result};

/// How often the WAL is copied into the database file.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL length (pages) past which the checkpoint makes SQLite start the WAL over.
pub const RESTART_FRAMES: i32 = 65_536;

/// The checkpoint thread; dropping this stops it.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(QueryableByName)]
struct CheckpointResult {
    /// 1 when the checkpoint could not run to completion (a writer or reader was in the way).
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames copied into the database file so far.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

impl Checkpointer {
    pub fn start(target: DatabaseTarget) -> Result<Self> {
        let mut conn = target.establish()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || loop {
                match stopped.recv_timeout(CHECKPOINT_INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(error) = checkpoint(&mut conn) {
                            // Not fatal: the WAL holds everything; the next pass retries.
                            tracing::warn!(%error, "WAL checkpoint failed");
                        }
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(PlatformError::Output)?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn checkpoint(conn: &mut AnyConnection) -> Result<()> {
    let AnyConnection::Sqlite(c) = conn else {
        return Ok(());
    };
    let passive: Vec<CheckpointResult> =
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").load(c)?;
    if let Some(r) = passive.first() {
        tracing::trace!(
            busy = r.busy,
            log = r.log,
            checkpointed = r.checkpointed,
            "WAL checkpoint"
        );
        if r.log > RESTART_FRAMES {
            let restart: Vec<CheckpointResult> =
                diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").load(c)?;
            if let Some(r) = restart.first() {
                tracing::debug!(
                    busy = r.busy,
                    log = r.log,
                    checkpointed = r.checkpointed,
                    "WAL restarted"
                );
            }
        }
    }
    Ok(())
}
