//! Embedding: the perceptual mask and the rendering of the periodic tile onto the pixels.

use ::image::DynamicImage;

use rayon::prelude::*;

use super::check::{self, WorkingHost};
use super::fft2::Fft2;
use super::lattice::WORKING_SHORT_SIDE;
use super::pattern::{cell_size, TileLayout, N};
use super::pixels::{add_luma_delta, block_extremes, block_luma, with_samples, Layout, Sample};
use crate::Result;

/// Activity (mean absolute Laplacian of block luma, 0..255 scale) at which the mask reaches
/// full strength. Below it the mark fades linearly, down to [`MASK_FLOOR`].
const ACTIVITY_FULL: f32 = 4.0;
/// Mask value in perfectly flat areas (fraction of full strength).
const MASK_FLOOR: f32 = 0.12;
/// Mask value at least in saturated blocks (a colour sample at 0 or 255 within the block):
/// there only one half of the mark fits in the range (a white pixel can only get darker), and
/// a flat saturated area at [`MASK_FLOOR`] keeps a sub-level change that rounds away or clips.
const SATURATED_FLOOR: f32 = 0.5;
/// A block is saturated when a colour sample is within this many levels of 0 or 255.
const SATURATION_ROOM: f32 = 1.0;
/// Peak amplitude (0..255 scale) of the pattern in textured areas at strength 1.
const PEAK_AMPLITUDE: f32 = 8.0;
/// Cap on the RMS of the (unrounded) luminance change at strength 1 (0..255 scale). Rounding
/// to integer samples adds about 5 % to the measured RMS, so this lands near 40.1 dB PSNR
/// (2.28, near 40.6 dB, before the small-picture geometry; see README "Smaller chips").
const RMS_CAP: f32 = 2.44;

/// What an embedding did, for reports and tests.
#[derive(Clone, Copy, Debug)]
pub struct EmbedStats {
    /// Chip cell size used, in pixels.
    pub cell: f32,
    /// Expected RMS of the luminance change (0..255 scale) before rounding and clipping.
    pub rms: f32,
    /// Amplitude factor the self-check chose over the strength setting: 1, √2 or 2.
    pub boost: f32,
    /// Whether the self-check read the mark back cleanly at the amplitude used (raw bit
    /// errors ≤ 10 %, sync z ≥ 8 at the mark's own geometry); `false` means even the
    /// strongest amplitude did not, and the ID may not be found in this picture.
    pub self_check: bool,
}

/// The keyed tile to embed.
pub(crate) struct TileSource<'a> {
    pub layout: &'a TileLayout,
    /// The coded payload, ±1 per coded bit.
    pub coded: &'a [f32],
    /// Plan of the detector's folded-tile transform, for the self-check.
    pub fft: &'a Fft2,
    /// Run the self-check (and boost the amplitude when it fails); `false` embeds at the
    /// nominal amplitude and reports `self_check: false`.
    pub check: bool,
}

/// Adds the tile of `source` to `img` in place, as strong as the self-check needs.
pub(crate) fn embed_tile(
    img: &mut DynamicImage,
    source: &TileSource<'_>,
    strength: f32,
) -> Result<EmbedStats> {
    let (w, h) = (img.width(), img.height());
    let cell = cell_size(w, h);
    with_samples!(img, b, layout, {
        let buf: &mut [_] = b;
        Ok(embed_samples(buf, layout, source, cell, strength))
    })
}

/// The block size of the detector's working image for a picture of this size.
pub(crate) fn detector_block(width: usize, height: usize) -> usize {
    let short = width.min(height);
    ((short + WORKING_SHORT_SIDE / 2) / WORKING_SHORT_SIDE).max(1)
}

/// The perceptual mask on a grid of `k`×`k` blocks: 0..1, high in texture, low in flat areas.
fn mask_grid(luma: &[f32], w: usize, h: usize) -> Vec<f32> {
    let at = |x: isize, y: isize| {
        #[allow(
            clippy::cast_sign_loss,
            clippy::cast_possible_wrap,
            reason = "clamped into 0..w, 0..h"
        )]
        let (x, y) = (x.clamp(0, w as isize - 1) as usize, y.clamp(0, h as isize - 1) as usize);
        luma[y * w + x]
    };
    let mut act = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            #[allow(clippy::cast_possible_wrap, reason = "image sides fit in isize")]
            let (xi, yi) = (x as isize, y as isize);
            let lap = at(xi, yi)
                - 0.25 * (at(xi - 1, yi) + at(xi + 1, yi) + at(xi, yi - 1) + at(xi, yi + 1));
            act[y * w + x] = lap.abs();
        }
    }
    let act = box_blur(&act, w, h, 2);
    act.iter().map(|&a| (a / ACTIVITY_FULL).clamp(MASK_FLOOR, 1.0)).collect()
}

/// Separable box blur of radius `r` with clamped edges: running sums (in f64, so they do not
/// drift) along rows, then down all columns at once, so the cost does not grow with `r`.
pub(crate) fn box_blur(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    #[allow(clippy::cast_precision_loss, reason = "small radius")]
    let norm = 1.0 / (2 * r + 1) as f64;
    // Index `i - r` and `i + r + 1`, clamped to `0..n`.
    let lo = |i: usize| i.saturating_sub(r);
    let hi = |i: usize, n: usize| (i + r + 1).min(n - 1);
    let mut tmp = vec![0.0f32; w * h];
    for (row, out) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        let mut s: f64 = (0..=2 * r).map(|d| f64::from(row[lo(d).min(w - 1)])).sum();
        for x in 0..w {
            out[x] = (s * norm) as f32;
            s += f64::from(row[hi(x, w)]) - f64::from(row[lo(x)]);
        }
    }
    let mut sums: Vec<f64> = vec![0.0; w];
    for d in 0..=2 * r {
        let y = lo(d).min(h - 1);
        for (s, v) in sums.iter_mut().zip(&tmp[y * w..(y + 1) * w]) {
            *s += f64::from(*v);
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let (add, sub) = (hi(y, h) * w, lo(y) * w);
        for (x, s) in sums.iter_mut().enumerate() {
            out[y * w + x] = (*s * norm) as f32;
            *s += f64::from(tmp[add + x]) - f64::from(tmp[sub + x]);
        }
    }
    out
}

/// Linear interpolation indices and weight for sample position `pos` on a grid of `n` points
/// whose point `i` sits at `i`; `wrap` makes the grid cyclic, otherwise it is clamped.
#[inline]
fn lerp_index(pos: f32, n: usize, wrap: bool) -> (usize, usize, f32) {
    let f = pos.floor();
    let w = pos - f;
    #[allow(clippy::cast_possible_truncation, reason = "positions are within the image")]
    let i = f as i64;
    #[allow(
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "n is small; rem_euclid is non-negative"
    )]
    if wrap {
        let n = n as i64;
        (i.rem_euclid(n) as usize, (i + 1).rem_euclid(n) as usize, w)
    } else {
        let last = n as i64 - 1;
        let a = i.clamp(0, last) as usize;
        let b = (i + 1).clamp(0, last) as usize;
        if i < 0 {
            (0, 0, 0.0)
        } else {
            (a, b, w)
        }
    }
}

fn embed_samples<T: Sample>(
    buf: &mut [T],
    layout: Layout,
    source: &TileSource<'_>,
    cell: f32,
    strength: f32,
) -> EmbedStats {
    let tile = source.layout.tile(source.coded);
    let tile = tile.as_slice();
    // The mask lives on blocks about half a chip wide: fine enough to follow texture at the
    // scale of the pattern, coarse enough to cost little.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "cell is in 2..~800"
    )]
    let k = ((cell / 2.0).floor() as usize).max(1);
    let (luma, mw, mh) = block_luma(buf, layout, k);
    let mut grid = MaskGrid { mask: mask_grid(&luma, mw, mh), k, w: mw, h: mh, cell };
    // Saturated blocks (a sample at 0 or 255): there the half of the mark that would leave
    // the range is clipped away, so they get at least `SATURATED_FLOOR` and count with 1/√2
    // in the RMS budget.
    let (hi, lo) = block_extremes(buf, layout, k);
    let saturated: Vec<bool> = hi
        .iter()
        .zip(&lo)
        .map(|(&hi, &lo)| 255.0 - hi < SATURATION_ROOM || lo < SATURATION_ROOM)
        .collect();
    for (m, &s) in grid.mask.iter_mut().zip(&saturated) {
        if s {
            *m = m.max(SATURATED_FLOOR);
        }
    }
    let rows = grid.rows(tile, layout.width);
    let unit_rms = if saturated.contains(&true) {
        let mask = grid
            .mask
            .iter()
            .zip(&saturated)
            .map(|(&m, &s)| if s { m * std::f32::consts::FRAC_1_SQRT_2 } else { m })
            .collect();
        let budget = MaskGrid { mask, k, w: mw, h: mh, cell };
        budget.rows(tile, layout.width).unit_rms(layout.height)
    } else {
        rows.unit_rms(layout.height)
    };
    let nominal = (PEAK_AMPLITUDE * strength).min(RMS_CAP * strength / unit_rms);
    // The self-check on the unmarked pixels, at the nominal amplitude and then stronger ones.
    let chosen = if source.check {
        let kd = detector_block(layout.width, layout.height);
        let (luma, w, h) = block_luma(buf, layout, kd);
        let host =
            WorkingHost { luma: &luma, w, h, k: kd, width: layout.width, height: layout.height };
        check::ReadBack::new(&host, &grid, tile, source.layout, source.coded, source.fft)
            .choose_boost(nominal)
    } else {
        (1.0, false)
    };
    let amp = nominal * chosen.0;
    add_luma_delta(buf, layout, |y, out| rows.render(y, out, amp));
    EmbedStats { cell, rms: amp * unit_rms, boost: chosen.0, self_check: chosen.1 }
}

/// The perceptual mask on its block grid, with the chip cell size: everything needed to
/// render the pattern at any pixel.
pub(crate) struct MaskGrid {
    mask: Vec<f32>,
    k: usize,
    w: usize,
    h: usize,
    pub cell: f32,
}

impl MaskGrid {
    /// The masked pattern of `tile` at unit amplitude on the grid of pixel coordinates
    /// `xs` × `ys` (pixel `i`'s centre is at `i + 0.5`), row-major: what [`Self::rows`]
    /// renders at those points, interpolated the same way.
    pub(crate) fn render_at(&self, tile: &[f32], xs: &[f32], ys: &[f32]) -> Vec<f32> {
        let columns = self.columns(tile, xs);
        let mut out = vec![0.0f32; xs.len() * ys.len()];
        for (&yf, o) in ys.iter().zip(out.chunks_exact_mut(xs.len().max(1))) {
            columns.render_at(yf, o, 1.0);
        }
        out
    }

    /// The pattern of `tile` and the mask, each already interpolated along the pixel columns
    /// of an image `width` pixels wide: what every row needs, computed once.
    fn rows(&self, tile: &[f32], width: usize) -> RowRenderer {
        #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
        let xs: Vec<f32> = (0..width).map(|x| x as f32 + 0.5).collect();
        self.columns(tile, &xs)
    }

    /// The pattern of `tile` and the mask interpolated at the pixel columns `xs`.
    fn columns(&self, tile: &[f32], xs: &[f32]) -> RowRenderer {
        #[allow(clippy::cast_precision_loss, reason = "block sizes are small")]
        let kf = self.k as f32;
        let width = xs.len();
        let mut pattern = vec![0.0f32; N * width];
        let mut mask = vec![0.0f32; self.h * width];
        for (x, &xf) in xs.iter().enumerate() {
            let (p0, p1, pw) = lerp_index(xf / self.cell - 0.5, N, true);
            for r in 0..N {
                pattern[r * width + x] = (1.0 - pw) * tile[r * N + p0] + pw * tile[r * N + p1];
            }
            let (m0, m1, mw) = lerp_index(xf / kf - 0.5, self.w, false);
            for q in 0..self.h {
                let row = &self.mask[q * self.w..(q + 1) * self.w];
                mask[q * width + x] = (1.0 - mw) * row[m0] + mw * row[m1];
            }
        }
        RowRenderer { pattern, mask, width, cell: self.cell, k: self.k, h: self.h }
    }
}

/// Renders rows of the masked pattern: a bilinear interpolation of the tile times a bilinear
/// interpolation of the mask, done as two separable passes (columns once in
/// [`MaskGrid::rows`], then two contiguous row blends per pixel row).
struct RowRenderer {
    /// `N` rows of the tile interpolated along the pixel columns.
    pattern: Vec<f32>,
    /// The mask's block rows interpolated along the pixel columns.
    mask: Vec<f32>,
    width: usize,
    cell: f32,
    k: usize,
    h: usize,
}

impl RowRenderer {
    /// The masked pattern times `amp` along pixel row `y`.
    fn render(&self, y: usize, out: &mut [f32], amp: f32) {
        #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
        self.render_at(y as f32 + 0.5, out, amp);
    }

    /// The masked pattern times `amp` along the row at pixel coordinate `yf`.
    fn render_at(&self, yf: f32, out: &mut [f32], amp: f32) {
        #[allow(clippy::cast_precision_loss, reason = "block sizes are small")]
        let kf = self.k as f32;
        let (r0, r1, rw) = lerp_index(yf / self.cell - 0.5, N, true);
        let (q0, q1, qw) = lerp_index(yf / kf - 0.5, self.h, false);
        let w = self.width;
        let (pa, pb) = (&self.pattern[r0 * w..(r0 + 1) * w], &self.pattern[r1 * w..(r1 + 1) * w]);
        let (ma, mb) = (&self.mask[q0 * w..(q0 + 1) * w], &self.mask[q1 * w..(q1 + 1) * w]);
        let (pwa, pwb) = (amp * (1.0 - rw), amp * rw);
        let (mwa, mwb) = (1.0 - qw, qw);
        for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(pa).zip(pb).zip(ma).zip(mb) {
            *o = (pwa * a + pwb * b) * (mwa * c + mwb * d);
        }
    }

    /// RMS of the unit-amplitude change, measured on one row in four: one row at a keyed-free
    /// pseudo-random offset within every band of four, because a fixed stride aliases with a
    /// chip cell of 4 or 8 px (every sampled row at the same phase of the bilinear chips
    /// under-estimated the RMS by up to 27 %, and the RMS cap let the PSNR fall below 40 dB).
    fn unit_rms(&self, height: usize) -> f32 {
        let rows: Vec<usize> = (0..height)
            .step_by(4)
            .map(|y| {
                #[allow(clippy::cast_possible_truncation, reason = "a hash of the band index")]
                let jitter = ((y as u32 / 4).wrapping_mul(0x9e37_79b9) >> 30) as usize;
                (y + jitter).min(height - 1)
            })
            .collect();
        let (sq, n) = rows
            .par_iter()
            .map(|&y| {
                let mut out = vec![0.0f32; self.width];
                self.render(y, &mut out, 1.0);
                // Eight f32 lanes per row (vectorises; a row is short enough for f32), then
                // f64 across rows.
                let mut lanes = [0.0f32; 8];
                let chunks = out.chunks_exact(8);
                let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
                for c in chunks {
                    for (l, v) in lanes.iter_mut().zip(c) {
                        *l += v * v;
                    }
                }
                (f64::from(lanes.iter().sum::<f32>() + tail), out.len())
            })
            .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            reason = "a mean of squares"
        )]
        let r = ((sq / n.max(1) as f64).sqrt() as f32).max(1e-6);
        r
    }
}
