//! The transparency log's tables: leaves in index order and every signed checkpoint. Hashing,
//! proofs and signatures are `settlement::merkle`'s; this file stores their results.

use diesel::prelude::*;
use settlement::merkle::Hash;

use super::connection::AnyConnection;
use super::ledger::MAX_BINDS;
use super::schema::{log_checkpoints, log_leaves};
use super::Store;
use crate::error::{PlatformError, Result};

/// Leaf hashes read per query when rebuilding the tree.
const HASH_CHUNK: i64 = 100_000;

/// Most leaves one `log_leaves` call returns.
pub const MAX_LEAVES_PER_READ: u64 = 10_000;

#[derive(Insertable)]
#[diesel(table_name = log_leaves)]
struct NewLeafRow<'a> {
    leaf_index: i64,
    leaf: &'a [u8],
    leaf_hash: &'a [u8],
    created_at_ms: i64,
}

/// Appends leaves starting at `first_index` (which must be the current size).
pub(crate) fn insert_leaves(
    conn: &mut AnyConnection,
    first_index: u64,
    leaves: &[(Vec<u8>, Hash)],
    now_ms: i64,
) -> Result<()> {
    let first = i64::try_from(first_index).map_err(|_| PlatformError::AmountTooLarge {
        what: "leaf index",
        value: first_index.to_string(),
    })?;
    if let AnyConnection::Sqlite(c) = conn {
        use super::bulk::{self, Value};
        let mut values = Vec::with_capacity(leaves.len() * 4);
        for (index, (leaf, hash)) in (first..).zip(leaves) {
            values.extend([
                Value::Int(index),
                Value::Blob(leaf),
                Value::Blob(hash),
                Value::Int(now_ms),
            ]);
        }
        bulk::insert(
            c,
            "INSERT INTO log_leaves (leaf_index, leaf, leaf_hash, created_at_ms) VALUES ",
            "",
            4,
            &values,
        )?;
        return Ok(());
    }
    let rows: Vec<NewLeafRow> = leaves
        .iter()
        .enumerate()
        .map(|(i, (leaf, hash))| NewLeafRow {
            leaf_index: first + i as i64,
            leaf,
            leaf_hash: hash,
            created_at_ms: now_ms,
        })
        .collect();
    for chunk in rows.chunks(MAX_BINDS / 4) {
        per_backend!(&mut *conn, c => diesel::insert_into(log_leaves::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

fn to_hash(table: &'static str, key: i64, bytes: &[u8]) -> Result<Hash> {
    bytes.try_into().map_err(|_| PlatformError::CorruptRow {
        table,
        key: key.to_string(),
        reason: "hash is not 32 bytes".to_owned(),
    })
}

/// Leaf hashes from `from_index` on, in order, at most `HASH_CHUNK`.
pub(crate) fn leaf_hashes_from(conn: &mut AnyConnection, from_index: u64) -> Result<Vec<Hash>> {
    let from = i64::try_from(from_index).unwrap_or(i64::MAX);
    let rows: Vec<(i64, Vec<u8>)> = log_leaves::table
        .filter(log_leaves::leaf_index.ge(from))
        .order(log_leaves::leaf_index)
        .limit(HASH_CHUNK)
        .select((log_leaves::leaf_index, log_leaves::leaf_hash))
        .load(conn)?;
    rows.iter()
        .enumerate()
        .map(|(i, (index, hash))| {
            if *index != from + i as i64 {
                return Err(PlatformError::CorruptRow {
                    table: "log_leaves",
                    key: index.to_string(),
                    reason: format!("expected leaf index {}: the log has a gap", from + i as i64),
                });
            }
            to_hash("log_leaves", *index, hash)
        })
        .collect()
}

pub(crate) fn insert_checkpoint(
    conn: &mut AnyConnection,
    size: u64,
    root: &Hash,
    text: &str,
    now_ms: i64,
) -> Result<()> {
    let values = (
        log_checkpoints::tree_size.eq(i64::try_from(size).unwrap_or(i64::MAX)),
        log_checkpoints::root_hash.eq(root.as_slice()),
        log_checkpoints::checkpoint.eq(text),
        log_checkpoints::created_at_ms.eq(now_ms),
    );
    // A checkpoint for this size exists when nothing was appended since: keep the first.
    per_backend!(&mut *conn, c => diesel::insert_into(log_checkpoints::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub text: String,
    pub created_at_ms: i64,
}

impl Store {
    /// The leaves `[from, to)` (clamped to the log and to [`MAX_LEAVES_PER_READ`]).
    pub fn log_leaves(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let to = to.min(from.saturating_add(MAX_LEAVES_PER_READ));
        let (from, to) = (
            i64::try_from(from).unwrap_or(i64::MAX),
            i64::try_from(to).unwrap_or(i64::MAX),
        );
        let rows: Vec<(i64, Vec<u8>)> = log_leaves::table
            .filter(log_leaves::leaf_index.ge(from))
            .filter(log_leaves::leaf_index.lt(to))
            .order(log_leaves::leaf_index)
            .select((log_leaves::leaf_index, log_leaves::leaf))
            .load(&mut self.connection()?)?;
        Ok(rows.into_iter().map(|(i, leaf)| (i as u64, leaf)).collect())
    }

    pub fn log_size(&self) -> Result<u64> {
        let max: Option<i64> = log_leaves::table
            .select(diesel::dsl::max(log_leaves::leaf_index))
            .first(&mut self.connection()?)?;
        Ok(max.map_or(0, |m| m as u64 + 1))
    }

    /// The newest checkpoint (largest tree), if any was signed.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.checkpoint_where(None)
    }

    /// The checkpoint signed for exactly `size` leaves, if there is one.
    pub fn checkpoint_of_size(&self, size: u64) -> Result<Option<StoredCheckpoint>> {
        self.checkpoint_where(Some(size))
    }

    fn checkpoint_where(&self, size: Option<u64>) -> Result<Option<StoredCheckpoint>> {
        let mut query = log_checkpoints::table
            .order(log_checkpoints::tree_size.desc())
            .select((
                log_checkpoints::tree_size,
                log_checkpoints::root_hash,
                log_checkpoints::checkpoint,
                log_checkpoints::created_at_ms,
            ))
            .into_boxed();
        if let Some(size) = size {
            query = query.filter(log_checkpoints::tree_size.eq(i64::try_from(size).unwrap_or(-1)));
        }
        let row: Option<(i64, Vec<u8>, String, i64)> =
            query.first(&mut self.connection()?).optional()?;
        row.map(|(size, root, text, at)| {
            Ok(StoredCheckpoint {
                size: size as u64,
                root: to_hash("log_checkpoints", size, &root)?,
                text,
                created_at_ms: at,
            })
        })
        .transpose()
    }
}
