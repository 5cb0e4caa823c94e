//! Ledger benches: durable batch append on SQLite, inclusion proofs and lookups in a
//! 1,000,000-record log.
//!
//! The 1M-record log is built once (about 20-40 s) at `target/bench-ledger/1m.db` and
//! reused by later runs; delete it to rebuild. `PROVMARK_BENCH_LEDGER_SIZE` changes the
//! size (then the file name says the size).

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::unwrap_used, reason = "benches fail loudly")]
#![allow(clippy::print_stderr, reason = "the bench says when it builds its 1M-record log")]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use provmark_core::{ContentId, KeyId};
use provmark_ledger::{Fingerprint, LabelFlags, Ledger, MediaKind, NoteSigner, Record};

const BATCH: u64 = 10_000;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A realistic record: every field filled, a fingerprint, a 12-character model name.
fn record(n: u64) -> Record {
    let mut sha = [0u8; 32];
    for (k, c) in sha.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(n ^ (k as u64) << 56).to_be_bytes());
    }
    let mut fp = [0u8; 32];
    for (k, c) in fp.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(!n ^ (k as u64) << 56).to_be_bytes());
    }
    Record {
        content_id: ContentId::from_u64(mix(n)),
        kind: MediaKind::Image,
        producer_code: "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse().unwrap(),
        key_id: "0011223344556677".parse::<KeyId>().unwrap(),
        model: "sdxl-turbo-1".into(),
        created_unix: 1_760_000_000 + n,
        media_sha256: sha,
        fingerprint: Some(Fingerprint(fp)),
        watermark_algorithm: "provmark-ss".into(),
        watermark_version: 1,
        visible_label: LabelFlags::IMAGE_TEXT,
        batch_id: n / BATCH,
    }
}

fn big_log() -> (Ledger, u64) {
    let size: u64 = std::env::var("PROVMARK_BENCH_LEDGER_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-ledger");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(if size == 1_000_000 { "1m.db".to_owned() } else { format!("{size}.db") });
    let mut ledger = provmark_ledger::open(&format!("sqlite:{}", path.display())).unwrap();
    let mut have = ledger.size().unwrap();
    if have < size {
        eprintln!("building a {size}-record ledger at {} (once)", path.display());
    }
    while have < size {
        let end = (have + BATCH).min(size);
        let batch: Vec<Record> = (have..end).map(record).collect();
        ledger.append_batch(&batch).unwrap();
        have = end;
    }
    let signer = NoteSigner::from_signing_key(
        "bench.example/log",
        &provmark_core::SigningKey::from_seed(&[3; 32]),
    )
    .unwrap();
    ledger.set_signer(signer);
    (ledger, size)
}

fn bench_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger_append");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(BATCH));
    // Each iteration commits one batch of 10,000 records durably (WAL, synchronous=FULL)
    // to a log that grows across iterations, as a stamping run does.
    let dir = tempfile::tempdir().unwrap();
    let mut ledger =
        provmark_ledger::open(&format!("sqlite:{}", dir.path().join("a.db").display())).unwrap();
    let mut next = 0u64;
    g.bench_function("sqlite_batch_10000", |b| {
        b.iter_batched(
            || {
                let batch: Vec<Record> = (next..next + BATCH).map(record).collect();
                next += BATCH;
                batch
            },
            |batch| ledger.append_batch(&batch).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let mut mem = provmark_ledger::open("memory:").unwrap();
    let mut next = 0u64;
    g.bench_function("memory_batch_10000", |b| {
        b.iter_batched(
            || {
                let batch: Vec<Record> = (next..next + BATCH).map(record).collect();
                next += BATCH;
                batch
            },
            |batch| mem.append_batch(&batch).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_prove_and_lookup(c: &mut Criterion) {
    let (mut ledger, size) = big_log();
    let mut g = c.benchmark_group("ledger_1m");
    g.sample_size(50);
    let mut k = 0u64;
    g.bench_function("prove_inclusion", |b| {
        b.iter(|| {
            k = (k + 7_919) % size;
            ledger.prove_inclusion(k, size).unwrap()
        })
    });
    g.bench_function("prove_consistency", |b| {
        b.iter(|| {
            k = (k + 7_919) % size;
            ledger.prove_consistency(k + 1, size).unwrap()
        })
    });
    // Make sure a checkpoint covers the whole log, so lookups do not sign.
    ledger
        .checkpoint(
            &NoteSigner::from_signing_key(
                "bench.example/log",
                &provmark_core::SigningKey::from_seed(&[3; 32]),
            )
            .unwrap(),
        )
        .unwrap();
    g.bench_function("find_by_id_with_proof", |b| {
        b.iter(|| {
            k = (k + 7_919) % size;
            ledger.find_by_id(ContentId::from_u64(mix(k))).unwrap().unwrap()
        })
    });
    g.bench_function("find_by_content_hash_with_proof", |b| {
        b.iter(|| {
            k = (k + 7_919) % size;
            let sha = record(k).media_sha256;
            ledger.find_by_content_hash(&sha).unwrap()
        })
    });
    // Nearest fingerprint (multi-index hashing segments + a scanned tail), a near copy
    // present: at the bench's 16 bits, and at the image (48) and audio (32) radii, where
    // `d` bits of the query differ from the logged fingerprint.
    g.sample_size(10);
    for (r, d) in [(16u32, 4u32), (32, 12), (48, 20)] {
        g.bench_function(format!("find_nearest_fingerprint_r{r}"), |b| {
            b.iter(|| {
                k = (k + 7_919) % size;
                let mut fp = record(k).fingerprint.unwrap().0;
                for bit in 0..d as usize {
                    fp[(bit * 11) % 32] ^= 1 << (bit % 8);
                }
                ledger.find_nearest_fingerprint(&fp, r).unwrap().unwrap()
            })
        });
    }
    // No record within the radius: the whole index is probed (the worst case).
    for r in [16u32, 32, 48] {
        g.bench_function(format!("nearest_fingerprint_absent_r{r}"), |b| {
            b.iter(|| {
                k = (k + 7_919) % size;
                let mut fp = record(k).fingerprint.unwrap().0;
                fp.iter_mut().for_each(|x| *x ^= 0x5a);
                assert!(ledger.find_nearest_fingerprint(&fp, r).unwrap().is_none());
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_append, bench_prove_and_lookup);
criterion_main!(benches);
