//! End to end: `stamp` a mixed folder, `verify` the outputs and their attacked copies,
//! `trace` an attacked copy, and survive `kill -9` in the middle of a batch.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

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

    let run = provmark()
        .arg("stamp")
        .arg("--home")
        .arg(&home)
        .arg("--out")
        .arg(&out)
        .args(["--model", "test-model", "--json"])
        .arg(&input)
        .output()
        .unwrap();
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
    let again = provmark()
        .arg("stamp")
        .arg("--home")
        .arg(&home)
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&input)
        .output()
        .unwrap();
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
    let mut tampered: Value = serde_json::from_slice(&fs::read(&evidence).unwrap()).unwrap();
    tampered["index"] = Value::from(tampered["index"].as_u64().unwrap() ^ 1);
    fs::write(&evidence, tampered.to_string()).unwrap();
    provmark()
        .args(["ledger", "verify-evidence", "--vkey", vkey.trim()])
        .arg(&evidence)
        .assert()
        .failure();
}

#[cfg(unix)]
#[test]
fn kill_9_during_a_batch_then_rerun_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, home, out) =
        (tmp.path().join("in"), tmp.path().join("home"), tmp.path().join("out"));
    fs::create_dir_all(&input).unwrap();
    let n = 24;
    for i in 0..n {
        fs::copy(testdata("images/rgb8-451x300-chelsea.png"), input.join(format!("img{i:02}.png")))
            .unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("provmark");
    let args = |c: &mut std::process::Command| {
        c.arg("stamp")
            .arg("--home")
            .arg(&home)
            .arg("--out")
            .arg(&out)
            .args(["--batch", "3"])
            .arg(&input);
    };
    // Create the identity first so the kill lands in the batch work.
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();
    for delay_ms in [700u64, 1900] {
        let mut c = std::process::Command::new(&bin);
        args(&mut c);
        let mut child = c.stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let outputs = fs::read_dir(out.join("in")).map_or(0, |d| {
            d.filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
                .count()
        });
        assert!(outputs as u64 <= ledger_size(&home), "an output exists without its record");
    }
    let mut c = std::process::Command::new(&bin);
    args(&mut c);
    assert!(c.status().unwrap().success());
    let names: Vec<String> = fs::read_dir(out.join("in"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), n, "every file stamped, no temporary file left: {names:?}");
    assert_eq!(ledger_size(&home), n as u64, "no record lost or duplicated");
    let url = format!("sqlite:{}", home.join("ledger.db").display());
    provmark()
        .args(["ledger", "verify", "--home"])
        .arg(&home)
        .args(["--ledger", &url])
        .assert()
        .success();
    let files: Vec<PathBuf> = names.iter().map(|n| out.join("in").join(n)).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, reports) = verify(&home, &refs);
    assert_eq!(code, 0, "{reports:?}");
}

#[test]
fn visible_label_is_applied_before_the_watermark_which_still_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
    let input = testdata("images/rgb8-640x427-rocket.jpg");
    provmark()
        .arg("stamp")
        .arg("--home")
        .arg(&home)
        .arg("--out")
        .arg(&out)
        .arg("--visible-label")
        .arg(&input)
        .assert()
        .success();
    let stamped = out.join("rgb8-640x427-rocket.jpg");
    let (code, reports) = verify(&home, &[&stamped]);
    assert_eq!((code, reports[0]["verdict"].as_str()), (0, Some("authentic")), "{reports:?}");
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
