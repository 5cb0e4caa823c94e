//! # provmark-ledger
//!
//! The traceability log of provmark: an append-only RFC 6962 Merkle log of every stamp, with
//! signed checkpoints, inclusion and consistency proofs, and storage behind one trait.
//!
//! This crate is being built (issue "Traceability ledger"); today it only fixes the
//! RFC 6962 hashing rules that every other part depends on.
//!
//! ```
//! let leaf = provmark_ledger::leaf_hash(b"record");
//! assert_eq!(leaf.len(), 32);
//! ```
//!
//! # Crate features
//!
//! None yet.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use sha2::{Digest, Sha256};

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
#[must_use]
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6962_empty_leaf_hash_known_answer() {
        // SHA-256(0x00): the leaf hash of the empty record, as in the RFC 6962 test data.
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
