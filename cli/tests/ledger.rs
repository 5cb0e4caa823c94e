//! End-to-end tests of `provmark ledger …`.

#![allow(clippy::unwrap_used, reason = "test helpers may panic")]

use std::path::Path;

use assert_cmd::Command;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use provmark_core::{ContentId, Identity};
use provmark_ledger::{Checkpoint, InclusionProof, LabelFlags, MediaKind, NoteVerifier, Record};

fn provmark() -> Command {
    Command::cargo_bin("provmark").unwrap()
}

/// An identity and a SQLite ledger with 20 records; returns (home, ledger URL, ids).
fn setup(dir: &Path) -> (std::path::PathBuf, String, Vec<ContentId>) {
    let home = dir.join("id");
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();
    let id = Identity::load(&home).unwrap();
    let url = format!("sqlite:{}", dir.join("ledger.db").display());
    let mut ledger = provmark_ledger::open(&url).unwrap();
    let ids: Vec<ContentId> = (0..20).map(|n| ContentId::from_u64(0xabc0_0000 + n)).collect();
    let records: Vec<Record> = ids
        .iter()
        .enumerate()
        .map(|(n, cid)| Record {
            content_id: *cid,
            kind: MediaKind::Image,
            producer_code: id.provider.producer_code.clone(),
            key_id: id.signing_key.key_id(),
            model: "cli-test".into(),
            created_unix: 1_760_000_000 + n as u64,
            media_sha256: [n as u8; 32],
            fingerprint: None,
            watermark_algorithm: "provmark-ss".into(),
            watermark_version: 1,
            visible_label: LabelFlags::NONE,
            batch_id: 1,
        })
        .collect();
    ledger.append_batch(&records[..5]).unwrap();
    ledger.append_batch(&records[5..]).unwrap();
    (home, url, ids)
}

fn ledger_cmd(home: &Path, url: &str) -> Command {
    let mut c = provmark();
    c.arg("ledger").arg("--home").arg(home).args(["--ledger", url]);
    c
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn prove_json_verifies_offline_with_the_printed_verifier_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, url, ids) = setup(tmp.path());
    let vkey = stdout(&ledger_cmd(&home, &url).arg("verifier-key").assert().success());
    let verifier = NoteVerifier::from_vkey(vkey.trim()).unwrap();

    let out = stdout(
        &ledger_cmd(&home, &url).args(["prove", &ids[7].to_string(), "--json"]).assert().success(),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["index"], 7);
    let record = B64.decode(v["record"].as_str().unwrap()).unwrap();
    assert_eq!(Record::decode(&record).unwrap().content_id, ids[7]);
    let leaf = provmark_ledger::leaf_hash(&record);
    assert_eq!(v["leaf_hash"].as_str().unwrap(), B64.encode(leaf));
    let cp = Checkpoint::open(v["checkpoint"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!(cp.size(), 20);
    let hashes = v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    InclusionProof { index: 7, tree_size: cp.size(), hashes }.verify(&leaf, cp.root()).unwrap();

    // Text output names the record; an unknown ID exits 3.
    let text =
        stdout(&ledger_cmd(&home, &url).args(["prove", &ids[3].to_string()]).assert().success());
    assert!(text.contains("cli-test") && text.contains("index          3"), "{text}");
    ledger_cmd(&home, &url).args(["prove", "00000000000000ff"]).assert().code(3);
    ledger_cmd(&home, &url).args(["prove", "not-an-id"]).assert().code(1);
}

#[test]
fn consistency_checkpoint_verify_stats_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, url, _) = setup(tmp.path());
    let cp_text = stdout(&ledger_cmd(&home, &url).arg("checkpoint").assert().success());
    assert!(cp_text.contains("\n20\n"), "{cp_text}");

    let out = stdout(
        &ledger_cmd(&home, &url).args(["consistency", "--from", "5", "--json"]).assert().success(),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vkey = stdout(&ledger_cmd(&home, &url).arg("verifier-key").assert().success());
    let verifier = NoteVerifier::from_vkey(vkey.trim()).unwrap();
    let old = Checkpoint::open(v["old_checkpoint"].as_str().unwrap(), &verifier).unwrap();
    let new = Checkpoint::open(v["new_checkpoint"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!((old.size(), new.size()), (5, 20));
    let hashes = v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    provmark_ledger::ConsistencyProof { old_size: 5, new_size: 20, hashes }
        .verify(old.root(), new.root())
        .unwrap();
    ledger_cmd(&home, &url).args(["consistency", "--from", "21"]).assert().code(1);

    let out = stdout(&ledger_cmd(&home, &url).args(["verify", "--json"]).assert().success());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["ok"].as_bool(), v["size"].as_u64()), (Some(true), Some(20)));
    assert_eq!(v["signatures_checked"], true);

    let out = stdout(&ledger_cmd(&home, &url).args(["stats", "--json"]).assert().success());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["size"], 20);
    assert_eq!(v["backend"], "sqlite");

    let tiles = tmp.path().join("tiles");
    let out = stdout(
        &ledger_cmd(&home, &url)
            .args(["export", "--jsonl", "-", "--tiles"])
            .arg(&tiles)
            .assert()
            .success(),
    );
    assert_eq!(out.lines().count(), 20);
    assert!(tiles.join("tile/0/000.p/20").is_file());
    assert!(tiles.join("tile/entries/000.p/20").is_file());
    ledger_cmd(&home, &url).arg("export").assert().code(1);

    // Tamper with one stored hash: verify names it and exits 2.
    let db = rusqlite::Connection::open(tmp.path().join("ledger.db")).unwrap();
    // (Stored hash 3 is bytes 96..128 of hash tile 0.)
    let mut tile: Vec<u8> =
        db.query_row("SELECT hashes FROM hash_tiles WHERE tile = 0", [], |r| r.get(0)).unwrap();
    tile[96..128].fill(0);
    db.execute("UPDATE hash_tiles SET hashes = ?1 WHERE tile = 0", [&tile]).unwrap();
    let out = stdout(&ledger_cmd(&home, &url).arg("verify").assert().code(2));
    assert!(out.contains("record 2"), "{out}");
}

#[test]
fn ledger_without_identity_explains_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", tmp.path().join("l.db").display());
    let out = provmark()
        .args(["ledger", "checkpoint", "--ledger", &url, "--home"])
        .arg(tmp.path().join("none"))
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("provmark keygen"), "{err}");
    // verify works without keys (signatures unchecked, with a notice).
    provmark()
        .args(["ledger", "verify", "--ledger", &url, "--home"])
        .arg(tmp.path().join("none"))
        .assert()
        .success();
}
