//! The in-memory store: the reference backend and the test oracle. Nothing is durable.

use std::collections::{BTreeMap, HashMap};

use super::{hamming, plan_append, IndexRow, LogStore};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::{Error, Result};

/// A log kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Vec<Vec<u8>>,
    rows: Vec<IndexRow>,
    fingerprints: Vec<Option<[u8; 32]>>,
    hashes: Vec<Hash>,
    by_id: HashMap<u64, u64>,
    by_sha: HashMap<Hash, Vec<u64>>,
    checkpoints: BTreeMap<u64, String>,
}

impl MemoryStore {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn missing(what: &str, i: u64) -> Error {
    Error::integrity(format!("{what} {i} is missing"))
}

impl LogStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn size(&mut self) -> Result<u64> {
        Ok(self.records.len() as u64)
    }

    fn append(&mut self, records: &[Vec<u8>]) -> Result<Vec<u64>> {
        let size = self.records.len() as u64;
        let frontier: Vec<Hash> = crate::merkle::root_subtrees(size)
            .iter()
            .map(|id| {
                usize::try_from(id.stored_index())
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or_else(|| missing("stored hash", id.stored_index()))
            })
            .collect::<Result<_>>()?;
        let by_id = &self.by_id;
        let plan = plan_append(size, &frontier, records, |id| Ok(by_id.get(&id).copied()))?;
        for r in &plan.new_records {
            self.records.push(r.bytes.to_vec());
            self.rows.push(IndexRow {
                index: r.index,
                content_id: r.content_id,
                media_key: super::media_key(&r.media_sha256),
            });
            self.fingerprints.push(r.fingerprint);
            self.by_id.insert(r.content_id, r.index);
            self.by_sha.entry(r.media_sha256).or_default().push(r.index);
        }
        self.hashes.extend_from_slice(&plan.new_hashes);
        Ok(plan.indexes)
    }

    fn records(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let (s, e) = clamp(start, end, self.records.len());
        Ok(self.records[s..e].to_vec())
    }

    fn stored_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.hashes.get(u).copied())
                    .ok_or_else(|| missing("stored hash", i))
            })
            .collect()
    }

    fn stored_hash_range(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let (s, e) = clamp(start, end, self.hashes.len());
        Ok(self.hashes[s..e].to_vec())
    }

    fn stored_hash_count(&mut self) -> Result<u64> {
        Ok(self.hashes.len() as u64)
    }

    fn index_rows(&mut self, start: u64, end: u64) -> Result<Vec<IndexRow>> {
        let (s, e) = clamp(start, end, self.rows.len());
        Ok(self.rows[s..e].to_vec())
    }

    fn orphan_rows(&mut self) -> Result<u64> {
        Ok(0)
    }

    fn fingerprint_segments(&mut self) -> Result<Vec<super::mih::Segment>> {
        // The reference store scans: no index to keep consistent.
        Ok(Vec::new())
    }

    fn fingerprint_rows(&mut self, _start: u64) -> Result<Vec<super::mih::PostingRow>> {
        Ok(Vec::new())
    }

    fn fingerprint_tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        // Made on demand from the fingerprints (nothing stored to disagree).
        let tile = super::mih::FP_TILE;
        let (s, e) = clamp(
            first.saturating_mul(tile),
            last.saturating_add(1).saturating_mul(tile),
            self.fingerprints.len(),
        );
        Ok(super::mih::tiles_to_write(s as u64, &self.fingerprints[s..e], Vec::new()))
    }

    fn find_content_id(&mut self, content_id: u64) -> Result<Option<u64>> {
        Ok(self.by_id.get(&content_id).copied())
    }

    fn find_media_sha256(&mut self, sha256: &Hash) -> Result<Vec<u64>> {
        Ok(self.by_sha.get(sha256).cloned().unwrap_or_default())
    }

    fn nearest_fingerprint(
        &mut self,
        fingerprint: &[u8; 32],
        max_distance: u32,
    ) -> Result<Option<(u64, u32)>> {
        let best = self
            .fingerprints
            .iter()
            .zip(0u64..)
            .filter_map(|(fp, i)| fp.map(|fp| (hamming(fingerprint, &fp), i)))
            .filter(|&(d, _)| d <= max_distance)
            .min();
        Ok(best.map(|(d, i)| (i, d)))
    }

    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.checkpoints.entry(checkpoint.size()).or_insert_with(|| checkpoint.note().to_owned());
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>> {
        Ok(self.checkpoints.iter().next_back().map(|(s, n)| (*s, n.clone())))
    }

    fn checkpoint_at(&mut self, size: u64) -> Result<Option<String>> {
        Ok(self.checkpoints.get(&size).cloned())
    }

    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>> {
        Ok(self.checkpoints.iter().map(|(s, n)| (*s, n.clone())).collect())
    }

    fn storage_bytes(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
}

fn clamp(start: u64, end: u64, len: usize) -> (usize, usize) {
    let e = usize::try_from(end).unwrap_or(usize::MAX).min(len);
    let s = usize::try_from(start).unwrap_or(usize::MAX).min(e);
    (s, e)
}
