//! Inclusion and consistency proofs and their offline verification (RFC 9162 §2.1.3.2 and
//! §2.1.4.2).

use super::{node_hash, Hash};

/// Why a proof does not verify. Proof data is untrusted input, so every failure is a value,
/// never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree, or the sizes are out of order.
    #[error("index or tree sizes out of range")]
    OutOfRange,
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength {
        /// Hashes the sizes call for.
        expected: usize,
        /// Hashes given.
        got: usize,
    },
    /// The recomputed root does not match.
    #[error("recomputed root hash does not match")]
    RootMismatch,
}

/// Proof that leaf `index` is in the tree of `tree_size` leaves: the audit path from the
/// leaf's sibling up to a child of the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the leaf.
    pub index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// The audit path, bottom up.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf` (a leaf hash) is at `index` in the tree with root `root`.
    ///
    /// # Errors
    /// A [`ProofError`] naming why it fails.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        let computed = self.root_from_leaf(leaf)?;
        if &computed == root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }

    /// The root hash this proof implies for `leaf` (RFC 9162 §2.1.3.2).
    ///
    /// # Errors
    /// [`ProofError::OutOfRange`] or [`ProofError::WrongLength`] if the proof cannot be
    /// evaluated.
    pub fn root_from_leaf(&self, leaf: &Hash) -> Result<Hash, ProofError> {
        if self.index >= self.tree_size {
            return Err(ProofError::OutOfRange);
        }
        let expected = super::inclusion_ranges(self.index, self.tree_size).len();
        if self.hashes.len() != expected {
            return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
        }
        let mut f = self.index;
        let mut s = self.tree_size - 1;
        let mut r = *leaf;
        for p in &self.hashes {
            if s == 0 {
                return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
            }
            if f & 1 == 1 || f == s {
                r = node_hash(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
        }
        Ok(r)
    }
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The proof hashes, as RFC 9162 `SUBPROOF` orders them.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that `old_root` (of `old_size` leaves) and `new_root` (of `new_size` leaves)
    /// belong to the same append-only log. An empty old tree is consistent with anything;
    /// equal sizes need equal roots and an empty proof.
    ///
    /// # Errors
    /// A [`ProofError`] naming why it fails.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        let (m, n) = (self.old_size, self.new_size);
        if m > n {
            return Err(ProofError::OutOfRange);
        }
        let expected = super::consistency_ranges(m, n).len();
        if self.hashes.len() != expected {
            return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
        }
        if m == 0 {
            return Ok(());
        }
        if m == n {
            return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
        }
        let mut path: Vec<Hash> = Vec::with_capacity(self.hashes.len() + 1);
        if m.is_power_of_two() {
            path.push(*old_root);
        }
        path.extend_from_slice(&self.hashes);
        let mut f = m - 1;
        let mut s = n - 1;
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        let (first, rest) = path.split_first().ok_or(ProofError::RootMismatch)?;
        let mut fr = *first;
        let mut sr = *first;
        for c in rest {
            if s == 0 {
                return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
            }
            if f & 1 == 1 || f == s {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                sr = node_hash(&sr, c);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(ProofError::WrongLength { expected, got: self.hashes.len() });
        }
        if &fr == old_root && &sr == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }
}
