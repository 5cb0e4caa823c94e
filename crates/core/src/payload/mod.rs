//! What is embedded, independent of the medium: the content ID plus a keyed integrity tag,
//! under a convolutional code with soft-decision decoding.
//!
//! Layout: 64 ID bits ‖ 48 tag bits (most significant first) → rate-1/3 K=7 convolutional
//! code with 6 tail bits ([`ecc`]) → 354 coded bits → XOR with a keyed whitening sequence →
//! keyed interleaving. The embedders map each coded bit onto many chips; detectors gather a
//! soft value per coded bit and call [`PayloadCodec::decode`].
//!
//! # False positives
//!
//! The tag is `SHA-256("provmark payload tag v1\0" ‖ key ‖ id)` truncated to 48 bits. Without
//! the key, whatever a detector decodes from unmarked content (or content marked under another
//! key) carries a valid tag with probability 2⁻⁴⁸ ≈ 3.6·10⁻¹⁵ per decoding attempt, whatever
//! the content. A detector that decodes `n` candidate alignments therefore has a per-file
//! false-positive probability of at most `n · 2⁻⁴⁸` ([`false_positive_probability`]), and
//! stays within the default bound of 10⁻¹² with up to [`max_attempts`]`(1e-12)` = 281
//! attempts.

pub mod ecc;

use sha2::{Digest as _, Sha256};

use crate::{spread, ContentId, WatermarkKey};

/// Bits of the content ID.
pub const ID_BITS: usize = 64;
/// Bits of the keyed integrity tag.
pub const TAG_BITS: usize = 48;
/// Information bits: ID and tag.
pub const INFO_BITS: usize = ID_BITS + TAG_BITS;
/// Coded bits carried by the medium.
pub const CODED_BITS: usize = ecc::coded_len(INFO_BITS);
/// The default bound on the per-file false-positive probability.
pub const DEFAULT_MAX_FALSE_POSITIVE: f64 = 1e-12;

/// The false-positive bound each of `keys` detection keys gets so that a file tried under
/// all of them stays within [`DEFAULT_MAX_FALSE_POSITIVE`] (every attempt under every key
/// counts): the default divided among them, but never below one attempt per key (past 281
/// keys the total exceeds the default, by one attempt's 2⁻⁴⁸ per extra key).
#[must_use]
pub fn per_key_bound(keys: usize) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "a key count")]
    let n = keys.max(1) as f64;
    (DEFAULT_MAX_FALSE_POSITIVE / n).max((-(TAG_BITS as f64)).exp2())
}

/// The per-file false-positive probability bound after `attempts` decodings: `attempts · 2⁻⁴⁸`
/// (capped at 1).
#[must_use]
pub fn false_positive_probability(attempts: u64) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "attempt counts are far below 2^52")]
    let n = attempts as f64;
    (n * (-(TAG_BITS as f64)).exp2()).min(1.0)
}

/// The largest number of decoding attempts that keeps the bound at or below `target`.
#[must_use]
pub fn max_attempts(target: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "floor of a non-negative value far below 2^64"
    )]
    let n = (target.max(0.0) * (TAG_BITS as f64).exp2()).floor() as u64;
    n
}

/// The result of decoding one candidate alignment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoded {
    /// The decoded content ID (meaningful only when `tag_ok`).
    pub id: ContentId,
    /// Whether the decoded tag matches the keyed tag of the decoded ID.
    pub tag_ok: bool,
    /// Coded bits whose received sign disagrees with the re-encoded codeword.
    pub bit_errors: usize,
    /// Normalized correlation between the soft input and the re-encoded codeword, in [-1, 1].
    pub correlation: f32,
}

impl Decoded {
    /// The ID, only if the tag verified.
    #[must_use]
    pub fn verified(&self) -> Option<ContentId> {
        self.tag_ok.then_some(self.id)
    }
}

/// Encodes and decodes payloads under one watermark key. Build it once and share it
/// (`Clone + Send + Sync`).
#[derive(Clone)]
pub struct PayloadCodec {
    tag_key: [u8; 32],
    whitening: Vec<bool>,
    /// `interleave[i]` is the position in the medium of coded bit `i`.
    interleave: Vec<usize>,
}

impl std::fmt::Debug for PayloadCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadCodec").finish_non_exhaustive()
    }
}

impl PayloadCodec {
    /// Derives the tag key, whitening sequence and interleaver from the watermark key.
    #[must_use]
    pub fn new(key: &WatermarkKey) -> Self {
        let mut h = Sha256::new();
        h.update(b"provmark payload tag v1\0");
        h.update(key.as_bytes());
        let tag_key = h.finalize().into();
        let whitening = spread::pn_chips(key, "payload/whitening", CODED_BITS)
            .iter()
            .map(|&c| c > 0.0)
            .collect();
        let interleave = spread::keyed_permutation(key, "payload/interleave", CODED_BITS);
        Self { tag_key, whitening, interleave }
    }

    fn tag(&self, id: ContentId) -> u64 {
        let mut h = Sha256::new();
        h.update(self.tag_key);
        h.update(id.to_bytes());
        let d = h.finalize();
        let mut t = [0u8; 8];
        t[2..].copy_from_slice(&d[..6]);
        u64::from_be_bytes(t)
    }

    fn info_bits(&self, id: ContentId) -> Vec<bool> {
        let tag = self.tag(id);
        let mut bits = Vec::with_capacity(INFO_BITS);
        bits.extend((0..ID_BITS).rev().map(|i| (id.as_u64() >> i) & 1 == 1));
        bits.extend((0..TAG_BITS).rev().map(|i| (tag >> i) & 1 == 1));
        bits
    }

    /// The [`CODED_BITS`] values to embed for `id`, each `+1.0` or `-1.0`, in medium order.
    #[must_use]
    pub fn encode(&self, id: ContentId) -> Vec<f32> {
        let coded = ecc::encode(&self.info_bits(id));
        let mut out = vec![0.0f32; CODED_BITS];
        for (i, (&c, &w)) in coded.iter().zip(&self.whitening).enumerate() {
            out[self.interleave[i]] = if c ^ w { 1.0 } else { -1.0 };
        }
        out
    }

    /// Decodes soft values gathered from the medium (in medium order; positive means `+1`,
    /// the magnitude is the confidence).
    ///
    /// # Panics
    /// If `soft.len() != CODED_BITS`.
    #[must_use]
    pub fn decode(&self, soft: &[f32]) -> Decoded {
        let (soft, coded_soft) = self.prepare(soft);
        self.finish(&ecc::decode(&coded_soft, INFO_BITS), &soft)
    }

    /// Like [`Self::decode`], but returns the `list` most likely distinct payloads (list
    /// Viterbi), best first; the first is what [`Self::decode`] returns. Each entry is a
    /// separate hypothesis: a caller must count every entry it checks as one attempt in the
    /// false-positive bound.
    ///
    /// # Panics
    /// If `soft.len() != CODED_BITS`.
    #[must_use]
    pub fn decode_list(&self, soft: &[f32], list: usize) -> Vec<Decoded> {
        let (soft, coded_soft) = self.prepare(soft);
        ecc::decode_list(&coded_soft, INFO_BITS, list)
            .iter()
            .map(|bits| self.finish(bits, &soft))
            .collect()
    }

    /// Soft values with erasures for non-finite ones, and the same de-interleaved and
    /// de-whitened for the decoder.
    fn prepare(&self, soft: &[f32]) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(soft.len(), CODED_BITS, "decode needs exactly CODED_BITS soft values");
        let soft: Vec<f32> = soft.iter().map(|&v| if v.is_finite() { v } else { 0.0 }).collect();
        // Non-finite values carry no information: treat them as erasures. Then de-interleave
        // and remove the whitening (encoding sent `c XOR w` as +1: with w set, a true `c`
        // arrives negative).
        let coded_soft: Vec<f32> = (0..CODED_BITS)
            .map(|i| {
                let v = soft[self.interleave[i]];
                if self.whitening[i] {
                    -v
                } else {
                    v
                }
            })
            .collect();
        (soft, coded_soft)
    }

    /// The payload of decoded info bits, its tag check and its agreement with `soft`.
    fn finish(&self, bits: &[bool], soft: &[f32]) -> Decoded {
        let id = bits[..ID_BITS].iter().fold(0u64, |acc, &b| (acc << 1) | u64::from(b));
        let tag = bits[ID_BITS..].iter().fold(0u64, |acc, &b| (acc << 1) | u64::from(b));
        let id = ContentId::from_u64(id);
        let tag_ok = tag == self.tag(id);
        let expected = self.encode(id);
        let bit_errors = soft
            .iter()
            .zip(&expected)
            .filter(|(&s, &e)| s != 0.0 && (s > 0.0) != (e > 0.0))
            .count();
        let correlation = spread::normalized_correlation(soft, &expected);
        Decoded { id, tag_ok, bit_errors, correlation }
    }
}

#[cfg(test)]
mod tests;
