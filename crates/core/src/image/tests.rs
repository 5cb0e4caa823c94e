use ::image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};

use super::{ImageDetector, ImageEmbedder, ImageParams, MIN_SIDE};
use crate::{ContentId, Error, WatermarkKey};

/// A deterministic textured test picture (smooth gradients plus pseudo-random texture).
fn texture(w: u32, h: u32, seed: u32) -> impl Fn(u32, u32) -> f32 {
    move |x, y| {
        let mut v = x.wrapping_mul(374_761_393)
            ^ y.wrapping_mul(668_265_263)
            ^ seed.wrapping_mul(2_246_822_519);
        v = (v ^ (v >> 13)).wrapping_mul(1_274_126_177);
        let noise = (v >> 24) as f32 / 255.0;
        let fx = x as f32 / w as f32;
        let fy = y as f32 / h as f32;
        40.0 + 150.0 * fx * fy
            + 30.0 * noise
            + 20.0 * (x as f32 * 0.05).sin() * (y as f32 * 0.07).cos()
    }
}

fn rgb8(w: u32, h: u32) -> DynamicImage {
    let t = texture(w, h, 1);
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        let v = t(x, y);
        Rgb([v as u8, (v * 0.8) as u8, (255.0 - v) as u8])
    }))
}

fn key(b: u8) -> WatermarkKey {
    WatermarkKey::from_bytes([b; 32])
}

const ID: ContentId = ContentId::from_u64(0xfeed_face_cafe_beef);

#[test]
fn embed_then_detect_recovers_the_id_with_a_bounded_p_value() {
    let params = ImageParams::default();
    let mut img = rgb8(400, 300);
    ImageEmbedder::new(&key(1), params).embed(&mut img, ID).unwrap();
    let d = ImageDetector::new(&key(1), params).detect(&img).unwrap();
    assert_eq!(d.id, Some(ID), "{d:?}");
    assert!(d.p_value <= 1e-12 && d.p_value > 0.0);
    assert!(!d.mirrored);
    assert!(d.rotation_deg.abs() < 0.5, "{d:?}");
}

#[test]
fn another_key_finds_nothing_and_spends_its_budget() {
    let params = ImageParams::default();
    let mut img = rgb8(400, 300);
    ImageEmbedder::new(&key(1), params).embed(&mut img, ID).unwrap();
    let d = ImageDetector::new(&key(2), params).detect(&img).unwrap();
    assert_eq!(d.id, None);
    // Sync hypotheses first, then list-decoded payloads fill the budget: every payload
    // checked against the tag is counted in the bound.
    assert_eq!(d.attempts, params.attempts(), "{d:?}");
    assert_eq!(d.p_value, crate::payload::false_positive_probability(64));
    assert!(d.p_value <= 1e-12);
    // A smaller budget is respected exactly.
    let small = ImageParams::builder().max_attempts(30).build().unwrap();
    let d = ImageDetector::new(&key(2), small).detect(&img).unwrap();
    assert_eq!((d.id, d.attempts), (None, 30), "{d:?}");
}

#[test]
fn unmarked_image_yields_no_id() {
    let d = ImageDetector::new(&key(1), ImageParams::default()).detect(&rgb8(512, 384)).unwrap();
    assert_eq!(d.id, None, "{d:?}");
}

#[test]
fn mirrored_image_is_detected_as_mirrored() {
    let params = ImageParams::default();
    let mut img = rgb8(384, 384);
    ImageEmbedder::new(&key(3), params).embed(&mut img, ID).unwrap();
    let d = ImageDetector::new(&key(3), params).detect(&img.fliph()).unwrap();
    assert_eq!(d.id, Some(ID), "{d:?}");
    assert!(d.mirrored, "{d:?}");
}

#[test]
fn every_sample_layout_is_marked_and_alpha_is_untouched() {
    let (w, h) = (300u32, 256u32);
    let t = texture(w, h, 7);
    let alpha = |x: u32, y: u32| ((x * 3 + y) % 256) as u8;
    let images = [
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([t(x, y) as u8]))),
        DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
            LumaA([t(x, y) as u8, alpha(x, y)])
        })),
        DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
            let v = t(x, y) as u8;
            Rgba([v, v / 2, 255 - v, alpha(x, y)])
        })),
        DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
            let v = (t(x, y) * 257.0) as u16;
            Rgb([v, v / 3, 65535 - v])
        })),
        DynamicImage::ImageRgba16(ImageBuffer::from_fn(w, h, |x, y| {
            let v = (t(x, y) * 257.0) as u16;
            Rgba([v, v, v, u16::from(alpha(x, y)) * 257])
        })),
    ];
    let params = ImageParams::default();
    let (emb, det) = (ImageEmbedder::new(&key(4), params), ImageDetector::new(&key(4), params));
    for original in images {
        let mut img = original.clone();
        emb.embed(&mut img, ID).unwrap();
        assert_eq!(img.color(), original.color());
        assert_ne!(img.as_bytes(), original.as_bytes(), "{:?} unchanged", img.color());
        if original.color().has_alpha() {
            let a = |i: &DynamicImage| i.to_rgba16().pixels().map(|p| p.0[3]).collect::<Vec<_>>();
            assert_eq!(a(&img), a(&original), "{:?} alpha changed", img.color());
        }
        assert_eq!(det.detect(&img).unwrap().id, Some(ID), "{:?}", img.color());
    }
}

/// PSNR in dB over R, G and B (as the shared harness measures it).
fn rgb_psnr(a: &DynamicImage, b: &DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[test]
fn default_strength_keeps_psnr_above_40_db() {
    let original = rgb8(512, 512);
    let mut img = original.clone();
    let stats = ImageEmbedder::new(&key(5), ImageParams::default()).embed(&mut img, ID).unwrap();
    let psnr = rgb_psnr(&original, &img);
    assert!(psnr >= 40.0, "PSNR {psnr:.2} dB, stats {stats:?}");
}

#[test]
fn sizes_outside_the_supported_range_are_clear_errors() {
    let params = ImageParams::default();
    let mut small = rgb8(MIN_SIDE - 1, 400);
    let e = ImageEmbedder::new(&key(1), params).embed(&mut small, ID).unwrap_err();
    assert!(matches!(e, Error::Params { .. }), "{e}");
    let e = ImageDetector::new(&key(1), params).detect(&small).unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
}

#[test]
fn params_builder_validates_ranges() {
    assert!(ImageParams::builder().strength(0.0).build().is_err());
    assert!(ImageParams::builder().strength(5.0).build().is_err());
    assert!(ImageParams::builder().max_attempts(0).build().is_err());
    assert!(ImageParams::builder().max_false_positive(1e-16).build().is_err(), "allows no attempt");
    let p = ImageParams::builder().strength(2.0).max_false_positive(1e-13).build().unwrap();
    assert_eq!(p.strength(), 2.0);
    // 1e-13 * 2^48 = 28.1: the bound caps the default of 64 attempts at 28.
    assert_eq!(p.attempts(), 28);
    assert_eq!(ImageParams::default().attempts(), 64);
    let p = ImageParams::builder().max_false_positive(2e-14).build().unwrap();
    assert_eq!(p.attempts(), 5);
}

#[test]
fn box_blur_equals_the_direct_clamped_window_mean() {
    let direct = |src: &[f32], w: usize, h: usize, r: usize| -> Vec<f32> {
        let mut out = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0f64;
                for dy in 0..=2 * r {
                    for dx in 0..=2 * r {
                        let yy = (y + dy).saturating_sub(r).min(h - 1);
                        let xx = (x + dx).saturating_sub(r).min(w - 1);
                        s += f64::from(src[yy * w + xx]);
                    }
                }
                out[y * w + x] = (s / ((2 * r + 1) * (2 * r + 1)) as f64) as f32;
            }
        }
        out
    };
    for (w, h, r) in [(1, 1, 0), (7, 5, 2), (3, 9, 4), (40, 23, 9), (64, 64, 1)] {
        let f = texture(w as u32, h as u32, 9);
        let src: Vec<f32> = (0..w * h).map(|i| 255.0 * f((i % w) as u32, (i / w) as u32)).collect();
        let fast = super::embed::box_blur(&src, w, h, r);
        for (i, (a, b)) in fast.iter().zip(direct(&src, w, h, r)).enumerate() {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{w}x{h} r={r} at {i}: {a} vs {b}");
        }
    }
}

#[test]
fn gaussian_blur_equals_the_direct_clamped_convolution_bit_for_bit() {
    for (w, h, sigma) in [(1, 1, 0.8), (5, 7, 3.0), (19, 4, 3.0), (20, 20, 3.0), (64, 33, 0.8)] {
        let f = texture(w as u32, h as u32, 5);
        let src: Vec<f32> = (0..w * h).map(|i| 255.0 * f((i % w) as u32, (i / w) as u32)).collect();
        let k = super::fft2::gaussian_kernel(sigma);
        let r = k.len() / 2;
        // Rows, then columns, each tap in order from the left/top, edges clamped.
        let mut tmp = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (d, kv) in k.iter().enumerate() {
                    acc += kv * src[y * w + (x + d).saturating_sub(r).min(w - 1)];
                }
                tmp[y * w + x] = acc;
            }
        }
        let mut direct = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                for (d, kv) in k.iter().enumerate() {
                    direct[y * w + x] += kv * tmp[(y + d).saturating_sub(r).min(h - 1) * w + x];
                }
            }
        }
        assert_eq!(super::fft2::gaussian_blur(&src, w, h, sigma), direct, "{w}x{h} sigma {sigma}");
    }
}

#[test]
fn integer_row_add_matches_the_per_sample_rounding() {
    use super::pixels::Sample;
    let deltas: Vec<f32> = (0..4000).map(|i| -300.0 + i as f32 * 0.1531).collect();
    for v in 0..=255u8 {
        let mut row = vec![v; deltas.len() * 2];
        <u8 as Sample>::add_row::<2, 1>(&mut row, &deltas);
        for (px, &d) in row.chunks_exact(2).zip(&deltas) {
            assert_eq!(px[0], v.add_delta(d), "v {v} d {d}");
            assert_eq!(px[1], v, "alpha untouched");
        }
        let mut rgba = vec![v; deltas.len() * 4];
        <u8 as Sample>::add_row::<4, 3>(&mut rgba, &deltas);
        for (px, &d) in rgba.chunks_exact(4).zip(&deltas) {
            let want = super::pixels::rgb8_steps([v; 3], d);
            assert_eq!(&px[..3], &want, "v {v} d {d}");
            assert_eq!(px[3], v, "alpha untouched");
            if d.abs() < 1.0 {
                assert_eq!(want, [v.add_delta(d); 3], "below a level: gray, v {v} d {d}");
            }
        }
    }
}

/// An 8-bit RGB pixel takes a luma change of a level or more in the rounded split: the luma
/// follows the change within 0.06 level from 1.5 levels on, 0.15 below (the same change on
/// every channel: within 0.5), for less squared error; below a level, the gray change.
#[test]
fn rgb8_pixels_follow_the_luma_change_in_whole_levels() {
    use super::pixels::{rgb8_steps, Sample, LUMA_WEIGHTS};
    let luma = |c: [u8; 3]| c.iter().zip(LUMA_WEIGHTS).map(|(&v, w)| f32::from(v) * w).sum::<f32>();
    let (mut split, mut gray) = (0.0f64, 0.0f64);
    for v in [[40u8, 90, 200], [128, 128, 128], [200, 30, 60], [20, 20, 20]] {
        for j in 0..400 {
            let d = -8.0 + 0.04 * j as f32;
            let new = rgb8_steps(v, d);
            if d.abs() >= 1.0 {
                let moved = luma(new) - luma(v);
                let tolerance = if d.abs() >= 1.5 { 0.06 } else { 0.15 };
                assert!((moved - d).abs() <= tolerance, "{v:?} {d}: {new:?} moved {moved}");
            }
            let sq = |a: [u8; 3]| {
                a.iter().zip(v).map(|(&x, y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>()
            };
            split += sq(new);
            gray += sq(v.map(|c| c.add_delta(d)));
        }
    }
    assert!(split < 0.85 * gray, "squared error {split} vs gray {gray}");
}

/// An RGB pixel takes a luma change mostly on green (the least-squares split of the BT.601
/// weights): the luma moves by the change, as with the same change on all three channels,
/// for about 3/4 of the squared error; near the range's ends the other channels make up what
/// a clipped one loses.
#[test]
fn rgb_pixels_take_a_luma_change_for_less_squared_error() {
    use super::pixels::{rgb_deltas, LUMA_WEIGHTS};
    let luma = |c: [f32; 3]| c.iter().zip(LUMA_WEIGHTS).map(|(v, w)| v * w).sum::<f32>();
    let (mut split, mut gray) = (0.0f64, 0.0f64);
    for (i, v) in
        [[40.0, 90.0, 200.0], [128.0, 128.0, 128.0], [230.0, 20.0, 60.0]].into_iter().enumerate()
    {
        for j in 0..200 {
            let d = -8.0 + 0.08 * j as f32 + 0.01 * i as f32;
            let dc = rgb_deltas(v, d);
            assert!((luma(dc) - d).abs() < 1e-4, "{v:?} {d}: {dc:?}");
            split += dc.iter().map(|x| f64::from(x * x)).sum::<f64>();
            gray += 3.0 * f64::from(d * d);
        }
    }
    let ratio = split / gray;
    assert!((ratio - 0.746).abs() < 0.01, "squared error ratio {ratio}");
    // Green near the top of its range: red and blue make up part of the luma green cannot
    // take (more than the same +3 on every channel gives: 1.83), none moving more than green's
    // share would have (3.94).
    let dc = rgb_deltas([100.0, 254.0, 100.0], 3.0);
    assert!((dc[1] - 1.0).abs() < 1e-6 && luma(dc) > 2.0, "{dc:?}");
    assert!(dc.iter().all(|x| x.abs() <= 3.0 * 1.314), "{dc:?}");
    // White cannot get brighter.
    assert_eq!(rgb_deltas([255.0; 3], 2.0), [0.0; 3]);
}

/// The same picture as RGB and as its own luma (gray): the same mark in the luma, found in
/// both, and the RGB one has the higher PSNR (RGB, as the harness measures it) by about the
/// 1.27 dB the least-squares split saves.
#[test]
fn rgb_pictures_carry_the_mark_for_a_higher_psnr_than_gray_ones() {
    let original = rgb8(400, 300);
    let gray = DynamicImage::ImageLuma8(original.to_luma8());
    let params = ImageParams::default();
    let (emb, det) = (ImageEmbedder::new(&key(6), params), ImageDetector::new(&key(6), params));
    let (mut rgb_marked, mut gray_marked) = (original.clone(), gray.clone());
    emb.embed(&mut rgb_marked, ID).unwrap();
    emb.embed(&mut gray_marked, ID).unwrap();
    assert_eq!(det.detect(&rgb_marked).unwrap().id, Some(ID));
    assert_eq!(det.detect(&gray_marked).unwrap().id, Some(ID));
    let (p_rgb, p_gray) = (rgb_psnr(&original, &rgb_marked), rgb_psnr(&gray, &gray_marked));
    assert!(p_rgb > p_gray + 0.9, "RGB {p_rgb:.2} dB, gray {p_gray:.2} dB");
}

/// A white page with a dark disc: the mark in the white area only darkens (it cannot go
/// above 255), the flat white gets a visible share of the mark (saturated blocks), and the
/// PSNR stays above 40 dB (the clipped half is counted out of the RMS budget, not more).
#[test]
fn white_page_gets_a_mark_within_the_psnr_budget() {
    let original = DynamicImage::ImageRgb8(ImageBuffer::from_fn(320, 256, |x, y| {
        let (dx, dy) = (f64::from(x) - 160.0, f64::from(y) - 128.0);
        if dx * dx + dy * dy < 60.0 * 60.0 {
            Rgb([120, 20, 40])
        } else {
            Rgb([255, 255, 255])
        }
    }));
    let mut img = original.clone();
    ImageEmbedder::new(&key(6), ImageParams::default()).embed(&mut img, ID).unwrap();
    let (a, b) = (original.to_rgb8(), img.to_rgb8());
    let (mut se, mut white, mut darkened) = (0.0f64, 0usize, 0usize);
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        se +=
            pa.0.iter().zip(pb.0).map(|(&x, y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>();
        if pa.0 == [255, 255, 255] {
            white += 1;
            darkened += usize::from(pb.0[0] <= 253);
        }
    }
    let psnr = 10.0 * (255.0f64 * 255.0 * a.as_raw().len() as f64 / se).log10();
    assert!(psnr >= 40.0, "PSNR {psnr:.2} dB");
    // Measured: 34 % of the white pixels; before the saturated-block floor 0.85 %.
    assert!(darkened * 10 >= white, "{darkened} of {white} white pixels darkened by ≥ 2");
}

/// Sync-or-payload diagnosis of real cases: `PROVMARK_DIAG_CASES` names a file of lines
/// `path hex16 orig_w orig_h` and `PROVMARK_DIAG_HOME` the key's home. For every case it
/// prints whether the detector found the ID, the periods of the lattice hypotheses against the
/// true one, and the coded-bit errors (against the true codeword) of the best sync peak of
/// every hypothesis and of the true lattice.
#[test]
#[ignore = "diagnostic over external files"]
fn diag_sync() {
    use super::pattern::{cell_size, N};
    let (Some(cases), Some(home)) =
        (std::env::var_os("PROVMARK_DIAG_CASES"), std::env::var_os("PROVMARK_DIAG_HOME"))
    else {
        return;
    };
    let key = crate::identity::Identity::load(std::path::Path::new(&home)).unwrap().watermark_key;
    let params = ImageParams::default();
    let det = ImageDetector::new(&key, params);
    let text = std::fs::read_to_string(cases).unwrap();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (path, hex, ow, oh) =
            (f[0], f[1], f[2].parse::<u32>().unwrap(), f[3].parse::<u32>().unwrap());
        let id = ContentId::from_u64(u64::from_str_radix(hex, 16).unwrap());
        let truth = det.codec.encode(id);
        let img = crate::codec::image::decode(&std::fs::read(path).unwrap()).unwrap().pixels;
        let found = det.detect(&img).unwrap();
        let short = img.width().min(img.height()) as usize;
        let k = ((short + super::lattice::WORKING_SHORT_SIDE / 2)
            / super::lattice::WORKING_SHORT_SIDE)
            .max(1);
        let (luma, w, h) = super::pixels::with_samples!(&img, b, layout, {
            let buf: &[_] = b;
            Ok::<_, Error>(super::pixels::block_luma(buf, layout, k))
        })
        .unwrap();
        let res = super::lattice::residual(&luma, w, h);
        let bases = super::lattice::lattice_candidates(&res, w, h, super::LATTICE_HYPOTHESES);
        let scale = if path.contains("crop") { 1.0 } else { img.width() as f32 / ow as f32 };
        let p_true = N as f32 * cell_size(ow, oh) * scale / k as f32;
        let errs = |basis: &[super::lattice::V2; 2]| -> (usize, f32) {
            let found = det.sync_search(&res, w, h, basis, 8, &(0..8).collect::<Vec<_>>());
            let mut best = (usize::MAX, 0.0);
            for p in &found.peaks {
                let soft = det.soft_bits(&found.matched[p.d], p);
                let e = soft.iter().zip(&truth).filter(|(s, t)| (**s > 0.0) != (**t > 0.0)).count();
                if e < best.0 {
                    best = (e, p.z);
                }
            }
            best
        };
        let mut desc = String::new();
        for b in &bases {
            let per = 0.5 * (super::norm(b[0]) + super::norm(b[1]));
            let (e, z) = errs(b);
            desc.push_str(&format!(" [{per:.1}: {e} z{z:.1}]"));
        }
        let (oe, oz) = errs(&[[p_true, 0.0], [0.0, p_true]]);
        if std::env::var_os("PROVMARK_DIAG_SCAN").is_some() {
            let mut line = String::new();
            for i in -12i32..=12 {
                let p = p_true + i as f32 * 0.15;
                let (e, z) = errs(&[[p, 0.0], [0.0, p]]);
                line.push_str(&format!(" {:+.2}:{e}/{z:.1}", i as f32 * 0.15));
            }
            println!("SCAN {path}{line}");
        }
        if let Some(b0) = bases.first() {
            let found = det.sync_search(&res, w, h, b0, 1, &(0..8).collect::<Vec<_>>());
            if let Some(top) = found.peaks.first() {
                let r = det.refine_basis(&res, w, h, *b0, top.d, top.z);
                let (e, z) = errs(&r);
                println!("REFINED {path} {r:?} {e} z{z:.1}");
            }
        }
        let name = path.rsplit('/').take(2).collect::<Vec<_>>();
        println!(
            "SYNC {} {} ok={} be={} | true {p_true:.1}: {oe} z{oz:.1} |{desc}",
            name[1].split('.').nth(1).unwrap_or(""),
            name[0],
            found.id == Some(id),
            found.bit_errors
        );
    }
}

/// A picture of busy, fine texture everywhere (like gravel): independent grey noise of ±50
/// levels per 2×2 block around mid-grey.
fn gravel(w: u32, h: u32) -> DynamicImage {
    let t = texture(w, h, 3);
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
        let n = t(x / 2 * 2 + 1, y / 2 * 2 + 7) - t(x / 2 * 2 + 1, y / 2 * 2 + 7).floor();
        Luma([(128.0 + 100.0 * (n - 0.5)) as u8])
    }))
}

#[test]
fn busy_texture_gets_a_stronger_mark_that_is_found_and_smooth_pictures_do_not() {
    let (k, params) = (key(5), ImageParams::default());
    let embedder = ImageEmbedder::new(&k, params);
    let detector = ImageDetector::new(&k, params);
    let mut busy = gravel(384, 384);
    let original = busy.clone();
    let stats = embedder.embed(&mut busy, ID).unwrap();
    assert!(stats.boost > 1.0, "{stats:?}");
    assert_eq!(detector.detect(&busy).unwrap().id, Some(ID), "{stats:?}");
    let (a, b) = (original.to_luma8(), busy.to_luma8());
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    assert!(psnr > 34.0, "psnr {psnr}");
    // The same ID at the nominal amplitude alone is not found there.
    let mut nominal = original.clone();
    embed_nominal(&mut nominal, &k);
    assert_eq!(detector.detect(&nominal).unwrap().id, None);

    let mut smooth = rgb8(400, 300);
    let stats = embedder.embed(&mut smooth, ID).unwrap();
    assert!(stats.self_check && (stats.boost - 1.0).abs() < 1e-6, "{stats:?}");
}

/// Mean SSIM of two grey pictures as scikit-image computes it by default (7×7 uniform
/// windows, sample covariance, K1 = 0.01, K2 = 0.03, 0..255), over the windows of `region`.
fn ssim(a: &[u8], b: &[u8], w: usize, h: usize, region: impl Fn(usize, usize) -> bool) -> f64 {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut sum, mut n) = (0.0, 0usize);
    for y in 3..h - 3 {
        for x in 3..w - 3 {
            if !region(x, y) {
                continue;
            }
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for j in y - 3..=y + 3 {
                for i in x - 3..=x + 3 {
                    let (p, q) = (f64::from(a[j * w + i]), f64::from(b[j * w + i]));
                    (sa, sb, saa, sbb, sab) =
                        (sa + p, sb + q, saa + p * p, sbb + q * q, sab + p * q);
                }
            }
            let m = 49.0;
            let (ma, mb) = (sa / m, sb / m);
            let k = m / (m - 1.0);
            let (va, vb, cov) =
                (k * (saa / m - ma * ma), k * (sbb / m - mb * mb), k * (sab / m - ma * mb));
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// RMS of the change between two grey pictures over the pixels of `region`.
fn rms_change(a: &[u8], b: &[u8], w: usize, region: impl Fn(usize, usize) -> bool) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        if region(i % w, i / w) {
            s += (f64::from(*p) - f64::from(*q)).powi(2);
            n += 1;
        }
    }
    (s / n.max(1) as f64).sqrt()
}

/// A mostly black picture (like a retina photograph): a textured disk on black with the
/// faint noise of a JPEG, and whether a pixel is in the black surround.
fn dark_disk(side: u32) -> (DynamicImage, impl Fn(usize, usize) -> bool) {
    let t = texture(side, side, 4);
    let c = side as f32 / 2.0;
    let r = side as f32 * 0.36;
    let outside = move |x: usize, y: usize| {
        let (dx, dy) = (x as f32 - c, y as f32 - c);
        (dx * dx + dy * dy).sqrt() > r + 6.0
    };
    let img = DynamicImage::ImageLuma8(ImageBuffer::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f32 - c, y as f32 - c);
        let v = t(x, y);
        if (dx * dx + dy * dy).sqrt() > r {
            Luma([((v - v.floor()) * 3.0) as u8])
        } else {
            Luma([(v * 0.9) as u8])
        }
    }));
    (img, outside)
}

#[test]
fn dark_flat_surround_gets_a_faint_mark_within_the_ssim_budget_and_the_id_is_found() {
    // The black surround pays SSIM's mean term (C1 is small there) and variance term at full
    // price: the mark must stay faint there while the textured disk carries it. Before the
    // SSIM caps (saturated floor on the black): surround RMS 1.49, disk 3.39, surround SSIM
    // 0.908, SSIM 0.932 (harness-style SSIM of this picture); with them 0.73, 3.07, 0.975,
    // 0.974.
    let side = 448;
    let (original, outside) = dark_disk(side);
    for b in [1u8, 6, 7] {
        let k = key(b);
        let mut img = original.clone();
        let stats = ImageEmbedder::new(&k, ImageParams::default()).embed(&mut img, ID).unwrap();
        let found = ImageDetector::new(&k, ImageParams::default()).detect(&img).unwrap();
        assert_eq!(found.id, Some(ID), "key {b}: {stats:?} {found:?}");
        let (a, m) = (original.to_luma8(), img.to_luma8());
        let s = side as usize;
        let dark_rms = rms_change(a.as_raw(), m.as_raw(), s, &outside);
        let disk_rms = rms_change(a.as_raw(), m.as_raw(), s, |x, y| !outside(x, y));
        let dark_ssim = ssim(a.as_raw(), m.as_raw(), s, s, &outside);
        let all_ssim = ssim(a.as_raw(), m.as_raw(), s, s, |_, _| true);
        assert!(dark_rms < 1.0, "key {b}: surround RMS {dark_rms} (disk {disk_rms})");
        assert!(disk_rms > 3.0 * dark_rms, "key {b}: disk RMS {disk_rms}, surround {dark_rms}");
        assert!(dark_ssim > 0.95, "key {b}: surround SSIM {dark_ssim}");
        assert!(all_ssim > 0.96, "key {b}: SSIM {all_ssim}");
    }
}

#[test]
fn ssim_caps_follow_the_window_statistics() {
    // 8×8 blocks of 1 px: flat dark, flat mid-grey, textured mid-grey, flat white.
    let (w, h) = (32, 8);
    let mut luma = vec![0.0f32; w * h];
    let mut sq = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mean, var) = match x / 8 {
                0 => (0.0, 0.0),
                1 => (128.0, 0.0),
                2 => (128.0, 400.0),
                _ => (250.0, 0.0),
            };
            luma[y * w + x] = mean;
            sq[y * w + x] = mean * mean + var;
        }
    }
    let caps = super::embed::ssim_caps(&luma, &sq, w, h, 1, 4.0);
    let at = |x: usize| caps[4 * w + x];
    let (dark, grey, busy, white) = (at(4), at(12), at(20), at(28));
    assert!(dark < 0.5 * grey, "dark {dark} grey {grey}");
    assert!(busy > 2.0 * grey, "busy {busy} grey {grey}");
    assert!(white >= grey && white < 1.1 * grey, "white {white} grey {grey}");
    // A flat mid-grey window at its cap loses about SSIM_WINDOW_LOSS: P = (cap · 0.667)².
    let p = (grey * 0.667).powi(2);
    let mean_share = (16.0f32 / 25.0).powi(2);
    let loss = mean_share * p / (2.0 * 128.0 * 128.0 + 6.5025) + (1.0 - mean_share) * p / 58.5225;
    assert!((loss - 0.03).abs() < 1e-3, "loss {loss}");
}

/// Busy texture with a flat mid-grey band on the right from column `split` (with a band of
/// 64 px or more, the flat band's clean mark alone reads back, and nothing is boosted).
fn half_busy(w: u32, h: u32, split: u32) -> DynamicImage {
    let g = gravel(w, h).to_luma8();
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
        if x < split {
            *g.get_pixel(x, y)
        } else {
            Luma([120])
        }
    }))
}

#[test]
fn the_self_check_boosts_texture_and_leaves_flat_areas_as_they_were() {
    let (k, params) = (key(5), ImageParams::default());
    let original = half_busy(512, 384, 448);
    let mut boosted = original.clone();
    let stats = ImageEmbedder::new(&k, params).embed(&mut boosted, ID).unwrap();
    assert!(stats.boost > 1.0 && stats.local_boost, "{stats:?}");
    assert_eq!(ImageDetector::new(&k, params).detect(&boosted).unwrap().id, Some(ID));
    // The same mark at the nominal amplitude, no self-check.
    let mut nominal = original.clone();
    embed_nominal(&mut nominal, &k);
    let (a, b, n) = (original.to_luma8(), boosted.to_luma8(), nominal.to_luma8());
    let busy = |x: usize, _: usize| x < 448 - 16;
    let flat = |x: usize, _: usize| x >= 448 + 16;
    let (busy_b, busy_n) = (
        rms_change(a.as_raw(), b.as_raw(), 512, busy),
        rms_change(a.as_raw(), n.as_raw(), 512, busy),
    );
    // The flat band may rise only within its SSIM budget (there the nominal mark rounds to
    // nothing; a global +1.5 dB boost would not change that, but the budget is the bound).
    let flat_b = rms_change(a.as_raw(), b.as_raw(), 512, flat);
    let flat_ssim = ssim(a.as_raw(), b.as_raw(), 512, 384, |x, y| flat(x, y) && x < 512 - 3);
    assert!(flat_b < 1.0 && flat_ssim > 0.99, "flat band RMS {flat_b}, SSIM {flat_ssim}");
    assert!(busy_b > 1.1 * busy_n, "busy {busy_b} vs {busy_n} ({stats:?})");
}

/// Marks `img` with `ID` at the nominal amplitude, without the self-check's boosts.
fn embed_nominal(img: &mut DynamicImage, k: &WatermarkKey) {
    let coded = crate::payload::PayloadCodec::new(k).encode(ID);
    let layout = super::pattern::TileLayout::new(k);
    let fft = super::fft2::Fft2::new(super::sync::M, super::sync::M);
    let source =
        super::embed::TileSource { layout: &layout, coded: &coded, fft: &fft, check: false };
    super::embed::embed_tile(img, &source, 1.0).unwrap();
}

mod fast_paths;
