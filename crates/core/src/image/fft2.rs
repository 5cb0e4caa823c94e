//! Two-dimensional FFTs (rows, then columns through a transpose), parallel over rows, and
//! separable Gaussian filtering.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// A planned 2-D transform of a fixed `w`×`h` size (forward and inverse), reusable across
/// images and threads.
#[derive(Clone)]
pub(crate) struct Fft2 {
    pub w: usize,
    pub h: usize,
    row_fwd: Arc<dyn Fft<f32>>,
    row_inv: Arc<dyn Fft<f32>>,
    col_fwd: Arc<dyn Fft<f32>>,
    col_inv: Arc<dyn Fft<f32>>,
}

impl Fft2 {
    pub(crate) fn new(w: usize, h: usize) -> Self {
        let mut p = FftPlanner::new();
        Self {
            w,
            h,
            row_fwd: p.plan_fft_forward(w),
            row_inv: p.plan_fft_inverse(w),
            col_fwd: p.plan_fft_forward(h),
            col_inv: p.plan_fft_inverse(h),
        }
    }

    /// In-place forward transform of row-major `data` (`w`×`h`).
    pub(crate) fn forward(&self, data: &mut [Complex32]) {
        self.run(data, &self.row_fwd, &self.col_fwd);
    }

    /// In-place inverse transform, unnormalised (scaled by `w*h`).
    pub(crate) fn inverse(&self, data: &mut [Complex32]) {
        self.run(data, &self.row_inv, &self.col_inv);
    }

    fn run(&self, data: &mut [Complex32], rows: &Arc<dyn Fft<f32>>, cols: &Arc<dyn Fft<f32>>) {
        let (w, h) = (self.w, self.h);
        data.par_chunks_mut(w).for_each_init(
            || vec![Complex32::default(); rows.get_inplace_scratch_len()],
            |scratch, row| rows.process_with_scratch(row, scratch),
        );
        let mut t = transpose(data, w, h);
        t.par_chunks_mut(h).for_each_init(
            || vec![Complex32::default(); cols.get_inplace_scratch_len()],
            |scratch, col| cols.process_with_scratch(col, scratch),
        );
        let back = transpose(&t, h, w);
        data.copy_from_slice(&back);
    }
}

/// Transposes a row-major `w`×`h` matrix into `h`×`w`.
fn transpose(src: &[Complex32], w: usize, h: usize) -> Vec<Complex32> {
    let mut out = vec![Complex32::default(); w * h];
    const B: usize = 32;
    out.par_chunks_mut(h * B.min(w).max(1)).enumerate().for_each(|(bi, chunk)| {
        let x0 = bi * B;
        let xs = chunk.len() / h;
        for y in 0..h {
            for dx in 0..xs {
                chunk[dx * h + y] = src[y * w + x0 + dx];
            }
        }
    });
    out
}

/// The smallest n >= `min` of the form 2^a 3^b 5^c (fast FFT sizes).
pub(crate) fn fast_size(min: usize) -> usize {
    let mut n = min.max(1);
    loop {
        let mut m = n;
        for p in [2, 3, 5] {
            while m % p == 0 {
                m /= p;
            }
        }
        if m == 1 {
            return n;
        }
        n += 1;
    }
}

/// A normalised 1-D Gaussian kernel of standard deviation `sigma` (radius 3 sigma).
pub(crate) fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "small positive radius"
    )]
    let r = (3.0 * sigma).ceil().max(1.0) as usize;
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| {
            #[allow(clippy::cast_precision_loss, reason = "small index")]
            let d = i as f32 - r as f32;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Separable Gaussian blur with clamped edges, parallel over rows.
pub(crate) fn gaussian_blur(src: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let k = gaussian_kernel(sigma);
    let r = k.len() / 2;
    let mut tmp = vec![0.0f32; w * h];
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let s = &src[y * w..(y + 1) * w];
        // Columns whose window stays inside the row: one contiguous multiply-add per tap
        // (vectorises), the taps in the same order as at the clamped edges.
        let inner = if w > 2 * r { r..w - r } else { 0..0 };
        if !inner.is_empty() {
            for (d, kv) in k.iter().enumerate() {
                let taps = &s[d..d + inner.len()];
                for (o, v) in row[inner.clone()].iter_mut().zip(taps) {
                    *o += kv * v;
                }
            }
        }
        for x in (0..w).filter(|x| !inner.contains(x)) {
            let mut acc = 0.0;
            for (d, kv) in k.iter().enumerate() {
                let xx = (x + d).saturating_sub(r).min(w - 1);
                acc += kv * s[xx];
            }
            row[x] = acc;
        }
    });
    let mut out = vec![0.0f32; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (d, kv) in k.iter().enumerate() {
            let yy = (y + d).saturating_sub(r).min(h - 1);
            let s = &tmp[yy * w..(yy + 1) * w];
            for (o, v) in row.iter_mut().zip(s) {
                *o += kv * v;
            }
        }
    });
    out
}
