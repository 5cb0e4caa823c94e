//! Altering any stored byte (record, hash, index column, checkpoint) is caught by `verify`,
//! which names the first bad entry.

use provmark_ledger::merkle::{Hash, NodeId};
use provmark_ledger::{Ledger, NoteVerifier, ProblemKind};

use crate::common::{self, records, signer, Backend};

/// Raw SQL access to a backend's tables, to play the attacker.
trait Raw {
    fn get_blob(&mut self, table: &str, col: &str, key: &str, k: i64) -> Vec<u8>;
    fn set_blob(&mut self, table: &str, col: &str, key: &str, k: i64, v: &[u8]);
    fn get_text(&mut self, size: i64) -> String;
    fn set_text(&mut self, size: i64, v: &str);
    fn exec(&mut self, sql: &str);
    fn fp_rows(&mut self, seg: i64) -> Vec<(i64, i64, Vec<u8>)>;
    fn set_fp_row(&mut self, seg: i64, part: i64, grp: i64, v: &[u8]);
}

impl Raw for rusqlite::Connection {
    fn get_blob(&mut self, table: &str, col: &str, key: &str, k: i64) -> Vec<u8> {
        self.query_row(&format!("SELECT {col} FROM {table} WHERE {key} = ?1"), [k], |r| r.get(0))
            .unwrap()
    }
    fn set_blob(&mut self, table: &str, col: &str, key: &str, k: i64, v: &[u8]) {
        self.execute(
            &format!("UPDATE {table} SET {col} = ?1 WHERE {key} = ?2"),
            rusqlite::params![v, k],
        )
        .unwrap();
    }
    fn get_text(&mut self, size: i64) -> String {
        self.query_row("SELECT note FROM checkpoints WHERE size = ?1", [size], |r| r.get(0))
            .unwrap()
    }
    fn set_text(&mut self, size: i64, v: &str) {
        self.execute(
            "UPDATE checkpoints SET note = ?1 WHERE size = ?2",
            rusqlite::params![v, size],
        )
        .unwrap();
    }
    fn exec(&mut self, sql: &str) {
        self.execute_batch(sql).unwrap();
    }
    fn fp_rows(&mut self, seg: i64) -> Vec<(i64, i64, Vec<u8>)> {
        let mut st =
            self.prepare("SELECT part, grp, postings FROM fp_rows WHERE seg = ?1").unwrap();
        let rows = st.query_map([seg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        rows.map(Result::unwrap).collect()
    }
    fn set_fp_row(&mut self, seg: i64, part: i64, grp: i64, v: &[u8]) {
        self.execute(
            "UPDATE fp_rows SET postings = ?1 WHERE seg = ?2 AND part = ?3 AND grp = ?4",
            rusqlite::params![v, seg, part, grp],
        )
        .unwrap();
    }
}

impl Raw for postgres::Client {
    fn get_blob(&mut self, table: &str, col: &str, key: &str, k: i64) -> Vec<u8> {
        self.query_one(&format!("SELECT {col} FROM {table} WHERE {key} = $1"), &[&k])
            .unwrap()
            .get(0)
    }
    fn set_blob(&mut self, table: &str, col: &str, key: &str, k: i64, v: &[u8]) {
        self.execute(&format!("UPDATE {table} SET {col} = $1 WHERE {key} = $2"), &[&v, &k])
            .unwrap();
    }
    fn get_text(&mut self, size: i64) -> String {
        self.query_one("SELECT note FROM checkpoints WHERE size = $1", &[&size]).unwrap().get(0)
    }
    fn set_text(&mut self, size: i64, v: &str) {
        self.execute("UPDATE checkpoints SET note = $1 WHERE size = $2", &[&v, &size]).unwrap();
    }
    fn exec(&mut self, sql: &str) {
        self.batch_execute(sql).unwrap();
    }
    fn fp_rows(&mut self, seg: i64) -> Vec<(i64, i64, Vec<u8>)> {
        self.query("SELECT part, grp, postings FROM fp_rows WHERE seg = $1", &[&seg])
            .unwrap()
            .iter()
            .map(|r| (i64::from(r.get::<_, i32>(0)), i64::from(r.get::<_, i32>(1)), r.get(2)))
            .collect()
    }
    fn set_fp_row(&mut self, seg: i64, part: i64, grp: i64, v: &[u8]) {
        let (part, grp) = (part as i32, grp as i32);
        self.execute(
            "UPDATE fp_rows SET postings = $1 WHERE seg = $2 AND part = $3 AND grp = $4",
            &[&v, &seg, &part, &grp],
        )
        .unwrap();
    }
}

const N: u64 = 24;

fn build(b: &mut Backend) -> NoteVerifier {
    let s = signer();
    b.ledger.append_batch(&records(0..7)).unwrap();
    b.ledger.checkpoint(&s).unwrap();
    b.ledger.append_batch(&records(7..16)).unwrap();
    b.ledger.checkpoint(&s).unwrap();
    b.ledger.append_batch(&records(16..N)).unwrap();
    b.ledger.checkpoint(&s).unwrap();
    let v = s.verifier().clone();
    assert!(b.ledger.verify(Some(&v)).unwrap().is_ok());
    v
}

/// Expects `verify` to report `kind` at `index`.
fn expect(l: &mut Ledger, v: &NoteVerifier, kind: ProblemKind, index: u64, what: &str) {
    let report = l.verify(Some(v)).unwrap();
    let p = report.problem.unwrap_or_else(|| panic!("not caught: {what}"));
    assert_eq!((p.kind, p.index), (kind, Some(index)), "{what}: {}", p.detail);
}

fn check_all(l: &mut Ledger, raw: &mut dyn Raw, v: &NoteVerifier, every_record_byte: bool) {
    // Records: every byte of some records, one byte of each of the others.
    for i in 0..N as i64 {
        let orig = raw.get_blob("records", "record", "idx", i);
        let positions: Vec<usize> = if every_record_byte && i % 8 == 3 {
            (0..orig.len()).collect()
        } else {
            vec![(i as usize * 37) % orig.len()]
        };
        for p in positions {
            for flip in [0x01u8, 0x80] {
                let mut bad = orig.clone();
                bad[p] ^= flip;
                raw.set_blob("records", "record", "idx", i, &bad);
                let report = l.verify(Some(v)).unwrap();
                let problem =
                    report.problem.unwrap_or_else(|| panic!("record {i} byte {p} not caught"));
                assert_eq!(
                    problem.index,
                    Some(i as u64),
                    "record {i} byte {p}: {}",
                    problem.detail
                );
            }
        }
        raw.set_blob("records", "record", "idx", i, &orig);
    }
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // Stored hashes (in tiles of 256): each one, named by the record that completes it.
    let count = provmark_ledger::merkle::stored_hash_count(N);
    for level in 0u8..5 {
        for j in 0..(N >> level) {
            let id = NodeId::new(level, j);
            let si = id.stored_index() as i64;
            assert!((si as u64) < count);
            let (tile, off) = (si / 256, (si % 256) as usize * 32);
            let orig = raw.get_blob("hash_tiles", "hashes", "tile", tile);
            let mut bad = orig.clone();
            bad[off + (j as usize * 5) % 32] ^= 0x10;
            raw.set_blob("hash_tiles", "hashes", "tile", tile, &bad);
            let completed_by = ((j + 1) << level) - 1;
            expect(l, v, ProblemKind::Hash, completed_by, &format!("hash {level}/{j}"));
            raw.set_blob("hash_tiles", "hashes", "tile", tile, &orig);
        }
    }
    // A truncated tile reads as missing hashes from the cut on.
    let orig = raw.get_blob("hash_tiles", "hashes", "tile", 0);
    raw.set_blob("hash_tiles", "hashes", "tile", 0, &orig[..orig.len() - 32]);
    assert_eq!(l.verify(Some(v)).unwrap().problem.unwrap().kind, ProblemKind::Hash);
    raw.set_blob("hash_tiles", "hashes", "tile", 0, &orig);
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // Index columns.
    for i in [0u64, 13, N - 1] {
        raw.exec(&format!("UPDATE records SET media_key = media_key + 256 WHERE idx = {i}"));
        expect(l, v, ProblemKind::Index, i, "media key column");
        raw.exec(&format!("UPDATE records SET media_key = media_key - 256 WHERE idx = {i}"));
    }
    raw.exec("UPDATE records SET content_id = content_id + 1 WHERE idx = 5");
    expect(l, v, ProblemKind::Index, 5, "content id column");
    raw.exec("UPDATE records SET content_id = content_id - 1 WHERE idx = 5");
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // Packed fingerprints: a byte of some entries, and a presence bit of a record without.
    let orig = raw.get_blob("fp_tiles", "fps", "tile", 0);
    for k in [4usize, 11, 23] {
        let mut bad = orig.clone();
        bad[128 + 32 * k + 7] ^= 2;
        raw.set_blob("fp_tiles", "fps", "tile", 0, &bad);
        expect(l, v, ProblemKind::Index, k as u64, &format!("packed fingerprint {k}"));
    }
    let mut bad = orig.clone();
    bad[0] ^= 0x80 >> 3;
    raw.set_blob("fp_tiles", "fps", "tile", 0, &bad);
    expect(l, v, ProblemKind::Index, 3, "presence bit of a record without fingerprint");
    raw.set_blob("fp_tiles", "fps", "tile", 0, &orig);
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // The fingerprint index: every stored posting of the first segment, one bit each.
    let rows = raw.fp_rows(0);
    assert!(!rows.is_empty(), "the test log has fingerprint segments");
    for (part, grp, blob) in &rows {
        for at in (0..blob.len()).step_by(4) {
            let mut bad = blob.clone();
            bad[at] ^= 1;
            raw.set_fp_row(0, *part, *grp, &bad);
            expect(l, v, ProblemKind::Index, 0, &format!("posting {part}/{grp}@{at}"));
        }
        raw.set_fp_row(0, *part, *grp, blob);
    }
    // A segment's bounds, and a row of no segment.
    raw.exec("UPDATE fp_segments SET bits = bits + 1 WHERE start = 16");
    expect(l, v, ProblemKind::Index, 16, "segment bits");
    raw.exec("UPDATE fp_segments SET bits = bits - 1 WHERE start = 16");
    raw.exec("INSERT INTO fp_rows (seg, part, grp, postings) SELECT 99999, part, grp, postings FROM fp_rows WHERE seg = 0");
    let p = l.verify(Some(v)).unwrap().problem.expect("orphan fingerprint row not caught");
    assert_eq!((p.kind, p.index), (ProblemKind::Index, None), "{}", p.detail);
    raw.exec("DELETE FROM fp_rows WHERE seg = 99999");
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // Checkpoints: every ASCII byte of each note.
    for size in [7i64, 16, N as i64] {
        let orig = raw.get_text(size);
        for (p, c) in orig.char_indices() {
            if !c.is_ascii() {
                continue;
            }
            let mut bad: Vec<u8> = orig.clone().into_bytes();
            bad[p] ^= 0x01;
            let bad = String::from_utf8(bad).unwrap();
            raw.set_text(size, &bad);
            expect(
                l,
                v,
                ProblemKind::Checkpoint,
                size as u64,
                &format!("checkpoint {size} byte {p}"),
            );
        }
        raw.set_text(size, &orig);
    }
    assert!(l.verify(Some(v)).unwrap().is_ok());

    // Deleting the last record is caught (a checkpoint covers it).
    raw.exec(&format!("DELETE FROM records WHERE idx = {}", N - 1));
    assert!(!l.verify(Some(v)).unwrap().is_ok());
}

#[test]
fn sqlite_every_altered_byte_is_caught() {
    let mut b = common::sqlite();
    let v = build(&mut b);
    let mut raw = rusqlite::Connection::open(b.sqlite_path.as_ref().unwrap()).unwrap();
    // The sorted runs of the lookup indexes (SQLite): a changed index or key is caught.
    for (table, at) in [("ids", 8usize), ("ids", 3), ("media", 8), ("media", 0)] {
        let orig = raw.get_blob(table, "entries", "tile", 0);
        let mut bad = orig.clone();
        bad[at] ^= 1;
        raw.set_blob(table, "entries", "tile", 0, &bad);
        let p = b.ledger.verify(Some(&v)).unwrap().problem.expect("run entry not caught");
        assert_eq!(p.kind, ProblemKind::Index, "{table}@{at}: {}", p.detail);
        raw.set_blob(table, "entries", "tile", 0, &orig);
    }
    assert!(b.ledger.verify(Some(&v)).unwrap().is_ok());
    check_all(&mut b.ledger, &mut raw, &v, true);
}

#[test]
fn postgres_every_altered_byte_is_caught() {
    let Some(mut b) = common::postgres() else { return };
    let v = build(&mut b);
    let mut raw = b.pg.as_ref().unwrap().client();
    check_all(&mut b.ledger, &mut raw, &v, false);
}

#[test]
fn verify_without_key_still_checks_roots() {
    let mut b = common::sqlite();
    let v = build(&mut b);
    let mut raw = rusqlite::Connection::open(b.sqlite_path.as_ref().unwrap()).unwrap();
    let note = raw.get_text(16);
    // Swap in the checkpoint of another size: root and size no longer match the row.
    let other = raw.get_text(7);
    raw.set_text(16, &other);
    let p = b.ledger.verify(None).unwrap().problem.unwrap();
    assert_eq!((p.kind, p.index), (ProblemKind::Checkpoint, Some(16)));
    raw.set_text(16, &note);
    assert!(b.ledger.verify(None).unwrap().is_ok());
    let _: Hash = *b.ledger.latest_checkpoint().unwrap().unwrap().root();
    assert!(b.ledger.verify(Some(&v)).unwrap().is_ok());
}
