//! The PDQ-style image fingerprint.

use std::f64::consts::PI;

use image::{imageops::FilterType, DynamicImage};

use super::{pack, Fingerprint};
use crate::{Error, Result};

/// Side of the downscaled luminance square.
const SIDE: usize = 64;
/// Side of the kept DCT block (16 × 16 = 256 bits).
const KEEP: usize = 16;

/// The fingerprint of a picture (any `image` layout; alpha is ignored).
///
/// # Errors
///
/// [`Error::Params`] for an empty image.
pub fn image_fingerprint(img: &DynamicImage) -> Result<Fingerprint> {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return Err(Error::params("image", "empty image has no fingerprint"));
    }
    let small;
    let src = if (w as usize) < SIDE || (h as usize) < SIDE {
        // Tiny pictures are first enlarged so that every cell of the 64×64 grid has a pixel.
        small = img.resize_exact(SIDE as u32, SIDE as u32, FilterType::Triangle);
        &small
    } else {
        img
    };
    let rgb;
    let buf = match src {
        DynamicImage::ImageRgb8(b) => b,
        other => {
            rgb = other.to_rgb8();
            &rgb
        }
    };
    let (w, h) = (buf.width() as usize, buf.height() as usize);
    let luma: Vec<f32> = buf
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    luma_fingerprint(&luma, w, h)
}

/// The fingerprint of a row-major luminance plane.
///
/// # Errors
///
/// [`Error::Params`] when the plane is empty or `luma.len() != width * height`.
pub fn luma_fingerprint(luma: &[f32], width: usize, height: usize) -> Result<Fingerprint> {
    if width == 0 || height == 0 || luma.len() != width.saturating_mul(height) {
        return Err(Error::params("luma plane", "empty, or length is not width × height"));
    }
    let grid = box_downscale(luma, width, height);
    let grid = tent_blur(&grid);
    let coeffs = dct_16x16(&grid);
    let mut sorted = coeffs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[127] + sorted[128]) / 2.0;
    let bits: Vec<bool> = coeffs.iter().map(|&c| c > median).collect();
    Ok(pack(&bits))
}

/// Area average onto a 64×64 grid (each source pixel goes to the cell containing its centre;
/// upscaled inputs reach here already at least 64 pixels on each side).
fn box_downscale(luma: &[f32], w: usize, h: usize) -> Vec<f64> {
    let mut sum = vec![0.0f64; SIDE * SIDE];
    let mut count = vec![0u32; SIDE * SIDE];
    let cols: Vec<usize> = (0..w).map(|x| (x * SIDE / w).min(SIDE - 1)).collect();
    for y in 0..h {
        let gy = (y * SIDE / h).min(SIDE - 1);
        let row = &luma[y * w..(y + 1) * w];
        for (x, &v) in row.iter().enumerate() {
            let i = gy * SIDE + cols[x];
            sum[i] += f64::from(v);
            count[i] += 1;
        }
    }
    sum.iter().zip(&count).map(|(s, &c)| if c > 0 { s / f64::from(c) } else { 0.0 }).collect()
}

/// A separable [1 2 1]/4 blur with clamped edges.
fn tent_blur(g: &[f64]) -> Vec<f64> {
    let at = |v: &[f64], x: isize, y: isize| {
        let cx = x.clamp(0, SIDE as isize - 1) as usize;
        let cy = y.clamp(0, SIDE as isize - 1) as usize;
        v[cy * SIDE + cx]
    };
    let mut tmp = vec![0.0; SIDE * SIDE];
    for y in 0..SIDE as isize {
        for x in 0..SIDE as isize {
            tmp[y as usize * SIDE + x as usize] =
                (at(g, x - 1, y) + 2.0 * at(g, x, y) + at(g, x + 1, y)) / 4.0;
        }
    }
    let mut out = vec![0.0; SIDE * SIDE];
    for y in 0..SIDE as isize {
        for x in 0..SIDE as isize {
            out[y as usize * SIDE + x as usize] =
                (at(&tmp, x, y - 1) + 2.0 * at(&tmp, x, y) + at(&tmp, x, y + 1)) / 4.0;
        }
    }
    out
}

/// D · G · Dᵀ with D the DCT-II rows 1..=16 (DC excluded) of size 64.
fn dct_16x16(g: &[f64]) -> [f64; KEEP * KEEP] {
    let mut d = [[0.0f64; SIDE]; KEEP];
    let scale = (2.0 / SIDE as f64).sqrt();
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = scale * (PI / (2.0 * SIDE as f64) * (i + 1) as f64 * (2 * j + 1) as f64).cos();
        }
    }
    // T = D · G (16 × 64), then T · Dᵀ (16 × 16).
    let mut t = vec![0.0f64; KEEP * SIDE];
    for i in 0..KEEP {
        for k in 0..SIDE {
            let dik = d[i][k];
            for j in 0..SIDE {
                t[i * SIDE + j] += dik * g[k * SIDE + j];
            }
        }
    }
    let mut out = [0.0f64; KEEP * KEEP];
    for i in 0..KEEP {
        for j in 0..KEEP {
            out[i * KEEP + j] = (0..SIDE).map(|k| t[i * SIDE + k] * d[j][k]).sum();
        }
    }
    out
}
