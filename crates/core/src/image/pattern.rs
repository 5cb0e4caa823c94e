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
/// Fewest tiles across the short side while the cell shrinks towards [`PREFERRED_MIN_CELL`].
pub(crate) const MIN_TILES_PER_SHORT_SIDE: f32 = 3.2;
/// Preferred smallest chip cell, in pixels of the marked image: small pictures keep it (and
/// more tiles) rather than four large tiles, because every extra tile averages more host out
/// of the folded tile (measured on the harness: WebP 50, JPEG 30, crop 70 %, blur 2).
pub(crate) const PREFERRED_MIN_CELL: f32 = 4.0;
/// Smallest chip cell, in pixels, unless that leaves fewer than [`FEWEST_TILES`] across: JPEG
/// 50 erases 2.5 px chips on a flat logo.
pub(crate) const MIN_CELL: f32 = 3.2;
/// Fewest tiles across the short side of the smallest pictures.
pub(crate) const FEWEST_TILES: f32 = 2.5;

/// The chip cell size (pixels) for an image of this size: a quarter of the short side per
/// tile, so the mark scales with the picture; on small pictures not smaller than 4 px unless
/// that leaves fewer than 3.2 tiles across, and never smaller than 3.2 px unless that leaves
/// fewer than 2.5 tiles across.
pub(crate) fn cell_size(width: u32, height: u32) -> f32 {
    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
    let short = width.min(height) as f32;
    let n = N as f32;
    let preferred = (short / (MIN_TILES_PER_SHORT_SIDE * n)).min(PREFERRED_MIN_CELL);
    let floor = (short / (FEWEST_TILES * n)).min(MIN_CELL);
    (short / (TILES_PER_SHORT_SIDE * n)).max(preferred).max(floor)
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
