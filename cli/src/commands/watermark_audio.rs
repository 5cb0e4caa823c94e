//! The audio side of `provmark watermark embed` / `watermark detect`: decode a file, embed or
//! detect the audio mark, encode it back. The dispatcher in `watermark.rs` calls
//! [`embed_audio`] when the input sniffs as audio ([`is_audio`]) and [`detect_audio`] per
//! audio file.
//!
//! Output format follows the output path's extension: `.flac` writes FLAC, anything else WAV
//! (MP3/Ogg/M4A inputs are read but written as WAV: no encoder for them here). Rate, channel
//! count and bit depth are kept.
//!
//! Audio longer than the embedder's self-check (2 minutes) whose container states its length
//! is marked as a stream (WAV or FLAC output): decoded a packet at a time, marked a segment
//! at a time and written as it goes, so memory stays at a few seconds of audio whatever the
//! length (the same samples as marking the whole buffer).

use std::collections::VecDeque;
use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use provmark_core::audio::{AudioDetector, AudioEmbedder, AudioParams, SELF_CHECK_MAX_SECONDS};
use provmark_core::audio_codec::{
    self, AudioFormat, AudioReader, AudioStreamWriter, DecodeLimits, WavStreamWriter,
};
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
    let format =
        match output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("flac") => AudioFormat::Flac,
            _ => AudioFormat::Wav,
        };
    if let Some(report) = embed_streaming(key, id, input, (output, format), params.clone())? {
        return Ok(report);
    }
    let original = read_audio(input)?;
    let (marked, _) = AudioEmbedder::new(key, params).embed_copy(&original, id)?;
    let (s, n) = {
        use rayon::prelude::*;
        original
            .samples()
            .par_chunks(1 << 16)
            .zip(marked.samples().par_chunks(1 << 16))
            .map(|(a, b)| {
                a.iter().zip(b).fold((0.0f64, 0.0f64), |(s, n), (a, b)| {
                    (s + f64::from(*a).powi(2), n + f64::from(a - b).powi(2))
                })
            })
            .reduce(|| (0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
    };
    drop(original);
    match format {
        // Packed and written a piece at a time, not assembled in memory first.
        AudioFormat::Wav => write_wav(&marked, output)?,
        _ => crate::pipeline::files::write_replace(output, &audio_codec::encode(&marked, format)?)?,
    }
    Ok(AudioEmbedReport {
        file: output.display().to_string(),
        id: id.to_string(),
        seconds: marked.duration_seconds(),
        snr_db: if n > 0.0 { 10.0 * (s / n).log10() } else { f64::INFINITY },
    })
}

/// Writes `audio` as a WAV file at `output`, atomically (a temporary file beside it, then a
/// rename; a failed write leaves nothing behind), packing it a piece at a time.
fn write_wav(audio: &provmark_core::audio::AudioBuffer, output: &Path) -> anyhow::Result<()> {
    let tmp = crate::pipeline::files::temp_beside(output);
    let result = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut writer = WavStreamWriter::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            audio.channels(),
            audio.sample_rate(),
            audio.format(),
            audio.frames() as u64,
        )?;
        for piece in audio.samples().chunks(1 << 18) {
            writer.write(piece)?;
        }
        writer.finish()?.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        std::fs::rename(&tmp, output)?;
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.context(format!("cannot write `{}`", output.display()))
    })
}

/// A packet reader over the file at `path` and the format its first bytes show (`None` if it
/// is not an audio file symphonia opens: the whole-file decoder then reports why).
fn open_reader(path: &Path) -> anyhow::Result<Option<(AudioReader, AudioFormat)>> {
    let open =
        || std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()));
    let mut head = [0u8; 16];
    let n = open()?.read(&mut head).with_context(|| format!("cannot read `{}`", path.display()))?;
    // Not audio by its magic bytes (an image in a `verify` or `stamp` batch): no probe.
    let Some(hint) = audio_codec::sniff(&head[..n]) else { return Ok(None) };
    // Streamed: the sample-count cap (a bound on memory) does not apply; the duration cap does.
    let mut limits = DecodeLimits::default();
    limits.max_samples = u64::MAX;
    Ok(AudioReader::new(Box::new(open()?), Some(hint), &limits).ok().map(|r| (r, hint)))
}

/// A packet reader over `path` if it is audio longer than the embedder's self-check covers
/// (2 minutes) by its container's stated length: such files are streamed, in bounded
/// memory; the rest are decoded whole. With the format its first bytes show.
pub(crate) fn open_long(path: &Path) -> anyhow::Result<Option<(AudioReader, AudioFormat)>> {
    Ok(open_reader(path)?.filter(|(r, _)| {
        let spec = r.spec();
        #[allow(clippy::cast_precision_loss, reason = "duration")]
        let seconds = spec.frames.map_or(0.0, |f| f as f64 / f64::from(spec.sample_rate));
        seconds > SELF_CHECK_MAX_SECONDS
    }))
}

/// Opens `path` again as a sample stream, for detectors that read a long file twice.
pub(crate) fn reopen(
    path: &Path,
) -> impl FnMut() -> provmark_core::Result<Box<dyn provmark_core::audio::SampleSource>> + '_ {
    move || {
        let reopened = open_reader(path)
            .map_err(|e| provmark_core::Error::decode("audio", format!("{e:#}")))?;
        let (reader, _) = reopened
            .ok_or_else(|| provmark_core::Error::decode("audio", "the file changed while read"))?;
        Ok(Box::new(reader))
    }
}

/// The watermark finding of the long audio file at `path` (see [`open_long`]) under every
/// key of `detectors`, read as a stream; a truncated recording (fewer frames than its header
/// states) is decoded whole instead.
///
/// # Errors
/// Unreadable or undecodable input.
pub(crate) fn detect_long(
    detectors: &provmark_core::stamp::Detectors,
    path: &Path,
    reader: &AudioReader,
) -> anyhow::Result<provmark_core::stamp::Finding> {
    let spec = reader.spec();
    let shape = (spec.channels, spec.sample_rate, spec.frames.unwrap_or(0));
    match detectors.detect_audio_stream(shape, &mut reopen(path)) {
        Err(provmark_core::Error::Decode { .. }) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            Ok(detectors.detect(&bytes)?)
        }
        found => Ok(found?),
    }
}

/// Marks a long input as a stream into a WAV or FLAC `output` (see the module notes).
/// `None` if the input is not long or does not state its length: the caller then marks it
/// whole.
fn embed_streaming(
    key: &WatermarkKey,
    id: ContentId,
    input: &Path,
    (output, format): (&Path, AudioFormat),
    params: AudioParams,
) -> anyhow::Result<Option<AudioEmbedReport>> {
    let Some((mut reader, _)) = open_long(input)? else { return Ok(None) };
    let spec = reader.spec();
    let Some(frames) = spec.frames else { return Ok(None) };
    #[allow(clippy::cast_precision_loss, reason = "duration")]
    let seconds = frames as f64 / f64::from(spec.sample_rate);
    let tmp = crate::pipeline::files::temp_beside(output);
    // Set when the file holds fewer frames than its header states (a truncated recording):
    // the whole-file decoder then takes what is there.
    let short = std::cell::Cell::new(false);
    let result = (|| -> anyhow::Result<f64> {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write `{}`", output.display()))?;
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let shape = (spec.channels, spec.sample_rate, spec.format, frames);
        let mut writer = AudioStreamWriter::new(format, out, shape.0, shape.1, shape.2, shape.3)?;
        // The originals of the samples not yet written back, for the SNR.
        let pending = std::cell::RefCell::new(VecDeque::<f32>::new());
        let (mut signal, mut noise) = (0.0f64, 0.0f64);
        AudioEmbedder::new(key, params).embed_stream(
            (spec.channels, spec.sample_rate, frames),
            id,
            &mut || {
                let chunk = reader.next_chunk()?;
                match &chunk {
                    Some(c) => pending.borrow_mut().extend(c),
                    None => short.set(true),
                }
                Ok(chunk)
            },
            &mut |marked: &[f32]| {
                for (a, b) in pending.borrow_mut().drain(..marked.len()).zip(marked) {
                    signal += f64::from(a).powi(2);
                    noise += f64::from(a - b).powi(2);
                }
                writer.write(marked)
            },
        )?;
        writer.finish()?.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        Ok(if noise > 0.0 { 10.0 * (signal / noise).log10() } else { f64::INFINITY })
    })();
    let snr_db = match result {
        Ok(snr) => snr,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if short.get() {
                return Ok(None);
            }
            return Err(e.context(format!("cannot mark `{}`", input.display())));
        }
    };
    std::fs::rename(&tmp, output)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write `{}`", output.display()))?;
    Ok(Some(AudioEmbedReport {
        file: output.display().to_string(),
        id: id.to_string(),
        seconds,
        snr_db,
    }))
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
    params: &AudioParams,
) -> anyhow::Result<AudioDetectReport> {
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
    // Long files whose container states their length are read as streams (twice per key),
    // in bounded memory; the rest are decoded whole.
    let stream = open_long(path)?.map(|(r, _)| r);
    let audio = if stream.is_none() { Some(read_audio(path)?) } else { None };
    for (key_id, key) in keys {
        let detector = AudioDetector::new(key, params.clone());
        let r = match (&audio, &stream) {
            (Some(audio), _) => detector.detect(audio)?,
            (None, Some(reader)) => {
                let spec = reader.spec();
                let shape = (spec.channels, spec.sample_rate, spec.frames.unwrap_or(0));
                let streamed = detector.detect_stream(shape, &mut reopen(path));
                match streamed {
                    Ok(r) => r,
                    // Fewer frames than the header states (a truncated recording): decode
                    // what is there, whole.
                    Err(provmark_core::Error::Decode { .. }) => {
                        detector.detect(&read_audio(path)?)?
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot read `{}` as audio", path.display())))
                    }
                }
            }
            (None, None) => unreachable!("one of the two is set"),
        };
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
