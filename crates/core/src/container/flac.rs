//! FLAC: label in the `VORBIS_COMMENT` block as `AIGC=<json>` (TC260 audio guide); IPTC
//! digital source type and provenance manifest as an XMP packet in `PROVMARK_XMP=<packet>`
//! (FLAC has no standard XMP placement). A C2PA store is a `GEOB` frame in a leading ID3v2
//! tag, which is read and kept.
//!
//! Binding: the `STREAMINFO` block data and every byte after the last metadata block (the
//! audio frames).

use std::ops::Range;

use super::{add_label, add_xmp, carrier, le32, merge_xmp, mp3, Marks, MediaHasher};
use crate::manifest::MetadataReport;
use crate::{Error, Result};

const STREAMINFO: u8 = 0;
const VORBIS_COMMENT: u8 = 4;
const XMP_KEY: &str = "PROVMARK_XMP";

struct Block {
    ty: u8,
    raw: Range<usize>,
    data: Range<usize>,
}

/// The leading ID3 end, the blocks, and the start of the audio frames.
fn blocks(b: &[u8]) -> Result<(usize, Vec<Block>, usize)> {
    let start = super::id3::leading_tags_end(b);
    if b.get(start..start + 4) != Some(b"fLaC") {
        return Err(Error::decode("FLAC", "no `fLaC` marker"));
    }
    let mut at = start + 4;
    let mut out = Vec::new();
    loop {
        let h = b
            .get(at..at + 4)
            .ok_or_else(|| Error::decode("FLAC", "truncated metadata block header"))?;
        let last = h[0] & 0x80 != 0;
        let ty = h[0] & 0x7F;
        let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        let end = at + 4 + len;
        if end > b.len() {
            return Err(Error::decode("FLAC", "metadata block runs past the end"));
        }
        out.push(Block { ty, raw: at..end, data: at + 4..end });
        at = end;
        if last {
            break;
        }
    }
    if out.first().is_none_or(|blk| blk.ty != STREAMINFO) {
        return Err(Error::decode("FLAC", "first block is not STREAMINFO"));
    }
    Ok((start, out, at))
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    hash_with(b, |h, audio| {
        h.part(b"FRMS", &b[audio..]);
        Ok(())
    })
}

/// The media hash of `b` with the frames' part added by `frames`, given where they start in
/// `b` (for a file whose frames are streamed rather than in `b`).
pub(crate) fn hash_with(
    b: &[u8],
    frames: impl FnOnce(&mut MediaHasher, usize) -> Result<()>,
) -> Result<[u8; 32]> {
    let (_, list, audio) = blocks(b)?;
    let mut h = MediaHasher::new("flac");
    h.part(b"STRM", &b[list[0].data.clone()]);
    frames(&mut h, audio)?;
    Ok(h.finish())
}

/// Where the audio frames start, if `b` holds the whole metadata part of a FLAC file (the
/// leading ID3 tags and every metadata block); an error if it does not (malformed, or cut
/// before the frames).
pub(crate) fn frames_start(b: &[u8]) -> Result<usize> {
    blocks(b).map(|(_, _, audio)| audio)
}

/// Vendor string and comments of a `VORBIS_COMMENT` block.
fn comments(d: &[u8]) -> std::result::Result<(&[u8], Vec<&[u8]>), String> {
    let vlen = le32(d, 0).ok_or("truncated")? as usize;
    let vendor = d.get(4..4 + vlen).ok_or("vendor string runs past the block")?;
    let mut at = 4 + vlen;
    let n = le32(d, at).ok_or("truncated")? as usize;
    at += 4;
    let mut out = Vec::new();
    for _ in 0..n {
        let len = le32(d, at).ok_or("comment list truncated")? as usize;
        let c = d.get(at + 4..at + 4 + len).ok_or("comment runs past the block")?;
        out.push(c);
        at += 4 + len;
    }
    Ok((vendor, out))
}

fn split(c: &[u8]) -> Option<(String, &[u8])> {
    let p = c.iter().position(|&x| x == b'=')?;
    Some((String::from_utf8_lossy(&c[..p]).to_ascii_uppercase(), &c[p + 1..]))
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    if let Err(e) = mp3::read_id3(b, report) {
        report.problems.push(format!("leading ID3v2 tag: {e}"));
    }
    let (_, list, _) = blocks(b)?;
    for blk in list.iter().filter(|blk| blk.ty == VORBIS_COMMENT) {
        let at = blk.raw.start;
        match comments(&b[blk.data.clone()]) {
            Ok((_, entries)) => {
                for c in entries {
                    match split(c) {
                        Some((k, v)) if k == "AIGC" => {
                            add_label(
                                report,
                                String::from_utf8_lossy(v).into_owned(),
                                carrier("flac VORBIS_COMMENT AIGC", at),
                                Vec::new(),
                            );
                        }
                        Some((k, v)) if k == XMP_KEY => {
                            add_xmp(report, v, &carrier("flac VORBIS_COMMENT PROVMARK_XMP", at))
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => report.problems.push(format!("flac VORBIS_COMMENT: {e}")),
        }
    }
    Ok(())
}

fn push_comment(out: &mut Vec<u8>, c: &[u8]) -> Result<()> {
    let n = u32::try_from(c.len()).map_err(|_| Error::encode("FLAC", "comment too large"))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(c);
    Ok(())
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let (start, list, audio) = blocks(b)?;
    let vc = list.iter().position(|blk| blk.ty == VORBIS_COMMENT);
    let (vendor, old): (&[u8], Vec<&[u8]>) = match vc {
        Some(i) => comments(&b[list[i].data.clone()])
            .map_err(|e| Error::decode("FLAC VORBIS_COMMENT", e))?,
        None => (b"provmark", Vec::new()),
    };
    let base = old.iter().filter_map(|c| split(c)).find(|(k, _)| k == XMP_KEY).map(|(_, v)| v);
    let packet = merge_xmp(base, &marks.xmp_props(None))?;
    let kept: Vec<&&[u8]> =
        old.iter().filter(|c| split(c).is_none_or(|(k, _)| k != "AIGC" && k != XMP_KEY)).collect();
    let mut data = Vec::new();
    push_comment(&mut data, vendor)?;
    let n =
        u32::try_from(kept.len() + 2).map_err(|_| Error::encode("FLAC", "too many comments"))?;
    data.extend_from_slice(&n.to_le_bytes());
    for c in kept {
        push_comment(&mut data, c)?;
    }
    push_comment(&mut data, format!("AIGC={}", marks.label.to_json()).as_bytes())?;
    push_comment(&mut data, format!("{XMP_KEY}={packet}").as_bytes())?;
    if data.len() >= 1 << 24 {
        return Err(Error::encode("FLAC", "VORBIS_COMMENT block larger than 16 MiB"));
    }
    // Blocks in order; the comment block replaces the old one or follows STREAMINFO.
    let mut parts: Vec<(u8, &[u8])> = Vec::with_capacity(list.len() + 1);
    for (i, blk) in list.iter().enumerate() {
        if Some(i) == vc {
            parts.push((VORBIS_COMMENT, &data));
        } else {
            parts.push((blk.ty, &b[blk.data.clone()]));
        }
        if i == 0 && vc.is_none() {
            parts.push((VORBIS_COMMENT, &data));
        }
    }
    let mut out = Vec::with_capacity(b.len() + data.len());
    out.extend_from_slice(&b[..start]);
    out.extend_from_slice(b"fLaC");
    let count = parts.len();
    for (i, (ty, d)) in parts.into_iter().enumerate() {
        let last = if i + 1 == count { 0x80 } else { 0 };
        let len = d.len();
        out.push(ty | last);
        out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
        out.extend_from_slice(d);
    }
    out.extend_from_slice(&b[audio..]);
    Ok(out)
}
