//! Test helper for the kill -9 test (`tests/it/crash.rs`): appends batches of
//! deterministic records to a SQLite ledger and prints `committed <batch> <first> <last>`
//! after each durable commit, so the test knows what was reported committed before it
//! kills the process.
//!
//! Usage: `ledger-crash-helper PATH BATCH_SIZE BATCHES [SEGMENT LOOKUP_MERGE]` (the last
//! two set small index sizes, so a kill can land in a segment build or a lookup merge). Every run starts again at batch
//! 0, so a restarted run re-appends what is already there (which must be deduplicated)
//! and then goes on. Records are realistic (random media hash, a fingerprint), so the
//! helper also serves as the whole-process append timing in the README.

#![allow(clippy::print_stdout, reason = "the helper reports commits on stdout")]

use std::io::Write as _;

use provmark_core::{ContentId, KeyId};
use provmark_ledger::store::sqlite::SqliteStore;
use provmark_ledger::{Fingerprint, LabelFlags, MediaKind, Record};

/// Content ID of record `n` (splitmix64, as in the tests).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// 32 pseudo-random bytes from `n`: a realistic (random) media hash or fingerprint.
fn spread(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, c) in out.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(n ^ ((k as u64) << 56)).to_be_bytes());
    }
    out
}

/// `ledger-crash-helper --nearest PATH N RADIUS`: one whole-process fingerprint lookup
/// (for timings): the fingerprint of record `N` with 20 bits flipped, or, for `N = absent`,
/// one that is far from every record. Prints the index and distance found.
fn nearest(path: &str, n: &str, radius: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut fp = match n {
        "absent" => [0x5a; 32],
        n => spread(!n.parse::<u64>()?),
    };
    if n != "absent" {
        for bit in 0..20usize {
            fp[(bit * 11) % 32] ^= 1 << (bit % 8);
        }
    }
    let mut store = SqliteStore::open(std::path::Path::new(path))?;
    let found = provmark_ledger::LogStore::nearest_fingerprint(&mut store, &fp, radius.parse()?)?;
    println!("{found:?}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path, n, radius] = args.as_slice() {
        if flag == "--nearest" {
            return nearest(path, n, radius);
        }
    }
    let (path, batch_size, batches, sizes) = match args.as_slice() {
        [_, p, bs, b] => (p, bs, b, None),
        [_, p, bs, b, seg, merge] => (p, bs, b, Some((seg.parse::<u64>()?, merge.parse::<u64>()?))),
        _ => {
            return Err(
                "usage: ledger-crash-helper PATH BATCH_SIZE BATCHES [SEGMENT LOOKUP_MERGE]".into()
            )
        }
    };
    let batch_size: u64 = batch_size.parse()?;
    let batches: u64 = batches.parse()?;
    let key_id: KeyId = "0011223344556677".parse()?;
    let producer_code = "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse()?;
    let mut ledger = match sizes {
        None => provmark_ledger::open(&format!("sqlite:{path}"))?,
        Some((seg, merge)) => {
            let mut store = SqliteStore::open(std::path::Path::new(path))?;
            store.set_index_sizes(seg, merge);
            provmark_ledger::Ledger::new(Box::new(store))
        }
    };
    let mut out = std::io::stdout().lock();
    for b in 0..batches {
        let records: Vec<Record> = (b * batch_size..(b + 1) * batch_size)
            .map(|n| Record {
                content_id: ContentId::from_u64(mix(n)),
                kind: MediaKind::Image,
                producer_code: Clone::clone(&producer_code),
                key_id,
                model: "crash-test".into(),
                created_unix: n,
                media_sha256: spread(n),
                fingerprint: Some(Fingerprint(spread(!n))),
                watermark_algorithm: "provmark-ss".into(),
                watermark_version: 1,
                visible_label: LabelFlags::NONE,
                batch_id: b,
            })
            .collect();
        let idx = ledger.append_batch(&records)?;
        let (first, last) = (idx.first().copied().unwrap_or(0), idx.last().copied().unwrap_or(0));
        writeln!(out, "committed {b} {first} {last}")?;
        out.flush()?;
    }
    Ok(())
}
