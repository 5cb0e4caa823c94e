//! Generic access to the samples of a [`DynamicImage`]: luma extraction at a reduced
//! resolution and the addition of a luminance delta to every colour channel.
//!
//! All arithmetic is on a 0..255 scale whatever the bit depth, so one strength means the same
//! visual change for 8-bit, 16-bit and float images.

use rayon::prelude::*;

/// A sample type the watermark can read and write.
pub(crate) trait Sample: Copy + Send + Sync {
    /// The sample on a 0..255 scale.
    fn to_unit255(self) -> f32;
    /// Adds `delta` (0..255 scale) with rounding and clamping to the type's range.
    fn add_delta(self, delta: f32) -> Self;

    /// The [`HostStats`] of a buffer: by default the straightforward passes, [`block_luma`]
    /// and [`block_stats`] on the mask grid and [`block_luma`] on the working grid.
    fn host_stats(buf: &[Self], layout: Layout, k: usize, kd: Option<usize>) -> HostStats {
        host_stats_reference(buf, layout, k, kd)
    }

    /// Changes the luma of pixel `x` of a `CH`-channel row by `delta[x]`: a gray pixel
    /// (`COLOUR` = 1) takes it as is, an RGB pixel in the least-squares split of
    /// [`rgb_deltas`], each sample as [`add_delta`](Self::add_delta) adds it.
    #[inline]
    fn add_row<const CH: usize, const COLOUR: usize>(row: &mut [Self], delta: &[f32]) {
        for (px, &d) in row.chunks_exact_mut(CH).zip(delta) {
            if COLOUR == 3 {
                add_rgb(px, d);
            } else {
                px[0] = px[0].add_delta(d);
            }
        }
    }
}

/// BT.601 luma weights of R, G and B (the detector's luma, and JPEG's and WebP's).
pub(crate) const LUMA_WEIGHTS: [f32; 3] = [0.299, 0.587, 0.114];
/// Sum of the squared luma weights.
const LUMA_NORM: f32 = 0.299 * 0.299 + 0.587 * 0.587 + 0.114 * 0.114;
/// Share of a luma change each channel takes in the least-squares split: `w / |w|²` (R
/// 0.669, G 1.313, B 0.255).
const RGB_GAINS: [f32; 3] = [0.299 / LUMA_NORM, 0.587 / LUMA_NORM, 0.114 / LUMA_NORM];

/// The change of R, G and B (0..255 scale) that moves the luma of the pixel `v` by `d` with
/// the least squared error: `d · w / |w|²`, 0.746 of the squared error of the same change on
/// all three channels (+1.27 dB PSNR for the same luma change, which is all the detector,
/// JPEG's luma and a grayscale conversion see). Where a channel would leave the range, the luma
/// it loses goes to the channels that do not, none of them moving more than the green channel's
/// share (so a saturated colour is not pushed far in one channel for a little luma).
#[inline]
pub(crate) fn rgb_deltas(v: [f32; 3], d: f32) -> [f32; 3] {
    let mut out = [0.0f32; 3];
    let mut inside = [false; 3];
    let mut short = d;
    let mut free = 0.0f32;
    for c in 0..3 {
        let want = d * RGB_GAINS[c];
        inside[c] = (0.0..=255.0).contains(&(v[c] + want));
        out[c] = (v[c] + want).clamp(0.0, 255.0) - v[c];
        short -= LUMA_WEIGHTS[c] * out[c];
        if inside[c] {
            free += LUMA_WEIGHTS[c] * LUMA_WEIGHTS[c];
        }
    }
    if short.abs() > 1e-3 && free > 0.0 {
        let limit = (d * RGB_GAINS[1]).abs();
        for c in 0..3 {
            if inside[c] {
                out[c] = (out[c] + short * LUMA_WEIGHTS[c] / free).clamp(-limit, limit);
            }
        }
    }
    out
}

/// The new R, G, B of the 8-bit pixel `v` for the luma change `d`: below one level the same
/// rounded change on every channel, as a gray change (the split would round red and blue away
/// there and leave 0.6–0.9 of the luma: measured, that lost dev cases under WebP 50, noise
/// and the chain); from one level on the split of [`rgb_deltas`], rounded channel by channel
/// with the luma error carried over (green, then red, then blue), so the luma follows `d`
/// within 0.06 level from 1.5 levels on (0.15 below) wherever the range allows, no channel
/// moving more than green's share.
#[inline]
pub(crate) fn rgb8_steps(v: [u8; 3], d: f32) -> [u8; 3] {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped first")]
    let add = |v: u8, step: i32| (i32::from(v) + step).clamp(0, 255) as u8;
    // A step beyond ±1024 saturates any sample as ±1024 does.
    let set = |v: u8, step: f32| add(v, round_half_away(step.clamp(-1024.0, 1024.0)));
    if d.is_nan() {
        // As `add_delta` takes it (the clamps below would panic on NaN bounds).
        return v.map(|c| c.add_delta(d));
    }
    if d.abs() < 1.0 {
        // floor(d + 0.5), as `add_delta` rounds: -1, 0 or 1 here.
        let t = d + 0.5;
        let step = i32::from(t >= 1.0) - i32::from(t < 0.0);
        return v.map(|c| add(c, step));
    }
    let limit = (d * RGB_GAINS[1]).abs();
    let [r, g, b] = LUMA_WEIGHTS;
    let moved = |new: u8, old: u8| f32::from(new) - f32::from(old);
    let green = set(v[1], d * RGB_GAINS[1]);
    let left = d - g * moved(green, v[1]);
    let red = set(v[0], (left * r / (r * r + b * b)).clamp(-limit, limit));
    let left = left - r * moved(red, v[0]);
    let blue = set(v[2], (left / b).clamp(-limit, limit));
    [red, green, blue]
}

/// `x.round()` (half away from zero) as an integer for `|x| ≤ 1024`, without the libm call
/// `f32::round` costs on baseline x86-64: `x - trunc(x)` is exact in `f32` there.
#[inline]
pub(crate) fn round_half_away(x: f32) -> i32 {
    #[allow(clippy::cast_possible_truncation, reason = "|x| ≤ 1024")]
    let t = x as i32;
    #[allow(clippy::cast_precision_loss, reason = "|t| ≤ 1024")]
    let frac = x - t as f32;
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// Adds the luma change `d` to the first three (colour) samples of `px` ([`rgb_deltas`]).
#[inline]
fn add_rgb<T: Sample>(px: &mut [T], d: f32) {
    let v = [px[0].to_unit255(), px[1].to_unit255(), px[2].to_unit255()];
    let deltas = rgb_deltas(v, d);
    for (s, dc) in px.iter_mut().zip(deltas) {
        *s = s.add_delta(dc);
    }
}

impl Sample for u8 {
    #[inline]
    fn to_unit255(self) -> f32 {
        f32::from(self)
    }
    #[inline]
    fn add_delta(self, delta: f32) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to 0..=255 first"
        )]
        let v = (f32::from(self) + delta + 0.5).clamp(0.0, 255.0) as u8;
        v
    }

    /// The same result as `add_delta` per sample: for an integer sample `v`,
    /// `floor(v + d + 0.5) = v + floor(d + 0.5)`, so the delta is rounded once per pixel to a
    /// step `s`; `clamp(v + s, 0, 255)` is then `v` plus `max(s, 0)` minus `max(-s, 0)`, both
    /// saturating (with `s` limited to ±255, which changes no result), and the row takes
    /// those two on whole runs of samples (which vectorises; the alpha channel gets 0 and 0).
    /// RGB pixels take [`rgb8_steps`].
    #[inline]
    fn add_row<const CH: usize, const COLOUR: usize>(row: &mut [Self], delta: &[f32]) {
        if COLOUR == 3 {
            for (px, &d) in row.chunks_exact_mut(CH).zip(delta) {
                let new = rgb8_steps([px[0], px[1], px[2]], d);
                px[..3].copy_from_slice(&new);
            }
            return;
        }
        const RUN: usize = 64;
        for (px, d) in row.chunks_mut(RUN * CH).zip(delta.chunks(RUN)) {
            let mut steps = [0i16; RUN];
            for (s, &d) in steps.iter_mut().zip(d) {
                *s = round_step(d);
            }
            let (mut up, mut down) = ([0u8; RUN * 4], [0u8; RUN * 4]);
            for (i, &s) in steps[..d.len()].iter().enumerate() {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "0..=255 after the clamp"
                )]
                let (u, n) = (s.clamp(0, 255) as u8, (-s).clamp(0, 255) as u8);
                for c in 0..COLOUR {
                    up[i * CH + c] = u;
                    down[i * CH + c] = n;
                }
            }
            for ((v, &u), &n) in px.iter_mut().zip(&up).zip(&down) {
                *v = v.saturating_add(u).saturating_sub(n);
            }
        }
    }

    /// The same result as the reference passes, in one walk over the pixels: for 8-bit samples
    /// the block sums of every channel are integers below 2^24, which `f32` adds exactly in
    /// any order, so they are summed as integers, and the extremes are taken on the integers
    /// (the conversion to `f32` is monotonic); the only inexact sum, the block's luma², keeps
    /// its pixel order (see [`host_stats_u8`]).
    fn host_stats(buf: &[Self], layout: Layout, k: usize, kd: Option<usize>) -> HostStats {
        host_stats_u8(buf, layout, k, kd)
    }
}

/// `floor(d + 0.5)` as the 8-bit row add rounds it: by truncating a positive number (no libm
/// call), exact for |d| < 512; any larger change saturates the sample anyway.
#[inline]
fn round_step(d: f32) -> i16 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=1024 first"
    )]
    let step = (d + 512.5).clamp(0.0, 1024.0) as i16 - 512;
    step
}

impl Sample for u16 {
    #[inline]
    fn to_unit255(self) -> f32 {
        f32::from(self) * (1.0 / 257.0)
    }
    #[inline]
    fn add_delta(self, delta: f32) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to 0..=65535 first"
        )]
        let v = (f32::from(self) + delta * 257.0 + 0.5).clamp(0.0, 65535.0) as u16;
        v
    }
}

impl Sample for f32 {
    #[inline]
    fn to_unit255(self) -> f32 {
        self * 255.0
    }
    #[inline]
    fn add_delta(self, delta: f32) -> Self {
        (self + delta / 255.0).clamp(0.0, 1.0)
    }
}

/// The interleaved layout of a buffer: channels per pixel and how many of them carry colour
/// (1 for gray, 3 for RGB; an alpha channel is never touched).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub colour: usize,
}

/// Calls `f` with the raw samples and layout of any supported image variant.
macro_rules! with_samples {
    ($img:expr, $buf:ident, $layout:ident, $body:expr) => {{
        let width = $img.width() as usize;
        let height = $img.height() as usize;
        match $img {
            ::image::DynamicImage::ImageLuma8(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 1, colour: 1 };
                $body
            }
            ::image::DynamicImage::ImageLumaA8(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 2, colour: 1 };
                $body
            }
            ::image::DynamicImage::ImageRgb8(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 3, colour: 3 };
                $body
            }
            ::image::DynamicImage::ImageRgba8(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 4, colour: 3 };
                $body
            }
            ::image::DynamicImage::ImageLuma16(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 1, colour: 1 };
                $body
            }
            ::image::DynamicImage::ImageLumaA16(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 2, colour: 1 };
                $body
            }
            ::image::DynamicImage::ImageRgb16(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 3, colour: 3 };
                $body
            }
            ::image::DynamicImage::ImageRgba16(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 4, colour: 3 };
                $body
            }
            ::image::DynamicImage::ImageRgb32F(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 3, colour: 3 };
                $body
            }
            ::image::DynamicImage::ImageRgba32F(b) => {
                let $buf = b;
                let $layout =
                    $crate::image::pixels::Layout { width, height, channels: 4, colour: 3 };
                $body
            }
            _ => Err($crate::Error::params("image", "unsupported pixel layout")),
        }
    }};
}
pub(crate) use with_samples;

/// Luma (BT.601 weights, 0..255 scale) averaged over `k`×`k` blocks. The result has
/// `ceil(width / k)` × `ceil(height / k)` samples; partial edge blocks average what they cover.
pub(crate) fn block_luma<T: Sample>(
    buf: &[T],
    layout: Layout,
    k: usize,
) -> (Vec<f32>, usize, usize) {
    let Layout { width, height, channels, colour } = layout;
    let ow = width.div_ceil(k);
    let oh = height.div_ceil(k);
    let mut out = vec![0.0f32; ow * oh];
    out.par_chunks_mut(ow).enumerate().for_each(|(oy, orow)| {
        let y0 = oy * k;
        let y1 = (y0 + k).min(height);
        for y in y0..y1 {
            let row = &buf[y * width * channels..(y + 1) * width * channels];
            // One block of `k` pixels at a time: the channels are summed and weighted once
            // per block (luma is linear), with no division per pixel.
            for (block, o) in row.chunks(k * channels).zip(orow.iter_mut()) {
                if colour == 3 {
                    let (mut r, mut g, mut b) = (0.0f32, 0.0f32, 0.0f32);
                    for px in block.chunks_exact(channels) {
                        r += px[0].to_unit255();
                        g += px[1].to_unit255();
                        b += px[2].to_unit255();
                    }
                    *o += 0.299 * r + 0.587 * g + 0.114 * b;
                } else {
                    *o += block.chunks_exact(channels).map(|px| px[0].to_unit255()).sum::<f32>();
                }
            }
        }
        let rows = (y1 - y0) as f32;
        for (ox, v) in orow.iter_mut().enumerate() {
            let cols = ((ox * k + k).min(width) - ox * k) as f32;
            *v /= rows * cols;
        }
    });
    (out, ow, oh)
}

/// Per-block statistics of the colour samples on the grid of [`block_luma`] (`k`×`k` blocks,
/// 0..255 scale): the largest and the smallest colour sample (the room a luminance change has
/// before it clips) and the mean of the squared pixel luma (with the block mean, the luma's
/// variance inside a block, which the embedder's SSIM budget needs).
pub(crate) struct BlockStats {
    /// Largest colour sample of every block.
    pub hi: Vec<f32>,
    /// Smallest colour sample of every block.
    pub lo: Vec<f32>,
    /// Mean of the squared luma of every block.
    pub sq: Vec<f32>,
}

/// The [`BlockStats`] of every `k`×`k` block, one pass over the pixels.
pub(crate) fn block_stats<T: Sample>(buf: &[T], layout: Layout, k: usize) -> BlockStats {
    let Layout { width, height, channels, colour } = layout;
    let ow = width.div_ceil(k);
    let oh = height.div_ceil(k);
    let mut hi = vec![0.0f32; ow * oh];
    let mut lo = vec![255.0f32; ow * oh];
    let mut sq = vec![0.0f32; ow * oh];
    hi.par_chunks_mut(ow)
        .zip(lo.par_chunks_mut(ow))
        .zip(sq.par_chunks_mut(ow))
        .enumerate()
        .for_each(|(oy, ((hrow, lrow), srow))| {
            let y0 = oy * k;
            let y1 = (y0 + k).min(height);
            for y in y0..y1 {
                let row = &buf[y * width * channels..(y + 1) * width * channels];
                for (((block, h), l), q) in row
                    .chunks(k * channels)
                    .zip(hrow.iter_mut())
                    .zip(lrow.iter_mut())
                    .zip(srow.iter_mut())
                {
                    for px in block.chunks_exact(channels) {
                        let luma = if colour == 3 {
                            let (r, g, b) =
                                (px[0].to_unit255(), px[1].to_unit255(), px[2].to_unit255());
                            *h = h.max(r).max(g).max(b);
                            *l = l.min(r).min(g).min(b);
                            0.299 * r + 0.587 * g + 0.114 * b
                        } else {
                            let v = px[0].to_unit255();
                            *h = h.max(v);
                            *l = l.min(v);
                            v
                        };
                        *q += luma * luma;
                    }
                }
            }
            let rows = (y1 - y0) as f32;
            for (ox, v) in srow.iter_mut().enumerate() {
                let cols = ((ox * k + k).min(width) - ox * k) as f32;
                *v /= rows * cols;
            }
        });
    BlockStats { hi, lo, sq }
}

/// What the embedder reads from the host before marking: block luma and [`BlockStats`] on the
/// mask's grid (`k`×`k` blocks) and, for the self-check, block luma on the detector's working
/// grid (`kd`×`kd` blocks: what [`block_luma`] gives the detector).
pub(crate) struct HostStats {
    /// Block luma on the mask grid, `w`×`h` blocks.
    pub luma: Vec<f32>,
    pub w: usize,
    pub h: usize,
    /// Extremes and mean luma² on the mask grid.
    pub stats: BlockStats,
    /// Block luma on the working grid, with its width and height, when asked for.
    pub working: Option<(Vec<f32>, usize, usize)>,
}

/// The straightforward [`HostStats`]: one pass over the pixels per grid and statistic.
pub(crate) fn host_stats_reference<T: Sample>(
    buf: &[T],
    layout: Layout,
    k: usize,
    kd: Option<usize>,
) -> HostStats {
    let (luma, w, h) = block_luma(buf, layout, k);
    let stats = block_stats(buf, layout, k);
    let working = kd.map(|kd| block_luma(buf, layout, kd));
    HostStats { luma, w, h, stats, working }
}

/// [`HostStats`] of 8-bit samples in one walk over the pixels, bit for bit those of
/// [`host_stats_reference`].
fn host_stats_u8(buf: &[u8], layout: Layout, k: usize, kd: Option<usize>) -> HostStats {
    match (layout.channels, layout.colour) {
        (1, 1) => host_stats_walk::<1, 1>(buf, layout, k, kd),
        (2, 1) => host_stats_walk::<2, 1>(buf, layout, k, kd),
        (3, 3) => host_stats_walk::<3, 3>(buf, layout, k, kd),
        (4, 3) => host_stats_walk::<4, 3>(buf, layout, k, kd),
        _ => host_stats_reference(buf, layout, k, kd),
    }
}

/// One band's rows of the mask grid, while its pixel rows are walked.
struct MaskBand<'a> {
    luma: &'a mut [f32],
    sq: &'a mut [f32],
    hi: &'a mut [u8],
    lo: &'a mut [u8],
}

/// The walk of [`host_stats_u8`] for `CH`-channel pixels whose first `COLOUR` channels are
/// colour: parallel over bands of rows that whole blocks of both grids tile (a multiple of
/// `k` and of `kd`), every row read once for both grids.
fn host_stats_walk<const CH: usize, const COLOUR: usize>(
    buf: &[u8],
    layout: Layout,
    k: usize,
    kd: Option<usize>,
) -> HostStats {
    let Layout { width, height, .. } = layout;
    // A block row's channel sum is an integer of at most `k * 255`, below 2^24, so it is the
    // same whether `f32` adds it sample by sample (the reference) or it is summed as integers.
    debug_assert!(k.max(kd.unwrap_or(1)) * 255 < 1 << 24);
    let (w, h) = (width.div_ceil(k), height.div_ceil(k));
    let band = kd.map_or(k, |kd| k / gcd(k, kd) * kd);
    // The weighted channels of the luma, as the reference computes them per pixel.
    let weighted = |wt: f32| -> [f32; 256] {
        std::array::from_fn(|v| {
            #[allow(clippy::cast_possible_truncation, reason = "v < 256")]
            let v = v as u8;
            wt * f32::from(v)
        })
    };
    let lut = [weighted(0.299), weighted(0.587), weighted(0.114)];
    let (mut luma, mut sq) = (vec![0.0f32; w * h], vec![0.0f32; w * h]);
    let (mut hi, mut lo) = (vec![0u8; w * h], vec![255u8; w * h]);
    let mut working = kd.map(|kd| {
        let (ww, wh) = (width.div_ceil(kd), height.div_ceil(kd));
        (vec![0.0f32; ww * wh], ww, wh)
    });
    let walk = |y0: usize, out: MaskBand<'_>, mut work: Option<(&mut [f32], usize)>| {
        let y1 = (y0 + band).min(height);
        // The squares of one pixel row, `k` rows of `w`: square `i` of every block in row `i`.
        let mut squares = vec![0.0f32; k * w];
        // The channel sums of the blocks of one row, for either grid.
        let mut sums = vec![[0i32; 3]; w.max(width.div_ceil(kd.unwrap_or(k)))];
        for y in y0..y1 {
            let row = &buf[y * width * CH..(y + 1) * width * CH];
            let (r, ya) = ((y - y0) / k, y0 + (y - y0) / k * k);
            let cells = r * w..(r + 1) * w;
            let (luma, sq) = (&mut out.luma[cells.clone()], &mut out.sq[cells.clone()]);
            let (hi, lo) = (&mut out.hi[cells.clone()], &mut out.lo[cells]);
            for ((b, block), s) in row.chunks(k * CH).enumerate().zip(sums.iter_mut()) {
                *s = [0; 3];
                for (i, px) in block.chunks_exact(CH).enumerate() {
                    for c in 0..COLOUR {
                        s[c] += i32::from(px[c]);
                    }
                    let l = if COLOUR == 3 {
                        lut[0][usize::from(px[0])]
                            + lut[1][usize::from(px[1])]
                            + lut[2][usize::from(px[2])]
                    } else {
                        f32::from(px[0])
                    };
                    squares[i * w + b] = l * l;
                }
                let (h, l) = extremes::<CH, COLOUR>(block);
                hi[b] = hi[b].max(h);
                lo[b] = lo[b].min(l);
            }
            add_luma_of_sums::<COLOUR>(luma, &sums);
            // A partial last block adds +0.0 for its missing pixels, which leaves its
            // (non-negative) sum as it is.
            let last = width - (w - 1) * k;
            for i in last..k {
                squares[i * w + w - 1] = 0.0;
            }
            // `f32` rounds every addition of the squares, so each block adds its own in pixel
            // order, as the reference does: one row of squares at a time, all blocks at once.
            for row in squares.chunks_exact(w) {
                for (a, &v) in sq.iter_mut().zip(row) {
                    *a += v;
                }
            }
            if y + 1 == (ya + k).min(height) {
                #[allow(clippy::cast_precision_loss, reason = "block sides are small")]
                let rows = (y + 1 - ya) as f32;
                for (ox, (l, q)) in luma.iter_mut().zip(sq.iter_mut()).enumerate() {
                    #[allow(clippy::cast_precision_loss, reason = "block sides are small")]
                    let cols = ((ox * k + k).min(width) - ox * k) as f32;
                    *l /= rows * cols;
                    *q /= rows * cols;
                }
            }
            if let Some((work, kd)) = work.as_mut() {
                let kd = *kd;
                let ww = width.div_ceil(kd);
                let (r, ya) = ((y - y0) / kd, y0 + (y - y0) / kd * kd);
                let out = &mut work[r * ww..(r + 1) * ww];
                for (block, s) in row.chunks(kd * CH).zip(sums.iter_mut()) {
                    *s = [0; 3];
                    for px in block.chunks_exact(CH) {
                        for c in 0..COLOUR {
                            s[c] += i32::from(px[c]);
                        }
                    }
                }
                add_luma_of_sums::<COLOUR>(out, &sums);
                if y + 1 == (ya + kd).min(height) {
                    #[allow(clippy::cast_precision_loss, reason = "block sides are small")]
                    let rows = (y + 1 - ya) as f32;
                    for (ox, v) in out.iter_mut().enumerate() {
                        #[allow(clippy::cast_precision_loss, reason = "block sides are small")]
                        let cols = ((ox * kd + kd).min(width) - ox * kd) as f32;
                        *v /= rows * cols;
                    }
                }
            }
        }
    };
    let n = band / k * w;
    let bands = luma
        .par_chunks_mut(n)
        .zip(sq.par_chunks_mut(n))
        .zip(hi.par_chunks_mut(n))
        .zip(lo.par_chunks_mut(n))
        .map(|(((luma, sq), hi), lo)| MaskBand { luma, sq, hi, lo })
        .enumerate();
    match (working.as_mut(), kd) {
        (Some((work, ww, _)), Some(kd)) => bands
            .zip(work.par_chunks_mut(band / kd * *ww))
            .for_each(|((i, out), work)| walk(i * band, out, Some((work, kd)))),
        _ => bands.for_each(|(i, out)| walk(i * band, out, None)),
    }
    let stats = BlockStats {
        hi: hi.into_iter().map(f32::from).collect(),
        lo: lo.into_iter().map(f32::from).collect(),
        sq,
    };
    HostStats { luma, w, h, stats, working }
}

/// The largest and the smallest colour sample of a block of a row.
#[inline]
fn extremes<const CH: usize, const COLOUR: usize>(block: &[u8]) -> (u8, u8) {
    if CH == COLOUR {
        // Every sample is colour: plain reductions over the bytes (they vectorise).
        let hi = block.iter().copied().max().unwrap_or(0);
        let lo = block.iter().copied().min().unwrap_or(255);
        (hi, lo)
    } else {
        block.chunks_exact(CH).fold((0, 255), |(hi, lo), px| {
            px[..COLOUR].iter().fold((hi, lo), |(hi, lo), &v| (v.max(hi), v.min(lo)))
        })
    }
}

/// Adds to every block the luma of its row's channel sums, as [`block_luma`] weighs its `f32`
/// sums (all blocks at once, which vectorises).
#[inline]
fn add_luma_of_sums<const COLOUR: usize>(luma: &mut [f32], sums: &[[i32; 3]]) {
    for (o, s) in luma.iter_mut().zip(sums) {
        #[allow(clippy::cast_precision_loss, reason = "below 2^24, exact")]
        let [r, g, b] = s.map(|v| v as f32);
        *o += if COLOUR == 3 { 0.299 * r + 0.587 * g + 0.114 * b } else { r };
    }
}

/// Greatest common divisor.
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Adds a per-pixel luminance delta (gray: to the one channel; RGB: split over the channels
/// as [`rgb_deltas`] does), row by row in parallel.
/// `row_delta(y, out)` fills `out` (length `width`) with the deltas of row `y`.
pub(crate) fn add_luma_delta<T, F>(buf: &mut [T], layout: Layout, row_delta: F)
where
    T: Sample,
    F: Fn(usize, &mut [f32]) + Sync,
{
    let Layout { width, channels, colour, .. } = layout;
    buf.par_chunks_mut(width * channels).enumerate().for_each_init(
        || vec![0.0f32; width],
        |delta, (y, row)| {
            row_delta(y, delta);
            // Constant chunk sizes for the common layouts let the compiler unroll the loop.
            match (channels, colour) {
                (1, 1) => T::add_row::<1, 1>(row, delta),
                (3, 3) => T::add_row::<3, 3>(row, delta),
                (4, 3) => T::add_row::<4, 3>(row, delta),
                (2, 1) => T::add_row::<2, 1>(row, delta),
                _ => {
                    for (px, &d) in row.chunks_exact_mut(channels).zip(delta.iter()) {
                        if colour == 3 {
                            add_rgb(px, d);
                        } else {
                            px[0] = px[0].add_delta(d);
                        }
                    }
                }
            }
        },
    );
}
