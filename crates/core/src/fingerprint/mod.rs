//! Perceptual fingerprints for the ledger's near-duplicate lookup.
//!
//! Both fingerprints are 256 bits (`[u8; 32]`) compared by [`hamming`] distance:
//!
//! - [`image_fingerprint`]: PDQ-style. Luminance, box-filtered down to 64×64, a 3×3 tent blur,
//!   the 2-D DCT, the 16×16 lowest non-DC frequencies, one bit per coefficient: above the median
//!   or not. Survives JPEG recompression, resizing and mild crops.
//! - [`audio_fingerprint`]: chroma-print. The recording is cut into 16 equal time segments;
//!   each gets a 12-band chroma (spectral magnitude folded onto the 12 pitch classes, 110 Hz to
//!   3.5 kHz), normalized to unit sum. Per segment, 12 bits compare neighbouring pitch classes
//!   and 4 bits compare groups of three pitch classes with the previous segment. Survives
//!   MP3/Opus re-encoding, resampling and volume changes (every bit is a ratio comparison).
//!
//! Two files are near duplicates when the distance is at most [`IMAGE_MATCH_RADIUS`] or
//! [`AUDIO_MATCH_RADIUS`]; the radii come from the measurements in the README ("Fingerprints").
//! Neither survives trimming the audio or a large crop: the ledger also keys records by
//! content ID (the watermark), which does.

mod audio_print;
mod image_print;

#[cfg(test)]
mod tests;

pub use self::audio_print::{audio_fingerprint, AudioPrinter};
pub use self::image_print::{image_fingerprint, luma_fingerprint};

/// A 256-bit perceptual fingerprint.
pub type Fingerprint = [u8; 32];

/// Default near-duplicate radius for image fingerprints, in bits of 256.
pub const IMAGE_MATCH_RADIUS: u32 = 48;

/// Default near-duplicate radius for audio fingerprints, in bits of 256.
pub const AUDIO_MATCH_RADIUS: u32 = 32;

/// The number of differing bits.
#[must_use]
pub fn hamming(a: &Fingerprint, b: &Fingerprint) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Packs 256 booleans, most significant bit first.
fn pack(bits: &[bool]) -> Fingerprint {
    let mut out = [0u8; 32];
    for (i, &b) in bits.iter().take(256).enumerate() {
        if b {
            out[i / 8] |= 0x80 >> (i % 8);
        }
    }
    out
}
