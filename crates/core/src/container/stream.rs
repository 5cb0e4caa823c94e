//! WAV and FLAC files too large to hold in memory (an hour of CD audio is 635 MB): labelled,
//! hashed and read with their audio bytes streamed.
//!
//! Everything but the audio bytes (the WAV chunks other than `data`, the FLAC metadata
//! blocks and leading ID3 tags) is read into a *skeleton*: the same file with its audio left
//! out. The in-memory writers and readers then work on the skeleton unchanged, and the audio
//! bytes are copied from the source into the result in one pass, hashed as they go. So a
//! streamed label is byte for byte the one [`write_label`](super::write_label) writes
//! (tested), in memory bounded by the metadata (at most [`MAX_SKELETON`]) and a 1 MiB buffer.

use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;

use ed25519_dalek::Signature;
use signature::Signer;

use super::riff;
use super::{check_marks, detect, flac, le32, read_metadata, wav, write_marks, Format, Marks};
use crate::manifest::{self, LabelRequest, MetadataReport};
use crate::{Error, ProviderInfo, Result};

/// Largest metadata part (everything but the audio bytes) read into memory.
pub const MAX_SKELETON: u64 = 64 << 20;

/// A file with its audio bytes left out (a WAV whose `data` chunk is empty, a FLAC file with
/// no frames), and where those bytes are in the source.
struct Skeleton {
    format: Format,
    bytes: Vec<u8>,
    audio: Range<u64>,
}

fn read_at<R: Read + Seek>(src: &mut R, at: u64, buf: &mut [u8]) -> Result<()> {
    src.seek(SeekFrom::Start(at))?;
    src.read_exact(buf).map_err(|e| Error::decode("media", format!("reading the file: {e}")))
}

fn skeleton<R: Read + Seek>(src: &mut R) -> Result<Skeleton> {
    let len = src.seek(SeekFrom::End(0))?;
    let mut head = [0u8; 12];
    let n = usize::try_from(len.min(12)).unwrap_or(12);
    read_at(src, 0, &mut head[..n])?;
    match detect(&head[..n]) {
        Some(Format::Wav) => wav_skeleton(src, len),
        // A leading ID3 tag hides whether FLAC follows; the FLAC parser checks.
        Some(Format::Flac) => flac_skeleton(src, len),
        Some(Format::Mp3) if head.starts_with(b"ID3") => flac_skeleton(src, len),
        _ => Err(Error::decode("media", "streamed labelling reads WAV and FLAC only")),
    }
}

fn too_large(actual: u64) -> Error {
    Error::Limits { what: "metadata bytes", actual, limit: MAX_SKELETON }
}

/// The chunks in file order (the rule of [`riff::chunks`]: a RIFF size beyond the file
/// yields to the file length, a final `data` chunk running past the end is clamped).
fn wav_skeleton<R: Read + Seek>(src: &mut R, file_len: u64) -> Result<Skeleton> {
    let mut head = [0u8; 12];
    read_at(src, 0, &mut head)?;
    let riff_end = (u64::from(le32(&head, 4).unwrap_or(0)) + 8).min(file_len);
    let mut bytes = head.to_vec();
    let mut audio = None;
    let mut at = 12u64;
    while at + 8 <= riff_end {
        let mut h = [0u8; 8];
        read_at(src, at, &mut h)?;
        let id = [h[0], h[1], h[2], h[3]];
        let len = u64::from(le32(&h, 4).unwrap_or(0));
        let data_end = at + 8 + len;
        if &id == b"data" {
            if audio.is_some() {
                return Err(Error::decode("WAV", "more than one `data` chunk"));
            }
            let end = data_end.min(riff_end);
            audio = Some(at + 8..end);
            bytes.extend_from_slice(b"data\0\0\0\0");
            at = (end + (len & 1)).min(riff_end);
        } else {
            if data_end > riff_end {
                return Err(Error::decode(
                    "WAV",
                    format!("chunk `{}` runs past the end", String::from_utf8_lossy(&id)),
                ));
            }
            let raw_end = (data_end + (len & 1)).min(riff_end);
            let grown = bytes.len() as u64 + (raw_end - at);
            if grown > MAX_SKELETON {
                return Err(too_large(grown));
            }
            let start = bytes.len();
            bytes.resize(start + usize::try_from(raw_end - at).unwrap_or(0), 0);
            read_at(src, at, &mut bytes[start..])?;
            at = raw_end;
        }
    }
    let audio = audio.ok_or_else(|| Error::decode("WAV", "no `data` chunk"))?;
    let size = u32::try_from(bytes.len() - 8).map_err(|_| too_large(bytes.len() as u64))?;
    bytes[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(Skeleton { format: Format::Wav, bytes, audio })
}

/// Reads ever longer prefixes until one holds every metadata block.
fn flac_skeleton<R: Read + Seek>(src: &mut R, file_len: u64) -> Result<Skeleton> {
    let mut size = file_len.min(64 << 10);
    loop {
        let mut b = vec![0u8; usize::try_from(size).map_err(|_| too_large(size))?];
        read_at(src, 0, &mut b)?;
        match flac::frames_start(&b) {
            Ok(start) => {
                b.truncate(start);
                return Ok(Skeleton {
                    format: Format::Flac,
                    bytes: b,
                    audio: start as u64..file_len,
                });
            }
            // The whole file (or the largest prefix we read) does not parse: that is the error.
            Err(e) if size == file_len => return Err(e),
            Err(_) if size >= MAX_SKELETON => return Err(too_large(file_len)),
            Err(_) => size = (size * 2).min(file_len).min(MAX_SKELETON),
        }
    }
}

/// The media hash with the audio bytes read from `src`, each piece also given to `sink`.
fn hash_streamed<R: Read + Seek>(
    format: Format,
    skeleton: &[u8],
    audio: &Range<u64>,
    src: &mut R,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<[u8; 32]> {
    src.seek(SeekFrom::Start(audio.start))?;
    let len = audio.end - audio.start;
    match format {
        Format::Wav => wav::hash_with(skeleton, |h, c| h.part_stream(&c.id, len, src, sink)),
        _ => flac::hash_with(skeleton, |h, _| h.part_stream(b"FRMS", len, src, sink)),
    }
}

/// [`media_hash`](super::media_hash) of a WAV or FLAC file, reading the audio bytes as a
/// stream.
///
/// # Errors
/// [`Error::Decode`] for another format or a malformed file, [`Error::Limits`] if its
/// metadata exceeds [`MAX_SKELETON`], [`Error::Io`] if reading fails.
pub fn media_hash_stream<R: Read + Seek>(src: &mut R) -> Result<[u8; 32]> {
    let s = skeleton(src)?;
    hash_streamed(s.format, &s.bytes, &s.audio, src, &mut |_| Ok(()))
}

/// [`read_metadata`] of a WAV or FLAC file without reading its audio bytes. Carrier offsets
/// past the audio are offsets in the file without its audio.
///
/// # Errors
/// As [`media_hash_stream`].
pub fn read_metadata_stream<R: Read + Seek>(src: &mut R) -> Result<MetadataReport> {
    Ok(read_metadata(&skeleton(src)?.bytes))
}

/// [`read_metadata`] and [`media_hash`](super::media_hash) of a file of any format read
/// from `src`: WAV and FLAC without holding their audio bytes, other formats (images, MP3:
/// far smaller than PCM) read whole. A file whose media hash cannot be computed still gets
/// its report.
///
/// # Errors
/// [`Error::Io`] if reading `src` fails.
pub fn inspect_stream<R: Read + Seek>(src: &mut R) -> Result<(MetadataReport, Result<[u8; 32]>)> {
    if let Ok(report) = read_metadata_stream(src) {
        return Ok((report, media_hash_stream(src)));
    }
    src.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    src.read_to_end(&mut bytes)?;
    Ok((read_metadata(&bytes), super::media_hash(&bytes)))
}

/// [`write_label_hashed`](super::write_label_hashed) for a WAV or FLAC file read from `src`
/// and written to `dst` as a stream: the same output bytes, in memory bounded by the
/// metadata. The audio bytes are read twice (hashed, then copied and hashed again); the
/// copy must hash to the value signed, the label and manifest must read back. Returns the
/// bytes written and the media hash.
///
/// # Errors
/// As [`media_hash_stream`] and [`write_label`](super::write_label); [`Error::Encode`] for
/// an output beyond the format's 4 GiB limit (WAV); [`Error::Io`] if writing fails.
pub fn write_label_stream<R, W, S>(
    src: &mut R,
    dst: &mut W,
    request: &LabelRequest,
    signer: &S,
    provider: &ProviderInfo,
) -> Result<(u64, [u8; 32])>
where
    R: Read + Seek,
    W: Write,
    S: Signer<Signature>,
{
    let s = skeleton(src)?;
    let hash = hash_streamed(s.format, &s.bytes, &s.audio, src, &mut |_| Ok(()))?;
    let signed = manifest::sign_label(request, provider, signer, s.format.name(), &hash)?;
    let marks = Marks {
        label: &signed.label,
        provenance: Some(&signed.provenance),
        digital_source_type: Some(manifest::TRAINED_ALGORITHMIC_MEDIA),
    };
    let out = write_marks(s.format, &s.bytes, &marks)?;
    check_marks(&out, &marks)?;
    let audio_len = s.audio.end - s.audio.start;
    // Where the audio goes in the new skeleton, and what follows it.
    let (head, suffix, pad) = match s.format {
        Format::Wav => {
            let big = || Error::encode("WAV", "file larger than 4 GiB");
            let list = riff::chunks(&out, b"WAVE", "WAV")?;
            let c = list
                .iter()
                .find(|c| &c.id == b"data")
                .ok_or_else(|| Error::encode("WAV", "the writer lost the `data` chunk"))?;
            let (at, after) = (c.data.start, c.raw.end);
            let data_len = u32::try_from(audio_len).map_err(|_| big())?;
            let riff = u32::try_from(out.len() as u64 - 8 + audio_len + (audio_len & 1))
                .map_err(|_| big())?;
            let mut head = out[..at].to_vec();
            head[at - 4..].copy_from_slice(&data_len.to_le_bytes());
            head[4..8].copy_from_slice(&riff.to_le_bytes());
            (head, after, audio_len & 1 == 1)
        }
        _ => (out.clone(), out.len(), false),
    };
    // The new skeleton (unpatched) gives the non-audio parts of the hash.
    dst.write_all(&head)?;
    let copied = hash_streamed(s.format, &out, &s.audio, src, &mut |piece| {
        dst.write_all(piece).map_err(Error::from)
    })?;
    if pad {
        dst.write_all(&[0])?;
    }
    dst.write_all(&out[suffix..])?;
    dst.flush()?;
    if copied != hash {
        return Err(Error::encode(
            "metadata read-back",
            "the media bytes changed while writing metadata",
        ));
    }
    let written = (head.len() + out.len() - suffix) as u64 + audio_len + u64::from(pad);
    Ok((written, hash))
}
