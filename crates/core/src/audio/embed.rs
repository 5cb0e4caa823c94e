//! Embedding: per frame, the magnitudes of the band's bins are scaled by `1 ± strength`
//! following the keyed chip of their slot; only the difference is synthesised and added, so
//! the host passes through untouched outside the band.

use rayon::prelude::*;

use super::layout::{Grid, Layout, Role, BLOCK_SYMBOLS, HOPS_PER_SYMBOL, SUBBANDS};
use super::stft::{Plans, Scratch};

/// Frames processed per parallel chunk (bounds the memory of pending frame deltas).
const CHUNK_FRAMES: usize = 256;

/// Per block symbol and bin: the relative gain `strength * chip * bit` (0 outside the band).
pub(crate) fn gain_table(grid: &Grid, layout: &Layout, coded: &[f32], strength: f32) -> Vec<Vec<f32>> {
    let bands = grid.bin_bands();
    (0..BLOCK_SYMBOLS)
        .map(|b| {
            bands
                .iter()
                .map(|band| match band {
                    None => 0.0,
                    Some(k) => {
                        let slot = b * SUBBANDS + usize::from(*k);
                        let sign = match layout.roles[slot] {
                            Role::Sync => 1.0,
                            Role::Data(c) => coded[usize::from(c)],
                        };
                        strength * layout.chips[slot] * sign
                    }
                })
                .collect()
        })
        .collect()
}

/// Adds the mark to one channel (`signal` holds that channel's samples), in place.
pub(crate) fn embed_channel(grid: &Grid, plans: &Plans, gains: &[Vec<f32>], signal: &mut [f32]) {
    let hop = grid.hop;
    let frame = grid.frame;
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
                || Scratch::new(plans),
                |s, t| {
                    let g = &gains[(t / HOPS_PER_SYMBOL) % BLOCK_SYMBOLS];
                    s.analyze(plans, source, t * hop);
                    for (x, &gain) in s.spec.iter_mut().zip(g.iter()) {
                        *x *= gain;
                    }
                    if let Some(first) = s.spec.first_mut() {
                        first.im = 0.0;
                    }
                    if let Some(last) = s.spec.last_mut() {
                        last.im = 0.0;
                    }
                    let _ = plans.inverse.process_with_scratch(&mut s.spec, &mut s.time, &mut s.inv);
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
