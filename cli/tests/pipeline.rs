//! End to end: `stamp` a mixed folder, `verify` the outputs and their attacked copies
//! (JPEG 75, MP3 128k, metadata stripped by a decoder or by ffmpeg, a transplanted label),
//! `trace` an attacked copy and check its evidence with the Go reference transparency-log
//! code, survive `kill -9` at random moments of a 500-file batch, and report the visible
//! identifier named by the signed manifest.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(clippy::print_stderr, reason = "tests report what they skipped and checked")]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn provmark() -> Command {
    Command::cargo_bin("provmark").unwrap()
}

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(rel)
}

/// `provmark stamp --home HOME --out OUT`, for the caller to add flags and inputs.
fn stamp(home: &Path, out: &Path) -> Command {
    let mut c = provmark();
    c.arg("stamp").arg("--home").arg(home).arg("--out").arg(out);
    c
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ledger_size(home: &Path) -> u64 {
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    provmark_ledger::open(&url).unwrap().size().unwrap()
}

fn verify(home: &Path, files: &[&Path]) -> (i32, Vec<Value>) {
    let out = provmark()
        .arg("verify")
        .arg("--home")
        .arg(home)
        .arg("--json")
        .args(files)
        .output()
        .unwrap();
    (out.status.code().unwrap(), json_lines(&out.stdout))
}

/// Copies the ancillary chunks (`tEXt`, `iTXt`, `zTXt`) of PNG `from` into PNG `to`.
fn transplant_png_text(from: &[u8], to: &[u8]) -> Vec<u8> {
    fn chunks(b: &[u8]) -> Vec<(&[u8], &[u8])> {
        let mut v = Vec::new();
        let mut i = 8;
        while i + 8 <= b.len() {
            let len = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
            v.push((&b[i + 4..i + 8], &b[i..i + 12 + len]));
            i += 12 + len;
        }
        v
    }
    let text: Vec<&[u8]> = chunks(from)
        .into_iter()
        .filter(|(t, _)| matches!(*t, b"tEXt" | b"iTXt" | b"zTXt"))
        .map(|c| c.1)
        .collect();
    assert!(!text.is_empty(), "the stamped PNG carries a text chunk");
    let mut out = to[..8].to_vec();
    for (t, raw) in chunks(to) {
        out.extend_from_slice(raw);
        if t == b"IHDR" {
            for c in &text {
                out.extend_from_slice(c);
            }
        }
    }
    out
}

#[test]
fn stamp_verify_trace_a_mixed_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, home, out) =
        (tmp.path().join("in"), tmp.path().join("home"), tmp.path().join("out"));
    fs::create_dir_all(input.join("sub")).unwrap();
    for f in [
        "images/rgb8-451x300-chelsea.png",
        "images/gray8-512x512-camera.png",
        "images/rgb8-640x427-rocket.jpg",
    ] {
        fs::copy(testdata(f), input.join(Path::new(f).file_name().unwrap())).unwrap();
    }
    fs::copy(testdata("audio/pcm16-16000-mono-26s-librivox.wav"), input.join("sub/speech.wav"))
        .unwrap();
    fs::write(input.join("sub/corrupt.png"), b"\x89PNG\r\n\x1a\nnot really a png").unwrap();

    let run =
        stamp(&home, &out).args(["--model", "test-model", "--json"]).arg(&input).output().unwrap();
    assert_eq!(
        run.status.code(),
        Some(2),
        "one file failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("created a new provider identity"));
    let lines = json_lines(&run.stdout);
    assert_eq!(lines.len(), 5, "one JSON line per file");
    let stamped: Vec<&Value> = lines.iter().filter(|l| l["status"] == "stamped").collect();
    let failed: Vec<&Value> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!((stamped.len(), failed.len()), (4, 1));
    assert!(failed[0]["file"].as_str().unwrap().ends_with("corrupt.png"));
    assert_eq!(ledger_size(&home), 4, "exactly one record per stamped file");
    assert!(fs::read_dir(out.join("in/sub")).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));

    // Running the same command again skips what is done and adds no record.
    let again = stamp(&home, &out).arg("--json").arg(&input).output().unwrap();
    let lines = json_lines(&again.stdout);
    assert_eq!(lines.iter().filter(|l| l["status"] == "skipped").count(), 4);
    assert_eq!(ledger_size(&home), 4);

    let id_of = |name: &str| -> String {
        stamped.iter().find(|l| l["file"].as_str().unwrap().ends_with(name)).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (chelsea, rocket, speech) = (
        out.join("in/rgb8-451x300-chelsea.png"),
        out.join("in/rgb8-640x427-rocket.jpg"),
        out.join("in/sub/speech.wav"),
    );

    // Stamped files are authentic.
    let (code, reports) = verify(&home, &[&chelsea, &rocket, &speech]);
    assert_eq!(code, 0, "{reports:?}");
    assert!(
        reports.iter().all(|r| r["verdict"] == "authentic" && r["label_status"] == "compliant"),
        "{reports:?}"
    );

    // Unmarked originals: unmarked, no ID, exit 3.
    let (code, reports) =
        verify(&home, &[&input.join("rgb8-451x300-chelsea.png"), &input.join("sub/speech.wav")]);
    assert_eq!(code, 3);
    assert!(reports.iter().all(|r| r["verdict"] == "unmarked" && r["id"].is_null()), "{reports:?}");

    // Re-encoded at JPEG quality 75: modified, with the right ID.
    let img = image::open(&rocket).unwrap();
    let reencoded = tmp.path().join("re75.jpg");
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 75).encode_image(&img).unwrap();
    let stamped_bytes = fs::read(&rocket).unwrap();
    // Keep the label: re-insert the stamped file's APP1 segments after SOI.
    let mut with_label = vec![0xFF, 0xD8];
    let mut i = 2;
    while i + 4 <= stamped_bytes.len()
        && stamped_bytes[i] == 0xFF
        && (0xE0..=0xEF).contains(&stamped_bytes[i + 1])
    {
        let len = usize::from(u16::from_be_bytes([stamped_bytes[i + 2], stamped_bytes[i + 3]]));
        if stamped_bytes[i + 1] == 0xE1 {
            with_label.extend_from_slice(&stamped_bytes[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    with_label.extend_from_slice(&buf[2..]);
    fs::write(&reencoded, &with_label).unwrap();
    let (code, reports) = verify(&home, &[&reencoded]);
    assert_eq!((code, reports[0]["verdict"].as_str()), (2, Some("modified")), "{reports:?}");
    assert_eq!(reports[0]["id"], id_of("rocket.jpg"));

    // Metadata stripped (decoded and re-saved by another tool): metadata_stripped, right ID.
    let stripped = tmp.path().join("stripped.png");
    image::open(&chelsea).unwrap().save(&stripped).unwrap();
    let (_, reports) = verify(&home, &[&stripped]);
    assert_eq!(reports[0]["verdict"], "metadata_stripped", "{reports:?}");
    assert_eq!(reports[0]["id"], id_of("chelsea.png"));

    // The label copied onto another (unmarked) picture: forged.
    let forged = tmp.path().join("forged.png");
    let victim = fs::read(testdata("images/gray8-512x512-camera.png")).unwrap();
    fs::write(&forged, transplant_png_text(&fs::read(&chelsea).unwrap(), &victim)).unwrap();
    let (code, reports) = verify(&home, &[&forged]);
    assert_eq!((code, reports[0]["verdict"].as_str()), (2, Some("forged")), "{reports:?}");

    // Trace a cropped, resized, recompressed copy back to its record, and check the
    // evidence offline with the log's verifier key.
    let attacked = tmp.path().join("attacked.jpg");
    let img = image::open(&rocket).unwrap();
    let (w, h) = (img.width(), img.height());
    let cropped = img.crop_imm(w / 20, h / 20, w * 9 / 10, h * 9 / 10).resize(
        w * 3 / 4,
        h * 3 / 4,
        image::imageops::FilterType::Triangle,
    );
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 80)
        .encode_image(&cropped)
        .unwrap();
    fs::write(&attacked, buf).unwrap();
    let evidence = tmp.path().join("evidence.json");
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    let t = provmark()
        .arg("trace")
        .arg("--home")
        .arg(&home)
        .args(["--ledger", &url, "--json", "--evidence"])
        .arg(&evidence)
        .arg(&attacked)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let found: Value = serde_json::from_slice(&t.stdout).unwrap();
    assert_eq!(found["id"], id_of("rocket.jpg"));
    assert_eq!(found["model"], "test-model");
    let vkey = provmark()
        .args(["ledger", "verifier-key", "--home"])
        .arg(&home)
        .args(["--ledger", &url])
        .output()
        .unwrap();
    let vkey = String::from_utf8(vkey.stdout).unwrap();
    provmark()
        .args(["ledger", "verify-evidence", "--vkey", vkey.trim()])
        .arg(&evidence)
        .assert()
        .success();
    // The Go reference transparency-log code (sumdb/note + sumdb/tlog) accepts the bundle's
    // record, leaf hash, inclusion proof and signed checkpoint under the log's key.
    if let Some(out) = go_check_evidence(&evidence, Some(vkey.trim())) {
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("evidence ok"),
            "Go rejected the evidence: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    }
    let original: Value = serde_json::from_slice(&fs::read(&evidence).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let flip = |s: &str| {
        let mut b = base64::Engine::decode(&b64, s).unwrap();
        b[0] ^= 1;
        Value::from(base64::Engine::encode(&b64, b))
    };
    let mut tampered_copies = Vec::new();
    let mut t = original.clone();
    t["index"] = Value::from(t["index"].as_u64().unwrap() ^ 1);
    tampered_copies.push(("index", t));
    let mut t = original.clone();
    t["proof"][0] = flip(t["proof"][0].as_str().unwrap());
    tampered_copies.push(("proof hash", t));
    let mut t = original.clone();
    t["record"] = flip(t["record"].as_str().unwrap());
    tampered_copies.push(("record", t));
    let mut t = original.clone();
    t["checkpoint"] = Value::from(t["checkpoint"].as_str().unwrap().replacen('\n', "\nx", 1));
    tampered_copies.push(("checkpoint", t));
    for (what, t) in tampered_copies {
        let bad = tmp.path().join("tampered.json");
        fs::write(&bad, t.to_string()).unwrap();
        provmark()
            .args(["ledger", "verify-evidence", "--vkey", vkey.trim()])
            .arg(&bad)
            .assert()
            .failure();
        if let Some(out) = go_check_evidence(&bad, Some(vkey.trim())) {
            assert!(!out.status.success(), "Go accepted evidence with a tampered {what}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("go-tlog FAIL"));
        }
    }
    // Another log's key is refused by Go too.
    let other = tmp.path().join("other-home");
    provmark().args(["keygen", "--out"]).arg(&other).assert().success();
    let other_url = format!("sqlite:{}", other.join("ledger.db").display());
    let other_vkey = provmark()
        .args(["ledger", "verifier-key", "--home"])
        .arg(&other)
        .args(["--ledger", &other_url])
        .output()
        .unwrap();
    let other_vkey = String::from_utf8(other_vkey.stdout).unwrap();
    if let Some(out) = go_check_evidence(&evidence, Some(other_vkey.trim())) {
        assert!(!out.status.success(), "Go accepted the evidence under another log's key");
    }
}

/// Where Debian's `golang-golang-x-mod-dev` puts the Go sources of `golang.org/x/mod`.
const GOPATH: &str = "/usr/share/gocode";

/// Runs the ledger's Go checker (`crates/ledger/tests/go/checker.go`, the Go reference
/// `sumdb/note` and `sumdb/tlog`, offline in GOPATH mode) on an evidence bundle. `None`
/// (with a notice) when Go or `golang.org/x/mod` is missing outside CI; in CI that fails.
fn go_check_evidence(evidence: &Path, vkey: Option<&str>) -> Option<std::process::Output> {
    let go =
        std::process::Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    if !(go && Path::new(GOPATH).join("src/golang.org/x/mod/sumdb/tlog").is_dir()) {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must install golang-go and golang-golang-x-mod-dev (see .ci/run)"
        );
        eprintln!("notice: `go` or {GOPATH}/src/golang.org/x/mod missing; skipping the Go check");
        return None;
    }
    let checker =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/ledger/tests/go/checker.go");
    let cache = evidence.with_file_name("gocache");
    let mut c = std::process::Command::new("go");
    c.arg("run").arg(&checker).arg("-evidence").arg(evidence);
    if let Some(k) = vkey {
        c.arg(k);
    }
    Some(
        c.env("GO111MODULE", "off")
            .env("GOPATH", GOPATH)
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", cache)
            .output()
            .unwrap(),
    )
}

/// SplitMix64: a small deterministic generator for test choices (seed printed on failure).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes `n` small real pictures (crops of the bundled test images, 128 to 191 px a side,
/// PNG and JPEG) into ten sub-folders of `dir`.
fn small_crops(dir: &Path, n: usize, seed: u64) {
    let sources: Vec<image::DynamicImage> = [
        "images/rgb8-451x300-chelsea.png",
        "images/gray8-512x512-camera.png",
        "images/rgb8-640x427-rocket.jpg",
        "images/rgb8-512x512-astronaut.webp",
    ]
    .iter()
    .map(|f| image::open(testdata(f)).unwrap())
    .collect();
    let mut r = seed;
    for i in 0..n {
        let src = &sources[i % sources.len()];
        r = mix(r);
        let (w, h) = (128 + (r % 64) as u32, 128 + ((r >> 8) % 64) as u32);
        let (x, y) = ((r >> 16) as u32 % (src.width() - w), (r >> 40) as u32 % (src.height() - h));
        let crop = src.crop_imm(x, y, w, h);
        let sub = dir.join(format!("part{}", i % 10));
        fs::create_dir_all(&sub).unwrap();
        if i % 3 == 2 {
            let mut buf = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
                .encode_image(&crop.to_rgb8())
                .unwrap();
            fs::write(sub.join(format!("f{i:03}.jpg")), buf).unwrap();
        } else {
            crop.save(sub.join(format!("f{i:03}.png"))).unwrap();
        }
    }
}

/// Every file under `dir`, recursively: (outputs, temporary files).
fn walk_outputs(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut temps) = (Vec::new(), Vec::new());
    let Ok(entries) = fs::read_dir(dir) else { return (files, temps) };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            let (f, t) = walk_outputs(&p);
            files.extend(f);
            temps.extend(t);
        } else if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            temps.push(p);
        } else {
            files.push(p);
        }
    }
    files.sort();
    (files, temps)
}

fn outputs(out: &Path) -> Vec<PathBuf> {
    walk_outputs(out).0
}

/// Checks the crash invariant: every output's label names a ledger record whose media hash
/// is the output's, no two outputs share an ID, and no content ID is logged twice. Returns
/// (outputs, records).
fn check_outputs_against_ledger(out: &Path, home: &Path) -> (usize, u64) {
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    let mut ledger = provmark_ledger::open(&url).unwrap();
    let size = ledger.size().unwrap();
    let mut logged = std::collections::HashMap::new();
    for i in 0..size {
        let (record, _) = ledger.record(i).unwrap().unwrap();
        let id = record.content_id;
        assert!(logged.insert(id, record.media_sha256).is_none(), "content ID {id} logged twice");
    }
    let files = outputs(out);
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        let bytes = fs::read(f).unwrap();
        let report = provmark_core::container::read_metadata(&bytes);
        let id: provmark_core::ContentId = report
            .parsed_labels()
            .find_map(|(_, p)| p.label.produce_id.parse().ok())
            .unwrap_or_else(|| panic!("{} has no label", f.display()));
        assert!(seen.insert(id), "two outputs carry {id}");
        let logged_hash = logged
            .get(&id)
            .unwrap_or_else(|| panic!("{} exists without its ledger record", f.display()));
        assert_eq!(
            *logged_hash,
            provmark_core::container::media_hash(&bytes).unwrap(),
            "{} differs from what was logged",
            f.display()
        );
    }
    (files.len(), size)
}

#[cfg(unix)]
#[test]
fn kill_9_during_a_500_file_batch_then_rerun_loses_and_duplicates_nothing() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let seed = std::env::var("PROVMARK_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        });
    eprintln!("kill -9 test seed {seed} (set PROVMARK_TEST_SEED to replay)");
    let tmp = tempfile::tempdir().unwrap();
    let (input, home, out) =
        (tmp.path().join("in"), tmp.path().join("home"), tmp.path().join("out"));
    let n = 500;
    small_crops(&input, n, seed);
    let bin = assert_cmd::cargo::cargo_bin("provmark");
    let command = || {
        let mut c = std::process::Command::new(&bin);
        c.arg("stamp")
            .arg("--home")
            .arg(&home)
            .arg("--out")
            .arg(&out)
            .args(["--batch", "20", "--json"])
            .arg(&input);
        c
    };
    // Create the identity first so the kills land in the batch work.
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();
    let mut r = seed;
    let mut kills = 0;
    for round in 0..3 {
        let (done, _) = check_outputs_against_ledger(&out, &home);
        r = mix(r);
        // Kill after a random number of reported files, then a random part of a batch.
        // (The first `done` lines of a re-run are the files it skips.)
        let after_lines = done + 1 + (r % (((n - done) / 3).max(1) as u64)) as usize;
        let extra = Duration::from_millis((r >> 32) % 400);
        let mut child = command().stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (k, _) in BufReader::new(stdout).lines().map_while(Result::ok).enumerate() {
                if k + 1 >= after_lines && tx.send(()).is_err() {
                    return;
                }
            }
        });
        let _ = rx.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(extra);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let (files, records) = check_outputs_against_ledger(&out, &home);
        eprintln!(
            "round {round}: killed after {after_lines} lines + {extra:?}: {files} outputs, {records} records"
        );
    }
    assert!(kills >= 2, "the batch finished before the kills landed");

    let finish = command().stderr(Stdio::null()).output().unwrap();
    assert!(finish.status.success());
    let lines = json_lines(&finish.stdout);
    assert_eq!(lines.len(), n, "one line per input");
    assert!(lines.iter().all(|l| l["status"] != "failed"), "{lines:?}");
    let (files, records) = check_outputs_against_ledger(&out, &home);
    assert_eq!((files, records), (n, n as u64), "every file stamped exactly once");
    let leftovers = walk_outputs(&out).1;
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    provmark()
        .args(["ledger", "verify", "--home"])
        .arg(&home)
        .args(["--ledger", &url])
        .assert()
        .success();
    // A few outputs, one per kind of source, verify as authentic.
    let files = outputs(&out);
    let sample: Vec<&Path> = files.iter().step_by(n / 4).map(PathBuf::as_path).collect();
    let (code, reports) = verify(&home, &sample);
    assert_eq!(code, 0, "{reports:?}");
}

#[test]
fn visible_label_is_applied_before_the_watermark_which_still_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
    let input = testdata("images/rgb8-640x427-rocket.jpg");
    let speech = testdata("audio/pcm16-16000-mono-26s-librivox.wav");
    stamp(&home, &out).arg("--visible-label").arg(&input).arg(&speech).assert().success();
    let stamped = out.join("rgb8-640x427-rocket.jpg");
    let stamped_speech = out.join("pcm16-16000-mono-26s-librivox.wav");
    let (code, reports) = verify(&home, &[&stamped, &stamped_speech]);
    assert_eq!(code, 0, "{reports:?}");
    assert!(reports.iter().all(|r| r["verdict"] == "authentic"), "{reports:?}");
    // The signed provenance manifest names the visible identifiers, and verify reports them.
    let image_label = &reports[0]["label"]["visible_identifier"];
    assert_eq!(image_label["kind"], "image-label", "{image_label}");
    assert_eq!(image_label["text"], "AI生成");
    let position = image_label["position"].as_str().unwrap();
    assert!(position.starts_with("bottom-right "), "{position}");
    let cue = &reports[1]["label"]["visible_identifier"];
    assert_eq!(cue["kind"], "audio-cue", "{cue}");
    assert!(cue["text"].as_str().unwrap().starts_with("rhythm"), "{cue}");
    assert!(cue["position"].as_str().unwrap().starts_with("start frames 0+"), "{cue}");
    // The human output says it too.
    let human = provmark().arg("verify").arg("--home").arg(&home).arg(&stamped).output().unwrap();
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains("visible identifier: image-label \"AI生成\" at bottom-right"),
        "{human}"
    );
    // Without --visible-label no visible identifier is claimed.
    let plain_out = tmp.path().join("plain");
    stamp(&home, &plain_out).arg(&input).assert().success();
    let (_, reports) = verify(&home, &[&plain_out.join("rgb8-640x427-rocket.jpg")]);
    assert!(reports[0]["label"]["visible_identifier"].is_null(), "{reports:?}");
    // The label changed the bottom-right corner, not the top-left one.
    let (a, b) =
        (image::open(&input).unwrap().to_luma8(), image::open(&stamped).unwrap().to_luma8());
    let diff = |x0: u32, y0: u32| -> f64 {
        let mut d = 0.0;
        for y in y0..y0 + 20 {
            for x in x0..x0 + 60 {
                d += (f64::from(a.get_pixel(x, y)[0]) - f64::from(b.get_pixel(x, y)[0])).abs();
            }
        }
        d / 1200.0
    };
    let (w, h) = a.dimensions();
    assert!(diff(w - 70, h - 30) > 20.0 * diff(0, 0).max(0.5), "no label in the corner");
    // The ledger record says a visible label was applied.
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    let mut ledger = provmark_ledger::open(&url).unwrap();
    let (record, _) = ledger.record(0).unwrap().unwrap();
    assert!(record.visible_label.contains(provmark_ledger::LabelFlags::IMAGE_TEXT));
}

/// `ffmpeg` with the LAME MP3 encoder, or `false` with a notice outside CI.
fn ffmpeg_available() -> bool {
    let ok = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("libmp3lame")
        });
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must install ffmpeg with libmp3lame (see .ci/run)"
        );
        eprintln!("notice: ffmpeg with libmp3lame missing; skipping the MP3 checks");
    }
    ok
}

fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The body of the top-level RIFF chunk `id` of a WAV file.
fn riff_chunk<'a>(wav: &'a [u8], id: &[u8; 4]) -> &'a [u8] {
    let mut i = 12;
    while i + 8 <= wav.len() {
        let len = u32::from_le_bytes(wav[i + 4..i + 8].try_into().unwrap()) as usize;
        if &wav[i..i + 4] == id {
            return &wav[i + 8..i + 8 + len];
        }
        i += 8 + len + (len & 1);
    }
    panic!("no {id:?} chunk");
}

#[test]
fn audio_reencoded_as_mp3_128k_is_modified_and_stripped_by_ffmpeg_is_metadata_stripped() {
    if !ffmpeg_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
    let input = tmp.path().join("speech.wav");
    fs::copy(testdata("audio/pcm16-16000-mono-26s-librivox.wav"), &input).unwrap();
    let run = stamp(&home, &out).arg("--json").arg(&input).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let id = json_lines(&run.stdout)[0]["id"].as_str().unwrap().to_owned();
    let stamped = out.join("speech.wav");
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    // A platform transcodes to MP3 at 128 kbps and keeps the producer's label (the TC260
    // audio guide's ID3v2 `TXXX:AIGC` frame, which ffmpeg writes for `-metadata AIGC=`).
    let label =
        String::from_utf8(riff_chunk(&fs::read(&stamped).unwrap(), b"AIGC").to_vec()).unwrap();
    let mp3 = tmp.path().join("re128.mp3");
    let aigc = format!("AIGC={label}");
    ffmpeg(&[
        "-i",
        &s(&stamped),
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-metadata",
        &aigc,
        &s(&mp3),
    ]);
    // ffmpeg told to drop all metadata, to WAV and to MP3.
    let stripped_wav = tmp.path().join("stripped.wav");
    ffmpeg(&["-i", &s(&stamped), "-map_metadata", "-1", "-c:a", "pcm_s16le", &s(&stripped_wav)]);
    let stripped_mp3 = tmp.path().join("stripped.mp3");
    ffmpeg(&[
        "-i",
        &s(&stamped),
        "-map_metadata",
        "-1",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        &s(&stripped_mp3),
    ]);

    let (code, reports) = verify(&home, &[&mp3]);
    assert_eq!((code, reports[0]["verdict"].as_str()), (2, Some("modified")), "{reports:?}");
    assert_eq!(reports[0]["id"], id.as_str());
    assert_eq!(reports[0]["watermark"]["id"], id.as_str());
    assert_eq!(reports[0]["label"]["producer"]["signature"], "Valid");
    assert_eq!(reports[0]["label"]["producer"]["binding"], "Mismatch");

    let (code, reports) = verify(&home, &[&stripped_wav, &stripped_mp3]);
    assert_eq!(code, 0, "metadata_stripped is not an error: {reports:?}");
    for r in &reports {
        assert_eq!(r["verdict"], "metadata_stripped", "{r}");
        assert_eq!(r["id"], id.as_str());
        assert_eq!(r["label_status"], "not_found");
    }
}

/// A 130 s recording is stamped as a stream (in bounded memory; the core test
/// `stamping_a_long_stream_equals_stamping_it_whole` proves the bytes equal the whole-file
/// stamp), as WAV and, from FLAC input, as FLAC; a truncated one (its header states more
/// frames than it holds) falls back to the whole-file decoder. All verify as authentic, a
/// re-run skips them through the streamed metadata reader, and nothing is left behind.
#[test]
fn long_audio_is_stamped_as_a_stream_and_a_rerun_skips_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, home, out) =
        (tmp.path().join("in"), tmp.path().join("home"), tmp.path().join("out"));
    fs::create_dir_all(&input).unwrap();
    // The 26 s speech five times over.
    let speech = fs::read(testdata("audio/pcm16-16000-mono-26s-librivox.wav")).unwrap();
    assert_eq!(&speech[36..40], b"data");
    let pcm = &speech[44..];
    let mut long = speech[..44].to_vec();
    for _ in 0..5 {
        long.extend_from_slice(pcm);
    }
    let data = u32::try_from(pcm.len() * 5).unwrap();
    long[40..44].copy_from_slice(&data.to_le_bytes());
    long[4..8].copy_from_slice(&(data + 36).to_le_bytes());
    fs::write(input.join("long.wav"), &long).unwrap();
    fs::write(input.join("truncated.wav"), &long[..long.len() - 32_000]).unwrap();
    let flac = std::process::Command::new("flac")
        .args(["--silent", "--force", "-o"])
        .arg(input.join("long-flac.flac"))
        .arg(input.join("long.wav"))
        .status();
    let with_flac = flac.is_ok_and(|s| s.success());
    if !with_flac {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must install flac (see .ci/run)"
        );
        eprintln!("notice: flac not installed; FLAC input not checked");
    }
    let n = if with_flac { 3 } else { 2 };

    let run = stamp(&home, &out).arg("--json").arg(&input).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let lines = json_lines(&run.stdout);
    assert_eq!(lines.len(), n);
    assert!(lines.iter().all(|l| l["status"] == "stamped"), "{lines:?}");
    let (files, temps) = walk_outputs(&out);
    assert_eq!(files.len(), n, "{files:?}");
    assert!(temps.is_empty(), "left behind: {temps:?}");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, verdicts) = verify(&home, &refs);
    assert_eq!(code, 0, "{verdicts:?}");
    for v in &verdicts {
        assert_eq!(v["verdict"], "authentic", "{v}");
    }
    assert_eq!(ledger_size(&home), n as u64);

    let rerun = stamp(&home, &out).arg("--json").arg(&input).output().unwrap();
    let lines = json_lines(&rerun.stdout);
    assert!(lines.iter().all(|l| l["status"] == "skipped"), "{lines:?}");
    assert_eq!(ledger_size(&home), n as u64);

    // `trace` reads it as streams too: by the watermark, and with the label stripped (ffmpeg
    // copies the PCM, drops our chunks) by the watermark still; the bundle names the file's
    // SHA-256.
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    let trace = |file: &Path| {
        let t = provmark()
            .arg("trace")
            .arg("--home")
            .arg(&home)
            .args(["--ledger", &url, "--json"])
            .arg(file)
            .output()
            .unwrap();
        assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
        serde_json::from_slice::<Value>(&t.stdout).unwrap()
    };
    let long_out = files.iter().find(|f| f.ends_with("in/long.wav")).unwrap();
    let found = trace(long_out);
    assert_eq!(found["found_by"], "watermark", "{found}");
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(fs::read(long_out).unwrap()))
    };
    assert_eq!(found["file_sha256"], sha);
    let stamped_id = found["id"].clone();
    let stripped = tmp.path().join("stripped.wav");
    let ff = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(long_out)
        .args(["-map_metadata", "-1", "-c:a", "pcm_s16le"])
        .arg(&stripped)
        .status();
    if ff.is_ok_and(|s| s.success()) {
        let found = trace(&stripped);
        assert_eq!((found["found_by"].as_str(), &found["id"]), (Some("watermark"), &stamped_id));
    } else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must install ffmpeg (see .ci/run)"
        );
        eprintln!("notice: ffmpeg not installed; stripped copy not traced");
    }
}

/// `provmark ARGS…` with the file-size limit at `kib` KiB and `SIGXFSZ` ignored, so a write
/// past the limit fails with `EFBIG` as a write to a full disk fails with `ENOSPC`.
#[cfg(unix)]
fn provmark_with_file_limit(kib: u32) -> std::process::Command {
    let mut c = std::process::Command::new("bash");
    c.arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
        .arg(assert_cmd::cargo::cargo_bin("provmark"));
    c
}

#[cfg(unix)]
#[test]
fn writes_that_do_not_fit_fail_cleanly_and_a_rerun_finishes_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
    let inputs = [testdata("images"), testdata("audio")];
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();

    // 400 KiB: the four images and the two short clips fit, the two WAV files do not.
    let full = provmark_with_file_limit(400)
        .args(["stamp", "--json", "--home"])
        .arg(&home)
        .arg("--out")
        .arg(&out)
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(2), "some files failed");
    let lines = json_lines(&full.stdout);
    let failed: Vec<&Value> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{lines:?}");
    for f in &failed {
        assert!(f["file"].as_str().unwrap().ends_with(".wav"), "{f}");
        assert!(f["error"].as_str().unwrap().contains("File too large"), "{f}");
    }
    let (files, temps) = walk_outputs(&out);
    assert!(temps.is_empty(), "partial temporary files left: {temps:?}");
    assert_eq!(check_outputs_against_ledger(&out, &home), (6, 6), "{files:?}");

    // The disk has room again: the re-run stamps the two that failed, once each.
    let rerun =
        stamp(&home, &out).arg("--json").args(&inputs).assert().success().get_output().clone();
    let statuses: Vec<Value> =
        json_lines(&rerun.stdout).iter().map(|l| l["status"].clone()).collect();
    assert_eq!(statuses.iter().filter(|s| *s == "stamped").count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "skipped").count(), 6, "{statuses:?}");
    assert_eq!(check_outputs_against_ledger(&out, &home), (8, 8));
    // `ledger` finds the ledger `stamp` wrote from `--home` alone.
    let stats = provmark()
        .args(["ledger", "stats", "--json", "--home"])
        .arg(&home)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(serde_json::from_slice::<Value>(&stats).unwrap()["size"], 8);
    provmark().args(["ledger", "verify", "--home"]).arg(&home).assert().success();

    // Single-file commands leave neither a partial output nor a temporary file.
    let wav = testdata("audio/pcm16-44100-stereo-12s-drascula.wav");
    let (marked, labeled) = (tmp.path().join("marked.wav"), tmp.path().join("labeled.wav"));
    let embed = provmark_with_file_limit(400)
        .args(["watermark", "embed", "--id", "0123456789abcdef", "--home"])
        .arg(&home)
        .arg(&wav)
        .arg(&marked)
        .output()
        .unwrap();
    assert_eq!(embed.status.code(), Some(1));
    let label =
        provmark_with_file_limit(400).arg("label").arg(&wav).arg(&labeled).output().unwrap();
    assert_eq!(label.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&label.stderr).contains("File too large"));
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "home" && n != "out")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
