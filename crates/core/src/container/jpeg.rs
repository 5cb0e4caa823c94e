//! JPEG: label in an APP1 XMP segment (`http://ns.adobe.com/xap/1.0/\0` + packet).
//!
//! Binding: every marker segment except APPn (0xE0–0xEF) and COM (0xFE), in file order,
//! including the entropy-coded data after each SOS, up to and including EOI: so SOF, DQT,
//! DHT, DRI, SOS and the scan data. Bytes after EOI are excluded.

use std::ops::Range;

use super::{
    add_label, add_xmp, carrier, exif, is_label_text, merge_xmp, strip_xmp, Marks, MediaHasher,
};
use crate::manifest::{C2paStore, MetadataReport};
use crate::{Error, Result};

const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const EXIF_ID: &[u8] = b"Exif\0\0";
/// Largest XMP packet in one APP1 segment (65535 - 2 length bytes - 29 namespace bytes).
const MAX_XMP: usize = 65535 - 2 - 29;
/// Largest number of marker segments (real files have tens; scans count once).
const MAX_SEGMENTS: usize = 65_536;

struct Segment {
    marker: u8,
    /// From the 0xFF of the marker to the end of the segment (scan data included for SOS).
    raw: Range<usize>,
    payload: Range<usize>,
}

fn segments(b: &[u8]) -> Result<Vec<Segment>> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(Error::decode("JPEG", "no SOI marker"));
    }
    let mut out = vec![Segment { marker: 0xD8, raw: 0..2, payload: 2..2 }];
    let mut at = 2;
    loop {
        if out.len() > MAX_SEGMENTS {
            return Err(Error::Limits {
                what: "JPEG marker segments",
                actual: out.len() as u64,
                limit: MAX_SEGMENTS as u64,
            });
        }
        // Fill bytes (0xFF) may precede a marker.
        let start = at;
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        match (b.get(at), b.get(at + 1)) {
            (Some(0xFF), Some(&m)) if m != 0 => {
                if m == 0xD9 {
                    out.push(Segment { marker: m, raw: at..at + 2, payload: at + 2..at + 2 });
                    return Ok(out);
                }
                if (0xD0..=0xD7).contains(&m) || m == 0x01 {
                    out.push(Segment { marker: m, raw: at..at + 2, payload: at + 2..at + 2 });
                    at += 2;
                    continue;
                }
                let len = b
                    .get(at + 2..at + 4)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                    .filter(|&l| l >= 2)
                    .ok_or_else(|| {
                        Error::decode("JPEG", format!("bad segment length at byte {at}"))
                    })?;
                let end = at + 2 + len;
                if end > b.len() {
                    return Err(Error::decode(
                        "JPEG",
                        format!("segment 0x{m:02X} runs past the end"),
                    ));
                }
                let mut raw_end = end;
                if m == 0xDA {
                    raw_end = scan_end(b, end);
                }
                out.push(Segment { marker: m, raw: at..raw_end, payload: at + 4..end });
                at = raw_end;
            }
            _ if start >= b.len() => return Err(Error::decode("JPEG", "no EOI marker")),
            _ => return Err(Error::decode("JPEG", format!("expected a marker at byte {start}"))),
        }
    }
}

/// End of entropy-coded data: the next 0xFF not followed by 0x00 or RSTn.
fn scan_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 1 < b.len() {
        if b[i] == 0xFF {
            let n = b[i + 1];
            if n != 0 && !(0xD0..=0xD7).contains(&n) && n != 0xFF {
                return i;
            }
        }
        i += 1;
    }
    b.len()
}

fn is_metadata(marker: u8) -> bool {
    (0xE0..=0xEF).contains(&marker) || marker == 0xFE
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    let mut h = MediaHasher::new("jpeg");
    for s in segments(b)? {
        if !is_metadata(s.marker) {
            h.part(&[0xFF, s.marker, 0, 0], &b[s.raw]);
        }
    }
    Ok(h.finish())
}

/// A label glued into any APPn/COM payload (`AIGC{…}`, `{"AIGC":…}` or a bare object).
fn loose_label(payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    let start = text
        .find("AIGC{")
        .or_else(|| text.find("{\"AIGC\""))
        .or_else(|| text.find("{\"Label\""))?;
    let candidate = text[start..].trim_end_matches('\0').to_owned();
    is_label_text(&candidate).then_some(candidate)
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    let mut c2pa: Option<C2paStore> = None;
    for s in segments(b)? {
        let p = &b[s.payload.clone()];
        let at = s.raw.start;
        match s.marker {
            0xE1 if p.starts_with(XMP_ID) => {
                add_xmp(report, &p[XMP_ID.len()..], &carrier("jpeg APP1 XMP", at))
            }
            0xE1 if p.starts_with(EXIF_ID) => match exif::labels(&p[EXIF_ID.len()..]) {
                Ok(found) => {
                    for l in found {
                        add_label(
                            report,
                            l.text,
                            carrier(format!("jpeg APP1 EXIF {}", l.tag), at),
                            Vec::new(),
                        );
                    }
                }
                Err(e) => report.problems.push(format!("jpeg EXIF: {e}")),
            },
            0xE1 if p.starts_with(b"http://ns.adobe.com/xmp/extension/\0") => {
                // Extended XMP (split over several segments) is not read: it could hold a label.
                report.problems.push(format!("jpeg APP1 extended XMP at {at} is not read"));
            }
            0xEB if p.starts_with(b"JP") && contains(p, b"jumb") => {
                // JUMBF in JPEG XT boxes; continuation segments add to the same store.
                match &mut c2pa {
                    Some(store) => store.len += p.len(),
                    None if contains(p, b"c2pa") => {
                        c2pa = Some(C2paStore {
                            carrier: carrier("jpeg APP11 JUMBF", at),
                            len: p.len(),
                        });
                    }
                    None => {}
                }
            }
            m if is_metadata(m) => {
                if let Some(text) = loose_label(p) {
                    let name = if m == 0xFE {
                        "jpeg COM".to_owned()
                    } else {
                        format!("jpeg APP{}", m - 0xE0)
                    };
                    add_label(report, text, carrier(name, at), Vec::new());
                }
            }
            _ => {}
        }
    }
    report.c2pa.extend(c2pa);
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn push_segment(out: &mut Vec<u8>, marker: u8, id: &[u8], body: &[u8]) -> Result<()> {
    let len = u16::try_from(2 + id.len() + body.len())
        .map_err(|_| Error::encode("JPEG", "segment larger than 64 KiB"))?;
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(body);
    Ok(())
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let list = segments(b)?;
    let json = marks.label.to_json();
    let props = marks.xmp_props(Some(&json));
    let first_xmp =
        list.iter().position(|s| s.marker == 0xE1 && b[s.payload.clone()].starts_with(XMP_ID));
    // Where the new packet goes: in place of the first XMP segment, else after the leading
    // run of APP0/APP1 segments (JFIF, EXIF), as other writers do.
    let insert_at = first_xmp.unwrap_or_else(|| {
        1 + list[1..].iter().take_while(|s| s.marker == 0xE0 || s.marker == 0xE1).count()
    });
    let base = first_xmp.map(|i| &b[list[i].payload.start + XMP_ID.len()..list[i].payload.end]);
    let packet = merge_xmp(base, &props)?;
    if packet.len() > MAX_XMP {
        return Err(Error::encode(
            "JPEG XMP",
            format!("packet is {} bytes, above the {MAX_XMP}-byte APP1 limit", packet.len()),
        ));
    }
    let mut out = Vec::with_capacity(b.len() + packet.len() + 64);
    for (i, s) in list.iter().enumerate() {
        if i == insert_at {
            push_segment(&mut out, 0xE1, XMP_ID, packet.as_bytes())?;
        }
        let p = &b[s.payload.clone()];
        if Some(i) == first_xmp {
            continue;
        }
        if s.marker == 0xE1 && p.starts_with(XMP_ID) {
            push_segment(&mut out, 0xE1, XMP_ID, strip_xmp(&p[XMP_ID.len()..])?.as_bytes())?;
        } else if s.marker == 0xE1 && p.starts_with(EXIF_ID) {
            let mut data = p.to_vec();
            let found = exif::labels(&p[EXIF_ID.len()..]).unwrap_or_default();
            for l in &found {
                exif::blank(&mut data[EXIF_ID.len()..], l);
            }
            out.extend_from_slice(&b[s.raw.start..s.payload.start]);
            out.extend_from_slice(&data);
        } else if is_metadata(s.marker)
            && !(s.marker == 0xEB && p.starts_with(b"JP"))
            && loose_label(p).is_some()
        {
            // An older label in its own segment: replaced by ours.
        } else {
            out.extend_from_slice(&b[s.raw.clone()]);
        }
    }
    if insert_at >= list.len() {
        return Err(Error::decode("JPEG", "no image data"));
    }
    Ok(out)
}
