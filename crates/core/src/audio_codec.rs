//! Audio files to and from [`AudioBuffer`]: decode WAV, FLAC, MP3, Ogg Vorbis and AAC/M4A
//! (symphonia); encode WAV (hound) and FLAC (flacenc), keeping the sample rate, channel count
//! and bit depth. Bytes in, bytes out; no file system access here.
//!
//! Untrusted input is bounded: [`DecodeLimits`] caps the decoded duration and sample count
//! before the samples are allocated, so a hostile header cannot make the decoder allocate
//! without bound.

use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::audio::{quantize, AudioBuffer, SampleFormat};
use crate::{Error, Result};

/// Audio container formats recognised by [`sniff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioFormat {
    /// RIFF/WAVE (PCM or IEEE float).
    Wav,
    /// FLAC.
    Flac,
    /// MPEG-1/2 Layer III (with or without an ID3v2 tag).
    Mp3,
    /// Ogg (Vorbis).
    Ogg,
    /// MP4/M4A (AAC).
    Mp4,
    /// Raw AAC in ADTS frames.
    Aac,
}

impl AudioFormat {
    /// The usual file extension.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Flac => "flac",
            Self::Mp3 => "mp3",
            Self::Ogg => "ogg",
            Self::Mp4 => "m4a",
            Self::Aac => "aac",
        }
    }
}

/// Recognises an audio container from its first bytes (`None` if it is not one of ours).
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<AudioFormat> {
    let b = bytes;
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE" {
        return Some(AudioFormat::Wav);
    }
    if b.starts_with(b"fLaC") {
        return Some(AudioFormat::Flac);
    }
    if b.starts_with(b"OggS") {
        return Some(AudioFormat::Ogg);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return Some(AudioFormat::Mp4);
    }
    if b.starts_with(b"ID3") {
        return Some(AudioFormat::Mp3);
    }
    if b.len() >= 2 && b[0] == 0xFF {
        // ADTS: sync 0xFFF, layer 00. MPEG audio: sync 0xFFE, layer != 00.
        if b[1] & 0xF6 == 0xF0 {
            return Some(AudioFormat::Aac);
        }
        if b[1] & 0xE0 == 0xE0 && b[1] & 0x06 != 0 {
            return Some(AudioFormat::Mp3);
        }
    }
    None
}

/// Bounds on what a decoder may produce from untrusted input.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// Longest decoded duration, in seconds (default 4 hours).
    pub max_seconds: f64,
    /// Most samples (all channels) held in memory (default 2^31, 8 GiB of `f32`).
    pub max_samples: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_seconds: 4.0 * 3600.0, max_samples: 1 << 31 }
    }
}

impl DecodeLimits {
    /// Limits with the given duration cap and the default sample cap.
    #[must_use]
    pub fn with_max_seconds(max_seconds: f64) -> Self {
        Self { max_seconds, ..Self::default() }
    }
}

fn sym_err(e: &SymError) -> Error {
    Error::decode("audio", format!("{e:?}"))
}

/// Decodes a whole audio file held in memory.
///
/// # Errors
/// [`Error::Decode`] for unknown or corrupt data, [`Error::Limits`] if the audio is longer than
/// `limits` allows, [`Error::Params`] for sample rates or channel counts outside what
/// [`AudioBuffer`] accepts.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<AudioBuffer> {
    let mut hint = Hint::new();
    if let Some(f) = sniff(bytes) {
        hint.with_extension(f.extension());
    }
    let source = Cursor::new(bytes.to_vec());
    let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| sym_err(&e))?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| Error::decode("audio", "no audio track"))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let rate = params.sample_rate.ok_or_else(|| Error::decode("audio", "unknown sample rate"))?;
    use symphonia::core::codecs::{
        CODEC_TYPE_PCM_F32BE, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_F64BE, CODEC_TYPE_PCM_F64LE,
    };
    let is_float =
        [CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_F32BE, CODEC_TYPE_PCM_F64LE, CODEC_TYPE_PCM_F64BE]
            .contains(&params.codec);
    let format = match (params.bits_per_sample, is_float) {
        (_, true) => SampleFormat::Float,
        (Some(bits), _) => SampleFormat::Int(u16::try_from(bits.clamp(8, 32)).unwrap_or(16)),
        // Lossy codecs: 16-bit output is what their decoders conventionally produce.
        (None, _) => SampleFormat::Int(16),
    };
    let max_frames = (limits.max_seconds * f64::from(rate)).min(9.0e15);
    if let Some(frames) = params.n_frames {
        #[allow(clippy::cast_precision_loss, reason = "comparison only")]
        if frames as f64 > max_frames {
            return Err(Error::Limits {
                what: "audio frames",
                actual: frames,
                limit: max_frames as u64,
            });
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| sym_err(&e))?;
    let mut channels: Option<u16> = params.channels.and_then(|c| u16::try_from(c.count()).ok());
    // Sized once when the container states its length (within the limits checked above), so
    // a long file is not copied at every doubling.
    let expected = params
        .n_frames
        .zip(channels)
        .and_then(|(f, c)| usize::try_from(f.saturating_mul(u64::from(c))).ok())
        .filter(|&n| n as u64 <= limits.max_samples)
        .unwrap_or(0);
    let mut samples: Vec<f32> = Vec::with_capacity(expected);
    let mut buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(sym_err(&e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt packet in a lossy stream is skipped, as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(sym_err(&e)),
        };
        let spec = *decoded.spec();
        let ch = u16::try_from(spec.channels.count())
            .map_err(|_| Error::decode("audio", "too many channels"))?;
        if *channels.get_or_insert(ch) != ch {
            return Err(Error::decode("audio", "channel count changes mid-stream"));
        }
        let needed = decoded.capacity() * spec.channels.count();
        if buf.as_ref().is_none_or(|b| b.capacity() < needed) {
            buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
        }
        if let Some(b) = buf.as_mut() {
            b.copy_interleaved_ref(decoded);
            samples.extend_from_slice(b.samples());
        }
        let frames = samples.len() / usize::from(ch.max(1));
        #[allow(clippy::cast_precision_loss, reason = "comparison only")]
        if frames as f64 > max_frames || samples.len() as u64 > limits.max_samples {
            return Err(Error::Limits {
                what: "audio samples",
                actual: samples.len() as u64,
                limit: limits.max_samples.min((max_frames as u64).saturating_mul(u64::from(ch))),
            });
        }
    }
    let channels = channels.ok_or_else(|| Error::decode("audio", "no decodable audio"))?;
    // The container's frame count is the true length (FLAC encoders may pad the last frame).
    if let Some(n) = params.n_frames.and_then(|n| usize::try_from(n).ok()) {
        samples.truncate(n.saturating_mul(usize::from(channels)));
    }
    if samples.is_empty() {
        return Err(Error::decode("audio", "no decodable audio"));
    }
    // Lossy decoders can overshoot full scale slightly; NaN never comes out of them, but a
    // hostile float WAV can contain it.
    for s in &mut samples {
        if !s.is_finite() {
            *s = 0.0;
        }
    }
    AudioBuffer::new(samples, channels, rate, format)
}

/// Encodes a WAV file at the buffer's sample format (8/16/24/32-bit integer or 32-bit float;
/// other integer depths are written as 24-bit). Samples beyond full scale are clipped.
///
/// # Errors
/// [`Error::Encode`] if the writer fails.
pub fn encode_wav(audio: &AudioBuffer) -> Result<Vec<u8>> {
    let (bits, float) = match audio.format() {
        SampleFormat::Float => (32, true),
        SampleFormat::Int(b @ (8 | 16 | 24 | 32)) => (b, false),
        SampleFormat::Int(_) => (24, false),
    };
    let spec = hound::WavSpec {
        channels: audio.channels(),
        sample_rate: audio.sample_rate(),
        bits_per_sample: bits,
        sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
    };
    let enc = |e: hound::Error| Error::encode("WAV", e.to_string());
    if bits > 8 {
        // hound writes the header (it picks the plain or extensible format); the samples are
        // packed here in one pass (little-endian, as hound writes them: same bytes) and the
        // two size fields patched, instead of one `write_sample` call per sample.
        let mut out = Cursor::new(Vec::new());
        hound::WavWriter::new(&mut out, spec).map_err(enc)?.finalize().map_err(enc)?;
        let mut bytes = out.into_inner();
        let header = bytes.len();
        let width = usize::from(bits / 8);
        let data_len = audio.samples().len() * width;
        let too_big = || Error::encode("WAV", "more than 4 GiB of samples");
        let data_u32 = u32::try_from(data_len).map_err(|_| too_big())?;
        let riff = u32::try_from(header - 8 + data_len).map_err(|_| too_big())?;
        bytes.resize(header + data_len, 0);
        let data = bytes[header..].chunks_exact_mut(width).zip(audio.samples());
        match (float, width) {
            (true, _) => data.for_each(|(b, s)| b.copy_from_slice(&s.to_le_bytes())),
            (false, 2) => data.for_each(|(b, &s)| {
                #[allow(clippy::cast_possible_truncation, reason = "16-bit range")]
                b.copy_from_slice(&(quantize(s, 16) as i16).to_le_bytes());
            }),
            (false, _) => {
                data.for_each(|(b, &s)| {
                    b.copy_from_slice(&quantize(s, bits).to_le_bytes()[..width])
                });
            }
        }
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        bytes[header - 4..header].copy_from_slice(&data_u32.to_le_bytes());
        return Ok(bytes);
    }
    let mut out = Cursor::new(Vec::with_capacity(80 + audio.samples().len()));
    {
        let mut w = hound::WavWriter::new(&mut out, spec).map_err(enc)?;
        for &s in audio.samples() {
            #[allow(clippy::cast_possible_truncation, reason = "8-bit range")]
            w.write_sample(quantize(s, 8) as i8).map_err(enc)?;
        }
        w.finalize().map_err(enc)?;
    }
    Ok(out.into_inner())
}

/// Encodes a FLAC file (16- or 24-bit: integer sources keep their depth up to 24 bits, float
/// sources are written as 24-bit).
///
/// # Errors
/// [`Error::Encode`] if the encoder rejects the stream.
pub fn encode_flac(audio: &AudioBuffer) -> Result<Vec<u8>> {
    use flacenc::component::BitRepr as _;
    use flacenc::error::Verify as _;
    use flacenc::source::Fill as _;
    let bits: u16 = match audio.format() {
        SampleFormat::Int(b) if b <= 16 => 16,
        _ => 24,
    };
    let ints: Vec<i32> = audio.samples().iter().map(|&s| quantize(s, bits)).collect();
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|e| Error::encode("FLAC", format!("{e:?}")))?;
    let channels = usize::from(audio.channels());
    let err = |e: &dyn std::fmt::Debug| Error::encode("FLAC", format!("{e:?}"));
    let mut stream =
        flacenc::component::Stream::new(audio.sample_rate() as usize, channels, usize::from(bits))
            .map_err(|e| err(&e))?;
    // Every frame but the last has the same block size, and the last keeps its true length
    // (at least 16 samples, FLAC's minimum), so nothing is padded.
    let frames = ints.len() / channels.max(1);
    let block = (3800..=config.block_size.max(3800))
        .rev()
        .find(|b| frames % b == 0 || frames % b >= 16)
        .unwrap_or(config.block_size);
    for (number, chunk) in ints.chunks(block * channels).enumerate() {
        let len = chunk.len() / channels;
        let mut fb =
            flacenc::source::FrameBuf::with_size(channels, len.max(16)).map_err(|e| err(&e))?;
        fb.fill_interleaved(chunk).map_err(|e| err(&e))?;
        let frame = flacenc::encode_fixed_size_frame(&config, &fb, number, stream.stream_info())
            .map_err(|e| err(&e))?;
        stream.add_frame(frame);
    }
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| Error::encode("FLAC", format!("{e:?}")))?;
    let mut out = sink.as_slice().to_vec();
    // STREAMINFO's minimum block size excludes the last block (RFC 9639 §8.2); flacenc counts
    // it, which makes frame-numbered decoders (symphonia) reject the stream. Set min = max.
    if out.len() >= 12 && out.starts_with(b"fLaC") && out[4] & 0x7F == 0 {
        let (min, max) = (8, 10);
        let max_block = [out[max], out[max + 1]];
        out[min..min + 2].copy_from_slice(&max_block);
    }
    Ok(out)
}

/// Encodes to `format` (WAV or FLAC).
///
/// # Errors
/// [`Error::Params`] for formats without an encoder here (MP3, Ogg, MP4, AAC), else as
/// [`encode_wav`] / [`encode_flac`].
pub fn encode(audio: &AudioBuffer, format: AudioFormat) -> Result<Vec<u8>> {
    match format {
        AudioFormat::Wav => encode_wav(audio),
        AudioFormat::Flac => encode_flac(audio),
        other => Err(Error::params(
            "audio output format",
            format!("no encoder for {other:?}; write WAV or FLAC"),
        )),
    }
}

#[cfg(test)]
mod tests;
