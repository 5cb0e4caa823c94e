//! Spread-spectrum primitives shared by the image and audio marks: keyed pseudo-random
//! streams, chip sequences and permutations.
//!
//! Every stream is derived from the [`WatermarkKey`] and a *domain* string naming its use
//! (`"image/sync"`, `"audio/data"`, …), so that different uses of one key are independent
//! and nothing about the key can be learned from one stream. Nothing here knows about images
//! or audio.

use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use crate::WatermarkKey;

/// A ChaCha20 generator seeded with SHA-256(`"provmark spread v1\0"` ‖ key ‖ domain).
#[must_use]
pub fn keyed_rng(key: &WatermarkKey, domain: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"provmark spread v1\0");
    h.update(key.as_bytes());
    h.update(domain.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// `n` keyed chips, each `+1.0` or `-1.0` with equal probability.
#[must_use]
pub fn pn_chips(key: &WatermarkKey, domain: &str, n: usize) -> Vec<f32> {
    let mut rng = keyed_rng(key, domain);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let word: u64 = rng.gen();
        let take = (n - out.len()).min(64);
        out.extend((0..take).map(|i| if (word >> i) & 1 == 1 { 1.0 } else { -1.0 }));
    }
    out
}

/// A keyed uniformly random permutation of `0..n` (Fisher–Yates over [`keyed_rng`]).
#[must_use]
pub fn keyed_permutation(key: &WatermarkKey, domain: &str, n: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut keyed_rng(key, domain));
    perm
}

/// The normalized correlation of `a` and `b`: Σaᵢbᵢ / (‖a‖‖b‖), 0 when either is all zero.
///
/// # Panics
/// If the slices differ in length.
#[must_use]
pub fn normalized_correlation(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "correlated sequences must have the same length");
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += f64::from(x) * f64::from(y);
        aa += f64::from(x) * f64::from(x);
        bb += f64::from(y) * f64::from(y);
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, reason = "a correlation is in [-1, 1]")]
    let r = (ab / (aa.sqrt() * bb.sqrt())) as f32;
    r
}

#[cfg(test)]
mod tests;
