//! The audio watermark: a keyed spread-spectrum mark in the short-time spectrum of `f32`
//! sample frames, robust to lossy codecs, resampling, filtering, noise, trimming, splicing and
//! time/pitch scaling. This module knows no file formats (see [`crate::audio_codec`]).
//!
//! # How it works
//!
//! * **Grid.** Frames of ≈ 46 ms (hop ≈ 23 ms) with a sine window; 40 log-spaced sub-bands
//!   between 480 Hz and 3.6 kHz (inside telephone band, a 4 kHz low-pass, 16 kHz resampling
//!   and a 300 Hz high-pass). A *symbol* is 4 hops (≈ 93 ms); a *block* is 90 symbols
//!   (≈ 8.4 s) and repeats through the file, so every 10 s excerpt holds a whole block.
//! * **Slots.** Each (symbol, sub-band) of the block is a slot with a keyed chip ±1; a keyed
//!   eighth of the slots are sync slots, the others carry the coded payload bits, each bit
//!   spread over ~9 slots scattered in time and frequency.
//! * **Embedding.** Every bin's magnitude in a slot is scaled by `1 + strength · chip · bit`
//!   (phase kept); the change is synthesised with overlap-add and added. The change follows
//!   the host's own spectrum, so it is masked where the host is loud and vanishes in silence.
//! * **Detection.** Sub-band log energies minus the mean of their frequency neighbours cancel
//!   the host's spectral envelope; a 2-D search over time scale (±3.5 %) and frequency scale
//!   (−3.5 %…+7.5 %, i.e. up to about +1.2 semitones) with the sync chips finds the block
//!   offset in each ≈ 17 s segment; the payload slots of all segments are soft-combined and
//!   decoded by the shared payload code, best hypotheses first, stopping at the first one whose
//!   keyed tag verifies. The false-positive probability counts every decode tried.

mod buffer;
mod detect;
mod embed;
mod keyed;
mod layout;
mod stft;

use std::sync::{Arc, Mutex};

pub use buffer::{AudioBuffer, SampleFormat, MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

use detect::Search;
use layout::{Grid, Layout};
use stft::Plans;

use crate::WatermarkKey;

/// FFT plans by frame length, shared by every call on one embedder/detector.
#[derive(Debug, Default)]
struct PlanCache(Mutex<Vec<(usize, Plans)>>);

impl PlanCache {
    fn get(&self, frame: usize) -> Plans {
        let mut cache = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, p)) = cache.iter().find(|(f, _)| *f == frame) {
            return p.clone();
        }
        let p = Plans::new(frame);
        cache.push((frame, p.clone()));
        p
    }
}

/// One decoding hypothesis produced by the search, best first.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// Soft values of the coded bits (sign = bit, magnitude = confidence).
    pub(crate) soft: Vec<f32>,
    /// Sum of the segments' sync z-scores.
    pub(crate) sync: f32,
    /// Time scale of the hypothesis (attacked / original duration).
    pub(crate) time_scale: f64,
    /// Frequency scale of the hypothesis.
    pub(crate) freq_scale: f64,
}

/// The keyed engine shared by the embedder and the detector.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    layout: Arc<Layout>,
    plans: Arc<PlanCache>,
}

impl Engine {
    pub(crate) fn new(key: &WatermarkKey, coded_bits: usize) -> Self {
        Self { layout: Arc::new(Layout::new(key, coded_bits)), plans: Arc::new(PlanCache::default()) }
    }

    /// Embeds `coded` (±1 values, one per coded bit) into every channel of `audio`.
    pub(crate) fn embed_coded(&self, audio: &mut AudioBuffer, coded: &[f32], strength: f32) {
        let grid = Grid::new(audio.sample_rate());
        let plans = self.plans.get(grid.frame);
        let gains = embed::gain_table(&grid, &self.layout, coded, strength);
        for c in 0..usize::from(audio.channels()) {
            let mut ch = audio.channel(c);
            embed::embed_channel(&grid, &plans, &gains, &mut ch);
            audio.set_channel(c, &ch);
        }
    }

    /// Runs the sync search and returns up to `max` candidates, best first.
    pub(crate) fn candidates(&self, audio: &AudioBuffer, search: &Search, max: usize) -> Vec<Candidate> {
        use rayon::prelude::*;
        let grid = Grid::new(audio.sample_rate());
        let plans = self.plans.get(grid.frame);
        let mono = audio.mono();
        let total_hops = mono.len() / grid.hop;
        if total_hops < 2 * layout::HOPS_PER_SYMBOL * 8 {
            return Vec::new();
        }
        let segs: Vec<detect::Segment> = detect::segments(total_hops)
            .par_iter()
            .map(|&(first, hops)| detect::analyze_segment(&grid, &plans, &self.layout, search, &mono, first, hops))
            .collect();
        let nf = search.freq_scales.len();
        let nt = search.time_scales.len();
        let mut ranked: Vec<(f32, usize, usize)> = Vec::with_capacity(nf * nt);
        for fi in 0..nf {
            for ti in 0..nt {
                let z: f32 = segs.iter().map(|s| s.fits[fi][ti].z).sum();
                ranked.push((z, fi, ti));
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut chosen: Vec<(f32, usize, usize)> = Vec::new();
        for &(z, fi, ti) in &ranked {
            if chosen.len() >= max {
                break;
            }
            if chosen.iter().any(|&(_, f, t)| f.abs_diff(fi) <= 1 && t.abs_diff(ti) <= 2) {
                continue;
            }
            chosen.push((z, fi, ti));
        }
        chosen
            .into_iter()
            .map(|(z, fi, ti)| {
                let mut soft = vec![0.0f32; self.layout.coded_bits];
                let best = segs
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.fits[fi][ti].z.total_cmp(&b.1.fits[fi][ti].z))
                    .map_or(0, |(i, _)| i);
                for (i, s) in segs.iter().enumerate() {
                    let sz = s.fits[fi][ti].z;
                    let w = if i == best { (sz - 2.0).max(1.0) } else { (sz - 2.0).max(0.0) };
                    if w > 0.0 {
                        s.add_soft(&self.layout, search, fi, ti, w, &mut soft);
                    }
                }
                let rms = (soft.iter().map(|v| v * v).sum::<f32>() / soft.len().max(1) as f32).sqrt();
                if rms > 0.0 {
                    soft.iter_mut().for_each(|v| *v /= rms);
                }
                Candidate { soft, sync: z, time_scale: search.time_scales[ti], freq_scale: search.freq_scales[fi] }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
