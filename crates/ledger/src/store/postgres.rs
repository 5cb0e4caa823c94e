//! The PostgreSQL store: one log shared by many stamping machines.
//!
//! Sequencing happens in the database: an append locks the single `log_state` row
//! (`SELECT … FOR UPDATE`), reads the size and the frontier, inserts its records and
//! hashes with array parameters (three statements per batch, whatever its length) and
//! commits. Concurrent writers queue on that row lock, so the log stays one sequence and
//! every committed batch is complete. Commits use the server's default
//! `synchronous_commit = on`, so they are durable when `append` returns.

use postgres::{Client, NoTls};

use super::{
    hamming, has_media_hash, id_from_sql, id_to_sql, index_from_sql, index_to_sql, media_key,
    plan_append, read_frontier, to_hash, IndexRow, LogStore,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::{Error, Result};

const BACKEND: &str = "postgres";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_state (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS records (
    idx BIGINT PRIMARY KEY,
    content_id BIGINT NOT NULL UNIQUE,
    media_key BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS records_media_key ON records (media_key);
CREATE TABLE IF NOT EXISTS fingerprints (idx BIGINT PRIMARY KEY, fp BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (i BIGINT PRIMARY KEY, h BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL);
";

/// Key of the advisory lock that serializes schema creation.
const SCHEMA_LOCK: i64 = 0x7072_6f76_6d61_726b;

fn err(e: postgres::Error) -> Error {
    Error::Storage { backend: BACKEND, reason: e.to_string() }
}

/// A log in a PostgreSQL database.
pub struct PostgresStore {
    client: Client,
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
        tx.batch_execute(SCHEMA).map_err(err)?;
        tx.commit().map_err(err)?;
        if let Some(schema) = schema {
            client.batch_execute(&format!("SET search_path TO {schema}")).map_err(err)?;
        }
        Ok(Self { client })
    }
}

fn hashes_in(client: &mut impl postgres::GenericClient, indexes: &[u64]) -> Result<Vec<Hash>> {
    let ids: Vec<i64> = indexes.iter().map(|&i| index_to_sql(BACKEND, i)).collect::<Result<_>>()?;
    let rows = client.query("SELECT i, h FROM hashes WHERE i = ANY($1)", &[&ids]).map_err(err)?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let i: i64 = row.get(0);
        let h: &[u8] = row.get(1);
        found.insert(i, to_hash(BACKEND, h)?);
    }
    ids.iter()
        .map(|i| {
            found
                .get(i)
                .copied()
                .ok_or_else(|| Error::integrity(format!("stored hash {i} is missing")))
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
        let mut fp_idx = Vec::new();
        let mut fp: Vec<&[u8]> = Vec::new();
        for r in &plan.new_records {
            let i = index_to_sql(BACKEND, r.index)?;
            idx.push(i);
            cid.push(id_to_sql(r.content_id));
            sha.push(id_to_sql(media_key(&r.media_sha256)));
            rec.push(r.bytes);
            if let Some(f) = &r.fingerprint {
                fp_idx.push(i);
                fp.push(&f[..]);
            }
        }
        if !idx.is_empty() {
            tx.execute(
                "INSERT INTO records (idx, content_id, media_key, record) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[])",
                &[&idx, &cid, &sha, &rec],
            )
            .map_err(err)?;
        }
        if !fp_idx.is_empty() {
            tx.execute(
                "INSERT INTO fingerprints (idx, fp) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
                &[&fp_idx, &fp],
            )
            .map_err(err)?;
        }
        if !plan.new_hashes.is_empty() {
            let hi: Vec<i64> = (0..plan.new_hashes.len() as u64)
                .map(|k| index_to_sql(BACKEND, plan.first_hash_index + k))
                .collect::<Result<_>>()?;
            let hs: Vec<&[u8]> = plan.new_hashes.iter().map(|h| &h[..]).collect();
            tx.execute(
                "INSERT INTO hashes (i, h) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
                &[&hi, &hs],
            )
            .map_err(err)?;
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
        let (s, e) = range_args(start, end)?;
        let rows = self
            .client
            .query("SELECT h FROM hashes WHERE i >= $1 AND i < $2 ORDER BY i", &[&s, &e])
            .map_err(err)?;
        rows.iter().map(|r| to_hash(BACKEND, r.get::<_, &[u8]>(0))).collect()
    }

    fn stored_hash_count(&mut self) -> Result<u64> {
        let row = self.client.query_one("SELECT COUNT(*) FROM hashes", &[]).map_err(err)?;
        index_from_sql(BACKEND, row.get(0))
    }

    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>> {
        let (s, e) = range_args(start, end)?;
        let rows = self
            .client
            .query(
                "SELECT r.idx, r.content_id, r.media_key, f.fp FROM records r \
                 LEFT JOIN fingerprints f ON f.idx = r.idx \
                 WHERE r.idx >= $1 AND r.idx < $2 ORDER BY r.idx",
                &[&s, &e],
            )
            .map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(IndexRow {
                index: index_from_sql(BACKEND, row.get(0))?,
                content_id: id_from_sql(row.get(1)),
                media_key: id_from_sql(row.get(2)),
                fingerprint: row
                    .get::<_, Option<&[u8]>>(3)
                    .map(|f| to_hash(BACKEND, f))
                    .transpose()?,
            });
        }
        Ok(out)
    }

    fn orphan_rows(&mut self) -> Result<u64> {
        let row = self
            .client
            .query_one(
                "SELECT COUNT(*) FROM fingerprints f WHERE NOT EXISTS \
                 (SELECT 1 FROM records r WHERE r.idx = f.idx)",
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
        // The distance is computed in the server (bit_count over XORed bit strings), so
        // only the best row crosses the network.
        let row = self
            .client
            .query_opt(
                "SELECT idx, fp FROM (SELECT idx, fp, \
                   bit_count(('x' || encode(fp, 'hex'))::bit(256) # ('x' || $1)::bit(256)) AS d \
                   FROM fingerprints) t \
                 WHERE d <= $2 ORDER BY d, idx LIMIT 1",
                &[&hex::encode(fingerprint), &i64::from(max_distance)],
            )
            .map_err(err)?;
        row.map(|r| {
            let fp: &[u8] = r.get(1);
            index_from_sql(BACKEND, r.get(0)).map(|i| (i, hamming(fingerprint, fp)))
        })
        .transpose()
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
