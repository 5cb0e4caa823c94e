//! [`AudioParams`]: validated settings of the audio embedder and detector.

use crate::payload::{max_attempts, DEFAULT_MAX_FALSE_POSITIVE};
use crate::{Error, Result};

/// Most decode attempts per file: 64 · 2⁻⁴⁸ ≈ 2.3·10⁻¹³, within the default bound of 10⁻¹²
/// (the image detector's budget too).
pub(crate) const MAX_ATTEMPTS: usize = 64;

/// Most sync hypotheses (alternating plain and noise-weighted candidates) decoded per file.
pub(crate) const HYPOTHESES: usize = 24;

/// Largest modulation depth a self-check boost may raise the depth cap to.
pub(crate) const BOOSTED_DEPTH_LIMIT: f32 = 0.6;

/// Settings of [`super::AudioEmbedder`] and [`super::AudioDetector`]. Build with
/// [`AudioParams::builder`]; [`AudioParams::default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioParams {
    pub(crate) snr_db: f32,
    pub(crate) max_depth: f32,
    pub(crate) max_time_scale: f64,
    pub(crate) min_freq_scale: f64,
    pub(crate) max_freq_scale: f64,
    pub(crate) max_false_positive: f64,
    pub(crate) max_seconds: f64,
}

impl Default for AudioParams {
    fn default() -> Self {
        Self {
            snr_db: 30.5,
            max_depth: 0.3,
            max_time_scale: 0.035,
            min_freq_scale: 0.965,
            max_freq_scale: 1.075,
            max_false_positive: DEFAULT_MAX_FALSE_POSITIVE,
            max_seconds: 4.0 * 3600.0,
        }
    }
}

impl AudioParams {
    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> AudioParamsBuilder {
        AudioParamsBuilder(Self::default())
    }

    /// The embedding strength these parameters describe.
    pub(crate) fn strength(&self) -> super::embed::Strength {
        super::embed::Strength {
            budget: 10f32.powf(-self.snr_db / 10.0),
            cap: self.max_depth,
            informed_rounds: super::embed::ROUNDS,
            level_gain_max: super::mask::LEVEL_GAIN_MAX,
        }
    }

    /// The embedding strength with the mark `boost_db` stronger: the change budget and the
    /// largest modulation depth both grow by the boost (the depth up to
    /// [`BOOSTED_DEPTH_LIMIT`]). On short speech the depth cap, not the budget, is what binds:
    /// raising only the budget leaves the mark as it was.
    pub(crate) fn strength_boosted(&self, boost_db: f32) -> super::embed::Strength {
        let snr = self.snr_db - boost_db;
        let cap = (self.max_depth * 10f32.powf(boost_db / 20.0))
            .min(BOOSTED_DEPTH_LIMIT.max(self.max_depth));
        super::embed::Strength {
            budget: 10f32.powf(-snr / 10.0),
            cap,
            informed_rounds: super::embed::ROUNDS,
            level_gain_max: super::mask::LEVEL_GAIN_MAX,
        }
    }

    /// Decode attempts allowed per file by the false-positive bound (at most
    /// [`MAX_ATTEMPTS`]): every hypothesis decoded and every list-decoding entry checked.
    pub(crate) fn attempts(&self) -> usize {
        usize::try_from(max_attempts(self.max_false_positive).min(MAX_ATTEMPTS as u64))
            .unwrap_or(MAX_ATTEMPTS)
    }

    /// Sync hypotheses decoded per file (at most [`HYPOTHESES`], within
    /// [`attempts`](Self::attempts)); the rest of the attempts go to list decoding.
    pub(crate) fn hypotheses(&self) -> usize {
        self.attempts().min(HYPOTHESES)
    }
}

/// Builder of [`AudioParams`]; every setter states its default.
#[derive(Clone, Debug)]
pub struct AudioParamsBuilder(AudioParams);

impl AudioParamsBuilder {
    /// Target ratio of every frame's reference power to its change, in dB (default 30.5;
    /// 20..=60): the reference is the frame's total power, less for frames whose energy lies
    /// mostly outside the marked band (bass), so their SNR is higher. Lower is stronger and
    /// more audible.
    #[must_use]
    pub fn snr_db(mut self, db: f32) -> Self {
        self.0.snr_db = db;
        self
    }

    /// Largest relative magnitude change of one sub-band (default 0.15, i.e. ±1.2 dB; 0.01..=0.5).
    #[must_use]
    pub fn max_depth(mut self, depth: f32) -> Self {
        self.0.max_depth = depth;
        self
    }

    /// Largest tempo/speed change searched, as a fraction (default 0.035 = ±3.5 %; 0..=0.1).
    #[must_use]
    pub fn max_time_scale(mut self, fraction: f64) -> Self {
        self.0.max_time_scale = fraction;
        self
    }

    /// Range of frequency scales searched (default 0.965..=1.075: −3.5 % to about +1.2
    /// semitones). Must contain 1 and stay within 0.8..=1.25.
    #[must_use]
    pub fn freq_scale_range(mut self, lo: f64, hi: f64) -> Self {
        self.0.min_freq_scale = lo;
        self.0.max_freq_scale = hi;
        self
    }

    /// Per-file false-positive bound that caps the decode attempts (default 1e-12).
    #[must_use]
    pub fn max_false_positive(mut self, p: f64) -> Self {
        self.0.max_false_positive = p;
        self
    }

    /// Longest input accepted, in seconds (default 4 hours).
    #[must_use]
    pub fn max_seconds(mut self, seconds: f64) -> Self {
        self.0.max_seconds = seconds;
        self
    }

    /// Validates and returns the parameters.
    ///
    /// # Errors
    /// [`Error::Params`] naming the first setting out of range.
    pub fn build(self) -> Result<AudioParams> {
        let p = self.0;
        if !(20.0..=60.0).contains(&p.snr_db) {
            return Err(Error::params("snr_db", "must be within 20..=60 dB"));
        }
        if !(0.01..=0.5).contains(&p.max_depth) {
            return Err(Error::params("max_depth", "must be within 0.01..=0.5"));
        }
        if !(0.0..=0.1).contains(&p.max_time_scale) {
            return Err(Error::params("max_time_scale", "must be within 0..=0.1"));
        }
        if !(0.8..=1.0).contains(&p.min_freq_scale) || !(1.0..=1.25).contains(&p.max_freq_scale) {
            return Err(Error::params(
                "freq_scale_range",
                "must contain 1 and stay within 0.8..=1.25",
            ));
        }
        if !(p.max_false_positive > 0.0 && p.max_false_positive < 1.0)
            || max_attempts(p.max_false_positive) == 0
        {
            return Err(Error::params(
                "max_false_positive",
                "must allow at least one decode (≥ 2^-48) and be < 1",
            ));
        }
        if p.max_seconds.is_nan() || p.max_seconds <= 0.0 {
            return Err(Error::params("max_seconds", "must be positive"));
        }
        Ok(p)
    }
}
