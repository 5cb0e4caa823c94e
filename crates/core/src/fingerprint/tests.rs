#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::DynamicImage;

use super::*;
use crate::visible::tests_support::{corpus, read_wav};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

/// Distinct pictures: the corpus when present (testdata's images are copies of corpus files),
/// else testdata.
fn distinct_images() -> Vec<(String, DynamicImage)> {
    let c = corpus("image");
    if c.is_empty() {
        return images();
    }
    c.into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), image::open(&p).unwrap()))
        .collect()
}

fn images() -> Vec<(String, DynamicImage)> {
    let mut paths: Vec<PathBuf> = [
        "images/rgb8-451x300-chelsea.png",
        "images/rgb8-640x427-rocket.jpg",
        "images/gray8-512x512-camera.png",
        "images/rgb8-512x512-astronaut.webp",
    ]
    .iter()
    .map(|p| testdata(p))
    .collect();
    paths.extend(corpus("image"));
    paths
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), image::open(&p).unwrap()))
        .collect()
}

fn jpeg(img: &DynamicImage, quality: u8) -> DynamicImage {
    let mut buf = Vec::new();
    DynamicImage::ImageRgb8(img.to_rgb8())
        .write_with_encoder(JpegEncoder::new_with_quality(&mut buf, quality))
        .unwrap();
    image::load_from_memory(&buf).unwrap()
}

fn crop(img: &DynamicImage, fraction: f32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let (dx, dy) = ((w as f32 * fraction) as u32, (h as f32 * fraction) as u32);
    img.crop_imm(dx, dy, w - 2 * dx, h - 2 * dy)
}

/// (attack name, distance) for every attack on one image.
fn image_attacks(img: &DynamicImage) -> Vec<(&'static str, u32)> {
    let base = image_fingerprint(img).unwrap();
    let (w, h) = (img.width(), img.height());
    let attacked = [
        ("jpeg75", jpeg(img, 75)),
        ("resize50", img.resize_exact(w / 2, h / 2, FilterType::Triangle)),
        ("resize50+jpeg75", jpeg(&img.resize_exact(w / 2, h / 2, FilterType::Triangle), 75)),
        ("crop1%", crop(img, 0.01)),
        ("crop2%", crop(img, 0.02)),
        ("gray", DynamicImage::ImageLuma8(img.to_luma8())),
        ("label", {
            let mut l = img.clone();
            crate::visible::apply_image_label(&mut l, &crate::visible::LabelStyle::default())
                .unwrap();
            l
        }),
    ];
    attacked.iter().map(|(n, a)| (*n, hamming(&base, &image_fingerprint(a).unwrap()))).collect()
}

#[test]
fn hamming_counts_bits() {
    let a = [0u8; 32];
    let mut b = [0u8; 32];
    assert_eq!(hamming(&a, &b), 0);
    b[0] = 0b1011;
    b[31] = 0x80;
    assert_eq!(hamming(&a, &b), 4);
    assert_eq!(hamming(&[0xff; 32], &a), 256);
}

#[test]
fn image_fingerprint_survives_attacks_and_separates_files() {
    for (name, img) in &images() {
        for (attack, d) in image_attacks(img) {
            // The label and a 2 % crop are reported in the README table, not promised.
            if attack != "label" && attack != "crop2%" {
                assert!(d <= IMAGE_MATCH_RADIUS, "{name} {attack}: {d} bits");
            }
        }
    }
    let imgs = distinct_images();
    let prints: Vec<Fingerprint> =
        imgs.iter().map(|(_, i)| image_fingerprint(i).unwrap()).collect();
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            let d = hamming(&prints[i], &prints[j]);
            assert!(d > IMAGE_MATCH_RADIUS + 20, "{} vs {}: {d} bits", imgs[i].0, imgs[j].0);
        }
    }
}

#[test]
fn image_fingerprint_edge_cases() {
    assert!(image_fingerprint(&DynamicImage::new_rgb8(0, 5)).is_err());
    // Tiny and extreme-aspect images work; the hash of a 16-bit image equals its 8-bit twin's.
    let small = image::open(testdata("images/rgb8-451x300-chelsea.png")).unwrap();
    assert!(image_fingerprint(&small.resize_exact(7, 300, FilterType::Triangle)).is_ok());
    let rgb16 = DynamicImage::ImageRgb16(small.to_rgb16());
    assert_eq!(image_fingerprint(&rgb16).unwrap(), image_fingerprint(&small).unwrap());
    assert!(luma_fingerprint(&[0.0; 10], 3, 3).is_err());
}

/// MP3 128 kbit/s round trip through ffmpeg (libmp3lame), back to f32.
fn mp3_round_trip(s: &[f32], rate: u32, ch: u16) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let (wav, mp3, back) =
        (dir.path().join("a.wav"), dir.path().join("a.mp3"), dir.path().join("b.wav"));
    write_wav(&wav, s, rate, ch);
    let run = |args: &[&str]| {
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg must be installed (.ci/run installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "-i",
        wav.to_str().unwrap(),
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        mp3.to_str().unwrap(),
    ]);
    run(&["-i", mp3.to_str().unwrap(), "-c:a", "pcm_s16le", back.to_str().unwrap()]);
    read_wav(&back).0
}

fn write_wav(path: &Path, s: &[f32], rate: u32, ch: u16) {
    let spec = hound::WavSpec {
        channels: ch,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for v in s {
        w.write_sample((v * 32767.0).round().clamp(-32768.0, 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Linear-phase-free but honest resampling: the crate's windowed-sinc resampler per channel.
fn resample_interleaved(s: &[f32], ch: u16, from: u32, to: u32) -> Vec<f32> {
    let n = usize::from(ch);
    let chans: Vec<Vec<f32>> = (0..n)
        .map(|c| {
            crate::visible::tests_support::resample(
                &s.iter().skip(c).step_by(n).copied().collect::<Vec<_>>(),
                from,
                to,
            )
        })
        .collect();
    (0..chans[0].len()).flat_map(|i| chans.iter().map(move |c| c[i])).collect()
}

/// Distinct recordings: the corpus when present (testdata's audio is cut from corpus files),
/// else testdata.
fn audio_files() -> Vec<(String, Vec<f32>, u32, u16)> {
    let mut paths = corpus("audio");
    if paths.is_empty() {
        paths = [
            "audio/pcm16-16000-mono-26s-librivox.wav",
            "audio/pcm16-44100-stereo-12s-drascula.wav",
        ]
        .iter()
        .map(|p| testdata(p))
        .collect();
    }
    paths
        .into_iter()
        .map(|p| {
            let (s, r, c) = read_wav(&p);
            // At most 20 s of each file keeps the test fast.
            let keep = (20 * r as usize * usize::from(c)).min(s.len());
            (p.file_name().unwrap().to_string_lossy().into_owned(), s[..keep].to_vec(), r, c)
        })
        .collect()
}

fn audio_attacks(s: &[f32], rate: u32, ch: u16) -> Vec<(&'static str, u32)> {
    let base = audio_fingerprint(s, rate, ch).unwrap();
    let target = if rate == 16_000 { 22_050 } else { 22_050.min(rate / 2) };
    let quiet: Vec<f32> = s.iter().map(|v| v * 0.3).collect();
    let resampled = resample_interleaved(s, ch, rate, target);
    let mp3 = mp3_round_trip(s, rate, ch);
    let trimmed = &s[(rate as usize / 10) * usize::from(ch)..];
    vec![
        ("trim-0.1s", hamming(&base, &audio_fingerprint(trimmed, rate, ch).unwrap())),
        ("volume-10dB", hamming(&base, &audio_fingerprint(&quiet, rate, ch).unwrap())),
        ("resample", hamming(&base, &audio_fingerprint(&resampled, target, ch).unwrap())),
        ("mp3-128k", hamming(&base, &audio_fingerprint(&mp3, rate, ch).unwrap())),
    ]
}

#[test]
fn audio_fingerprint_survives_attacks_and_separates_files() {
    let files = audio_files();
    let prints: Vec<Fingerprint> =
        files.iter().map(|(_, s, r, c)| audio_fingerprint(s, *r, *c).unwrap()).collect();
    for (name, s, r, c) in &files {
        for (attack, d) in audio_attacks(s, *r, *c) {
            // Trimming is reported in the README table, not promised.
            if attack != "trim-0.1s" {
                assert!(d <= AUDIO_MATCH_RADIUS, "{name} {attack}: {d} bits");
            }
        }
    }
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            let d = hamming(&prints[i], &prints[j]);
            assert!(d > AUDIO_MATCH_RADIUS + 16, "{} vs {}: {d} bits", files[i].0, files[j].0);
        }
    }
}

#[test]
fn audio_fingerprint_rejects_bad_input() {
    assert!(audio_fingerprint(&[0.0; 1000], 44_100, 1).is_err());
    assert!(audio_fingerprint(&[0.0; 3], 44_100, 2).is_err());
    assert!(audio_fingerprint(&[f32::NAN; 200_000], 44_100, 1).is_err());
    assert!(audio_fingerprint(&[0.0; 200_000], 100, 1).is_err());
}

/// Prints the distance table for the README (`cargo test -p provmark-core --lib
/// fingerprint::tests::distance_table -- --ignored --nocapture`).
#[test]
#[ignore = "measurement for the README"]
#[allow(clippy::print_stderr, reason = "prints the measured table")]
fn distance_table() {
    let imgs = images();
    let mut worst: std::collections::BTreeMap<&str, u32> = Default::default();
    for (name, img) in &imgs {
        let a = image_attacks(img);
        eprintln!("image {name}: {a:?}");
        for (k, d) in a {
            let e = worst.entry(k).or_default();
            *e = (*e).max(d);
        }
    }
    let imgs = distinct_images();
    let prints: Vec<Fingerprint> =
        imgs.iter().map(|(_, i)| image_fingerprint(i).unwrap()).collect();
    let mut cross: Vec<u32> = Vec::new();
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            cross.push(hamming(&prints[i], &prints[j]));
        }
    }
    cross.sort_unstable();
    eprintln!(
        "image worst per attack: {worst:?}; different files min {} median {} max {} ({} pairs)",
        cross[0],
        cross[cross.len() / 2],
        cross[cross.len() - 1],
        cross.len()
    );
    let files = audio_files();
    let mut worst: std::collections::BTreeMap<&str, u32> = Default::default();
    for (name, s, r, c) in &files {
        let a = audio_attacks(s, *r, *c);
        eprintln!("audio {name}: {a:?}");
        for (k, d) in a {
            let e = worst.entry(k).or_default();
            *e = (*e).max(d);
        }
    }
    let prints: Vec<Fingerprint> =
        files.iter().map(|(_, s, r, c)| audio_fingerprint(s, *r, *c).unwrap()).collect();
    let mut cross: Vec<u32> = Vec::new();
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            cross.push(hamming(&prints[i], &prints[j]));
        }
    }
    cross.sort_unstable();
    eprintln!(
        "audio worst per attack: {worst:?}; different files min {} median {} max {} ({} pairs)",
        cross[0],
        cross[cross.len() / 2],
        cross[cross.len() - 1],
        cross.len()
    );
}

#[test]
fn audio_printer_streamed_in_uneven_pieces_equals_the_whole_buffer() {
    for (name, s, rate, ch) in audio_files() {
        let whole = audio_fingerprint(&s, rate, ch).unwrap();
        let frames = (s.len() / usize::from(ch)) as u64;
        let mut printer = AudioPrinter::new(rate, ch, frames).unwrap();
        // Piece sizes that split frames and analysis hops anywhere.
        let (mut at, mut k) = (0usize, 0usize);
        while at < s.len() {
            let len = [1, 7, 4097, 100_003, 3][k % 5].min(s.len() - at);
            printer.push(&s[at..at + len]).unwrap();
            at += len;
            k += 1;
        }
        assert_eq!(printer.finish().unwrap(), whole, "{name}");
    }
}

#[test]
fn audio_printer_rejects_a_length_other_than_announced() {
    let s = vec![0.1f32; 2 * 44_100 * 3];
    let mut p = AudioPrinter::new(44_100, 2, 44_100 * 3 + 1).unwrap();
    p.push(&s).unwrap();
    assert!(p.finish().is_err());
    let mut p = AudioPrinter::new(44_100, 2, 44_100 * 3 - 1).unwrap();
    assert!(p.push(&s).is_err());
    assert!(AudioPrinter::new(44_100, 2, 3601 * 48_000).is_err());
}

/// The fingerprint of a bundled clip, frozen: ledger records store fingerprints, so a change
/// of the algorithm must be deliberate (and versioned), never a side effect.
#[test]
fn audio_fingerprint_of_a_bundled_clip_is_stable() {
    let (s, rate, ch) = read_wav(&testdata("audio/pcm16-44100-stereo-12s-drascula.wav"));
    let fp = audio_fingerprint(&s, rate, ch).unwrap();
    let hex: String = fp.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "b121b92cab4b8907990ced09a9489d258907a9139128e928e526a126a128b52c");
}
