use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::*;

fn codec(b: u8) -> PayloadCodec {
    PayloadCodec::new(&WatermarkKey::from_bytes([b; 32]))
}

/// A standard normal sample (Box–Muller), so the tests need no extra crate.
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[test]
fn sizes_match_the_contract() {
    assert_eq!(INFO_BITS, 112);
    assert_eq!(CODED_BITS, 354);
    assert_eq!(max_attempts(DEFAULT_MAX_FALSE_POSITIVE), 281);
    assert!(false_positive_probability(281) <= 1e-12);
    assert!(false_positive_probability(282) > 1e-12);
}

#[test]
fn encode_then_decode_recovers_the_id_with_no_errors() {
    let c = codec(1);
    for v in [0u64, 1, u64::MAX, 0x0123_4567_89ab_cdef] {
        let id = ContentId::from_u64(v);
        let coded = c.encode(id);
        assert_eq!(coded.len(), CODED_BITS);
        let d = c.decode(&coded);
        assert_eq!(d.verified(), Some(id));
        assert_eq!(d.bit_errors, 0);
        assert!((d.correlation - 1.0).abs() < 1e-6);
    }
}

#[test]
fn whitening_makes_the_all_zero_id_look_random() {
    let coded = codec(1).encode(ContentId::from_u64(0));
    let ones = coded.iter().filter(|&&v| v > 0.0).count();
    assert!((120..=234).contains(&ones), "{ones} of {CODED_BITS}");
}

#[test]
fn soft_decoding_survives_heavy_gaussian_noise() {
    // Per-coded-bit SNR of 0 dB (noise sigma = signal amplitude): about 16 % of the signs
    // are wrong, far beyond what the hard-decision code corrects, yet soft Viterbi decodes.
    let c = codec(2);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut ok = 0;
    for trial in 0..50u64 {
        let id = ContentId::from_u64(trial.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let noisy: Vec<f32> = c.encode(id).iter().map(|&x| x + gaussian(&mut rng)).collect();
        if c.decode(&noisy).verified() == Some(id) {
            ok += 1;
        }
    }
    assert!(ok >= 48, "only {ok}/50 decoded at 0 dB");
}

#[test]
fn random_input_and_wrong_keys_never_verify() {
    let c = codec(3);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..200 {
        let soft: Vec<f32> = (0..CODED_BITS).map(|_| gaussian(&mut rng)).collect();
        assert!(c.decode(&soft).verified().is_none());
    }
    // A clean mark under another key does not verify under this one.
    let other = codec(4).encode(ContentId::from_u64(42));
    assert!(c.decode(&other).verified().is_none());
}

#[test]
fn non_finite_soft_values_are_erasures() {
    let c = codec(5);
    let id = ContentId::from_u64(77);
    let mut soft = c.encode(id);
    for v in soft.iter_mut().step_by(9) {
        *v = f32::NAN;
    }
    soft[1] = f32::INFINITY;
    assert_eq!(c.decode(&soft).verified(), Some(id));
}

proptest::proptest! {
    // The code's free distance is 15, so ML decoding corrects any 7 hard errors.
    #[test]
    fn any_seven_flipped_coded_bits_are_corrected(
        v: u64,
        flips in proptest::collection::vec(0..CODED_BITS, 0..=7),
    ) {
        let c = codec(6);
        let id = ContentId::from_u64(v);
        let mut soft = c.encode(id);
        let mut seen = std::collections::BTreeSet::new();
        for f in flips {
            if seen.insert(f) {
                soft[f] = -soft[f];
            }
        }
        let d = c.decode(&soft);
        proptest::prop_assert_eq!(d.verified(), Some(id));
        proptest::prop_assert_eq!(d.bit_errors, seen.len());
    }
}

#[test]
fn list_viterbi_matches_exhaustive_ranking_on_a_short_code() {
    // 8 info bits: all 256 inputs can be scored directly. The list must be the 256 inputs in
    // the order of their path metric (correlation of the codeword with the soft values).
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for _ in 0..5 {
        let soft: Vec<f32> = (0..ecc::coded_len(8)).map(|_| gaussian(&mut rng)).collect();
        let metric = |bits: &[bool]| -> f32 {
            ecc::encode(bits).iter().zip(&soft).map(|(&c, &s)| if c { s } else { -s }).sum()
        };
        let mut all: Vec<Vec<bool>> =
            (0u32..256).map(|v| (0..8).map(|i| (v >> i) & 1 == 1).collect()).collect();
        all.sort_by(|a, b| metric(b).total_cmp(&metric(a)));
        let list = ecc::decode_list(&soft, 8, 300);
        assert_eq!(list.len(), 256, "every distinct input, no more");
        assert_eq!(list[0], ecc::decode(&soft, 8), "entry 0 is the Viterbi decision");
        for (got, want) in list.iter().zip(&all).take(40) {
            assert!((metric(got) - metric(want)).abs() < 1e-4, "ranking differs");
        }
    }
}

#[test]
fn list_decoding_recovers_ids_that_plain_viterbi_misses() {
    // Noise sigma 1.4 × the signal: plain soft Viterbi fails often; the tag picks the right
    // entry out of a list of 32, and never a wrong one.
    let c = codec(6);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let (mut plain, mut listed) = (0, 0);
    for trial in 0..60u64 {
        let id = ContentId::from_u64(trial.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let noisy: Vec<f32> = c.encode(id).iter().map(|&x| x + 1.4 * gaussian(&mut rng)).collect();
        let list = c.decode_list(&noisy, 32);
        assert_eq!(list[0], c.decode(&noisy));
        assert!(list.iter().filter_map(Decoded::verified).all(|v| v == id), "wrong ID verified");
        plain += usize::from(list[0].verified() == Some(id));
        listed += usize::from(list.iter().any(|d| d.verified() == Some(id)));
    }
    assert!(listed > plain, "list {listed} vs plain {plain} of 60");
}

/// The per-key share of the default bound keeps the total within it, and always allows one
/// attempt per key.
#[test]
fn per_key_bound_shares_the_default_among_keys() {
    assert!((per_key_bound(1) - DEFAULT_MAX_FALSE_POSITIVE).abs() < 1e-24);
    assert_eq!(per_key_bound(0), per_key_bound(1));
    for keys in [2usize, 5, 6, 11, 100, 281] {
        let per_key = max_attempts(per_key_bound(keys));
        assert!(per_key >= 1, "{keys} keys");
        let total = false_positive_probability(per_key * keys as u64);
        assert!(total <= DEFAULT_MAX_FALSE_POSITIVE, "{keys} keys: {total:e}");
    }
    assert_eq!(max_attempts(per_key_bound(10_000)), 1);
}
