//! Storage behind one trait, [`LogStore`]: the only code that touches a database.
//!
//! # What a store keeps
//!
//! * the encoded records by index, with their content ID and the first 8 bytes of their
//!   media hash in integer columns, and lookup indexes on both (content IDs are unique);
//! * every stored hash of the Merkle tree ([`crate::merkle`] numbering), in the SQL stores
//!   as tiles of [`HASH_TILE`] hashes per row;
//! * the fingerprint index ([`mih`]: multi-index hashing segments);
//! * the signed checkpoints, by tree size.
//!
//! # Call protocol
//!
//! [`LogStore::append`] is the only write of records and hashes. It runs as one durable
//! transaction: it reads the current size and the frontier hashes, skips records whose
//! content ID is already stored (returning the existing index), assigns the next indexes,
//! computes the new stored hashes with [`crate::merkle::Frontier`] and commits. A backend
//! that allows concurrent writers (PostgreSQL) serializes appends inside the database.
//! Readers may run at any time and see a committed prefix of the log.

pub mod memory;
pub mod mih;
pub mod postgres;
pub mod sqlite;

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Frontier, Hash};
use crate::record::indexed_fields;
use crate::{Error, Result};

/// The indexed columns of one record, as stored (read back by [`crate::Ledger::verify`] to
/// check that the indexes agree with the records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRow {
    /// Record index.
    pub index: u64,
    /// Content ID column.
    pub content_id: u64,
    /// Media key column: the first 8 bytes of the media hash (the full hash is in the
    /// record; the short key keeps the index small, which matters for random inserts).
    pub media_key: u64,
}

/// An append-only log store. See the module docs for the call protocol.
pub trait LogStore: Send {
    /// A short backend name (`memory`, `sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Number of records committed (the tree size).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn size(&mut self) -> Result<u64>;

    /// Appends encoded records in one durable commit and returns the index of each input
    /// record, in input order. A record whose content ID is already in the log (or earlier
    /// in the same batch) is not stored again; its existing index is returned.
    ///
    /// # Errors
    /// [`Error::Record`] if a record is too short to carry its indexed fields;
    /// [`Error::Storage`] on backend failure (nothing of the batch is then committed).
    fn append(&mut self, records: &[Vec<u8>]) -> Result<Vec<u64>>;

    /// Encoded records `[start, end)` (fewer if the log is shorter).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn records(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>>;

    /// Stored hashes by stored-hash index, in the order asked.
    ///
    /// # Errors
    /// [`Error::Integrity`] if one is missing; [`Error::Storage`] on backend failure.
    fn stored_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>>;

    /// Stored hashes `[start, end)` by stored-hash index (fewer if there are fewer).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn stored_hash_range(&mut self, start: u64, end: u64) -> Result<Vec<Hash>>;

    /// Total number of stored hashes.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn stored_hash_count(&mut self) -> Result<u64>;

    /// Index columns of records `[start, end)`.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>>;

    /// Number of lookup-index entries that disagree with the records' index columns:
    /// entries that point at no record or at a record with another key, records without
    /// an entry, and fingerprint-index rows of no segment. The columns themselves are
    /// checked against the records through [`LogStore::index_rows`].
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn orphan_rows(&mut self) -> Result<u64>;

    /// The fingerprint-index segments, by ascending start (none for a store that scans).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn fingerprint_segments(&mut self) -> Result<Vec<mih::Segment>>;

    /// Packed fingerprint tiles `first..=last` ([`mih::FP_TILE`] records each) that
    /// exist, ascending.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn fingerprint_tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>>;

    /// The stored rows of the fingerprint-index segment that starts at `start`, ordered by
    /// part and group (what [`mih::build`] makes from the segment's records).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn fingerprint_rows(&mut self, start: u64) -> Result<Vec<mih::PostingRow>>;

    /// The index of the record with this content ID.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn find_content_id(&mut self, content_id: u64) -> Result<Option<u64>>;

    /// Indexes of the records with this media hash, ascending.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn find_media_sha256(&mut self, sha256: &Hash) -> Result<Vec<u64>>;

    /// The record whose fingerprint is nearest to `fingerprint` in Hamming distance, if
    /// one is within `max_distance` bits: `(index, distance)`, lowest index on ties.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn nearest_fingerprint(
        &mut self,
        fingerprint: &[u8; 32],
        max_distance: u32,
    ) -> Result<Option<(u64, u32)>>;

    /// Stores a signed checkpoint (kept once per tree size).
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()>;

    /// The stored checkpoint with the largest tree size: `(size, note)`.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>>;

    /// The stored checkpoint for exactly this tree size.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn checkpoint_at(&mut self, size: u64) -> Result<Option<String>>;

    /// Every stored checkpoint, by ascending tree size.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>>;

    /// Bytes the backend uses on disk, if it can tell.
    ///
    /// # Errors
    /// [`Error::Storage`] on backend failure.
    fn storage_bytes(&mut self) -> Result<Option<u64>>;
}

/// A record ready to insert: its index and the fields the indexes need.
pub(crate) struct NewRecord<'a> {
    pub index: u64,
    pub content_id: u64,
    pub media_sha256: Hash,
    pub fingerprint: Option<[u8; 32]>,
    pub bytes: &'a [u8],
}

/// What an append writes, computed from the state read inside the transaction.
pub(crate) struct AppendPlan<'a> {
    /// Index of each input record.
    pub indexes: Vec<u64>,
    /// Records to insert, in index order.
    pub new_records: Vec<NewRecord<'a>>,
    /// Stored-hash index of the first new hash.
    pub first_hash_index: u64,
    /// New stored hashes, consecutive from `first_hash_index`.
    pub new_hashes: Vec<Hash>,
    /// Tree size after the append.
    pub new_size: u64,
}

/// Plans an append. `size` and `frontier` are the committed state; `existing` looks up a
/// content ID among committed records.
pub(crate) fn plan_append<'a>(
    size: u64,
    frontier: &[Hash],
    records: &'a [Vec<u8>],
    mut existing: impl FnMut(u64) -> Result<Option<u64>>,
) -> Result<AppendPlan<'a>> {
    let mut tree = Frontier::from_subtrees(size, frontier)?;
    let mut in_batch = std::collections::HashMap::new();
    let mut indexes = Vec::with_capacity(records.len());
    let mut new_records = Vec::with_capacity(records.len());
    let mut new_hashes = Vec::with_capacity(records.len() * 2 + 64);
    let mut next = size;
    for bytes in records {
        let (content_id, media_sha256, fingerprint) = indexed_fields(bytes)
            .ok_or_else(|| Error::record("record too short to carry its indexed fields"))?;
        if let Some(&i) = in_batch.get(&content_id) {
            indexes.push(i);
            continue;
        }
        if let Some(i) = existing(content_id)? {
            indexes.push(i);
            continue;
        }
        in_batch.insert(content_id, next);
        tree.push(merkle::leaf_hash(bytes), |h| new_hashes.push(h));
        new_records.push(NewRecord { index: next, content_id, media_sha256, fingerprint, bytes });
        indexes.push(next);
        next += 1;
    }
    Ok(AppendPlan {
        indexes,
        new_records,
        first_hash_index: merkle::stored_hash_count(size),
        new_hashes,
        new_size: next,
    })
}

/// Reads the frontier hashes of a tree of `size` leaves.
pub(crate) fn read_frontier(
    size: u64,
    read: impl FnOnce(&[u64]) -> Result<Vec<Hash>>,
) -> Result<Vec<Hash>> {
    let ids: Vec<u64> = merkle::root_subtrees(size).iter().map(|id| id.stored_index()).collect();
    read(&ids)
}

/// Stored hashes per row in the SQL stores (a tile of 8 KiB): appends rewrite only the
/// last tile, and a row per hash would cost more in row overhead than the hash itself.
pub const HASH_TILE: u64 = 256;

/// Splits packed tiles `(tile, bytes)`, ascending and consecutive from the tile of
/// `start`, into the hashes `[start, end)`. Stops at the first tile that is missing, not
/// a multiple of 32 bytes, or short before its end, so a damaged tile reads as missing
/// hashes (which `verify` reports) rather than as an error.
pub(crate) fn hashes_from_tiles(
    start: u64,
    end: u64,
    tiles: impl IntoIterator<Item = (u64, Vec<u8>)>,
) -> Vec<Hash> {
    let mut out = Vec::new();
    for (want_tile, (tile, bytes)) in (start / HASH_TILE..).zip(tiles) {
        if tile != want_tile || bytes.len() % 32 != 0 {
            break;
        }
        let first = tile * HASH_TILE;
        let n = (bytes.len() / 32) as u64;
        for (k, c) in bytes.chunks_exact(32).enumerate() {
            let i = first + k as u64;
            if i >= start && i < end {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                out.push(h);
            }
        }
        if n < HASH_TILE || first + n >= end {
            break;
        }
    }
    out
}

/// The tiles an append writes: `(tile, bytes)` for each tile touched by new hashes
/// `first..`, given the current bytes of the partial last tile (if `first` is inside one).
pub(crate) fn tiles_to_write(first: u64, hashes: &[Hash], partial: Vec<u8>) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut tile = first / HASH_TILE;
    let mut cur = partial;
    let mut at = first;
    for h in hashes {
        cur.extend_from_slice(h);
        at += 1;
        if at % HASH_TILE == 0 {
            out.push((tile, std::mem::take(&mut cur)));
            tile += 1;
        }
    }
    if !cur.is_empty() {
        out.push((tile, cur));
    }
    out
}

/// Content IDs are stored as the signed 64-bit integers SQL databases have.
pub(crate) const fn id_to_sql(id: u64) -> i64 {
    i64::from_be_bytes(id.to_be_bytes())
}

pub(crate) const fn id_from_sql(id: i64) -> u64 {
    u64::from_be_bytes(id.to_be_bytes())
}

/// Converts a non-negative SQL integer to an index.
pub(crate) fn index_from_sql(backend: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Storage { backend, reason: format!("negative index {v}") })
}

pub(crate) fn index_to_sql(backend: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Storage { backend, reason: format!("index {v} too large") })
}

pub(crate) fn to_hash(backend: &'static str, bytes: &[u8]) -> Result<Hash> {
    bytes.try_into().map_err(|_| Error::Storage {
        backend,
        reason: format!("stored hash has {} bytes, not 32", bytes.len()),
    })
}

/// The media key of a media hash: its first 8 bytes, big-endian.
pub(crate) fn media_key(sha256: &Hash) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&sha256[..8]);
    u64::from_be_bytes(k)
}

/// Whether encoded record `bytes` has media hash `sha256`.
pub(crate) fn has_media_hash(bytes: &[u8], sha256: &Hash) -> bool {
    indexed_fields(bytes).is_some_and(|(_, sha, _)| &sha == sha256)
}

pub(crate) fn hamming(a: &[u8; 32], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum::<u32>()
        + 8 * u32::try_from(32usize.saturating_sub(b.len())).unwrap_or(0)
}
