//! [`AudioBuffer`]: interleaved `f32` samples with their rate, channel count and the sample
//! format they came from (so an encoder can write them back at the same depth).

use crate::{Error, Result};

/// Lowest sample rate accepted (Hz).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate accepted (Hz).
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Most channels accepted.
pub const MAX_CHANNELS: u16 = 32;

/// How the samples were stored in the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleFormat {
    /// Signed (or, for 8-bit WAV, offset) integers of this many bits (8..=32).
    Int(u16),
    /// 32-bit IEEE float.
    Float,
}

/// Audio in memory: interleaved `f32` samples in `[-1, 1]` (frame after frame, channel after
/// channel inside a frame).
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBuffer {
    samples: Vec<f32>,
    channels: u16,
    sample_rate: u32,
    format: SampleFormat,
}

impl AudioBuffer {
    /// Wraps interleaved samples.
    ///
    /// # Errors
    /// [`Error::Params`] if the rate is outside 8–192 kHz, the channel count is 0 or above
    /// [`MAX_CHANNELS`], the sample count is not a multiple of the channel count, or a sample
    /// is not finite.
    pub fn new(
        samples: Vec<f32>,
        channels: u16,
        sample_rate: u32,
        format: SampleFormat,
    ) -> Result<Self> {
        check_shape(channels, sample_rate)?;
        if samples.len() % usize::from(channels) != 0 {
            return Err(Error::params("samples", "length is not a multiple of the channel count"));
        }
        if !all_finite(&samples) {
            return Err(Error::params("samples", "contains NaN or infinity"));
        }
        Ok(Self { samples, channels, sample_rate, format })
    }

    /// Interleaved samples.
    #[must_use]
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Mutable interleaved samples.
    pub fn samples_mut(&mut self) -> &mut [f32] {
        &mut self.samples
    }

    /// Consumes the buffer, returning the interleaved samples.
    #[must_use]
    pub fn into_samples(self) -> Vec<f32> {
        self.samples
    }

    /// Channel count.
    #[must_use]
    pub const fn channels(&self) -> u16 {
        self.channels
    }

    /// Sample rate in Hz.
    #[must_use]
    pub const fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The source sample format.
    #[must_use]
    pub const fn format(&self) -> SampleFormat {
        self.format
    }

    /// Frames (samples per channel).
    #[must_use]
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels)
    }

    /// Duration in seconds.
    #[must_use]
    pub fn duration_seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// The samples as an integer format of up to 24 bits will store them: rounded to the
    /// format's step and clipped to its range (the quietest passages of 16-bit speech can
    /// hold a mark near one step, which rounding removes). Float and 32-bit formats are
    /// returned as they are.
    #[cfg(test)]
    pub(crate) fn as_stored(&self) -> std::borrow::Cow<'_, Self> {
        match self.stored_bits() {
            Some(bits) => {
                let samples = self.samples.iter().map(|&s| store(s, bits)).collect();
                std::borrow::Cow::Owned(Self { samples, ..*self })
            }
            None => std::borrow::Cow::Borrowed(self),
        }
    }

    /// The channel mix of [`as_stored`](Self::as_stored) as a one-channel buffer, made in one
    /// pass (the same values as `as_stored().mono()`).
    pub(crate) fn stored_mono(&self) -> Self {
        let n = usize::from(self.channels);
        let samples = match self.stored_bits() {
            Some(bits) => mix_mapped(&self.samples, n, |s| store(s, bits)),
            None => self.mono().into_owned(),
        };
        Self { samples, channels: 1, ..*self }
    }

    /// Bit depth `as_stored` rounds to, if any.
    fn stored_bits(&self) -> Option<u16> {
        match self.format {
            SampleFormat::Int(bits) if (8..=24).contains(&bits) => Some(bits),
            _ => None,
        }
    }

    /// The average of all channels (the signal a mono downmix would keep); mono audio is
    /// borrowed, not copied.
    pub(crate) fn mono(&self) -> std::borrow::Cow<'_, [f32]> {
        let n = usize::from(self.channels);
        if n == 1 {
            return std::borrow::Cow::Borrowed(&self.samples);
        }
        std::borrow::Cow::Owned(mix(&self.samples, n))
    }
}

/// Whether every sample is finite, in runs without an early exit per sample (which kept the
/// check scalar; this loop vectorises).
fn all_finite(samples: &[f32]) -> bool {
    samples.chunks(1024).all(|c| c.iter().fold(true, |ok, s| ok & s.is_finite()))
}

/// Checks a channel count and sample rate against what the engine accepts.
pub(crate) fn check_shape(channels: u16, sample_rate: u32) -> Result<()> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(Error::params(
            "sample rate",
            format!("{sample_rate} Hz is outside 8000–192000 Hz"),
        ));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::params("channels", format!("{channels} is outside 1–{MAX_CHANNELS}")));
    }
    Ok(())
}

/// The average of the `n` interleaved channels of `samples`, frame by frame.
pub(crate) fn mix(samples: &[f32], n: usize) -> Vec<f32> {
    mix_mapped(samples, n, |s| s)
}

/// The average over each frame of `n` interleaved channels of `g` of its samples, in
/// parallel over large buffers (each output depends on its own frame only, so the result
/// does not depend on the split). One and two channels have their own loops, which the
/// compiler vectorises.
fn mix_mapped(samples: &[f32], n: usize, g: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    use rayon::prelude::*;
    /// Frames per parallel piece.
    const PIECE: usize = 1 << 16;
    let mut out = vec![0.0f32; samples.len() / n];
    let scale = 1.0 / n as f32;
    out.par_chunks_mut(PIECE).zip(samples.par_chunks(PIECE * n)).for_each(|(o, s)| match n {
        1 => o.iter_mut().zip(s).for_each(|(y, &x)| *y = g(x)),
        2 => {
            // `g` over a run of interleaved samples first, then the pairs: the same sums, and
            // the loop over `g` vectorises (over the pairs directly it stayed scalar).
            let mut mapped = [0.0f32; 512];
            for (o, s) in o.chunks_mut(mapped.len() / 2).zip(s.chunks(mapped.len())) {
                let mapped = &mut mapped[..s.len()];
                mapped.iter_mut().zip(s).for_each(|(m, &x)| *m = g(x));
                o.iter_mut()
                    .zip(mapped.chunks_exact(2))
                    .for_each(|(y, f)| *y = (f[0] + f[1]) * 0.5);
            }
        }
        _ => o.iter_mut().zip(s.chunks_exact(n)).for_each(|(y, f)| {
            *y = f.iter().map(|&x| g(x)).sum::<f32>() * scale;
        }),
    });
    out
}

/// `x` (full scale ±1) rounded to the nearest step of a `bits`-bit integer format (8..=24;
/// halves away from zero) and clipped to its range, back in full-scale units: exactly the
/// value the WAV and FLAC writers store ([`quantize`]).
#[inline]
pub(crate) fn store(x: f32, bits: u16) -> f32 {
    debug_assert!((8..=24).contains(&bits));
    let scale = (1u32 << (bits - 1)) as f32;
    stored_level(x, scale) / scale
}

/// The integer level [`store`] rounds `x` to, as an `f32` (exact: at most 2²³ in
/// magnitude), for a format of `scale = 2^(bits − 1)` steps per unit, 8 to 24 bits.
#[inline]
fn stored_level(x: f32, scale: f32) -> f32 {
    // In f32, exact for up to 24 bits, with no integer conversion and no branch, so the
    // loops over it vectorise (the saturating float-to-int cast did not). `a = |v| ≤ 2²³`:
    // `(a + 2²³) − 2²³` lies in `[2²³, 2²⁴]`, where the step is 1, so it is `a` rounded to
    // the nearest integer, halves to even; `r − a` is exact (both within ½ of each other on
    // a grid no finer than `a`'s), and is −½ exactly when a half was rounded down, which
    // rounding half away from zero takes up. The sign goes back on; `+ 0.0` turns −0 into
    // +0 as the integer path gave. NaN becomes 0, as in `quantize` (the test
    // `quantize_rounds_half_away_from_zero_and_clips_like_libm` checks every halfway value).
    const TWO_23: f32 = 8_388_608.0;
    let v = (x * scale).clamp(-scale, scale - 1.0);
    let a = v.abs();
    let r = (a + TWO_23) - TWO_23;
    let r = r + f32::from(u8::from(r - a == -0.5));
    let q = r.copysign(v) + 0.0;
    if v.is_nan() {
        0.0
    } else {
        q
    }
}

/// [`quantize`] of each of `samples` into `out` (the shorter of the two), the same integers,
/// in loops that vectorise for 8 to 24 bits (the writers' hot loop; 32-bit samples take
/// `quantize` one by one).
pub(crate) fn quantize_into(samples: &[f32], bits: u16, out: &mut [i32]) {
    if !(8..=24).contains(&bits) {
        out.iter_mut().zip(samples).for_each(|(o, &x)| *o = quantize(x, bits));
        return;
    }
    let scale = (1u32 << (bits - 1)) as f32;
    // An integer of magnitude below 2³¹ plus 1.5·2⁵² lies where the f64 step is 1, with the
    // integer in two's complement in the low 32 bits of the mantissa: no float-to-int cast.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    for (o, &x) in out.iter_mut().zip(samples) {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_possible_wrap,
            reason = "the low 32 bits are the integer, in two's complement"
        )]
        let q = (f64::from(stored_level(x, scale)) + MAGIC).to_bits() as u32 as i32;
        *o = q;
    }
}

/// `x` (full scale ±1) as a `bits`-bit integer sample (8..=32): rounded half away from zero,
/// clipped to the format's range.
#[inline]
pub(crate) fn quantize(x: f32, bits: u16) -> i32 {
    let scale = (1i64 << (bits - 1)) as f64;
    // Exact: a power-of-two scale only shifts the exponent, and adding one half to a value of
    // at most 24 significant bits is exact in f64, so truncation rounds half away from zero
    // (the same as `f64::round`, without a libm call per sample). Clamping first gives the
    // same result as clamping the rounded value.
    let v = (f64::from(x) * scale).clamp(-scale, scale - 1.0);
    #[allow(clippy::cast_possible_truncation, reason = "clamped into the bit depth's range")]
    let q = (v + 0.5f64.copysign(v)) as i64 as i32;
    q
}
