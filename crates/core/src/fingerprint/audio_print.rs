//! The chroma-print audio fingerprint.

use realfft::RealFftPlanner;

use super::{pack, Fingerprint};
use crate::{Error, Result};

/// Time segments (16 bits each).
const SEGMENTS: usize = 16;
/// Pitch classes.
const PCS: usize = 12;
/// Lowest and highest analysed frequency (A2 to A7).
const F_LO: f64 = 110.0;
const F_HI: f64 = 3520.0;
/// Analysis frame duration in seconds: the same at every rate, so that resampled copies cut the
/// same frames; 0.36 s makes the FFT length 7-smooth (fast) at 8, 16, 22.05, 32, 44.1, 48 and
/// 96 kHz.
const FRAME_S: f64 = 0.36;
/// Longest input analysed, in frames of audio (one hour at 48 kHz), to bound the work.
const MAX_FRAMES: usize = 3600 * 48_000;

/// The fingerprint of interleaved `samples` at `rate` Hz with `channels` channels.
///
/// The analysis frame is 0.36 s long at any rate (Hann window, quarter-frame hop), so the
/// result does not depend on the rate; at least about 1.8 s of audio is needed.
///
/// # Errors
///
/// [`Error::Params`] for a rate outside 8 kHz to 384 kHz, zero channels, a buffer that is not
/// whole frames, non-finite samples or audio too short; [`Error::Limits`] beyond one hour.
pub fn audio_fingerprint(samples: &[f32], rate: u32, channels: u16) -> Result<Fingerprint> {
    if !(8000..=384_000).contains(&rate) || channels == 0 {
        return Err(Error::params("audio", format!("rate {rate} Hz, {channels} channels")));
    }
    let n = usize::from(channels);
    if samples.len() % n != 0 {
        return Err(Error::params("audio", "sample count is not a whole number of frames"));
    }
    let frames = samples.len() / n;
    if frames > MAX_FRAMES {
        return Err(Error::Limits {
            what: "audio frames",
            actual: frames as u64,
            limit: MAX_FRAMES as u64,
        });
    }
    if samples.iter().any(|v| !v.is_finite()) {
        return Err(Error::params("audio", "non-finite samples"));
    }
    let mono: Vec<f32> =
        samples.chunks_exact(n).map(|f| f.iter().sum::<f32>() / n as f32).collect();
    let len = (FRAME_S * f64::from(rate)).round() as usize;
    let hop = len / 4;
    if mono.len() < len + (SEGMENTS - 1) * hop {
        return Err(Error::params(
            "audio",
            format!("{:.2} s is too short for a fingerprint", mono.len() as f64 / f64::from(rate)),
        ));
    }
    let chroma = frame_chroma(&mono, rate, len, hop)?;
    // Spread frames over 16 equal segments of the duration with linear (tent) weights on the
    // frame centre, so that a slightly different framing moves the sums only slightly; then
    // normalize each segment to unit sum.
    let mut seg = [[0.0f64; PCS]; SEGMENTS];
    let total_s = mono.len() as f64;
    for (f, c) in chroma.iter().enumerate() {
        let centre = (f * hop) as f64 + len as f64 / 2.0;
        let u = (centre / total_s * SEGMENTS as f64 - 0.5).clamp(0.0, (SEGMENTS - 1) as f64);
        let lo = u.floor() as usize;
        let hi = (lo + 1).min(SEGMENTS - 1);
        let frac = u - lo as f64;
        for p in 0..PCS {
            seg[lo][p] += c[p] * (1.0 - frac);
            seg[hi][p] += c[p] * frac;
        }
    }
    for s in &mut seg {
        let total: f64 = s.iter().sum();
        if total > 0.0 {
            s.iter_mut().for_each(|v| *v /= total);
        }
    }
    let group = |s: &[f64; PCS], k: usize| s[3 * k] + s[3 * k + 1] + s[3 * k + 2];
    let mut bits = Vec::with_capacity(256);
    for t in 0..SEGMENTS {
        for p in 0..PCS {
            bits.push(seg[t][p] > seg[t][(p + 1) % PCS]);
        }
        let prev = &seg[(t + SEGMENTS - 1) % SEGMENTS];
        for k in 0..4 {
            bits.push(group(&seg[t], k) > group(prev, k));
        }
    }
    Ok(pack(&bits))
}

/// Per analysis frame: spectral magnitude folded onto the 12 pitch classes.
fn frame_chroma(mono: &[f32], rate: u32, len: usize, hop: usize) -> Result<Vec<[f64; PCS]>> {
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(len);
    let window: Vec<f32> = (0..len)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos()) as f32)
        .collect();
    // Pitch class of each analysed bin.
    let bin_hz = f64::from(rate) / len as f64;
    let bins: Vec<(usize, usize)> = (1..len / 2)
        .filter_map(|b| {
            let f = b as f64 * bin_hz;
            (F_LO..=F_HI).contains(&f).then(|| {
                let semis = (12.0 * (f / 440.0).log2()).round() as i64;
                (b, semis.rem_euclid(PCS as i64) as usize)
            })
        })
        .collect();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut out = Vec::new();
    let mut start = 0;
    while start + len <= mono.len() {
        for ((d, &x), &w) in input.iter_mut().zip(&mono[start..start + len]).zip(&window) {
            *d = x * w;
        }
        fft.process(&mut input, &mut spectrum)
            .map_err(|e| Error::decode("audio spectrum", e.to_string()))?;
        let mut c = [0.0f64; PCS];
        for &(b, p) in &bins {
            c[p] += f64::from(spectrum[b].norm());
        }
        out.push(c);
        start += hop;
    }
    Ok(out)
}
