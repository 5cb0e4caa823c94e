//! Embedding: the perceptual mask and the rendering of the periodic tile onto the pixels.

use ::image::DynamicImage;

use rayon::prelude::*;

use super::pattern::{cell_size, N};
use super::pixels::{add_luma_delta, block_luma, with_samples, Layout, Sample};
use crate::Result;

/// Activity (mean absolute Laplacian of block luma, 0..255 scale) at which the mask reaches
/// full strength. Below it the mark fades linearly, down to [`MASK_FLOOR`].
const ACTIVITY_FULL: f32 = 4.0;
/// Mask value in perfectly flat areas (fraction of full strength).
const MASK_FLOOR: f32 = 0.12;
/// Peak amplitude (0..255 scale) of the pattern in textured areas at strength 1.
const PEAK_AMPLITUDE: f32 = 8.0;
/// Cap on the RMS of the (unrounded) luminance change at strength 1 (0..255 scale). Rounding
/// to integer samples adds about 5 % to the measured RMS, so this lands near 40.5 dB PSNR.
const RMS_CAP: f32 = 2.28;

/// What an embedding did, for reports and tests.
#[derive(Clone, Copy, Debug)]
pub struct EmbedStats {
    /// Chip cell size used, in pixels.
    pub cell: f32,
    /// Expected RMS of the luminance change (0..255 scale) before rounding and clipping.
    pub rms: f32,
}

/// Adds the tile (chip values `tile`, `N`×`N`, row-major) to `img` in place.
pub(crate) fn embed_tile(
    img: &mut DynamicImage,
    tile: &[f32],
    strength: f32,
) -> Result<EmbedStats> {
    let (w, h) = (img.width(), img.height());
    let cell = cell_size(w, h);
    with_samples!(img, b, layout, {
        let buf: &mut [_] = b;
        Ok(embed_samples(buf, layout, tile, cell, strength))
    })
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
    tile: &[f32],
    cell: f32,
    strength: f32,
) -> EmbedStats {
    // The mask lives on blocks about half a chip wide: fine enough to follow texture at the
    // scale of the pattern, coarse enough to cost little.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "cell is in 2..~800"
    )]
    let k = ((cell / 2.0).floor() as usize).max(1);
    let (luma, mw, mh) = block_luma(buf, layout, k);
    let grid = MaskGrid { mask: mask_grid(&luma, mw, mh), k, w: mw, h: mh, cell };
    let amp_of = |tile: &[f32]| {
        let unit_rms = grid.unit_rms(tile, layout.width, layout.height);
        ((PEAK_AMPLITUDE * strength).min(RMS_CAP * strength / unit_rms), unit_rms)
    };
    let (amp, unit_rms) = amp_of(tile);
    let cols = grid.columns(layout.width);
    add_luma_delta(buf, layout, |y, out| grid.render_row(tile, &cols, y, out, amp));
    EmbedStats { cell, rms: amp * unit_rms }
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

/// Per-column interpolation indices: tile column pair and weight, mask column pair and weight.
pub(crate) type Columns = Vec<(usize, usize, f32, usize, usize, f32)>;

impl MaskGrid {
    /// Interpolation indices for pixel columns whose centres sit at `xs` (pixels).
    pub(crate) fn columns_at(&self, xs: impl Iterator<Item = f32>) -> Columns {
        #[allow(clippy::cast_precision_loss, reason = "block sizes are small")]
        let kf = self.k as f32;
        xs.map(|xf| {
            let (p0, p1, pw) = lerp_index(xf / self.cell - 0.5, N, true);
            let (m0, m1, mwt) = lerp_index(xf / kf - 0.5, self.w, false);
            (p0, p1, pw, m0, m1, mwt)
        })
        .collect()
    }

    fn columns(&self, width: usize) -> Columns {
        #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
        self.columns_at((0..width).map(|x| x as f32 + 0.5))
    }

    /// The masked pattern of `tile` times `amp` along the pixel row whose centre is at `yf`.
    pub(crate) fn render_at(
        &self,
        tile: &[f32],
        cols: &Columns,
        yf: f32,
        out: &mut [f32],
        amp: f32,
    ) {
        #[allow(clippy::cast_precision_loss, reason = "block sizes are small")]
        let kf = self.k as f32;
        let (r0, r1, rw) = lerp_index(yf / self.cell - 0.5, N, true);
        let (q0, q1, qw) = lerp_index(yf / kf - 0.5, self.h, false);
        let mut prow = [0.0f32; N];
        for (i, p) in prow.iter_mut().enumerate() {
            *p = amp * ((1.0 - rw) * tile[r0 * N + i] + rw * tile[r1 * N + i]);
        }
        let mw = self.w;
        let mrow: Vec<f32> = (0..mw)
            .map(|i| (1.0 - qw) * self.mask[q0 * mw + i] + qw * self.mask[q1 * mw + i])
            .collect();
        for (o, &(p0, p1, pw, m0, m1, mwt)) in out.iter_mut().zip(cols.iter()) {
            let p = (1.0 - pw) * prow[p0] + pw * prow[p1];
            let m = (1.0 - mwt) * mrow[m0] + mwt * mrow[m1];
            *o = p * m;
        }
    }

    fn render_row(&self, tile: &[f32], cols: &Columns, y: usize, out: &mut [f32], amp: f32) {
        #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
        self.render_at(tile, cols, y as f32 + 0.5, out, amp);
    }

    /// Exact RMS of the unit-amplitude change, measured on every fourth row.
    fn unit_rms(&self, tile: &[f32], width: usize, height: usize) -> f32 {
        let cols = self.columns(width);
        let rows: Vec<usize> = (0..height).step_by(4).collect();
        let (sq, n) = rows
            .par_iter()
            .map(|&y| {
                let mut out = vec![0.0f32; width];
                self.render_row(tile, &cols, y, &mut out, 1.0);
                (out.iter().map(|v| f64::from(v * v)).sum::<f64>(), out.len())
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
