//! RIFF chunk lists (shared by WAV and WebP).

use std::ops::Range;

use super::le32;
use crate::{Error, Result};

/// Largest number of chunks in one list.
const MAX_CHUNKS: usize = 1 << 20;

pub(crate) struct Chunk {
    pub id: [u8; 4],
    /// Header, data and pad byte.
    pub raw: Range<usize>,
    pub data: Range<usize>,
}

/// Parses `RIFF <size> <form>` and its top-level chunks. A RIFF size that disagrees with
/// the file length is tolerated (the shorter wins); a chunk running past the end is an error,
/// except a final `data` chunk, which is clamped (streams written before their size).
pub(crate) fn chunks(b: &[u8], form: &[u8; 4], what: &'static str) -> Result<Vec<Chunk>> {
    if b.len() < 12 || !b.starts_with(b"RIFF") || &b[8..12] != form {
        return Err(Error::decode(what, "not a RIFF file of this form"));
    }
    let riff_end = (le32(b, 4).unwrap_or(0) as usize).saturating_add(8).min(b.len());
    chunk_list(b, 12, riff_end, what)
}

pub(crate) fn chunk_list(
    b: &[u8],
    mut at: usize,
    end: usize,
    what: &'static str,
) -> Result<Vec<Chunk>> {
    let mut out = Vec::new();
    while at + 8 <= end {
        if out.len() >= MAX_CHUNKS {
            return Err(Error::Limits {
                what: "RIFF chunks",
                actual: out.len() as u64,
                limit: MAX_CHUNKS as u64,
            });
        }
        let id: [u8; 4] = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let len = le32(b, at + 4).unwrap_or(0) as usize;
        let data_end = at + 8 + len;
        let data_end = if data_end > end {
            if &id == b"data" {
                end
            } else {
                return Err(Error::decode(
                    what,
                    format!("chunk `{}` runs past the end", String::from_utf8_lossy(&id)),
                ));
            }
        } else {
            data_end
        };
        let raw_end = (data_end + (len & 1)).min(end);
        out.push(Chunk { id, raw: at..raw_end, data: at + 8..data_end });
        at = raw_end;
    }
    Ok(out)
}

/// Appends a chunk (with pad byte for odd sizes).
pub(crate) fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], data: &[u8]) -> Result<()> {
    let len =
        u32::try_from(data.len()).map_err(|_| Error::encode("RIFF", "chunk larger than 4 GiB"))?;
    out.extend_from_slice(id);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Ok(())
}

/// Wraps chunk bytes into `RIFF <size> <form>`.
pub(crate) fn finish(form: &[u8; 4], body: &[u8]) -> Result<Vec<u8>> {
    let size = u32::try_from(body.len() + 4)
        .map_err(|_| Error::encode("RIFF", "file larger than 4 GiB"))?;
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(form);
    out.extend_from_slice(body);
    Ok(out)
}

/// Copies a chunk's bytes, adding a pad byte if the original lacked one (a truncated file).
pub(crate) fn copy_chunk(out: &mut Vec<u8>, b: &[u8], c: &Chunk) {
    out.extend_from_slice(&b[c.raw.clone()]);
    if (c.raw.end - c.raw.start) % 2 == 1 {
        out.push(0);
    }
}
