#![allow(clippy::unwrap_used, reason = "tests")]

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

/// Inked rows/columns of the label measured independently of the renderer: on a uniform grey
/// picture with the default white-on-plate style, text pixels are the ones brighter than the
/// original grey.
fn measure_ink(img: &GrayImage, bg: u8) -> Option<(u32, u32, u32, u32)> {
    let threshold = bg.saturating_add((255 - bg) / 2);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p[0] > threshold {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 != u32::MAX).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// Heights of the inked column runs (the separate glyphs `A`, `I`, `生`, `成`).
fn glyph_heights(img: &GrayImage, bg: u8, ink: (u32, u32, u32, u32)) -> Vec<u32> {
    let threshold = bg.saturating_add((255 - bg) / 2);
    let (x0, y0, w, h) = ink;
    let mut runs = Vec::new();
    let mut current: Option<(u32, u32)> = None;
    for x in x0..x0 + w + 1 {
        let rows: Vec<u32> = (y0..y0 + h)
            .filter(|&y| x < img.width() && img.get_pixel(x, y)[0] > threshold)
            .collect();
        match (rows.first(), rows.last(), current) {
            (Some(&a), Some(&b), Some((t, u))) => current = Some((t.min(a), u.max(b))),
            (Some(&a), Some(&b), None) => current = Some((a, b)),
            (None, _, Some((t, u))) => {
                runs.push(u - t + 1);
                current = None;
            }
            _ => {}
        }
    }
    runs
}

#[test]
fn label_text_rules() {
    for ok in [
        "AI生成",
        "人工智能生成",
        "人工智能生成合成",
        "AI合成",
        "AI生成 AI-generated",
        "本内容由AI生成",
    ] {
        assert!(LabelText::new(ok).is_ok(), "{ok}");
    }
    for bad in
        ["", "AI-generated", "生成", "SAID生成", "人工生成", "AI\n生成", &"AI生成".repeat(20)]
    {
        assert!(LabelText::new(bad).is_err(), "{bad:?}");
    }
    let t = LabelText::new("AI生成").unwrap();
    assert_eq!(t.element_char_indices(), vec![0, 1, 2, 3]);
    // serde validates too
    assert!(serde_json::from_str::<LabelText>("\"AI-generated\"").is_err());
    assert_eq!(serde_json::from_str::<LabelText>("\"AI合成\"").unwrap().as_str(), "AI合成");
}

#[test]
fn style_validation() {
    assert!(LabelStyle::builder().min_height_fraction(0.049).build().is_err());
    assert!(LabelStyle::builder().plate_opacity(0.3).build().is_err());
    // grey text on a black plate is not legible on every background
    assert!(LabelStyle::builder().text_color([110, 110, 110]).build().is_err());
    // outline-only needs contrast between text and outline
    assert!(LabelStyle::builder()
        .backing(Backing::Outline)
        .backing_color([230, 230, 230])
        .build()
        .is_err());
    // a character outside the bundled subset
    let t = LabelText::new("AI生成的图像").unwrap();
    assert!(LabelStyle::builder().text(t).build().is_err());
    assert!(LabelStyle::builder().build().is_ok());
    assert!("bottom-right".parse::<LabelPosition>().is_ok());
    assert!("middle".parse::<LabelPosition>().is_err());
}

/// Sizes 128 px to 8000 px in both directions (every aspect ratio from 1:62.5 to 62.5:1): the
/// inked text is ≥ 5 % of the short side, every glyph included, and the label sits in the
/// bottom-right corner.
#[test]
fn label_height_on_all_sizes_and_aspect_ratios() {
    let sides = [128u32, 200, 480, 1000, 2500, 8000];
    let bg = 128u8;
    for &w in &sides {
        for &h in &sides {
            let mut img = DynamicImage::ImageLuma8(GrayImage::from_pixel(w, h, Luma([bg])));
            let p = apply_image_label(&mut img, &LabelStyle::default()).unwrap();
            let gray = img.as_luma8().unwrap();
            let ink = measure_ink(gray, bg).unwrap();
            let short = w.min(h) as f32;
            assert!(ink.3 as f32 >= 0.05 * short, "{w}x{h}: ink height {} < 5 % of {short}", ink.3);
            let heights = glyph_heights(gray, bg, ink);
            assert_eq!(heights.len(), 4, "{w}x{h}: glyph runs {heights:?}");
            for gh in &heights {
                assert!(*gh as f32 >= 0.05 * short, "{w}x{h}: glyph height {gh} in {heights:?}");
            }
            assert!(p.element_ink_height >= p.required_height);
            // In the bottom-right corner: within 3 % of the short side of both edges.
            let right_gap = w - (p.region.x + p.region.width);
            let bottom_gap = h - (p.region.y + p.region.height);
            assert!(
                right_gap as f32 <= 0.03 * short && bottom_gap as f32 <= 0.03 * short,
                "{w}x{h}: {p:?}"
            );
            // Ink inside the region, and nothing outside the region changed.
            assert!(ink.0 >= p.region.x && ink.1 >= p.region.y);
            let changed = gray
                .enumerate_pixels()
                .filter(|(_, _, v)| v[0] != bg)
                .fold((u32::MAX, u32::MAX), |a, (x, y, _)| (a.0.min(x), a.1.min(y)));
            assert!(changed.0 >= p.region.x && changed.1 >= p.region.y, "{w}x{h}");
        }
    }
}

#[test]
fn every_position_touches_its_edges() {
    let (w, h) = (900u32, 600u32);
    for pos in LabelPosition::ALL {
        let mut img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb([40, 160, 90])));
        let style = LabelStyle::builder().position(pos).build().unwrap();
        let r = apply_image_label(&mut img, &style).unwrap().region;
        let margin = (0.02 * 600.0f32).round() as u32;
        let (left, top) = (r.x, r.y);
        let (right, bottom) = (w - r.x - r.width, h - r.y - r.height);
        let name = pos.name();
        if name.contains("left") {
            assert_eq!(left, margin, "{name}");
        }
        if name.contains("right") {
            assert_eq!(right, margin, "{name}");
        }
        if name.contains("top") {
            assert_eq!(top, margin, "{name}");
        }
        if name.contains("bottom") {
            assert_eq!(bottom, margin, "{name}");
        }
        if name == "left" || name == "right" {
            assert!(top.abs_diff(bottom) <= 1);
        }
        if name == "top" || name == "bottom" {
            assert!(left.abs_diff(right) <= 1);
        }
    }
}

/// Legibility on any background: the contrast between full-coverage text pixels and the
/// pixels right next to the glyphs stays ≥ 4.5:1 on black, white and noise, for every backing.
#[test]
fn legible_on_black_white_and_noise() {
    let lum = |v: f32| {
        let v = v / 255.0;
        if v <= 0.040_45 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let (w, h) = (400u32, 300u32);
    for backing in [Backing::Plate, Backing::Outline, Backing::PlateAndOutline] {
        let style = LabelStyle::builder().backing(backing).build().unwrap();
        // The glyph mask: white text rendered over black with a black backing.
        let mut probe = DynamicImage::ImageLuma8(GrayImage::new(w, h));
        apply_image_label(&mut probe, &style).unwrap();
        let mask = probe.as_luma8().unwrap().clone();
        let inked = |x: u32, y: u32| mask.get_pixel(x, y)[0] > 0;
        for bg in ["black", "white", "noise"] {
            let base = GrayImage::from_fn(w, h, |x, y| match bg {
                "black" => Luma([0]),
                "white" => Luma([255]),
                _ => Luma([((x * 7919 + y * 104_729) % 256) as u8]),
            });
            let mut img = DynamicImage::ImageLuma8(base);
            apply_image_label(&mut img, &style).unwrap();
            let g = img.as_luma8().unwrap();
            let mut text_min = 255u8;
            let mut surround_max = 0u8;
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    if mask.get_pixel(x, y)[0] == 255 {
                        text_min = text_min.min(g.get_pixel(x, y)[0]);
                    } else if !inked(x, y)
                        && [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                            .iter()
                            .any(|&(a, b)| inked(a, b))
                    {
                        surround_max = surround_max.max(g.get_pixel(x, y)[0]);
                    }
                }
            }
            let contrast =
                (lum(f32::from(text_min)) + 0.05) / (lum(f32::from(surround_max)) + 0.05);
            assert!(
                contrast >= 4.5,
                "{backing:?} on {bg}: text {text_min} vs surround {surround_max}: {contrast}"
            );
        }
    }
}

#[test]
fn all_layouts_and_alpha() {
    let style = LabelStyle::default();
    let mut imgs = vec![
        DynamicImage::ImageRgba8(RgbaImage::from_pixel(300, 200, Rgba([10, 200, 30, 0]))),
        DynamicImage::ImageRgb16(ImageBuffer::from_pixel(300, 200, Rgb([1000u16, 50_000, 20_000]))),
        DynamicImage::ImageRgba32F(ImageBuffer::from_pixel(
            300,
            200,
            Rgba([0.5f32, 0.5, 0.5, 1.0]),
        )),
        DynamicImage::ImageLumaA16(ImageBuffer::from_pixel(
            300,
            200,
            image::LumaA([30_000u16, 65_535]),
        )),
    ];
    for img in &mut imgs {
        let p = apply_image_label(img, &style).unwrap();
        let rgba = img.to_rgba8();
        // The plate covers a transparent picture at its opacity (0.75 → 191).
        let (cx, cy) = (p.region.x + p.region.width / 2, p.region.y + p.region.height - 2);
        assert!(rgba.get_pixel(cx, cy)[3] >= 191);
        // Some pixel is pure text white.
        assert!(rgba.pixels().any(|px| px.0 == [255, 255, 255, 255]));
    }
}

#[test]
fn too_small_or_too_long_is_an_error() {
    let mut tiny = DynamicImage::ImageRgb8(RgbImage::new(24, 24));
    assert!(apply_image_label(&mut tiny, &LabelStyle::default()).is_err());
    let long = LabelText::new("本内容由人工智能生成合成 AI-generated content AI生成").unwrap();
    let style = LabelStyle::builder().text(long).build().unwrap();
    let mut narrow = DynamicImage::ImageRgb8(RgbImage::new(400, 2000));
    let err = apply_image_label(&mut narrow, &style).unwrap_err();
    assert!(err.to_string().contains("needs"), "{err}");
}

#[test]
fn placement_serializes_for_the_ledger() {
    let mut img = DynamicImage::ImageRgb8(RgbImage::new(640, 480));
    let p = apply_image_label(&mut img, &LabelStyle::default()).unwrap();
    let v = VisibleIdentifier::ImageLabel(p.clone());
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.contains("\"kind\":\"image-label\"")
            && json.contains("AI生成")
            && json.contains("bottom-right")
    );
    assert_eq!(serde_json::from_str::<VisibleIdentifier>(&json).unwrap(), v);
}

// ---------------------------------------------------------------- audio cue

fn testdata(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

/// The shared corpus (`shared/corpus` beside the repository, or `PROVMARK_CORPUS`), if present.
pub(crate) fn corpus(kind: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("PROVMARK_CORPUS").map(std::path::PathBuf::from),
        Some(root.join("../../../shared/corpus")),
        Some(root.join("../../../../shared/corpus")),
    ];
    for c in candidates.into_iter().flatten() {
        let dir = c.join(kind).join("dev");
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut v: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            return v;
        }
    }
    Vec::new()
}

pub(crate) fn read_wav(path: &std::path::Path) -> (Vec<f32>, u32, u16) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
        }
    };
    (samples, spec.sample_rate, spec.channels)
}

fn host_files() -> Vec<(Vec<f32>, u32, u16)> {
    ["audio/pcm16-16000-mono-26s-librivox.wav", "audio/pcm16-44100-stereo-12s-drascula.wav"]
        .iter()
        .map(|p| read_wav(&testdata(p)))
        .collect()
}

#[test]
fn cue_found_exactly_where_it_was_put() {
    for (host, rate, ch) in host_files() {
        assert!(
            detect_cue_rhythm(&host, rate, ch).is_empty(),
            "false cue in unlabeled host at {rate} Hz"
        );
        let host_s = host.len() as f64 / f64::from(ch) / f64::from(rate);
        for position in [CuePosition::Start, CuePosition::End, CuePosition::Both] {
            let mut s = host.clone();
            let style = CueStyle::builder().position(position).build().unwrap();
            let p = apply_audio_cue(&mut s, rate, ch, &style).unwrap();
            assert_eq!(s.len(), host.len() + p.added_frames as usize * usize::from(ch));
            // The streamed form: head, the host untouched, tail; the same placement.
            let frames =
                audio_cue_frames((host.len() / usize::from(ch)) as u64, rate, ch, &style).unwrap();
            assert_eq!(frames.placement, p);
            assert_eq!(s[..frames.head.len()], frames.head[..]);
            assert_eq!(s[frames.head.len()..s.len() - frames.tail.len()], host[..]);
            assert_eq!(s[s.len() - frames.tail.len()..], frames.tail[..]);
            let found = detect_cue_rhythm(&s, rate, ch);
            let total_s = s.len() as f64 / f64::from(ch) / f64::from(rate);
            let expected: Vec<f64> =
                p.segments.iter().map(|seg| seg.start_frame as f64 / f64::from(rate)).collect();
            assert_eq!(found.len(), expected.len(), "{position:?} at {rate} Hz: {found:?}");
            for (m, e) in found.iter().zip(&expected) {
                assert!((m.start_s - e).abs() < 0.01, "{m:?} vs {e}");
                assert!((m.end_s - m.start_s - 1.1).abs() < 0.02, "{m:?}");
                assert!((m.unit_ms - 100.0).abs() < 8.0, "{m:?}");
            }
            if position == CuePosition::End {
                assert!(found[0].end_s > total_s - 0.02);
                assert!(host_s < total_s);
            }
            // Every channel carries the cue identically.
            if ch == 2 {
                let first = &s[..p.segments[0].frames as usize * 2];
                if position != CuePosition::End {
                    assert!(first.chunks_exact(2).all(|f| f[0] == f[1]));
                }
            }
        }
    }
}

#[test]
fn other_units_and_tones_are_found_too() {
    for (unit, hz, rate) in
        [(60.0f32, 600.0f32, 8000u32), (250.0, 2500.0, 48_000), (100.0, 1000.0, 96_000)]
    {
        let mut s = vec![0.0f32; rate as usize];
        let tone = ToneParams { frequency_hz: hz, unit_ms: unit, ..ToneParams::default() };
        let style = CueStyle::builder().tone(tone).position(CuePosition::End).build().unwrap();
        apply_audio_cue(&mut s, rate, 1, &style).unwrap();
        let found = detect_cue_rhythm(&s, rate, 1);
        assert_eq!(found.len(), 1, "{unit} ms {hz} Hz {rate} Hz");
        assert!((found[0].unit_ms - f64::from(unit)).abs() < f64::from(unit) * 0.1, "{found:?}");
    }
}

/// A wrong rhythm (short-short short-short, or long-long) is not taken for the cue.
#[test]
fn wrong_rhythms_are_rejected() {
    let rate = 16_000;
    let unit = 1600;
    let beep = |n: usize| (0..n * unit).map(|i| 0.3 * (i as f32 * 0.4).sin()).collect::<Vec<f32>>();
    for pattern in [[1usize, 1, 1, 1], [3, 3, 1, 1], [1, 3, 3, 1], [3, 1, 1, 1]] {
        let mut s = vec![0.0f32; 8000];
        for n in pattern {
            s.extend(beep(n));
            s.extend(vec![0.0f32; unit]);
        }
        s.extend(vec![0.0f32; 8000]);
        assert!(detect_cue_rhythm(&s, rate, 1).is_empty(), "{pattern:?}");
    }
}

/// Energy far from the tone (outside 0.5f..2f) right around each beep edge, relative to the
/// beep's energy: the raised-cosine fades keep it far below a hard-gated tone's.
fn splatter_db(s: &[f32], rate: u32, f0: f32, edge: usize) -> f64 {
    use realfft::RealFftPlanner;
    let n = 1024usize;
    let start = edge.saturating_sub(n / 2);
    let mut x: Vec<f32> = s[start..start + n].to_vec();
    for (i, v) in x.iter_mut().enumerate() {
        *v *= (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32;
    }
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut out = fft.make_output_vec();
    fft.process(&mut x, &mut out).unwrap();
    let (mut inside, mut outside) = (0.0f64, 0.0f64);
    for (b, c) in out.iter().enumerate() {
        let f = b as f32 * rate as f32 / n as f32;
        let e = f64::from(c.norm_sqr());
        if (0.5 * f0..2.0 * f0).contains(&f) {
            inside += e
        } else {
            outside += e
        }
    }
    10.0 * (outside / inside).log10()
}

#[test]
fn no_clicks_at_beep_edges() {
    let rate = 44_100;
    let mut s = vec![0.0f32; rate as usize];
    let p = apply_audio_cue(&mut s, rate, 1, &CueStyle::default()).unwrap();
    let unit = 4410usize;
    // Beep onsets and offsets of ·− ··, in samples from the cue start.
    let edges = [0, unit, 2 * unit, 5 * unit, 8 * unit, 9 * unit, 10 * unit, 11 * unit];
    let start = p.segments[0].start_frame as usize;
    let worst = edges
        .iter()
        .map(|&e| splatter_db(&s, rate, 1000.0, start + e + 512))
        .fold(f64::MIN, f64::max);
    // Negative control: the same tone hard-gated (no fades), starting at a sine peak.
    let mut gated = vec![0.0f32; 8192];
    for (i, v) in gated.iter_mut().enumerate().skip(2048).take(unit) {
        *v = 0.25 * (2.0 * std::f32::consts::PI * 1000.0 * (i as f32 + 11.0) / rate as f32).cos();
    }
    let hard = splatter_db(&gated, rate, 1000.0, 2048);
    assert!(worst < -45.0, "splatter {worst:.1} dB");
    assert!(hard > worst + 15.0, "hard-gated control {hard:.1} dB vs {worst:.1} dB");
    // And no sample jumps more than a sine of that frequency can.
    let amp = 10f32.powf(-12.0 / 20.0);
    let max_step = s.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(max_step <= amp * 2.0 * std::f32::consts::PI * 1000.0 / rate as f32 * 1.01);
}

#[test]
fn spoken_clip_is_resampled_and_channel_matched() {
    // A 1 s 440 Hz "clip" at 22.05 kHz stereo stands in for speech; the transcript is checked.
    let clip_rate = 22_050;
    let clip: Vec<f32> = (0..clip_rate)
        .flat_map(|i| {
            let v = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / clip_rate as f32).sin();
            [v, v]
        })
        .collect();
    let spoken = SpokenClip {
        samples: clip,
        rate: clip_rate,
        channels: 2,
        transcript: LabelText::new("本内容由人工智能生成").unwrap(),
    };
    let style = CueStyle::builder().spoken(spoken).position(CuePosition::Start).build().unwrap();
    let mut host = vec![0.0f32; 48_000 * 3];
    let p = apply_audio_cue(&mut host, 48_000, 3, &style).unwrap();
    assert_eq!(p.cue, "spoken");
    assert_eq!(p.segments[0].frames, 48_000);
    // Zero crossings of the first channel over the clip: 440 Hz → about 880 in one second.
    let ch0: Vec<f32> = host.chunks_exact(3).take(48_000).map(|f| f[0]).collect();
    let crossings = ch0.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    assert!((870..=890).contains(&crossings), "{crossings}");
    assert!(host.chunks_exact(3).take(48_000).all(|f| f[0] == f[1] && f[1] == f[2]));
    // Faded in: the first sample is (near) silent.
    assert!(ch0[0].abs() < 1e-3);
    let bad = SpokenClip {
        samples: vec![0.0; 100],
        rate: 16_000,
        channels: 1,
        transcript: LabelText::new("AI生成").unwrap(),
    };
    assert!(LabelText::new("这是一段语音").is_err());
    assert!(CueStyle::builder()
        .spoken(SpokenClip { samples: vec![0.0; 3], channels: 2, ..bad })
        .build()
        .is_err());
}

#[test]
fn cue_rejects_bad_hosts_and_params() {
    let style = CueStyle::default();
    assert!(apply_audio_cue(&mut vec![0.0; 3], 44_100, 2, &style).is_err());
    assert!(apply_audio_cue(&mut vec![0.0; 4], 1000, 2, &style).is_err());
    assert!(apply_audio_cue(&mut vec![0.0; 4], 44_100, 0, &style).is_err());
    let high = CueStyle::builder()
        .tone(ToneParams { frequency_hz: 4000.0, ..ToneParams::default() })
        .build()
        .unwrap();
    assert!(apply_audio_cue(&mut vec![0.0; 4], 8000, 1, &high).is_err());
    assert!(CueStyle::builder()
        .tone(ToneParams { unit_ms: 10.0, ..ToneParams::default() })
        .build()
        .is_err());
    assert!(CueStyle::builder()
        .tone(ToneParams { level_dbfs: 3.0, ..ToneParams::default() })
        .build()
        .is_err());
    assert!(detect_cue_rhythm(&[], 0, 0).is_empty());
}

/// Unlabeled corpus audio (speech, music, effects) never shows the rhythm.
#[test]
fn no_false_cues_in_corpus() {
    for path in corpus("audio") {
        let (s, rate, ch) = read_wav(&path);
        assert!(detect_cue_rhythm(&s, rate, ch).is_empty(), "{}", path.display());
    }
}
