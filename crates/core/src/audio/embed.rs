//! Embedding, in two passes.
//!
//! 1. **Plan** (on the channel mix): per hop and sub-band, the modulation depth the masking
//!    model allows, and the detector's own features of the *unmarked* host. From these the
//!    embedder knows, for every coded bit, how much the host already pushes the detector's soft
//!    value towards or away from that bit (host interference) and how much one unit of mark
//!    moves it. Each bit then gets a gain (*informed embedding*): bits the host opposes get more
//!    depth, bits the host already carries get less, so every bit lands at the same margin. The
//!    margin is chosen so the total change energy equals that of a uniform mark: the quality
//!    (SNR) is unchanged, but the host no longer causes bit errors. Gains are per detector
//!    segment, so each segment decodes on its own (excerpts, splices).
//! 2. **Apply** (per channel): every bin's magnitude in a slot is scaled by
//!    `1 + depth · gain · chip · bit` (phase kept); only the change is synthesised (overlap-add)
//!    and added, so the host passes through untouched outside the band.

use rayon::prelude::*;
use realfft::num_complex::Complex32;

use super::detect::{self, Spectra};
use super::layout::{Grid, Layout, Role, BLOCK_SYMBOLS, HOPS_PER_SYMBOL, SUBBANDS};
use super::mask;
use super::stft::{Plans, Scratch};

/// Frames processed per parallel chunk (bounds the memory of pending frame deltas).
const CHUNK_FRAMES: usize = 256;
/// Smallest and largest per-bit gain of the informed embedding.
const GAIN_MIN: f32 = 0.25;
const GAIN_MAX: f32 = 3.0;
/// Largest relative magnitude change of a slot after its gain.
const DEPTH_LIMIT: f32 = 0.6;

/// Strength settings of one embedding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strength {
    /// Change energy as a fraction of the signal's energy (per frame a level-dependent share
    /// of this, see [`mask::frame_budgets`]).
    pub(crate) budget: f32,
    /// Largest relative magnitude change of a sub-band.
    pub(crate) cap: f32,
    /// Rounds of the informed-gain iteration ([`ROUNDS`]; 0 gives every bit unit gain).
    pub(crate) informed_rounds: usize,
    /// Largest boost of a quiet frame's budget share ([`mask::LEVEL_GAIN_MAX`]; 1 gives
    /// every frame the same share of its own energy).
    pub(crate) level_gain_max: f64,
}

/// Per hop and sub-band: the signed relative magnitude change to apply.
pub(crate) struct MarkPlan {
    pub(crate) mult: Vec<f32>,
}

/// Rounds of the informed-gain iteration (0: uniform gains, no informed embedding).
pub(crate) const ROUNDS: usize = 3;

/// The host analysis the plan needs: per detector segment, the sub-band energies and each
/// hop's total power of the channel mix. It does not depend on the strength, so the
/// self-check's stronger re-marks reuse it instead of transforming the host again.
pub(crate) struct Host {
    frames: usize,
    eff: [f32; SUBBANDS],
    segments: Vec<HostSegment>,
    /// Each channel's spectrum in the marked band, for audio of one or two channels (the
    /// marker then transforms only back; more channels are analysed as their mix and the
    /// marker transforms each itself, which holds less).
    bands: Option<BandSpectra>,
}

/// Each channel's FFT bins in the band the mark changes, for a run of hops, as analysed from
/// the unmarked samples.
pub(crate) struct BandSpectra {
    /// First hop held.
    first: usize,
    channels: usize,
    bins: std::ops::Range<usize>,
    data: Vec<Complex32>,
}

impl BandSpectra {
    fn new(grid: &Grid, first: usize, hops: usize, channels: usize) -> Self {
        let bins = mark_bins(grid);
        let data = vec![Complex32::new(0.0, 0.0); hops * channels * bins.len()];
        Self { first, channels, bins, data }
    }

    /// Channel `c`'s bins at absolute hop `hop`.
    fn at(&self, hop: usize, c: usize) -> &[Complex32] {
        let w = self.bins.len();
        let i = ((hop - self.first) * self.channels + c) * w;
        &self.data[i..i + w]
    }
}

/// The FFT bins the mark changes (those inside a sub-band).
fn mark_bins(grid: &Grid) -> std::ops::Range<usize> {
    let bands = grid.bin_bands();
    let lo = bands.iter().position(Option::is_some).unwrap_or(0);
    let hi = bands.iter().rposition(Option::is_some).map_or(lo, |i| i + 1);
    lo..hi
}

struct HostSegment {
    first: usize,
    energy: Vec<f32>,
    totals: Vec<f32>,
}

impl Host {
    /// Analyses the mix of the `channels` interleaved channels of `samples`, a signal of
    /// `frames` hops.
    pub(crate) fn analyze(
        grid: &Grid,
        plans: &Plans,
        (samples, channels): (&[f32], usize),
        frames: usize,
    ) -> Self {
        let max_bin = plan_max_bin(grid);
        let segments = detect::segments(frames);
        let eff = grid.efficiency();
        if channels > 2 {
            let mono = super::buffer::mix(samples, channels);
            let segments = segments
                .par_iter()
                .map(|&(first, hops)| {
                    let spectra = Spectra::compute(grid, plans, &mono, first, hops, max_bin);
                    let energy = detect::band_energies(&spectra, grid, 1.0);
                    HostSegment { first, energy, totals: spectra.total }
                })
                .collect();
            return Self { frames, eff, segments, bands: None };
        }
        let mut bands = BandSpectra::new(grid, 0, frames, channels);
        let bins = bands.bins.clone();
        let per_hop = channels * bins.len();
        let mut rest: &mut [Complex32] = &mut bands.data;
        let mut parts = Vec::with_capacity(segments.len());
        for &(first, hops) in &segments {
            let (keep, tail) = rest.split_at_mut(hops * per_hop);
            parts.push((first, hops, keep));
            rest = tail;
        }
        let segments = parts
            .into_par_iter()
            .map(|(first, hops, keep)| {
                let spectra = Spectra::compute_channels(
                    grid,
                    plans,
                    (samples, channels),
                    first,
                    hops,
                    max_bin,
                    (bins.clone(), keep),
                );
                let energy = detect::band_energies(&spectra, grid, 1.0);
                HostSegment { first, energy, totals: spectra.total }
            })
            .collect();
        Self { frames, eff, segments, bands: Some(bands) }
    }

    /// The channels' band spectra, if kept (see [`Marker::mark`]).
    pub(crate) fn bands(&self) -> Option<&BandSpectra> {
        self.bands.as_ref()
    }
}

/// Highest FFT bin the plan's analysis needs.
fn plan_max_bin(grid: &Grid) -> usize {
    let edges = Grid::edges_hz(1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "small positive")]
    let max_bin = ((edges[SUBBANDS] / grid.bin_hz).ceil() as usize + 2).min(grid.frame / 2);
    max_bin
}

/// Marks a stream of interleaved samples (`channels` per frame, `len` frames in all) a
/// detector segment at a time: `next` gives the input in chunks of any size (`None` at its
/// end), `write` takes the marked samples in order. Memory holds about one segment (≈ 8.4 s)
/// whatever the length, and the samples are exactly those of planning the whole signal
/// ([`Host::analyze`], [`plan`]) and marking it with one [`Marker`]: segments are planned
/// independently, and the marker's result does not depend on its batches.
#[allow(clippy::too_many_arguments, reason = "the stream's shape and both ends")]
pub(crate) fn embed_stream(
    grid: &Grid,
    plans: &Plans,
    layout: &Layout,
    coded: &[f32],
    strength: Strength,
    (channels, len): (usize, usize),
    next: &mut dyn FnMut() -> crate::Result<Option<Vec<f32>>>,
    write: &mut dyn FnMut(&[f32]) -> crate::Result<()>,
) -> crate::Result<()> {
    let (hop, frame, n) = (grid.hop, grid.frame, channels);
    let max_bin = plan_max_bin(grid);
    let eff = grid.efficiency();
    let mut marker = Marker::new(grid, plans, n, len);
    let mut window: Vec<f32> = Vec::new();
    let mut base = 0;
    for (first, hops) in detect::segments(len.div_ceil(hop)) {
        let need = ((first + hops - 1) * hop + frame).min(len);
        while base + window.len() / n < need {
            let chunk = next()?.ok_or_else(|| {
                crate::Error::decode("audio", "the stream ended before its stated length")
            })?;
            if chunk.iter().any(|s| !s.is_finite()) {
                return Err(crate::Error::params("samples", "contains NaN or infinity"));
            }
            let room = (len - base) * n - window.len();
            window.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        // The segment's frames, unmarked (the previous segment's last change is pending),
        // analysed as `Host::analyze` does.
        let seg = &window[(first * hop - base) * n..(need - base) * n];
        let (spectra, bands) = if n <= 2 {
            let mut bands = BandSpectra::new(grid, first, hops, n);
            let bins = bands.bins.clone();
            let spectra = Spectra::compute_channels(
                grid,
                plans,
                (seg, n),
                0,
                hops,
                max_bin,
                (bins, &mut bands.data),
            );
            (spectra, Some(bands))
        } else {
            let mono = super::buffer::mix(seg, n);
            (Spectra::compute(grid, plans, &mono, 0, hops, max_bin), None)
        };
        let energy = detect::band_energies(&spectra, grid, 1.0);
        let mult = plan_segment(layout, coded, strength, first, &energy, &spectra.total, &eff);
        marker.mark(&mut window, base, first, &mult, bands.as_ref());
        let settled = marker.settled().min(len);
        let done = (settled - base) * n;
        write(&window[..done])?;
        window.drain(..done);
        base = settled;
    }
    marker.finish(&mut window, base);
    write(&window)
}

/// Pass 1: plans the mark on the analysed `host`.
///
/// Per detector segment: the host's sub-band energies give the masking depths and the
/// detector's features of the unmarked host; the marked energies are then simulated
/// (`E · (1 + m)²` per slot) and pushed through the detector's own feature pipeline (neighbour
/// and moving-average whitening, normalisation, clipping, weighting), so the host's
/// interference and the mark's self-interference are both seen. Each bit's gain is set so its
/// soft value reaches a common margin, the margin chosen so the change energy is that of unit
/// gains; a few rounds refine each bit's measured response.
pub(crate) fn plan(host: &Host, layout: &Layout, coded: &[f32], strength: Strength) -> MarkPlan {
    let rows: Vec<Vec<f32>> = host
        .segments
        .par_iter()
        .map(|s| plan_segment(layout, coded, strength, s.first, &s.energy, &s.totals, &host.eff))
        .collect();
    let mut mult = vec![0.0f32; host.frames * SUBBANDS];
    for (s, row) in host.segments.iter().zip(&rows) {
        mult[s.first * SUBBANDS..s.first * SUBBANDS + row.len()].copy_from_slice(row);
    }
    MarkPlan { mult }
}

/// Signed slot multipliers of one segment for per-bit `gains` (sync slots at unit gain).
fn multipliers(
    layout: &Layout,
    coded: &[f32],
    first: usize,
    depth: &[f32],
    gains: &[f32],
    out: &mut [f32],
) {
    for (t, row) in out.chunks_exact_mut(SUBBANDS).enumerate() {
        let b = ((first + t) / HOPS_PER_SYMBOL) % BLOCK_SYMBOLS;
        for (k, m) in row.iter_mut().enumerate() {
            let slot = b * SUBBANDS + k;
            let (bit, g) = match layout.roles[slot] {
                Role::Sync => (1.0, 1.0),
                Role::Data(c) => (coded[usize::from(c)], gains[usize::from(c)]),
            };
            *m = (depth[t * SUBBANDS + k] * g).min(DEPTH_LIMIT) * layout.chips[slot] * bit;
        }
    }
}

/// Per coded bit, the detector's soft value (sign-corrected, so positive = right) of `d`.
fn soft_values(layout: &Layout, coded: &[f32], first: usize, d: &[f32], out: &mut [f32]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for (t, row) in d.chunks_exact(SUBBANDS).enumerate() {
        let b = ((first + t) / HOPS_PER_SYMBOL) % BLOCK_SYMBOLS;
        for (k, v) in row.iter().enumerate() {
            let slot = b * SUBBANDS + k;
            if let Role::Data(c) = layout.roles[slot] {
                out[usize::from(c)] += layout.chips[slot] * coded[usize::from(c)] * v;
            }
        }
    }
}

fn plan_segment(
    layout: &Layout,
    coded: &[f32],
    strength: Strength,
    first: usize,
    host_energy: &[f32],
    totals: &[f32],
    eff: &[f32; SUBBANDS],
) -> Vec<f32> {
    let n = layout.coded_bits;
    let host = detect::features_from_energy(host_energy.to_vec(), totals, strength);
    // The depths embedded: level-dependent frame budgets (`mask::frame_budgets`). The
    // features (the detector's, simulated here) keep weighting cells by the fixed-share
    // depths, as the detector does.
    let depth = mask::embedding_depths(
        host_energy,
        totals,
        strength.budget,
        strength.cap,
        strength.level_gain_max,
    );
    let mut host_soft = vec![0.0f32; n];
    soft_values(layout, coded, first, &host.d, &mut host_soft);
    // Change energy of each bit's slots at unit gain.
    let mut bit_energy = vec![0.0f32; n];
    for (t, row) in host_energy.chunks_exact(SUBBANDS).enumerate() {
        let b = ((first + t) / HOPS_PER_SYMBOL) % BLOCK_SYMBOLS;
        for (k, e) in row.iter().enumerate() {
            if let Role::Data(c) = layout.roles[b * SUBBANDS + k] {
                let a = depth[t * SUBBANDS + k];
                bit_energy[usize::from(c)] += e * a * a;
            }
        }
    }
    let mut gains = vec![1.0f32; n];
    let mut mult = vec![0.0f32; host_energy.len()];
    let mut soft = vec![0.0f32; n];
    let mut response = vec![0.0f32; n];
    let mut interference = host_soft.clone();
    let rounds = strength.informed_rounds;
    for round in 0..=rounds {
        multipliers(layout, coded, first, &depth, &gains, &mut mult);
        // Overlap-add mixes each hop's change with its neighbours' (a symbol's edge hops get
        // part of the adjacent symbol's sign); leakage loses a share per sub-band width.
        let hops = host_energy.len() / SUBBANDS;
        let marked: Vec<f32> = (0..hops * SUBBANDS)
            .map(|i| {
                let (t, k) = (i / SUBBANDS, i % SUBBANDS);
                let prev = mult[t.saturating_sub(1) * SUBBANDS + k];
                let next = mult[(t + 1).min(hops - 1) * SUBBANDS + k];
                let m = 0.25 * prev + 0.5 * mult[i] + 0.25 * next;
                let g = 1.0 + eff[k] * m;
                host_energy[i] * g * g
            })
            .collect();
        let f = detect::features_from_energy(marked, totals, strength);
        soft_values(layout, coded, first, &f.d, &mut soft);
        if round == rounds {
            break;
        }
        if round == 0 {
            // Each bit's response to its own gain, measured at unit gains.
            for c in 0..n {
                response[c] = soft[c] - host_soft[c];
            }
            let mean = response.iter().sum::<f32>() / n.max(1) as f32;
            let floor = (0.25 * mean).max(1e-6);
            response.iter_mut().for_each(|r| *r = r.max(floor));
        } else {
            // What the host and the other bits' slots contribute at the current gains.
            for c in 0..n {
                let rest = soft[c] - gains[c] * response[c];
                interference[c] = 0.5 * (interference[c] + rest);
            }
        }
        gains = informed_gains(&interference, &response, &bit_energy);
    }
    mult
}

/// Per bit, the gain `clamp(τ − host/response)`, with one margin `τ` chosen (by bisection) so
/// the change energy equals that of unit gains.
fn informed_gains(host: &[f32], response: &[f32], energy: &[f32]) -> Vec<f32> {
    // Bits the host opposes beyond reach are given up (the code corrects them); their energy
    // goes to the bits it can save.
    let gain = |c: usize, tau: f32| -> f32 {
        let g = tau - host[c] / response[c];
        if g > GAIN_MAX {
            GAIN_MIN
        } else {
            g.max(GAIN_MIN)
        }
    };
    let target: f64 = energy.iter().map(|&e| f64::from(e)).sum();
    let spent = |tau: f32| -> f64 {
        (0..host.len()).map(|c| f64::from(energy[c]) * f64::from(gain(c, tau)).powi(2)).sum()
    };
    let (mut lo, mut hi) = (-GAIN_MAX, 2.0 * GAIN_MAX);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if spent(mid) > target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (0..host.len()).map(|c| gain(c, lo)).collect()
}

/// Pass 2: adds the planned mark to interleaved samples. The plan comes from the channel mix,
/// so every channel gets the same relative change and any downmix carries exactly the mark the
/// detector expects.
///
/// Every frame is analysed on the *unmarked* samples: a frame's change is added only after the
/// frames overlapping it have been analysed (the second half of the last frame of a batch waits
/// as `pending` for the next batch). The result is therefore the same however the frames are
/// batched, which lets a long file be marked as a stream, a segment at a time, with exactly the
/// bytes the whole-buffer path gives.
pub(crate) struct Marker<'a> {
    grid: &'a Grid,
    plans: &'a Plans,
    channels: usize,
    /// Samples per channel of the whole signal (frames read zeros past it).
    len: usize,
    bands: Vec<Option<u16>>,
    /// Per channel, the change still to add at absolute sample `pending_at` (one hop).
    pending: Vec<Vec<f32>>,
    pending_at: usize,
    deltas: Vec<f32>,
}

impl<'a> Marker<'a> {
    /// A marker for a signal of `len` samples per channel in `channels` interleaved channels.
    pub(crate) fn new(grid: &'a Grid, plans: &'a Plans, channels: usize, len: usize) -> Self {
        Self {
            grid,
            plans,
            channels,
            len,
            bands: grid.bin_bands(),
            pending: vec![Vec::new(); channels],
            pending_at: 0,
            deltas: Vec::new(),
        }
    }

    /// Marks the frames `first..first + mult.len() / SUBBANDS` with the plan rows `mult`.
    /// `window` holds the interleaved samples from absolute sample `base` on, unmarked from
    /// the first frame's start, and at least up to the last frame's end (or the signal's).
    ///
    /// `bands`, if given, holds every channel's band spectrum of these frames as analysed
    /// from the unmarked samples (by [`Host::analyze`]); the frames are then not transformed
    /// again, and the result is the same.
    pub(crate) fn mark(
        &mut self,
        window: &mut [f32],
        base: usize,
        first: usize,
        mult: &[f32],
        bands: Option<&BandSpectra>,
    ) {
        let (hop, frame, n) = (self.grid.hop, self.grid.frame, self.channels);
        let frames = mult.len() / SUBBANDS;
        let norm = 1.0 / frame as f32;
        let mut start = 0;
        while start < frames {
            let end = (start + CHUNK_FRAMES).min(frames);
            let count = end - start;
            // `deltas[(i·n + c)·frame..]`: the change of the batch's frame `i` on channel `c`,
            // all computed from the unmarked samples before any is added.
            self.deltas.resize(count * n * frame, 0.0);
            let (plans, bin_bands, kept) = (self.plans, &self.bands, bands);
            let source: &[f32] = window;
            self.deltas.par_chunks_mut(frame).enumerate().for_each_init(
                || Scratch::new(plans),
                |s, (k, delta)| {
                    let (i, c) = (k / n, k % n);
                    let row = &mult[(start + i) * SUBBANDS..(start + i + 1) * SUBBANDS];
                    let hop_index = first + start + i;
                    match kept {
                        Some(b) => {
                            // Only the band's bins are non-zero (the multipliers outside it
                            // are zero, and `+0 · 0 = +0`): scaled as they are copied in.
                            s.spec.iter_mut().for_each(|x| *x = Complex32::new(0.0, 0.0));
                            let band = &bin_bands[b.bins.clone()];
                            for ((x, &v), k) in
                                s.spec[b.bins.clone()].iter_mut().zip(b.at(hop_index, c)).zip(band)
                            {
                                *x = v * k.map_or(0.0, |k| row[usize::from(k)]);
                            }
                        }
                        None => {
                            s.analyze_strided(plans, source, hop_index * hop - base, n, c);
                            for (x, band) in s.spec.iter_mut().zip(bin_bands) {
                                *x *= match band {
                                    Some(k) => row[usize::from(*k)],
                                    None => 0.0,
                                };
                            }
                        }
                    }
                    if let Some(first) = s.spec.first_mut() {
                        first.im = 0.0;
                    }
                    if let Some(last) = s.spec.last_mut() {
                        last.im = 0.0;
                    }
                    let _ =
                        plans.inverse.process_with_scratch(&mut s.spec, &mut s.time, &mut s.inv);
                    for ((d, v), w) in delta.iter_mut().zip(&s.time).zip(plans.window.iter()) {
                        *d = v * w * norm;
                    }
                },
            );
            // Overlap-add, one hop-long block of the batch at a time, in parallel: block `j`
            // gets the second half of frame `j − 1` (for the first block, what the previous
            // batch left pending), then the first half of frame `j`, in that order (the
            // order of adding frame after frame). The last frame's second half is pending.
            let from = (first + start) * hop;
            debug_assert!(self.pending.iter().all(Vec::is_empty) || self.pending_at == from);
            let to = (from + count * hop).min(self.len);
            if to > from {
                let (deltas, pending) = (&self.deltas, &self.pending);
                window[(from - base) * n..(to - base) * n]
                    .par_chunks_mut(hop * n)
                    .enumerate()
                    .for_each(|(j, block)| {
                        for c in 0..n {
                            let prev = if j == 0 {
                                &pending[c][..]
                            } else {
                                &deltas
                                    [((j - 1) * n + c) * frame + hop..((j - 1) * n + c + 1) * frame]
                            };
                            let cur = &deltas[(j * n + c) * frame..(j * n + c) * frame + hop];
                            let out = block.iter_mut().skip(c).step_by(n);
                            if prev.is_empty() {
                                out.zip(cur).for_each(|(y, d)| *y += d);
                            } else {
                                out.zip(prev.iter().zip(cur)).for_each(|(y, (p, d))| {
                                    *y += p;
                                    *y += d;
                                });
                            }
                        }
                    });
            }
            let last = count - 1;
            for (c, p) in self.pending.iter_mut().enumerate() {
                p.clear();
                p.extend_from_slice(
                    &self.deltas[(last * n + c) * frame + hop..(last * n + c + 1) * frame],
                );
            }
            self.pending_at = (first + end) * hop;
            start = end;
        }
    }

    /// Adds what is still pending; `window` as for [`mark`](Self::mark).
    pub(crate) fn finish(&mut self, window: &mut [f32], base: usize) {
        for c in 0..self.channels {
            let pending = std::mem::take(&mut self.pending[c]);
            self.add(window, base, c, self.pending_at, &pending);
        }
    }

    /// Where the pending change starts (absolute sample): samples before it are final.
    pub(crate) fn settled(&self) -> usize {
        self.pending_at
    }

    /// Adds `delta` to channel `c` from absolute sample `at`, within the signal.
    fn add(&self, window: &mut [f32], base: usize, c: usize, at: usize, delta: &[f32]) {
        let n = delta.len().min(self.len.saturating_sub(at));
        if n == 0 {
            return;
        }
        let from = (at - base) * self.channels;
        let out = window[from..].iter_mut().skip(c).step_by(self.channels);
        for (y, d) in out.zip(&delta[..n]) {
            *y += d;
        }
    }
}
