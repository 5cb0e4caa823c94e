//! Exports: the log as C2SP `tlog-tiles` static files (<https://c2sp.org/tlog-tiles>) and
//! as JSON Lines.
//!
//! The tile tree has height 8: a tile at level `L` holds up to 256 hashes of Merkle level
//! `8L`, read straight from the stored hashes (level-0 tiles are leaf hashes; a level-`L`
//! hash is the root of a complete subtree of `2^(8L)` leaves). Entry bundles hold the
//! records, each prefixed by its big-endian 16-bit length. Partial tiles are written
//! for the tree size being exported, and the checkpoint is written last, so a reader that
//! sees a checkpoint finds every tile it needs.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::checkpoint::Checkpoint;
use crate::ledger::{Ledger, SCAN_CHUNK};
use crate::merkle::{self, NodeId};
use crate::record::Record;
use crate::{Error, Result};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;

/// The path element of tile index `n`: groups of three digits, all but the last prefixed
/// with `x` (1234067 → `x001/x234/067`).
#[must_use]
pub fn tile_index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The path of a tile: `tile/<level>/<N>` or, for a partial tile of `width` < 256,
/// `tile/<level>/<N>.p/<width>`. `level` is `None` for entry bundles (`tile/entries/…`).
#[must_use]
pub fn tile_path(level: Option<u8>, n: u64, width: u64) -> String {
    let l = level.map_or_else(|| "entries".to_owned(), |l| l.to_string());
    let base = format!("tile/{l}/{}", tile_index_path(n));
    if width == TILE_WIDTH {
        base
    } else {
        format!("{base}.p/{width}")
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileExport {
    /// Tree size exported.
    pub size: u64,
    /// Hash tiles written.
    pub hash_tiles: u64,
    /// Entry bundles written.
    pub entry_bundles: u64,
}

fn io_err(path: &Path, e: &std::io::Error) -> Error {
    Error::Storage { backend: "files", reason: format!("`{}`: {e}", path.display()) }
}

/// Writes a file atomically (temporary file, fsync, rename).
fn write_file(dir: &Path, rel: &str, data: &[u8]) -> Result<()> {
    let path: PathBuf = dir.join(rel);
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, &e))?;
    let tmp = path.with_extension("tmp-provmark");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, &e))?;
    f.write_all(data).map_err(|e| io_err(&tmp, &e))?;
    f.sync_all().map_err(|e| io_err(&tmp, &e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, &e))
}

impl Ledger {
    /// Exports the tree of `checkpoint.size()` records as tiles under `dir`, with the
    /// checkpoint at `dir/checkpoint`.
    ///
    /// # Errors
    /// [`Error::Storage`] on read or write failure; [`Error::Integrity`] if the checkpoint
    /// does not match the log.
    pub fn export_tiles(&mut self, dir: &Path, checkpoint: &Checkpoint) -> Result<TileExport> {
        let size = checkpoint.size();
        if &self.root(size)? != checkpoint.root() {
            return Err(Error::integrity("the checkpoint's root is not the log's"));
        }
        let mut out = TileExport { size, ..TileExport::default() };
        // Hash tiles, level by level.
        for level in 0u8.. {
            let height = u32::from(level) * 8;
            if height >= 64 {
                break;
            }
            let count = size >> height;
            if count == 0 {
                break;
            }
            let mut n = 0u64;
            while n * TILE_WIDTH < count {
                let width = (count - n * TILE_WIDTH).min(TILE_WIDTH);
                let ids: Vec<u64> = (0..width)
                    .map(|k| NodeId::new(level * 8, n * TILE_WIDTH + k).stored_index())
                    .collect();
                let hashes = self.store_mut().stored_hashes(&ids)?;
                let data: Vec<u8> = hashes.concat();
                write_file(dir, &tile_path(Some(level), n, width), &data)?;
                out.hash_tiles += 1;
                n += 1;
            }
        }
        // Entry bundles.
        let mut n = 0u64;
        while n * TILE_WIDTH < size {
            let start = n * TILE_WIDTH;
            let end = (start + TILE_WIDTH).min(size);
            let records = self.store_mut().records(start, end)?;
            if records.len() as u64 != end - start {
                return Err(Error::integrity(format!("records {start}..{end} are missing")));
            }
            let mut data = Vec::with_capacity(records.iter().map(|r| r.len() + 2).sum());
            for r in &records {
                let len = u16::try_from(r.len())
                    .map_err(|_| Error::integrity("record longer than 65535 bytes"))?;
                data.extend_from_slice(&len.to_be_bytes());
                data.extend_from_slice(r);
            }
            write_file(dir, &tile_path(None, n, end - start), &data)?;
            out.entry_bundles += 1;
            n += 1;
        }
        write_file(dir, "checkpoint", checkpoint.note().as_bytes())?;
        Ok(out)
    }

    /// Writes the log as JSON Lines, one object per record: `index`, `leaf_hash` (hex),
    /// `record` (base64 of the canonical bytes) and the decoded fields.
    ///
    /// # Errors
    /// [`Error::Storage`] on read or write failure; [`Error::Record`] for a bad record.
    pub fn export_jsonl(&mut self, out: &mut dyn Write) -> Result<u64> {
        let size = self.size()?;
        let mut start = 0u64;
        while start < size {
            let end = (start + SCAN_CHUNK).min(size);
            let records = self.store_mut().records(start, end)?;
            for (i, bytes) in (start..).zip(&records) {
                let r = Record::decode(bytes)?;
                let line = serde_json::json!({
                    "index": i,
                    "leaf_hash": hex::encode(merkle::leaf_hash(bytes)),
                    "record": B64.encode(bytes),
                    "content_id": r.content_id.to_string(),
                    "kind": r.kind.as_str(),
                    "producer_code": r.producer_code.as_str(),
                    "key_id": r.key_id.to_string(),
                    "model": r.model,
                    "created_unix": r.created_unix,
                    "media_sha256": hex::encode(r.media_sha256),
                    "fingerprint": r.fingerprint.map(|f| hex::encode(f.0)),
                    "watermark_algorithm": r.watermark_algorithm,
                    "watermark_version": r.watermark_version,
                    "visible_label": r.visible_label.bits(),
                    "batch_id": r.batch_id,
                });
                writeln!(out, "{line}")
                    .map_err(|e| Error::Storage { backend: "files", reason: e.to_string() })?;
            }
            start = end;
        }
        Ok(size)
    }
}
