//! The embedder's self-check: how the detector will read the mark, before it is written.
//!
//! On busy texture (gravel, tissue under a microscope) the host's own band-passed detail
//! swamps a mark at the PSNR budget: measured on such pictures, a third of the coded bits came
//! out wrong with no attack at all, and the ID was not found. The embedder knows the host and
//! the geometry it is about to write, so it runs the detector's own analysis (working-
//! resolution luma, residual, fold, sync correlation, matched filter) on the host plus the
//! mark rendered at the working resolution, and counts the raw bit errors and the sync
//! z-score there. A mark that would read back with too many errors or too weak a sync is
//! made stronger in +1.5 dB steps up to +6 dB, first only in the blocks whose SSIM budget
//! leaves room (texture: flat and dark areas keep their mark), then, as the last resort, the
//! whole mark +6 dB; only such pictures pay for it.

use super::embed::MaskGrid;
use super::fft2::Fft2;
use super::lattice::{residual, V2};
use super::pattern::{TileLayout, N};
use super::sync::{self, SyncPeak};
use crate::payload::CODED_BITS;

/// Largest share of raw bit errors a mark may read back with (as the audio self-check).
const MAX_RAW_ERRORS: f32 = 0.10;
/// Smallest sync z-score at the known geometry (unmarked pictures peak near 4.5).
const MIN_SYNC_Z: f32 = 8.0;
/// One amplitude the self-check may try: a factor over the nominal amplitude, applied where
/// the SSIM budget leaves room (`local`) or to the whole mark.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Boost {
    pub factor: f32,
    pub local: bool,
}

/// Amplitudes tried in turn: nominal, then +1.5 dB steps to +6 dB in textured blocks only
/// (where the SSIM budget leaves room), then +6 dB everywhere as the last resort.
pub(crate) const BOOSTS: [Boost; 6] = [
    Boost { factor: 1.0, local: false },
    Boost { factor: 1.189_207_1, local: true },
    Boost { factor: std::f32::consts::SQRT_2, local: true },
    Boost { factor: 1.681_792_8, local: true },
    Boost { factor: 2.0, local: true },
    Boost { factor: 2.0, local: false },
];

/// The detector's view of the host: its working-resolution luma (0..255), the block size it
/// was averaged over, and the full image size.
pub(crate) struct WorkingHost<'a> {
    pub luma: &'a [f32],
    pub w: usize,
    pub h: usize,
    pub k: usize,
    pub width: usize,
    pub height: usize,
}

/// How the detector would read one mark at its own geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    /// Coded bits whose soft value has the wrong sign.
    pub raw_errors: usize,
    /// Sync z-score at the mark's geometry.
    pub sync_z: f32,
}

impl Reading {
    /// Whether the mark reads back with room to spare.
    pub(crate) fn passes(&self) -> bool {
        #[allow(clippy::cast_precision_loss, reason = "bit counts are small")]
        let share = self.raw_errors as f32 / CODED_BITS as f32;
        share <= MAX_RAW_ERRORS && self.sync_z >= MIN_SYNC_Z
    }
}

/// The detector's reading of one tile on one host, at any amplitude: the mark is rendered at
/// the working resolution once and scaled per amplitude tried.
pub(crate) struct ReadBack<'a> {
    host: &'a WorkingHost<'a>,
    /// The mark at unit amplitude on the working grid.
    mark: Vec<f32>,
    /// Working pixels per chip.
    cell_w: f32,
    layout: &'a TileLayout,
    coded: &'a [f32],
    fft: &'a Fft2,
}

impl<'a> ReadBack<'a> {
    /// Prepares the reading of `tile` (the tile of `coded`), rendered by `grid`, on `host`.
    pub(crate) fn new(
        host: &'a WorkingHost<'a>,
        grid: &MaskGrid,
        tile: &[f32],
        layout: &'a TileLayout,
        coded: &'a [f32],
        fft: &'a Fft2,
    ) -> Self {
        let centres = |n: usize, full: usize| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    let (a, b) = (i * host.k, (i * host.k + host.k).min(full));
                    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
                    let c = 0.5 * (a + b) as f32;
                    c
                })
                .collect()
        };
        // The detector's block average of the mark: the pattern at each block's centre.
        let mark =
            grid.render_at(tile, &centres(host.w, host.width), &centres(host.h, host.height));
        #[allow(clippy::cast_precision_loss, reason = "block sizes are small")]
        let cell_w = grid.cell / host.k as f32;
        Self { host, mark, cell_w, layout, coded, fft }
    }

    /// Reads the mark at amplitude `amp` as the detector would at the mark's own geometry;
    /// `None` if the fold is degenerate or no sync peak lies at the tile's origin.
    pub(crate) fn read(&self, amp: f32) -> Option<Reading> {
        let (host, layout) = (self.host, self.layout);
        #[allow(clippy::cast_precision_loss, reason = "N is small")]
        let period = self.cell_w * N as f32;
        let basis: [V2; 2] = [[period, 0.0], [0.0, period]];
        // The working luma with the mark added, clipped to the 0..255 range.
        let luma: Vec<f32> = host
            .luma
            .iter()
            .zip(&self.mark)
            .map(|(l, m)| (l + amp * m).clamp(0.0, 255.0))
            .collect();
        let res = residual(&luma, host.w, host.h);
        let folded = sync::fold(&res, host.w, host.h, &basis)?;
        let found = sync::search(self.fft, &folded, layout, self.cell_w, 64, &[0]);
        // The tile's origin lands on sub-bin 1 or 2 of the fold whatever the picture's size (a
        // chip's centre, less half a working block).
        let near_origin = |p: &&SyncPeak| p.sx <= 2 && p.sy <= 2;
        let peak = found.peaks.iter().find(near_origin).copied()?;
        let chips = sync::chips(&found.matched[0], &peak);
        let raw_errors = layout
            .bits
            .iter()
            .zip(self.coded)
            .filter(|(cs, &b)| b * cs.iter().map(|&c| layout.pn[c] * chips[c]).sum::<f32>() <= 0.0)
            .count();
        Some(Reading { raw_errors, sync_z: peak.z })
    }
}
