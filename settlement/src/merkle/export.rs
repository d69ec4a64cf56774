//! The offline check behind `sunmesh verify-log`: given every leaf of an exported log, its
//! latest signed checkpoint, the log's public key and optionally an earlier checkpoint the
//! verifier kept, prove that the leaves are exactly the signed log and that the log only grew.

use super::{validate_leaf, verify_consistency, Hash, LogVerifier, Tree};
use crate::SettlementError;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSummary {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Size of the earlier checkpoint proven to be a prefix, if one was given.
    pub consistent_with: Option<u64>,
}

/// Verifies an exported log:
/// 1. the checkpoint's signature (key name and key id must match `key`);
/// 2. the number of leaves equals the checkpoint's size;
/// 3. every leaf is a valid canonical record ([`validate_leaf`]);
/// 4. the leaves hash to the checkpoint's root (any changed, removed, added or reordered
///    leaf changes the root);
/// 5. if `earlier` is given: it is signed by the same key, is no larger, and a consistency
///    proof from it to the current tree verifies (the earlier log is a prefix).
pub fn verify_log_export<L: AsRef<[u8]>>(
    leaves: &[L],
    checkpoint: &str,
    key: &LogVerifier,
    earlier: Option<&str>,
) -> Result<LogSummary, SettlementError> {
    let current = key.verify_text(checkpoint)?;
    if current.origin != key.name {
        return Err(SettlementError::WrongOrigin {
            expected: key.name.clone(),
            actual: current.origin,
        });
    }
    let count = leaves.len() as u64;
    if count != current.size {
        return Err(SettlementError::SizeMismatch {
            leaves: count,
            size: current.size,
        });
    }
    let mut tree = Tree::new();
    for (index, leaf) in leaves.iter().enumerate() {
        validate_leaf(index as u64, leaf.as_ref())?;
        tree.append(leaf.as_ref());
    }
    let root = tree.root(current.size)?;
    if root != current.root {
        return Err(SettlementError::CheckpointRootMismatch {
            computed: hex::encode(root),
            claimed: hex::encode(current.root),
        });
    }
    let consistent_with = match earlier {
        None => None,
        Some(text) => {
            let old = key.verify_text(text)?;
            if old.origin != current.origin {
                return Err(SettlementError::WrongOrigin {
                    expected: current.origin,
                    actual: old.origin,
                });
            }
            if old.size > current.size {
                return Err(SettlementError::SizeDecreased {
                    size1: old.size,
                    size2: current.size,
                });
            }
            let proof = tree.consistency_proof(old.size, current.size)?;
            verify_consistency(old.size, current.size, &old.root, &root, &proof)
                .map_err(|_| SettlementError::Inconsistent { size: old.size })?;
            Some(old.size)
        }
    };
    Ok(LogSummary {
        origin: current.origin,
        size: current.size,
        root,
        consistent_with,
    })
}
