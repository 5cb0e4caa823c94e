//! A ledger written by the previous layout (schema 1: a row per stored hash, a fingerprint
//! side table, B-tree indexes on the record columns) opens, migrates, verifies, answers
//! lookups and takes new appends. `tests/data/v1-main-1000.db` was made by provmark before
//! this layout: `ledger-crash-helper v1.db 250 3`, `provmark ledger checkpoint`, the helper
//! again with 4 batches, a second checkpoint (1,000 records, checkpoints at 750 and 1,000).

use provmark_core::ContentId;
use provmark_ledger::store::postgres::PostgresStore;
use provmark_ledger::store::sqlite::SqliteStore;
use provmark_ledger::{Ledger, NoteVerifier};

use crate::common::{self, mix};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v1-main-1000.db");
const VKEY: &str = include_str!("../data/v1-main-1000.vkey");

/// The helper's media hash / fingerprint of record `n`.
fn spread(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, c) in out.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(n ^ ((k as u64) << 56)).to_be_bytes());
    }
    out
}

fn check_migrated(l: &mut Ledger) {
    let v = NoteVerifier::from_vkey(VKEY.trim()).unwrap();
    let report = l.verify(Some(&v)).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.size, report.checkpoints), (1000, 2));
    assert_eq!(l.latest_checkpoint().unwrap().unwrap().size(), 1000);
    for n in [0u64, 1, 249, 250, 777, 999] {
        let f = l.find_by_id(ContentId::from_u64(mix(n))).unwrap().unwrap();
        assert_eq!(f.index, n);
        f.verify(&v).unwrap();
        assert_eq!(l.find_by_content_hash(&spread(n)).unwrap()[0].index, n);
        let mut near = spread(!n);
        near[5] ^= 0x11;
        let f = l.find_nearest_fingerprint(&near, 48).unwrap().unwrap();
        assert_eq!((f.index, f.distance), (n, 2));
    }
    let stats = l.stats().unwrap();
    assert_eq!(stats.stored_hashes, 2 * 1000 - 6);
}

/// One new record on a migrated log (opened with small index sizes): the fingerprint index
/// is built over the old records, and everything still verifies and answers.
fn append_after_migration(l: &mut Ledger) {
    let (mut r, _) = l.record(3).unwrap().unwrap();
    r.content_id = ContentId::from_u64(0x1234_5678);
    assert_eq!(l.append_batch(&[r]).unwrap(), vec![1000]);
    assert!(l.store_mut().fingerprint_segments().unwrap().len() >= 2);
    let report = l.verify(None).unwrap();
    assert!(report.is_ok(), "{report:?}");
    for n in [0u64, 500, 999] {
        let mut near = spread(!n);
        near[9] ^= 0x81;
        assert_eq!(l.store_mut().nearest_fingerprint(&near, 32).unwrap(), Some((n, 2)));
    }
}

#[test]
fn sqlite_schema_1_log_migrates_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    store.set_index_sizes(100, 300);
    let mut l = Ledger::new(Box::new(store));
    check_migrated(&mut l);
    // Appends go on from there, and a reopened file is not migrated twice.
    let old = vec![l.record(3).unwrap().unwrap().1, l.record(998).unwrap().unwrap().1];
    let again: Vec<u64> = l.append_encoded(&old).unwrap();
    assert_eq!(again, vec![3, 998]);
    drop(l);
    let mut l = common::open_sqlite(&path);
    check_migrated(&mut l);
    append_after_migration(&mut l);
}

const V1_POSTGRES: &str = "
CREATE TABLE log_state (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL);
CREATE TABLE records (idx BIGINT PRIMARY KEY, content_id BIGINT NOT NULL UNIQUE,
    media_key BIGINT NOT NULL, record BYTEA NOT NULL);
CREATE INDEX records_media_key ON records (media_key);
CREATE TABLE fingerprints (idx BIGINT PRIMARY KEY, fp BYTEA NOT NULL);
CREATE TABLE hashes (i BIGINT PRIMARY KEY, h BYTEA NOT NULL);
CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL);
";

#[test]
fn postgres_schema_1_log_migrates_and_verifies() {
    let Some(b) = common::postgres() else { return };
    let pg = b.pg.as_ref().unwrap();
    drop(b.ledger);
    // Rebuild the fixture's schema-1 tables in a fresh schema, row for row.
    let mut c = pg.client();
    c.batch_execute(&format!(
        "DROP SCHEMA {s} CASCADE; CREATE SCHEMA {s}; SET search_path TO {s}; {V1_POSTGRES}",
        s = pg.schema
    ))
    .unwrap();
    let src =
        rusqlite::Connection::open_with_flags(FIXTURE, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut tx = c.transaction().unwrap();
    let mut st = src.prepare("SELECT idx, content_id, media_key, record FROM records").unwrap();
    for r in st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .unwrap()
    {
        let (i, id, k, rec) = r.unwrap();
        tx.execute("INSERT INTO records VALUES ($1, $2, $3, $4)", &[&i, &id, &k, &rec]).unwrap();
    }
    let mut st = src.prepare("SELECT idx, fp FROM fingerprints").unwrap();
    for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))).unwrap() {
        let (i, fp) = r.unwrap();
        tx.execute("INSERT INTO fingerprints VALUES ($1, $2)", &[&i, &fp]).unwrap();
    }
    let mut st = src.prepare("SELECT i, h FROM hashes").unwrap();
    for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))).unwrap() {
        let (i, h) = r.unwrap();
        tx.execute("INSERT INTO hashes VALUES ($1, $2)", &[&i, &h]).unwrap();
    }
    let mut st = src.prepare("SELECT size, note FROM checkpoints").unwrap();
    for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (s, n) = r.unwrap();
        tx.execute("INSERT INTO checkpoints VALUES ($1, $2)", &[&s, &n]).unwrap();
    }
    tx.execute("INSERT INTO log_state VALUES (1, 1000)", &[]).unwrap();
    tx.commit().unwrap();
    let store = PostgresStore::connect_in_schema(&pg.url, Some(&pg.schema)).unwrap();
    let mut l = Ledger::new(Box::new(store));
    check_migrated(&mut l);
    let mut l = pg.open();
    check_migrated(&mut l);
    append_after_migration(&mut l);
}
