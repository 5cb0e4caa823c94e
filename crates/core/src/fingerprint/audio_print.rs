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
    check_shape(rate, channels)?;
    let n = usize::from(channels);
    if samples.len() % n != 0 {
        return Err(Error::params("audio", "sample count is not a whole number of frames"));
    }
    let mut printer = AudioPrinter::new(rate, channels, (samples.len() / n) as u64)?;
    printer.push(samples)?;
    printer.finish()
}

fn check_shape(rate: u32, channels: u16) -> Result<()> {
    if !(8000..=384_000).contains(&rate) || channels == 0 {
        return Err(Error::params("audio", format!("rate {rate} Hz, {channels} channels")));
    }
    Ok(())
}

/// [`audio_fingerprint`] computed as the audio arrives, in memory bounded by one analysis
/// frame: [`push`](Self::push) interleaved samples in pieces of any size, then
/// [`finish`](Self::finish). The length must be known up front (the 16 time segments are
/// fractions of it); the result is the same bits as [`audio_fingerprint`] of the whole buffer.
pub struct AudioPrinter {
    channels: usize,
    rate: u32,
    /// Frames (samples per channel) announced.
    total: u64,
    /// Frames received.
    received: u64,
    len: usize,
    hop: usize,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    window: Vec<f32>,
    /// (bin, pitch class) of every analysed bin.
    bins: Vec<(usize, usize)>,
    /// Mono samples from the start of the next analysis frame on.
    mono: Vec<f32>,
    /// Samples of a frame split between two pushes.
    partial: Vec<f32>,
    /// Index of the next analysis frame.
    frame: usize,
    seg: [[f64; PCS]; SEGMENTS],
    finite: bool,
    input: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
}

impl std::fmt::Debug for AudioPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioPrinter")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .field("total", &self.total)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl AudioPrinter {
    /// A printer for `frames` frames of `channels`-channel audio at `rate` Hz.
    ///
    /// # Errors
    ///
    /// [`Error::Params`] for a rate outside 8 kHz to 384 kHz or zero channels;
    /// [`Error::Limits`] beyond one hour at 48 kHz.
    pub fn new(rate: u32, channels: u16, frames: u64) -> Result<Self> {
        check_shape(rate, channels)?;
        if frames > MAX_FRAMES as u64 {
            return Err(Error::Limits {
                what: "audio frames",
                actual: frames,
                limit: MAX_FRAMES as u64,
            });
        }
        let len = (FRAME_S * f64::from(rate)).round() as usize;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(len);
        let window: Vec<f32> = (0..len)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos()) as f32
            })
            .collect();
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
        let (input, spectrum) = (fft.make_input_vec(), fft.make_output_vec());
        Ok(Self {
            channels: usize::from(channels),
            rate,
            total: frames,
            received: 0,
            len,
            hop: len / 4,
            fft,
            window,
            bins,
            mono: Vec::with_capacity(2 * len),
            partial: Vec::new(),
            frame: 0,
            seg: [[0.0; PCS]; SEGMENTS],
            finite: true,
            input,
            spectrum,
        })
    }

    /// Adds the next interleaved samples.
    ///
    /// # Errors
    ///
    /// [`Error::Params`] past the announced length.
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        let n = self.channels;
        let mut rest = samples;
        if !self.partial.is_empty() {
            let take = (n - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() == n {
                let frame = std::mem::take(&mut self.partial);
                self.push_frames(&frame)?;
            }
        }
        let whole = rest.len() / n * n;
        // Bounded pieces, so the mono buffer stays near one analysis frame.
        for piece in rest[..whole].chunks(n * self.hop.max(1) * 4) {
            self.push_frames(piece)?;
        }
        self.partial.extend_from_slice(&rest[whole..]);
        Ok(())
    }

    fn push_frames(&mut self, samples: &[f32]) -> Result<()> {
        let n = self.channels;
        let frames = (samples.len() / n) as u64;
        if self.received + frames > self.total {
            return Err(Error::params("audio", "more samples than the announced length"));
        }
        self.received += frames;
        self.finite &= samples.iter().all(|v| v.is_finite());
        self.mono.extend(samples.chunks_exact(n).map(|f| f.iter().sum::<f32>() / n as f32));
        let mut start = 0;
        while start + self.len <= self.mono.len() {
            let chroma = self.chroma(start)?;
            self.add(chroma);
            start += self.hop;
        }
        self.mono.drain(..start);
        Ok(())
    }

    /// Spectral magnitude of the frame at `start` of the mono buffer, folded onto the 12
    /// pitch classes.
    fn chroma(&mut self, start: usize) -> Result<[f64; PCS]> {
        let frame = &self.mono[start..start + self.len];
        for ((d, &x), &w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *d = x * w;
        }
        self.fft
            .process(&mut self.input, &mut self.spectrum)
            .map_err(|e| Error::decode("audio spectrum", e.to_string()))?;
        let mut c = [0.0f64; PCS];
        for &(b, p) in &self.bins {
            c[p] += f64::from(self.spectrum[b].norm());
        }
        Ok(c)
    }

    /// Spreads a frame over 16 equal segments of the duration with linear (tent) weights on
    /// the frame centre, so that a slightly different framing moves the sums only slightly.
    fn add(&mut self, c: [f64; PCS]) {
        let total_s = self.total as f64;
        let centre = (self.frame * self.hop) as f64 + self.len as f64 / 2.0;
        let u = (centre / total_s * SEGMENTS as f64 - 0.5).clamp(0.0, (SEGMENTS - 1) as f64);
        let lo = u.floor() as usize;
        let hi = (lo + 1).min(SEGMENTS - 1);
        let frac = u - lo as f64;
        for (p, v) in c.iter().enumerate() {
            self.seg[lo][p] += v * (1.0 - frac);
            self.seg[hi][p] += v * frac;
        }
        self.frame += 1;
    }

    /// The fingerprint.
    ///
    /// # Errors
    ///
    /// [`Error::Params`] for fewer samples than announced, a partial frame, non-finite
    /// samples or audio too short.
    pub fn finish(mut self) -> Result<Fingerprint> {
        if !self.finite {
            return Err(Error::params("audio", "non-finite samples"));
        }
        if self.received != self.total || !self.partial.is_empty() {
            return Err(Error::params("audio", "fewer samples than the announced length"));
        }
        if self.total < (self.len + (SEGMENTS - 1) * self.hop) as u64 {
            return Err(Error::params(
                "audio",
                format!(
                    "{:.2} s is too short for a fingerprint",
                    self.total as f64 / f64::from(self.rate)
                ),
            ));
        }
        // Normalize each segment to unit sum, then compare neighbours.
        for s in &mut self.seg {
            let total: f64 = s.iter().sum();
            if total > 0.0 {
                s.iter_mut().for_each(|v| *v /= total);
            }
        }
        let seg = &self.seg;
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
}
