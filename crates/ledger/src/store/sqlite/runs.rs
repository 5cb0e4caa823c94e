//! The main level of the SQLite lookup indexes (content ID → index, media key → index): one
//! sorted run of `(key, index)` pairs, [`RUN_TILE`] pairs (16 bytes each, little-endian) per
//! row, each row with its first key (indexed). A lookup reads the one or two rows whose key
//! range holds the key and binary-searches them. A merge (see the module above) rewrites
//! the run in one sequential pass, merged in memory from the old run and the sorted second
//! level: no B-tree insert per entry, and each page written once per merge.

use rusqlite::{params, Connection, OptionalExtension as _};

use super::{err, BACKEND};
use crate::{Error, Result};

/// Pairs per row: 1,920 bytes, so two rows fit a 4 KiB page and a lookup reads one page
/// (no overflow chain).
pub(super) const RUN_TILE: usize = 120;

fn key_at(blob: &[u8], k: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&blob[16 * k..16 * k + 8]);
    i64::from_le_bytes(b)
}

fn idx_at(blob: &[u8], k: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&blob[16 * k + 8..16 * k + 16]);
    i64::from_le_bytes(b)
}

/// The first position in a row whose key is not below `key` (binary search in place).
fn lower_bound(blob: &[u8], key: i64) -> usize {
    let (mut lo, mut hi) = (0usize, blob.len() / 16);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if key_at(blob, mid) < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn decode(blob: &[u8]) -> impl Iterator<Item = (i64, i64)> + '_ {
    blob.chunks_exact(16).map(|c| {
        let mut k = [0u8; 8];
        let mut i = [0u8; 8];
        k.copy_from_slice(&c[..8]);
        i.copy_from_slice(&c[8..]);
        (i64::from_le_bytes(k), i64::from_le_bytes(i))
    })
}

/// Every pair of the run, in stored order, and whether the stored run is well formed
/// (pairs ascending, each row's `first` its first key).
pub(super) fn all(conn: &Connection, table: &str) -> Result<(Vec<(i64, i64)>, bool)> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT first, entries FROM {table} ORDER BY tile"))
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut ok = true;
    while let Some(row) = rows.next().map_err(err)? {
        let first: i64 = row.get(0).map_err(err)?;
        let blob = blob_at(row, 1)?;
        let start = out.len();
        out.extend(decode(blob));
        ok &= blob.len() % 16 == 0 && out.get(start).is_some_and(|p| p.0 == first);
    }
    ok &= out.windows(2).all(|w| w[0] < w[1]);
    Ok((out, ok))
}

/// The indexes stored under `key`, ascending.
pub(super) fn lookup(conn: &Connection, table: &str, key: i64) -> Result<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT first, entries FROM {table} WHERE first <= ?1 ORDER BY first DESC, tile DESC"
        ))
        .map_err(err)?;
    let mut rows = stmt.query([key]).map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let first: i64 = row.get(0).map_err(err)?;
        let blob = blob_at(row, 1)?;
        let n = blob.len() / 16;
        let mut k = lower_bound(blob, key);
        while k < n && key_at(blob, k) == key {
            out.push(idx_at(blob, k));
            k += 1;
        }
        // Earlier rows can hold the key only if this one starts with it.
        if first < key {
            break;
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The first index stored under a unique key.
pub(super) fn lookup_one(conn: &Connection, table: &str, key: i64) -> Result<Option<i64>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT entries FROM {table} WHERE first <= ?1 ORDER BY first DESC, tile DESC LIMIT 1"
        ))
        .map_err(err)?;
    let found = stmt
        .query_row([key], |row| {
            let blob = row.get_ref(0)?.as_blob()?;
            let k = lower_bound(blob, key);
            Ok((k < blob.len() / 16 && key_at(blob, k) == key).then(|| idx_at(blob, k)))
        })
        .optional()
        .map_err(err)?;
    Ok(found.flatten())
}

/// Rewrites the run as the merge of itself and `new` (sorted by key, index).
pub(super) fn merge(conn: &Connection, table: &str, new: &[(i64, i64)]) -> Result<()> {
    let (old, _) = all(conn, table)?;
    let mut merged = Vec::with_capacity(old.len() + new.len());
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x <= y {
                    a.next()
                } else {
                    b.next()
                }
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some(&p) = next {
            merged.push(p);
        }
    }
    conn.execute(&format!("DELETE FROM {table}"), []).map_err(err)?;
    let mut ins = conn
        .prepare_cached(&format!("INSERT INTO {table} (tile, first, entries) VALUES (?1, ?2, ?3)"))
        .map_err(err)?;
    let mut blob = Vec::with_capacity(RUN_TILE * 16);
    for (t, chunk) in merged.chunks(RUN_TILE).enumerate() {
        blob.clear();
        for (k, i) in chunk {
            blob.extend_from_slice(&k.to_le_bytes());
            blob.extend_from_slice(&i.to_le_bytes());
        }
        ins.execute(params![t as i64, chunk[0].0, blob]).map_err(err)?;
    }
    Ok(())
}

/// Column `i` of `row` as a blob.
fn blob_at<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r [u8]> {
    row.get_ref(i)
        .map_err(err)?
        .as_blob()
        .map_err(|e| Error::Storage { backend: BACKEND, reason: e.to_string() })
}
