//! ID3v2 tags (v2.2, v2.3, v2.4): reading `TXXX`, `GEOB`, `PRIV` frames and writing a tag.

use std::ops::Range;

use crate::{Error, Result};

/// One frame; `raw` is header + body from the (de-unsynchronised) tag, ready to copy.
pub(crate) struct Frame {
    pub id: String,
    pub body: Vec<u8>,
    pub raw: Vec<u8>,
}

pub(crate) struct Tag {
    pub major: u8,
    /// Bytes of the whole tag in the file.
    pub span: Range<usize>,
    pub frames: Vec<Frame>,
    /// Frames that could not be decoded (compressed, encrypted), by id.
    pub opaque: Vec<String>,
}

fn syncsafe(b: &[u8]) -> Option<usize> {
    let s = b.get(..4)?;
    if s.iter().any(|&c| c & 0x80 != 0) {
        return None;
    }
    Some(
        (usize::from(s[0]) << 21)
            | (usize::from(s[1]) << 14)
            | (usize::from(s[2]) << 7)
            | usize::from(s[3]),
    )
}

/// Total size of the tag at `at` (header, body, footer), if one starts there.
fn tag_size(b: &[u8], at: usize) -> Option<usize> {
    let h = b.get(at..at + 10)?;
    if &h[..3] != b"ID3" || h[3] == 0xFF || h[4] == 0xFF {
        return None;
    }
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + syncsafe(&h[6..10])? + footer)
}

/// End offset of the ID3v2 tags at the start of the file (0 if none).
pub(crate) fn leading_tags_end(b: &[u8]) -> usize {
    let mut at = 0;
    for _ in 0..16 {
        match tag_size(b, at) {
            Some(n) if at + n <= b.len() => at += n,
            _ => break,
        }
    }
    at
}

fn unsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        out.push(data[i]);
        if data[i] == 0xFF && data.get(i + 1) == Some(&0) {
            i += 1;
        }
        i += 1;
    }
    out
}

/// Parses the tag at `at`.
pub(crate) fn parse(b: &[u8], at: usize) -> Result<Option<Tag>> {
    let Some(size) = tag_size(b, at) else { return Ok(None) };
    let end = at
        .checked_add(size)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| Error::decode("ID3v2", "tag runs past the end"))?;
    let (major, flags) = (b[at + 3], b[at + 5]);
    if !(2..=4).contains(&major) {
        return Err(Error::decode("ID3v2", format!("unknown version 2.{major}")));
    }
    let body_end = end - if flags & 0x10 != 0 { 10 } else { 0 };
    let mut body = b[at + 10..body_end].to_vec();
    if flags & 0x80 != 0 && major < 4 {
        body = unsync(&body);
    }
    let mut pos = 0;
    if flags & 0x40 != 0 && major >= 3 {
        let ext = if major == 3 {
            super::be32(&body, 0).map(|n| n as usize + 4)
        } else {
            syncsafe(&body)
        };
        pos = ext
            .filter(|&n| n <= body.len())
            .ok_or_else(|| Error::decode("ID3v2", "bad extended header"))?;
    }
    let (id_len, hdr_len) = if major == 2 { (3, 6) } else { (4, 10) };
    let mut frames = Vec::new();
    let mut opaque = Vec::new();
    while pos + hdr_len <= body.len() && body[pos] != 0 {
        let h = &body[pos..pos + hdr_len];
        let id = String::from_utf8_lossy(&h[..id_len]).into_owned();
        let len = match major {
            2 => (usize::from(h[3]) << 16) | (usize::from(h[4]) << 8) | usize::from(h[5]),
            3 => super::be32(h, 4).unwrap_or(0) as usize,
            _ => syncsafe(&h[4..8]).ok_or_else(|| Error::decode("ID3v2", "bad frame size"))?,
        };
        let fend = pos
            .checked_add(hdr_len + len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| Error::decode("ID3v2", format!("frame `{id}` runs past the tag")))?;
        let fflags = if major == 2 { 0 } else { u16::from_be_bytes([h[8], h[9]]) };
        let mut data = body[pos + hdr_len..fend].to_vec();
        let (compressed, encrypted) = match major {
            3 => (fflags & 0x0080 != 0, fflags & 0x0040 != 0),
            4 => (fflags & 0x0008 != 0, fflags & 0x0004 != 0),
            _ => (false, false),
        };
        if major == 4 {
            if fflags & 0x0001 != 0 && data.len() >= 4 {
                data.drain(..4);
            }
            if fflags & 0x0002 != 0 {
                data = unsync(&data);
            }
        }
        if compressed || encrypted {
            opaque.push(id.clone());
            data.clear();
        }
        frames.push(Frame { id, body: data, raw: body[pos..fend].to_vec() });
        pos = fend;
    }
    Ok(Some(Tag { major, span: at..end, frames, opaque }))
}

/// Splits at the encoding's terminator; returns (text, rest).
fn take_text(enc: u8, d: &[u8]) -> (String, &[u8]) {
    if enc == 1 || enc == 2 {
        let mut i = 0;
        while i + 1 < d.len() && !(d[i] == 0 && d[i + 1] == 0) {
            i += 2;
        }
        let (t, rest) = (&d[..i.min(d.len())], d.get(i + 2..).unwrap_or_default());
        (decode_utf16(enc, t), rest)
    } else {
        let i = d.iter().position(|&c| c == 0).unwrap_or(d.len());
        let t = &d[..i];
        let text = if enc == 3 {
            String::from_utf8_lossy(t).into_owned()
        } else {
            t.iter().map(|&c| char::from(c)).collect()
        };
        (text, d.get(i + 1..).unwrap_or_default())
    }
}

fn decode_utf16(enc: u8, t: &[u8]) -> String {
    let (mut be, mut t) = (enc == 2, t);
    if enc == 1 {
        match t.get(..2) {
            Some([0xFE, 0xFF]) => (be, t) = (true, &t[2..]),
            Some([0xFF, 0xFE]) => (be, t) = (false, &t[2..]),
            _ => {}
        }
    }
    let units: Vec<u16> =
        t.chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
    String::from_utf16_lossy(&units)
}

/// `TXXX`/`TXX`: (description, value).
pub(crate) fn txxx(f: &Frame) -> Option<(String, String)> {
    if f.id != "TXXX" && f.id != "TXX" {
        return None;
    }
    let (&enc, rest) = f.body.split_first()?;
    let (desc, rest) = take_text(enc, rest);
    let (value, _) = take_text(enc, rest);
    Some((desc, value))
}

/// `GEOB`/`GEO`: the MIME type.
pub(crate) fn geob_mime(f: &Frame) -> Option<String> {
    if f.id != "GEOB" && f.id != "GEO" {
        return None;
    }
    let (&enc, rest) = f.body.split_first()?;
    if f.id == "GEO" {
        return Some(String::from_utf8_lossy(rest.get(..3)?).into_owned());
    }
    let _ = enc;
    let (mime, _) = take_text(0, rest);
    Some(mime)
}

/// `PRIV`: (owner, data).
pub(crate) fn private(f: &Frame) -> Option<(String, &[u8])> {
    if f.id != "PRIV" {
        return None;
    }
    let (owner, data) = take_text(0, &f.body);
    Some((owner, data))
}

fn syncsafe_bytes(n: usize) -> Result<[u8; 4]> {
    if n >= 1 << 28 {
        return Err(Error::encode("ID3v2", "tag larger than 256 MiB"));
    }
    Ok([(n >> 21) as u8 & 0x7F, (n >> 14) as u8 & 0x7F, (n >> 7) as u8 & 0x7F, n as u8 & 0x7F])
}

/// A frame for version 2.3 or 2.4, no flags.
pub(crate) fn frame(major: u8, id: &[u8; 4], body: &[u8]) -> Result<Vec<u8>> {
    let mut out = id.to_vec();
    if major == 4 {
        out.extend_from_slice(&syncsafe_bytes(body.len())?);
    } else {
        let n = u32::try_from(body.len()).map_err(|_| Error::encode("ID3v2", "frame too large"))?;
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(body);
    Ok(out)
}

/// A `TXXX` frame (ISO-8859-1 for 2.3, UTF-8 for 2.4; our values are ASCII).
pub(crate) fn txxx_frame(major: u8, desc: &str, value: &str) -> Result<Vec<u8>> {
    let mut body = vec![if major == 4 { 3 } else { 0 }];
    body.extend_from_slice(desc.as_bytes());
    body.push(0);
    body.extend_from_slice(value.as_bytes());
    frame(major, b"TXXX", &body)
}

/// A `PRIV` frame.
pub(crate) fn priv_frame(major: u8, owner: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut body = owner.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(data);
    frame(major, b"PRIV", &body)
}

/// Padding after the last frame. Some readers (exiftool) check a v2.4 frame size by
/// looking 10 bytes past the frame, so a tag should not end right after its last frame.
const PADDING: usize = 256;

/// A whole tag (no unsynchronisation, no extended header, no footer; [`PADDING`] zeros).
pub(crate) fn tag(major: u8, frames: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![b'I', b'D', b'3', major, 0, 0];
    out.extend_from_slice(&syncsafe_bytes(frames.len() + PADDING)?);
    out.extend_from_slice(frames);
    out.resize(out.len() + PADDING, 0);
    Ok(out)
}
