//! End-to-end tests of the `provmark` binary.

#![allow(clippy::unwrap_used, reason = "test helpers may panic")]

use std::fs;

use assert_cmd::Command;

fn provmark() -> Command {
    Command::cargo_bin("provmark").unwrap()
}

#[cfg(unix)]
#[test]
fn keygen_creates_private_secrets_and_a_public_file_naming_the_key_id() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("id");
    let out = provmark()
        .args(["keygen", "--out"])
        .arg(&home)
        .args(["--name", "Acme AI"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("development code"), "{stderr}");
    for (name, mode) in [("signing.key", 0o600), ("watermark.key", 0o600)] {
        assert_eq!(fs::metadata(home.join(name)).unwrap().permissions().mode() & 0o777, mode);
    }
    let provider = fs::read_to_string(home.join("provider.toml")).unwrap();
    assert!(provider.contains("key_id = \""), "{provider}");
    assert!(provider.contains("name = \"Acme AI\""), "{provider}");
    assert!(stderr.contains(provider.split("key_id = \"").nth(1).unwrap().get(..16).unwrap()));

    // Running it again must not overwrite the keys.
    provmark().args(["keygen", "--out"]).arg(&home).assert().code(1);
}

#[test]
fn keygen_validates_the_producer_code() {
    let tmp = tempfile::tempdir().unwrap();
    provmark()
        .args(["keygen", "--producer-code", "001191440300708461136T1XGW3", "--out"])
        .arg(tmp.path().join("ok"))
        .assert()
        .success();
    let out = provmark()
        .args(["keygen", "--producer-code", "not-a-code", "--out"])
        .arg(tmp.path().join("bad"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("27"), "{stderr}");
}

#[test]
fn keygen_help_documents_every_flag() {
    let out = provmark().args(["keygen", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for flag in ["--out", "--name", "--producer-code"] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/images").join(name)
}

/// Makes an identity and a keyring publishing its watermark key as the detection key.
fn identity_with_keyring(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = dir.join("id");
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();
    let key_file = fs::read_to_string(home.join("watermark.key")).unwrap();
    let hex: String = key_file
        .split_whitespace()
        .last()
        .unwrap()
        .chars()
        .rev()
        .take(64)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let provider = fs::read_to_string(home.join("provider.toml")).unwrap();
    let ring = dir.join("keyring.toml");
    let body: String =
        provider.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    fs::write(&ring, format!("[[provider]]\n{body}detection_key = \"{hex}\"\n")).unwrap();
    (home, ring)
}

/// `watermark embed --id 00c0ffee00c0ffee IN OUT`, then `watermark detect --json OUT`
/// (exit 0): the JSON line.
fn embed_then_detect(
    home: &std::path::Path,
    input: &std::path::Path,
    out: &std::path::Path,
) -> serde_json::Value {
    provmark()
        .args(["watermark", "embed", "--home"])
        .arg(home)
        .args(["--id", "00c0ffee00c0ffee"])
        .arg(input)
        .arg(out)
        .assert()
        .success();
    let run = provmark()
        .args(["watermark", "detect", "--json", "--home"])
        .arg(home)
        .arg(out)
        .assert()
        .code(0);
    serde_json::from_slice(&run.get_output().stdout).unwrap()
}

#[test]
fn watermark_embed_replaces_an_existing_output_and_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, _) = identity_with_keyring(tmp.path());
    let dir = tmp.path().join("out");
    fs::create_dir(&dir).unwrap();
    let out = dir.join("marked.wav");
    fs::write(&out, b"an older file").unwrap();
    let clip = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/audio/pcm16-16000-mono-26s-librivox.wav");
    let line = embed_then_detect(&home, &clip, &out);
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["marked.wav"], "only the output is left in its folder");
    // A failed write names the output and changes nothing.
    let missing = dir.join("no-such-folder").join("x.wav");
    provmark()
        .args(["watermark", "embed", "--home"])
        .arg(&home)
        .args(["--id", "00c0ffee00c0ffee"])
        .arg(&clip)
        .arg(&missing)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("x.wav"));
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

/// Audio past the 2-minute self-check is marked and detected as a stream (bounded memory):
/// the same samples as the library's whole-buffer embedding, and found again.
#[test]
fn long_audio_is_streamed_with_the_whole_buffer_result() {
    use provmark_core::audio::{AudioBuffer, AudioEmbedder, AudioParams, SampleFormat};
    let tmp = tempfile::tempdir().unwrap();
    let (home, _) = identity_with_keyring(tmp.path());
    let input = tmp.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&input, spec).unwrap();
    let mut seed = 3u32;
    let mut samples = Vec::new();
    for i in 0..8_000 * 130 {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let t = f64::from(i) / 8_000.0;
        let v = 6_000.0 * (t * 2.0 * std::f64::consts::PI * 440.0).sin() + f64::from(seed >> 20)
            - 2_048.0;
        #[allow(clippy::cast_possible_truncation, reason = "in range")]
        let v = v as i16;
        w.write_sample(v).unwrap();
        samples.push(f32::from(v) / 32_768.0);
    }
    w.finalize().unwrap();
    let out = tmp.path().join("long-marked.wav");
    let line = embed_then_detect(&home, &input, &out);
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    let key = provmark_core::Identity::load(&home).unwrap().watermark_key;
    let mut whole = AudioBuffer::new(samples, 1, 8_000, SampleFormat::Int(16)).unwrap();
    AudioEmbedder::new(&key, AudioParams::default())
        .embed(&mut whole, "00c0ffee00c0ffee".parse().unwrap())
        .unwrap();
    let expected = provmark_core::audio_codec::encode_wav(&whole).unwrap();
    assert!(fs::read(&out).unwrap() == expected, "streamed file differs from the whole-buffer one");
    // FLAC output is streamed too, with the bytes of the whole-buffer encoder.
    let flac = tmp.path().join("long-marked.flac");
    let line = embed_then_detect(&home, &input, &flac);
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    let expected = provmark_core::audio_codec::encode_flac(&whole).unwrap();
    assert!(
        fs::read(&flac).unwrap() == expected,
        "streamed FLAC differs from the whole-buffer one"
    );
    // A truncated recording (the header states more frames than the file holds) is marked
    // and found all the same, through the whole-file decoder.
    let truncated = tmp.path().join("truncated.wav");
    let bytes = fs::read(&input).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() - 16_000]).unwrap();
    let line = embed_then_detect(&home, &truncated, &tmp.path().join("truncated-marked.wav"));
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    let marked = fs::read(&out).unwrap();
    fs::write(&truncated, &marked[..marked.len() - 16_000]).unwrap();
    let run = provmark()
        .args(["watermark", "detect", "--json", "--home"])
        .arg(&home)
        .arg(&truncated)
        .assert()
        .code(0);
    let line: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(line["id"], "00c0ffee00c0ffee", "a truncated marked file: {line}");
}

#[test]
fn audio_detect_json_counts_its_attempts_in_the_p_value() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, _) = identity_with_keyring(tmp.path());
    let out = tmp.path().join("marked.wav");
    let clip = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/audio/pcm16-16000-mono-26s-librivox.wav");
    let line = embed_then_detect(&home, &clip, &out);
    assert_eq!(line["kind"], "audio");
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    let attempts = line["attempts"].as_u64().unwrap();
    assert!(attempts >= 1, "a detection took at least one decode: {line}");
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let bound = attempts as f64 * 2f64.powi(-48);
    let p = line["p_value"].as_f64().unwrap();
    assert!((p - bound).abs() <= bound * 1e-9, "p_value {p} is attempts x 2^-48 = {bound}");
}

#[test]
fn watermark_embed_then_detect_reports_the_id_as_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, ring) = identity_with_keyring(tmp.path());
    let out = tmp.path().join("marked.png");
    let line = embed_then_detect(&home, &testdata("rgb8-451x300-chelsea.png"), &out);
    assert_eq!(line["detected"], true);
    assert_eq!(line["id"], "00c0ffee00c0ffee");
    assert!(line["p_value"].as_f64().unwrap() <= 1e-12);
    assert!(line["score"].as_f64().unwrap() > 0.3);
    assert_eq!(line["file"], out.display().to_string());

    // The same through a keyring, with an unmarked file beside it: one found, one not (exit 2).
    let run = provmark()
        .args(["watermark", "detect", "--json", "--keyring"])
        .arg(&ring)
        .arg(&out)
        .arg(testdata("rgb8-640x427-rocket.jpg"))
        .assert()
        .code(2);
    let stdout = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "00c0ffee00c0ffee");
    assert_eq!(lines[1]["detected"], false);
    assert_eq!(lines[1]["id"], serde_json::Value::Null);
}

#[test]
fn watermark_detect_exit_codes_for_nothing_found_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, _) = identity_with_keyring(tmp.path());
    provmark()
        .args(["watermark", "detect", "--home"])
        .arg(&home)
        .arg(testdata("gray8-512x512-camera.png"))
        .assert()
        .code(3);
    let junk = tmp.path().join("junk.png");
    fs::write(&junk, b"definitely not a PNG").unwrap();
    provmark()
        .args(["watermark", "detect", "--json", "--home"])
        .arg(&home)
        .arg(&junk)
        .assert()
        .code(1);
    // A keyring without any detection key cannot detect anything: a usage error.
    let ring = tmp.path().join("public.toml");
    fs::copy(home.join("provider.toml"), &ring).unwrap();
    provmark().args(["watermark", "detect", "--keyring"]).arg(&ring).arg(&junk).assert().code(1);
}

#[test]
fn watermark_embed_keeps_jpeg_and_rejects_bad_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, _) = identity_with_keyring(tmp.path());
    let out = tmp.path().join("marked.jpg");
    provmark()
        .args(["watermark", "embed", "--home"])
        .arg(&home)
        .args(["--id", "0123456789abcdef"])
        .arg(testdata("rgb8-640x427-rocket.jpg"))
        .arg(&out)
        .assert()
        .success();
    assert_eq!(&fs::read(&out).unwrap()[..3], &[0xFF, 0xD8, 0xFF]);
    provmark().args(["watermark", "detect", "--home"]).arg(&home).arg(&out).assert().code(0);
    provmark()
        .args(["watermark", "embed", "--home"])
        .arg(&home)
        .args(["--id", "xyz"])
        .arg(testdata("rgb8-640x427-rocket.jpg"))
        .arg(&out)
        .assert()
        .code(1);
}

/// Under a keyring, every attempt under every key counts, and the default bound is shared
/// among the keys: an unmarked image and an unmarked clip tried under six keys still report
/// p ≤ 1e-12, and a marked file is still found.
#[test]
fn keyring_detection_keeps_the_bound_whatever_the_key_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, ring) = identity_with_keyring(tmp.path());
    let one = fs::read_to_string(&ring).unwrap();
    let six = tmp.path().join("six.toml");
    fs::write(&six, one.repeat(6)).unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let marked = tmp.path().join("marked.wav");
    let clip = data.join("audio/pcm16-16000-mono-26s-librivox.wav");
    embed_then_detect(&home, &clip, &marked);
    for (file, found) in
        [(data.join("images/rgb8-451x300-chelsea.png"), false), (clip, false), (marked, true)]
    {
        let run = provmark()
            .args(["watermark", "detect", "--json", "--keyring"])
            .arg(&six)
            .arg(&file)
            .assert();
        let line: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
        assert_eq!(line["detected"], found, "{line}");
        let p = line["p_value"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1e-12, "{line}");
        if !found {
            assert!(line["attempts"].as_u64().unwrap() >= 6, "every key is tried: {line}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    provmark().args(["keygen", "--out"]).arg(&home).assert().success();
    // `true` exits at once without reading, so every line `detect` prints meets a closed pipe.
    let script = "\"$0\" watermark detect --json --home \"$1\" \"$2\"/* | true; \
                  echo \"status ${PIPESTATUS[0]}\"";
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(assert_cmd::cargo::cargo_bin("provmark"))
        .arg(&home)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/images"))
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("status 141"), "{stdout} {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
