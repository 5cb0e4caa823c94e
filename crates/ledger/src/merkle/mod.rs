//! Pure RFC 6962 / RFC 9162 Merkle tree math: hashing, the stored-hash layout, the append
//! frontier, and which subtrees make up an inclusion or consistency proof. No I/O.
//!
//! # Stored hashes
//!
//! A log of `n` records keeps the hash of every *complete* subtree: the leaf hashes (level 0)
//! and, for each level `l > 0`, the hash of each aligned run of `2^l` leaves once all of them
//! exist. They are numbered in the order they come into being (post-order), which is the
//! numbering of Go's `golang.org/x/mod/sumdb/tlog` (`StoredHashIndex`): appending leaf `n`
//! writes its leaf hash and then the parents it completes at consecutive indexes, so storage
//! only ever appends. A log of `n` leaves holds `2n - popcount(n)` stored hashes.
//!
//! Any range that occurs in an RFC 9162 proof decomposes into at most `2 log2 n` complete
//! subtrees, so a proof costs `O(log n)` stored-hash reads and `O(log n)` hash computations,
//! never a rehash of the log.

mod proof;

#[cfg(test)]
mod tests;

use sha2::{Digest, Sha256};

pub use proof::{ConsistencyProof, InclusionProof, ProofError};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The Merkle tree hash of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves (0 = a leaf).
    pub level: u8,
    /// Position among the subtrees of this level.
    pub index: u64,
}

impl NodeId {
    /// The subtree of `2^level` leaves at position `index`.
    #[must_use]
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// Where this subtree's hash sits in the post-order stored-hash numbering.
    #[must_use]
    pub fn stored_index(self) -> u64 {
        // Walk down the right spine to the last leaf under this node: the node is written
        // right after that leaf's hash and the `level - 1` parents it completes below it.
        let mut n = self.index;
        for _ in 0..self.level {
            n = 2 * n + 1;
        }
        leaf_stored_index(n) + u64::from(self.level)
    }
}

/// Stored-hash index of leaf `n`: `n + n/2 + n/4 + …` (all hashes completed before it).
#[must_use]
pub fn leaf_stored_index(n: u64) -> u64 {
    let mut i = 0u64;
    let mut m = n;
    while m > 0 {
        i += m;
        m >>= 1;
    }
    i
}

/// Number of stored hashes in a log of `n` leaves: `2n - popcount(n)`.
#[must_use]
pub fn stored_hash_count(n: u64) -> u64 {
    leaf_stored_index(n)
}

/// Decomposes the leaf range `[start, end)` into complete subtrees, left to right, taking
/// the largest aligned subtree each time. For the ranges RFC 9162 proofs use, folding their
/// hashes right to left with [`node_hash`] gives the range's Merkle tree hash (see
/// [`fold_range`]).
#[must_use]
pub fn range_subtrees(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let mut level = 0u8;
        // Grow while still aligned and still inside the range.
        while level < 63 {
            let size = 1u64 << (level + 1);
            if s % size != 0 || s + size > end {
                break;
            }
            level += 1;
        }
        out.push(NodeId::new(level, s >> level));
        s += 1u64 << level;
    }
    out
}

/// Folds subtree hashes (left to right, as [`range_subtrees`] lists them) into the hash of
/// their range: `node(h0, node(h1, … node(h_{k-2}, h_{k-1})))`. `None` for an empty slice.
#[must_use]
pub fn fold_range(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// The complete subtrees whose hashes give the root of a tree of `size` leaves.
#[must_use]
pub fn root_subtrees(size: u64) -> Vec<NodeId> {
    range_subtrees(0, size)
}

/// Largest power of two strictly less than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose hashes make up the inclusion proof of leaf `index` in a tree of
/// `size` leaves (RFC 9162 §2.1.3.1 `PATH`), from the leaf's sibling up. Empty if
/// `index >= size`.
#[must_use]
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if index >= size {
        return out;
    }
    // Iterative PATH: descend from the root, remembering the sibling range at each step,
    // then reverse so the list runs from the leaf up.
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// The leaf ranges whose hashes make up the consistency proof from `old_size` to `new_size`
/// (RFC 9162 §2.1.4.1 `SUBPROOF`). Empty if `old_size == 0` or `old_size >= new_size`.
#[must_use]
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if old_size == 0 || old_size >= new_size {
        return out;
    }
    // Iterative SUBPROOF(m, D[lo:hi], b), collecting ranges top-down and reversing at the end.
    let (mut lo, mut hi) = (0u64, new_size);
    let mut m = old_size;
    let mut complete = true;
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    out.reverse();
    out
}

/// The right edge of a Merkle tree while leaves are appended: the hashes of its complete
/// subtrees, largest first. Appending a leaf reports every stored hash it completes, in
/// stored-hash order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (level, hash), strictly decreasing levels.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    #[must_use]
    pub const fn new() -> Self {
        Self { size: 0, stack: Vec::new() }
    }

    /// Rebuilds the frontier of a tree of `size` leaves from the hashes of
    /// [`root_subtrees`]`(size)`, in that order.
    ///
    /// # Errors
    /// [`ProofError::WrongLength`] if the number of hashes does not match.
    pub fn from_subtrees(size: u64, hashes: &[Hash]) -> Result<Self, ProofError> {
        let ids = root_subtrees(size);
        if ids.len() != hashes.len() {
            return Err(ProofError::WrongLength { expected: ids.len(), got: hashes.len() });
        }
        let stack = ids.iter().zip(hashes).map(|(id, h)| (id.level, *h)).collect();
        Ok(Self { size, stack })
    }

    /// Number of leaves appended so far.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash and calls `emit` with every newly stored hash (the leaf hash,
    /// then each parent it completes), which have consecutive stored indexes starting at
    /// [`leaf_stored_index`]`(size)`.
    pub fn push(&mut self, leaf: Hash, mut emit: impl FnMut(Hash)) {
        emit(leaf);
        let mut level = 0u8;
        let mut h = leaf;
        while let Some(&(top_level, top)) = self.stack.last() {
            if top_level != level {
                break;
            }
            self.stack.pop();
            h = node_hash(&top, &h);
            level += 1;
            emit(h);
        }
        self.stack.push((level, h));
        self.size += 1;
    }

    /// The Merkle tree hash of the leaves so far (RFC 9162 `MTH`).
    #[must_use]
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.stack.iter().map(|&(_, h)| h).collect();
        fold_range(&hashes).unwrap_or(EMPTY_ROOT)
    }
}
