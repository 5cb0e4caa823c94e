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
    // Box-average straight from the RGB rows: no full-size luminance plane.
    let mut cells = Cells::new(w, h);
    for (y, row) in buf.as_raw().chunks_exact(3 * w).enumerate() {
        cells.add_row(
            y,
            row.chunks_exact(3).map(|p| {
                0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
            }),
        );
    }
    Ok(finish(&cells.average()))
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
    let mut cells = Cells::new(width, height);
    for (y, row) in luma.chunks_exact(width).enumerate() {
        cells.add_row(y, row.iter().copied());
    }
    Ok(finish(&cells.average()))
}

/// Blur, DCT, median threshold.
fn finish(grid: &[f64]) -> Fingerprint {
    let grid = tent_blur(grid);
    let coeffs = dct_16x16(&grid);
    let mut sorted = coeffs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[127] + sorted[128]) / 2.0;
    let bits: Vec<bool> = coeffs.iter().map(|&c| c > median).collect();
    pack(&bits)
}

/// Area average onto a 64×64 grid: each source pixel goes to the cell containing its centre
/// (inputs reach here at least 64 pixels on each side).
struct Cells {
    h: usize,
    cols: Vec<usize>,
    sum: Vec<f64>,
    count: Vec<u32>,
    row_sum: [f64; SIDE],
    row_count: [u32; SIDE],
}

impl Cells {
    fn new(w: usize, h: usize) -> Self {
        Self {
            h,
            cols: (0..w).map(|x| (x * SIDE / w).min(SIDE - 1)).collect(),
            sum: vec![0.0; SIDE * SIDE],
            count: vec![0; SIDE * SIDE],
            row_sum: [0.0; SIDE],
            row_count: [0; SIDE],
        }
    }

    fn add_row(&mut self, y: usize, row: impl Iterator<Item = f32>) {
        let gy = (y * SIDE / self.h).min(SIDE - 1);
        self.row_sum = [0.0; SIDE];
        self.row_count = [0; SIDE];
        for (x, v) in row.enumerate() {
            let c = self.cols[x];
            self.row_sum[c] += f64::from(v);
            self.row_count[c] += 1;
        }
        for c in 0..SIDE {
            self.sum[gy * SIDE + c] += self.row_sum[c];
            self.count[gy * SIDE + c] += self.row_count[c];
        }
    }

    fn average(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.count)
            .map(|(s, &c)| if c > 0 { s / f64::from(c) } else { 0.0 })
            .collect()
    }
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
