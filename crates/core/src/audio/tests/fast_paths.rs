//! The embedder's shortcuts give exactly what the reference paths give.

use super::*;

/// Candidates compared bit for bit.
fn same_candidates(a: &[Candidate], b: &[Candidate]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.sync.to_bits() == y.sync.to_bits()
                && x.time_scale.to_bits() == y.time_scale.to_bits()
                && x.freq_scale.to_bits() == y.freq_scale.to_bits()
                && x.soft.len() == y.soft.len()
                && x.soft.iter().zip(&y.soft).all(|(p, q)| p.to_bits() == q.to_bits())
        })
}

/// The self-check analyses the stored mix once, up to the full search's highest bin, for
/// both its nominal and its full-detector check: each search's candidates are those of
/// its own analysis (`Engine::candidates`), at 16 and 44.1 kHz, mono and stereo.
#[test]
fn shared_self_check_spectra_give_each_search_its_own_candidates() {
    let key = WatermarkKey::from_bytes([5; 32]);
    let emb = AudioEmbedder::new(&key, AudioParams::default());
    let detector = emb.detector();
    let nominal = detect::Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
    let coded = emb.codec.encode("0123456789abcdef".parse().unwrap());
    for name in ["pcm16-16000-mono-26s-librivox.wav", "pcm16-44100-stereo-12s-drascula.wav"] {
        let mut audio = load(name);
        emb.engine.embed_coded(&mut audio, &coded, emb.params.strength());
        let stored = audio.stored_mono();
        let grid = Grid::new(stored.sample_rate());
        let (lo, hi) = (
            detect::search_max_bin(&grid, &nominal),
            detect::search_max_bin(&grid, &detector.search),
        );
        assert!(hi > lo, "{name}: the full search reads higher bins");
        let shared = emb.engine.spectra(&stored, hi);
        let strength = emb.params.strength();
        for (search, max) in [(&nominal, 1), (&detector.search, 12)] {
            let reference = emb.engine.candidates(&stored, search, strength, max);
            let fast = emb.engine.candidates_from(&shared, search, strength, max);
            assert!(!reference.is_empty(), "{name}");
            assert!(same_candidates(&reference, &fast), "{name}: max {max}");
        }
    }
}
