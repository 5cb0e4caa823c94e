//! Preparing a spoken cue clip for the host: downmix, windowed-sinc resampling, fades.

use std::f64::consts::PI;

/// Half-width of the resampling kernel in output-rate zero crossings.
const HALF_TAPS: f64 = 16.0;

/// Averages interleaved frames to mono.
pub(crate) fn downmix(samples: &[f32], channels: u16) -> Vec<f32> {
    let n = usize::from(channels.max(1));
    samples.chunks_exact(n).map(|f| f.iter().sum::<f32>() / n as f32).collect()
}

/// Resamples mono `x` from `from` Hz to `to` Hz with a Blackman-windowed sinc whose cutoff is
/// the lower Nyquist frequency (so downsampling does not alias).
pub(crate) fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || x.is_empty() {
        return x.to_vec();
    }
    let ratio = f64::from(from) / f64::from(to);
    let cutoff = (1.0 / ratio).min(1.0); // relative to the input Nyquist
    let half = HALF_TAPS / cutoff; // kernel half-width in input samples
    let out_len = ((x.len() as f64) / ratio).floor() as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let t = n as f64 * ratio;
        let lo = (t - half).ceil().max(0.0) as usize;
        let hi = ((t + half).floor() as usize).min(x.len() - 1);
        let mut acc = 0.0f64;
        let mut norm = 0.0f64;
        for (k, &v) in x.iter().enumerate().take(hi + 1).skip(lo) {
            let d = k as f64 - t;
            let arg = d * cutoff;
            let sinc = if arg.abs() < 1e-12 { 1.0 } else { (PI * arg).sin() / (PI * arg) };
            let w = 0.42 + 0.5 * (PI * d / half).cos() + 0.08 * (2.0 * PI * d / half).cos();
            let h = sinc * w;
            acc += f64::from(v) * h;
            norm += h;
        }
        out.push(if norm.abs() > 1e-9 { (acc / norm) as f32 } else { 0.0 });
    }
    out
}

/// Raised-cosine gain at sample `i` of a segment of `len` samples with `fade`-sample fades.
pub(crate) fn fade_gain(i: usize, len: usize, fade: usize) -> f32 {
    if fade == 0 || i >= len {
        return 1.0;
    }
    let edge = i.min(len - 1 - i);
    if edge >= fade {
        1.0
    } else {
        // 0 at the outermost sample's outer edge, 1 after `fade` samples.
        let t = (edge as f64 + 0.5) / fade as f64;
        (0.5 - 0.5 * (PI * t).cos()) as f32
    }
}
