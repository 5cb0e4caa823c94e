#![allow(clippy::unwrap_used, reason = "tests")]

use super::*;

/// A deterministic 64-bit mix (splitmix64).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fp(n: u64) -> [u8; 32] {
    let mut f = [0u8; 32];
    for (k, c) in f.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(n * 4 + k as u64).to_be_bytes());
    }
    f
}

/// `base` with `d` distinct bits flipped (positions from `seed`).
fn flip(base: &[u8; 32], d: u32, seed: u64) -> [u8; 32] {
    let mut out = *base;
    let mut done = std::collections::HashSet::new();
    let mut s = seed;
    while done.len() < d as usize {
        s = mix(s);
        let b = (s % 256) as usize;
        if done.insert(b) {
            out[b / 8] ^= 0x80 >> (b % 8);
        }
    }
    out
}

/// An in-memory [`Source`] over the rows `build` makes, to test the search by itself.
struct Mem {
    fps: Vec<(u64, [u8; 32])>,
    tiles: Vec<(u64, Vec<u8>)>,
    rows: std::collections::HashMap<(u64, u32, u32), Vec<u8>>,
    probes: usize,
}

impl Source for Mem {
    fn rows(&mut self, seg: &Segment, part: u32, groups: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        self.probes += groups.len();
        Ok(groups
            .iter()
            .filter_map(|&g| self.rows.get(&(seg.start, part, g)).map(|r| (g, r.clone())))
            .collect())
    }
    fn fingerprints(&mut self, indexes: &[u64]) -> Result<Vec<(u64, [u8; 32])>> {
        Ok(self.fps.iter().filter(|(i, _)| indexes.binary_search(i).is_ok()).copied().collect())
    }
    fn tiles(&mut self, first: u64, last: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self.tiles.iter().filter(|(t, _)| *t >= first && *t <= last).cloned().collect())
    }
}

fn tiles_of(fps: &[(u64, [u8; 32])], size: u64) -> Vec<(u64, Vec<u8>)> {
    let mut all = vec![None; size as usize];
    for (i, f) in fps {
        all[*i as usize] = Some(*f);
    }
    // Written in uneven appends, as batches do.
    let mut tiles: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = 0u64;
    for len in [1u64, 700, 2_000, 3, 10_000] {
        let end = (at + len).min(size);
        let partial = match tiles.last() {
            Some((t, b)) if *t == at / FP_TILE && at % FP_TILE != 0 => b.clone(),
            _ => Vec::new(),
        };
        assert!(partial_tile_ok(at, &partial));
        for (t, b) in tiles_to_write(at, &all[at as usize..end as usize], partial) {
            match tiles.iter_mut().find(|(x, _)| *x == t) {
                Some(slot) => slot.1 = b,
                None => tiles.push((t, b)),
            }
        }
        at = end;
    }
    assert_eq!(at, size);
    tiles
}

fn brute(fps: &[(u64, [u8; 32])], q: &[u8; 32], r: u32) -> Option<(u64, u32)> {
    fps.iter()
        .map(|(i, f)| (crate::store::hamming(q, f), *i))
        .filter(|&(d, _)| d <= r)
        .min()
        .map(|(d, i)| (i, d))
}

#[test]
fn part_layout_covers_all_bits() {
    for bits in 8..=24 {
        let p = parts(bits);
        assert_eq!(p.iter().map(|&(_, l)| l).sum::<u32>(), 256, "bits {bits}");
        let mut at = 0;
        for &(s, l) in &p {
            assert_eq!(s, at);
            assert!(l.abs_diff(bits) <= 1, "bits {bits}: part of {l}");
            at += l;
        }
    }
    assert_eq!(
        (bits_for(65_536), bits_for(1 << 20), bits_for(92_000), bits_for(93_000)),
        (16, 20, 16, 17)
    );
    assert_eq!((bits_for(1), bits_for(1 << 30)), (8, 24));
}

#[test]
fn bits_at_reads_across_words() {
    let mut f = [0u8; 32];
    f[7] = 0b0000_0001; // bit 63
    f[8] = 0b1000_0000; // bit 64
    let w = words(&f);
    assert_eq!(bits_at(&w, 60, 8), 0b0001_1000);
    assert_eq!(bits_at(&w, 63, 2), 0b11);
    assert_eq!(bits_at(&w, 0, 24), 0);
    let all = words(&[0xff; 32]);
    assert_eq!(bits_at(&all, 240, 16), 0xffff);
}

#[test]
fn radii_meet_the_pigeonhole_bound() {
    for bits in [12, 16, 18, 20] {
        let lens: Vec<u32> = parts(bits).iter().map(|&(_, l)| l).collect();
        for r in [0, 1, 16, 32, 48, 100] {
            let (t, cost) = radii(&lens, r).unwrap();
            assert_eq!(t.iter().map(|&t| t + 1).sum::<i64>(), i64::from(r) + 1);
            let expect: u64 = lens
                .iter()
                .zip(&t)
                .map(|(&l, &t)| (0..=t).map(|k| binomial(l, k as u32)).sum::<u64>())
                .sum();
            assert_eq!(cost, expect);
        }
    }
    // Past 256 + m bits of radius there is no pigeonhole: the store scans.
    assert!(radii(&[8; 32], 300).is_none());
}

#[test]
fn ball_enumerates_exactly_the_hamming_ball() {
    let mut out = Vec::new();
    ball(0b1010_1100, 8, 2, &mut out);
    let mut want: Vec<u32> = (0..256u32).filter(|v| (v ^ 0b1010_1100).count_ones() <= 2).collect();
    out.sort_unstable();
    want.sort_unstable();
    assert_eq!(out, want);
}

/// Segments by `maintenance`, rows by `build`, search by `nearest`: always the brute-force
/// answer, for planted neighbours at every distance around the image and audio radii.
#[test]
fn nearest_equals_brute_force() {
    let n = 5_000u64;
    let mut fps: Vec<(u64, [u8; 32])> = (0..n).filter(|i| i % 7 != 3).map(|i| (i, fp(i))).collect();
    // Near copies of a few records, at known distances, later in the log.
    let planted: Vec<(u64, u32)> = (0..60u64).map(|k| (k * 83 % 4_000, (k % 61) as u32)).collect();
    for (k, &(of, d)) in planted.iter().enumerate() {
        let i = n + k as u64;
        fps.push((i, flip(&fp(of), d, k as u64)));
    }
    let size = n + planted.len() as u64;
    let (drop, segs) = maintenance(&[], size, 256);
    assert!(drop.is_empty());
    // 5060 records: four merges of 4×256 into 1024s, then 4 × 1024 → 4096, then 3 × 256.
    let lens: Vec<u64> = segs.iter().map(|s| s.end - s.start).collect();
    assert_eq!(lens, vec![4096, 256, 256, 256]);
    let mut rows = std::collections::HashMap::new();
    for s in &segs {
        for (p, g, blob) in build(s, &fps) {
            assert!(rows.insert((s.start, p, g), blob).is_none());
        }
    }
    let tail = segs.last().unwrap().end;
    let tiles = tiles_of(&fps, size);
    assert_eq!(tiles.len() as u64, size.div_ceil(FP_TILE));
    let mut src = Mem { fps: fps.clone(), tiles, rows, probes: 0 };
    for (k, &(of, d)) in planted.iter().enumerate() {
        for r in [0u32, 8, 16, 32, 48] {
            for q in
                [fp(of), flip(&fp(of), 3, 1000 + k as u64), fps[(n + k as u64) as usize - 715].1]
            {
                let got = nearest(&mut src, &segs, tail, size, &q, r).unwrap();
                assert_eq!(got, brute(&fps, &q, r), "planted {k} (d {d}) r {r}");
            }
        }
    }
    // A query far from everything finds nothing and, at radius 16, probes few rows.
    src.probes = 0;
    let far = [0x5a; 32];
    assert_eq!(nearest(&mut src, &segs, tail, size, &far, 16).unwrap(), brute(&fps, &far, 16));
    assert!(src.probes < 1_000, "{} probes", src.probes);
}

#[test]
fn maintenance_builds_then_merges_in_fours() {
    let (drop, built) = maintenance(&[], 1_000, 100);
    assert!(drop.is_empty());
    let lens: Vec<(u64, u64)> = built.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(lens, vec![(0, 400), (400, 800), (800, 900), (900, 1000)]);
    // One more segment of 100 at 1100..: the trailing 100s are 3, no merge yet.
    let (drop, built2) = maintenance(&built, 1_100, 100);
    assert_eq!((drop, built2.len()), (vec![], 1));
    let mut all = built.clone();
    all.extend(built2);
    let (drop, built3) = maintenance(&all, 1_250, 100);
    // 1100..1200 completes four 100s (800..1200): they merge into one of 400.
    assert_eq!(drop, vec![800, 900, 1000]);
    assert_eq!(built3, vec![Segment { start: 800, end: 1200, bits: bits_for(400) }]);
    // Nothing to do below one segment's worth of tail.
    assert_eq!(maintenance(&built, 1_099, 100), (vec![], vec![]));
}
