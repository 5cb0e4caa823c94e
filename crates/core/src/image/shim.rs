//! Temporary stand-ins for `crate::payload` / `crate::spread` until they land on `main`.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::key::WatermarkKey;

pub(crate) const CODED_BITS: usize = 354;

pub(crate) fn keyed_rng(key: &WatermarkKey, domain: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"provmark keyed rng\0");
    h.update(key.as_bytes());
    h.update(domain.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

pub(crate) fn pn_chips(key: &WatermarkKey, domain: &str, n: usize) -> Vec<f32> {
    let mut rng = keyed_rng(key, domain);
    (0..n).map(|_| if rng.next_u32() & 1 == 1 { 1.0 } else { -1.0 }).collect()
}

pub(crate) fn keyed_permutation(key: &WatermarkKey, domain: &str, n: usize) -> Vec<usize> {
    let mut rng = keyed_rng(key, domain);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}
