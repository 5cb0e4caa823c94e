//! Migration of a schema-1 SQLite ledger (one row per stored hash, a fingerprint side
//! table, B-tree indexes on the record columns) to schema 2, in one transaction: either
//! the whole file is migrated or, after a crash, it is still schema 1 and migrates on the
//! next open. Records, hashes and checkpoints are copied byte for byte, so a log that
//! verified before verifies after (and a damaged one is still caught).

use rusqlite::{params, TransactionBehavior};

use super::{
    err, fingerprints_range, index_to_sql, maintain_segments, merge_lookups, write_fp_tiles,
    SqliteStore, BACKEND, SCHEMA,
};
use crate::merkle::Hash;
use crate::store::mih;
use crate::store::tiles_to_write;
use crate::{Error, Result};

pub(super) fn from_v1(store: &mut SqliteStore) -> Result<()> {
    let seg = store.segment;
    let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
    tx.execute_batch("ALTER TABLE records RENAME TO records_v1;").map_err(err)?;
    tx.execute_batch(SCHEMA).map_err(err)?;
    tx.execute_batch(
        "INSERT INTO records (idx, content_id, media_key, record)
           SELECT idx, content_id, media_key, record FROM records_v1 ORDER BY idx;
         DROP TABLE records_v1;
         INSERT INTO ids_new (content_id, idx) SELECT content_id, idx FROM records;
         INSERT INTO media_new (media_key, idx) SELECT media_key, idx FROM records;",
    )
    .map_err(err)?;
    {
        let mut stmt = tx.prepare("SELECT i, h FROM hashes ORDER BY i").map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut hashes: Vec<Hash> = Vec::new();
        let mut expect = 0i64;
        while let Some(row) = rows.next().map_err(err)? {
            let i: i64 = row.get(0).map_err(err)?;
            let h: Vec<u8> = row.get(1).map_err(err)?;
            // A gap or a malformed hash ends the copy here; `verify` then reports the
            // missing hashes instead of the migration failing.
            let Ok(h) = Hash::try_from(h.as_slice()) else { break };
            if i != expect {
                break;
            }
            hashes.push(h);
            expect += 1;
        }
        let mut put =
            tx.prepare("INSERT INTO hash_tiles (tile, hashes) VALUES (?1, ?2)").map_err(err)?;
        for (tile, bytes) in tiles_to_write(0, &hashes, Vec::new()) {
            put.execute(params![index_to_sql(BACKEND, tile)?, bytes]).map_err(err)?;
        }
    }
    let size = SqliteStore::size_in(&tx)?;
    let mut at = 0;
    while at < size {
        let end = (at + 64 * mih::FP_TILE).min(size);
        let fps = fingerprints_range(&tx, at, end)?;
        let mut opts = vec![None; usize::try_from(end - at).unwrap_or(0)];
        for (i, fp) in fps {
            if let Some(slot) = opts.get_mut(usize::try_from(i - at).unwrap_or(usize::MAX)) {
                *slot = Some(fp);
            }
        }
        write_fp_tiles(&tx, at, &opts)?;
        at = end;
    }
    tx.execute_batch("DROP TABLE hashes; DROP TABLE IF EXISTS fingerprints;").map_err(err)?;
    merge_lookups(&tx)?;
    tx.execute("UPDATE meta SET value = ?1 WHERE key = 'lsm_from'", [index_to_sql(BACKEND, size)?])
        .map_err(err)?;
    maintain_segments(&tx, size, seg)?;
    tx.commit().map_err(|e| Error::Storage {
        backend: BACKEND,
        reason: format!("migrating the ledger to schema 2: {e}"),
    })
}
