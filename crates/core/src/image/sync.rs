//! Translation and orientation: fold the residual modulo the lattice into one tile, then
//! correlate it with the keyed sync pattern under the eight symmetries of the square tile
//! (rotations by 90° and mirror images, which covers horizontal and vertical flips).

use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::fft2::Fft2;
use super::lattice::{DOG_SIGMAS, V2};
use super::pattern::{TileLayout, CHIPS, N};

/// Sub-bins per chip in the folded tile.
pub(crate) const SUB: usize = 4;
/// Folded tile side in sub-bins.
pub(crate) const M: usize = N * SUB;
/// Exponent of the spectral whitening of the folded tile (1 = flatten the amplitude
/// envelope). First measured best near 1.5 on the small dev images (over 0, 0.5, 1, 1.5 and
/// 2); with the local-SNR weighting, list decoding and the saturated mask floor in place, 1.25
/// keeps every case 1.5 found and adds ukui_city under WebP 50 (see README, "Whitening").
const WHITENING: f32 = 1.25;

/// The folded residual: the mean residual per sub-bin of the tile.
pub(crate) fn fold(res: &[f32], w: usize, h: usize, basis: &[V2; 2]) -> Option<Vec<f32>> {
    let [a, b] = *basis;
    let det = a[0] * b[1] - a[1] * b[0];
    if det.abs() < 1.0 {
        return None;
    }
    // Tile coordinates t = B^-1 p with B = [a b] (columns).
    let inv = [b[1] / det, -b[0] / det, -a[1] / det, a[0] / det];
    #[allow(clippy::cast_precision_loss, reason = "M is small")]
    let mf = M as f32;
    let (sum, cnt) = (0..h)
        .into_par_iter()
        .fold(
            || (vec![0.0f32; M * M], vec![0u32; M * M]),
            |(mut sum, mut cnt), y| {
                #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
                let yf = y as f32;
                let row = &res[y * w..(y + 1) * w];
                for (x, &v) in row.iter().enumerate() {
                    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
                    let xf = x as f32;
                    let u = inv[0] * xf + inv[1] * yf;
                    let t = inv[2] * xf + inv[3] * yf;
                    let bu = ((u - u.floor()) * mf) as usize % M;
                    let bt = ((t - t.floor()) * mf) as usize % M;
                    sum[bt * M + bu] += v;
                    cnt[bt * M + bu] += 1;
                }
                (sum, cnt)
            },
        )
        .reduce(
            || (vec![0.0f32; M * M], vec![0u32; M * M]),
            |(mut s1, mut c1), (s2, c2)| {
                s1.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
                c1.iter_mut().zip(c2).for_each(|(a, b)| *a += b);
                (s1, c1)
            },
        );
    #[allow(clippy::cast_precision_loss, reason = "counts are far below 2^24")]
    let out = sum.iter().zip(&cnt).map(|(s, &c)| if c > 0 { s / c as f32 } else { 0.0 }).collect();
    Some(out)
}

/// Frequency response, on the `M`×`M` tile grid, of one chip as the detector sees it: the
/// embedder's bilinear (tent) rendering followed by the detector's difference of Gaussians,
/// with the DoG scales converted from working pixels to sub-bins (`cell` = working pixels per
/// chip).
pub(crate) fn chip_response(fft: &Fft2, cell: f32) -> Vec<Complex32> {
    let mut k = vec![Complex32::default(); M * M];
    #[allow(clippy::cast_precision_loss, reason = "SUB is small")]
    let subf = SUB as f32;
    let tent = |d: usize| {
        let d = d.min(M - d);
        #[allow(clippy::cast_precision_loss, reason = "small")]
        let v = 1.0 - d as f32 / subf;
        v.max(0.0)
    };
    for y in 0..M {
        for x in 0..M {
            k[y * M + x] = Complex32::new(tent(x) * tent(y), 0.0);
        }
    }
    fft.forward(&mut k);
    let s1 = DOG_SIGMAS.0 * subf / cell;
    let s2 = DOG_SIGMAS.1 * subf / cell;
    #[allow(clippy::cast_precision_loss, reason = "M is small")]
    let mf = M as f32;
    let freq = |i: usize| {
        #[allow(clippy::cast_precision_loss, reason = "M is small")]
        let f = if i <= M / 2 { i as f32 } else { i as f32 - mf };
        f / mf
    };
    let tau = std::f32::consts::PI * 2.0;
    for y in 0..M {
        for x in 0..M {
            let f2 = freq(x) * freq(x) + freq(y) * freq(y);
            let g = |s: f32| (-0.5 * tau * tau * s * s * f2).exp();
            k[y * M + x] *= g(s1) - g(s2);
        }
    }
    k
}

/// The eight symmetries of the square tile, applied to a folded tile.
pub(crate) fn dihedral(f: &[f32], d: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; M * M];
    for y in 0..M {
        for x in 0..M {
            let (mut sx, mut sy) = if d & 4 != 0 { (y, x) } else { (x, y) };
            if d & 1 != 0 {
                sx = (M - sx) % M;
            }
            if d & 2 != 0 {
                sy = (M - sy) % M;
            }
            out[y * M + x] = f[sy * M + sx];
        }
    }
    out
}

/// One sync hypothesis: a symmetry and a cyclic shift (sub-bins), with its z-score.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SyncPeak {
    pub z: f32,
    pub d: usize,
    pub sx: usize,
    pub sy: usize,
}

/// Matched-filter outputs (`G = F ⋆ chip`) for all eight symmetries, and the sync
/// correlation surfaces, searched for their best peaks.
pub(crate) struct Folded {
    /// Per symmetry, the matched-filter output on the `M`×`M` grid.
    pub matched: Vec<Vec<f32>>,
    /// Best sync peaks over all symmetries and shifts, best first.
    pub peaks: Vec<SyncPeak>,
}

/// Chip positions: chip `(row, col)` sits at sub-bin `(SUB*col, SUB*row)`.
fn sync_impulses(layout: &TileLayout) -> Vec<Complex32> {
    let mut s = vec![Complex32::default(); M * M];
    for &c in &layout.sync {
        let (row, col) = (c / N, c % N);
        s[(SUB * row) * M + SUB * col] = Complex32::new(layout.pn[c], 0.0);
    }
    s
}

/// Correlates the folded tile with the sync pattern under the symmetries `ds`.
pub(crate) fn search(
    fft: &Fft2,
    folded: &[f32],
    layout: &TileLayout,
    cell: f32,
    keep: usize,
    ds: &[usize],
) -> Folded {
    let k = chip_response(fft, cell);
    let mut s = sync_impulses(layout);
    fft.forward(&mut s);
    let results: Vec<(Vec<f32>, Vec<f32>)> = ds
        .par_iter()
        .map(|&d| {
            let fd = dihedral(folded, d);
            let mut spec: Vec<Complex32> = fd.iter().map(|&v| Complex32::new(v, 0.0)).collect();
            fft.forward(&mut spec);
            whiten(&mut spec);
            // G = F ⋆ K: multiply by conj(K).
            let mut g: Vec<Complex32> = spec.iter().zip(&k).map(|(a, b)| a * b.conj()).collect();
            // C = G ⋆ S: multiply by conj(S).
            let mut c: Vec<Complex32> = g.iter().zip(&s).map(|(a, b)| a * b.conj()).collect();
            fft.inverse(&mut g);
            fft.inverse(&mut c);
            (g.iter().map(|v| v.re).collect(), c.iter().map(|v| v.re).collect())
        })
        .collect();
    let all: Vec<f32> = results.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    #[allow(clippy::cast_precision_loss, reason = "8*M*M is small")]
    let n = all.len() as f32;
    let mu = all.iter().sum::<f32>() / n;
    let sd = (all.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / n).sqrt().max(1e-20);
    let mut peaks = Vec::new();
    for (&d, (_, c)) in ds.iter().zip(&results) {
        let mut local: Vec<SyncPeak> = Vec::new();
        for y in 0..M {
            for x in 0..M {
                let v = c[y * M + x];
                let mut is_max = true;
                'n: for dy in [M - 1, 0, 1] {
                    for dx in [M - 1, 0, 1] {
                        if (dx != 0 || dy != 0) && c[((y + dy) % M) * M + (x + dx) % M] > v {
                            is_max = false;
                            break 'n;
                        }
                    }
                }
                if is_max {
                    local.push(SyncPeak { z: (v - mu) / sd, d, sx: x, sy: y });
                }
            }
        }
        local.sort_by(|a, b| b.z.total_cmp(&a.z));
        local.truncate(keep);
        peaks.extend(local);
    }
    peaks.sort_by(|a, b| b.z.total_cmp(&a.z));
    peaks.truncate(keep);
    let mut matched = vec![Vec::new(); 8];
    for (&d, (g, _)) in ds.iter().zip(results) {
        matched[d] = g;
    }
    Folded { matched, peaks }
}

/// Soft chip values for one sync hypothesis, normalised to unit RMS.
pub(crate) fn chips(matched: &[f32], peak: &SyncPeak) -> Vec<f32> {
    let mut v = vec![0.0f32; CHIPS];
    for (c, out) in v.iter_mut().enumerate() {
        let (row, col) = (c / N, c % N);
        let y = (SUB * row + peak.sy) % M;
        let x = (SUB * col + peak.sx) % M;
        *out = matched[y * M + x];
    }
    #[allow(clippy::cast_precision_loss, reason = "CHIPS is small")]
    let rms = (v.iter().map(|a| a * a).sum::<f32>() / CHIPS as f32).sqrt().max(1e-20);
    v.iter_mut().for_each(|a| *a /= rms);
    v
}

/// Divides the folded tile's spectrum by its radially averaged power raised to
/// [`WHITENING`]/2 (the host's spectral envelope dominates it), so the matched filter is not
/// swamped by the host's strong low frequencies.
fn whiten(spec: &mut [Complex32]) {
    let nb = M / 2 + 2;
    let mut sum = vec![0.0f32; nb];
    let mut cnt = vec![0.0f32; nb];
    let ring = |i: usize| {
        let fy = (i / M).min(M - i / M);
        let fx = (i % M).min(M - i % M);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "small non-negative radii"
        )]
        let r = (((fx * fx + fy * fy) as f32).sqrt().round() as usize).min(nb - 1);
        r
    };
    for (i, c) in spec.iter().enumerate() {
        let r = ring(i);
        sum[r] += c.norm_sqr();
        cnt[r] += 1.0;
    }
    let scale: Vec<f32> = sum
        .iter()
        .zip(&cnt)
        .map(|(s, c)| (s / c.max(1.0)).max(1e-20).powf(-0.5 * WHITENING))
        .collect();
    for (i, c) in spec.iter_mut().enumerate() {
        *c *= scale[ring(i)];
    }
}
