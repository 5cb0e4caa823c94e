//! The audio rhythm identifier (GB 45438-2025 5.3): "short-long short-short", the Morse code
//! `·− ··` for "AI", as sine beeps with raised-cosine fades, inserted before and/or after the
//! host audio; or a spoken clip instead. Plus an envelope detector that finds the rhythm.
//!
//! Timing follows standard Morse proportions: dot = 1 unit, dash = 3 units, gap inside a
//! letter = 1 unit, gap between letters = 3 units, so the cue lasts 11 units (1.1 s at the
//! default 100 ms unit).

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::clip::{downmix, fade_gain, resample};
use super::text::LabelText;
use crate::{Error, Result};

/// The rhythm as (tone on?, length in units): `·` `−` (letter gap) `·` `·`.
pub const RHYTHM_UNITS: [(bool, u32); 7] =
    [(true, 1), (false, 1), (true, 3), (false, 3), (true, 1), (false, 1), (true, 1)];

/// Where the cue goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CuePosition {
    /// Before the content (the default).
    #[default]
    Start,
    /// After the content.
    End,
    /// Both before and after.
    Both,
}

impl CuePosition {
    fn start(self) -> bool {
        matches!(self, Self::Start | Self::Both)
    }

    fn end(self) -> bool {
        matches!(self, Self::End | Self::Both)
    }
}

impl fmt::Display for CuePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Start => "start",
            Self::End => "end",
            Self::Both => "both",
        })
    }
}

impl FromStr for CuePosition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "start" => Ok(Self::Start),
            "end" => Ok(Self::End),
            "both" => Ok(Self::Both),
            _ => Err(Error::params("cue position", format!("`{s}`; expected start, end or both"))),
        }
    }
}

/// Tone parameters of the rhythm cue. Defaults: 1000 Hz, 100 ms unit, −12 dBFS peak, 5 ms
/// raised-cosine fades.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToneParams {
    /// Tone frequency in Hz (200 to 4000, and below 0.45 × the host rate).
    pub frequency_hz: f32,
    /// Morse unit (dot length) in milliseconds (40 to 300).
    pub unit_ms: f32,
    /// Peak level in dBFS (−40 to −1).
    pub level_dbfs: f32,
    /// Raised-cosine fade in and out of every beep, in milliseconds (1 to a quarter unit).
    pub fade_ms: f32,
}

impl Default for ToneParams {
    fn default() -> Self {
        Self { frequency_hz: 1000.0, unit_ms: 100.0, level_dbfs: -12.0, fade_ms: 5.0 }
    }
}

/// A spoken cue: a recording whose transcript contains the required elements.
#[derive(Clone, Debug, PartialEq)]
pub struct SpokenClip {
    /// Interleaved samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: u16,
    /// What is said (checked like a label: an AI element and a generation element).
    pub transcript: LabelText,
}

/// What the cue is made of.
#[derive(Clone, Debug, PartialEq)]
pub enum CueSource {
    /// The "short-long short-short" rhythm as tone beeps.
    Rhythm(ToneParams),
    /// A spoken clip, resampled and channel-matched to the host.
    Spoken(SpokenClip),
}

impl Default for CueSource {
    fn default() -> Self {
        Self::Rhythm(ToneParams::default())
    }
}

/// How and where the cue is added. Build with [`CueStyle::builder`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CueStyle {
    source: CueSource,
    position: CuePosition,
    gap_ms: Option<f32>,
}

/// Longest accepted spoken clip, in seconds.
const MAX_CLIP_SECONDS: u32 = 30;

impl CueStyle {
    /// A builder starting from the defaults (rhythm, start, default tone).
    pub fn builder() -> CueStyleBuilder {
        CueStyleBuilder { style: Self::default() }
    }

    /// The position.
    #[must_use]
    pub fn position(&self) -> CuePosition {
        self.position
    }

    /// Silence between the cue and the content: by default 3 units (a Morse letter gap) for the
    /// rhythm, 300 ms for a spoken clip.
    fn gap_seconds(&self) -> f64 {
        let default = match &self.source {
            CueSource::Rhythm(t) => 3.0 * f64::from(t.unit_ms) / 1000.0,
            CueSource::Spoken(_) => 0.3,
        };
        self.gap_ms.map_or(default, |g| f64::from(g) / 1000.0)
    }
}

/// Builds a validated [`CueStyle`].
#[derive(Clone, Debug)]
#[must_use]
pub struct CueStyleBuilder {
    style: CueStyle,
}

impl CueStyleBuilder {
    /// Rhythm tone parameters (replaces a spoken clip).
    pub fn tone(mut self, tone: ToneParams) -> Self {
        self.style.source = CueSource::Rhythm(tone);
        self
    }

    /// A spoken clip instead of the rhythm.
    pub fn spoken(mut self, clip: SpokenClip) -> Self {
        self.style.source = CueSource::Spoken(clip);
        self
    }

    /// Start, end or both (default start).
    pub fn position(mut self, position: CuePosition) -> Self {
        self.style.position = position;
        self
    }

    /// Silence between cue and content in milliseconds (0 to 2000).
    pub fn gap_ms(mut self, gap: f32) -> Self {
        self.style.gap_ms = Some(gap);
        self
    }

    /// Validates and returns the style (host-dependent checks happen in [`apply_audio_cue`]).
    ///
    /// # Errors
    ///
    /// [`Error::Params`] for out-of-range tone values, a bad gap, or an empty, too long or
    /// malformed spoken clip.
    pub fn build(self) -> Result<CueStyle> {
        let s = self.style;
        if let Some(g) = s.gap_ms {
            if !(0.0..=2000.0).contains(&g) {
                return Err(Error::params("cue gap_ms", format!("{g} not in [0, 2000]")));
            }
        }
        match &s.source {
            CueSource::Rhythm(t) => {
                let check = |what: &'static str, v: f32, lo: f32, hi: f32| {
                    if (lo..=hi).contains(&v) {
                        Ok(())
                    } else {
                        Err(Error::params(what, format!("{v} not in [{lo}, {hi}]")))
                    }
                };
                check("cue frequency_hz", t.frequency_hz, 200.0, 4000.0)?;
                check("cue unit_ms", t.unit_ms, 40.0, 300.0)?;
                check("cue level_dbfs", t.level_dbfs, -40.0, -1.0)?;
                check("cue fade_ms", t.fade_ms, 1.0, t.unit_ms / 4.0)?;
            }
            CueSource::Spoken(c) => {
                if c.channels == 0 || c.rate < 8000 || c.rate > 384_000 {
                    return Err(Error::params(
                        "spoken cue",
                        "rate must be 8000..=384000 Hz and channels ≥ 1",
                    ));
                }
                let n = usize::from(c.channels);
                if c.samples.is_empty() || c.samples.len() % n != 0 {
                    return Err(Error::params(
                        "spoken cue",
                        "empty, or not a whole number of frames",
                    ));
                }
                let max = MAX_CLIP_SECONDS as usize * c.rate as usize * n;
                if c.samples.len() > max {
                    return Err(Error::Limits {
                        what: "spoken cue samples",
                        actual: c.samples.len() as u64,
                        limit: max as u64,
                    });
                }
                if c.samples.iter().any(|v| !v.is_finite()) {
                    return Err(Error::params("spoken cue", "non-finite samples"));
                }
            }
        }
        Ok(s)
    }
}

/// One inserted cue, in frames of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueSegment {
    /// First frame of the cue.
    pub start_frame: u64,
    /// Length of the cue in frames (without the gap).
    pub frames: u64,
}

/// What [`apply_audio_cue`] added: recorded in the ledger record and the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CuePlacement {
    /// `rhythm` or `spoken`.
    pub cue: String,
    /// Start, end or both.
    pub position: CuePosition,
    /// Host sample rate.
    pub rate: u32,
    /// Host channels.
    pub channels: u16,
    /// The tone, for a rhythm cue.
    pub tone: Option<ToneParams>,
    /// The transcript, for a spoken cue.
    pub transcript: Option<String>,
    /// Where each cue is in the output.
    pub segments: Vec<CueSegment>,
    /// Frames added in total (cues and gaps); the content starts at `segments[0].start_frame +
    /// frames + gap` when there is a start cue.
    pub added_frames: u64,
    /// Silence between cue and content, in frames.
    pub gap_frames: u64,
}

/// Inserts the cue before and/or after the interleaved `samples` (in place), matched to the
/// host's rate and channel count.
///
/// # Errors
///
/// [`Error::Params`] for an unsupported rate (8 kHz to 384 kHz), zero channels, a buffer that
/// is not whole frames, or a tone frequency at or above 0.45 × rate; [`Error::Limits`] when
/// the result would not fit in memory limits (more than 2^31 samples).
pub fn apply_audio_cue(
    samples: &mut Vec<f32>,
    rate: u32,
    channels: u16,
    style: &CueStyle,
) -> Result<CuePlacement> {
    check_host(rate, channels)?;
    let n = usize::from(channels);
    if samples.len() % n != 0 {
        return Err(Error::params("host audio", "sample count is not a whole number of frames"));
    }
    let cue = audio_cue_frames((samples.len() / n) as u64, rate, channels, style)?;
    let total = samples.len() + cue.head.len() + cue.tail.len();
    if total > (1 << 31) {
        return Err(Error::Limits { what: "audio samples", actual: total as u64, limit: 1 << 31 });
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&cue.head);
    out.extend_from_slice(samples);
    out.extend_from_slice(&cue.tail);
    *samples = out;
    Ok(cue.placement)
}

/// What a cue adds around content that is streamed rather than held whole: write `head`,
/// then the content, then `tail` (interleaved samples at the host's rate and channel count).
/// [`apply_audio_cue`] is exactly this on a buffer.
#[derive(Clone, Debug)]
pub struct CueFrames {
    /// The start cue and its gap (empty without a start cue).
    pub head: Vec<f32>,
    /// The gap and the end cue (empty without an end cue).
    pub tail: Vec<f32>,
    /// Where the cues are in the output.
    pub placement: CuePlacement,
}

impl CueFrames {
    /// Frames the cues add in total.
    #[must_use]
    pub fn added_frames(&self) -> u64 {
        self.placement.added_frames
    }
}

/// The cue samples for `content_frames` frames of `channels`-channel audio at `rate` Hz.
///
/// # Errors
///
/// [`Error::Params`] for an unsupported rate (8 kHz to 384 kHz), zero channels, or a tone
/// frequency at or above 0.45 × rate.
pub fn audio_cue_frames(
    content_frames: u64,
    rate: u32,
    channels: u16,
    style: &CueStyle,
) -> Result<CueFrames> {
    check_host(rate, channels)?;
    let n = usize::from(channels);
    let cue = render_cue(&style.source, rate)?;
    let gap = (style.gap_seconds() * f64::from(rate)).round() as usize;
    let copies = usize::from(style.position.start()) + usize::from(style.position.end());
    let added = copies * (cue.len() + gap);
    let interleave = |mono: &[f32]| -> Vec<f32> {
        mono.iter().flat_map(|&v| std::iter::repeat_n(v, n)).collect()
    };
    let mut segments = Vec::new();
    let mut head = Vec::new();
    if style.position.start() {
        segments.push(CueSegment { start_frame: 0, frames: cue.len() as u64 });
        head = interleave(&cue);
        head.resize(head.len() + gap * n, 0.0);
    }
    let mut tail = Vec::new();
    if style.position.end() {
        tail.resize(gap * n, 0.0);
        let start_frame = (head.len() / n + gap) as u64 + content_frames;
        segments.push(CueSegment { start_frame, frames: cue.len() as u64 });
        tail.extend(interleave(&cue));
    }
    debug_assert_eq!((head.len() + tail.len()) / n, added);
    let (kind, tone, transcript) = match &style.source {
        CueSource::Rhythm(t) => ("rhythm", Some(*t), None),
        CueSource::Spoken(c) => ("spoken", None, Some(c.transcript.to_string())),
    };
    let placement = CuePlacement {
        cue: kind.to_owned(),
        position: style.position,
        rate,
        channels,
        tone,
        transcript,
        segments,
        added_frames: added as u64,
        gap_frames: gap as u64,
    };
    Ok(CueFrames { head, tail, placement })
}

fn check_host(rate: u32, channels: u16) -> Result<()> {
    if !(8000..=384_000).contains(&rate) || channels == 0 {
        return Err(Error::params("host audio", format!("rate {rate} Hz, {channels} channels")));
    }
    Ok(())
}

/// The mono cue at `rate`.
fn render_cue(source: &CueSource, rate: u32) -> Result<Vec<f32>> {
    match source {
        CueSource::Rhythm(t) => {
            if f64::from(t.frequency_hz) >= 0.45 * f64::from(rate) {
                return Err(Error::params(
                    "cue frequency_hz",
                    format!(
                        "{} Hz is too close to the Nyquist frequency of {rate} Hz audio",
                        t.frequency_hz
                    ),
                ));
            }
            Ok(render_rhythm(t, rate))
        }
        CueSource::Spoken(c) => {
            let mono = downmix(&c.samples, c.channels);
            let mut v = resample(&mono, c.rate, rate);
            let fade = (0.005 * f64::from(rate)).round() as usize;
            let len = v.len();
            for (i, s) in v.iter_mut().enumerate() {
                *s = (*s * fade_gain(i, len, fade.min(len / 2))).clamp(-1.0, 1.0);
            }
            Ok(v)
        }
    }
}

/// The rhythm as mono samples: beeps with raised-cosine fades, silence between them.
fn render_rhythm(t: &ToneParams, rate: u32) -> Vec<f32> {
    let unit = (f64::from(t.unit_ms) / 1000.0 * f64::from(rate)).round() as usize;
    let fade = (f64::from(t.fade_ms) / 1000.0 * f64::from(rate)).round() as usize;
    let amp = 10f64.powf(f64::from(t.level_dbfs) / 20.0);
    let w = 2.0 * PI * f64::from(t.frequency_hz) / f64::from(rate);
    let mut out = Vec::new();
    for (on, units) in RHYTHM_UNITS {
        let len = unit * units as usize;
        if on {
            out.extend(
                (0..len).map(|i| (amp * (w * i as f64).sin()) as f32 * fade_gain(i, len, fade)),
            );
        } else {
            out.resize(out.len() + len, 0.0);
        }
    }
    out
}

/// A rhythm found by [`detect_cue_rhythm`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RhythmMatch {
    /// Onset of the first beep, in seconds.
    pub start_s: f64,
    /// End of the last beep, in seconds.
    pub end_s: f64,
    /// Estimated Morse unit in milliseconds.
    pub unit_ms: f64,
}

/// Envelope hop of the detector in seconds.
const HOP_S: f64 = 0.002;

/// Finds every "short-long short-short" rhythm in interleaved audio from its envelope alone
/// (no knowledge of the tone frequency or unit length).
///
/// The envelope is the RMS of the channel mix over 2 ms hops, smoothed over 6 ms. A hop is "on"
/// when it is within 12 dB of the loudest hop in the surrounding ±1.5 s and above −60 dBFS.
/// Runs of "on" hops form bursts; four consecutive bursts match when three are short and alike
/// (the unit), the second is 2 to 4.5 units long, the gaps are 0.4 to 4.5 units, the unit is
/// 30 to 400 ms, and the group is set off from other bursts by at least 1.5 units of quiet.
/// Returns an empty list when there is none.
#[must_use]
pub fn detect_cue_rhythm(samples: &[f32], rate: u32, channels: u16) -> Vec<RhythmMatch> {
    if rate == 0 || channels == 0 {
        return Vec::new();
    }
    let mono = downmix(samples, channels);
    let hop = ((HOP_S * f64::from(rate)).round() as usize).max(1);
    let raw: Vec<f32> = mono
        .chunks(hop)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let env: Vec<f32> = (0..raw.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(1), (i + 1).min(raw.len().saturating_sub(1)));
            raw[a..=b].iter().sum::<f32>() / (b - a + 1) as f32
        })
        .collect();
    let hop_s = hop as f64 / f64::from(rate);
    let reach = (1.5 / hop_s) as usize;
    let local_max = sliding_max(&env, reach);
    let floor = 10f32.powf(-60.0 / 20.0);
    let on: Vec<bool> =
        env.iter().zip(&local_max).map(|(&e, &m)| e > floor && e >= m * 0.25).collect();
    // Bursts as [start, end) in hops.
    let mut bursts: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < on.len() {
        if on[i] {
            let s = i;
            while i < on.len() && on[i] {
                i += 1;
            }
            bursts.push((s, i));
        } else {
            i += 1;
        }
    }
    let mut found = Vec::new();
    for k in 0..bursts.len().saturating_sub(3) {
        let g = &bursts[k..k + 4];
        let d: Vec<f64> = g.iter().map(|(s, e)| (e - s) as f64 * hop_s).collect();
        let gaps: Vec<f64> = g.windows(2).map(|w| (w[1].0 - w[0].1) as f64 * hop_s).collect();
        let unit = (d[0] + d[2] + d[3]) / 3.0;
        if !(0.03..=0.4).contains(&unit) {
            continue;
        }
        let alike = [d[0], d[2], d[3]].iter().all(|&x| (0.7 * unit..=1.3 * unit).contains(&x));
        let long = (2.0 * unit..=4.5 * unit).contains(&d[1]);
        let spaced = gaps.iter().all(|&x| (0.4 * unit..=4.5 * unit).contains(&x));
        let quiet_before = k == 0 || (g[0].0 - bursts[k - 1].1) as f64 * hop_s >= 1.5 * unit;
        let quiet_after =
            k + 4 >= bursts.len() || (bursts[k + 4].0 - g[3].1) as f64 * hop_s >= 1.5 * unit;
        if alike && long && spaced && quiet_before && quiet_after {
            found.push(RhythmMatch {
                start_s: g[0].0 as f64 * hop_s,
                end_s: g[3].1 as f64 * hop_s,
                unit_ms: unit * 1000.0,
            });
        }
    }
    found
}

/// Maximum of `v` over the window [i - r, i + r], by a monotonic deque in linear time.
fn sliding_max(v: &[f32], r: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0;
    for (i, o) in out.iter_mut().enumerate() {
        let hi = (i + r).min(v.len().saturating_sub(1));
        while next <= hi {
            while dq.back().is_some_and(|&b| v[b] <= v[next]) {
                dq.pop_back();
            }
            dq.push_back(next);
            next += 1;
        }
        while dq.front().is_some_and(|&f| f + r < i) {
            dq.pop_front();
        }
        *o = dq.front().map_or(0.0, |&f| v[f]);
    }
    out
}
