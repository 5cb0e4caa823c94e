//! EXIF (TIFF structure) reader for labels in `UserComment` (0x9286, the TC260 image guide's
//! Annex B form) and `ImageDescription` (0x010E, a variant seen in the wild), and in-place
//! blanking of such a label when a new one is written.

use std::ops::Range;

/// A text value that parses as a label.
pub(crate) struct ExifLabel {
    pub tag: &'static str,
    pub text: String,
    /// The value bytes inside the TIFF data (for `UserComment`, after the 8-byte charset).
    pub range: Range<usize>,
}

const MAX_ENTRIES: usize = 4096;

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(if le { u16::from_le_bytes([s[0], s[1]]) } else { u16::from_be_bytes([s[0], s[1]]) })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a = [s[0], s[1], s[2], s[3]];
    Some(if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
}

/// Finds labels in TIFF-structured EXIF data (starting at the byte-order mark).
/// Returns an error string for a structure it cannot follow.
pub(crate) fn labels(tiff: &[u8]) -> Result<Vec<ExifLabel>, String> {
    let le = match tiff.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return Err("EXIF data has no TIFF header".into()),
    };
    let mut out = Vec::new();
    let ifd0 = u32_at(tiff, 4, le).ok_or("EXIF truncated")? as usize;
    let mut exif_ifd = None;
    walk(tiff, ifd0, le, &mut |tag, ty, count, value_at| match tag {
        0x8769 => exif_ifd = u32_at(tiff, value_at, le).map(|v| v as usize),
        0x010E if ty == 2 => {
            if let Some(l) = text_value(tiff, value_at, count, le, false) {
                out.push(ExifLabel { tag: "ImageDescription", text: l.0, range: l.1 });
            }
        }
        _ => {}
    })?;
    if let Some(at) = exif_ifd {
        walk(tiff, at, le, &mut |tag, ty, count, value_at| {
            if tag == 0x9286 && (ty == 7 || ty == 2) {
                if let Some(l) = text_value(tiff, value_at, count, le, true) {
                    out.push(ExifLabel { tag: "UserComment", text: l.0, range: l.1 });
                }
            }
        })?;
    }
    out.retain(|l| super::is_label_text(&l.text));
    Ok(out)
}

/// Visits the entries of one IFD: (tag, type, count, offset of the value or value field).
fn walk(
    tiff: &[u8],
    at: usize,
    le: bool,
    visit: &mut dyn FnMut(u16, u16, usize, usize),
) -> Result<(), String> {
    let n = usize::from(u16_at(tiff, at, le).ok_or("EXIF IFD out of range")?);
    if n > MAX_ENTRIES {
        return Err("EXIF IFD has too many entries".into());
    }
    for i in 0..n {
        let e = at + 2 + 12 * i;
        let (Some(tag), Some(ty), Some(count)) =
            (u16_at(tiff, e, le), u16_at(tiff, e + 2, le), u32_at(tiff, e + 4, le))
        else {
            return Err("EXIF IFD entry truncated".into());
        };
        let count = count as usize;
        let size = match ty {
            1 | 2 | 6 | 7 => count,
            3 | 8 => count.saturating_mul(2),
            4 | 9 | 11 => count.saturating_mul(4),
            _ => count.saturating_mul(8),
        };
        let value_at = if size <= 4 {
            e + 8
        } else {
            u32_at(tiff, e + 8, le).ok_or("EXIF IFD entry truncated")? as usize
        };
        visit(tag, ty, count, value_at);
    }
    Ok(())
}

fn text_value(
    tiff: &[u8],
    at: usize,
    count: usize,
    le: bool,
    user_comment: bool,
) -> Option<(String, Range<usize>)> {
    let end = at.checked_add(count)?;
    let raw = tiff.get(at..end)?;
    if !user_comment {
        let text = String::from_utf8_lossy(raw).trim_end_matches('\0').to_owned();
        return Some((text, at..end));
    }
    let (charset, body) = (raw.get(..8)?, raw.get(8..)?);
    let text = if charset.starts_with(b"UNICODE") {
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    Some((text.trim_end_matches(['\0', ' ']).to_owned(), at + 8..end))
}

/// Blanks a label value in place (spaces; the structure and sizes are unchanged).
pub(crate) fn blank(tiff: &mut [u8], label: &ExifLabel) {
    if let Some(v) = tiff.get_mut(label.range.clone()) {
        v.fill(b' ');
        if label.tag == "ImageDescription" {
            if let Some(last) = v.last_mut() {
                *last = 0;
            }
        }
    }
    if label.tag == "UserComment" {
        if let Some(cs) = label.range.start.checked_sub(8).and_then(|s| tiff.get_mut(s..s + 8)) {
            cs.copy_from_slice(b"ASCII\0\0\0");
        }
    }
}
