//! The SQLite store: the embedded default. One file, WAL journal, `synchronous=FULL`, so
//! a batch reported committed survives a process kill and a power loss.
//!
//! # Layout (schema 2) and why
//!
//! Every table is written in key order where it can be, because an append that dirties a
//! page rewrites that page into the WAL at commit, and once more into the database:
//!
//! * `records (idx INTEGER PRIMARY KEY, content_id, media_key, record)`: rowid = index, so
//!   a batch appends to the right edge of one B-tree. The two key columns carry no index.
//! * `hash_tiles (tile INTEGER PRIMARY KEY, hashes)`: [`HASH_TILE`] stored hashes per row;
//!   an append rewrites the last tile and adds new ones.
//! * lookups by content ID and media key in two levels (a small log-structured merge):
//!   `ids_new`/`media_new` (B-trees) take the records from index `lsm_from` on; when they
//!   reach [`LOOKUP_MERGE`] entries or an eighth of the log they are merged into `ids`/
//!   `media`, sorted runs of `(key, index)` pairs packed 120 to a row (`runs.rs`), in one
//!   sequential rewrite. Random keys then dirty the pages of a small table per batch, not
//!   every leaf of an index as large as the log, and no entry is ever inserted into a
//!   large B-tree one by one.
//! * `fp_tiles (tile INTEGER PRIMARY KEY, fps)`: the fingerprints packed
//!   [`mih::FP_TILE`] to a row, for scans at 30 ns a fingerprint (a row per record
//!   costs ~260 ns to step through);
//! * `fp_segments`, `fp_rows`: the fingerprint index ([`super::mih`]), built in key
//!   order per segment.
//!
//! A schema-1 file (made before this layout) is migrated in one transaction on open.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension as _, Transaction, TransactionBehavior};

use super::mih::{self, Segment};
use super::{
    has_media_hash, hashes_from_tiles, id_from_sql, id_to_sql, index_from_sql, index_to_sql,
    media_key, plan_append, read_frontier, tiles_to_write, IndexRow, LogStore, HASH_TILE,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::record::indexed_fields;
use crate::{Error, Result};

mod migrate;
mod runs;

const BACKEND: &str = "sqlite";

/// Entries in the second level of the lookup indexes before a merge (at least; an eighth
/// of the log once that is more).
pub const LOOKUP_MERGE: u64 = 1 << 17;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL,
    media_key INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS hash_tiles (tile INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ids (tile INTEGER PRIMARY KEY, first INTEGER NOT NULL, entries BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS ids_first ON ids (first);
CREATE TABLE IF NOT EXISTS media (tile INTEGER PRIMARY KEY, first INTEGER NOT NULL, entries BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS media_first ON media (first);
CREATE TABLE IF NOT EXISTS ids_new (content_id INTEGER PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS media_new (
    media_key INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (media_key, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fp_tiles (tile INTEGER PRIMARY KEY, fps BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS fp_segments (
    start INTEGER PRIMARY KEY, end INTEGER NOT NULL, bits INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fp_rows (
    seg INTEGER NOT NULL, part INTEGER NOT NULL, grp INTEGER NOT NULL, postings BLOB NOT NULL,
    PRIMARY KEY (seg, part, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 2), ('lsm_from', 0);
";

fn err(e: rusqlite::Error) -> Error {
    Error::Storage { backend: BACKEND, reason: e.to_string() }
}

/// A log in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    segment: u64,
    lookup_merge: u64,
}

impl SqliteStore {
    /// Opens (creating if needed) the log at `path`; the parent directory must exist. A
    /// log written by an earlier provmark (schema 1) is migrated in one transaction.
    ///
    /// # Errors
    /// [`Error::Storage`] if the file cannot be opened or is not a provmark ledger.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "page_size", 4096).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        // A 64 MiB WAL before each automatic checkpoint: pages dirtied by several batches
        // are copied into the database once, not once per batch.
        conn.pragma_update(None, "wal_autocheckpoint", 16000).map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "cache_size", -131_072).map_err(err)?;
        let mut store = Self { conn, segment: mih::DEFAULT_SEGMENT, lookup_merge: LOOKUP_MERGE };
        let v1: bool = store
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hashes')",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if v1 {
            migrate::from_v1(&mut store)?;
        } else {
            store.conn.execute_batch(SCHEMA).map_err(err)?;
        }
        Ok(store)
    }

    /// Sets the records per new fingerprint-index segment (default
    /// [`mih::DEFAULT_SEGMENT`]) and the second-level size of the lookup indexes that
    /// triggers a merge (default [`LOOKUP_MERGE`]). Small values exercise segment builds
    /// and merges in tests; the log stays valid under any values, across reopenings.
    pub fn set_index_sizes(&mut self, fingerprint_segment: u64, lookup_merge: u64) {
        self.segment = fingerprint_segment.clamp(1, mih::MAX_SEGMENT);
        self.lookup_merge = lookup_merge.max(1);
    }

    fn size_in(conn: &Connection) -> Result<u64> {
        let max: Option<i64> =
            conn.query_row("SELECT MAX(idx) FROM records", [], |r| r.get(0)).map_err(err)?;
        max.map_or(Ok(0), |m| index_from_sql(BACKEND, m).map(|m| m + 1))
    }
}

fn meta(conn: &Connection, key: &str) -> Result<u64> {
    let v: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .map_err(err)?;
    index_from_sql(BACKEND, v)
}

/// Reads stored hashes through any connection (also inside a transaction).
fn hashes_in(conn: &Connection, indexes: &[u64]) -> Result<Vec<Hash>> {
    let mut stmt =
        conn.prepare_cached("SELECT hashes FROM hash_tiles WHERE tile = ?1").map_err(err)?;
    let mut cache: Option<(u64, Vec<u8>)> = None;
    indexes
        .iter()
        .map(|&i| {
            let tile = i / HASH_TILE;
            if cache.as_ref().is_none_or(|(t, _)| *t != tile) {
                let b: Option<Vec<u8>> = stmt
                    .query_row([index_to_sql(BACKEND, tile)?], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
                cache = Some((tile, b.unwrap_or_default()));
            }
            let off = ((i % HASH_TILE) * 32) as usize;
            cache
                .as_ref()
                .and_then(|(_, b)| b.get(off..off + 32))
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| Error::integrity(format!("stored hash {i} is missing")))
        })
        .collect()
}

fn tile_range(conn: &Connection, start: u64, end: u64) -> Result<Vec<Hash>> {
    if start >= end {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT tile, hashes FROM hash_tiles WHERE tile >= ?1 AND tile <= ?2 ORDER BY tile",
        )
        .map_err(err)?;
    let last = (end - 1) / HASH_TILE;
    let rows = stmt
        .query_map([index_to_sql(BACKEND, start / HASH_TILE)?, index_to_sql(BACKEND, last)?], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(err)?;
    let tiles = rows
        .map(|r| r.map_err(err).and_then(|(t, b)| Ok((index_from_sql(BACKEND, t)?, b))))
        .collect::<Result<Vec<_>>>()?;
    Ok(hashes_from_tiles(start, end, tiles))
}

fn segments_in(conn: &Connection) -> Result<Vec<Segment>> {
    let mut stmt = conn
        .prepare_cached("SELECT start, end, bits FROM fp_segments ORDER BY start")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        .map_err(err)?;
    rows.map(|r| {
        let (s, e, b) = r.map_err(err)?;
        Ok(Segment {
            start: index_from_sql(BACKEND, s)?,
            end: index_from_sql(BACKEND, e)?,
            bits: u32::try_from(b).unwrap_or(0),
        })
    })
    .collect()
}

/// `(index, fingerprint)` of the records `[start, end)` that have one.
fn fingerprints_range(conn: &Connection, start: u64, end: u64) -> Result<Vec<(u64, [u8; 32])>> {
    let mut stmt = conn
        .prepare_cached("SELECT idx, record FROM records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
        .map_err(err)?;
    let mut rows = stmt
        .query([index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?])
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let rec = row
            .get_ref(1)
            .map_err(err)?
            .as_blob()
            .map_err(|e| Error::Storage { backend: BACKEND, reason: e.to_string() })?;
        if let Some((_, _, Some(fp))) = indexed_fields(rec) {
            out.push((index_from_sql(BACKEND, row.get(0).map_err(err)?)?, fp));
        }
    }
    Ok(out)
}

/// Merges the second level of both lookup indexes into their sorted runs.
fn merge_lookups(conn: &Connection) -> Result<()> {
    for (run, new, key) in [("ids", "ids_new", "content_id"), ("media", "media_new", "media_key")] {
        let pairs: Vec<(i64, i64)> = {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {key}, idx FROM {new} ORDER BY {key}, idx"))
                .map_err(err)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        runs::merge(conn, run, &pairs)?;
        conn.execute(&format!("DELETE FROM {new}"), []).map_err(err)?;
    }
    Ok(())
}

/// Entries of a lookup index (run + second level) that disagree with the records' column
/// `col`: missing, surplus or different, plus one if the run is malformed.
fn index_mismatches(conn: &Connection, run: &str, new: &str, col: &str) -> Result<u64> {
    let (mut pairs, ok) = runs::all(conn, run)?;
    {
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {col}, idx FROM {new}")).map_err(err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
        for r in rows {
            pairs.push(r.map_err(err)?);
        }
    }
    let mut by_idx: Vec<(i64, i64)> = pairs.into_iter().map(|(k, i)| (i, k)).collect();
    by_idx.sort_unstable();
    let mut bad = u64::from(!ok);
    let mut stmt = conn
        .prepare_cached(&format!("SELECT idx, {col} FROM records ORDER BY idx"))
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut at = 0usize;
    while let Some(row) = rows.next().map_err(err)? {
        let rec: (i64, i64) = (row.get(0).map_err(err)?, row.get(1).map_err(err)?);
        while by_idx.get(at).is_some_and(|p| p.0 < rec.0) {
            bad += 1; // an entry for no record
            at += 1;
        }
        if by_idx.get(at) == Some(&rec) {
            at += 1;
        } else {
            bad += 1; // a record without its entry
        }
    }
    bad += (by_idx.len() - at.min(by_idx.len())) as u64;
    Ok(bad)
}

/// Appends the fingerprints of records `first..` to the packed tiles.
fn write_fp_tiles(conn: &Connection, first: u64, fps: &[Option<[u8; 32]>]) -> Result<()> {
    let partial: Vec<u8> = if first % mih::FP_TILE == 0 {
        Vec::new()
    } else {
        conn.query_row(
            "SELECT fps FROM fp_tiles WHERE tile = ?1",
            [index_to_sql(BACKEND, first / mih::FP_TILE)?],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?
        .unwrap_or_default()
    };
    if !mih::partial_tile_ok(first, &partial) {
        return Err(Error::integrity("the last fingerprint tile has the wrong length"));
    }
    let mut put = conn
        .prepare_cached("INSERT OR REPLACE INTO fp_tiles (tile, fps) VALUES (?1, ?2)")
        .map_err(err)?;
    for (tile, bytes) in mih::tiles_to_write(first, fps, partial) {
        put.execute(params![index_to_sql(BACKEND, tile)?, bytes]).map_err(err)?;
    }
    Ok(())
}

fn fp_tiles_in(conn: &Connection, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT tile, fps FROM fp_tiles WHERE tile >= ?1 AND tile <= ?2 ORDER BY tile",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(
            [index_to_sql(BACKEND, first)?, index_to_sql(BACKEND, last.min(i64::MAX as u64))?],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .map_err(err)?;
    rows.map(|r| r.map_err(err).and_then(|(t, b)| Ok((index_from_sql(BACKEND, t)?, b)))).collect()
}

/// Builds and drops fingerprint-index segments as [`mih::maintenance`] says.
fn maintain_segments(tx: &Transaction<'_>, size: u64, seg_size: u64) -> Result<()> {
    let current = segments_in(tx)?;
    let (drop, build) = mih::maintenance(&current, size, seg_size);
    for start in drop {
        let s = index_to_sql(BACKEND, start)?;
        tx.execute("DELETE FROM fp_rows WHERE seg = ?1", [s]).map_err(err)?;
        tx.execute("DELETE FROM fp_segments WHERE start = ?1", [s]).map_err(err)?;
    }
    let mut ins_seg = tx
        .prepare_cached("INSERT OR REPLACE INTO fp_segments (start, end, bits) VALUES (?1, ?2, ?3)")
        .map_err(err)?;
    let mut ins_row = tx
        .prepare_cached("INSERT INTO fp_rows (seg, part, grp, postings) VALUES (?1, ?2, ?3, ?4)")
        .map_err(err)?;
    for seg in build {
        let s = index_to_sql(BACKEND, seg.start)?;
        tx.execute("DELETE FROM fp_rows WHERE seg = ?1", [s]).map_err(err)?;
        // From the packed tiles (written before this): 32 bytes a record, not a row each.
        let mut fps = Vec::new();
        for (t, bytes) in fp_tiles_in(tx, seg.start / mih::FP_TILE, (seg.end - 1) / mih::FP_TILE)? {
            mih::tile_fingerprints(t, &bytes, seg.start, seg.end, &mut fps);
        }
        for (part, grp, blob) in mih::build(&seg, &fps) {
            ins_row.execute(params![s, part, grp, blob]).map_err(err)?;
        }
        ins_seg.execute(params![s, index_to_sql(BACKEND, seg.end)?, seg.bits]).map_err(err)?;
    }
    Ok(())
}

/// Marker reason for a primary-key failure on the optimistic path.
const DUPLICATE: &str = "duplicate content ID";

impl SqliteStore {
    /// One append transaction. With `check_new`, each content ID is looked up in both
    /// levels; without, only in the sorted run, and the second level's primary key
    /// objects to a duplicate there (the caller then retries with `check_new`).
    fn append_tx(&mut self, records: &[Vec<u8>], check_new: bool) -> Result<Vec<u64>> {
        // IMMEDIATE takes the write lock up front, so the size read below cannot go stale.
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let size = Self::size_in(&tx)?;
        let frontier = read_frontier(size, |ids| hashes_in(&tx, ids))?;
        let plan = {
            let mut find_new =
                tx.prepare_cached("SELECT idx FROM ids_new WHERE content_id = ?1").map_err(err)?;
            plan_append(size, &frontier, records, |id| {
                let k = id_to_sql(id);
                let mut i: Option<i64> = if check_new {
                    find_new.query_row([k], |r| r.get(0)).optional().map_err(err)?
                } else {
                    None
                };
                if i.is_none() {
                    i = runs::lookup_one(&tx, "ids", k)?;
                }
                i.map(|i| index_from_sql(BACKEND, i)).transpose()
            })?
        };
        if plan.new_records.is_empty() {
            tx.commit().map_err(err)?;
            return Ok(plan.indexes);
        }
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO records (idx, content_id, media_key, record) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            let mut ins_id = tx
                .prepare_cached("INSERT INTO ids_new (content_id, idx) VALUES (?1, ?2)")
                .map_err(err)?;
            let mut ins_media = tx
                .prepare_cached("INSERT INTO media_new (media_key, idx) VALUES (?1, ?2)")
                .map_err(err)?;
            for r in &plan.new_records {
                let idx = index_to_sql(BACKEND, r.index)?;
                let (id, key) = (id_to_sql(r.content_id), id_to_sql(media_key(&r.media_sha256)));
                ins.execute(params![idx, id, key, r.bytes]).map_err(err)?;
                match ins_id.execute(params![id, idx]) {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if !check_new
                            && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                    {
                        // Dropping `tx` rolls the batch back.
                        return Err(Error::Storage { backend: BACKEND, reason: DUPLICATE.into() });
                    }
                    Err(e) => return Err(err(e)),
                }
                ins_media.execute(params![key, idx]).map_err(err)?;
            }
            let partial: Vec<u8> = if plan.first_hash_index % HASH_TILE == 0 {
                Vec::new()
            } else {
                tx.query_row(
                    "SELECT hashes FROM hash_tiles WHERE tile = ?1",
                    [index_to_sql(BACKEND, plan.first_hash_index / HASH_TILE)?],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?
                .unwrap_or_default()
            };
            if partial.len() as u64 != (plan.first_hash_index % HASH_TILE) * 32 {
                return Err(Error::integrity("the last hash tile has the wrong length"));
            }
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO hash_tiles (tile, hashes) VALUES (?1, ?2)")
                .map_err(err)?;
            for (tile, bytes) in tiles_to_write(plan.first_hash_index, &plan.new_hashes, partial) {
                put.execute(params![index_to_sql(BACKEND, tile)?, bytes]).map_err(err)?;
            }
            let fps: Vec<Option<[u8; 32]>> =
                plan.new_records.iter().map(|r| r.fingerprint).collect();
            write_fp_tiles(&tx, size, &fps)?;
        }
        let lsm_from = meta(&tx, "lsm_from")?;
        if plan.new_size - lsm_from >= self.lookup_merge.max(plan.new_size / 8) {
            merge_lookups(&tx)?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'lsm_from'",
                [index_to_sql(BACKEND, plan.new_size)?],
            )
            .map_err(err)?;
        }
        maintain_segments(&tx, plan.new_size, self.segment)?;
        tx.commit().map_err(err)?;
        Ok(plan.indexes)
    }
}

impl mih::Source for SqliteStore {
    fn rows(&mut self, seg: &Segment, part: u32, groups: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT postings FROM fp_rows WHERE seg = ?1 AND part = ?2 AND grp = ?3",
            )
            .map_err(err)?;
        let s = index_to_sql(BACKEND, seg.start)?;
        let mut out = Vec::with_capacity(groups.len());
        for &g in groups {
            if let Some(b) = stmt
                .query_row(params![s, part, g], |r| r.get::<_, Vec<u8>>(0))
                .optional()
                .map_err(err)?
            {
                out.push((g, b));
            }
        }
        Ok(out)
    }

    fn fingerprints(&mut self, indexes: &[u64]) -> Result<Vec<(u64, [u8; 32])>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT record FROM records WHERE idx = ?1").map_err(err)?;
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let mut rows = stmt.query([index_to_sql(BACKEND, i)?]).map_err(err)?;
            if let Some(row) = rows.next().map_err(err)? {
                let rec = row
                    .get_ref(0)
                    .map_err(err)?
                    .as_blob()
                    .map_err(|e| Error::Storage { backend: BACKEND, reason: e.to_string() })?;
                if let Some((_, _, Some(fp))) = indexed_fields(rec) {
                    out.push((i, fp));
                }
            }
        }
        Ok(out)
    }

    fn tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        fp_tiles_in(&self.conn, first, last)
    }
}

impl LogStore for SqliteStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn size(&mut self) -> Result<u64> {
        Self::size_in(&self.conn)
    }

    fn append(&mut self, records: &[Vec<u8>]) -> Result<Vec<u64>> {
        // Optimistic first: a content ID already in the second level is rare (a re-run
        // pipeline), so let its primary key object instead of looking every ID up there.
        match self.append_tx(records, false) {
            Err(Error::Storage { reason, .. }) if reason == DUPLICATE => {
                self.append_tx(records, true)
            }
            other => other,
        }
    }

    fn records(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record FROM records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)
    }

    fn stored_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
        hashes_in(&self.conn, indexes)
    }

    fn stored_hash_range(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        tile_range(&self.conn, start, end)
    }

    fn stored_hash_count(&mut self) -> Result<u64> {
        let last: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT tile, length(hashes) FROM hash_tiles ORDER BY tile DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((tile, len)) = last else { return Ok(0) };
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM hash_tiles", [], |r| r.get(0))
            .map_err(err)?;
        // Every tile but the last is full; a gap or a short tile in the middle shows as a
        // count that does not match.
        let (tile, n) = (index_from_sql(BACKEND, tile)?, index_from_sql(BACKEND, n)?);
        if n != tile + 1 {
            return Ok(n.saturating_sub(1) * HASH_TILE + index_from_sql(BACKEND, len)? / 32);
        }
        Ok(tile * HASH_TILE + index_from_sql(BACKEND, len)? / 32)
    }

    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, content_id, media_key FROM records \
                 WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, id, sha) = row.map_err(err)?;
            out.push(IndexRow {
                index: index_from_sql(BACKEND, idx)?,
                content_id: id_from_sql(id),
                media_key: id_from_sql(sha),
            });
        }
        Ok(out)
    }

    fn orphan_rows(&mut self) -> Result<u64> {
        let orphans: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM fp_rows f WHERE NOT EXISTS \
                 (SELECT 1 FROM fp_segments s WHERE s.start = f.seg)",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        Ok(index_from_sql(BACKEND, orphans)?
            + index_mismatches(&self.conn, "ids", "ids_new", "content_id")?
            + index_mismatches(&self.conn, "media", "media_new", "media_key")?)
    }

    fn fingerprint_segments(&mut self) -> Result<Vec<Segment>> {
        segments_in(&self.conn)
    }

    fn fingerprint_tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        fp_tiles_in(&self.conn, first, last)
    }

    fn fingerprint_rows(&mut self, start: u64) -> Result<Vec<mih::PostingRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT part, grp, postings FROM fp_rows WHERE seg = ?1 ORDER BY part, grp",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([index_to_sql(BACKEND, start)?], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?))
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)
    }

    fn find_content_id(&mut self, content_id: u64) -> Result<Option<u64>> {
        let k = id_to_sql(content_id);
        let i: Option<i64> = self
            .conn
            .prepare_cached("SELECT idx FROM ids_new WHERE content_id = ?1")
            .map_err(err)?
            .query_row([k], |r| r.get(0))
            .optional()
            .map_err(err)?;
        let i = match i {
            Some(i) => Some(i),
            None => runs::lookup_one(&self.conn, "ids", k)?,
        };
        i.map(|i| index_from_sql(BACKEND, i)).transpose()
    }

    fn find_media_sha256(&mut self, sha256: &Hash) -> Result<Vec<u64>> {
        let key = id_to_sql(media_key(sha256));
        let mut idx = runs::lookup(&self.conn, "media", key)?;
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT idx FROM media_new WHERE media_key = ?1")
                .map_err(err)?;
            let rows = stmt.query_map([key], |r| r.get::<_, i64>(0)).map_err(err)?;
            for r in rows {
                idx.push(r.map_err(err)?);
            }
        }
        idx.sort_unstable();
        idx.dedup();
        let mut stmt =
            self.conn.prepare_cached("SELECT record FROM records WHERE idx = ?1").map_err(err)?;
        let mut out = Vec::new();
        for i in idx {
            let record: Option<Vec<u8>> =
                stmt.query_row([i], |r| r.get(0)).optional().map_err(err)?;
            if record.is_some_and(|r| has_media_hash(&r, sha256)) {
                out.push(index_from_sql(BACKEND, i)?);
            }
        }
        Ok(out)
    }

    fn nearest_fingerprint(
        &mut self,
        fingerprint: &[u8; 32],
        max_distance: u32,
    ) -> Result<Option<(u64, u32)>> {
        let segments = segments_in(&self.conn)?;
        let size = Self::size_in(&self.conn)?;
        let tail = segments.last().map_or(0, |s| s.end);
        mih::nearest(self, &segments, tail, size, fingerprint, max_distance)
    }

    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO checkpoints (size, note) VALUES (?1, ?2) ON CONFLICT (size) DO NOTHING",
                params![index_to_sql(BACKEND, checkpoint.size())?, checkpoint.note()],
            )
            .map_err(err)?;
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(err)?;
        row.map(|(s, n)| index_from_sql(BACKEND, s).map(|s| (s, n))).transpose()
    }

    fn checkpoint_at(&mut self, size: u64) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT note FROM checkpoints WHERE size = ?1",
                [index_to_sql(BACKEND, size)?],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>> {
        let mut stmt =
            self.conn.prepare("SELECT size, note FROM checkpoints ORDER BY size").map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        rows.map(|r| r.map_err(err).and_then(|(s, n)| index_from_sql(BACKEND, s).map(|s| (s, n))))
            .collect()
    }

    fn storage_bytes(&mut self) -> Result<Option<u64>> {
        // Checkpoint the WAL first so the main file holds everything.
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(err)?;
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(err)?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(err)?;
        Ok(Some(index_from_sql(BACKEND, pages.saturating_mul(size))?))
    }
}
