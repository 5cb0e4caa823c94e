use super::*;

fn key(b: u8) -> WatermarkKey {
    WatermarkKey::from_bytes([b; 32])
}

#[test]
fn chips_are_balanced_deterministic_and_keyed() {
    let a = pn_chips(&key(1), "test", 10_000);
    assert_eq!(a, pn_chips(&key(1), "test", 10_000));
    assert!(a.iter().all(|&c| c == 1.0 || c == -1.0));
    let sum: f32 = a.iter().sum();
    assert!(sum.abs() < 400.0, "chips are unbalanced: sum {sum}");
    // Other key or other domain: uncorrelated (|r| < 4.5 sigma = 0.045).
    for other in [pn_chips(&key(2), "test", 10_000), pn_chips(&key(1), "other", 10_000)] {
        let r = normalized_correlation(&a, &other);
        assert!(r.abs() < 0.045, "r = {r}");
    }
    // A prefix of a longer stream is the shorter stream.
    assert_eq!(&pn_chips(&key(1), "test", 10_050)[..10_000], &a[..]);
}

#[test]
fn permutation_is_a_keyed_permutation() {
    let p = keyed_permutation(&key(3), "perm", 1000);
    let mut sorted = p.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_ne!(p, (0..1000).collect::<Vec<_>>());
    assert_ne!(p, keyed_permutation(&key(4), "perm", 1000));
}

#[test]
fn normalized_correlation_of_a_sequence_with_itself_is_one() {
    let a = pn_chips(&key(5), "x", 100);
    assert!((normalized_correlation(&a, &a) - 1.0).abs() < 1e-6);
    let neg: Vec<f32> = a.iter().map(|x| -x).collect();
    assert!((normalized_correlation(&a, &neg) + 1.0).abs() < 1e-6);
    assert_eq!(normalized_correlation(&a, &[0.0; 100]), 0.0);
}
