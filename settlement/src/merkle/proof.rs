//! Proof verification, following RFC 9162 §2.1.3.2 / §2.1.4.2 in the bit-twiddling form of
//! transparency-dev/merkle `proof/verify.go`: no tree needed, only hashes.

use super::{node_hash, Hash};
use crate::SettlementError;

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), SettlementError> {
    if index >= size {
        return Err(SettlementError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(SettlementError::ProofLength {
            expected: inner + border,
            actual: proof.len(),
        });
    }
    let hash = chain_inner(*leaf_hash, &proof[..inner], index);
    let hash = chain_border_right(hash, &proof[inner..]);
    if &hash == root {
        Ok(())
    } else {
        Err(SettlementError::RootMismatch)
    }
}

/// Checks that the tree of `size1` leaves with `root1` is a prefix of the tree of `size2`
/// leaves with `root2`.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), SettlementError> {
    if size2 < size1 {
        return Err(SettlementError::SizeDecreased { size1, size2 });
    }
    if size1 == size2 || size1 == 0 {
        if !proof.is_empty() {
            return Err(SettlementError::ProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        // Every tree extends the empty tree; equal sizes must have equal roots.
        return if size1 == 0 || root1 == root2 {
            Ok(())
        } else {
            Err(SettlementError::RootMismatch)
        };
    }
    let (inner, border) = decompose(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    let inner = inner - shift;
    // The proof starts with the hash of the subtree of size 2^shift holding leaf size1−1,
    // unless size1 is exactly that subtree, whose hash is root1.
    let (seed, rest) = if size1 == 1 << shift {
        (*root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(SettlementError::ProofLength {
                    expected: 1 + inner + border,
                    actual: 0,
                })
            }
        }
    };
    if rest.len() != inner + border {
        return Err(SettlementError::ProofLength {
            expected: proof.len() - rest.len() + inner + border,
            actual: proof.len(),
        });
    }
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_inner_right(seed, &rest[..inner], mask);
    let hash1 = chain_border_right(hash1, &rest[inner..]);
    if &hash1 != root1 {
        return Err(SettlementError::RootMismatch);
    }
    let hash2 = chain_inner(seed, &rest[..inner], mask);
    let hash2 = chain_border_right(hash2, &rest[inner..]);
    if &hash2 != root2 {
        return Err(SettlementError::RootMismatch);
    }
    Ok(())
}

/// Splits an inclusion proof's length into the part below the point where the paths to
/// `index` and to the last leaf diverge (`inner`) and the border part above it.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            node_hash(&seed, h)
        } else {
            node_hash(h, &seed)
        };
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}
