//! The same suite over memory, SQLite and PostgreSQL.

use provmark_core::ContentId;
use provmark_ledger::merkle::{Frontier, EMPTY_ROOT};
use provmark_ledger::{leaf_hash, Checkpoint, Ledger, NoteVerifier, Record};

use crate::common::{self, fingerprint_of, mix, record, records, signer, Backend};

/// The root recomputed from scratch, the slow obvious way.
fn oracle_root(recs: &[Record]) -> [u8; 32] {
    let mut f = Frontier::new();
    for r in recs {
        f.push(leaf_hash(&r.encode().unwrap()), |_| {});
    }
    f.root()
}

fn append_assigns_indexes_and_deduplicates(b: &mut Backend) {
    let l = &mut b.ledger;
    assert_eq!(l.size().unwrap(), 0);
    assert_eq!(l.append_batch(&records(0..10)).unwrap(), (0..10).collect::<Vec<_>>());
    // A batch mixing old IDs, new IDs and an ID repeated inside the batch.
    let batch = vec![record(3), record(10), record(11), record(10), record(0), record(12)];
    assert_eq!(l.append_batch(&batch).unwrap(), vec![3, 10, 11, 10, 0, 12]);
    assert_eq!(l.size().unwrap(), 13);
    // An empty batch and a batch of duplicates change nothing.
    assert_eq!(l.append_batch(&[]).unwrap(), Vec::<u64>::new());
    assert_eq!(l.append_batch(&records(0..13)).unwrap(), (0..13).collect::<Vec<_>>());
    assert_eq!(l.size().unwrap(), 13);
    assert_eq!(l.root(13).unwrap(), oracle_root(&records(0..13)));
    assert!(l.verify(None).unwrap().is_ok());
}

fn lookups_answer_with_verifiable_proofs(b: &mut Backend) {
    let l = &mut b.ledger;
    let s = signer();
    let v = s.verifier().clone();
    for chunk in (0..150u64).collect::<Vec<_>>().chunks(37) {
        l.append_batch(&records(chunk[0]..chunk[chunk.len() - 1] + 1)).unwrap();
    }
    // Without a checkpoint (and without a signer) a lookup cannot be proven.
    assert!(l.find_by_id(ContentId::from_u64(mix(5))).is_err());
    let cp = l.checkpoint(&s).unwrap();
    assert_eq!(cp.size(), 150);
    assert_eq!(cp.root(), &oracle_root(&records(0..150)));
    for n in [0u64, 1, 77, 149] {
        let f = l.find_by_id(ContentId::from_u64(mix(n))).unwrap().unwrap();
        assert_eq!(f.index, n);
        assert_eq!(f.record, record(n));
        f.verify(&v).unwrap();
        // The same answer against a wrong key fails.
        let other = provmark_ledger::NoteSigner::from_signing_key(
            "provmark.example/test-log",
            &provmark_core::SigningKey::from_seed(&[1; 32]),
        )
        .unwrap();
        assert!(f.verify(other.verifier()).is_err());
    }
    assert!(l.find_by_id(ContentId::from_u64(12345)).unwrap().is_none());

    // Content hash: records 2n and 2n+1 share a media hash.
    let mut sha = [0u8; 32];
    sha[..8].copy_from_slice(&21u64.to_be_bytes());
    let found = l.find_by_content_hash(&sha).unwrap();
    assert_eq!(found.iter().map(|f| f.index).collect::<Vec<_>>(), vec![42, 43]);
    for f in &found {
        f.verify(&v).unwrap();
    }
    assert!(l.find_by_content_hash(&[0xee; 32]).unwrap().is_empty());

    // Fingerprint: 5 bits away from record 50's fingerprint; record 51 has one too.
    let mut near = fingerprint_of(50);
    near[3] ^= 0b1011_0001;
    near[30] ^= 0b0000_0001;
    let f = l.find_nearest_fingerprint(&near, 8).unwrap().unwrap();
    assert_eq!((f.index, f.distance), (50, 5));
    f.verify(&v).unwrap();
    assert!(l.find_nearest_fingerprint(&near, 4).unwrap().is_none());
    // Record 51 (every third record has none: 51 % 3 == 0) is not findable this way.
    assert!(l.find_nearest_fingerprint(&fingerprint_of(51), 0).unwrap().is_none());
    assert_eq!(l.find_nearest_fingerprint(&fingerprint_of(52), 0).unwrap().unwrap().index, 52);

    // A lookup of a record newer than the latest checkpoint uses the ledger's signer.
    l.append_batch(&records(150..151)).unwrap();
    assert!(l.find_by_id(ContentId::from_u64(mix(150))).is_err());
    l.set_signer(signer());
    let f = l.find_by_id(ContentId::from_u64(mix(150))).unwrap().unwrap();
    assert_eq!(f.checkpoint.size(), 151);
    f.verify(&v).unwrap();
}

fn proofs_verify_between_all_sizes(b: &mut Backend) {
    let l = &mut b.ledger;
    let all = records(0..70);
    let mut roots = vec![EMPTY_ROOT];
    for (i, r) in all.iter().enumerate() {
        l.append_batch(std::slice::from_ref(r)).unwrap();
        roots.push(oracle_root(&all[..=i]));
    }
    assert_eq!(l.root(0).unwrap(), EMPTY_ROOT);
    for n in [1u64, 2, 3, 8, 17, 64, 70] {
        assert_eq!(l.root(n).unwrap(), roots[n as usize]);
        for i in (0..n).step_by(3) {
            let p = l.prove_inclusion(i, n).unwrap();
            p.verify(&leaf_hash(&all[i as usize].encode().unwrap()), &roots[n as usize]).unwrap();
        }
        for m in 0..=n {
            let c = l.prove_consistency(m, n).unwrap();
            c.verify(&roots[m as usize], &roots[n as usize]).unwrap();
        }
    }
    assert!(l.prove_inclusion(70, 70).is_err());
    assert!(l.prove_inclusion(0, 71).is_err());
    assert!(l.prove_consistency(5, 71).is_err());
    assert!(l.prove_consistency(9, 8).is_err());
}

fn checkpoints_are_stored_and_verify(b: &mut Backend) {
    let l = &mut b.ledger;
    let s = signer();
    let cp0 = l.checkpoint(&s).unwrap();
    assert_eq!((cp0.size(), cp0.root()), (0, &EMPTY_ROOT));
    l.append_batch(&records(0..5)).unwrap();
    let cp5 = l.checkpoint(&s).unwrap();
    // Same size: the stored checkpoint is returned, not a second one.
    assert_eq!(l.checkpoint(&s).unwrap(), cp5);
    l.append_batch(&records(5..9)).unwrap();
    let cp9 = l.checkpoint(&s).unwrap();
    let vkey = NoteVerifier::from_vkey(&s.verifier().to_vkey()).unwrap();
    let opened = Checkpoint::open(cp9.note(), &vkey).unwrap();
    assert_eq!(opened, cp9);
    let c = l.prove_consistency(cp5.size(), cp9.size()).unwrap();
    c.verify(cp5.root(), cp9.root()).unwrap();
    assert_eq!(l.latest_checkpoint().unwrap().unwrap(), cp9);
    assert_eq!(l.checkpoint_at(5).unwrap().unwrap(), cp5);
    let report = l.verify(Some(&vkey)).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.size, report.checkpoints), (9, 3));
    let stats = l.stats().unwrap();
    assert_eq!((stats.size, stats.checkpoints, stats.latest_checkpoint), (9, 3, Some(9)));
    assert_eq!(stats.stored_hashes, 2 * 9 - 2);
}

fn exports_write_tiles_and_jsonl(b: &mut Backend) {
    let l = &mut b.ledger;
    l.append_batch(&records(0..600)).unwrap();
    let cp = l.checkpoint(&signer()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = l.export_tiles(dir.path(), &cp).unwrap();
    // 600 = 2 full level-0 tiles + a partial of 88; level 1 has 2 hashes (partial).
    assert_eq!((e.hash_tiles, e.entry_bundles), (4, 3));
    for p in
        ["tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2", "tile/entries/002.p/88"]
    {
        assert!(dir.path().join(p).is_file(), "{p}");
    }
    assert_eq!(std::fs::read(dir.path().join("tile/0/000")).unwrap().len(), 8192);
    assert_eq!(std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(), cp.note());
    let mut out = Vec::new();
    assert_eq!(l.export_jsonl(&mut out).unwrap(), 600);
    let text = String::from_utf8(out).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["index"], 0);
    assert_eq!(first["content_id"], ContentId::from_u64(mix(0)).to_string());
    assert_eq!(text.lines().count(), 600);
}

fn reopened_log_keeps_everything(b: &mut Backend) {
    if b.name == "memory" {
        return;
    }
    b.ledger.append_batch(&records(0..40)).unwrap();
    let root = b.ledger.root(40).unwrap();
    let mut again: Ledger = b.reopen();
    assert_eq!(again.size().unwrap(), 40);
    assert_eq!(again.root(40).unwrap(), root);
    assert_eq!(again.append_batch(&records(30..45)).unwrap(), (30..45).collect::<Vec<_>>());
    assert!(again.verify(None).unwrap().is_ok());
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $test() { super::$test(&mut crate::common::memory()); })*
        }
        mod sqlite {
            $(#[test] fn $test() { super::$test(&mut crate::common::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $test() {
                if let Some(mut b) = crate::common::postgres() { super::$test(&mut b); }
            })*
        }
    };
}

suite!(
    append_assigns_indexes_and_deduplicates,
    lookups_answer_with_verifiable_proofs,
    proofs_verify_between_all_sizes,
    checkpoints_are_stored_and_verify,
    exports_write_tiles_and_jsonl,
    reopened_log_keeps_everything,
);

#[test]
fn open_rejects_unknown_urls() {
    assert!(provmark_ledger::open("mysql://x").is_err());
    assert!(provmark_ledger::open("ledger.db").is_err());
}

#[test]
fn postgres_concurrent_writers_make_one_consistent_log() {
    let Some(b) = common::postgres() else { return };
    let pg = b.pg.as_ref().unwrap();
    const WRITERS: u64 = 4;
    const BATCHES: u64 = 8;
    const BATCH: u64 = 250;
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut l = pg.open();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for k in 0..BATCHES {
                    // Writer w's own records, plus a slice that every writer also appends.
                    let base = (w * BATCHES + k) * BATCH;
                    let mut batch = records(base + 1_000_000..base + 1_000_000 + BATCH);
                    batch.extend(records(k * 10..k * 10 + 10));
                    let idx = l.append_batch(&batch).unwrap();
                    got.extend(batch.iter().map(|r| r.content_id).zip(idx));
                }
                got
            })
        })
        .collect();
    let mut all = std::collections::HashMap::new();
    for h in handles {
        for (id, i) in h.join().unwrap() {
            // A content ID shared by writers got the same index for each of them.
            assert_eq!(*all.entry(id).or_insert(i), i, "{id}");
        }
    }
    let expected = WRITERS * BATCHES * BATCH + BATCHES * 10;
    assert_eq!(all.len() as u64, expected);
    let mut l = pg.open();
    assert_eq!(l.size().unwrap(), expected);
    let mut indexes: Vec<u64> = all.values().copied().collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..expected).collect::<Vec<_>>(), "indexes are one dense sequence");
    for (id, i) in all.iter().take(50) {
        assert_eq!(l.store_mut().find_content_id(id.as_u64()).unwrap(), Some(*i));
    }
    let report = l.verify(None).unwrap();
    assert!(report.is_ok(), "{report:?}");
}

/// The scale target: 1,000,000 records in batches of 10,000 through 4 concurrent writers
/// on PostgreSQL lose nothing and make one consistent log. Slow (minutes): run with
/// `cargo test -p provmark-ledger --test it -- --ignored postgres_million --nocapture`.
#[test]
#[ignore = "scale test, minutes"]
fn postgres_million_records_four_writers() {
    let Some(b) = common::postgres() else { return };
    let pg = b.pg.as_ref().unwrap();
    const WRITERS: u64 = 4;
    const BATCH: u64 = 10_000;
    const PER_WRITER: u64 = 25;
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut l = pg.open_default();
            std::thread::spawn(move || {
                let mut n = 0u64;
                for k in 0..PER_WRITER {
                    let base = (k * WRITERS + w) * BATCH;
                    n += l.append_batch(&records(base..base + BATCH)).unwrap().len() as u64;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "postgres, {WRITERS} writers: {total} records in {secs:.1} s = {:.0} records/s",
        total as f64 / secs
    );
    let mut l = pg.open_default();
    assert_eq!(l.size().unwrap(), WRITERS * PER_WRITER * BATCH);
    let t = std::time::Instant::now();
    let report = l.verify(None).unwrap();
    eprintln!("verify: {:.1} s", t.elapsed().as_secs_f64());
    assert!(report.is_ok(), "{report:?}");
    for n in (0..WRITERS * PER_WRITER * BATCH).step_by(99_991) {
        assert!(l.store_mut().find_content_id(common::mix(n)).unwrap().is_some());
    }
    let stats = l.stats().unwrap();
    eprintln!(
        "storage: {:?} bytes for {} record bytes + {} hash bytes",
        stats.storage_bytes,
        stats.record_bytes,
        stats.stored_hashes * 32
    );
    let mut c = pg.client();
    for r in c
        .query(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC",
            &[],
        )
        .unwrap()
    {
        eprintln!("  {}: {} bytes", r.get::<_, String>(0), r.get::<_, i64>(1));
    }
    let t = std::time::Instant::now();
    for n in (0..WRITERS * PER_WRITER * BATCH).step_by(99_991) {
        let mut fp = common::record(n).fingerprint.map_or([0; 32], |f| f.0);
        fp[3] ^= 0x0f;
        let hit = l.store_mut().nearest_fingerprint(&fp, 48).unwrap();
        let idx = l.store_mut().find_content_id(common::mix(n)).unwrap().unwrap();
        assert!(n % 3 == 0 || hit == Some((idx, 4)), "{n}: {hit:?}");
    }
    eprintln!(
        "nearest fingerprint r48, 11 queries: {:.1} ms each",
        t.elapsed().as_secs_f64() * 1e3 / 11.0
    );
}

/// SQLite at scale, in-process: 1,000,000 records in batches of 10,000, then verify.
/// Run with `cargo test --release -p provmark-ledger --test it -- --ignored sqlite_million --nocapture`.
#[test]
#[ignore = "scale test, about a minute"]
fn sqlite_million_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = common::sqlite();
    b.ledger =
        provmark_ledger::open(&format!("sqlite:{}", dir.path().join("m.db").display())).unwrap();
    let start = std::time::Instant::now();
    for k in 0..100u64 {
        b.ledger.append_batch(&records(k * 10_000..(k + 1) * 10_000)).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("sqlite: 1000000 records in {secs:.1} s = {:.0} records/s", 1e6 / secs);
    let t = std::time::Instant::now();
    let report = b.ledger.verify(None).unwrap();
    eprintln!("verify: {:.1} s", t.elapsed().as_secs_f64());
    assert!(report.is_ok(), "{report:?}");
    let stats = b.ledger.stats().unwrap();
    eprintln!(
        "storage: {:?} bytes for {} record bytes + {} hash bytes",
        stats.storage_bytes,
        stats.record_bytes,
        stats.stored_hashes * 32
    );
}
