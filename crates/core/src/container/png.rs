//! PNG: label in an uncompressed `iTXt` chunk `XML:com.adobe.xmp` (XMP `TC260:AIGC`).
//!
//! Binding: the critical chunks (IHDR, PLTE, IDAT, IEND, any other critical chunk) and the
//! ancillary chunks that change decoded pixels or their colour (tRNS, gAMA, cHRM, sRGB,
//! iCCP, sBIT, cICP, mDCv, cLLi) and APNG frames (acTL, fcTL, fdAT), in file order: type,
//! length, data (the CRC follows from the data). Text, EXIF, time, physical size, C2PA and
//! unknown ancillary chunks are metadata and excluded.

use std::ops::Range;

use super::{
    add_label, add_xmp, be32, carrier, crc32, exif, inflate, merge_xmp, strip_xmp, Marks,
    MediaHasher,
};
use crate::manifest::{C2paStore, MetadataReport};
use crate::{Error, Result};

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp";
const BOUND_ANCILLARY: [&[u8; 4]; 12] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCv", b"cLLi", b"acTL",
    b"fcTL", b"fdAT",
];

/// Largest number of chunks (a 1 GB image in 8 KiB IDAT chunks has about 131 000).
const MAX_CHUNKS: usize = 1 << 20;

struct Chunk {
    ty: [u8; 4],
    /// The whole chunk: length, type, data, CRC.
    raw: Range<usize>,
    data: Range<usize>,
}

fn chunks(b: &[u8]) -> Result<Vec<Chunk>> {
    if !b.starts_with(SIGNATURE) {
        return Err(Error::decode("PNG", "bad signature"));
    }
    let mut out = Vec::new();
    let mut at = SIGNATURE.len();
    while at < b.len() {
        if out.len() >= MAX_CHUNKS {
            return Err(Error::Limits {
                what: "PNG chunks",
                actual: out.len() as u64,
                limit: MAX_CHUNKS as u64,
            });
        }
        let len =
            be32(b, at).ok_or_else(|| Error::decode("PNG", "truncated chunk header"))? as usize;
        let ty: [u8; 4] = b
            .get(at + 4..at + 8)
            .and_then(|t| t.try_into().ok())
            .ok_or_else(|| Error::decode("PNG", "truncated chunk header"))?;
        let end = at
            .checked_add(12)
            .and_then(|e| e.checked_add(len))
            .filter(|&e| e <= b.len() && len <= 0x7FFF_FFFF)
            .ok_or_else(|| {
                Error::decode(
                    "PNG",
                    format!("chunk `{}` runs past the end", String::from_utf8_lossy(&ty)),
                )
            })?;
        out.push(Chunk { ty, raw: at..end, data: at + 8..end - 4 });
        at = end;
        if &ty == b"IEND" {
            break;
        }
    }
    if out.first().is_none_or(|c| &c.ty != b"IHDR") {
        return Err(Error::decode("PNG", "first chunk is not IHDR"));
    }
    Ok(out)
}

fn bound(ty: &[u8; 4]) -> bool {
    ty[0] & 0x20 == 0 || BOUND_ANCILLARY.contains(&ty)
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    let mut h = MediaHasher::new("png");
    for c in chunks(b)? {
        if bound(&c.ty) {
            h.part(&c.ty, &b[c.data]);
        }
    }
    Ok(h.finish())
}

/// A text chunk's keyword and decoded text.
enum Text {
    Xmp(Vec<u8>),
    Label(String),
    Other,
}

fn split_nul(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = d.iter().position(|&c| c == 0)?;
    Some((&d[..p], &d[p + 1..]))
}

fn text_chunk(ty: &[u8; 4], d: &[u8]) -> std::result::Result<Text, String> {
    let Some((keyword, rest)) = split_nul(d) else { return Ok(Text::Other) };
    if keyword != XMP_KEYWORD && !keyword.eq_ignore_ascii_case(b"AIGC") {
        return Ok(Text::Other);
    }
    let body: Vec<u8> = match ty {
        b"tEXt" => rest.to_vec(),
        b"zTXt" => inflate(rest.get(1..).unwrap_or_default())?,
        b"iTXt" => {
            let (flag, method) = (rest.first().copied(), rest.get(1).copied());
            let rest = rest.get(2..).unwrap_or_default();
            let (_, rest) = split_nul(rest).ok_or("iTXt without language tag")?;
            let (_, text) = split_nul(rest).ok_or("iTXt without translated keyword")?;
            match (flag, method) {
                (Some(0), _) => text.to_vec(),
                (Some(1), Some(0)) => inflate(text)?,
                _ => return Err("iTXt with unknown compression".into()),
            }
        }
        _ => return Ok(Text::Other),
    };
    if keyword == XMP_KEYWORD {
        Ok(Text::Xmp(body))
    } else if ty == b"tEXt" {
        // tEXt is Latin-1; labels are ASCII, so map bytes to chars.
        Ok(Text::Label(body.iter().map(|&c| char::from(c)).collect()))
    } else {
        Ok(Text::Label(String::from_utf8_lossy(&body).into_owned()))
    }
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    let mut seen_idat = false;
    for c in chunks(b)? {
        let d = &b[c.data.clone()];
        let name = String::from_utf8_lossy(&c.ty).into_owned();
        let late = if seen_idat { " (after IDAT)" } else { "" };
        match &c.ty {
            b"IDAT" => seen_idat = true,
            b"tEXt" | b"zTXt" | b"iTXt" => match text_chunk(&c.ty, d) {
                Ok(Text::Xmp(p)) => {
                    add_xmp(report, &p, &carrier(format!("png {name} XMP{late}"), c.raw.start))
                }
                Ok(Text::Label(t)) => add_label(
                    report,
                    t,
                    carrier(format!("png {name} AIGC{late}"), c.raw.start),
                    Vec::new(),
                ),
                Ok(Text::Other) => {}
                Err(e) => report.problems.push(format!("png {name} at {}: {e}", c.raw.start)),
            },
            b"eXIf" => match exif::labels(d) {
                Ok(found) => {
                    for l in found {
                        add_label(
                            report,
                            l.text,
                            carrier(format!("png eXIf {}", l.tag), c.raw.start),
                            Vec::new(),
                        );
                    }
                }
                Err(e) => report.problems.push(format!("png eXIf: {e}")),
            },
            b"caBX" => report
                .c2pa
                .push(C2paStore { carrier: carrier("png caBX", c.raw.start), len: d.len() }),
            _ => {}
        }
    }
    Ok(())
}

fn push_chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) -> Result<()> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&l| l <= 0x7FFF_FFFF)
        .ok_or_else(|| Error::encode("PNG", "chunk too large"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(ty);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[ty, data]).to_be_bytes());
    Ok(())
}

fn xmp_itxt(packet: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(packet.len() + 24);
    d.extend_from_slice(XMP_KEYWORD);
    d.extend_from_slice(&[0, 0, 0, 0, 0]); // NUL, uncompressed, method 0, empty language, empty translation
    d.extend_from_slice(packet.as_bytes());
    d
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let list = chunks(b)?;
    let json = marks.label.to_json();
    let mut base: Option<Vec<u8>> = None;
    let mut out = Vec::with_capacity(b.len() + 4096);
    out.extend_from_slice(SIGNATURE);
    let mut placed = false;
    for c in &list {
        let d = &b[c.data.clone()];
        let text = match &c.ty {
            b"tEXt" | b"zTXt" | b"iTXt" => {
                text_chunk(&c.ty, d).map_err(|e| Error::decode("PNG text chunk", e))?
            }
            _ => Text::Other,
        };
        match text {
            Text::Xmp(p) if base.is_none() => base = Some(p),
            Text::Xmp(p) => push_chunk(&mut out, b"iTXt", &xmp_itxt(&strip_xmp(&p)?))?,
            Text::Label(_) => {} // an older label: replaced by ours
            Text::Other if &c.ty == b"eXIf" => {
                let mut data = d.to_vec();
                for l in exif::labels(d).unwrap_or_default() {
                    exif::blank(&mut data, &l);
                }
                push_chunk(&mut out, b"eXIf", &data)?;
            }
            Text::Other => {
                if !placed && matches!(&c.ty, b"IDAT" | b"IEND" | b"fdAT") {
                    // Every earlier XMP chunk has been seen only if it came before IDAT; a
                    // late packet is merged below and its chunk dropped then.
                    let packet = pending_xmp(&list, b, base.as_deref(), marks, &json)?;
                    push_chunk(&mut out, b"iTXt", &xmp_itxt(&packet))?;
                    placed = true;
                }
                out.extend_from_slice(&b[c.raw.clone()]);
            }
        }
    }
    if !placed {
        return Err(Error::decode("PNG", "no IDAT or IEND chunk"));
    }
    Ok(out)
}

/// The merged packet: the first XMP packet anywhere in the file (before or after IDAT)
/// is the base.
fn pending_xmp(
    list: &[Chunk],
    b: &[u8],
    early: Option<&[u8]>,
    marks: &Marks<'_>,
    json: &str,
) -> Result<String> {
    let props = marks.xmp_props(Some(json));
    if let Some(p) = early {
        return merge_xmp(Some(p), &props);
    }
    for c in list {
        if let Ok(Text::Xmp(p)) = text_chunk(&c.ty, &b[c.data.clone()]) {
            return merge_xmp(Some(&p), &props);
        }
    }
    merge_xmp(None, &props)
}
