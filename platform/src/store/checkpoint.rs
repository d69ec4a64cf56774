//! Background WAL checkpoints for SQLite: one thread per [`super::Store`], beside every
//! writer (the engine host's group commits, settlement's slot transactions, ingest). Store
//! connections do not checkpoint inside their own COMMITs (`wal_autocheckpoint = 0`), so a
//! commit waits only for its WAL fsync, not also for copying pages into the database file.
//!
//! A checkpoint copies committed pages from the WAL into the database file and fsyncs that
//! file. It never decides durability (a commit is durable once its WAL frames are fsynced), so
//! it can run on its own thread and connection while the writer keeps committing: a PASSIVE
//! checkpoint takes no lock a writer waits for. SQLite starts the WAL file over only when a
//! write transaction begins while every frame has been copied; under a writer that never
//! pauses that does not happen by itself. Past [`RESTART_FRAMES`] this thread asks the writer
//! ([`Checkpointer::restart_wanted`]) to copy the frames committed since this thread's last
//! pass on its own connection, between two groups: its next transaction then starts the WAL
//! over. Measured under the order benchmark (30 s, 24 restarts), the writer's copy took 2.4–22
//! ms, median 18.6 ms, about as long as the 17–35 ms a RESTART from this thread held it (waiting
//! in SQLite's busy handler for the writer's lock, holding new writers back meanwhile); but with
//! the writer doing it, the benchmark's p99 went from 18–22 ms to 10–11 ms. A RESTART remains
//! the fallback when the writer does not manage (readers holding old snapshots) and the WAL
//! keeps growing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl};

use super::connection::{AnyConnection, DatabaseTarget};
use crate::error::{PlatformError, Result};

/// How often the WAL is copied into the database file.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL length (pages) past which the writer is asked to let SQLite start the WAL over.
pub const RESTART_FRAMES: i32 = 65_536;
/// WAL length (pages) past which this thread forces the restart itself.
pub const FORCE_RESTART_FRAMES: i32 = 4 * RESTART_FRAMES;

/// The checkpoint thread; dropping this stops it.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    restart_wanted: Arc<AtomicBool>,
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
        let limits = (RESTART_FRAMES, FORCE_RESTART_FRAMES);
        let mut conn = target.establish()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let wanted = restart_wanted.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || loop {
                match stopped.recv_timeout(CHECKPOINT_INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(error) = checkpoint(&mut conn, &wanted, limits) {
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
            restart_wanted,
        })
    }

    /// Whether the WAL is long and was just copied into the database file, so a PASSIVE
    /// checkpoint by the writer (see [`writer_checkpoint`]) would let it start over. Reading
    /// it clears it.
    pub fn restart_wanted(&self) -> bool {
        self.restart_wanted.swap(false, Ordering::Relaxed)
    }
}

/// Runs `PRAGMA wal_checkpoint(<mode>)` and logs what it did as `what`, at trace level when
/// `routine` (the thread's pass, ten a second), else at debug; `None` on PostgreSQL.
fn wal_checkpoint(
    conn: &mut AnyConnection,
    mode: &str,
    routine: bool,
    what: &str,
) -> Result<Option<CheckpointResult>> {
    let AnyConnection::Sqlite(c) = conn else {
        return Ok(None);
    };
    let result = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"))
        .load::<CheckpointResult>(c)?
        .into_iter()
        .next();
    if let Some(r) = &result {
        let (busy, log, checkpointed) = (r.busy, r.log, r.checkpointed);
        if routine {
            tracing::trace!(busy, log, checkpointed, "{what}");
        } else {
            tracing::debug!(busy, log, checkpointed, "{what}");
        }
    }
    Ok(result)
}

/// The writer's share of a WAL restart: copies what it committed since the checkpoint
/// thread's last pass, so its next write transaction starts the WAL over. Called between
/// groups, outside any transaction.
pub fn writer_checkpoint(conn: &mut AnyConnection) -> Result<()> {
    wal_checkpoint(conn, "PASSIVE", false, "WAL copied by the writer").map(drop)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn checkpoint(
    conn: &mut AnyConnection,
    restart_wanted: &AtomicBool,
    (restart_frames, force_restart_frames): (i32, i32),
) -> Result<()> {
    let Some(r) = wal_checkpoint(conn, "PASSIVE", true, "WAL checkpoint")? else {
        return Ok(());
    };
    if r.busy == 0 && r.log > restart_frames && r.log <= force_restart_frames {
        restart_wanted.store(true, Ordering::Relaxed);
    } else if r.log > force_restart_frames {
        wal_checkpoint(conn, "RESTART", false, "WAL restarted")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;

    /// Frames in the WAL now (a PASSIVE checkpoint reports them; it copies nothing new here).
    fn wal_frames(conn: &mut AnyConnection) -> i32 {
        wal_checkpoint(conn, "PASSIVE", false, "probe")
            .expect("checkpoint")
            .expect("SQLite")
            .log
    }

    fn write_rows(conn: &mut AnyConnection, from: i32, count: i32) {
        let AnyConnection::Sqlite(c) = conn else {
            panic!("SQLite only")
        };
        for i in from..from + count {
            c.batch_execute(&format!(
                "BEGIN IMMEDIATE; INSERT INTO t VALUES ({i}, randomblob(3000)); COMMIT;"
            ))
            .expect("insert");
        }
    }

    fn sqlite_db() -> (tempfile::TempDir, DatabaseTarget, AnyConnection) {
        let dir = tempfile::tempdir().expect("dir");
        // `wal_len` reads the WAL file next to this path.
        let target =
            DatabaseTarget::parse(dir.path().join("wal.db").to_str().expect("path")).expect("url");
        let mut writer = target.establish().expect("writer");
        if let AnyConnection::Sqlite(c) = &mut writer {
            // `establish` already turned automatic checkpoints off, as on every store connection.
            c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);")
                .expect("schema");
        }
        (dir, target, writer)
    }

    /// Bytes of the WAL file. Starting over rewrites it from the front, so it stops growing;
    /// unlike asking SQLite for the frame count, reading it copies nothing.
    fn wal_len(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join("wal.db-wal")).map_or(0, |m| m.len())
    }

    /// Replays the race a writer that never pauses always loses: the checkpoint thread's pass
    /// runs while a group is open, so when the next group begins there are frames it did not
    /// copy and SQLite does not start the WAL over. Returns whether the writer was asked, and
    /// the WAL file's length before and after five more groups.
    fn wal_after_racing_pass(writer_copies: bool) -> (bool, u64, u64) {
        let (dir, target, mut writer) = sqlite_db();
        let mut background = target.establish().expect("checkpoint connection");
        let wanted = AtomicBool::new(false);
        write_rows(&mut writer, 0, 100);
        let AnyConnection::Sqlite(c) = &mut writer else {
            panic!("SQLite only")
        };
        c.batch_execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (-1, randomblob(3000));")
            .expect("open group");
        checkpoint(&mut background, &wanted, (50, i32::MAX)).expect("pass");
        c.batch_execute("COMMIT;").expect("commit group");
        let before = wal_len(&dir);
        let asked = wanted.load(Ordering::Relaxed);
        if writer_copies {
            writer_checkpoint(&mut writer).expect("writer checkpoint");
        }
        write_rows(&mut writer, 1_000, 5);
        let after = wal_len(&dir);
        if writer_copies {
            let frames = wal_frames(&mut writer);
            assert!(frames < 20, "the WAL has {frames} frames after the restart");
        }
        (asked, before, after)
    }

    #[test]
    fn the_writer_copying_the_last_frames_lets_the_wal_start_over() {
        let (asked, before, after) = wal_after_racing_pass(true);
        assert!(asked, "a pass over a WAL past the limit asks the writer");
        assert!(before > 100 * 3_000, "the WAL had {before} bytes");
        assert_eq!(after, before, "the WAL grew: it did not start over");
    }

    #[test]
    fn without_the_writer_the_wal_keeps_growing() {
        // The control for the test above: the same race, the writer does not copy.
        let (_, before, after) = wal_after_racing_pass(false);
        assert!(
            after > before,
            "the WAL went from {before} to {after} bytes"
        );
    }

    #[test]
    fn a_short_wal_asks_nothing() {
        let (_dir, target, mut writer) = sqlite_db();
        write_rows(&mut writer, 0, 5);
        let wanted = AtomicBool::new(false);
        let mut background = target.establish().expect("checkpoint connection");
        checkpoint(&mut background, &wanted, (50, i32::MAX)).expect("pass");
        assert!(!wanted.load(Ordering::Relaxed));
    }
}
