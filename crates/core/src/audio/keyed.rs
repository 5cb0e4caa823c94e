//! Keyed pseudo-randomness for the audio layout (ChaCha20 seeded from the watermark key and a
//! domain string, so different uses of one key never share a stream).

use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use crate::WatermarkKey;

/// A ChaCha20 generator keyed by `key` and separated by `domain`.
pub(crate) fn rng(key: &WatermarkKey, domain: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"provmark keyed rng v1\0");
    h.update(domain.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// A keyed permutation of `0..n` (Fisher-Yates).
pub(crate) fn permutation(key: &WatermarkKey, domain: &str, n: usize) -> Vec<usize> {
    let mut rng = rng(key, domain);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        #[allow(clippy::cast_possible_truncation, reason = "modulo reduces into range")]
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}
