//! Detection: features per hop, a search over (time scale, frequency scale, block offset)
//! driven by the keyed sync chips, and soft combining of the payload slots.
//!
//! The input is cut into segments of ≈ 8.4 s (three blocks). In each segment and for every
//! (time-scale, frequency-scale) hypothesis, sub-band log energies are whitened against their
//! frequency neighbours (which cancels most of the host spectrum), resampled along time, summed
//! per symbol for each of the four hop phases and folded modulo the block length; the sync
//! correlation of every block offset then costs one pass over the folded block. A hypothesis
//! is scored on one block grid shared by all segments (each may deviate by a hop; a segment
//! whose own best offset is strong keeps it, so splices and inserted silence only cost their
//! own segment), and the segments' folded payload slots are added, weighted by their sync
//! z-score. Sub-bands a filter removed are left out.

use rayon::prelude::*;

use super::embed::Strength;
use super::layout::{Grid, Layout, BLOCK_SYMBOLS, HOPS_PER_SYMBOL, SUBBANDS};
use super::mask;
use super::stft::{Plans, Scratch};

/// Segment length in hops (≈ 8.4 s, several blocks: long enough for a confident sync per
/// segment, short enough that a splice costs at most a segment or two).
pub(crate) const SEGMENT_HOPS: usize = 360;

/// The hypotheses searched.
#[derive(Clone, Debug)]
pub(crate) struct Search {
    /// Time-scale factors (attacked duration / original duration).
    pub(crate) time_scales: Vec<f64>,
    /// Frequency-scale factors (attacked frequency / original frequency).
    pub(crate) freq_scales: Vec<f64>,
    /// Whether features are weighted by each cell's share above the noise floor
    /// (see `noise_weights`).
    pub(crate) noise_weighted: bool,
    /// Whether features are weighted by the embedder's level-dependent depths
    /// ([`mask::embedding_depths`]); otherwise by those of a fixed share of each frame's
    /// reference power (the weights before 2026-11-29 afternoon; kept for comparison).
    pub(crate) level_depths: bool,
}

impl Search {
    /// A grid over `±time_range` in steps of `time_step` and `[freq_lo, freq_hi]` in steps of
    /// `freq_step`.
    pub(crate) fn new(
        time_range: f64,
        time_step: f64,
        freq_lo: f64,
        freq_hi: f64,
        freq_step: f64,
    ) -> Self {
        let grid = |lo: f64, hi: f64, step: f64| -> Vec<f64> {
            if step <= 0.0 || hi <= lo {
                return vec![1.0];
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "small count"
            )]
            let n = ((hi - lo) / step).round() as usize;
            let mut v: Vec<f64> =
                (0..=n).map(|i| lo + (hi - lo) * i as f64 / n.max(1) as f64).collect();
            // Make sure the identity is tried exactly.
            if let Some(closest) =
                v.iter_mut().min_by(|a, b| (**a - 1.0).abs().total_cmp(&(**b - 1.0).abs()))
            {
                if (*closest - 1.0).abs() < step / 2.0 {
                    *closest = 1.0;
                }
            }
            v
        };
        Self {
            time_scales: grid(1.0 - time_range, 1.0 + time_range, time_step),
            freq_scales: grid(freq_lo, freq_hi, freq_step),
            noise_weighted: false,
            level_depths: true,
        }
    }
}

/// Power spectra of consecutive hops of one segment, as per-frame prefix sums over bins.
pub(crate) struct Spectra {
    hops: usize,
    stride: usize,
    prefix: Vec<f32>,
    pub(crate) total: Vec<f32>,
}

impl Spectra {
    pub(crate) fn compute(
        grid: &Grid,
        plans: &Plans,
        mono: &[f32],
        first_hop: usize,
        hops: usize,
        max_bin: usize,
    ) -> Self {
        let stride = max_bin + 2;
        let mut prefix = vec![0.0f32; hops * stride];
        let mut total = vec![0.0f32; hops];
        prefix.par_chunks_mut(stride).zip(total.par_iter_mut()).enumerate().for_each_init(
            || Scratch::new(plans),
            |s, (i, (row, tot))| {
                s.analyze(plans, mono, (first_hop + i) * grid.hop);
                *tot = power_row(&s.spec, max_bin, row);
            },
        );
        Self { hops, stride, prefix, total }
    }

    /// As [`compute`](Self::compute) for the mix of the `channels` (1 or 2) interleaved
    /// channels of `samples`, from each channel's own spectrum (the mix's spectrum is their
    /// average), keeping each channel's bins `band` of every hop in `keep`
    /// (`keep[(hop · channels + c) · band.len()..]`): the marker then needs no forward
    /// transform of its own.
    #[allow(clippy::too_many_arguments, reason = "the signal, the segment and the kept band")]
    pub(crate) fn compute_channels(
        grid: &Grid,
        plans: &Plans,
        (samples, channels): (&[f32], usize),
        first_hop: usize,
        hops: usize,
        max_bin: usize,
        (band, keep): (std::ops::Range<usize>, &mut [realfft::num_complex::Complex32]),
    ) -> Self {
        debug_assert!((1..=2).contains(&channels));
        let stride = max_bin + 2;
        let width = band.len();
        let mut prefix = vec![0.0f32; hops * stride];
        let mut total = vec![0.0f32; hops];
        prefix
            .par_chunks_mut(stride)
            .zip(total.par_iter_mut())
            .zip(keep.par_chunks_mut(channels * width))
            .enumerate()
            .for_each_init(
                || (Scratch::new(plans), Vec::new()),
                |(s, mix), (i, ((row, tot), kept))| {
                    let at = (first_hop + i) * grid.hop;
                    s.analyze_strided(plans, samples, at, channels, 0);
                    kept[..width].copy_from_slice(&s.spec[band.clone()]);
                    let spec: &[realfft::num_complex::Complex32] = if channels == 2 {
                        mix.clone_from(&s.spec);
                        s.analyze_strided(plans, samples, at, channels, 1);
                        kept[width..].copy_from_slice(&s.spec[band.clone()]);
                        for (m, x) in mix.iter_mut().zip(&s.spec) {
                            *m = (*m + x) * 0.5;
                        }
                        mix
                    } else {
                        &s.spec
                    };
                    *tot = power_row(spec, max_bin, row);
                },
            );
        Self { hops, stride, prefix, total }
    }

    /// Power between fractional bin positions `lo` and `hi` (bin `i` spans `[i-0.5, i+0.5)`).
    fn band(&self, hop: usize, lo: f64, hi: f64) -> f32 {
        let row = &self.prefix[hop * self.stride..(hop + 1) * self.stride];
        let at = |x: f64| -> f32 {
            let p = (x + 0.5).clamp(0.0, (self.stride - 1) as f64);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped")]
            let i = p.floor() as usize;
            let frac = (p - i as f64) as f32;
            let a = row[i];
            let b = row[(i + 1).min(self.stride - 1)];
            a + (b - a) * frac
        };
        (at(hi) - at(lo)).max(0.0)
    }
}

/// Fills `row` with the cumulative power of `spec`'s bins `0..=max_bin` (`row[b + 1]` up to
/// bin `b`, summed in `f64`; bins past the spectrum add nothing) and returns the total power
/// of all its bins.
fn power_row(spec: &[realfft::num_complex::Complex32], max_bin: usize, row: &mut [f32]) -> f32 {
    let mut acc = 0.0f64;
    row[0] = 0.0;
    for b in 0..=max_bin {
        acc += f64::from(spec.get(b).map_or(0.0, |c| c.norm_sqr()));
        row[b + 1] = acc as f32;
    }
    spec.iter().map(|c| c.norm_sqr()).sum()
}

/// Whitened sub-band features of a segment for one frequency scale, with what the embedder
/// needs to predict the mark's response in them.
pub(crate) struct Features {
    /// `d[hop * SUBBANDS + k]`: normalised, clipped feature weighted by `depth / cap`, the
    /// depth a fixed share of each frame's reference power ([`mask::reference_power`]) would
    /// give (what the embedder's simulation uses; the detector's [`features`] may give other
    /// depths).
    pub(crate) d: Vec<f32>,
}

/// Sub-bands on each side whose mean log energy is subtracted from a sub-band (the host's
/// spectral envelope). Each neighbour's own mark leaks into the feature with weight
/// `1 / (2·NEIGHBOURS)`; three per side keep that self-interference small.
pub(crate) const NEIGHBOURS: usize = 3;

/// Reach of the moving average subtracted along time, in hops (≈ ±0.4 s).
pub(crate) const REACH: usize = 16;

/// Whitened sub-band features `d[hop][k]` of a segment for one frequency scale, each weighted
/// by the modulation depth the embedder would have used there, so strongly marked cells count
/// more: with `search.level_depths`, the level-dependent depths of [`mask::embedding_depths`]
/// (the ones the embedder uses: quiet frames carry a larger share of their power), otherwise
/// the depths of a fixed share of each frame's reference power. The depths are estimated from
/// the received spectrum with the embedder's own water-filling. With `search.noise_weighted`,
/// also by the cell's share above the noise floor ([`noise_weights`]), and the level-dependent
/// depths come from the energies above that floor (the host's, as the embedder saw them: added
/// noise makes the quiet frames look loud and the weak sub-bands look strong).
pub(crate) fn features(
    spectra: &Spectra,
    grid: &Grid,
    freq_scale: f64,
    strength: Strength,
    search: &Search,
) -> Vec<f32> {
    let energy = band_energies(spectra, grid, freq_scale);
    let hops = spectra.hops;
    let dead = Some(dead_bands(&energy, hops));
    let level_depths = |e: &[f32], totals: &[f32]| {
        mask::embedding_depths(e, totals, strength.budget, strength.cap, strength.level_gain_max)
    };
    if !search.noise_weighted {
        let depth = search.level_depths.then(|| level_depths(&energy, &spectra.total));
        return features_with(energy, &spectra.total, strength, dead.as_ref(), depth).d;
    }
    let floors = noise_floors(&energy, hops);
    let weights = noise_weights(&energy, floors.as_ref());
    let depth = search.level_depths.then(|| {
        let (host, totals) = above_floor(&energy, &spectra.total, floors.as_ref());
        level_depths(&host, &totals)
    });
    let mut d = features_with(energy, &spectra.total, strength, dead.as_ref(), depth).d;
    d.iter_mut().zip(&weights).for_each(|(v, w)| *v *= w);
    d
}

/// Percentile of a sub-band's energies over the segment taken as its noise floor.
pub(crate) const NOISE_PERCENTILE: f64 = 0.10;

/// Each sub-band's noise floor over a segment: its [`NOISE_PERCENTILE`] energy (`None` for
/// segments under 8 hops).
fn noise_floors(energy: &[f32], hops: usize) -> Option<[f32; SUBBANDS]> {
    if hops < 8 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "small positive")]
    let rank = ((hops as f64 * NOISE_PERCENTILE) as usize).min(hops - 1);
    let mut col = vec![0.0f32; hops];
    let mut floors = [0.0f32; SUBBANDS];
    for (k, floor) in floors.iter_mut().enumerate() {
        for (t, c) in col.iter_mut().enumerate() {
            *c = energy[t * SUBBANDS + k];
        }
        *floor = *col.select_nth_unstable_by(rank, f32::total_cmp).1;
    }
    Some(floors)
}

/// Per-cell share of the received energy above the sub-band's noise floor ([`noise_floors`]):
/// `max(E - floor, 0) / E` (all 1 without floors). The mark rides on the host in proportion to
/// the host's share of a cell, so cells that additive noise (white or pink noise, 8-bit
/// quantisation, a codec's noise floor) dominates carry little of it; weighting by that share
/// is the matched filter. On dense music, though, the floor is the host's own and the weight
/// only favours loud cells (measured: it lost MP3 64k and a 10 s excerpt of dense rock), so
/// the detector tries both feature sets, alternating. Detector only: the embedder's
/// simulation of the clean host does not use it.
fn noise_weights(energy: &[f32], floors: Option<&[f32; SUBBANDS]>) -> Vec<f32> {
    let Some(floors) = floors else {
        return vec![1.0f32; energy.len()];
    };
    energy
        .chunks_exact(SUBBANDS)
        .flat_map(|row| {
            row.iter()
                .zip(floors)
                .map(|(&e, &floor)| if e > 0.0 { ((e - floor) / e).max(0.0) } else { 0.0 })
        })
        .collect()
}

/// The host's estimated sub-band energies (each cell's energy above its sub-band's floor) and
/// frame totals (each scaled by the share of its in-band energy left): what the embedder's
/// water-filling saw before the noise was added.
fn above_floor(
    energy: &[f32],
    totals: &[f32],
    floors: Option<&[f32; SUBBANDS]>,
) -> (Vec<f32>, Vec<f32>) {
    let Some(floors) = floors else {
        return (energy.to_vec(), totals.to_vec());
    };
    let mut host = energy.to_vec();
    let mut scaled = totals.to_vec();
    for (row, total) in host.chunks_exact_mut(SUBBANDS).zip(&mut scaled) {
        let before: f32 = row.iter().sum();
        row.iter_mut().zip(floors).for_each(|(e, &floor)| *e = (*e - floor).max(0.0));
        let after: f32 = row.iter().sum();
        if before > 0.0 {
            *total *= after / before;
        }
    }
    (host, scaled)
}

/// Sub-band energies `[hop * SUBBANDS + k]` of a segment at one frequency scale.
pub(crate) fn band_energies(spectra: &Spectra, grid: &Grid, freq_scale: f64) -> Vec<f32> {
    let edges: Vec<f64> = Grid::edges_hz(freq_scale).iter().map(|f| f / grid.bin_hz).collect();
    let hops = spectra.hops;
    let mut energy = vec![0.0f32; hops * SUBBANDS];
    for t in 0..hops {
        for k in 0..SUBBANDS {
            energy[t * SUBBANDS + k] = spectra.band(t, edges[k], edges[k + 1]);
        }
    }
    energy
}

/// A sub-band whose mean energy over the segment is this far below the median sub-band's is
/// taken as removed (a low-pass, a band-limited codec or sample rate): −50 dB.
pub(crate) const DEAD_BAND_RATIO: f64 = 1e-5;

/// Sub-bands that a filter removed: mean energy below [`DEAD_BAND_RATIO`] of the median
/// sub-band's. Their features are noise at full weight (the normalisation scales any residue
/// to unit variance, and the water-filling gives weak sub-bands the deepest modulation), and as
/// neighbours they add that noise to the host estimate of the live sub-bands beside them.
pub(crate) fn dead_bands(energy: &[f32], hops: usize) -> [bool; SUBBANDS] {
    let mut mean = [0.0f64; SUBBANDS];
    for row in energy.chunks_exact(SUBBANDS).take(hops) {
        for (m, &e) in mean.iter_mut().zip(row) {
            *m += f64::from(e);
        }
    }
    let mut sorted = mean;
    sorted.sort_by(f64::total_cmp);
    let reference = sorted[SUBBANDS / 2];
    let mut dead = [false; SUBBANDS];
    if reference > 0.0 {
        for (d, &m) in dead.iter_mut().zip(&mean) {
            *d = m < reference * DEAD_BAND_RATIO;
        }
    }
    dead
}

/// The features of sub-band energies `energy` (`totals`: each hop's total power).
pub(crate) fn features_from_energy(
    energy: Vec<f32>,
    totals: &[f32],
    strength: Strength,
) -> Features {
    features_masked(energy, totals, strength, None)
}

/// As [`features_from_energy`], with the sub-bands flagged in `dead` left out: their features
/// are zero and they are not used as neighbours.
pub(crate) fn features_masked(
    energy: Vec<f32>,
    totals: &[f32],
    strength: Strength,
    dead: Option<&[bool; SUBBANDS]>,
) -> Features {
    features_with(energy, totals, strength, dead, None)
}

/// As [`features_masked`], with the depth weights `depth` if given.
pub(crate) fn features_with(
    energy: Vec<f32>,
    totals: &[f32],
    strength: Strength,
    dead: Option<&[bool; SUBBANDS]>,
    given_depth: Option<Vec<f32>>,
) -> Features {
    let is_dead = |k: usize| dead.is_some_and(|d| d[k]);
    let hops = totals.len();
    let total: f64 = energy.iter().map(|&e| f64::from(e)).sum();
    let floor = (total / (hops * SUBBANDS).max(1) as f64 * 1e-6) as f32 + 1e-20;
    let log: Vec<f32> = energy.iter().map(|e| (e + floor).ln()).collect();
    // Host cancellation, step 1: each sub-band minus the mean of its two frequency neighbours
    // (removes the spectral envelope; the neighbours carry independent chips).
    // The live neighbours of each sub-band, in ascending order, and one over their count
    // (the same sums, in the same order, as looping over the window for every hop).
    let mut neighbours = [([0u8; 2 * NEIGHBOURS], 0usize, 1.0f32); SUBBANDS];
    for (k, (list, len, n)) in neighbours.iter_mut().enumerate() {
        for j in k.saturating_sub(NEIGHBOURS)..(k + 1 + NEIGHBOURS).min(SUBBANDS) {
            if j != k && !is_dead(j) {
                #[allow(clippy::cast_possible_truncation, reason = "j < SUBBANDS")]
                let j8 = j as u8;
                list[*len] = j8;
                *len += 1;
            }
        }
        *n = (*len as f32).max(1.0);
    }
    let mut d = vec![0.0f32; hops * SUBBANDS];
    for (row, out) in log.chunks_exact(SUBBANDS).zip(d.chunks_exact_mut(SUBBANDS)) {
        for (k, (list, len, n)) in neighbours.iter().enumerate() {
            let s = list[..*len].iter().fold(0.0f32, |s, &j| s + row[usize::from(j)]);
            out[k] = row[k] - s / n;
        }
    }
    // Step 2: minus its moving average over ±REACH hops (≈ ±0.4 s; removes sustained tones
    // and slow level changes; chips change every symbol, so the mark survives).
    let src = d.clone();
    let mut prefix = vec![0.0f32; hops + 1];
    for k in 0..SUBBANDS {
        for t in 0..hops {
            prefix[t + 1] = prefix[t] + src[t * SUBBANDS + k];
        }
        for t in 0..hops {
            let lo = t.saturating_sub(REACH);
            let hi = (t + REACH + 1).min(hops);
            d[t * SUBBANDS + k] =
                src[t * SUBBANDS + k] - (prefix[hi] - prefix[lo]) / (hi - lo) as f32;
        }
    }
    let depth = given_depth.unwrap_or_else(|| {
        let mut depth = vec![0.0f32; hops * SUBBANDS];
        for ((e, dep), total) in
            energy.chunks_exact(SUBBANDS).zip(depth.chunks_exact_mut(SUBBANDS)).zip(totals)
        {
            mask::waterfill(
                e,
                strength.budget * mask::reference_power(e, *total),
                strength.cap,
                dep,
            );
        }
        depth
    });
    for k in 0..SUBBANDS {
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for t in 0..hops {
            let v = f64::from(d[t * SUBBANDS + k]);
            s += v;
            s2 += v * v;
        }
        let n = hops.max(1) as f64;
        let mean = s / n;
        let sd = ((s2 / n - mean * mean).max(1e-12)).sqrt();
        for t in 0..hops {
            let v = &mut d[t * SUBBANDS + k];
            *v = if is_dead(k) {
                0.0
            } else {
                (((f64::from(*v) - mean) / sd) as f32).clamp(-2.5, 2.5) * depth[t * SUBBANDS + k]
                    / strength.cap
            };
        }
    }
    Features { d }
}

/// The folded block of one hypothesis and phase: per block symbol and sub-band, the sum of
/// the symbol features that fall on it (segment symbol `j` is folded onto `j mod B`).
fn fold(d: &[f32], hops: usize, time_scale: f64, phase: usize, out: &mut [f32]) -> usize {
    fold_at(d, &positions(hops, time_scale), phase, out)
}

/// Where each virtual hop of a time-scale hypothesis reads the features: the hop below and
/// the fraction towards the next (0 when it falls on a hop, or on the last one).
pub(crate) fn positions(hops: usize, time_scale: f64) -> Vec<(usize, f32)> {
    let usable = ((hops.saturating_sub(1)) as f64 / time_scale).floor();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "non-negative, bounded by hops"
    )]
    let virtual_hops = usable.max(0.0) as usize + 1;
    (0..virtual_hops)
        .map(|u| {
            let x = u as f64 * time_scale;
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "non-negative, < hops"
            )]
            let i = x.floor() as usize;
            let frac = (x - i as f64) as f32;
            (i, if frac > 1e-6 && i + 1 < hops { frac } else { 0.0 })
        })
        .collect()
}

/// [`fold`] with the hop positions precomputed ([`positions`]).
pub(crate) fn fold_at(
    d: &[f32],
    positions: &[(usize, f32)],
    phase: usize,
    out: &mut [f32],
) -> usize {
    out.iter_mut().for_each(|v| *v = 0.0);
    let mut symbols = 0;
    let mut j = 0;
    loop {
        let start = phase + j * HOPS_PER_SYMBOL;
        if start + HOPS_PER_SYMBOL > positions.len() {
            break;
        }
        let row = &mut out[(j % BLOCK_SYMBOLS) * SUBBANDS..(j % BLOCK_SYMBOLS + 1) * SUBBANDS];
        for &(i, frac) in &positions[start..start + HOPS_PER_SYMBOL] {
            let a = &d[i * SUBBANDS..(i + 1) * SUBBANDS];
            if frac > 0.0 {
                let b = &d[(i + 1) * SUBBANDS..(i + 2) * SUBBANDS];
                for ((r, &x), &y) in row.iter_mut().zip(a).zip(b) {
                    *r += x + (y - x) * frac;
                }
            } else {
                for (r, &x) in row.iter_mut().zip(a) {
                    *r += x;
                }
            }
        }
        symbols += 1;
        j += 1;
    }
    symbols
}

/// The features at each virtual hop of a time-scale hypothesis (`positions`), interpolated
/// as [`fold_at`] does, into `out` (`SUBBANDS` per virtual hop): computed once for the four
/// phases, which each fold every virtual hop.
pub(crate) fn resample(d: &[f32], positions: &[(usize, f32)], out: &mut Vec<f32>) {
    out.clear();
    out.reserve(positions.len() * SUBBANDS);
    for &(i, frac) in positions {
        let a = &d[i * SUBBANDS..(i + 1) * SUBBANDS];
        if frac > 0.0 {
            let b = &d[(i + 1) * SUBBANDS..(i + 2) * SUBBANDS];
            out.extend(a.iter().zip(b).map(|(&x, &y)| x + (y - x) * frac));
        } else {
            out.extend_from_slice(a);
        }
    }
}

/// [`fold_at`] on features already resampled by [`resample`]: the same sums in the same
/// order, so the same values.
pub(crate) fn fold_rows(virt: &[f32], phase: usize, out: &mut [f32]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    let hops = virt.len() / SUBBANDS;
    let mut j = 0;
    while phase + (j + 1) * HOPS_PER_SYMBOL <= hops {
        let start = phase + j * HOPS_PER_SYMBOL;
        let row = &mut out[(j % BLOCK_SYMBOLS) * SUBBANDS..(j % BLOCK_SYMBOLS + 1) * SUBBANDS];
        for u in start..start + HOPS_PER_SYMBOL {
            for (r, &x) in row.iter_mut().zip(&virt[u * SUBBANDS..(u + 1) * SUBBANDS]) {
                *r += x;
            }
        }
        j += 1;
    }
}

/// Sync score of every block offset `q` for a folded block: segment symbol `j` holds block
/// symbol `(j + q) mod B`, so block symbol `b` was folded onto row `(b - q) mod B`.
///
/// Each sub-band's column of the folded block is laid out twice in a row, so the rows a sync
/// slot meets over all offsets are one contiguous (reversed) run; every score still sums the
/// slots in layout order, as a direct sum would.
fn sync_scores(layout: &Layout, folded: &[f32], scores: &mut [f32]) {
    let b2 = 2 * BLOCK_SYMBOLS;
    let mut cols = [0.0f32; 2 * BLOCK_SYMBOLS * SUBBANDS];
    for (r, row) in folded.chunks_exact(SUBBANDS).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            cols[k * b2 + r] = v;
            cols[k * b2 + r + BLOCK_SYMBOLS] = v;
        }
    }
    scores.iter_mut().for_each(|s| *s = 0.0);
    for &(b, k, chip) in &layout.sync {
        // Offset q reads row (b + B - q) mod B, i.e. entry b + B - q of the doubled column.
        let col = &cols[usize::from(k) * b2..(usize::from(k) + 1) * b2];
        let run = &col[usize::from(b) + 1..=usize::from(b) + BLOCK_SYMBOLS];
        for (score, v) in scores.iter_mut().zip(run.iter().rev()) {
            *score += chip * v;
        }
    }
}

/// Per-sub-band reliability weights (maximum-ratio combining): the sync correlation of each
/// sub-band at offset `q`, smoothed over neighbouring sub-bands, clamped at zero and scaled to
/// mean 1. Sub-bands removed by a filter, a codec or a low sample rate get weights near zero.
fn band_weights(layout: &Layout, folded: &[f32], q: usize) -> Vec<f32> {
    let mut corr = [0.0f32; SUBBANDS];
    for &(b, k, chip) in &layout.sync {
        let row = (usize::from(b) + BLOCK_SYMBOLS - q) % BLOCK_SYMBOLS;
        corr[usize::from(k)] += chip * folded[row * SUBBANDS + usize::from(k)];
    }
    const HALF: usize = 4;
    let mut w: Vec<f32> = (0..SUBBANDS)
        .map(|k| {
            let lo = k.saturating_sub(HALF);
            let hi = (k + HALF + 1).min(SUBBANDS);
            (corr[lo..hi].iter().sum::<f32>() / (hi - lo) as f32).max(0.0)
        })
        .collect();
    let mean = w.iter().sum::<f32>() / SUBBANDS as f32;
    if mean > 0.0 {
        // Half measured, half uniform: the sync slots of a short clip give noisy estimates,
        // and a uniform weight is right for everything but filtered-out bands.
        w.iter_mut().for_each(|v| *v = 0.5 + 0.5 * *v / mean);
    } else {
        w.iter_mut().for_each(|v| *v = 1.0);
    }
    w
}

/// Median absolute deviation scale and median of `v`.
fn robust_stats(v: &[f32]) -> (f32, f32) {
    // The middle elements by selection (the same values a full sort puts there).
    let mut s: Vec<f32> = v.to_vec();
    let mid = s.len() / 2;
    let med = *s.select_nth_unstable_by(mid, f32::total_cmp).1;
    s.iter_mut().for_each(|x| *x = (*x - med).abs());
    let mad = *s.select_nth_unstable_by(mid, f32::total_cmp).1;
    (med, (1.4826 * mad).max(1e-9))
}

/// The best block position of one segment under one hypothesis.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SegmentFit {
    /// Robust z-score of the best sync correlation among all offsets.
    pub(crate) z: f32,
    /// Hop phase of the best offset.
    pub(crate) phase: usize,
    /// Block offset (symbols) of the best offset.
    pub(crate) offset: usize,
}

/// Everything the decoder needs from one segment.
pub(crate) struct Segment {
    /// What ranking the hypotheses needs.
    pub(crate) sync: SegmentSync,
    /// What decoding the payload needs.
    pub(crate) payload: SegmentFeatures,
}

/// A segment's sync results: where it starts and, per hypothesis, its best fit and the
/// z-score of every block position.
pub(crate) struct SegmentSync {
    /// First hop of the segment in the input.
    pub(crate) first_hop: usize,
    /// Fits indexed `[freq_scale][time_scale]`.
    pub(crate) fits: Vec<Vec<SegmentFit>>,
    /// Robust z-scores of every (phase, offset), `[freq_scale][time_scale][phase * B + offset]`.
    pub(crate) z_all: Vec<Vec<Vec<f32>>>,
}

/// A segment's features per frequency scale (some may be left empty), for the payload.
pub(crate) struct SegmentFeatures {
    features: Vec<Vec<f32>>,
    hops: usize,
}

/// Analyses one segment: features per frequency scale and the best fit per hypothesis.
pub(crate) fn analyze_segment(
    grid: &Grid,
    plans: &Plans,
    layout: &Layout,
    search: &Search,
    strength: Strength,
    mono: &[f32],
    (first_hop, hops): (usize, usize),
) -> Segment {
    let spectra =
        Spectra::compute(grid, plans, mono, first_hop, hops, search_max_bin(grid, search));
    analyze_spectra(grid, layout, search, strength, &spectra, first_hop)
}

/// Highest FFT bin the features of `search` read.
pub(crate) fn search_max_bin(grid: &Grid, search: &Search) -> usize {
    let max_scale = search.freq_scales.iter().copied().fold(1.0, f64::max);
    let edges = Grid::edges_hz(max_scale);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "small positive")]
    let max_bin = ((edges[SUBBANDS] / grid.bin_hz).ceil() as usize + 2).min(grid.frame / 2);
    max_bin
}

/// [`analyze_segment`] on the spectra (computed up to at least [`search_max_bin`]) of the
/// segment starting at hop `first_hop`.
pub(crate) fn analyze_spectra(
    grid: &Grid,
    layout: &Layout,
    search: &Search,
    strength: Strength,
    spectra: &Spectra,
    first_hop: usize,
) -> Segment {
    let hops = spectra.hops;
    let features: Vec<Vec<f32>> = search
        .freq_scales
        .par_iter()
        .map(|&fs| features(spectra, grid, fs, strength, search))
        .collect();
    let both: Vec<Vec<(SegmentFit, Vec<f32>)>> = features
        .par_iter()
        .map(|d| {
            let mut folded = vec![0.0f32; BLOCK_SYMBOLS * SUBBANDS];
            let mut scores = vec![0.0f32; BLOCK_SYMBOLS * HOPS_PER_SYMBOL];
            let mut virt = Vec::new();
            search
                .time_scales
                .iter()
                .map(|&ts| {
                    resample(d, &positions(hops, ts), &mut virt);
                    for phase in 0..HOPS_PER_SYMBOL {
                        fold_rows(&virt, phase, &mut folded);
                        sync_scores(
                            layout,
                            &folded,
                            &mut scores[phase * BLOCK_SYMBOLS..(phase + 1) * BLOCK_SYMBOLS],
                        );
                    }
                    let (med, scale) = robust_stats(&scores);
                    let (best, &top) = scores
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .unwrap_or((0, &0.0));
                    let fit = SegmentFit {
                        z: (top - med) / scale,
                        phase: best / BLOCK_SYMBOLS,
                        offset: best % BLOCK_SYMBOLS,
                    };
                    (fit, scores.iter().map(|v| (v - med) / scale).collect())
                })
                .collect()
        })
        .collect();
    let fits = both.iter().map(|r| r.iter().map(|(f, _)| *f).collect()).collect();
    let z_all = both.into_iter().map(|r| r.into_iter().map(|(_, z)| z).collect()).collect();
    Segment {
        sync: SegmentSync { first_hop, fits, z_all },
        payload: SegmentFeatures { features, hops },
    }
}

impl SegmentFeatures {
    /// The features of only the frequency scales `needed` (the others left empty), enough
    /// for [`add_soft`](Self::add_soft) on those scales.
    pub(crate) fn compute(
        grid: &Grid,
        search: &Search,
        strength: Strength,
        spectra: &Spectra,
        needed: &[bool],
    ) -> Self {
        let features = search
            .freq_scales
            .par_iter()
            .zip(needed)
            .map(
                |(&fs, &need)| {
                    if need {
                        features(spectra, grid, fs, strength, search)
                    } else {
                        Vec::new()
                    }
                },
            )
            .collect();
        Self { features, hops: spectra.hops }
    }

    /// Adds this segment's soft payload values under hypothesis `(fi, ti)`, at the block
    /// position `fit`, into `soft`.
    pub(crate) fn add_soft(
        &self,
        layout: &Layout,
        search: &Search,
        (fi, ti): (usize, usize),
        fit: SegmentFit,
        weight: f32,
        soft: &mut [f32],
    ) {
        let mut folded = vec![0.0f32; BLOCK_SYMBOLS * SUBBANDS];
        fold(&self.features[fi], self.hops, search.time_scales[ti], fit.phase, &mut folded);
        let weights = band_weights(layout, &folded, fit.offset);
        for &(b, k, chip, c) in &layout.data {
            let row = (usize::from(b) + BLOCK_SYMBOLS - fit.offset) % BLOCK_SYMBOLS;
            let k = usize::from(k);
            soft[usize::from(c)] += weight * weights[k] * chip * folded[row * SUBBANDS + k];
        }
    }
}

/// Splits `total_hops` into segments of about [`SEGMENT_HOPS`] (a short tail joins the
/// previous segment). Returns (first hop, hop count) pairs.
pub(crate) fn segments(total_hops: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < total_hops {
        let mut len = SEGMENT_HOPS.min(total_hops - start);
        if total_hops - start - len < SEGMENT_HOPS / 2 {
            len = total_hops - start;
        }
        out.push((start, len));
        start += len;
    }
    out
}
