//! WebP: label in the RIFF `XMP ` chunk (XMP `TC260:AIGC`), with the VP8X XMP flag set. A
//! simple-format file (VP8/VP8L only) gets a VP8X header built from the bitstream size.
//!
//! Binding: the canvas size (from `VP8X`, or from the bitstream of a simple-format file),
//! then the `VP8 `, `VP8L`, `ALPH`, `ANIM`, `ANMF` and `ICCP` chunks in file order. `VP8X`
//! flags are excluded: they change when metadata is added.

use super::riff::{self, Chunk};
use super::{add_label, add_xmp, carrier, exif, merge_xmp, strip_xmp, Marks, MediaHasher};
use crate::manifest::{C2paStore, MetadataReport};
use crate::{Error, Result};

const BOUND: [&[u8; 4]; 6] = [b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];
const FLAG_XMP: u8 = 0x04;
const FLAG_ALPHA: u8 = 0x10;

fn chunks(b: &[u8]) -> Result<Vec<Chunk>> {
    riff::chunks(b, b"WEBP", "WebP")
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    let list = chunks(b)?;
    let mut h = MediaHasher::new("webp");
    // The canvas size, from VP8X or (simple format) from the bitstream, so that adding a
    // VP8X header to carry XMP leaves the hash unchanged.
    let canvas_size = list.iter().find_map(|c| {
        let d = &b[c.data.clone()];
        if &c.id == b"VP8X" {
            let w = u32::from_le_bytes([*d.get(4)?, *d.get(5)?, *d.get(6)?, 0]) + 1;
            let h = u32::from_le_bytes([*d.get(7)?, *d.get(8)?, *d.get(9)?, 0]) + 1;
            Some((w, h))
        } else {
            canvas(&c.id, d).map(|(w, h, _)| (w, h))
        }
    });
    let (w, hgt) =
        canvas_size.ok_or_else(|| Error::decode("WebP", "cannot read the canvas size"))?;
    h.part(b"CNVS", &[w.to_be_bytes(), hgt.to_be_bytes()].concat());
    for c in &list {
        if BOUND.contains(&&c.id) {
            h.part(&c.id, &b[c.data.clone()]);
        }
    }
    Ok(h.finish())
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    for c in chunks(b)? {
        let d = &b[c.data.clone()];
        let at = c.raw.start;
        match &c.id {
            b"XMP " => add_xmp(report, d, &carrier("webp XMP chunk", at)),
            b"EXIF" => {
                let tiff = d.strip_prefix(b"Exif\0\0").unwrap_or(d);
                match exif::labels(tiff) {
                    Ok(found) => {
                        for l in found {
                            add_label(
                                report,
                                l.text,
                                carrier(format!("webp EXIF {}", l.tag), at),
                                Vec::new(),
                            );
                        }
                    }
                    Err(e) => report.problems.push(format!("webp EXIF: {e}")),
                }
            }
            b"AIGC" => add_label(
                report,
                String::from_utf8_lossy(d).into_owned(),
                carrier("webp AIGC chunk", at),
                Vec::new(),
            ),
            b"C2PA" => {
                report.c2pa.push(C2paStore { carrier: carrier("riff C2PA", at), len: d.len() })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Canvas size and alpha from a simple-format bitstream chunk.
fn canvas(id: &[u8; 4], d: &[u8]) -> Option<(u32, u32, bool)> {
    match id {
        b"VP8 " if d.get(3..6) == Some(&[0x9d, 0x01, 0x2a]) => {
            let w = u32::from(u16::from_le_bytes([*d.get(6)?, *d.get(7)?]) & 0x3fff);
            let h = u32::from(u16::from_le_bytes([*d.get(8)?, *d.get(9)?]) & 0x3fff);
            Some((w, h, false))
        }
        b"VP8L" if d.first() == Some(&0x2f) => {
            let bits = u32::from_le_bytes([*d.get(1)?, *d.get(2)?, *d.get(3)?, *d.get(4)?]);
            Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, (bits >> 28) & 1 == 1))
        }
        _ => None,
    }
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let list = chunks(b)?;
    let json = marks.label.to_json();
    let first_xmp = list.iter().position(|c| &c.id == b"XMP ");
    let packet =
        merge_xmp(first_xmp.map(|i| &b[list[i].data.clone()]), &marks.xmp_props(Some(&json)))?;
    // The packet goes after the image data and EXIF (the order the WebP container spec
    // gives), before unknown chunks and any C2PA store.
    let after = list
        .iter()
        .rposition(|c| {
            matches!(
                &c.id,
                b"VP8 " | b"VP8L" | b"ALPH" | b"ANMF" | b"EXIF" | b"ICCP" | b"ANIM" | b"VP8X"
            )
        })
        .ok_or_else(|| Error::decode("WebP", "no image data"))?;
    let mut body = Vec::with_capacity(b.len() + packet.len() + 64);
    if !list.iter().any(|c| &c.id == b"VP8X") {
        let (w, h, alpha) = list
            .iter()
            .find_map(|c| canvas(&c.id, &b[c.data.clone()]))
            .ok_or_else(|| Error::decode("WebP", "cannot read the canvas size"))?;
        let mut vp8x = vec![FLAG_XMP | if alpha { FLAG_ALPHA } else { 0 }, 0, 0, 0];
        vp8x.extend_from_slice(&w.saturating_sub(1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&h.saturating_sub(1).to_le_bytes()[..3]);
        riff::push_chunk(&mut body, b"VP8X", &vp8x)?;
    }
    for (i, c) in list.iter().enumerate() {
        let d = &b[c.data.clone()];
        match &c.id {
            b"VP8X" => {
                let mut v = d.to_vec();
                if let Some(f) = v.first_mut() {
                    *f |= FLAG_XMP;
                }
                riff::push_chunk(&mut body, b"VP8X", &v)?;
            }
            b"XMP " if Some(i) == first_xmp => {}
            b"XMP " => riff::push_chunk(&mut body, b"XMP ", strip_xmp(d)?.as_bytes())?,
            b"AIGC" => {}
            b"EXIF" => {
                let mut v = d.to_vec();
                let off = if d.starts_with(b"Exif\0\0") { 6 } else { 0 };
                for l in exif::labels(&d[off..]).unwrap_or_default() {
                    exif::blank(&mut v[off..], &l);
                }
                riff::push_chunk(&mut body, b"EXIF", &v)?;
            }
            _ => riff::copy_chunk(&mut body, b, c),
        }
        if i == after {
            riff::push_chunk(&mut body, b"XMP ", packet.as_bytes())?;
        }
    }
    riff::finish(b"WEBP", &body)
}
