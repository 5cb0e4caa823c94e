//! The full check behind [`crate::Ledger::verify`]: one streaming pass over the log.

use std::collections::BTreeMap;

use crate::checkpoint::Checkpoint;
use crate::ledger::{Problem, ProblemKind, VerifyReport, SCAN_CHUNK};
use crate::merkle::{self, Frontier, Hash};
use crate::note::NoteVerifier;
use crate::record::{indexed_fields, Record};
use crate::store::{mih, LogStore};
use crate::Result;

fn problem(kind: ProblemKind, index: Option<u64>, detail: String) -> Option<Problem> {
    Some(Problem { kind, index, detail })
}

/// Checks one stored checkpoint against the recomputed root of its size.
fn check_checkpoint(
    size: u64,
    note: &str,
    root: &Hash,
    verifier: Option<&NoteVerifier>,
) -> Option<Problem> {
    let parsed = match verifier {
        Some(v) => Checkpoint::open(note, v),
        None => Checkpoint::parse_unverified(note),
    };
    let bad = |d: String| problem(ProblemKind::Checkpoint, Some(size), d);
    match parsed {
        Err(e) => bad(format!("checkpoint for size {size}: {e}")),
        Ok(cp) if cp.size() != size => {
            bad(format!("checkpoint stored for size {size} says size {}", cp.size()))
        }
        Ok(cp) if cp.root() != root => {
            bad(format!("checkpoint for size {size} has a root that is not the log's"))
        }
        Ok(_) => None,
    }
}

pub(crate) fn verify(
    store: &mut dyn LogStore,
    verifier: Option<&NoteVerifier>,
) -> Result<VerifyReport> {
    let size = store.size()?;
    let checkpoints: BTreeMap<u64, String> = store.checkpoints()?.into_iter().collect();
    let mut report = VerifyReport { size, hashes: 0, checkpoints: 0, problem: None };

    if let Some((&cp_size, _)) = checkpoints.iter().next_back() {
        if cp_size > size {
            report.problem = problem(
                ProblemKind::Size,
                Some(size),
                format!("a checkpoint covers {cp_size} records but the log has only {size}"),
            );
            return Ok(report);
        }
    }
    if let Some(note) = checkpoints.get(&0) {
        report.problem = check_checkpoint(0, note, &merkle::EMPTY_ROOT, verifier);
        report.checkpoints += 1;
        if report.problem.is_some() {
            return Ok(report);
        }
    }

    let mut tree = Frontier::new();
    let mut start = 0u64;
    while start < size {
        let end = (start + SCAN_CHUNK).min(size);
        let records = store.records(start, end)?;
        let rows = store.index_rows(start, end)?;
        let first_hash = merkle::leaf_stored_index(start);
        let stored = store.stored_hash_range(first_hash, merkle::leaf_stored_index(end))?;
        let mut at_hash = 0usize;
        for (k, i) in (start..end).enumerate() {
            let Some(bytes) = records.get(k) else {
                report.problem =
                    problem(ProblemKind::Size, Some(i), format!("record {i} is missing"));
                return Ok(report);
            };
            if let Err(e) = Record::decode(bytes) {
                report.problem = problem(ProblemKind::Record, Some(i), format!("record {i}: {e}"));
                return Ok(report);
            }
            let row = rows.get(k);
            let fields = indexed_fields(bytes);
            let index_ok = match (row, fields) {
                (Some(row), Some((id, sha, _))) => {
                    row.index == i
                        && row.content_id == id
                        && row.media_key == crate::store::media_key(&sha)
                }
                _ => false,
            };
            if !index_ok {
                report.problem = problem(
                    ProblemKind::Index,
                    Some(i),
                    format!("the index columns of record {i} do not match the record"),
                );
                return Ok(report);
            }
            let mut bad_hash = None;
            tree.push(merkle::leaf_hash(bytes), |h| {
                if bad_hash.is_none() && stored.get(at_hash) != Some(&h) {
                    bad_hash = Some(first_hash + at_hash as u64);
                }
                at_hash += 1;
            });
            if let Some(h) = bad_hash {
                let what = if h == merkle::leaf_stored_index(i) {
                    format!("the stored leaf hash of record {i} is wrong or missing")
                } else {
                    format!("stored hash {h}, completed by record {i}, is wrong or missing")
                };
                report.problem = problem(ProblemKind::Hash, Some(i), what);
                return Ok(report);
            }
            if let Some(note) = checkpoints.get(&(i + 1)) {
                report.checkpoints += 1;
                report.problem = check_checkpoint(i + 1, note, &tree.root(), verifier);
                if report.problem.is_some() {
                    return Ok(report);
                }
            }
        }
        if records.len() as u64 != end - start || rows.len() as u64 != end - start {
            report.problem = problem(
                ProblemKind::Size,
                Some(start),
                format!("records {start}..{end} do not match the log size"),
            );
            return Ok(report);
        }
        report.hashes += at_hash as u64;
        start = end;
    }
    // Nothing may follow the last record: no surplus records or hashes.
    let surplus = store.records(size, size.saturating_add(1))?;
    let stored_count = store.stored_hash_count()?;
    let orphans = store.orphan_rows()?;
    if orphans > 0 {
        report.problem = problem(
            ProblemKind::Index,
            None,
            format!("{orphans} lookup-index entries do not match the records"),
        );
        return Ok(report);
    }
    report.problem = check_fingerprint_index(store, size)?;
    if report.problem.is_some() {
        return Ok(report);
    }
    if !surplus.is_empty() || stored_count != merkle::stored_hash_count(size) {
        report.problem = problem(
            ProblemKind::Size,
            Some(size),
            format!(
                "the log has {size} records but {stored_count} stored hashes (expected {}) \
                 or records past its end",
                merkle::stored_hash_count(size)
            ),
        );
    }
    Ok(report)
}

/// The fingerprint index: segments tile `[0, end)` in order with the part length their size
/// calls for, and each segment's stored rows are exactly those rebuilt from its records
/// (so no record is missing from the index and no posting points at a wrong record).
fn check_fingerprint_index(store: &mut dyn LogStore, size: u64) -> Result<Option<Problem>> {
    // The packed tiles hold exactly the records' fingerprints, and nothing past the log.
    let span = 16 * mih::FP_TILE;
    let mut start = 0u64;
    while start < size {
        let end = (start + span).min(size);
        let want: Vec<Option<[u8; 32]>> = store
            .records(start, end)?
            .iter()
            .map(|r| indexed_fields(r).and_then(|(_, _, fp)| fp))
            .collect();
        let want = mih::tiles_to_write(start, &want, Vec::new());
        let got = store.fingerprint_tiles(start / mih::FP_TILE, (end - 1) / mih::FP_TILE)?;
        if got != want {
            // Name the first record whose entry differs.
            let mut bad = start;
            for (k, w) in want.iter().enumerate() {
                if got.get(k) != Some(w) {
                    let g = got.get(k).map(|(_, b)| b.as_slice()).unwrap_or_default();
                    let first = (0..mih::FP_TILE as usize).find(|&j| {
                        let (lo, hi) =
                            (mih::FP_TILE_HEADER + 32 * j, mih::FP_TILE_HEADER + 32 * j + 32);
                        g.get(j / 8).map(|b| b & (0x80 >> (j % 8)))
                            != w.1.get(j / 8).map(|b| b & (0x80 >> (j % 8)))
                            || g.get(lo..hi) != w.1.get(lo..hi)
                    });
                    bad = w.0 * mih::FP_TILE + first.unwrap_or(0) as u64;
                    break;
                }
            }
            return Ok(problem(
                ProblemKind::Index,
                Some(bad.min(size - 1)),
                format!("the packed fingerprint of record {bad} does not match the record"),
            ));
        }
        start = end;
    }
    if !store.fingerprint_tiles(size.div_ceil(mih::FP_TILE), u64::MAX / mih::FP_TILE)?.is_empty() {
        return Ok(problem(
            ProblemKind::Index,
            None,
            "fingerprint tiles lie past the end of the log".into(),
        ));
    }
    let mut at = 0u64;
    for seg in store.fingerprint_segments()? {
        let bad = |d: String| problem(ProblemKind::Index, Some(seg.start), d);
        if seg.start != at
            || seg.end <= seg.start
            || seg.end > size
            || seg.bits != mih::bits_for(seg.end - seg.start)
        {
            return Ok(bad(format!(
                "fingerprint index segment {}..{} (bits {}) does not follow {at} in a log of {size}",
                seg.start, seg.end, seg.bits
            )));
        }
        let mut fps = Vec::new();
        let mut s = seg.start;
        while s < seg.end {
            let e = (s + SCAN_CHUNK).min(seg.end);
            fps.extend(mih::fingerprints_of(s, &store.records(s, e)?));
            s = e;
        }
        if store.fingerprint_rows(seg.start)? != mih::build(&seg, &fps) {
            return Ok(bad(format!(
                "fingerprint index segment {}..{} does not match its records",
                seg.start, seg.end
            )));
        }
        at = seg.end;
    }
    Ok(None)
}
