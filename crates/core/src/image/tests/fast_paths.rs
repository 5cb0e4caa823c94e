//! The embedder's shortcuts give exactly what the straightforward paths give.

use super::super::pixels::{self, host_stats_reference, HostStats, Layout, Sample};

/// Pseudo-random 8-bit samples with saturated runs (0 and 255), so the extremes and the
/// luma² sums see every case.
fn samples(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            #[allow(clippy::cast_possible_truncation, reason = "a byte of the state")]
            let v = (s >> 32) as u8;
            match (i / 97) % 5 {
                0 => 255,
                1 => 0,
                _ => v,
            }
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn same(a: &HostStats, b: &HostStats) -> bool {
    let working = |s: &HostStats| s.working.as_ref().map(|(v, w, h)| (bits(v), *w, *h));
    (a.w, a.h) == (b.w, b.h)
        && bits(&a.luma) == bits(&b.luma)
        && bits(&a.stats.hi) == bits(&b.stats.hi)
        && bits(&a.stats.lo) == bits(&b.stats.lo)
        && bits(&a.stats.sq) == bits(&b.stats.sq)
        && working(a) == working(b)
}

/// The one-walk host statistics of 8-bit pictures (integer channel sums, integer extremes,
/// luma² in pixel order, both grids in bands of rows) are bit for bit the separate passes',
/// for every 8-bit layout, edge blocks of every width, and mask and working blocks that do
/// and do not divide each other.
#[test]
fn one_walk_host_stats_equal_the_separate_passes() {
    let (width, height) = (203, 157);
    for (channels, colour) in [(1, 1), (2, 1), (3, 3), (4, 3)] {
        let layout = Layout { width, height, channels, colour };
        let buf = samples(width * height * channels, channels as u64);
        for k in [1, 2, 3, 5, 11, 16] {
            for kd in [None, Some(1), Some(2), Some(3), Some(6), Some(7)] {
                let fast = u8::host_stats(&buf, layout, k, kd);
                let reference = host_stats_reference(&buf, layout, k, kd);
                assert!(same(&fast, &reference), "{channels} channels, k {k}, kd {kd:?}");
            }
        }
    }
}

/// The comparison above can fail: the luma² sums round, so adding a block's squares in
/// another order (row sums first) changes some of them.
#[test]
fn luma_squares_summed_in_another_order_differ() {
    let (width, height, k) = (203, 157, 11);
    let layout = Layout { width, height, channels: 3, colour: 3 };
    let buf = samples(width * height * 3, 3);
    let reference = host_stats_reference(&buf, layout, k, None).stats.sq;
    let luma = |x: usize, y: usize| {
        let p = &buf[(y * width + x) * 3..][..3];
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let (w, h) = (width.div_ceil(k), height.div_ceil(k));
    let mut differ = 0;
    for by in 0..h {
        for bx in 0..w {
            let (xs, ys) = (bx * k..(bx * k + k).min(width), by * k..(by * k + k).min(height));
            let rows: f32 =
                ys.clone().map(|y| xs.clone().map(|x| luma(x, y) * luma(x, y)).sum::<f32>()).sum();
            #[allow(clippy::cast_precision_loss, reason = "small")]
            let n = (xs.len() * ys.len()) as f32;
            differ += usize::from((rows / n).to_bits() != reference[by * w + bx].to_bits());
        }
    }
    assert!(differ > 0, "every block summed the same in both orders");
}

/// The 8-bit row add (a rounded step per pixel, then saturating adds and subtractions on runs
/// of samples) equals the per-sample rounding and the integer add and clamp it replaces, for
/// every layout, every sample value, steps beyond ±255, halves and rows that end mid-run.
#[test]
fn saturating_row_add_equals_the_per_sample_rounding_and_rgb_takes_the_split() {
    let mut deltas: Vec<f32> = (0..1500).map(|i| -600.0 + i as f32 * 0.8003).collect();
    deltas.extend((-40..40).map(|i| i as f32 + 0.5));
    deltas.extend([0.0, -0.0, 1e6, -1e6, f32::NAN]);
    fn check<const CH: usize, const COLOUR: usize>(deltas: &[f32]) {
        for v in 0..=255u8 {
            let mut row = vec![v; deltas.len() * CH];
            <u8 as Sample>::add_row::<CH, COLOUR>(&mut row, deltas);
            for (px, &d) in row.chunks_exact(CH).zip(deltas) {
                let per_sample = v.add_delta(d);
                #[allow(clippy::cast_possible_truncation, reason = "as the previous path")]
                let step = (d + 512.5).clamp(0.0, 1024.0) as i16 - 512;
                #[allow(clippy::cast_sign_loss, reason = "clamped")]
                let integer = (i16::from(v) + step).clamp(0, 255) as u8;
                assert_eq!(per_sample, integer, "v {v} d {d}");
                if COLOUR == 3 {
                    // RGB pixels take the colour split, rounded channel by channel.
                    assert_eq!(&px[..3], &pixels::rgb8_steps([v; 3], d)[..], "v {v} d {d}");
                } else {
                    assert_eq!(&px[..COLOUR], &[per_sample; COLOUR][..], "v {v} d {d}");
                }
                assert!(px[COLOUR..].iter().all(|&a| a == v), "alpha untouched");
            }
        }
    }
    check::<1, 1>(&deltas);
    check::<2, 1>(&deltas);
    check::<3, 3>(&deltas);
    check::<4, 3>(&deltas);
}

#[test]
fn rounding_without_libm_equals_f32_round() {
    let mut xs: Vec<f32> = (-2_100_000..=2_100_000).map(|i| i as f32 * 0.000_5).collect();
    for k in -1030..=1030 {
        let h = k as f32 + 0.5;
        xs.extend([h, -h, f32::from_bits(h.to_bits() - 1), f32::from_bits(h.to_bits() + 1)]);
    }
    xs.extend([0.0, -0.0, 0.499_999_97, -0.499_999_97, 1024.0, -1024.0]);
    for x in xs.into_iter().filter(|x| x.abs() <= 1024.0) {
        #[allow(clippy::cast_possible_truncation, reason = "integral and small")]
        let want = x.round() as i32;
        assert_eq!(pixels::round_half_away(x), want, "x {x}");
    }
}
