//! The transparency log: an append-only Merkle tree with RFC 6962 / RFC 9162 hashing,
//! inclusion and consistency proofs, signed checkpoints, canonical leaf records and the pure
//! offline verifier behind `sunmesh verify-log`.
//!
//! Hashing: `leaf = SHA-256(0x00 ‖ data)`, `node = SHA-256(0x01 ‖ left ‖ right)`, the empty
//! tree's root is `SHA-256("")`, and a tree of n > 1 leaves splits at the largest power of two
//! strictly below n. Documented for outside verifiers in `docs/transparency-log.md`.

mod checkpoint;
mod export;
mod leaf;
mod proof;

use crate::SettlementError;
use ring::digest;

pub use checkpoint::{Checkpoint, LogSigner, LogVerifier, SignedCheckpoint};
pub use export::{verify_log_export, LogSummary};
pub use leaf::{
    carbon_mint_leaf, reward_mint_leaf, settlement_run_leaf, validate_leaf, CarbonMintRecord,
    MintLeafEncoder, RewardMintRecord, RunRecord, LEAF_FORMAT,
};
pub(crate) use leaf::{num as json_num, object as json_object, text as json_text, Json};
pub use proof::{verify_consistency, verify_inclusion};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    to_hash(ctx.finish())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x01]);
    ctx.update(left);
    ctx.update(right);
    to_hash(ctx.finish())
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    to_hash(digest::digest(&digest::SHA256, b""))
}

fn to_hash(d: digest::Digest) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// An append-only tree of leaf hashes that keeps every complete subtree, so roots and proofs
/// for any size cost O(log n) hashes.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// `levels[k][i]` is the hash of leaves `[i·2^k, (i+1)·2^k)`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaf_data<D: AsRef<[u8]>>(leaves: &[D]) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.append(leaf.as_ref());
        }
        tree
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends one leaf's data; returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_hash(leaf_hash(data))
    }

    pub fn append_hash(&mut self, hash: Hash) -> u64 {
        let index = self.size();
        let mut level = 0;
        let mut carry = hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(carry);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            carry = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
        index
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The root over the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, SettlementError> {
        if size > self.size() {
            return Err(SettlementError::IndexOutOfRange {
                index: size,
                size: self.size(),
            });
        }
        if size == 0 {
            return Ok(empty_root());
        }
        Ok(self.range_hash(0, size))
    }

    /// MTH of leaves `[start, end)` where `start` is aligned to the largest power of two
    /// not above `end − start` (always true for the ranges RFC 6962 recursion visits).
    fn range_hash(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n.is_power_of_two() && start % n == 0 {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][(start >> level) as usize];
        }
        let k = split_point(n);
        node_hash(
            &self.range_hash(start, start + k),
            &self.range_hash(start + k, end),
        )
    }

    /// RFC 6962 §2.1.1 audit path of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, SettlementError> {
        if index >= size || size > self.size() {
            return Err(SettlementError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range_hash(start, start + k));
        }
    }

    /// RFC 6962 §2.1.2 consistency proof from the tree of `size1` leaves to that of `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, SettlementError> {
        if size2 > self.size() {
            return Err(SettlementError::IndexOutOfRange {
                index: size2,
                size: self.size(),
            });
        }
        if size1 > size2 {
            return Err(SettlementError::SizeDecreased { size1, size2 });
        }
        let mut proof = Vec::new();
        if size1 > 0 && size1 < size2 {
            self.subproof(size1, 0, size2, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range_hash(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_hash(start, start + k));
        }
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn h(hex_text: &str) -> Hash {
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_text, &mut out).expect("test hex");
        out
    }

    /// The RFC 6962 reference leaves (transparency-dev/merkle testonly, also in CT's tests).
    pub(crate) fn reference_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| hex::decode(x).expect("hex"))
        .collect()
    }

    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_rfc6962_reference_for_every_size() {
        let tree = Tree::from_leaf_data(&reference_leaves());
        for (size, want) in ROOTS.iter().enumerate() {
            assert_eq!(
                tree.root(size as u64).expect("root"),
                h(want),
                "size {size}"
            );
        }
        assert!(tree.root(9).is_err());
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        let tree = Tree::from_leaf_data(&reference_leaves());
        let p0 = tree.inclusion_proof(0, 8).expect("proof");
        assert_eq!(
            p0,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let p5 = tree.inclusion_proof(5, 8).expect("proof");
        assert_eq!(
            p5,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
    }

    #[test]
    fn every_proof_verifies_in_every_small_tree_and_tampering_fails() {
        let leaves: Vec<Vec<u8>> = (0u16..40).map(|i| i.to_be_bytes().to_vec()).collect();
        let tree = Tree::from_leaf_data(&leaves);
        for size in 1..=40u64 {
            let root = tree.root(size).expect("root");
            for index in 0..size {
                let leaf = tree.leaf(index).expect("leaf");
                let proof = tree.inclusion_proof(index, size).expect("proof");
                assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
                let wrong = tree.leaf((index + 1) % size).expect("leaf");
                if size > 1 {
                    assert!(verify_inclusion(index, size, &wrong, &proof, &root).is_err());
                }
            }
            for size1 in 0..=size {
                let root1 = tree.root(size1).expect("root");
                let proof = tree.consistency_proof(size1, size).expect("proof");
                assert_eq!(
                    verify_consistency(size1, size, &root1, &root, &proof),
                    Ok(()),
                    "{size1} -> {size}"
                );
                if size1 > 0 && size1 < size {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_consistency(size1, size, &root1, &root, &bad).is_err());
                    let other = tree.root(size1 - 1).expect("root");
                    assert!(verify_consistency(size1, size, &other, &root, &proof).is_err());
                }
            }
        }
    }
}
