//! MP3: label in an ID3v2 `TXXX` frame with description `AIGC` (TC260 audio guide); IPTC
//! digital source type and provenance manifest in a `PRIV` frame owned by `XMP` (the XMP
//! specification's MP3 placement). A C2PA store is a `GEOB` frame `application/c2pa`.
//!
//! Binding: the bytes between the leading ID3v2 tag(s) and the trailing tags (APEv2,
//! ID3v1): the MPEG frames, including a Xing/LAME info frame.

use super::id3::{self, Tag};
use super::{add_label, add_xmp, carrier, merge_xmp, Marks, MediaHasher};
use crate::manifest::{C2paStore, MetadataReport};
use crate::{Error, Result};

/// The byte range of the MPEG audio (without ID3v2, APEv2, ID3v1).
fn audio_range(b: &[u8]) -> (usize, usize) {
    let start = id3::leading_tags_end(b);
    let mut end = b.len();
    if end >= start + 128 && &b[end - 128..end - 125] == b"TAG" {
        end -= 128;
    }
    if end >= start + 32 && &b[end - 32..end - 24] == b"APETAGEX" {
        let size = super::le32(b, end - 20).unwrap_or(0) as usize;
        let flags = super::le32(b, end - 12).unwrap_or(0);
        let total = size + if flags & 0x8000_0000 != 0 { 32 } else { 0 };
        if total <= end - start {
            end -= total;
        }
    }
    (start, end)
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    let (start, end) = audio_range(b);
    if start >= end {
        return Err(Error::decode("MP3", "no audio frames"));
    }
    let mut h = MediaHasher::new("mp3");
    h.part(b"MPEG", &b[start..end]);
    Ok(h.finish())
}

/// Reads the ID3v2 tags at the start of a file (MP3 or FLAC) into the report.
pub(crate) fn read_id3(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    let mut at = 0;
    while let Some(tag) = id3::parse(b, at)? {
        read_tag(&tag, report);
        at = tag.span.end;
    }
    Ok(())
}

fn read_tag(tag: &Tag, report: &mut MetadataReport) {
    for id in &tag.opaque {
        if matches!(id.as_str(), "TXXX" | "PRIV" | "GEOB") {
            report.problems.push(format!("ID3v2 `{id}` frame is compressed or encrypted"));
        }
    }
    let at = tag.span.start;
    for f in &tag.frames {
        if let Some((desc, value)) = id3::txxx(f) {
            if desc.eq_ignore_ascii_case("AIGC") {
                add_label(
                    report,
                    value,
                    carrier(format!("id3v2.{} TXXX:AIGC", tag.major), at),
                    Vec::new(),
                );
            }
        } else if let Some(mime) = id3::geob_mime(f) {
            if mime == "application/c2pa" || mime == "application/x-c2pa-manifest-store" {
                report.c2pa.push(C2paStore {
                    carrier: carrier(format!("id3 GEOB {mime}"), at),
                    len: f.body.len(),
                });
            }
        } else if let Some((owner, data)) = id3::private(f) {
            if owner == "XMP" {
                add_xmp(report, data, &carrier("id3 PRIV XMP", at));
            }
        }
    }
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    read_id3(b, report)
}

/// Rewrites the first ID3v2 tag (or adds a v2.4 tag) with our frames and without any
/// earlier `TXXX:AIGC`; returns the new tag bytes and the range of the file it replaces.
pub(crate) fn rewrite_tag(
    b: &[u8],
    marks: &Marks<'_>,
) -> Result<(Vec<u8>, std::ops::Range<usize>)> {
    let tag = id3::parse(b, 0)?;
    let major = tag.as_ref().map_or(4, |t| t.major);
    if major == 2 {
        return Err(Error::encode(
            "ID3v2",
            "cannot update a version 2.2 tag; convert it to 2.3 or 2.4 first",
        ));
    }
    let base = tag
        .iter()
        .flat_map(|t| &t.frames)
        .filter_map(id3::private)
        .find(|(owner, _)| owner == "XMP")
        .map(|(_, d)| d);
    let packet = merge_xmp(base, &marks.xmp_props(None))?;
    let mut frames = Vec::new();
    for f in tag.iter().flat_map(|t| &t.frames) {
        let ours = id3::txxx(f).is_some_and(|(d, _)| d.eq_ignore_ascii_case("AIGC"))
            || id3::private(f).is_some_and(|(o, _)| o == "XMP");
        if !ours {
            frames.extend_from_slice(&f.raw);
        }
    }
    frames.extend_from_slice(&id3::txxx_frame(major, "AIGC", &marks.label.to_json())?);
    frames.extend_from_slice(&id3::priv_frame(major, "XMP", packet.as_bytes())?);
    let span = tag.map_or(0..0, |t| t.span);
    Ok((id3::tag(major, &frames)?, span))
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let (tag, span) = rewrite_tag(b, marks)?;
    let mut out = Vec::with_capacity(b.len() + tag.len());
    out.extend_from_slice(&b[..span.start]);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&b[span.end..]);
    Ok(out)
}
