//! The PostgreSQL store: one log shared by many stamping machines.
//!
//! Sequencing happens in the database: an append locks the single `log_state` row
//! (`SELECT … FOR UPDATE`), reads the size and the frontier, inserts its records and
//! hashes with array parameters (three statements per batch, whatever its length) and
//! commits. Concurrent writers queue on that row lock, so the log stays one sequence and
//! every committed batch is complete. Commits use the server's default
//! `synchronous_commit = on`, so they are durable when `append` returns.
//!
//! Schema 2 keeps stored hashes as tiles of [`HASH_TILE`] per row (a row per hash cost a
//! 24-byte tuple header, a line pointer and an index entry for 32 bytes of hash) and the
//! fingerprints only inside the records, indexed by [`super::mih`] segments; a schema-1
//! log (`hashes` and `fingerprints` tables) is migrated when a writer connects.

use postgres::{Client, NoTls};

use super::mih::{self, Segment};
use super::{
    has_media_hash, hashes_from_tiles, id_from_sql, id_to_sql, index_from_sql, index_to_sql,
    media_key, plan_append, read_frontier, tiles_to_write, to_hash, IndexRow, LogStore, HASH_TILE,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::record::indexed_fields;
use crate::{Error, Result};

const BACKEND: &str = "postgres";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_state (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS records (
    idx BIGINT PRIMARY KEY WITH (fillfactor = 100),
    content_id BIGINT NOT NULL UNIQUE,
    media_key BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS records_media_key ON records (media_key);
CREATE TABLE IF NOT EXISTS hash_tiles (
    tile BIGINT PRIMARY KEY WITH (fillfactor = 100), hashes BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS fp_tiles (
    tile BIGINT PRIMARY KEY WITH (fillfactor = 100), fps BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS fp_segments (
    start BIGINT PRIMARY KEY, \"end\" BIGINT NOT NULL, bits INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fp_rows (
    seg BIGINT NOT NULL, part INTEGER NOT NULL, grp INTEGER NOT NULL, postings BYTEA NOT NULL,
    PRIMARY KEY (seg, part, grp)
);
CREATE TABLE IF NOT EXISTS checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL);
";

/// Schema 1 to 2: hashes into tiles (in the server), the fingerprint side table dropped
/// (the fingerprints are in the records); the segments are built afterwards.
const MIGRATE_V1: &str = "
INSERT INTO hash_tiles (tile, hashes)
  SELECT i / 256, string_agg(h, ''::bytea ORDER BY i) FROM hashes GROUP BY i / 256;
DROP TABLE hashes;
DROP TABLE IF EXISTS fingerprints;
";

/// Key of the advisory lock that serializes schema creation.
const SCHEMA_LOCK: i64 = 0x7072_6f76_6d61_726b;

fn err(e: postgres::Error) -> Error {
    Error::Storage { backend: BACKEND, reason: e.to_string() }
}

/// A log in a PostgreSQL database.
pub struct PostgresStore {
    client: Client,
    segment: u64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, no TLS) and
    /// creates the tables if missing, in the connection's default schema.
    ///
    /// # Errors
    /// [`Error::Storage`] if the server cannot be reached or the schema cannot be created.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_in_schema(url, None)
    }

    /// Like [`PostgresStore::connect`], but keeps the log in `schema` (created if
    /// missing), so one database can hold several logs. `schema` must be a plain SQL
    /// identifier (ASCII letters, digits, `_`).
    ///
    /// # Errors
    /// [`Error::Params`] for a bad schema name; [`Error::Storage`] as for `connect`.
    pub fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        let mut tx = client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).map_err(err)?;
        if let Some(schema) = schema {
            let ok = !schema.is_empty()
                && schema.len() < 60
                && schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !schema.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(Error::params("PostgreSQL schema name", schema.to_owned()));
            }
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
            ))
            .map_err(err)?;
        }
        let row = tx
            .query_one(
                "SELECT to_regclass('hashes') IS NOT NULL, to_regclass('hash_tiles') IS NULL",
                &[],
            )
            .map_err(err)?;
        let (v1, new_tiles): (bool, bool) = (row.get(0), row.get(1));
        tx.batch_execute(SCHEMA).map_err(err)?;
        if new_tiles {
            // Hashes do not compress: store the tiles out of line without trying. (Only
            // when the table is new: the ALTER locks the table against running appends.)
            tx.batch_execute(
                "ALTER TABLE hash_tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;
                 ALTER TABLE fp_tiles ALTER COLUMN fps SET STORAGE EXTERNAL;",
            )
            .map_err(err)?;
        }
        if v1 {
            tx.batch_execute(MIGRATE_V1).map_err(err)?;
            let size = index_from_sql(
                BACKEND,
                tx.query_one("SELECT size FROM log_state WHERE id = 1", &[]).map_err(err)?.get(0),
            )?;
            let mut at = 0;
            while at < size {
                let end = (at + 64 * mih::FP_TILE).min(size);
                let mut opts = vec![None; usize::try_from(end - at).unwrap_or(0)];
                for (i, fp) in fingerprints_range(&mut tx, at, end)? {
                    if let Some(slot) = opts.get_mut(usize::try_from(i - at).unwrap_or(usize::MAX))
                    {
                        *slot = Some(fp);
                    }
                }
                write_fp_tiles(&mut tx, at, &opts)?;
                at = end;
            }
            maintain_segments(&mut tx, size, mih::DEFAULT_SEGMENT)?;
        }
        tx.commit().map_err(err)?;
        if let Some(schema) = schema {
            client.batch_execute(&format!("SET search_path TO {schema}")).map_err(err)?;
        }
        Ok(Self { client, segment: mih::DEFAULT_SEGMENT })
    }

    /// Sets the records per new fingerprint-index segment (default
    /// [`mih::DEFAULT_SEGMENT`]); small values exercise segment builds and merges in
    /// tests. The log stays valid under any value, across writers.
    pub fn set_index_sizes(&mut self, fingerprint_segment: u64) {
        self.segment = fingerprint_segment.clamp(1, mih::MAX_SEGMENT);
    }
}

fn segments_in(client: &mut impl postgres::GenericClient) -> Result<Vec<Segment>> {
    let rows = client
        .query("SELECT start, \"end\", bits FROM fp_segments ORDER BY start", &[])
        .map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(Segment {
                start: index_from_sql(BACKEND, r.get(0))?,
                end: index_from_sql(BACKEND, r.get(1))?,
                bits: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
            })
        })
        .collect()
}

fn fingerprints_range(
    client: &mut impl postgres::GenericClient,
    start: u64,
    end: u64,
) -> Result<Vec<(u64, [u8; 32])>> {
    let (s, e) = range_args(start, end)?;
    let rows = client
        .query(
            "SELECT idx, record FROM records WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&s, &e],
        )
        .map_err(err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some((_, _, Some(fp))) = indexed_fields(r.get::<_, &[u8]>(1)) {
            out.push((index_from_sql(BACKEND, r.get(0))?, fp));
        }
    }
    Ok(out)
}

/// Appends the fingerprints of records `first..` to the packed tiles.
fn write_fp_tiles(
    tx: &mut postgres::Transaction<'_>,
    first: u64,
    fps: &[Option<[u8; 32]>],
) -> Result<()> {
    let partial = read_partial_tile(tx, "fp_tiles", "fps", first, mih::FP_TILE)?;
    if !mih::partial_tile_ok(first, &partial) {
        return Err(Error::integrity("the last fingerprint tile has the wrong length"));
    }
    upsert_tiles(tx, "fp_tiles", "fps", &mih::tiles_to_write(first, fps, partial))
}

/// The stored bytes of the tile that entry `first` falls in, if `first` is not the tile's
/// first entry (an append continues that tile); empty otherwise.
fn read_partial_tile(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    column: &str,
    first: u64,
    per_tile: u64,
) -> Result<Vec<u8>> {
    if first % per_tile == 0 {
        return Ok(Vec::new());
    }
    Ok(tx
        .query_opt(
            &format!("SELECT {column} FROM {table} WHERE tile = $1"),
            &[&index_to_sql(BACKEND, first / per_tile)?],
        )
        .map_err(err)?
        .map(|r| r.get(0))
        .unwrap_or_default())
}

/// Writes `tiles` (tile number, bytes), replacing a stored partial tile.
fn upsert_tiles(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    column: &str,
    tiles: &[(u64, Vec<u8>)],
) -> Result<()> {
    let ti: Vec<i64> =
        tiles.iter().map(|(t, _)| index_to_sql(BACKEND, *t)).collect::<Result<_>>()?;
    let tb: Vec<&[u8]> = tiles.iter().map(|(_, b)| b.as_slice()).collect();
    tx.execute(
        &format!(
            "INSERT INTO {table} (tile, {column}) SELECT * FROM UNNEST($1::bigint[], $2::bytea[]) \
             ON CONFLICT (tile) DO UPDATE SET {column} = EXCLUDED.{column}"
        ),
        &[&ti, &tb],
    )
    .map_err(err)?;
    Ok(())
}

fn fp_tiles_in(
    client: &mut impl postgres::GenericClient,
    first: u64,
    last: u64,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let rows = client
        .query(
            "SELECT tile, fps FROM fp_tiles WHERE tile >= $1 AND tile <= $2 ORDER BY tile",
            &[&index_to_sql(BACKEND, first)?, &index_to_sql(BACKEND, last.min(i64::MAX as u64))?],
        )
        .map_err(err)?;
    rows.iter().map(|r| Ok((index_from_sql(BACKEND, r.get(0))?, r.get(1)))).collect()
}

/// Builds and drops fingerprint-index segments as [`mih::maintenance`] says.
fn maintain_segments(tx: &mut postgres::Transaction<'_>, size: u64, seg_size: u64) -> Result<()> {
    let current = segments_in(tx)?;
    let (drop, build) = mih::maintenance(&current, size, seg_size);
    for start in drop {
        let s = index_to_sql(BACKEND, start)?;
        tx.execute("DELETE FROM fp_rows WHERE seg = $1", &[&s]).map_err(err)?;
        tx.execute("DELETE FROM fp_segments WHERE start = $1", &[&s]).map_err(err)?;
    }
    for seg in build {
        let s = index_to_sql(BACKEND, seg.start)?;
        tx.execute("DELETE FROM fp_rows WHERE seg = $1", &[&s]).map_err(err)?;
        tx.execute("DELETE FROM fp_segments WHERE start = $1", &[&s]).map_err(err)?;
        let fps = fingerprints_range(tx, seg.start, seg.end)?;
        let rows = mih::build(&seg, &fps);
        let parts: Vec<i32> = rows.iter().map(|r| i32::try_from(r.0).unwrap_or(i32::MAX)).collect();
        let grps: Vec<i32> = rows.iter().map(|r| i32::try_from(r.1).unwrap_or(i32::MAX)).collect();
        let blobs: Vec<&[u8]> = rows.iter().map(|r| r.2.as_slice()).collect();
        tx.execute(
            "INSERT INTO fp_rows (seg, part, grp, postings) \
             SELECT $1, * FROM UNNEST($2::int[], $3::int[], $4::bytea[])",
            &[&s, &parts, &grps, &blobs],
        )
        .map_err(err)?;
        let bits = i32::try_from(seg.bits).unwrap_or(0);
        tx.execute(
            "INSERT INTO fp_segments (start, \"end\", bits) VALUES ($1, $2, $3)",
            &[&s, &index_to_sql(BACKEND, seg.end)?, &bits],
        )
        .map_err(err)?;
    }
    Ok(())
}

fn hashes_in(client: &mut impl postgres::GenericClient, indexes: &[u64]) -> Result<Vec<Hash>> {
    let mut tiles: Vec<i64> =
        indexes.iter().map(|&i| index_to_sql(BACKEND, i / HASH_TILE)).collect::<Result<_>>()?;
    tiles.sort_unstable();
    tiles.dedup();
    let rows = client
        .query("SELECT tile, hashes FROM hash_tiles WHERE tile = ANY($1)", &[&tiles])
        .map_err(err)?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let t: i64 = row.get(0);
        let b: Vec<u8> = row.get(1);
        found.insert(index_from_sql(BACKEND, t)?, b);
    }
    indexes
        .iter()
        .map(|&i| {
            let off = ((i % HASH_TILE) * 32) as usize;
            found
                .get(&(i / HASH_TILE))
                .and_then(|b| b.get(off..off + 32))
                .map(|h| to_hash(BACKEND, h))
                .unwrap_or_else(|| Err(Error::integrity(format!("stored hash {i} is missing"))))
        })
        .collect()
}

fn range_args(start: u64, end: u64) -> Result<(i64, i64)> {
    Ok((index_to_sql(BACKEND, start)?, index_to_sql(BACKEND, end.min(i64::MAX as u64))?))
}

impl LogStore for PostgresStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn size(&mut self) -> Result<u64> {
        let row =
            self.client.query_one("SELECT size FROM log_state WHERE id = 1", &[]).map_err(err)?;
        index_from_sql(BACKEND, row.get(0))
    }

    fn append(&mut self, records: &[Vec<u8>]) -> Result<Vec<u64>> {
        let mut tx = self.client.transaction().map_err(err)?;
        let row =
            tx.query_one("SELECT size FROM log_state WHERE id = 1 FOR UPDATE", &[]).map_err(err)?;
        let size = index_from_sql(BACKEND, row.get(0))?;
        let frontier = read_frontier(size, |ids| hashes_in(&mut tx, ids))?;

        // Which content IDs are already there, in one query.
        let ids: Vec<i64> = records
            .iter()
            .filter_map(|r| crate::record::indexed_fields(r).map(|(id, _, _)| id_to_sql(id)))
            .collect();
        let rows = tx
            .query("SELECT content_id, idx FROM records WHERE content_id = ANY($1)", &[&ids])
            .map_err(err)?;
        let mut existing = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            existing.insert(id_from_sql(row.get(0)), index_from_sql(BACKEND, row.get(1))?);
        }
        let plan = plan_append(size, &frontier, records, |id| Ok(existing.get(&id).copied()))?;

        let mut idx = Vec::with_capacity(plan.new_records.len());
        let mut cid = Vec::with_capacity(plan.new_records.len());
        let mut sha: Vec<i64> = Vec::with_capacity(plan.new_records.len());
        let mut rec: Vec<&[u8]> = Vec::with_capacity(plan.new_records.len());
        for r in &plan.new_records {
            let i = index_to_sql(BACKEND, r.index)?;
            idx.push(i);
            cid.push(id_to_sql(r.content_id));
            sha.push(id_to_sql(media_key(&r.media_sha256)));
            rec.push(r.bytes);
        }
        if !idx.is_empty() {
            tx.execute(
                "INSERT INTO records (idx, content_id, media_key, record) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[])",
                &[&idx, &cid, &sha, &rec],
            )
            .map_err(err)?;
        }
        if !plan.new_hashes.is_empty() {
            let first = plan.first_hash_index;
            let partial = read_partial_tile(&mut tx, "hash_tiles", "hashes", first, HASH_TILE)?;
            if partial.len() as u64 != (first % HASH_TILE) * 32 {
                return Err(Error::integrity("the last hash tile has the wrong length"));
            }
            let tiles = tiles_to_write(first, &plan.new_hashes, partial);
            upsert_tiles(&mut tx, "hash_tiles", "hashes", &tiles)?;
        }
        if !plan.new_records.is_empty() {
            let fps: Vec<Option<[u8; 32]>> =
                plan.new_records.iter().map(|r| r.fingerprint).collect();
            write_fp_tiles(&mut tx, size, &fps)?;
            maintain_segments(&mut tx, plan.new_size, self.segment)?;
        }
        let new_size = index_to_sql(BACKEND, plan.new_size)?;
        tx.execute("UPDATE log_state SET size = $1 WHERE id = 1", &[&new_size]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(plan.indexes)
    }

    fn records(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let (s, e) = range_args(start, end)?;
        let rows = self
            .client
            .query(
                "SELECT record FROM records WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&s, &e],
            )
            .map_err(err)?;
        Ok(rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
    }

    fn stored_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
        hashes_in(&mut self.client, indexes)
    }

    fn stored_hash_range(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query(
                "SELECT tile, hashes FROM hash_tiles WHERE tile >= $1 AND tile <= $2 ORDER BY tile",
                &[
                    &index_to_sql(BACKEND, start / HASH_TILE)?,
                    &index_to_sql(BACKEND, (end - 1) / HASH_TILE)?,
                ],
            )
            .map_err(err)?;
        let tiles = rows
            .iter()
            .map(|r| Ok((index_from_sql(BACKEND, r.get(0))?, r.get::<_, Vec<u8>>(1))))
            .collect::<Result<Vec<_>>>()?;
        Ok(hashes_from_tiles(start, end, tiles))
    }

    fn stored_hash_count(&mut self) -> Result<u64> {
        let row = self
            .client
            .query_one(
                "SELECT COUNT(*), COALESCE(MAX(tile), -1), \
                   COALESCE((SELECT length(hashes) FROM hash_tiles ORDER BY tile DESC LIMIT 1), 0) \
                 FROM hash_tiles",
                &[],
            )
            .map_err(err)?;
        let (n, last, len): (i64, i64, i32) = (row.get(0), row.get(1), row.get(2));
        if n == 0 {
            return Ok(0);
        }
        // Every tile but the last is full; a gap shows as a count that does not match.
        let full = index_from_sql(BACKEND, n.min(last + 1) - 1)?;
        Ok(full * HASH_TILE + u64::try_from(len).unwrap_or(0) / 32)
    }

    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>> {
        let (s, e) = range_args(start, end)?;
        let rows = self
            .client
            .query(
                "SELECT idx, content_id, media_key FROM records \
                 WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&s, &e],
            )
            .map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(IndexRow {
                index: index_from_sql(BACKEND, row.get(0))?,
                content_id: id_from_sql(row.get(1)),
                media_key: id_from_sql(row.get(2)),
            });
        }
        Ok(out)
    }

    fn orphan_rows(&mut self) -> Result<u64> {
        let row = self
            .client
            .query_one(
                "SELECT COUNT(*) FROM fp_rows f WHERE NOT EXISTS \
                 (SELECT 1 FROM fp_segments s WHERE s.start = f.seg)",
                &[],
            )
            .map_err(err)?;
        index_from_sql(BACKEND, row.get(0))
    }

    fn find_content_id(&mut self, content_id: u64) -> Result<Option<u64>> {
        let row = self
            .client
            .query_opt("SELECT idx FROM records WHERE content_id = $1", &[&id_to_sql(content_id)])
            .map_err(err)?;
        row.map(|r| index_from_sql(BACKEND, r.get(0))).transpose()
    }

    fn find_media_sha256(&mut self, sha256: &Hash) -> Result<Vec<u64>> {
        let rows = self
            .client
            .query(
                "SELECT idx, record FROM records WHERE media_key = $1 ORDER BY idx",
                &[&id_to_sql(media_key(sha256))],
            )
            .map_err(err)?;
        rows.iter()
            .filter(|r| has_media_hash(r.get::<_, &[u8]>(1), sha256))
            .map(|r| index_from_sql(BACKEND, r.get(0)))
            .collect()
    }

    fn nearest_fingerprint(
        &mut self,
        fingerprint: &[u8; 32],
        max_distance: u32,
    ) -> Result<Option<(u64, u32)>> {
        let segments = segments_in(&mut self.client)?;
        let size = self.size()?;
        let tail = segments.last().map_or(0, |s| s.end);
        mih::nearest(self, &segments, tail, size, fingerprint, max_distance)
    }

    fn fingerprint_segments(&mut self) -> Result<Vec<Segment>> {
        segments_in(&mut self.client)
    }

    fn fingerprint_tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        fp_tiles_in(&mut self.client, first, last)
    }

    fn fingerprint_rows(&mut self, start: u64) -> Result<Vec<mih::PostingRow>> {
        let rows = self
            .client
            .query(
                "SELECT part, grp, postings FROM fp_rows WHERE seg = $1 ORDER BY part, grp",
                &[&index_to_sql(BACKEND, start)?],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    u32::try_from(r.get::<_, i32>(0)).unwrap_or(u32::MAX),
                    u32::try_from(r.get::<_, i32>(1)).unwrap_or(u32::MAX),
                    r.get(2),
                )
            })
            .collect())
    }

    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING",
                &[&index_to_sql(BACKEND, checkpoint.size())?, &checkpoint.note()],
            )
            .map_err(err)?;
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>> {
        let row = self
            .client
            .query_opt("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", &[])
            .map_err(err)?;
        row.map(|r| index_from_sql(BACKEND, r.get(0)).map(|s| (s, r.get(1)))).transpose()
    }

    fn checkpoint_at(&mut self, size: u64) -> Result<Option<String>> {
        let row = self
            .client
            .query_opt(
                "SELECT note FROM checkpoints WHERE size = $1",
                &[&index_to_sql(BACKEND, size)?],
            )
            .map_err(err)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>> {
        let rows = self
            .client
            .query("SELECT size, note FROM checkpoints ORDER BY size", &[])
            .map_err(err)?;
        rows.iter().map(|r| index_from_sql(BACKEND, r.get(0)).map(|s| (s, r.get(1)))).collect()
    }

    fn storage_bytes(&mut self) -> Result<Option<u64>> {
        let row = self
            .client
            .query_one(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                &[],
            )
            .map_err(err)?;
        index_from_sql(BACKEND, row.get(0)).map(Some)
    }
}

impl mih::Source for PostgresStore {
    fn rows(&mut self, seg: &Segment, part: u32, groups: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        let g: Vec<i32> = groups.iter().map(|&g| i32::try_from(g).unwrap_or(i32::MAX)).collect();
        let rows = self
            .client
            .query(
                "SELECT grp, postings FROM fp_rows WHERE seg = $1 AND part = $2 AND grp = ANY($3)",
                &[&index_to_sql(BACKEND, seg.start)?, &i32::try_from(part).unwrap_or(i32::MAX), &g],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| (u32::try_from(r.get::<_, i32>(0)).unwrap_or(u32::MAX), r.get(1)))
            .collect())
    }

    fn fingerprints(&mut self, indexes: &[u64]) -> Result<Vec<(u64, [u8; 32])>> {
        let ids: Vec<i64> =
            indexes.iter().map(|&i| index_to_sql(BACKEND, i)).collect::<Result<_>>()?;
        let rows = self
            .client
            .query("SELECT idx, record FROM records WHERE idx = ANY($1)", &[&ids])
            .map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some((_, _, Some(fp))) = indexed_fields(r.get::<_, &[u8]>(1)) {
                out.push((index_from_sql(BACKEND, r.get(0))?, fp));
            }
        }
        Ok(out)
    }

    fn tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        fp_tiles_in(&mut self.client, first, last)
    }
}
