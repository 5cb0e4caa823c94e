//! The audio side of `provmark watermark embed` / `watermark detect`: decode a file, embed or
//! detect the audio mark, encode it back. The dispatcher in `watermark.rs` calls
//! [`embed_audio`] when the input sniffs as audio ([`is_audio`]) and [`detect_audio`] per
//! audio file.
//!
//! Output format follows the output path's extension: `.flac` writes FLAC, anything else WAV
//! (MP3/Ogg/M4A inputs are read but written as WAV: no encoder for them here). Rate, channel
//! count and bit depth are kept.

use std::path::Path;

use anyhow::Context as _;
use provmark_core::audio::{AudioDetector, AudioEmbedder, AudioParams};
use provmark_core::audio_codec::{self, AudioFormat, DecodeLimits};
use provmark_core::{ContentId, WatermarkKey};
use serde::Serialize;

/// Whether the file's first bytes look like an audio container we decode.
#[must_use]
#[allow(dead_code, reason = "called by the media-kind dispatch in watermark.rs")]
pub fn is_audio(head: &[u8]) -> bool {
    audio_codec::sniff(head).is_some()
}

fn read_audio(path: &Path) -> anyhow::Result<provmark_core::audio::AudioBuffer> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    audio_codec::decode(&bytes, &DecodeLimits::default())
        .with_context(|| format!("cannot decode `{}` as audio", path.display()))
}

/// What `embed_audio` did.
#[derive(Debug, Serialize)]
pub struct AudioEmbedReport {
    /// Output file.
    pub file: String,
    /// Embedded content ID (16 hex digits).
    pub id: String,
    /// Duration in seconds.
    pub seconds: f64,
    /// Signal-to-watermark ratio of the result, in dB.
    pub snr_db: f64,
}

/// Embeds `id` into the audio file `input` and writes `output` (FLAC if it ends in `.flac`,
/// else WAV). `strength` scales the default target SNR: 1.0 is the default (≈ 30.5 dB per
/// frame), 2.0 is 6 dB stronger.
///
/// # Errors
/// Unreadable or undecodable input, an unwritable output, or a strength out of range.
pub fn embed_audio(
    key: &WatermarkKey,
    id: ContentId,
    input: &Path,
    output: &Path,
    strength: Option<f32>,
) -> anyhow::Result<AudioEmbedReport> {
    let mut builder = AudioParams::builder();
    if let Some(s) = strength {
        anyhow::ensure!(s > 0.0 && s.is_finite(), "--strength must be positive");
        builder = builder.snr_db(30.5 - 20.0 * s.log10());
    }
    let params = builder.build()?;
    let original = read_audio(input)?;
    let mut marked = original.clone();
    AudioEmbedder::new(key, params).embed(&mut marked, id)?;
    let (mut s, mut n) = (0.0f64, 0.0f64);
    for (a, b) in original.samples().iter().zip(marked.samples()) {
        s += f64::from(*a).powi(2);
        n += f64::from(a - b).powi(2);
    }
    let format =
        match output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("flac") => AudioFormat::Flac,
            _ => AudioFormat::Wav,
        };
    let bytes = audio_codec::encode(&marked, format)?;
    crate::pipeline::files::write_replace(output, &bytes)?;
    Ok(AudioEmbedReport {
        file: output.display().to_string(),
        id: id.to_string(),
        seconds: marked.duration_seconds(),
        snr_db: if n > 0.0 { 10.0 * (s / n).log10() } else { f64::INFINITY },
    })
}

/// One detection result, in the JSON shape of `watermark detect --json`.
#[derive(Debug, Serialize)]
pub struct AudioDetectReport {
    /// The file examined.
    pub file: String,
    /// Whether a mark with a verified tag was found.
    pub detected: bool,
    /// The content ID (16 hex digits), when detected.
    pub id: Option<String>,
    /// Key id of the provider whose key found it, when detected.
    pub key_id: Option<String>,
    /// Sync strength of the best hypothesis.
    pub score: f32,
    /// Probability that an unmarked file yields a verified ID with the decodes tried, summed
    /// over the keys tried.
    pub p_value: f64,
    /// Payload decodes tried, summed over the keys tried.
    pub attempts: u64,
    /// Time scale found (attacked / original duration), when detected.
    pub time_scale: Option<f64>,
    /// Frequency scale found, when detected.
    pub freq_scale: Option<f64>,
    /// Coded-bit errors corrected, when detected.
    pub bit_errors: Option<usize>,
}

/// Detects the audio mark in `path` with each `(key id, key)` in turn; the first verified
/// match wins.
///
/// # Errors
/// Unreadable or undecodable input.
pub fn detect_audio(
    keys: &[(String, WatermarkKey)],
    path: &Path,
) -> anyhow::Result<AudioDetectReport> {
    let audio = read_audio(path)?;
    let mut report = AudioDetectReport {
        file: path.display().to_string(),
        detected: false,
        id: None,
        key_id: None,
        score: 0.0,
        p_value: 0.0,
        attempts: 0,
        time_scale: None,
        freq_scale: None,
        bit_errors: None,
    };
    for (key_id, key) in keys {
        let r = AudioDetector::new(key, AudioParams::default()).detect(&audio)?;
        report.p_value += r.p_value;
        report.attempts += u64::from(r.attempts);
        report.score = report.score.max(r.score);
        if let Some(m) = r.found {
            report.detected = true;
            report.id = Some(m.id.to_string());
            report.key_id = Some(key_id.clone());
            report.score = r.score;
            report.time_scale = Some(m.time_scale);
            report.freq_scale = Some(m.freq_scale);
            report.bit_errors = Some(m.bit_errors);
            break;
        }
    }
    Ok(report)
}
