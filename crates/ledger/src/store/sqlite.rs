//! The SQLite store: the embedded default. One file, WAL journal, `synchronous=FULL`, so
//! a batch reported committed survives a process kill and a power loss.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};

use super::{
    hamming, has_media_hash, id_from_sql, id_to_sql, index_from_sql, index_to_sql, media_key,
    plan_append, read_frontier, to_hash, IndexRow, LogStore,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::{Error, Result};

const BACKEND: &str = "sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL UNIQUE,
    media_key INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_media_key ON records (media_key);
CREATE TABLE IF NOT EXISTS fingerprints (idx INTEGER PRIMARY KEY, fp BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (i INTEGER PRIMARY KEY, h BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
";

fn err(e: rusqlite::Error) -> Error {
    Error::Storage { backend: BACKEND, reason: e.to_string() }
}

/// A log in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the log at `path`; the parent directory must exist.
    ///
    /// # Errors
    /// [`Error::Storage`] if the file cannot be opened or is not a provmark ledger.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "page_size", 4096).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        // A 64 MiB WAL before each automatic checkpoint: index pages dirtied by several
        // batches are copied into the database once, not once per batch.
        conn.pragma_update(None, "wal_autocheckpoint", 16000).map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "cache_size", -65536).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self { conn })
    }

    fn size_in(conn: &Connection) -> Result<u64> {
        let max: Option<i64> =
            conn.query_row("SELECT MAX(idx) FROM records", [], |r| r.get(0)).map_err(err)?;
        max.map_or(Ok(0), |m| index_from_sql(BACKEND, m).map(|m| m + 1))
    }
}

/// Reads stored hashes through any connection (also inside a transaction).
fn hashes_in(conn: &Connection, indexes: &[u64]) -> Result<Vec<Hash>> {
    let mut stmt = conn.prepare_cached("SELECT h FROM hashes WHERE i = ?1").map_err(err)?;
    indexes
        .iter()
        .map(|&i| {
            let h: Option<Vec<u8>> = stmt
                .query_row([index_to_sql(BACKEND, i)?], |r| r.get(0))
                .optional()
                .map_err(err)?;
            let h = h.ok_or_else(|| Error::integrity(format!("stored hash {i} is missing")))?;
            to_hash(BACKEND, &h)
        })
        .collect()
}

/// Marker reason for a unique-constraint failure on the optimistic path.
const DUPLICATE: &str = "duplicate content ID";

impl SqliteStore {
    /// One append transaction; `check_existing` looks every content ID up first.
    fn append_tx(&mut self, records: &[Vec<u8>], check_existing: bool) -> Result<Vec<u64>> {
        // IMMEDIATE takes the write lock up front, so the size read below cannot go stale.
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let size = Self::size_in(&tx)?;
        let frontier = read_frontier(size, |ids| hashes_in(&tx, ids))?;
        let plan = {
            let mut find =
                tx.prepare_cached("SELECT idx FROM records WHERE content_id = ?1").map_err(err)?;
            plan_append(size, &frontier, records, |id| {
                if !check_existing {
                    return Ok(None);
                }
                let i: Option<i64> =
                    find.query_row([id_to_sql(id)], |r| r.get(0)).optional().map_err(err)?;
                i.map(|i| index_from_sql(BACKEND, i)).transpose()
            })?
        };
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO records (idx, content_id, media_key, record) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            let mut ins_fp = tx
                .prepare_cached("INSERT INTO fingerprints (idx, fp) VALUES (?1, ?2)")
                .map_err(err)?;
            for r in &plan.new_records {
                let idx = index_to_sql(BACKEND, r.index)?;
                let key = id_to_sql(media_key(&r.media_sha256));
                match ins.execute(params![idx, id_to_sql(r.content_id), key, r.bytes]) {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if !check_existing
                            && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                    {
                        // Dropping `tx` rolls the batch back.
                        return Err(Error::Storage { backend: BACKEND, reason: DUPLICATE.into() });
                    }
                    Err(e) => return Err(err(e)),
                }
                if let Some(fp) = &r.fingerprint {
                    ins_fp.execute(params![idx, &fp[..]]).map_err(err)?;
                }
            }
            let mut ins_h =
                tx.prepare_cached("INSERT INTO hashes (i, h) VALUES (?1, ?2)").map_err(err)?;
            for (k, h) in plan.new_hashes.iter().enumerate() {
                let i = index_to_sql(BACKEND, plan.first_hash_index + k as u64)?;
                ins_h.execute(params![i, &h[..]]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(plan.indexes)
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
        // Optimistic first: assume no content ID is already logged (the common case) and
        // let the unique index object if one is; then redo the batch checking each ID.
        // This saves one index lookup per record on the fast path.
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
        let mut stmt = self
            .conn
            .prepare_cached("SELECT h FROM hashes WHERE i >= ?1 AND i < ?2 ORDER BY i")
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .map_err(err)?;
        rows.map(|r| r.map_err(err).and_then(|h| to_hash(BACKEND, &h))).collect()
    }

    fn stored_hash_count(&mut self) -> Result<u64> {
        let n: i64 =
            self.conn.query_row("SELECT COUNT(*) FROM hashes", [], |r| r.get(0)).map_err(err)?;
        index_from_sql(BACKEND, n)
    }

    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.idx, r.content_id, r.media_key, f.fp FROM records r \
                 LEFT JOIN fingerprints f ON f.idx = r.idx \
                 WHERE r.idx >= ?1 AND r.idx < ?2 ORDER BY r.idx",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, id, sha, fp) = row.map_err(err)?;
            out.push(IndexRow {
                index: index_from_sql(BACKEND, idx)?,
                content_id: id_from_sql(id),
                media_key: id_from_sql(sha),
                fingerprint: fp.map(|f| to_hash(BACKEND, &f)).transpose()?,
            });
        }
        Ok(out)
    }

    fn orphan_rows(&mut self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM fingerprints f WHERE NOT EXISTS \
                 (SELECT 1 FROM records r WHERE r.idx = f.idx)",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        index_from_sql(BACKEND, n)
    }

    fn find_content_id(&mut self, content_id: u64) -> Result<Option<u64>> {
        let i: Option<i64> = self
            .conn
            .prepare_cached("SELECT idx FROM records WHERE content_id = ?1")
            .map_err(err)?
            .query_row([id_to_sql(content_id)], |r| r.get(0))
            .optional()
            .map_err(err)?;
        i.map(|i| index_from_sql(BACKEND, i)).transpose()
    }

    fn find_media_sha256(&mut self, sha256: &Hash) -> Result<Vec<u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT idx, record FROM records WHERE media_key = ?1 ORDER BY idx")
            .map_err(err)?;
        let rows = stmt
            .query_map([id_to_sql(media_key(sha256))], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (i, record) = row.map_err(err)?;
            if has_media_hash(&record, sha256) {
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
        let mut stmt = self.conn.prepare_cached("SELECT idx, fp FROM fingerprints").map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut best: Option<(u32, i64)> = None;
        while let Some(row) = rows.next().map_err(err)? {
            let fp = row
                .get_ref(1)
                .map_err(err)?
                .as_blob()
                .map_err(|e| Error::Storage { backend: BACKEND, reason: e.to_string() })?;
            let d = hamming(fingerprint, fp);
            if d <= max_distance {
                let idx: i64 = row.get(0).map_err(err)?;
                if best.is_none_or(|b| (d, idx) < b) {
                    best = Some((d, idx));
                }
            }
        }
        best.map(|(d, i)| index_from_sql(BACKEND, i).map(|i| (i, d))).transpose()
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
