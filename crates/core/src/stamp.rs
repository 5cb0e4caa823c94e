//! One file through all in-content layers, in memory: decode → visible identifier (optional)
//! → watermark → encode → signed metadata.
//!
//! The result carries what the ledger record needs (media hash, fingerprint, visible
//! identifier); writing files and committing the record are the caller's job (the CLI does
//! both, in that order, so that no stamped file exists without its committed record).

use std::io::{Read, Seek, SeekFrom, Write};

use ed25519_dalek::Signature;
use image::DynamicImage;
use signature::Signer;

use crate::audio::{AudioBuffer, AudioEmbedder, AudioParams};
use crate::audio_codec::{self, AudioFormat, AudioStreamWriter, DecodeLimits};
use crate::codec::image::{self as image_codec, ImageFormat};
use crate::codec::MediaKind;
use crate::fingerprint::{self, Fingerprint};
use crate::image::{ImageEmbedder, ImageParams};
use crate::manifest::{LabelRequest, VisibleClaim};
use crate::visible::{self, CueStyle, LabelStyle, VisibleIdentifier};
use crate::{container, ContentId, Error, ProviderInfo, Result, WatermarkKey};

/// Name and version of the image watermark, as written in manifests and ledger records.
pub const IMAGE_ALGORITHM: (&str, u16) = ("provmark-image-tile", 1);
/// Name and version of the audio watermark, as written in manifests and ledger records.
pub const AUDIO_ALGORITHM: (&str, u16) = ("provmark-audio-stft", 2);

/// Image or audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A still image.
    Image,
    /// An audio recording.
    Audio,
}

impl Kind {
    /// The kind of a file, from its first bytes.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match MediaKind::sniff(head)? {
            MediaKind::Png | MediaKind::Jpeg | MediaKind::WebP => Some(Self::Image),
            _ => Some(Self::Audio),
        }
    }
}

/// Which visible identifiers to add.
#[derive(Clone, Debug, Default)]
pub struct VisibleOptions {
    /// The on-image label, for images.
    pub image: Option<LabelStyle>,
    /// The audio cue, for audio.
    pub audio: Option<CueStyle>,
}

/// What every stamp of a run shares.
#[derive(Clone, Debug)]
pub struct StampSettings {
    /// Image watermark parameters.
    pub image: ImageParams,
    /// Audio watermark parameters.
    pub audio: AudioParams,
    /// Visible identifiers to add.
    pub visible: VisibleOptions,
    /// The generating model's name.
    pub model: String,
    /// Where ledger records live (the log origin), written into the provenance manifest.
    pub ledger_origin: String,
}

/// A stamped file, in memory.
#[derive(Clone, Debug)]
pub struct Stamped {
    /// The new file bytes (watermarked content plus signed metadata).
    pub bytes: Vec<u8>,
    /// Image or audio.
    pub kind: Kind,
    /// The file extension of the output format (audio formats we cannot write become FLAC).
    pub extension: &'static str,
    /// SHA-256 of the media bytes (metadata carriers excluded): the hard binding.
    pub media_sha256: [u8; 32],
    /// Perceptual fingerprint of the stamped content.
    pub fingerprint: Fingerprint,
    /// The visible identifier added, if any.
    pub visible: Option<VisibleIdentifier>,
    /// The embedder's self-check: for audio ([`AudioEmbedder::embed_checked`]) `Some(false)`
    /// when the marked audio did not decode to its ID (a clip too short or too hard for the
    /// mark); for images ([`crate::image::EmbedStats::self_check`]) `Some(false)` when even the
    /// strongest amplitude would read back with too many raw bit errors or too weak a sync.
    /// The label and the ledger record still carry the ID. `None` for audio longer than the
    /// self-check covers.
    pub watermark_self_check: Option<bool>,
}

/// An audio file stamped as a stream ([`Stamper::stamp_audio_stream`]): what [`Stamped`]
/// says, but the bytes, which went to the writer.
#[derive(Clone, Debug)]
pub struct StampedStream {
    /// The file extension of the output format (`wav` or `flac`).
    pub extension: &'static str,
    /// SHA-256 of the media bytes (metadata carriers excluded): the hard binding.
    pub media_sha256: [u8; 32],
    /// Perceptual fingerprint of the stamped content.
    pub fingerprint: Fingerprint,
    /// The audio cue added, if any.
    pub visible: Option<VisibleIdentifier>,
    /// Bytes written to the output.
    pub bytes_written: u64,
}

/// The marked media of one file before its metadata: encoded bytes, file extension,
/// fingerprint and the visible identifier added.
type StampedMedia = (Vec<u8>, &'static str, Fingerprint, Option<VisibleIdentifier>);

/// Stamps files with one provider's keys. Build once per run; `Sync`, so one stamper serves
/// every worker thread.
pub struct Stamper<S> {
    image: ImageEmbedder,
    audio: AudioEmbedder,
    signer: S,
    provider: ProviderInfo,
    settings: StampSettings,
}

impl<S> std::fmt::Debug for Stamper<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stamper").field("provider", &self.provider.name).finish_non_exhaustive()
    }
}

impl<S: Signer<Signature>> Stamper<S> {
    /// A stamper for the provider's watermark key and signer.
    #[must_use]
    pub fn new(
        key: &WatermarkKey,
        signer: S,
        provider: ProviderInfo,
        settings: StampSettings,
    ) -> Self {
        Self {
            image: ImageEmbedder::new(key, settings.image),
            audio: AudioEmbedder::new(key, settings.audio.clone()),
            signer,
            provider,
            settings,
        }
    }

    /// Stamps one file held in memory with `id`, created at `created` (RFC 3339, UTC).
    ///
    /// # Errors
    /// Any decode, limit, embed, encode or metadata error of the layers; the input is not
    /// touched.
    pub fn stamp(&self, input: &[u8], id: ContentId, created: &str) -> Result<Stamped> {
        let kind = Kind::sniff(input).ok_or_else(|| {
            Error::decode("media", "not a PNG, JPEG, WebP, WAV, FLAC, MP3, Ogg or M4A file")
        })?;
        let (content, kind, extension, fingerprint, visible, alg, check) = match kind {
            Kind::Image => {
                let ((bytes, ext, fp, vis), check) = self.stamp_image(input, id)?;
                (bytes, kind, ext, fp, vis, IMAGE_ALGORITHM, Some(check))
            }
            Kind::Audio => {
                let ((bytes, ext, fp, vis), check) = self.stamp_audio(input, id)?;
                (bytes, kind, ext, fp, vis, AUDIO_ALGORITHM, check)
            }
        };
        let request = self.label_request(id, created, alg, visible.as_ref());
        let (bytes, media_sha256) =
            container::write_label_hashed(&content, &request, &self.signer, &self.provider)?;
        Ok(Stamped {
            bytes,
            kind,
            extension,
            media_sha256,
            fingerprint,
            visible,
            watermark_self_check: check,
        })
    }

    fn label_request(
        &self,
        id: ContentId,
        created: &str,
        alg: (&str, u16),
        visible: Option<&VisibleIdentifier>,
    ) -> LabelRequest {
        let mut request = LabelRequest::new(id, created)
            .with_model(self.settings.model.clone())
            .with_watermark(alg.0, alg.1.to_string())
            .with_ledger_origin(self.settings.ledger_origin.clone());
        if let Some(v) = visible {
            request = request.with_visible(visible_claim(v));
        }
        request
    }

    /// Stamps audio that arrives as a stream (`reader`, whose container states its length),
    /// in memory bounded by a few seconds of audio and the file's metadata, whatever its
    /// length: the cue, the mark, the fingerprint and the encoder all take the samples as
    /// they come, the encoded audio goes to `scratch` (empty, at position 0; a temporary
    /// file), then the signed metadata is written around it into `out` with the audio bytes
    /// copied ([`container::write_label_stream`]). `input` is the input's format (WAV stays
    /// WAV, everything else becomes FLAC, as in [`stamp`](Self::stamp)).
    ///
    /// For audio longer than the embedder's self-check covers (2 minutes) the bytes written
    /// are exactly those [`stamp`](Self::stamp) returns; shorter audio is better stamped
    /// whole, since the self-check strengthens a mark its host leaves without margin (no
    /// self-check runs here).
    ///
    /// # Errors
    /// [`Error::Params`] if the container does not state its length, [`Error::Decode`] if
    /// the stream ends early or is corrupt, and the errors of [`stamp`](Self::stamp) and of
    /// writing `scratch` and `out`.
    pub fn stamp_audio_stream<T, W>(
        &self,
        reader: &mut audio_codec::AudioReader,
        input: AudioFormat,
        (scratch, out): (&mut T, &mut W),
        id: ContentId,
        created: &str,
    ) -> Result<StampedStream>
    where
        T: Read + Write + Seek,
        W: Write,
    {
        let spec = reader.spec();
        let frames = spec.frames.ok_or_else(|| {
            Error::params("audio stream", "the container does not state the length")
        })?;
        let (rate, channels) = (spec.sample_rate, spec.channels);
        let mut cue = match &self.settings.visible.audio {
            Some(style) => Some(visible::audio_cue_frames(frames, rate, channels, style)?),
            None => None,
        };
        let total = frames + cue.as_ref().map_or(0, visible::CueFrames::added_frames);
        let out_format =
            if input == AudioFormat::Wav { AudioFormat::Wav } else { AudioFormat::Flac };
        let mut printer = fingerprint::AudioPrinter::new(rate, channels, total)?;
        let mut writer =
            AudioStreamWriter::new(out_format, &mut *scratch, channels, rate, spec.format, total)?;
        // The cue's head, then the reader's chunks, then the cue's tail.
        let take = |v: &mut Vec<f32>| Some(std::mem::take(v)).filter(|v| !v.is_empty());
        let (mut head, mut tail) = match &mut cue {
            Some(c) => (take(&mut c.head), take(&mut c.tail)),
            None => (None, None),
        };
        let mut body_done = false;
        self.audio.embed_stream(
            (channels, rate, total),
            id,
            &mut || {
                if let Some(h) = head.take() {
                    return Ok(Some(h));
                }
                if !body_done {
                    if let Some(c) = reader.next_chunk()? {
                        return Ok(Some(c));
                    }
                    body_done = true;
                }
                Ok(tail.take())
            },
            &mut |marked: &[f32]| {
                printer.push(marked)?;
                writer.write(marked)
            },
        )?;
        writer.finish()?;
        let fingerprint = printer.finish()?;
        scratch.seek(SeekFrom::Start(0))?;
        let visible = cue.map(|c| VisibleIdentifier::AudioCue(c.placement));
        let request = self.label_request(id, created, AUDIO_ALGORITHM, visible.as_ref());
        let (bytes_written, media_sha256) =
            container::write_label_stream(scratch, out, &request, &self.signer, &self.provider)?;
        Ok(StampedStream {
            extension: out_format.extension(),
            media_sha256,
            fingerprint,
            visible,
            bytes_written,
        })
    }

    fn stamp_image(&self, input: &[u8], id: ContentId) -> Result<(StampedMedia, bool)> {
        let decoded = image_codec::decode(input)?;
        let mut pixels: DynamicImage = decoded.pixels;
        let visible = match &self.settings.visible.image {
            Some(style) => {
                Some(VisibleIdentifier::ImageLabel(visible::apply_image_label(&mut pixels, style)?))
            }
            None => None,
        };
        let stats = self.image.embed(&mut pixels, id)?;
        let fp = fingerprint::image_fingerprint(&pixels)?;
        let bytes = image_codec::encode(&pixels, decoded.format, decoded.jpeg_quality)?;
        let ext = match decoded.format {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::WebP => "webp",
        };
        Ok(((bytes, ext, fp, visible), stats.self_check))
    }

    fn stamp_audio(&self, input: &[u8], id: ContentId) -> Result<(StampedMedia, Option<bool>)> {
        let format = audio_codec::sniff(input)
            .ok_or_else(|| Error::decode("audio", "unknown audio container"))?;
        let mut audio = audio_codec::decode(input, &DecodeLimits::default())?;
        let visible = match &self.settings.visible.audio {
            Some(style) => {
                let (rate, channels, fmt) = (audio.sample_rate(), audio.channels(), audio.format());
                let mut samples = audio.into_samples();
                let placement = visible::apply_audio_cue(&mut samples, rate, channels, style)?;
                audio = AudioBuffer::new(samples, channels, rate, fmt)?;
                Some(VisibleIdentifier::AudioCue(placement))
            }
            None => None,
        };
        let check = self.audio.embed_checked(&mut audio, id)?;
        let fp =
            fingerprint::audio_fingerprint(audio.samples(), audio.sample_rate(), audio.channels())?;
        // WAV and FLAC are written as they came; lossy inputs become lossless FLAC, since
        // re-encoding them lossily would cost the mark and the listener a generation.
        let out_format = match format {
            AudioFormat::Wav => AudioFormat::Wav,
            _ => AudioFormat::Flac,
        };
        let bytes = audio_codec::encode(&audio, out_format)?;
        Ok(((bytes, out_format.extension(), fp, visible), check))
    }
}

/// What the provenance manifest says of a visible identifier: its kind, text and position.
#[must_use]
pub fn visible_claim(v: &VisibleIdentifier) -> VisibleClaim {
    match v {
        VisibleIdentifier::ImageLabel(p) => VisibleClaim {
            kind: "image-label".into(),
            text: p.text.clone(),
            position: format!(
                "{} {},{} {}x{}",
                p.position, p.region.x, p.region.y, p.region.width, p.region.height
            ),
        },
        VisibleIdentifier::AudioCue(c) => VisibleClaim {
            kind: "audio-cue".into(),
            text: match &c.transcript {
                Some(t) if c.cue == "spoken" => t.clone(),
                _ => format!("{} \u{b7}\u{2212} \u{b7}\u{b7}", c.cue),
            },
            position: format!(
                "{} frames {}",
                c.position,
                c.segments
                    .iter()
                    .map(|s| format!("{}+{}", s.start_frame, s.frames))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        },
    }
}

/// A watermark found by [`Detectors::detect`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finding {
    /// The verified content ID, if any.
    pub id: Option<ContentId>,
    /// Index of the key (in the order given to [`Detectors::new`]) that found it.
    pub key_index: Option<usize>,
    /// Detection score of the best attempt (image: codeword correlation; audio: sync z-score).
    pub score: f32,
    /// Bound on the probability that unmarked content yields an ID, counting every decoding
    /// attempt under every key.
    pub p_value: f64,
    /// Image or audio.
    pub kind: Kind,
}

/// Image and audio detectors for a list of watermark keys, built once and shared by all
/// worker threads.
#[derive(Clone, Debug)]
pub struct Detectors {
    image: Vec<crate::image::ImageDetector>,
    audio: Vec<crate::audio::AudioDetector>,
}

impl Detectors {
    /// Detectors for `keys` with the default parameters, the default false-positive bound
    /// shared among the keys ([`payload::per_key_bound`](crate::payload::per_key_bound)):
    /// a file tried under all of them stays within it.
    #[must_use]
    pub fn new(keys: &[WatermarkKey]) -> Self {
        let bound = crate::payload::per_key_bound(keys.len());
        let image = ImageParams::builder().max_false_positive(bound).build().unwrap_or_default();
        let audio = AudioParams::builder().max_false_positive(bound).build().unwrap_or_default();
        Self {
            image: keys.iter().map(|k| crate::image::ImageDetector::new(k, image)).collect(),
            audio: keys
                .iter()
                .map(|k| crate::audio::AudioDetector::new(k, audio.clone()))
                .collect(),
        }
    }

    /// Decodes a file held in memory and looks for a mark under each key, stopping at the
    /// first verified one.
    ///
    /// # Errors
    /// An unknown format, or the decode and limit errors of the codecs.
    pub fn detect(&self, bytes: &[u8]) -> Result<Finding> {
        let kind = Kind::sniff(bytes).ok_or_else(|| {
            Error::decode("media", "not a PNG, JPEG, WebP, WAV, FLAC, MP3, Ogg or M4A file")
        })?;
        match kind {
            Kind::Image => {
                let img = image_codec::decode(bytes)?.pixels;
                first_verified(kind, &self.image, |d| {
                    d.detect(&img).map(|r| (r.id, r.score, r.attempts))
                })
            }
            Kind::Audio => {
                let audio = audio_codec::decode(bytes, &DecodeLimits::default())?;
                first_verified(kind, &self.audio, |d| {
                    d.detect(&audio).map(|r| (r.id(), r.score, r.attempts))
                })
            }
        }
    }

    /// [`detect`](Self::detect) for audio that arrives as a stream, in memory bounded by a
    /// few seconds of audio ([`AudioDetector::detect_stream`](crate::audio::AudioDetector::detect_stream)):
    /// `open` opens the stream twice per key tried. The same finding as `detect` on the
    /// whole file.
    ///
    /// # Errors
    /// As `detect_stream`: [`Error::Decode`] if the stream ends before `frames`.
    pub fn detect_audio_stream<'s>(
        &self,
        shape: (u16, u32, u64),
        open: &mut dyn FnMut() -> Result<Box<dyn crate::audio::SampleSource + 's>>,
    ) -> Result<Finding> {
        first_verified(Kind::Audio, &self.audio, |d| {
            d.detect_stream(shape, open).map(|r| (r.id(), r.score, r.attempts))
        })
    }
}

/// Tries each key's detector until one verifies; `detect` gives a detector's (ID, score,
/// attempts). The score is the first key's, or the verifying key's; the attempts of every key
/// tried add up in the false-positive bound.
fn first_verified<D>(
    kind: Kind,
    detectors: &[D],
    mut detect: impl FnMut(&D) -> Result<(Option<ContentId>, f32, u32)>,
) -> Result<Finding> {
    let mut finding = Finding { id: None, key_index: None, score: 0.0, p_value: 0.0, kind };
    let mut attempts = 0u64;
    for (i, d) in detectors.iter().enumerate() {
        let (id, score, tried) = detect(d)?;
        attempts += u64::from(tried);
        if id.is_some() || i == 0 {
            finding.score = score;
        }
        if id.is_some() {
            finding.id = id;
            finding.key_index = Some(i);
            break;
        }
    }
    finding.p_value = crate::payload::false_positive_probability(attempts);
    Ok(finding)
}
