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
        let rows: Vec<u32> = (y0..y0 + h).filter(|&y| x < img.width() && img.get_pixel(x, y)[0] > threshold).collect();
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
    for ok in ["AI生成", "人工智能生成", "人工智能生成合成", "AI合成", "AI生成 AI-generated", "本内容由AI生成"] {
        assert!(LabelText::new(ok).is_ok(), "{ok}");
    }
    for bad in ["", "AI-generated", "生成", "SAID生成", "人工生成", "AI\n生成", &"AI生成".repeat(20)] {
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
    assert!(LabelStyle::builder().backing(Backing::Outline).backing_color([230, 230, 230]).build().is_err());
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
            assert!(right_gap as f32 <= 0.03 * short && bottom_gap as f32 <= 0.03 * short, "{w}x{h}: {p:?}");
            // Ink inside the region, and nothing outside the region changed.
            assert!(ink.0 >= p.region.x && ink.1 >= p.region.y);
            let changed = gray.enumerate_pixels().filter(|(_, _, v)| v[0] != bg).fold((u32::MAX, u32::MAX), |a, (x, y, _)| (a.0.min(x), a.1.min(y)));
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
        if v <= 0.040_45 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
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
                        && [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)].iter().any(|&(a, b)| inked(a, b))
                    {
                        surround_max = surround_max.max(g.get_pixel(x, y)[0]);
                    }
                }
            }
            let contrast = (lum(f32::from(text_min)) + 0.05) / (lum(f32::from(surround_max)) + 0.05);
            assert!(contrast >= 4.5, "{backing:?} on {bg}: text {text_min} vs surround {surround_max}: {contrast}");
        }
    }
}

#[test]
fn all_layouts_and_alpha() {
    let style = LabelStyle::default();
    let mut imgs = vec![
        DynamicImage::ImageRgba8(RgbaImage::from_pixel(300, 200, Rgba([10, 200, 30, 0]))),
        DynamicImage::ImageRgb16(ImageBuffer::from_pixel(300, 200, Rgb([1000u16, 50_000, 20_000]))),
        DynamicImage::ImageRgba32F(ImageBuffer::from_pixel(300, 200, Rgba([0.5f32, 0.5, 0.5, 1.0]))),
        DynamicImage::ImageLumaA16(ImageBuffer::from_pixel(300, 200, image::LumaA([30_000u16, 65_535]))),
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
    assert!(json.contains("\"kind\":\"image-label\"") && json.contains("AI生成") && json.contains("bottom-right"));
    assert_eq!(serde_json::from_str::<VisibleIdentifier>(&json).unwrap(), v);
}
