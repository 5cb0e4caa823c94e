//! The keyed tile: which chips carry the sync pattern and which carry the coded payload, the
//! chip signs, and the geometry that ties the tile to the image size.

use crate::key::WatermarkKey;
use crate::payload::CODED_BITS;
use crate::spread;

/// Chips per tile side.
pub(crate) const N: usize = 32;
/// Chips per tile.
pub(crate) const CHIPS: usize = N * N;
/// Chips per coded bit (in every tile).
pub(crate) const CHIPS_PER_BIT: usize = 2;
/// Chips of the fixed keyed sync pattern per tile.
pub(crate) const SYNC_CHIPS: usize = CHIPS - CHIPS_PER_BIT * CODED_BITS;
/// Tiles across the short side of the marked image.
pub(crate) const TILES_PER_SHORT_SIDE: f32 = 4.0;
/// Fewest tiles across the short side (small images trade tiles for larger cells).
pub(crate) const MIN_TILES_PER_SHORT_SIDE: f32 = 2.5;
/// Preferred smallest chip cell, in pixels of the marked image: below it JPEG's 8×8 blocks
/// eat the chips.
pub(crate) const PREFERRED_MIN_CELL: f32 = 5.0;

/// The chip cell size (pixels) for an image of this size: a quarter of the short side per
/// tile, so the mark scales with the picture, but never smaller than 5 px unless that would
/// leave fewer than 2.5 tiles across.
pub(crate) fn cell_size(width: u32, height: u32) -> f32 {
    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
    let short = width.min(height) as f32;
    let n = N as f32;
    let largest = short / (MIN_TILES_PER_SHORT_SIDE * n);
    (short / (TILES_PER_SHORT_SIDE * n)).max(largest.min(PREFERRED_MIN_CELL))
}

/// The keyed assignment of chips to roles, built once per key.
#[derive(Clone)]
pub(crate) struct TileLayout {
    /// Keyed ±1 sign of every chip (tile index `row * N + col`).
    pub pn: Vec<f32>,
    /// Chip indices of the sync pattern.
    pub sync: Vec<usize>,
    /// For every coded bit, the chip indices that carry it.
    pub bits: Vec<[usize; CHIPS_PER_BIT]>,
}

impl TileLayout {
    pub(crate) fn new(key: &WatermarkKey) -> Self {
        let pn = spread::pn_chips(key, "provmark/image/v1/chips", CHIPS);
        let perm = spread::keyed_permutation(key, "provmark/image/v1/layout", CHIPS);
        let sync = perm[..SYNC_CHIPS].to_vec();
        let bits = (0..CODED_BITS)
            .map(|j| {
                let mut c = [0usize; CHIPS_PER_BIT];
                for (r, slot) in c.iter_mut().enumerate() {
                    *slot = perm[SYNC_CHIPS + r * CODED_BITS + j];
                }
                c
            })
            .collect();
        Self { pn, sync, bits }
    }

    /// The tile's chip values for one coded payload (`coded[j]` = ±1).
    pub(crate) fn tile(&self, coded: &[f32]) -> Vec<f32> {
        let mut t = vec![0.0f32; CHIPS];
        for &c in &self.sync {
            t[c] = self.pn[c];
        }
        for (j, chips) in self.bits.iter().enumerate() {
            for &c in chips {
                t[c] = self.pn[c] * coded[j];
            }
        }
        t
    }
}
