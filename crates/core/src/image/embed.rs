//! Embedding: the perceptual mask and the rendering of the periodic tile onto the pixels.

use ::image::DynamicImage;

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
/// Cap on the RMS of the luminance change at strength 1 (0..255 scale): about 40.3 dB PSNR.
const RMS_CAP: f32 = 2.45;
/// RMS of a bilinearly interpolated field of independent ±1 chips: (2/3 per axis).
const PATTERN_RMS: f32 = 2.0 / 3.0;

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
        #[allow(
            clippy::explicit_auto_deref,
            reason = "the macro binds a different buffer type per arm"
        )]
        let buf: &mut [_] = &mut **b;
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

/// Separable box blur of radius `r` with clamped edges.
pub(crate) fn box_blur(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; w * h];
    #[allow(clippy::cast_precision_loss, reason = "small radius")]
    let norm = 1.0 / (2 * r + 1) as f32;
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for d in 0..=2 * r {
                let xx = (x + d).saturating_sub(r).min(w - 1);
                s += src[y * w + xx];
            }
            tmp[y * w + x] = s * norm;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for d in 0..=2 * r {
                let yy = (y + d).saturating_sub(r).min(h - 1);
                s += tmp[yy * w + x];
            }
            out[y * w + x] = s * norm;
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
    let mask = mask_grid(&luma, mw, mh);
    #[allow(clippy::cast_precision_loss, reason = "pixel counts are far below 2^24 blocks")]
    let mask_rms = (mask.iter().map(|m| m * m).sum::<f32>() / mask.len() as f32).sqrt();
    let mut amp = PEAK_AMPLITUDE * strength;
    let cap = RMS_CAP * strength;
    let rms = amp * mask_rms * PATTERN_RMS;
    if rms > cap {
        amp *= cap / rms;
    }
    let rms = amp * mask_rms * PATTERN_RMS;

    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
    let kf = k as f32;
    let cols: Vec<(usize, usize, f32, usize, usize, f32)> = (0..layout.width)
        .map(|x| {
            #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
            let xf = x as f32 + 0.5;
            let (p0, p1, pw) = lerp_index(xf / cell - 0.5, N, true);
            let (m0, m1, mwt) = lerp_index(xf / kf - 0.5, mw, false);
            (p0, p1, pw, m0, m1, mwt)
        })
        .collect();
    let render = |y: usize, out: &mut [f32]| {
        #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
        let yf = y as f32 + 0.5;
        let (r0, r1, rw) = lerp_index(yf / cell - 0.5, N, true);
        let (q0, q1, qw) = lerp_index(yf / kf - 0.5, mh, false);
        let mut prow = [0.0f32; N];
        for (i, p) in prow.iter_mut().enumerate() {
            *p = amp * ((1.0 - rw) * tile[r0 * N + i] + rw * tile[r1 * N + i]);
        }
        let mrow: Vec<f32> =
            (0..mw).map(|i| (1.0 - qw) * mask[q0 * mw + i] + qw * mask[q1 * mw + i]).collect();
        for (o, &(p0, p1, pw, m0, m1, mwt)) in out.iter_mut().zip(cols.iter()) {
            let p = (1.0 - pw) * prow[p0] + pw * prow[p1];
            let m = (1.0 - mwt) * mrow[m0] + mwt * mrow[m1];
            *o = p * m;
        }
    };
    add_luma_delta(buf, layout, render);
    EmbedStats { cell, rms }
}
