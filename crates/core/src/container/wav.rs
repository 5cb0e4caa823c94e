//! WAV: label in a top-level RIFF chunk `AIGC` holding the bare JSON object (TC260 audio
//! guide); IPTC digital source type and provenance manifest in an XMP `_PMX` chunk (the XMP
//! specification's WAV placement). An `AIGC` sub-chunk of `LIST/INFO` (one public
//! implementation writes both) is read and, when we write, removed: one label per file.
//!
//! Binding: the `fmt ` and `data` chunks in file order.

use super::riff::{self, Chunk};
use super::{add_label, add_xmp, carrier, merge_xmp, Marks, MediaHasher};
use crate::manifest::{C2paStore, MetadataReport};
use crate::{Error, Result};

fn chunks(b: &[u8]) -> Result<Vec<Chunk>> {
    riff::chunks(b, b"WAVE", "WAV")
}

pub(crate) fn media_hash(b: &[u8]) -> Result<[u8; 32]> {
    hash_with(b, |h, c| {
        h.part(&c.id, &b[c.data.clone()]);
        Ok(())
    })
}

/// The media hash of `b` with the `data` chunk's part added by `data` (for a file whose
/// audio bytes are streamed rather than in `b`).
pub(crate) fn hash_with(
    b: &[u8],
    mut data: impl FnMut(&mut MediaHasher, &Chunk) -> Result<()>,
) -> Result<[u8; 32]> {
    let mut h = MediaHasher::new("wav");
    let mut saw_data = false;
    for c in chunks(b)? {
        if &c.id == b"fmt " {
            h.part(&c.id, &b[c.data]);
        } else if &c.id == b"data" {
            saw_data = true;
            data(&mut h, &c)?;
        }
    }
    if !saw_data {
        return Err(Error::decode("WAV", "no `data` chunk"));
    }
    Ok(h.finish())
}

fn text(d: &[u8]) -> String {
    String::from_utf8_lossy(d).trim_end_matches('\0').to_owned()
}

fn info_list(b: &[u8], c: &Chunk) -> Option<Vec<Chunk>> {
    let d = &b[c.data.clone()];
    if &c.id != b"LIST" || !d.starts_with(b"INFO") {
        return None;
    }
    riff::chunk_list(b, c.data.start + 4, c.data.end, "WAV LIST/INFO").ok()
}

pub(crate) fn read(b: &[u8], report: &mut MetadataReport) -> Result<()> {
    for c in chunks(b)? {
        let d = &b[c.data.clone()];
        let at = c.raw.start;
        match &c.id {
            b"AIGC" => add_label(report, text(d), carrier("wav AIGC chunk", at), Vec::new()),
            b"_PMX" | b"XMP " => add_xmp(report, d, &carrier("wav _PMX XMP chunk", at)),
            b"C2PA" => {
                report.c2pa.push(C2paStore { carrier: carrier("riff C2PA", at), len: d.len() })
            }
            b"LIST" => {
                for s in info_list(b, &c).unwrap_or_default() {
                    if s.id.eq_ignore_ascii_case(b"AIGC") {
                        add_label(
                            report,
                            text(&b[s.data.clone()]),
                            carrier("wav LIST/INFO AIGC", s.raw.start),
                            Vec::new(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn write(b: &[u8], marks: &Marks<'_>) -> Result<Vec<u8>> {
    let list = chunks(b)?;
    let first_xmp = list.iter().position(|c| &c.id == b"_PMX");
    let packet = merge_xmp(first_xmp.map(|i| &b[list[i].data.clone()]), &marks.xmp_props(None))?;
    let json = marks.label.to_json();
    // New chunks go at the end, but before a C2PA store.
    let insert_at = list.iter().position(|c| &c.id == b"C2PA").unwrap_or(list.len());
    let mut body = Vec::with_capacity(b.len() + packet.len() + json.len() + 64);
    for (i, c) in list.iter().enumerate() {
        if i == insert_at {
            riff::push_chunk(&mut body, b"AIGC", json.as_bytes())?;
            riff::push_chunk(&mut body, b"_PMX", packet.as_bytes())?;
        }
        match &c.id {
            b"AIGC" => {}
            // Rewritten, not copied: a truncated file's header states more bytes than its
            // `data` chunk holds, and a copied header would swallow the chunks after it.
            b"data" => riff::push_chunk(&mut body, b"data", &b[c.data.clone()])?,
            b"_PMX" if Some(i) == first_xmp => {}
            b"_PMX" => riff::push_chunk(
                &mut body,
                b"_PMX",
                super::strip_xmp(&b[c.data.clone()])?.as_bytes(),
            )?,
            b"LIST" => match info_list(b, c) {
                Some(subs) if subs.iter().any(|s| s.id.eq_ignore_ascii_case(b"AIGC")) => {
                    let mut list_body = b"INFO".to_vec();
                    for s in subs.iter().filter(|s| !s.id.eq_ignore_ascii_case(b"AIGC")) {
                        riff::copy_chunk(&mut list_body, b, s);
                    }
                    if list_body.len() > 4 {
                        riff::push_chunk(&mut body, b"LIST", &list_body)?;
                    }
                }
                _ => riff::copy_chunk(&mut body, b, c),
            },
            _ => riff::copy_chunk(&mut body, b, c),
        }
    }
    if insert_at == list.len() {
        riff::push_chunk(&mut body, b"AIGC", json.as_bytes())?;
        riff::push_chunk(&mut body, b"_PMX", packet.as_bytes())?;
    }
    riff::finish(b"WAVE", &body)
}
