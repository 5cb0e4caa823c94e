//! Geometry recovery: the working-resolution residual, its autocorrelation, and the lattice
//! of tile periods (two basis vectors) read from the autocorrelation peaks.
//!
//! The mark repeats with the tile, so the residual's autocorrelation has peaks on the tile
//! lattice whatever scaling, rotation, aspect change or flip the image went through; cropping
//! only removes whole or partial tiles and leaves the lattice alone.

use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::embed::box_blur;
use super::fft2::{fast_size, gaussian_blur, Fft2};

/// Short side of the working image the detector analyses (larger inputs are box-averaged).
pub(crate) const WORKING_SHORT_SIDE: usize = 512;
/// Inner and outer scale of the difference-of-Gaussians residual, in working pixels.
pub(crate) const DOG_SIGMAS: (f32, f32) = (0.8, 3.0);
/// Largest extra weight a quiet area gets over a median one (before the square root).
const SNR_WEIGHT_CAP: f32 = 4.0;
/// Shortest tile period searched, in working pixels (a 3.2-tile 300 px picture downscaled
/// 0.5× has 47 px tiles).
const MIN_PERIOD: f32 = 30.0;
/// Longest period searched, as a fraction of the working image's short side (a 2.5-tile
/// picture cropped to 70 % of each side has tiles of 0.57 of its short side).
const MAX_PERIOD_FRACTION: f32 = 0.6;
/// Autocorrelation peaks kept as basis candidates.
const PEAK_CANDIDATES: usize = 14;

/// A 2-D vector in working pixels.
pub(crate) type V2 = [f32; 2];

/// The normalised residual of the working image: band-passed luma divided by local activity
/// and clipped, so that strong edges and borders do not dominate.
pub(crate) fn residual(luma: &[f32], w: usize, h: usize) -> Vec<f32> {
    let a = gaussian_blur(luma, w, h, DOG_SIGMAS.0);
    let b = gaussian_blur(luma, w, h, DOG_SIGMAS.1);
    let r: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let mag: Vec<f32> = r.iter().map(|v| v.abs()).collect();
    let act = box_blur(&mag, w, h, 4);
    // Local-SNR weighting: dividing by the activity makes the residual unit-variance; the
    // extra factor (c / activity)^0.5 (c = median activity) leans further towards quiet
    // areas, where a unit of mark is worth more than in busy texture.
    let mut sorted = act.clone();
    let mid = sorted.len() / 2;
    let c =
        if sorted.is_empty() { 0.0 } else { *sorted.select_nth_unstable_by(mid, f32::total_cmp).1 }
            + 0.5;
    r.iter()
        .zip(&act)
        .map(|(v, a)| {
            let d = a + 0.5;
            (v / d).clamp(-3.0, 3.0) * (c / d).min(SNR_WEIGHT_CAP).sqrt()
        })
        .collect()
}

/// Candidate lattice bases, best first.
pub(crate) fn lattice_candidates(
    res: &[f32],
    w: usize,
    h: usize,
    max_bases: usize,
) -> Vec<[V2; 2]> {
    let fw = fast_size(w * 3 / 2 + 8);
    let fh = fast_size(h * 3 / 2 + 8);
    let fft = Fft2::new(fw, fh);
    let mut buf = vec![Complex32::default(); fw * fh];
    #[allow(clippy::cast_precision_loss, reason = "pixel counts are far below 2^24")]
    let mean = res.iter().sum::<f32>() / res.len() as f32;
    for y in 0..h {
        for x in 0..w {
            buf[y * fw + x] = Complex32::new(res[y * w + x] - mean, 0.0);
        }
    }
    fft.forward(&mut buf);
    // Root-magnitude spectrum: sharper peaks than the plain power spectrum, and less at the
    // mercy of a few strong image frequencies.
    buf.par_iter_mut().for_each(|c| *c = Complex32::new(c.norm(), 0.0));
    fft.inverse(&mut buf);
    let raw: Vec<f32> = buf.iter().map(|c| c.re).collect();
    // Remove the smooth trend image structure leaves in the autocorrelation, which would
    // otherwise pull the (broad) lattice peaks off by a pixel or two.
    let trend = box_blur(&raw, fw, fh, 9);
    let ac: Vec<f32> = raw.iter().zip(&trend).map(|(a, t)| a - t).collect();
    let at = |dx: i64, dy: i64| -> f32 {
        #[allow(
            clippy::cast_possible_wrap,
            clippy::cast_sign_loss,
            reason = "fft sizes fit in i64; rem_euclid is non-negative"
        )]
        let (x, y) = (dx.rem_euclid(fw as i64) as usize, dy.rem_euclid(fh as i64) as usize);
        ac[y * fw + x]
    };
    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
    let max_p = MAX_PERIOD_FRACTION * w.min(h) as f32;
    if max_p <= MIN_PERIOD {
        return Vec::new();
    }
    #[allow(clippy::cast_possible_truncation, reason = "bounded by the image size")]
    let lim = max_p.ceil() as i64;
    // Statistics of the search annulus (upper half plane: the autocorrelation is symmetric).
    let mut vals = Vec::new();
    let in_annulus = |dx: i64, dy: i64| {
        #[allow(clippy::cast_precision_loss, reason = "small lags")]
        let r = ((dx * dx + dy * dy) as f32).sqrt();
        (dy > 0 || (dy == 0 && dx > 0)) && r >= MIN_PERIOD && r <= max_p
    };
    for dy in 0..=lim {
        for dx in -lim..=lim {
            if in_annulus(dx, dy) {
                vals.push(at(dx, dy));
            }
        }
    }
    if vals.len() < 16 {
        return Vec::new();
    }
    #[allow(clippy::cast_precision_loss, reason = "counts are far below 2^24")]
    let n = vals.len() as f32;
    let mu = vals.iter().sum::<f32>() / n;
    let sd = (vals.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / n).sqrt().max(1e-12);
    let z = |dx: i64, dy: i64| (at(dx, dy) - mu) / sd;
    let mut peaks: Vec<(f32, i64, i64)> = Vec::new();
    for dy in 0..=lim {
        for dx in -lim..=lim {
            if !in_annulus(dx, dy) {
                continue;
            }
            let v = at(dx, dy);
            let mut is_max = true;
            'n: for ny in -1..=1 {
                for nx in -1..=1 {
                    if (nx != 0 || ny != 0) && at(dx + nx, dy + ny) > v {
                        is_max = false;
                        break 'n;
                    }
                }
            }
            if is_max {
                peaks.push((z(dx, dy), dx, dy));
            }
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    peaks.truncate(PEAK_CANDIDATES);
    let refine = |dx: i64, dy: i64| -> V2 {
        let c = at(dx, dy);
        let sub = |m: f32, p: f32| {
            let den = m - 2.0 * c + p;
            if den.abs() < 1e-12 {
                0.0
            } else {
                (0.5 * (m - p) / den).clamp(-0.5, 0.5)
            }
        };
        #[allow(clippy::cast_precision_loss, reason = "small lags")]
        let v = [
            dx as f32 + sub(at(dx - 1, dy), at(dx + 1, dy)),
            dy as f32 + sub(at(dx, dy - 1), at(dx, dy + 1)),
        ];
        v
    };
    // Refine a basis by least squares over every lattice point i*a + j*b in range whose
    // peak stands out: far points pin the vectors down to a fraction of a pixel.
    let refine_basis = |basis: [V2; 2]| -> [V2; 2] {
        let (mut sii, mut sij, mut sjj) = (0.0f32, 0.0f32, 0.0f32);
        let (mut six, mut sjx, mut siy, mut sjy) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for i1 in -4i32..=4 {
            for i2 in 0i32..=4 {
                if i2 == 0 && i1 <= 0 {
                    continue;
                }
                #[allow(clippy::cast_precision_loss, reason = "small multipliers")]
                let (f1, f2) = (i1 as f32, i2 as f32);
                let (px, py) =
                    (f1 * basis[0][0] + f2 * basis[1][0], f1 * basis[0][1] + f2 * basis[1][1]);
                #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
                if px.abs() > 0.8 * w as f32 || py.abs() > 0.8 * h as f32 {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation, reason = "bounded by the image size")]
                let (cx, cy) = (px.round() as i64, py.round() as i64);
                let mut best = (f32::MIN, cx, cy);
                for ny in -2..=2 {
                    for nx in -2..=2 {
                        let a = at(cx + nx, cy + ny);
                        if a > best.0 {
                            best = (a, cx + nx, cy + ny);
                        }
                    }
                }
                if (best.0 - mu) / sd < 3.0 {
                    continue;
                }
                let p = refine(best.1, best.2);
                sii += f1 * f1;
                sij += f1 * f2;
                sjj += f2 * f2;
                six += f1 * p[0];
                sjx += f2 * p[0];
                siy += f1 * p[1];
                sjy += f2 * p[1];
            }
        }
        let det = sii * sjj - sij * sij;
        if det.abs() < 1e-3 {
            return basis;
        }
        let solve = |ri: f32, rj: f32| ((sjj * ri - sij * rj) / det, (sii * rj - sij * ri) / det);
        let (ax, bx) = solve(six, sjx);
        let (ay, by) = solve(siy, sjy);
        let refined = [[ax, ay], [bx, by]];
        // Keep the refinement only if it stays close (a wrong peak must not drag it away).
        let moved = norm([ax - basis[0][0], ay - basis[0][1]])
            .max(norm([bx - basis[1][0], by - basis[1][1]]));
        if moved < 3.0 {
            refined
        } else {
            basis
        }
    };
    let mut bases: Vec<([V2; 2], f32)> = Vec::new();
    for i in 0..peaks.len() {
        for j in i + 1..peaks.len() {
            let a = refine(peaks[i].1, peaks[i].2);
            let b = refine(peaks[j].1, peaks[j].2);
            let (la, lb) = (norm(a), norm(b));
            let sin = (a[0] * b[1] - a[1] * b[0]).abs() / (la * lb);
            if sin < 0.7 || la / lb > 1.6 || lb / la > 1.6 {
                continue;
            }
            let basis = reduce([a, b]);
            if bases.iter().any(|(bb, _)| same_lattice(bb, &basis)) {
                continue;
            }
            // A real tile lattice has peaks at its sums and harmonics too; image structure
            // that happens to peak at two lags does not. Score the mean z over the points.
            let mut zs = Vec::new();
            for (i1, i2) in [
                (1i32, 0i32),
                (0, 1),
                (1, 1),
                (1, -1),
                (2, 0),
                (0, 2),
                (2, 1),
                (1, 2),
                (2, -1),
                (1, -2),
            ] {
                #[allow(clippy::cast_precision_loss, reason = "small multipliers")]
                let (f1, f2) = (i1 as f32, i2 as f32);
                let (px, py) =
                    (f1 * basis[0][0] + f2 * basis[1][0], f1 * basis[0][1] + f2 * basis[1][1]);
                #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
                if px.abs() > 0.85 * w as f32 || py.abs() > 0.85 * h as f32 {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation, reason = "bounded by the image size")]
                let (cx, cy) = (px.round() as i64, py.round() as i64);
                let mut best = f32::MIN;
                for ny in -1..=1 {
                    for nx in -1..=1 {
                        best = best.max(z(cx + nx, cy + ny));
                    }
                }
                zs.push(best.min(20.0));
            }
            if zs.len() < 3 {
                continue;
            }
            #[allow(clippy::cast_precision_loss, reason = "at most 10 points")]
            let score = zs.iter().sum::<f32>() / zs.len() as f32;
            bases.push((basis, score));
        }
    }
    bases.sort_by(|a, b| b.1.total_cmp(&a.1));
    bases.truncate(max_bases);
    // Square-lattice comb: score every period and small rotation by the autocorrelation summed
    // over all its lattice points. It pools far more evidence than single peaks, so it still
    // finds the lattice of small or heavily compressed images (covers scaling, cropping,
    // rotation and flips; aspect changes rely on the peak pairs above).
    let zf = |x: f32, y: f32| -> f32 {
        let (fx, fy) = (x.floor(), y.floor());
        let (wx, wy) = (x - fx, y - fy);
        #[allow(clippy::cast_possible_truncation, reason = "bounded by the image size")]
        let (ix, iy) = (fx as i64, fy as i64);
        let top = z(ix, iy) * (1.0 - wx) + z(ix + 1, iy) * wx;
        let bot = z(ix, iy + 1) * (1.0 - wx) + z(ix + 1, iy + 1) * wx;
        top * (1.0 - wy) + bot * wy
    };
    #[allow(clippy::cast_precision_loss, reason = "image sides are far below 2^24")]
    let (wf, hf) = (w as f32, h as f32);
    let comb = |p: f32, th: f32| -> f32 {
        let (c, sn) = (th.cos(), th.sin());
        let (mut sum, mut n) = (0.0f32, 0.0f32);
        for i2 in 0i32..=3 {
            for i1 in -3i32..=3 {
                if i2 == 0 && i1 <= 0 {
                    continue;
                }
                #[allow(clippy::cast_precision_loss, reason = "small multipliers")]
                let (f1, f2) = (i1 as f32 * p, i2 as f32 * p);
                let (x, y) = (f1 * c - f2 * sn, f1 * sn + f2 * c);
                if x.abs() > 0.8 * wf || y.abs() > 0.8 * hf {
                    continue;
                }
                sum += zf(x, y).min(12.0);
                n += 1.0;
            }
        }
        if n < 2.0 {
            f32::MIN
        } else {
            sum / n.sqrt()
        }
    };
    let mut grid: Vec<(f32, f32, f32)> = Vec::new();
    let mut p = MIN_PERIOD;
    while p <= max_p {
        for ti in -24i32..=24 {
            #[allow(clippy::cast_precision_loss, reason = "small index")]
            let th = (ti as f32 * 0.25).to_radians();
            grid.push((comb(p, th), p, th));
        }
        p += 0.5;
    }
    grid.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut comb_bases: Vec<[V2; 2]> = Vec::new();
    for &(_, p, th) in &grid {
        if comb_bases.len() >= 2 {
            break;
        }
        let (c, sn) = (th.cos(), th.sin());
        let b = [[p * c, p * sn], [-p * sn, p * c]];
        if comb_bases.iter().any(|o| (norm(o[0]) - p).abs() < 4.0) {
            continue;
        }
        comb_bases.push(b);
    }

    let mut out: Vec<[V2; 2]> = Vec::new();
    for b in comb_bases {
        let r = refine_basis(b);
        out.push(r);
    }
    for (b, _) in bases {
        let r = refine_basis(b);
        // The marked tile is square: also try each vector with its perpendicular twin, which
        // repairs a vector pulled off by image structure (at the cost of aspect changes, which
        // the unconstrained basis still covers).
        let perp = |v: V2, like: V2| {
            let p = [-v[1], v[0]];
            if p[0] * like[0] + p[1] * like[1] >= 0.0 {
                p
            } else {
                [-p[0], -p[1]]
            }
        };
        for cand in
            [r, refine_basis([r[0], perp(r[0], r[1])]), refine_basis([perp(r[1], r[0]), r[1]])]
        {
            if !out.iter().any(|o| {
                norm([o[0][0] - cand[0][0], o[0][1] - cand[0][1]]) < 0.7
                    && norm([o[1][0] - cand[1][0], o[1][1] - cand[1][1]]) < 0.7
            }) {
                out.push(cand);
            }
        }
    }
    out
}

fn norm(v: V2) -> f32 {
    (v[0] * v[0] + v[1] * v[1]).sqrt()
}

/// Lagrange–Gauss reduction: the shortest basis of the same lattice.
fn reduce([mut a, mut b]: [V2; 2]) -> [V2; 2] {
    for _ in 0..16 {
        if norm(b) < norm(a) {
            std::mem::swap(&mut a, &mut b);
        }
        let mu = ((a[0] * b[0] + a[1] * b[1]) / (a[0] * a[0] + a[1] * a[1])).round();
        if mu == 0.0 {
            break;
        }
        b = [b[0] - mu * a[0], b[1] - mu * a[1]];
    }
    [a, b]
}

/// Whether two reduced bases span (nearly) the same lattice.
fn same_lattice(p: &[V2; 2], q: &[V2; 2]) -> bool {
    let close = |u: V2, v: V2| {
        let d1 = norm([u[0] - v[0], u[1] - v[1]]);
        let d2 = norm([u[0] + v[0], u[1] + v[1]]);
        d1.min(d2) < 3.0
    };
    (close(p[0], q[0]) && close(p[1], q[1])) || (close(p[0], q[1]) && close(p[1], q[0]))
}
