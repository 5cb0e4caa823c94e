//! Media containers: where the signed metadata goes in each format, the hard-binding hash of
//! the media bytes, a tolerant reader, and C2PA store detection.
//!
//! Entry points (format detected from the bytes):
//!
//! * [`media_hash`]: SHA-256 over the media data only (pixels/samples and the structures that
//!   decode them), never over metadata carriers. See the README section "Signed metadata" for
//!   the per-format rule.
//! * [`write_label`]: signs and writes the label, IPTC digital source type and provenance
//!   manifest; the media bytes are copied, never re-encoded; the result is read back and
//!   checked before it is returned.
//! * [`read_metadata`]: every label occurrence (all serializations seen in the wild), XMP
//!   digital source types, provenance manifests, C2PA stores, unreadable parts. Never fails:
//!   what it cannot read is listed in [`MetadataReport::problems`].
//! * [`propagate`]: the platform update (Measures Art. 6) of an existing label.
//!
//! Parsing is bounded: every length is checked against the input before use, nothing is
//! allocated beyond the input size (plus the inflate limit [`MAX_INFLATE`]), no recursion
//! depends on the input beyond fixed limits, and nothing panics on malformed input.

mod exif;
mod flac;
mod id3;
mod jpeg;
mod mp3;
mod png;
mod riff;
mod stream;
mod wav;
mod webp;
pub mod xmp;

pub use stream::{
    inspect_stream, media_hash_stream, read_metadata_stream, write_label_stream, MAX_SKELETON,
};

use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};
use signature::Signer;

use crate::manifest::{
    self, parse_label, AigcLabel, Carrier, FoundLabel, LabelRequest, LabelValue, MetadataReport,
    Provenance,
};
use crate::{Error, ProviderInfo, Result};

/// Largest decompressed size of a compressed text chunk we inflate (bytes).
pub const MAX_INFLATE: usize = 8 * 1024 * 1024;

/// A supported container format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG (JFIF/EXIF).
    Jpeg,
    /// WebP (RIFF).
    WebP,
    /// WAV (RIFF/WAVE).
    Wav,
    /// MP3 (MPEG audio with ID3 tags).
    Mp3,
    /// FLAC.
    Flac,
}

impl Format {
    /// Lower-case name: `png`, `jpeg`, `webp`, `wav`, `mp3`, `flac`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::WebP => "webp",
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
        }
    }
}

/// Detects the format from the first bytes.
#[must_use]
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WAVE" {
        Some(Format::Wav)
    } else if bytes.starts_with(b"fLaC") {
        Some(Format::Flac)
    } else if bytes.starts_with(b"ID3") {
        let after = id3::leading_tags_end(bytes);
        if bytes.get(after..).is_some_and(|r| r.starts_with(b"fLaC")) {
            Some(Format::Flac)
        } else {
            Some(Format::Mp3)
        }
    } else if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
        Some(Format::Mp3)
    } else {
        None
    }
}

fn detect_or_err(bytes: &[u8]) -> Result<Format> {
    detect(bytes).ok_or_else(|| {
        Error::decode("media", "unknown format (supported: PNG, JPEG, WebP, WAV, MP3, FLAC)")
    })
}

/// SHA-256 over the media bytes of the file, metadata carriers excluded (the hard binding).
///
/// # Errors
/// [`Error::Decode`] if the format is unknown or the structure is malformed.
pub fn media_hash(bytes: &[u8]) -> Result<[u8; 32]> {
    media_hash_of(detect_or_err(bytes)?, bytes)
}

fn media_hash_of(format: Format, bytes: &[u8]) -> Result<[u8; 32]> {
    match format {
        Format::Png => png::media_hash(bytes),
        Format::Jpeg => jpeg::media_hash(bytes),
        Format::WebP => webp::media_hash(bytes),
        Format::Wav => wav::media_hash(bytes),
        Format::Mp3 => mp3::media_hash(bytes),
        Format::Flac => flac::media_hash(bytes),
    }
}

/// Reads every metadata record we know of. Never fails; see [`MetadataReport::problems`].
#[must_use]
pub fn read_metadata(bytes: &[u8]) -> MetadataReport {
    let mut report = MetadataReport::default();
    let Some(format) = detect(bytes) else {
        report.problems.push("unknown format".into());
        return report;
    };
    report.format = Some(format.name());
    let result = match format {
        Format::Png => png::read(bytes, &mut report),
        Format::Jpeg => jpeg::read(bytes, &mut report),
        Format::WebP => webp::read(bytes, &mut report),
        Format::Wav => wav::read(bytes, &mut report),
        Format::Mp3 => mp3::read(bytes, &mut report),
        Format::Flac => flac::read(bytes, &mut report),
    };
    if let Err(e) = result {
        report.problems.push(e.to_string());
    }
    report
}

/// Signs `request` as `provider` with `signer` and writes the label (with `ReservedCode1`
/// security data and the hard binding), the IPTC digital source type and the provenance
/// manifest into the file, replacing any earlier label. Returns the new file bytes.
///
/// Placement: PNG `iTXt` XMP, JPEG APP1 XMP, WebP `XMP ` chunk (VP8X XMP flag set), WAV RIFF
/// `AIGC` chunk (+ `_PMX` XMP), MP3 ID3v2 `TXXX:AIGC` (+ `PRIV:XMP`), FLAC Vorbis comment
/// `AIGC=` (+ `PROVMARK_XMP=`). An existing C2PA store is kept byte for byte, but its own
/// hard binding will no longer match: write the label before the C2PA manifest.
///
/// # Errors
/// [`Error::Decode`] for an unknown or malformed file, or an existing XMP packet we cannot
/// parse; [`Error::Params`] for a bad request or a signer that does not match `provider`;
/// [`Error::Encode`] if a carrier would exceed its format limit or the read-back check fails.
pub fn write_label<S: Signer<Signature>>(
    bytes: &[u8],
    request: &LabelRequest,
    signer: &S,
    provider: &ProviderInfo,
) -> Result<Vec<u8>> {
    write_label_hashed(bytes, request, signer, provider).map(|(out, _)| out)
}

/// [`write_label`], also returning the [`media_hash`] of the output (the same as the
/// input's: the read-back check has proved it), so a caller need not hash the file again.
///
/// # Errors
/// As [`write_label`].
pub fn write_label_hashed<S: Signer<Signature>>(
    bytes: &[u8],
    request: &LabelRequest,
    signer: &S,
    provider: &ProviderInfo,
) -> Result<(Vec<u8>, [u8; 32])> {
    let format = detect_or_err(bytes)?;
    let hash = media_hash_of(format, bytes)?;
    let signed = manifest::sign_label(request, provider, signer, format.name(), &hash)?;
    let marks = Marks {
        label: &signed.label,
        provenance: Some(&signed.provenance),
        digital_source_type: Some(manifest::TRAINED_ALGORITHMIC_MEDIA),
    };
    let out = write_marks(format, bytes, &marks)?;
    read_back(format, &out, &hash, &marks)?;
    Ok((out, hash))
}

/// The platform (propagator) update of the file's label: see [`manifest::propagate_label`].
/// The producer's fields, `ReservedCode1` and the provenance manifest are kept.
///
/// # Errors
/// [`Error::Params`] if the file has no readable label or more than one (fix that first),
/// and the errors of [`write_label`].
pub fn propagate<S: Signer<Signature>>(
    bytes: &[u8],
    propagator: &ProviderInfo,
    propagate_id: &str,
    label: Option<LabelValue>,
    signer: &S,
) -> Result<Vec<u8>> {
    let format = detect_or_err(bytes)?;
    let hash = media_hash_of(format, bytes)?;
    let report = read_metadata(bytes);
    let mut parsed = report.parsed_labels();
    let (Some((_, first)), None) = (parsed.next(), parsed.next()) else {
        return Err(Error::params(
            "input",
            "propagation needs exactly one readable label in the file",
        ));
    };
    let updated =
        manifest::propagate_label(&first.label, propagator, propagate_id, label, signer, &hash)?;
    let provenance = report.provenance.iter().find(|p| p.get("ContentID") == updated.produce_id);
    let dst = report.digital_source_types.first().map(String::as_str);
    let marks = Marks { label: &updated, provenance, digital_source_type: dst };
    let out = write_marks(format, bytes, &marks)?;
    read_back(format, &out, &hash, &marks)?;
    Ok(out)
}

/// What a writer places.
pub(crate) struct Marks<'a> {
    pub label: &'a AigcLabel,
    pub provenance: Option<&'a Provenance>,
    pub digital_source_type: Option<&'a str>,
}

impl Marks<'_> {
    /// XMP properties; the label goes into XMP only for image formats.
    fn xmp_props<'b>(&'b self, json: Option<&'b str>) -> xmp::XmpProps<'b> {
        xmp::XmpProps {
            label_json: json,
            digital_source_type: self.digital_source_type,
            provenance: self.provenance,
        }
    }
}

fn write_marks(format: Format, bytes: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    match format {
        Format::Png => png::write(bytes, marks),
        Format::Jpeg => jpeg::write(bytes, marks),
        Format::WebP => webp::write(bytes, marks),
        Format::Wav => wav::write(bytes, marks),
        Format::Mp3 => mp3::write(bytes, marks),
        Format::Flac => flac::write(bytes, marks),
    }
}

fn read_back(format: Format, out: &[u8], hash: &[u8; 32], marks: &Marks<'_>) -> Result<()> {
    if detect(out) != Some(format) || media_hash_of(format, out)? != *hash {
        return Err(Error::encode(
            "metadata read-back",
            "the media bytes changed while writing metadata",
        ));
    }
    check_marks(out, marks)
}

/// The read-back of the metadata: exactly one label, the one written, and the provenance
/// manifest.
fn check_marks(out: &[u8], marks: &Marks<'_>) -> Result<()> {
    let fail = |reason: &str| Error::encode("metadata read-back", reason.to_owned());
    let report = read_metadata(out);
    if report.labels.len() != 1 {
        return Err(fail(&format!(
            "expected one label after writing, found {}",
            report.labels.len()
        )));
    }
    match report.labels[0].parsed.as_ref() {
        Ok(p) if p.label == *marks.label => {}
        _ => return Err(fail("the label read back differs from the one written")),
    }
    if let Some(p) = marks.provenance {
        if !report.provenance.contains(p) {
            return Err(fail("the provenance manifest read back differs from the one written"));
        }
    }
    Ok(())
}

// ---- helpers shared by the format modules ----

/// Domain-separated SHA-256 over a sequence of tagged parts.
pub(crate) struct MediaHasher(Sha256);

impl MediaHasher {
    pub(crate) fn new(format: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"provmark.media.v1/");
        h.update(format.as_bytes());
        h.update(b"\n");
        Self(h)
    }

    /// Adds a part: its 4-byte tag, its length (8 bytes, big-endian) and its bytes.
    pub(crate) fn part(&mut self, tag: &[u8; 4], data: &[u8]) {
        self.0.update(tag);
        self.0.update((data.len() as u64).to_be_bytes());
        self.0.update(data);
    }

    /// Adds a part of `len` bytes read from `src` (the same hash as [`part`](Self::part) of
    /// those bytes), passing each piece to `sink` as well.
    pub(crate) fn part_stream(
        &mut self,
        tag: &[u8; 4],
        len: u64,
        src: &mut dyn std::io::Read,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        self.0.update(tag);
        self.0.update(len.to_be_bytes());
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            src.read_exact(&mut buf[..want])
                .map_err(|e| Error::decode("media", format!("reading the media bytes: {e}")))?;
            self.0.update(&buf[..want]);
            sink(&buf[..want])?;
            left -= want as u64;
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

pub(crate) fn carrier(name: impl Into<String>, offset: usize) -> Carrier {
    Carrier { name: name.into(), offset }
}

/// Records a label found as text.
pub(crate) fn add_label(
    report: &mut MetadataReport,
    text: String,
    at: Carrier,
    remarks: Vec<String>,
) {
    let parsed = parse_label(&text);
    report.labels.push(FoundLabel { carrier: at, text, parsed, remarks });
}

/// Reads an XMP packet into the report.
pub(crate) fn add_xmp(report: &mut MetadataReport, packet: &[u8], at: &Carrier) {
    let text = match std::str::from_utf8(trim_nul(packet)) {
        Ok(t) => t,
        Err(_) => {
            report.problems.push(format!("{}: XMP packet is not UTF-8", at.name));
            return;
        }
    };
    match xmp::scan(text) {
        Ok(found) => {
            for (label, remarks) in found.labels {
                add_label(report, label, at.clone(), remarks);
            }
            report.digital_source_types.extend(found.digital_source_types);
            report.provenance.extend(found.provenance);
        }
        Err(e) => report.problems.push(format!("{}: {e}", at.name)),
    }
}

/// Merges our properties into an existing packet (bytes) or a new one.
pub(crate) fn merge_xmp(existing: Option<&[u8]>, props: &xmp::XmpProps<'_>) -> Result<String> {
    let text = existing
        .map(|b| {
            std::str::from_utf8(trim_nul(b))
                .map_err(|_| Error::decode("XMP packet", "not UTF-8; refusing to overwrite it"))
        })
        .transpose()?;
    xmp::merge(text, props)
}

pub(crate) fn strip_xmp(packet: &[u8]) -> Result<String> {
    let text = std::str::from_utf8(trim_nul(packet))
        .map_err(|_| Error::decode("XMP packet", "not UTF-8; refusing to overwrite it"))?;
    xmp::strip(text)
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    &b[..end]
}

/// Whether `text` is one of our or a foreign label (used to remove old label carriers).
pub(crate) fn is_label_text(text: &str) -> bool {
    parse_label(text).is_ok()
}

/// Inflates zlib data with a size limit.
pub(crate) fn inflate(data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, MAX_INFLATE)
        .map_err(|e| format!("cannot inflate compressed text ({:?})", e.status))
}

/// CRC-32 (ISO-HDLC, as PNG uses).
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for part in parts {
        for &byte in *part {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
    }
    !crc
}

/// Reads a big-endian u32 at `at`, if in range.
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian u32 at `at`, if in range.
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests;
