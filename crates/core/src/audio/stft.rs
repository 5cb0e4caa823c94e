//! Short-time Fourier transform helpers: a sine window (perfect reconstruction at 50 %
//! overlap), FFT plans made once per frame length and reused for every frame.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Forward and inverse real FFT plans and the analysis/synthesis window for one frame length.
#[derive(Clone)]
pub(crate) struct Plans {
    pub(crate) forward: Arc<dyn RealToComplex<f32>>,
    pub(crate) inverse: Arc<dyn ComplexToReal<f32>>,
    pub(crate) window: Arc<[f32]>,
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plans").field("frame", &self.window.len()).finish_non_exhaustive()
    }
}

impl Plans {
    /// Plans for frames of `frame` samples.
    pub(crate) fn new(frame: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let window: Vec<f32> = (0..frame)
            .map(|n| (std::f64::consts::PI * (n as f64 + 0.5) / frame as f64).sin() as f32)
            .collect();
        Self {
            forward: planner.plan_fft_forward(frame),
            inverse: planner.plan_fft_inverse(frame),
            window: window.into(),
        }
    }
}

/// Per-thread scratch buffers for one frame length.
pub(crate) struct Scratch {
    pub(crate) time: Vec<f32>,
    pub(crate) spec: Vec<Complex32>,
    pub(crate) fwd: Vec<Complex32>,
    pub(crate) inv: Vec<Complex32>,
}

impl Scratch {
    pub(crate) fn new(plans: &Plans) -> Self {
        Self {
            time: plans.forward.make_input_vec(),
            spec: plans.forward.make_output_vec(),
            fwd: plans.forward.make_scratch_vec(),
            inv: plans.inverse.make_scratch_vec(),
        }
    }

    /// Windowed forward FFT of `signal[start..start + frame]` (zero beyond the end) into `spec`.
    pub(crate) fn analyze(&mut self, plans: &Plans, signal: &[f32], start: usize) {
        self.analyze_strided(plans, signal, start, 1, 0);
    }

    /// As [`analyze`](Self::analyze) on channel `channel` of interleaved `signal` with
    /// `channels` samples per frame (`start` counts frames).
    pub(crate) fn analyze_strided(
        &mut self,
        plans: &Plans,
        signal: &[f32],
        start: usize,
        channels: usize,
        channel: usize,
    ) {
        debug_assert_eq!(self.time.len(), plans.window.len());
        let frames = signal.len() / channels;
        let have = frames.saturating_sub(start).min(self.time.len());
        let (head, tail) = self.time.split_at_mut(have);
        if channels == 1 {
            for ((t, x), w) in head.iter_mut().zip(&signal[start..start + have]).zip(&*plans.window)
            {
                *t = x * w;
            }
        } else {
            let src = signal[start * channels..(start + have) * channels].chunks_exact(channels);
            for ((t, f), w) in head.iter_mut().zip(src).zip(&*plans.window) {
                *t = f[channel] * w;
            }
        }
        tail.iter_mut().for_each(|t| *t = 0.0);
        // Lengths come from the same plan, so this cannot fail.
        let _ = plans.forward.process_with_scratch(&mut self.time, &mut self.spec, &mut self.fwd);
    }
}
