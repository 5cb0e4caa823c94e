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

use crate::audio::{quantize_into, AudioBuffer, SampleFormat};
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

/// Runs `f`, which drives symphonia, turning a panic inside it into [`Error::Decode`]:
/// malformed input must give an error, and some of symphonia's checks are assertions (a WAV
/// header with a sample rate of 0 panicked in its time base, found by fuzzing). The
/// reader is not used again after such an error.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::decode("audio", format!("the decoder rejected malformed data ({why})")))
    })
}

fn sym_err(e: &SymError) -> Error {
    Error::decode("audio", format!("{e:?}"))
}

/// What a decoded stream holds: its channels, rate and sample format, and its length in
/// frames when the container states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioSpec {
    /// Interleaved channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Sample format of the source (lossy codecs: 16-bit).
    pub format: SampleFormat,
    /// Frames (samples per channel), if the container states them.
    pub frames: Option<u64>,
}

/// Decodes audio a packet at a time, so a long file never has to be in memory whole: each
/// [`next_chunk`](Self::next_chunk) gives the next interleaved `f32` samples (non-finite
/// samples, which only hostile float files hold, as 0). The same checks as [`decode`] apply
/// as the samples arrive: `limits`, a fixed channel count, the container's frame count (FLAC
/// encoders may pad the last frame; nothing past it is returned).
pub struct AudioReader {
    reader: Box<dyn symphonia::core::formats::FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    spec: AudioSpec,
    limits: DecodeLimits,
    max_frames: f64,
    buf: Option<SampleBuffer<f32>>,
    /// The first packet's samples, decoded early when the container does not say its
    /// channel count.
    first: Option<Vec<f32>>,
    /// Frames returned so far.
    produced: u64,
}

impl std::fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioReader").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl AudioReader {
    /// A reader over audio bytes held in memory (copied).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<Self> {
        Self::new(Box::new(Cursor::new(bytes.to_vec())), sniff(bytes), limits)
    }

    /// A reader over `source` (a `std::fs::File` is one), `format` a hint if known.
    ///
    /// # Errors
    /// [`Error::Decode`] for unknown or corrupt data, [`Error::Limits`] if the container
    /// states a length beyond `limits`.
    pub fn new(
        source: Box<dyn symphonia::core::io::MediaSource>,
        format: Option<AudioFormat>,
        limits: &DecodeLimits,
    ) -> Result<Self> {
        guarded(|| Self::open(source, format, limits))
    }

    fn open(
        source: Box<dyn symphonia::core::io::MediaSource>,
        format: Option<AudioFormat>,
        limits: &DecodeLimits,
    ) -> Result<Self> {
        use symphonia::core::codecs::{
            CODEC_TYPE_PCM_F32BE, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_F64BE, CODEC_TYPE_PCM_F64LE,
        };
        let mut hint = Hint::new();
        if let Some(f) = format {
            hint.with_extension(f.extension());
        }
        let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
            .map_err(|e| sym_err(&e))?;
        let reader = probed.format;
        let track = reader
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| Error::decode("audio", "no audio track"))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let rate =
            params.sample_rate.ok_or_else(|| Error::decode("audio", "unknown sample rate"))?;
        let is_float = [
            CODEC_TYPE_PCM_F32LE,
            CODEC_TYPE_PCM_F32BE,
            CODEC_TYPE_PCM_F64LE,
            CODEC_TYPE_PCM_F64BE,
        ]
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
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "bound"
                )]
                return Err(Error::Limits {
                    what: "audio frames",
                    actual: frames,
                    limit: max_frames as u64,
                });
            }
        }
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| sym_err(&e))?;
        let channels = params.channels.and_then(|c| u16::try_from(c.count()).ok()).unwrap_or(0);
        let mut this = Self {
            reader,
            decoder,
            track_id,
            spec: AudioSpec { channels, sample_rate: rate, format, frames: params.n_frames },
            limits: *limits,
            max_frames,
            buf: None,
            first: None,
            produced: 0,
        };
        if channels == 0 {
            // The channel count comes with the first decoded packet.
            this.first = this.decode_packet()?;
            if this.spec.channels == 0 {
                return Err(Error::decode("audio", "no decodable audio"));
            }
        }
        Ok(this)
    }

    /// The stream's shape.
    #[must_use]
    pub const fn spec(&self) -> AudioSpec {
        self.spec
    }

    /// The next interleaved samples, or `None` at the end of the stream.
    ///
    /// # Errors
    /// [`Error::Decode`] for corrupt data or a channel count that changes,
    /// [`Error::Limits`] past the limits.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        guarded(|| self.decode_packet())
    }

    fn decode_packet(&mut self) -> Result<Option<Vec<f32>>> {
        loop {
            if self.spec.frames.is_some_and(|n| self.produced >= n) {
                return Ok(None);
            }
            let packet = match self.reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None)
                }
                Err(SymError::ResetRequired) => return Ok(None),
                Err(e) => return Err(sym_err(&e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                // A corrupt packet in a lossy stream is skipped, as players do.
                Err(SymError::DecodeError(_)) => continue,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None)
                }
                Err(e) => return Err(sym_err(&e)),
            };
            let spec = *decoded.spec();
            let ch = u16::try_from(spec.channels.count())
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| Error::decode("audio", "bad channel count"))?;
            if self.spec.channels == 0 {
                self.spec.channels = ch;
            }
            if self.spec.channels != ch {
                return Err(Error::decode("audio", "channel count changes mid-stream"));
            }
            let needed = decoded.capacity() * spec.channels.count();
            if self.buf.as_ref().is_none_or(|b| b.capacity() < needed) {
                self.buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
            }
            let Some(b) = self.buf.as_mut() else { continue };
            b.copy_interleaved_ref(decoded);
            let mut frames = (b.samples().len() / usize::from(ch)) as u64;
            if let Some(n) = self.spec.frames {
                frames = frames.min(n - self.produced);
            }
            let n = usize::try_from(frames).unwrap_or(usize::MAX) * usize::from(ch);
            let mut chunk = b.samples()[..n].to_vec();
            // Lossy decoders can overshoot full scale slightly; NaN never comes out of them,
            // but a hostile float WAV can contain it.
            for s in &mut chunk {
                if !s.is_finite() {
                    *s = 0.0;
                }
            }
            self.produced += frames;
            let samples = self.produced.saturating_mul(u64::from(ch));
            #[allow(clippy::cast_precision_loss, reason = "comparison only")]
            if self.produced as f64 > self.max_frames || samples > self.limits.max_samples {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "bound"
                )]
                return Err(Error::Limits {
                    what: "audio samples",
                    actual: samples,
                    limit: self
                        .limits
                        .max_samples
                        .min((self.max_frames as u64).saturating_mul(u64::from(ch))),
                });
            }
            if !chunk.is_empty() {
                return Ok(Some(chunk));
            }
        }
    }
}

impl crate::audio::SampleSource for AudioReader {
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>> {
        Self::next_chunk(self)
    }
}

/// Decodes a whole audio file held in memory.
///
/// # Errors
/// [`Error::Decode`] for unknown or corrupt data, [`Error::Limits`] if the audio is longer than
/// `limits` allows, [`Error::Params`] for sample rates or channel counts outside what
/// [`AudioBuffer`] accepts.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<AudioBuffer> {
    pcm::check_header(bytes)?;
    // Plain PCM/float WAV, the common case, is converted directly (the same samples).
    match pcm::PcmWav::parse(bytes) {
        Some(wav) => wav.decode(limits),
        None => decode_packets(bytes, limits),
    }
}

/// [`decode`] through symphonia, packet by packet.
fn decode_packets(bytes: &[u8], limits: &DecodeLimits) -> Result<AudioBuffer> {
    let mut reader = AudioReader::from_bytes(bytes, limits)?;
    let spec = reader.spec();
    // Sized once when the container states its length (within the limits checked), so a
    // long file is not copied at every doubling.
    let expected = spec
        .frames
        .and_then(|f| usize::try_from(f.saturating_mul(u64::from(spec.channels))).ok())
        .filter(|&n| n as u64 <= limits.max_samples)
        .unwrap_or(0);
    let mut samples: Vec<f32> = Vec::with_capacity(expected);
    while let Some(chunk) = reader.next_chunk()? {
        samples.extend_from_slice(&chunk);
    }
    if samples.is_empty() {
        return Err(Error::decode("audio", "no decodable audio"));
    }
    let spec = reader.spec();
    AudioBuffer::new(samples, spec.channels, spec.sample_rate, spec.format)
}

/// Encodes a WAV file at the buffer's sample format (8/16/24/32-bit integer or 32-bit float;
/// other integer depths are written as 24-bit). Samples beyond full scale are clipped.
///
/// # Errors
/// [`Error::Encode`] if the writer fails or the data exceeds 4 GiB.
pub fn encode_wav(audio: &AudioBuffer) -> Result<Vec<u8>> {
    let layout = WavLayout::new(audio.channels(), audio.sample_rate(), audio.format());
    let mut bytes = layout.header(audio.samples().len() as u64)?;
    let header = bytes.len();
    bytes.resize(header + audio.samples().len() * layout.width, 0);
    layout.pack(audio.samples(), &mut bytes[header..]);
    Ok(bytes)
}

/// How samples of one format are laid out in a WAV file.
#[derive(Clone, Copy, Debug)]
struct WavLayout {
    spec: hound::WavSpec,
    width: usize,
}

impl WavLayout {
    fn new(channels: u16, sample_rate: u32, format: SampleFormat) -> Self {
        let (bits, float) = match format {
            SampleFormat::Float => (32, true),
            SampleFormat::Int(b @ (8 | 16 | 24 | 32)) => (b, false),
            SampleFormat::Int(_) => (24, false),
        };
        let spec = hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        Self { spec, width: usize::from(bits / 8) }
    }

    /// The header for `samples` samples (all channels): hound writes it (it picks the plain or
    /// extensible format) and the two size fields are set here, so the samples can follow
    /// in one pass, or as a stream, instead of one `write_sample` call each.
    fn header(&self, samples: u64) -> Result<Vec<u8>> {
        let enc = |e: hound::Error| Error::encode("WAV", e.to_string());
        let mut out = Cursor::new(Vec::new());
        hound::WavWriter::new(&mut out, self.spec).map_err(enc)?.finalize().map_err(enc)?;
        let mut bytes = out.into_inner();
        let header = bytes.len();
        let too_big = || Error::encode("WAV", "more than 4 GiB of samples");
        let data_len = samples.checked_mul(self.width as u64).ok_or_else(too_big)?;
        let data_u32 = u32::try_from(data_len).map_err(|_| too_big())?;
        let riff = u32::try_from(header as u64 - 8 + data_len).map_err(|_| too_big())?;
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        bytes[header - 4..header].copy_from_slice(&data_u32.to_le_bytes());
        Ok(bytes)
    }

    /// Packs `samples` into `out` (`width` bytes each, little-endian, 8-bit unsigned: the
    /// bytes hound writes).
    fn pack(&self, samples: &[f32], out: &mut [u8]) {
        use rayon::prelude::*;
        /// Samples per parallel piece.
        const PIECE: usize = 1 << 17;
        out.par_chunks_mut(PIECE * self.width)
            .zip(samples.par_chunks(PIECE))
            .for_each(|(o, s)| self.pack_piece(s, o));
    }

    fn pack_piece(&self, samples: &[f32], out: &mut [u8]) {
        /// Samples quantized per step (a stack buffer).
        const STEP: usize = 256;
        let bits = self.spec.bits_per_sample;
        if self.spec.sample_format == hound::SampleFormat::Float {
            for (b, s) in out.chunks_exact_mut(self.width).zip(samples) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            return;
        }
        let mut levels = [0i32; STEP];
        for (o, s) in out.chunks_mut(STEP * self.width).zip(samples.chunks(STEP)) {
            let levels = &mut levels[..s.len()];
            quantize_into(s, bits, levels);
            let data = o.chunks_exact_mut(self.width).zip(levels.iter());
            match self.width {
                1 => data.for_each(|(b, &q)| {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "8-bit"
                    )]
                    let u = (q + 128) as u8;
                    b[0] = u;
                }),
                2 => data.for_each(|(b, &q)| {
                    #[allow(clippy::cast_possible_truncation, reason = "16-bit range")]
                    b.copy_from_slice(&(q as i16).to_le_bytes());
                }),
                _ => data.for_each(|(b, &q)| b.copy_from_slice(&q.to_le_bytes()[..b.len()])),
            }
        }
    }
}

/// Writes a WAV file as a stream of interleaved samples whose total is known in advance
/// (bounded memory for long files): the same bytes as [`encode_wav`] on the whole buffer.
pub struct WavStreamWriter<W: std::io::Write> {
    out: W,
    layout: WavLayout,
    remaining: u64,
    bytes: Vec<u8>,
}

impl<W: std::io::Write> std::fmt::Debug for WavStreamWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavStreamWriter")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl<W: std::io::Write> WavStreamWriter<W> {
    /// Writes the header for `frames` frames of `channels` channels to `out`.
    ///
    /// # Errors
    /// [`Error::Encode`] if the data would exceed 4 GiB or `out` fails.
    pub fn new(
        mut out: W,
        channels: u16,
        sample_rate: u32,
        format: SampleFormat,
        frames: u64,
    ) -> Result<Self> {
        let layout = WavLayout::new(channels, sample_rate, format);
        let samples = frames.saturating_mul(u64::from(channels));
        let header = layout.header(samples)?;
        out.write_all(&header).map_err(|e| Error::encode("WAV", e.to_string()))?;
        Ok(Self { out, layout, remaining: samples, bytes: Vec::new() })
    }

    /// Appends interleaved samples.
    ///
    /// # Errors
    /// [`Error::Encode`] past the announced length or if the writer fails.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        if samples.len() as u64 > self.remaining {
            return Err(Error::encode("WAV", "more samples than the header announced"));
        }
        self.remaining -= samples.len() as u64;
        self.bytes.resize(samples.len() * self.layout.width, 0);
        self.layout.pack(samples, &mut self.bytes);
        self.out.write_all(&self.bytes).map_err(|e| Error::encode("WAV", e.to_string()))
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// [`Error::Encode`] if fewer samples came than announced or the flush fails.
    pub fn finish(mut self) -> Result<W> {
        if self.remaining != 0 {
            return Err(Error::encode("WAV", "fewer samples than the header announced"));
        }
        self.out.flush().map_err(|e| Error::encode("WAV", e.to_string()))?;
        Ok(self.out)
    }
}

/// A stream writer for WAV or FLAC output, chosen at run time.
#[derive(Debug)]
pub enum AudioStreamWriter<W: std::io::Write + std::io::Seek> {
    /// WAV: written as it goes.
    Wav(WavStreamWriter<W>),
    /// FLAC: frames encoded in parallel a chunk at a time, `STREAMINFO` rewritten at the end.
    Flac(Box<FlacStreamWriter<W>>),
}

impl<W: std::io::Write + std::io::Seek> AudioStreamWriter<W> {
    /// A writer of `format` for `frames` frames of `channels` channels to `out`.
    ///
    /// # Errors
    /// [`Error::Params`] for a format without an encoder here, else as the writer's `new`.
    pub fn new(
        format: AudioFormat,
        out: W,
        channels: u16,
        sample_rate: u32,
        sample_format: SampleFormat,
        frames: u64,
    ) -> Result<Self> {
        match format {
            AudioFormat::Wav => Ok(Self::Wav(WavStreamWriter::new(
                out,
                channels,
                sample_rate,
                sample_format,
                frames,
            )?)),
            AudioFormat::Flac => Ok(Self::Flac(Box::new(FlacStreamWriter::new(
                out,
                channels,
                sample_rate,
                sample_format,
                frames,
            )?))),
            other => Err(Error::params(
                "audio output format",
                format!("no encoder for {other:?}; write WAV or FLAC"),
            )),
        }
    }

    /// Appends interleaved samples.
    ///
    /// # Errors
    /// As the writer's `write`.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        match self {
            Self::Wav(w) => w.write(samples),
            Self::Flac(w) => w.write(samples),
        }
    }

    /// Finishes the file and returns the writer.
    ///
    /// # Errors
    /// As the writer's `finish`.
    pub fn finish(self) -> Result<W> {
        match self {
            Self::Wav(w) => w.finish(),
            Self::Flac(w) => (*w).finish(),
        }
    }
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

mod flac;
mod pcm;

pub use flac::{encode_flac, FlacStreamWriter};
#[cfg(test)]
mod tests;
