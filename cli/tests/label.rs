//! End-to-end tests of `provmark label`.

#![allow(clippy::unwrap_used, reason = "test helpers may panic")]

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn provmark() -> Command {
    Command::cargo_bin("provmark").unwrap()
}

fn testdata(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(rel)
}

fn json_of(out: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn labels_png_jpeg_and_webp() {
    let tmp = tempfile::tempdir().unwrap();
    for (input, output) in [
        ("images/rgb8-451x300-chelsea.png", "a.png"),
        ("images/rgb8-640x427-rocket.jpg", "b.jpg"),
        ("images/rgb8-512x512-astronaut.webp", "c.webp"),
        ("images/gray8-512x512-camera.png", "d.png"),
    ] {
        let out_path = tmp.path().join(output);
        let out = provmark()
            .arg("label")
            .arg(testdata(input))
            .arg(&out_path)
            .arg("--json")
            .assert()
            .success();
        let v = json_of(&out);
        let id = &v["visible_identifier"];
        assert_eq!(id["kind"], "image-label");
        assert_eq!(id["text"], "AI生成");
        assert_eq!(id["position"], "bottom-right");
        let labeled = image::open(&out_path).unwrap();
        let original = image::open(testdata(input)).unwrap();
        assert_eq!((labeled.width(), labeled.height()), (original.width(), original.height()));
        let short = labeled.width().min(labeled.height());
        assert!(id["element_ink_height"].as_u64().unwrap() as f64 >= 0.05 * f64::from(short));
        // The label's region changed, the opposite corner did not (beyond codec noise).
        let (a, b) = (labeled.to_rgb8(), original.to_rgb8());
        let (rx, ry) = (
            id["region"]["x"].as_u64().unwrap() as u32,
            id["region"]["y"].as_u64().unwrap() as u32,
        );
        let diff = |x: u32, y: u32| {
            a.get_pixel(x, y)
                .0
                .iter()
                .zip(b.get_pixel(x, y).0)
                .map(|(p, q)| p.abs_diff(q))
                .max()
                .unwrap()
        };
        assert!((rx..labeled.width())
            .flat_map(|x| (ry..labeled.height()).map(move |y| (x, y)))
            .any(|(x, y)| diff(x, y) > 100));
        assert!(diff(5, 5) < 40, "{input}");
    }
}

#[test]
fn options_and_bad_text() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.png");
    let input = testdata("images/rgb8-451x300-chelsea.png");
    let v = json_of(
        &provmark()
            .arg("label")
            .arg(&input)
            .arg(&out)
            .args([
                "--text",
                "人工智能生成",
                "--position",
                "top-left",
                "--backing",
                "outline",
                "--height-percent",
                "8",
                "--json",
            ])
            .assert()
            .success(),
    );
    assert_eq!(v["visible_identifier"]["position"], "top-left");
    assert_eq!(v["visible_identifier"]["backing"], "outline");
    assert!(v["visible_identifier"]["element_ink_height"].as_u64().unwrap() >= 24);
    let err = provmark()
        .arg("label")
        .arg(&input)
        .arg(&out)
        .args(["--text", "AI-generated"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&err.get_output().stderr).contains("generation element"));
    provmark()
        .arg("label")
        .arg(&input)
        .arg(&out)
        .args(["--height-percent", "4"])
        .assert()
        .failure();
    provmark().arg("label").arg(&input).arg(&out).args(["--position", "centre"]).assert().failure();
}

#[test]
fn wav_cue_keeps_format_and_is_detectable() {
    let tmp = tempfile::tempdir().unwrap();
    let input = testdata("audio/pcm16-44100-stereo-12s-drascula.wav");
    let out = tmp.path().join("o.wav");
    let v = json_of(
        &provmark()
            .arg("label")
            .arg(&input)
            .arg(&out)
            .args(["--cue", "both", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(v["visible_identifier"]["kind"], "audio-cue");
    let (a, b) = (hound::WavReader::open(&input).unwrap(), hound::WavReader::open(&out).unwrap());
    assert_eq!(a.spec(), b.spec());
    let added = v["visible_identifier"]["added_frames"].as_u64().unwrap();
    assert_eq!(u64::from(b.duration()), u64::from(a.duration()) + added);
    let samples: Vec<f32> =
        b.into_samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect();
    let found = provmark_core::visible::detect_cue_rhythm(&samples, 44_100, 2);
    assert_eq!(found.len(), 2, "{found:?}");
    // Non-WAV audio output is refused with a clear message.
    let err = provmark().arg("label").arg(&input).arg(tmp.path().join("o.mp3")).assert().failure();
    assert!(String::from_utf8_lossy(&err.get_output().stderr).contains(".wav"));
}

#[test]
fn compressed_audio_is_labeled_into_flac_with_its_format_kept() {
    let tmp = tempfile::tempdir().unwrap();
    for (input, rate) in [
        ("audio/mp3-16000-mono-3s-librivox.mp3", 16_000),
        ("audio/flac16-16000-mono-3s-librivox.flac", 16_000),
    ] {
        let input = testdata(input);
        let out = tmp.path().join("o.flac");
        let v = json_of(
            &provmark()
                .arg("label")
                .arg(&input)
                .arg(&out)
                .args(["--cue", "end", "--json"])
                .assert()
                .success(),
        );
        let limits = provmark_core::audio_codec::DecodeLimits::default();
        let before =
            provmark_core::audio_codec::decode(&fs::read(&input).unwrap(), &limits).unwrap();
        let after = provmark_core::audio_codec::decode(&fs::read(&out).unwrap(), &limits).unwrap();
        assert_eq!(
            provmark_core::audio_codec::sniff(&fs::read(&out).unwrap()),
            Some(provmark_core::audio_codec::AudioFormat::Flac)
        );
        assert_eq!((after.sample_rate(), after.channels()), (rate, 1));
        assert_eq!(after.format(), before.format());
        let added = v["visible_identifier"]["added_frames"].as_u64().unwrap();
        assert_eq!(after.frames() as u64, before.frames() as u64 + added);
        let found = provmark_core::visible::detect_cue_rhythm(after.samples(), rate, 1);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}

/// A picture too small to watermark (under 128 px) can still be labeled; a file that is not an
/// image fails with a clear message and writes nothing.
#[test]
fn small_pictures_are_labeled_and_non_images_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small.png");
    image::RgbImage::from_fn(120, 90, |x, y| image::Rgb([(x * 2) as u8, (y * 2) as u8, 90]))
        .save(&small)
        .unwrap();
    let out = tmp.path().join("small-labeled.png");
    provmark().arg("label").arg(&small).arg(&out).assert().success();
    let labeled = image::open(&out).unwrap().to_rgb8();
    assert_eq!(labeled.dimensions(), (120, 90));
    assert_ne!(labeled, image::open(&small).unwrap().to_rgb8());

    let junk = tmp.path().join("junk.png");
    fs::write(&junk, b"\x89PNG\r\n\x1a\n not really a picture").unwrap();
    let bad_out = tmp.path().join("junk-labeled.png");
    let err = provmark().arg("label").arg(&junk).arg(&bad_out).assert().failure();
    assert!(String::from_utf8_lossy(&err.get_output().stderr).contains("cannot read image"));
    assert!(!bad_out.exists());
}
