//! Robustness of the image watermark over `testdata/images`: fast cases in the default run,
//! the whole attack list behind `--ignored` (prints a table).
//!
//! Run the sweep on any folder: `PROVMARK_SWEEP_DIR=../shared/corpus/image/dev cargo test
//! --release -p provmark-core --test it -- --ignored --nocapture sweep`.

use std::path::{Path, PathBuf};

use provmark_core::audio::AudioParams;
use provmark_core::codec::image::decode;
use provmark_core::image::{ImageDetector, ImageEmbedder, ImageParams, MIN_SIDE};
use provmark_core::stamp::{Detectors, Kind, StampSettings, Stamper, VisibleOptions};
use provmark_core::{ContentId, Identity, ProducerCode, WatermarkKey};

use crate::attacks;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/images").join(name)
}

fn key() -> WatermarkKey {
    WatermarkKey::from_bytes(*b"provmark image robustness key 01")
}

fn load(path: &Path) -> image::DynamicImage {
    decode(&std::fs::read(path).unwrap()).unwrap().pixels
}

/// Marks `name`, applies each attack, and checks the exact ID comes back.
fn check(name: &str, attack_names: &[&str]) {
    let params = ImageParams::default();
    let (emb, det) = (ImageEmbedder::new(&key(), params), ImageDetector::new(&key(), params));
    let id = ContentId::from_u64(0x5eed_0000_0000_0000 ^ (name.len() as u64 * 0x9e37_79b9));
    let mut img = load(&testdata(name));
    emb.embed(&mut img, id).unwrap();
    for a in attack_names {
        let attacked = attacks::apply(a, &img);
        let d = det.detect(&attacked).unwrap();
        assert_eq!(d.id, Some(id), "{name} / {a}: {d:?}");
        assert!(d.p_value <= 1e-12, "{d:?}");
    }
}

#[test]
fn small_chelsea_survives_geometry_and_brightness() {
    check("rgb8-451x300-chelsea.png", &["none", "hflip", "bright-20", "gamma0.8"]);
}

#[test]
fn rocket_survives_rescaling_and_photometric_edits() {
    check(
        "rgb8-640x427-rocket.jpg",
        &["resize50", "resize200", "chain", "gamma1.25", "blur1", "noise10"],
    );
}

#[test]
fn gray_camera_survives_screenshot_and_flip() {
    check(
        "gray8-512x512-camera.png",
        &["screenshot", "crop_resize_social", "hflip", "contrast0.7"],
    );
}

/// A logo-like picture: a white page (most pixels at 255, where a luminance mark can only
/// darken) with a dark red ring and a bar, anti-aliased edges only.
fn white_logo() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(288, 256, |x, y| {
        let (dx, dy) = (f64::from(x) - 130.0, f64::from(y) - 128.0);
        let r = (dx * dx + dy * dy).sqrt();
        // Coverage of the ring (radii 55..85) and of a bar, with a one-pixel soft edge.
        let ring = ((r - 55.0).clamp(0.0, 1.0)) * ((85.0 - r).clamp(0.0, 1.0));
        let bar = if (225..245).contains(&x) && (40..216).contains(&y) { 1.0 } else { 0.0 };
        let c = f64::max(ring, bar);
        let mix = |ink: f64| (255.0 + (ink - 255.0) * c).round() as u8;
        image::Rgb([mix(178.0), mix(30.0), mix(72.0)])
    }))
}

/// A mostly white logo (where the luminance mark can only darken, and a flat area got a
/// sub-level change that rounds away or clips) keeps its ID through JPEG 50 and a 1.2×
/// brightening under several keys.
// See: `debian_logo_256.png` of the dev corpus (87 % white) missed 9 of 10 hard attacks
// under every key; saturated blocks now get a higher mask floor.
#[test]
fn white_logo_survives_jpeg_under_several_keys() {
    let orig = white_logo();
    let mut misses = Vec::new();
    for k in 0u8..3 {
        let mut kb = *b"provmark white logo test key 000";
        kb[31] = b'0' + k;
        let key = WatermarkKey::from_bytes(kb);
        let params = ImageParams::default();
        let (emb, det) = (ImageEmbedder::new(&key, params), ImageDetector::new(&key, params));
        let id = ContentId::from_u64(0x0fed_cba9_8765_4321 ^ u64::from(k));
        let mut img = orig.clone();
        emb.embed(&mut img, id).unwrap();
        for a in ["jpeg50", "noise10"] {
            let d = det.detect(&attacks::apply(a, &img)).unwrap();
            if d.id != Some(id) {
                misses.push(format!("key {k} / {a}: {d:?}"));
            }
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

/// The small bundled pictures (0.14 and 0.26 MP, where few tiles are averaged) keep their ID
/// under JPEG 30, a 70 % crop and blur 2 under several keys.
// See: on the shared harness chelsea (451×300) missed crop 70 and blur 2 and the astronaut
// JPEG 30; small pictures now get smaller chips and more tiles (3.2 px / 2.9 tiles and 4 px
// / 4 tiles instead of 3.75 px / 2.5 and 5 px / 3.2), the lattice search covers the crop's
// longer relative period, and the lattice refinement goes down to 0.05 px.
#[test]
fn small_pictures_survive_jpeg30_crop70_and_blur2_under_several_keys() {
    let mut misses = Vec::new();
    let mut cases = 0;
    for name in ["rgb8-451x300-chelsea.png", "rgb8-512x512-astronaut.webp"] {
        let orig = load(&testdata(name));
        for k in 0u8..3 {
            let mut kb = *b"provmark small picture test key0";
            kb[31] = b'0' + k;
            let key = WatermarkKey::from_bytes(kb);
            let params = ImageParams::default();
            let (emb, det) = (ImageEmbedder::new(&key, params), ImageDetector::new(&key, params));
            let id = ContentId::from_u64(0x5a11_0000_0000_0000 ^ u64::from(k) ^ name.len() as u64);
            let mut img = orig.clone();
            emb.embed(&mut img, id).unwrap();
            for a in ["jpeg30", "crop70", "blur2"] {
                cases += 1;
                let d = det.detect(&attacks::apply(a, &img)).unwrap();
                if d.id != Some(id) {
                    misses.push(format!("{name} key {k} / {a}: {d:?}"));
                }
            }
        }
    }
    println!("SMALL misses {} of {cases}", misses.len());
    // 1 of 18 with this build, 7 of 18 with the previous tile geometry and lattice search.
    assert!(misses.len() <= 2, "{misses:#?}");
}

#[test]
fn unmarked_images_and_their_attacked_versions_yield_no_id() {
    let det = ImageDetector::new(&key(), ImageParams::default());
    for name in
        ["rgb8-451x300-chelsea.png", "gray8-512x512-camera.png", "rgb8-512x512-astronaut.webp"]
    {
        let img = load(&testdata(name));
        for a in ["none", "jpeg50", "crop70", "rot5_crop"] {
            let d = det.detect(&attacks::apply(a, &img)).unwrap();
            assert_eq!(d.id, None, "{name} / {a}: {d:?}");
        }
    }
}

/// Every bundled image, stamped through the same in-memory path as `provmark stamp`
/// (decode → embed → encode in the input's format → signed metadata), is detected unattacked
/// with its exact ID, under several keys and IDs.
// See: the 512×512 astronaut WebP came out `label_only` from the main job (host texture
// drowned the mark at 0.26 MP; fixed by whitening and local-SNR weighting in the detector).
#[test]
fn stamped_testdata_images_are_detected_unattacked() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::read(p).is_ok_and(|b| Kind::sniff(&b) == Some(Kind::Image)))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut identity = Identity::generate("test", ProducerCode::development().unwrap()).unwrap();
    let settings = StampSettings {
        image: ImageParams::default(),
        audio: AudioParams::default(),
        visible: VisibleOptions::default(),
        model: "test-model".into(),
        ledger_origin: "test".into(),
    };
    let mut misses = Vec::new();
    for k in 0u8..4 {
        let mut kb = *b"provmark stamp path test key 000";
        kb[31] = b'0' + k;
        identity.watermark_key = WatermarkKey::from_bytes(kb);
        let stamper = Stamper::new(
            &identity.watermark_key,
            identity.signing_key.clone(),
            identity.provider.clone(),
            settings.clone(),
        );
        let detectors = Detectors::new(&[identity.watermark_key.clone()]);
        for (i, f) in files.iter().enumerate() {
            let id = ContentId::from_u64(0x0123_4567_89ab_cdef ^ (u64::from(k) << 56) ^ i as u64);
            let stamped =
                stamper.stamp(&std::fs::read(f).unwrap(), id, "2026-01-01T00:00:00Z").unwrap();
            let found = detectors.detect(&stamped.bytes).unwrap();
            if found.id != Some(id) {
                misses.push(format!("{} key {k}: {found:?}", f.display()));
            }
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

/// The whole attack list over a folder (default `testdata/images`), printed as a table of
/// exact-ID recovery per attack, plus false IDs on the unmarked originals.
#[test]
#[ignore = "long: the full attack sweep"]
fn sweep() {
    let dir = std::env::var_os("PROVMARK_SWEEP_DIR").map_or_else(|| testdata(""), PathBuf::from);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let params = ImageParams::default();
    let (emb, det) = (ImageEmbedder::new(&key(), params), ImageDetector::new(&key(), params));
    let mut ok = vec![0usize; attacks::ALL.len()];
    let mut total = vec![0usize; attacks::ALL.len()];
    let mut false_ids = 0;
    for (i, f) in files.iter().enumerate() {
        let Ok(bytes) = std::fs::read(f) else { continue };
        let Ok(d) = decode(&bytes) else { continue };
        let orig = d.pixels;
        let id = ContentId::from_u64(0xa5a5_0000_0000_0000 | i as u64);
        let mut img = orig.clone();
        emb.embed(&mut img, id).unwrap();
        let mut failed = Vec::new();
        for (k, a) in attacks::ALL.iter().enumerate() {
            let att = attacks::apply(a, &img);
            let (w, h) = attacks::dims(&att);
            if w.min(h) < MIN_SIDE {
                continue;
            }
            total[k] += 1;
            if det.detect(&att).unwrap().id == Some(id) {
                ok[k] += 1;
            } else {
                failed.push(*a);
            }
            let un = attacks::apply(a, &orig);
            if det.detect(&un).unwrap().id.is_some() {
                false_ids += 1;
            }
        }
        println!("{}: failed {:?}", f.display(), failed);
    }
    println!("| attack | exact ID |\n|---|---|");
    for (k, a) in attacks::ALL.iter().enumerate() {
        println!("| {a} | {}/{} |", ok[k], total[k]);
    }
    println!("false IDs on unmarked controls: {false_ids}");
    assert_eq!(false_ids, 0);
}

/// Quick robustness diagnostic: the small dev images under the hard attacks and three keys;
/// prints the number of misses (`PROVMARK_DIAG_DIR`, default `testdata/images`).
#[test]
#[ignore = "long: robustness diagnostic"]
fn diag_small() {
    let dir = std::env::var_os("PROVMARK_DIAG_DIR").map_or_else(|| testdata(""), PathBuf::from);
    let names = ["astronaut.png", "debian_logo_256.png", "chelsea.png", "camera.png", "rocket.jpg"];
    let atts = [
        "jpeg75",
        "jpeg50",
        "jpeg30",
        "resize50",
        "crop70",
        "noise10",
        "bright+20",
        "contrast1.3",
        "screenshot",
        "chain",
    ];
    let params = ImageParams::default();
    let mut misses = 0;
    let mut fids = 0;
    let mut bit_errors = 0;
    // `PROVMARK_DIAG_ONLY=name` restricts the run to one image (faster iterations).
    let only = std::env::var("PROVMARK_DIAG_ONLY").ok();
    for k in 0u8..3 {
        let mut kb = *b"provmark image diagnostic key 00";
        kb[31] = b'0' + k;
        let key = WatermarkKey::from_bytes(kb);
        let (emb, det) = (ImageEmbedder::new(&key, params), ImageDetector::new(&key, params));
        for (i, n) in names.iter().enumerate() {
            if only.as_deref().is_some_and(|o| o != *n) {
                continue;
            }
            let Ok(bytes) = std::fs::read(dir.join(n)) else { continue };
            let orig = decode(&bytes).unwrap().pixels;
            let id = ContentId::from_u64(0x1234_5678_9abc_def0 ^ (u64::from(k) << 40) ^ i as u64);
            let mut img = orig.clone();
            emb.embed(&mut img, id).unwrap();
            let psnr = luma_psnr(&orig, &img);
            let ssim = rgb_ssim(&orig, &img);
            let mut errs = 0;
            let mut failed = Vec::new();
            for a in atts {
                let d = det.detect(&attacks::apply(a, &img)).unwrap();
                // Coded-bit errors of the best attempt: a finer margin than the miss count.
                bit_errors += d.bit_errors;
                errs += d.bit_errors;
                if d.id != Some(id) {
                    failed.push(a);
                    misses += 1;
                }
                if k == 0 && det.detect(&attacks::apply(a, &orig)).unwrap().id.is_some() {
                    fids += 1;
                }
            }
            println!("key {k} {n} ({psnr:.1} dB, SSIM {ssim:.4}, bit errors {errs}): {failed:?}");
        }
    }
    println!("DIAG misses {misses}/150 false IDs {fids} coded-bit errors {bit_errors}");
}

/// PSNR (dB) of the RGB samples of `b` against `a` (8-bit scale).
fn luma_psnr(a: &image::DynamicImage, b: &image::DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

/// Mean SSIM over the RGB channels, as the shared harness computes it (scikit-image
/// `structural_similarity`: 7×7 uniform window, sample covariance, borders of 3 px left out).
fn rgb_ssim(a: &image::DynamicImage, b: &image::DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let (w, h) = (a.width() as usize, a.height() as usize);
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let np = 49.0f64;
    let cov_norm = np / (np - 1.0);
    let mut total = 0.0;
    for ch in 0..3 {
        let get = |img: &image::RgbImage, x: usize, y: usize| {
            f64::from(img.as_raw()[(y * w + x) * 3 + ch])
        };
        let mut sum = 0.0;
        let mut n = 0usize;
        for y in 3..h - 3 {
            for x in 3..w - 3 {
                let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for dy in 0..7 {
                    for dx in 0..7 {
                        let (u, v) =
                            (get(&a, x + dx - 3, y + dy - 3), get(&b, x + dx - 3, y + dy - 3));
                        sx += u;
                        sy += v;
                        sxx += u * u;
                        syy += v * v;
                        sxy += u * v;
                    }
                }
                let (mx, my) = (sx / np, sy / np);
                let vx = cov_norm * (sxx / np - mx * mx);
                let vy = cov_norm * (syy / np - my * my);
                let vxy = cov_norm * (sxy / np - mx * my);
                sum += ((2.0 * mx * my + c1) * (2.0 * vxy + c2))
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
                n += 1;
            }
        }
        total += sum / n as f64;
    }
    total / 3.0
}

/// PSNR and SSIM (as the shared harness computes them) of every image of a folder marked at
/// the default strength (`PROVMARK_DIAG_DIR`, default `testdata/images`), with their means.
#[test]
#[ignore = "long: quality over a folder"]
fn diag_quality() {
    let dir = std::env::var_os("PROVMARK_DIAG_DIR").map_or_else(|| testdata(""), PathBuf::from);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let emb = ImageEmbedder::new(&key(), ImageParams::default());
    let (mut sp, mut ss, mut n) = (0.0, 0.0, 0.0);
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else { continue };
        let Ok(d) = decode(&bytes) else { continue };
        let mut img = d.pixels.clone();
        emb.embed(&mut img, ContentId::from_u64(0x0bad_cafe_0000_0001)).unwrap();
        let (p, s) = (luma_psnr(&d.pixels, &img), rgb_ssim(&d.pixels, &img));
        println!("QUALITY {}: {p:.2} dB, SSIM {s:.4}", f.display());
        sp += p;
        ss += s;
        n += 1.0;
    }
    println!("QUALITY mean PSNR {:.2} dB, mean SSIM {:.4}", sp / n, ss / n);
}
