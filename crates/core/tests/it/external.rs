//! Checks against independent tools: exiftool, metaflac, python3 (RIFF walk), openssl
//! (Ed25519 verification), ffmpeg (a label written by another tool). A test whose tool is
//! missing prints a notice and passes; `.ci/run` installs them all.

use std::path::{Path, PathBuf};
use std::process::Command;

use provmark_core::container::{media_hash, propagate, read_metadata, write_label};
use provmark_core::manifest::{security, verify, LabelRequest, LabelStatus, LabelValue};
use provmark_core::{ContentId, Keyring, ProducerCode, ProviderInfo, SigningKey};

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name)).unwrap()
}

fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool).arg(arg).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("NOTICE: `{tool}` is not installed; skipping this check (.ci/run installs it)");
    }
    ok
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Provider {
    key: SigningKey,
    info: ProviderInfo,
}

fn provider() -> Provider {
    let key = SigningKey::from_seed(&[42; 32]);
    let vk = key.verifying_key();
    let info = ProviderInfo {
        name: "Example AI".into(),
        producer_code: "001191440300708461136T1XGW3".parse::<ProducerCode>().unwrap(),
        public_key: hex::encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    Provider { key, info }
}

fn stamped(name: &str, dir: &Path) -> (PathBuf, String) {
    let p = provider();
    let req = LabelRequest::new(ContentId::from_u64(0xfeed_beef_0000_0001), "2026-11-28T12:00:00Z")
        .with_model("it-model");
    let out = write_label(&testdata(name), &req, &p.key, &p.info).unwrap();
    let json = read_metadata(&out).labels[0].parsed.as_ref().unwrap().label.to_json();
    let path = dir.join(Path::new(name).file_name().unwrap());
    std::fs::write(&path, out).unwrap();
    (path, json)
}

fn authentic(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let ring = Keyring { providers: vec![provider().info] };
    let v = verify(&read_metadata(&bytes), Some(&media_hash(&bytes).unwrap()), &ring);
    v.label.status == LabelStatus::Compliant && v.is_authentic()
}

#[test]
fn exiftool_reads_the_label_from_png_jpeg_webp_and_the_mp3_txxx() {
    if !have("exiftool", "-ver") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "images/rgb8-451x300-chelsea.png",
        "images/rgb8-640x427-rocket.jpg",
        "images/rgb8-512x512-astronaut.webp",
        "audio/mp3-16000-mono-3s-librivox.mp3",
    ] {
        let (path, json) = stamped(name, dir.path());
        let out = run(Command::new("exiftool")
            .args([
                "-j",
                "-a",
                "-G1",
                "-AIGC",
                "-UserDefinedText",
                "-DigitalSourceType",
                "-Warning",
            ])
            .arg(&path));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let obj = v[0].as_object().unwrap();
        assert!(!obj.keys().any(|k| k.ends_with("Warning")), "{name}: {out}");
        if name.ends_with(".mp3") {
            assert_eq!(obj["ID3v2_4:UserDefinedText"], format!("(AIGC) {json}"), "{name}");
        } else {
            assert_eq!(obj["XMP-TC260:Aigc"], json.as_str(), "{name}");
        }
        assert_eq!(
            obj["XMP-iptcExt:DigitalSourceType"],
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            "{name}"
        );
        // The value is exactly the Annex E shape: seven string fields, in order.
        let label: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&json).unwrap();
        assert_eq!(label.len(), 7);
        assert!(label.values().all(serde_json::Value::is_string));
        let order = [
            "Label",
            "ContentProducer",
            "ProduceID",
            "ReservedCode1",
            "ContentPropagator",
            "PropagateID",
            "ReservedCode2",
        ];
        let positions: Vec<usize> =
            order.iter().map(|k| json.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{name}: keys out of Annex E order");
    }
}

#[test]
fn metaflac_reads_the_flac_comment() {
    if !have("metaflac", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, json) = stamped("audio/flac16-16000-mono-3s-librivox.flac", dir.path());
    let out = run(Command::new("metaflac").arg("--show-tag=AIGC").arg(&path));
    assert_eq!(out.trim_end(), format!("AIGC={json}"));
    // flac itself still decodes the stream and its MD5 matches.
    if have("flac", "--version") {
        run(Command::new("flac").args(["-t", "-s"]).arg(&path));
    }
}

const RIFF_WALK: &str = r#"
import struct, sys, wave
data = open(sys.argv[1], 'rb').read()
assert data[:4] == b'RIFF' and data[8:12] == b'WAVE'
assert struct.unpack('<I', data[4:8])[0] + 8 == len(data), 'RIFF size'
at, ids = 12, []
while at < len(data):
    cid, size = data[at:at+4], struct.unpack('<I', data[at+4:at+8])[0]
    ids.append(cid.decode('latin-1'))
    if cid == b'AIGC':
        sys.stdout.write(data[at+8:at+8+size].decode('ascii') + '\n')
    at += 8 + size + (size & 1)
assert at == len(data), 'chunks do not tile the file'
w = wave.open(sys.argv[1])
sys.stdout.write(' '.join(ids) + '\n' + str(w.getnframes()) + '\n')
"#;

#[test]
fn the_wav_aigc_chunk_parses_as_riff() {
    if !have("python3", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, json) = stamped("audio/pcm16-16000-mono-26s-librivox.wav", dir.path());
    let out = run(Command::new("python3").args(["-c", RIFF_WALK]).arg(&path));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], json);
    assert!(
        lines[1].contains("fmt ") && lines[1].contains("data") && lines[1].contains("AIGC"),
        "{out}"
    );
    // The `wave` module reads the same number of frames as from the unlabelled original.
    let original = dir.path().join("original.wav");
    std::fs::write(&original, testdata("audio/pcm16-16000-mono-26s-librivox.wav")).unwrap();
    let before = run(Command::new("python3").args(["-c", RIFF_WALK]).arg(&original));
    assert_eq!(lines[2], before.lines().last().unwrap());
}

#[test]
fn openssl_verifies_the_reserved_code1_signature_with_the_provider_toml_key() {
    if !have("openssl", "version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = stamped("images/rgb8-640x427-rocket.jpg", dir.path());
    let report = read_metadata(&std::fs::read(&path).unwrap());
    let label = &report.labels[0].parsed.as_ref().unwrap().label;
    let sd = security::parse(&label.reserved_code1).unwrap();
    // The key comes from provider.toml (the TOML the provider publishes), not from the file.
    let toml = toml_of(&provider().info);
    let public_key =
        toml.lines().find_map(|l| l.strip_prefix("public_key = ")).unwrap().trim_matches('"');
    let der =
        [security::ED25519_SPKI_PREFIX.as_slice(), &hex::decode(public_key).unwrap()].concat();
    let d = dir.path();
    std::fs::write(d.join("pub.der"), der).unwrap();
    run(Command::new("openssl")
        .args(["pkey", "-pubin", "-inform", "DER", "-in"])
        .arg(d.join("pub.der"))
        .arg("-out")
        .arg(d.join("pub.pem")));
    std::fs::write(d.join("sig.bin"), sd.signature.unwrap()).unwrap();
    // Appendix A.1 message, built here independently of the library.
    let msg = format!(
        "\"Label\":\"{}\",\"ContentProducer\":\"{}\",\"ProduceID\":\"{}\"",
        label.label, label.content_producer, label.produce_id
    );
    let verify_msg = |m: &str| {
        std::fs::write(d.join("msg.bin"), m).unwrap();
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
            .arg(d.join("pub.pem"))
            .arg("-in")
            .arg(d.join("msg.bin"))
            .arg("-sigfile")
            .arg(d.join("sig.bin"))
            .output()
            .unwrap()
    };
    let ok = verify_msg(&msg);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Signature Verified Successfully"));
    assert!(!verify_msg(&msg.replace("\"Label\":\"1\"", "\"Label\":\"2\"")).status.success());
}

fn toml_of(info: &ProviderInfo) -> String {
    Keyring { providers: vec![info.clone()] }.to_toml().unwrap()
}

#[test]
fn an_exiftool_comment_keeps_the_binding_and_a_media_byte_breaks_it() {
    if !have("exiftool", "-ver") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, tag) in [
        ("images/rgb8-451x300-chelsea.png", "-Comment=edited by exiftool"),
        ("images/rgb8-640x427-rocket.jpg", "-Comment=edited by exiftool"),
        ("images/rgb8-512x512-astronaut.webp", "-XMP-dc:Description=edited by exiftool"),
    ] {
        let (path, _) = stamped(name, dir.path());
        assert!(authentic(&path), "{name}");
        run(Command::new("exiftool").args(["-q", "-overwrite_original", tag]).arg(&path));
        let edited = std::fs::read(&path).unwrap();
        assert!(String::from_utf8_lossy(&edited).contains("edited by exiftool"), "{name}");
        assert!(authentic(&path), "{name}: exiftool's metadata edit must keep the binding");
        // One byte of media data changed: the binding no longer matches.
        let mut bad = edited.clone();
        let before = media_hash(&bad).unwrap();
        let mut at = bad.len() * 2 / 3;
        loop {
            bad[at] ^= 0x10;
            if media_hash(&bad).is_ok_and(|h| h != before) {
                break;
            }
            bad[at] ^= 0x10;
            at += 1;
        }
        let ring = Keyring { providers: vec![provider().info] };
        let v = verify(&read_metadata(&bad), Some(&media_hash(&bad).unwrap()), &ring);
        assert!(v.binding_mismatch() && !v.is_authentic(), "{name}");
    }
    if have("metaflac", "--version") {
        let (path, _) = stamped("audio/flac16-16000-mono-3s-librivox.flac", dir.path());
        run(Command::new("metaflac")
            .args(["--set-tag=COMMENT=edited", "--add-padding=4096"])
            .arg(&path));
        assert!(authentic(&path), "flac after metaflac");
    }
}

#[test]
fn labels_written_by_other_tools_are_read() {
    let bare = r#"{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"x1","ReservedCode1":"","ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"x1","ReservedCode2":""}"#;
    let dir = tempfile::tempdir().unwrap();
    if have("metaflac", "--version") {
        let path = dir.path().join("m.flac");
        std::fs::write(&path, testdata("audio/flac16-16000-mono-3s-librivox.flac")).unwrap();
        run(Command::new("metaflac").arg(format!("--set-tag=AIGC={bare}")).arg(&path));
        let report = read_metadata(&std::fs::read(&path).unwrap());
        assert_eq!(report.labels.len(), 1);
        assert_eq!(report.labels[0].parsed.as_ref().unwrap().label.produce_id, "x1");
    }
    if have("ffmpeg", "-version") {
        let src = dir.path().join("in.mp3");
        let path = dir.path().join("ff.mp3");
        std::fs::write(&src, testdata("audio/mp3-16000-mono-3s-librivox.mp3")).unwrap();
        let wrapped = format!("{{\"AIGC\":{bare}}}");
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&src)
            .args(["-c", "copy", "-metadata"])
            .arg(format!("AIGC={wrapped}"))
            .arg(&path));
        let report = read_metadata(&std::fs::read(&path).unwrap());
        assert_eq!(report.labels.len(), 1, "{report:?}");
        assert_eq!(report.labels[0].parsed.as_ref().unwrap().label.produce_id, "x1");
        // Our writer replaces ffmpeg's frame and keeps exactly one label.
        let p = provider();
        let req = LabelRequest::new(ContentId::from_u64(5), "2026-11-28T12:00:00Z");
        let ours = write_label(&std::fs::read(&path).unwrap(), &req, &p.key, &p.info).unwrap();
        assert_eq!(read_metadata(&ours).labels.len(), 1);
    }
    if have("exiftool", "-ver") {
        // exiftool writes EXIF UserComment (the image guide's Annex B alternative).
        let path = dir.path().join("u.jpg");
        std::fs::write(&path, testdata("images/rgb8-640x427-rocket.jpg")).unwrap();
        let wrapped = format!("{{\"AIGC\":{bare}}}");
        run(Command::new("exiftool")
            .args(["-q", "-overwrite_original"])
            .arg(format!("-EXIF:UserComment={wrapped}"))
            .arg(&path));
        let report = read_metadata(&std::fs::read(&path).unwrap());
        assert_eq!(report.labels.len(), 1, "{report:?}");
        assert_eq!(report.labels[0].carrier.name, "jpeg APP1 EXIF UserComment");
        assert_eq!(report.labels[0].parsed.as_ref().unwrap().label.produce_id, "x1");
    }
}

#[test]
fn a_propagated_file_still_reads_in_exiftool() {
    if !have("exiftool", "-ver") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = stamped("images/rgb8-451x300-chelsea.png", dir.path());
    let platform = SigningKey::from_seed(&[43; 32]);
    let vk = platform.verifying_key();
    let info = ProviderInfo {
        name: "Platform".into(),
        producer_code: "001191110102MACQD9K64028705".parse::<ProducerCode>().unwrap(),
        public_key: hex::encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    let out = propagate(
        &std::fs::read(&path).unwrap(),
        &info,
        "P-1",
        Some(LabelValue::Suspected),
        &platform,
    )
    .unwrap();
    std::fs::write(&path, &out).unwrap();
    let text = run(Command::new("exiftool").args(["-b", "-AIGC"]).arg(&path));
    assert!(
        text.starts_with(r#"{"Label":"3","ContentProducer":"001191440300708461136T1XGW3""#),
        "{text}"
    );
    assert!(
        text.contains(r#""ContentPropagator":"001191110102MACQD9K64028705","PropagateID":"P-1""#)
    );
}
