//! The image attacks of the shared harness (`shared/harness/image/wmbench/attacks.py`),
//! re-implemented on `image` buffers with the same parameters, so the robustness suite runs
//! inside `cargo test`. Lossy WebP has no pure-Rust encoder and is left to the harness.

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView as _, Rgb, RgbImage};
use provmark_core::codec::image::{decode, encode, ImageFormat};

/// Every attack name, in the harness's order (lossy WebP excluded).
pub const ALL: &[&str] = &[
    "none",
    "jpeg90",
    "jpeg75",
    "jpeg50",
    "jpeg30",
    "resize50",
    "resize75",
    "resize200",
    "resize50_up",
    "crop90",
    "crop70",
    "crop_resize_social",
    "noise5",
    "noise10",
    "blur1",
    "blur2",
    "bright+20",
    "bright-20",
    "contrast0.7",
    "contrast1.3",
    "gamma0.8",
    "gamma1.25",
    "rot2",
    "rot5",
    "rot2_crop",
    "rot5_crop",
    "hflip",
    "grayscale",
    "quant64",
    "overlay10",
    "screenshot",
    "chain",
];

fn jpeg(img: &DynamicImage, q: u8) -> DynamicImage {
    decode(&encode(img, ImageFormat::Jpeg, Some(q)).unwrap()).unwrap().pixels
}

fn resize(img: &DynamicImage, f: f64) -> DynamicImage {
    let w = ((f64::from(img.width()) * f).round() as u32).max(1);
    let h = ((f64::from(img.height()) * f).round() as u32).max(1);
    img.resize_exact(w, h, if f < 1.0 { FilterType::Lanczos3 } else { FilterType::CatmullRom })
}

fn center_crop(img: &DynamicImage, keep: f64) -> DynamicImage {
    let w = (f64::from(img.width()) * keep).round() as u32;
    let h = (f64::from(img.height()) * keep).round() as u32;
    img.crop_imm((img.width() - w) / 2, (img.height() - h) / 2, w, h)
}

fn map_rgb(img: &DynamicImage, f: impl Fn(f32) -> f32) -> DynamicImage {
    let mut rgb = img.to_rgb8();
    for p in rgb.pixels_mut() {
        for c in &mut p.0 {
            *c = f(f32::from(*c)).round().clamp(0.0, 255.0) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

/// Deterministic Gaussian noise (xorshift + Box–Muller).
fn noise(img: &DynamicImage, sigma: f32, seed: u64) -> DynamicImage {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 / (1u64 << 53) as f64).max(1e-12)
    };
    let mut rgb = img.to_rgb8();
    for p in rgb.pixels_mut() {
        for c in &mut p.0 {
            let (u1, u2) = (next(), next());
            let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            *c = (f32::from(*c) + sigma * g as f32).round().clamp(0.0, 255.0) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

/// Rotation about the centre (bicubic-like bilinear is close enough here), same canvas, black
/// corners; with `crop`, the largest border-free axis-aligned rectangle is kept.
fn rotate(img: &DynamicImage, deg: f64, crop: bool) -> DynamicImage {
    let src = img.to_rgb8();
    let (w, h) = src.dimensions();
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let out = RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
        // Counter-clockwise on screen (PIL's convention), inverse-mapped.
        let sx = c * dx - s * dy + cx - 0.5;
        let sy = s * dx + c * dy + cy - 0.5;
        if sx < 0.0 || sy < 0.0 || sx > f64::from(w - 1) || sy > f64::from(h - 1) {
            return Rgb([0, 0, 0]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (sx - f64::from(x0), sy - f64::from(y0));
        let mut px = [0u8; 3];
        for (k, v) in px.iter_mut().enumerate() {
            let g = |x: u32, y: u32| f64::from(src.get_pixel(x, y).0[k]);
            let top = g(x0, y0) * (1.0 - fx) + g(x1, y0) * fx;
            let bot = g(x0, y1) * (1.0 - fx) + g(x1, y1) * fx;
            *v = (top * (1.0 - fy) + bot * fy).round() as u8;
        }
        Rgb(px)
    });
    let out = DynamicImage::ImageRgb8(out);
    if !crop {
        return out;
    }
    let (wr, hr) = largest_rotated_rect(f64::from(w), f64::from(h), deg.to_radians());
    out.crop_imm((w - wr) / 2, (h - hr) / 2, wr, hr)
}

fn largest_rotated_rect(w: f64, h: f64, a: f64) -> (u32, u32) {
    let long_w = w >= h;
    let (long, short) = if long_w { (w, h) } else { (h, w) };
    let (s, c) = (a.sin().abs(), a.cos().abs());
    let (wr, hr) = if short <= 2.0 * s * c * long || (s - c).abs() < 1e-10 {
        let x = 0.5 * short;
        if long_w {
            (x / s, x / c)
        } else {
            (x / c, x / s)
        }
    } else {
        let c2 = c * c - s * s;
        ((w * c - h * s) / c2, (h * c - w * s) / c2)
    };
    (wr as u32, hr as u32)
}

fn overlay(img: &DynamicImage) -> DynamicImage {
    let mut rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let (bw, bh) = ((f64::from(w) * 0.5).round() as u32, (f64::from(h) * 0.2).round() as u32);
    let (x0, y0) = (
        w - bw - (f64::from(w) * 0.02).round() as u32,
        h - bh - (f64::from(h) * 0.02).round() as u32,
    );
    for y in y0..y0 + bh {
        for x in x0..x0 + bw {
            let stripe = (x / 6 + y / 9) % 5 == 0;
            rgb.put_pixel(x, y, if stripe { Rgb([10, 10, 10]) } else { Rgb([245, 245, 245]) });
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

/// Uniform 4×4×4 colour cube (64 colours) without dithering: harsher than median cut.
fn quantize64(img: &DynamicImage) -> DynamicImage {
    map_rgb(img, |v| ((v / 85.0).round() * 85.0).min(255.0))
}

/// Applies the named attack.
pub fn apply(name: &str, img: &DynamicImage) -> DynamicImage {
    match name {
        "none" => img.clone(),
        "jpeg90" => jpeg(img, 90),
        "jpeg75" => jpeg(img, 75),
        "jpeg50" => jpeg(img, 50),
        "jpeg30" => jpeg(img, 30),
        "resize50" => resize(img, 0.5),
        "resize75" => resize(img, 0.75),
        "resize200" => resize(img, 2.0),
        "resize50_up" => {
            resize(img, 0.5).resize_exact(img.width(), img.height(), FilterType::CatmullRom)
        }
        "crop90" => center_crop(img, 0.9),
        "crop70" => center_crop(img, 0.7),
        "crop_resize_social" => {
            let (w, h) = (
                (f64::from(img.width()) * 0.8).round() as u32,
                (f64::from(img.height()) * 0.8).round() as u32,
            );
            let (x, y) = (
                (f64::from(img.width()) * 0.05).round() as u32,
                (f64::from(img.height()) * 0.08).round() as u32,
            );
            let c = img.crop_imm(x, y, w, h);
            let f = 1080.0 / f64::from(w.max(h));
            jpeg(&resize(&c, f), 85)
        }
        "noise5" => noise(img, 5.0, 5),
        "noise10" => noise(img, 10.0, 10),
        "blur1" => img.blur(1.0),
        "blur2" => img.blur(2.0),
        "bright+20" => map_rgb(img, |v| v * 1.2),
        "bright-20" => map_rgb(img, |v| v * 0.8),
        "contrast0.7" | "contrast1.3" => {
            let g = img.to_luma8();
            let mean = g.pixels().map(|p| f64::from(p.0[0])).sum::<f64>()
                / f64::from(g.width() * g.height());
            let k = if name == "contrast0.7" { 0.7 } else { 1.3 };
            map_rgb(img, move |v| (mean as f32) + (v - mean as f32) * k)
        }
        "gamma0.8" => map_rgb(img, |v| 255.0 * (v / 255.0).powf(0.8)),
        "gamma1.25" => map_rgb(img, |v| 255.0 * (v / 255.0).powf(1.25)),
        "rot2" => rotate(img, 2.0, false),
        "rot5" => rotate(img, 5.0, false),
        "rot2_crop" => rotate(img, 2.0, true),
        "rot5_crop" => rotate(img, 5.0, true),
        "hflip" => DynamicImage::ImageRgb8(imageops::flip_horizontal(&img.to_rgb8())),
        "grayscale" => DynamicImage::ImageLuma8(img.to_luma8()),
        "quant64" => quantize64(img),
        "overlay10" => overlay(img),
        "screenshot" => jpeg(&resize(img, 0.8), 80),
        "chain" => jpeg(&resize(&center_crop(img, 0.9), 0.7), 70),
        other => panic!("unknown attack {other}"),
    }
}

/// Size check used by the sweep: attacks may leave an image below the supported minimum.
pub fn dims(img: &DynamicImage) -> (u32, u32) {
    img.dimensions()
}
