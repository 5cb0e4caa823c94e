//! Embedding: per frame, the magnitudes of the band's bins are scaled by `1 ± strength`
//! following the keyed chip of their slot; only the difference is synthesised and added, so
//! the host passes through untouched outside the band.

use rayon::prelude::*;

use super::layout::{Grid, Layout, Role, BLOCK_SYMBOLS, HOPS_PER_SYMBOL, SUBBANDS};
use super::mask;
use super::stft::{Plans, Scratch};

/// Frames processed per parallel chunk (bounds the memory of pending frame deltas).
const CHUNK_FRAMES: usize = 256;

/// Per block symbol and sub-band: the sign `chip * bit` of the slot.
pub(crate) fn sign_table(layout: &Layout, coded: &[f32]) -> Vec<[f32; SUBBANDS]> {
    (0..BLOCK_SYMBOLS)
        .map(|b| {
            let mut row = [0.0f32; SUBBANDS];
            for (k, r) in row.iter_mut().enumerate() {
                let slot = b * SUBBANDS + k;
                let bit = match layout.roles[slot] {
                    Role::Sync => 1.0,
                    Role::Data(c) => coded[usize::from(c)],
                };
                *r = layout.chips[slot] * bit;
            }
            row
        })
        .collect()
}

/// Strength settings of one embedding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strength {
    /// Change energy per frame as a fraction of the frame's energy.
    pub(crate) budget: f32,
    /// Largest relative magnitude change of a sub-band.
    pub(crate) cap: f32,
}

/// Adds the mark to one channel (`signal` holds that channel's samples), in place. The
/// modulation depths come from `reference` (the channel mix), so every channel gets the same
/// relative change and any downmix carries exactly the mark the detector expects.
pub(crate) fn embed_channel(
    grid: &Grid,
    plans: &Plans,
    signs: &[[f32; SUBBANDS]],
    strength: Strength,
    reference: Option<&[f32]>,
    signal: &mut [f32],
) {
    let hop = grid.hop;
    let frame = grid.frame;
    let bands = grid.bin_bands();
    // Frame t covers samples [t*hop, t*hop + frame); the last frame may run past the end.
    let frames = signal.len().div_ceil(hop);
    let norm = 1.0 / frame as f32;
    let mut start_frame = 0;
    while start_frame < frames {
        let end_frame = (start_frame + CHUNK_FRAMES).min(frames);
        let source: &[f32] = signal;
        let deltas: Vec<Vec<f32>> = (start_frame..end_frame)
            .into_par_iter()
            .map_init(
                || {
                    (
                        Scratch::new(plans),
                        Scratch::new(plans),
                        [0.0f32; SUBBANDS],
                        [0.0f32; SUBBANDS],
                    )
                },
                |(s, r, energy, depth), t| {
                    let sign = &signs[(t / HOPS_PER_SYMBOL) % BLOCK_SYMBOLS];
                    s.analyze(plans, source, t * hop);
                    let spec = match reference {
                        Some(reference) => {
                            r.analyze(plans, reference, t * hop);
                            &r.spec
                        }
                        None => &s.spec,
                    };
                    energy.iter_mut().for_each(|e| *e = 0.0);
                    let mut total = 0.0f32;
                    for (x, band) in spec.iter().zip(&bands) {
                        let p = x.norm_sqr();
                        total += p;
                        if let Some(k) = band {
                            energy[usize::from(*k)] += p;
                        }
                    }
                    mask::waterfill(
                        &energy[..],
                        strength.budget * total,
                        strength.cap,
                        &mut depth[..],
                    );
                    for (x, band) in s.spec.iter_mut().zip(&bands) {
                        *x *= match band {
                            Some(k) => depth[usize::from(*k)] * sign[usize::from(*k)],
                            None => 0.0,
                        };
                    }
                    if let Some(first) = s.spec.first_mut() {
                        first.im = 0.0;
                    }
                    if let Some(last) = s.spec.last_mut() {
                        last.im = 0.0;
                    }
                    let _ =
                        plans.inverse.process_with_scratch(&mut s.spec, &mut s.time, &mut s.inv);
                    s.time.iter().zip(plans.window.iter()).map(|(v, w)| v * w * norm).collect()
                },
            )
            .collect();
        for (i, delta) in deltas.iter().enumerate() {
            let start = (start_frame + i) * hop;
            let end = (start + frame).min(signal.len());
            for (y, d) in signal[start..end].iter_mut().zip(delta.iter()) {
                *y += d;
            }
        }
        start_frame = end_frame;
    }
}
