//! Cross-check against the Go reference implementation of transparency logs
//! (`golang.org/x/mod/sumdb/note` and `sumdb/tlog`, from Debian's `golang-go` and
//! `golang-golang-x-mod-dev`, used offline in GOPATH mode): signed checkpoints, inclusion
//! and consistency proofs, and the exported tiles must all be accepted, and altered ones
//! rejected. The checker is `tests/go/checker.go`.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use provmark_ledger::{Checkpoint, Ledger};
use serde_json::{json, Value};

use crate::common::{records, signer};

const GOPATH: &str = "/usr/share/gocode";

/// `go` and the x/mod sources, or `None` with a notice (a failure in CI).
fn go_available() -> bool {
    let go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    let src = Path::new(GOPATH).join("src/golang.org/x/mod/sumdb/tlog").is_dir();
    if go && src {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI must install golang-go and golang-golang-x-mod-dev (see .ci/run)"
    );
    eprintln!("notice: `go` or {GOPATH}/src/golang.org/x/mod missing; skipping the Go cross-check");
    false
}

fn inclusion(l: &mut Ledger, index: u64, cp: &Checkpoint) -> Value {
    let (_, bytes) = l.record(index).unwrap().unwrap();
    let proof = l.prove_inclusion(index, cp.size()).unwrap();
    json!({
        "index": index,
        "record": B64.encode(&bytes),
        "leaf_hash": B64.encode(provmark_ledger::leaf_hash(&bytes)),
        "proof": proof.hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        "checkpoint": cp.note(),
    })
}

fn consistency(l: &mut Ledger, old: &Checkpoint, new: &Checkpoint) -> Value {
    let proof = l.prove_consistency(old.size(), new.size()).unwrap();
    json!({
        "old_checkpoint": old.note(),
        "new_checkpoint": new.note(),
        "proof": proof.hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
    })
}

fn run_checker(input: &Value) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/checker.go");
    Command::new("go")
        .arg("run")
        .arg(&checker)
        .arg(&file)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", dir.path().join("gocache"))
        .output()
        .unwrap()
}

#[test]
fn go_reference_accepts_proofs_checkpoints_and_tiles() {
    if !go_available() {
        return;
    }
    let s = signer();
    let mut l = provmark_ledger::open("memory:").unwrap();
    // 70,000 records: full and partial tiles on three levels (as in the tlog-tiles spec).
    let mut cps = Vec::new();
    for (start, end) in [(0u64, 1), (1, 1000), (1000, 65_536), (65_536, 65_537), (65_537, 70_000)] {
        l.append_batch(&records(start..end)).unwrap();
        cps.push(l.checkpoint(&s).unwrap());
    }
    let last = cps.last().unwrap().clone();
    let mut incl = Vec::new();
    for cp in &cps {
        for k in [0u64, 1, 255, 256, 999, 65_535, 65_536, 69_999] {
            if k < cp.size() {
                incl.push(inclusion(&mut l, k, cp));
            }
        }
    }
    for k in (0..70_000).step_by(2_111) {
        incl.push(inclusion(&mut l, k, &last));
    }
    let mut cons = Vec::new();
    for (i, old) in cps.iter().enumerate() {
        for new in &cps[i..] {
            cons.push(consistency(&mut l, old, new));
        }
    }
    let tiles = tempfile::tempdir().unwrap();
    l.export_tiles(tiles.path(), &last).unwrap();

    // Altered copies that Go must reject.
    let mut bad_incl = Vec::new();
    let mut p = incl[incl.len() - 1].clone();
    let mut h = B64.decode(p["proof"][0].as_str().unwrap()).unwrap();
    h[0] ^= 1;
    p["proof"][0] = json!(B64.encode(h));
    bad_incl.push(p);
    let mut p = incl[incl.len() - 1].clone();
    p["index"] = json!(p["index"].as_u64().unwrap() + 1);
    bad_incl.push(p);
    let mut bad_cons = Vec::new();
    let mut c = consistency(&mut l, &cps[1], &last);
    c["proof"].as_array_mut().unwrap().pop();
    bad_cons.push(c);
    let bad_note = last.note().replace("\n70000\n", "\n70001\n");

    let input = json!({
        "vkey": s.verifier().to_vkey(),
        "note": last.note(),
        "inclusion": incl,
        "consistency": cons,
        "tile_dir": tiles.path(),
        "must_fail": { "inclusion": bad_incl, "consistency": bad_cons, "notes": [bad_note] },
    });
    let out = run_checker(&input);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Go checker failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("go-tlog ok"), "{stdout}");
    assert!(stdout.contains("70000 tile entries"), "{stdout}");
    eprintln!("{stdout}");
}

#[test]
fn go_reference_rejects_a_checker_input_it_should() {
    // The checker itself can fail: a proof against the wrong checkpoint is refused.
    if !go_available() {
        return;
    }
    let s = signer();
    let mut l = provmark_ledger::open("memory:").unwrap();
    l.append_batch(&records(0..10)).unwrap();
    let cp10 = l.checkpoint(&s).unwrap();
    l.append_batch(&records(10..11)).unwrap();
    let cp11 = l.checkpoint(&s).unwrap();
    let mut p = inclusion(&mut l, 3, &cp10);
    p["checkpoint"] = json!(cp11.note());
    let out = run_checker(&json!({ "vkey": s.verifier().to_vkey(), "inclusion": [p] }));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("go-tlog FAIL"));
}
