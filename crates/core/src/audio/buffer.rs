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
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(Error::params(
                "sample rate",
                format!("{sample_rate} Hz is outside 8000–192000 Hz"),
            ));
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(Error::params(
                "channels",
                format!("{channels} is outside 1–{MAX_CHANNELS}"),
            ));
        }
        if samples.len() % usize::from(channels) != 0 {
            return Err(Error::params("samples", "length is not a multiple of the channel count"));
        }
        if samples.iter().any(|s| !s.is_finite()) {
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
    pub(crate) fn as_stored(&self) -> std::borrow::Cow<'_, Self> {
        match self.format {
            SampleFormat::Int(bits) if (8..=24).contains(&bits) => {
                let scale = (1u32 << (bits - 1)) as f32;
                // One pass that writes each sample once (a clone then an in-place rewrite
                // touched the buffer twice).
                let samples = self
                    .samples
                    .iter()
                    .map(|s| (s * scale).round().clamp(-scale, scale - 1.0) / scale)
                    .collect();
                std::borrow::Cow::Owned(Self { samples, ..*self })
            }
            _ => std::borrow::Cow::Borrowed(self),
        }
    }

    /// One channel as its own vector.
    pub(crate) fn channel(&self, c: usize) -> Vec<f32> {
        self.samples.iter().skip(c).step_by(usize::from(self.channels)).copied().collect()
    }

    /// Writes one channel back.
    pub(crate) fn set_channel(&mut self, c: usize, data: &[f32]) {
        let n = usize::from(self.channels);
        for (dst, src) in self.samples.iter_mut().skip(c).step_by(n).zip(data) {
            *dst = *src;
        }
    }

    /// The average of all channels (the signal a mono downmix would keep); mono audio is
    /// borrowed, not copied.
    pub(crate) fn mono(&self) -> std::borrow::Cow<'_, [f32]> {
        let n = usize::from(self.channels);
        if n == 1 {
            return std::borrow::Cow::Borrowed(&self.samples);
        }
        let scale = 1.0 / n as f32;
        std::borrow::Cow::Owned(
            self.samples.chunks_exact(n).map(|f| f.iter().sum::<f32>() * scale).collect(),
        )
    }
}
