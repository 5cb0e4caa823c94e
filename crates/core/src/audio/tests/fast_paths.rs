//! The embedder's shortcuts give exactly what the reference paths give.

use super::*;
use realfft::num_complex::Complex32;

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

/// The floor of an embedding's work on `DIAG_FILE` (best of `DIAG_REPS`, one thread when run
/// with `RAYON_NUM_THREADS=1`): decode, one forward real FFT per hop and channel (the host
/// analysis), one inverse per hop and channel (the marking), one forward FFT per hop of the
/// stored mix (the self-check's analysis), encode to WAV; nothing else. Compare with
/// `diag_phase_times`.
#[test]
#[ignore = "diagnostic: the transforms and codecs an embedding cannot avoid, timed"]
fn diag_embed_floor() {
    use std::time::{Duration, Instant};
    let file = std::env::var("DIAG_FILE").unwrap();
    let reps: usize = std::env::var("DIAG_REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let names =
        ["decode", "fwd per channel", "inv per channel", "stored mix", "fwd stored mix", "encode"];
    let mut best = [Duration::MAX; 6];
    let mut sink = 0.0f32;
    for _ in 0..reps {
        let mut times = [Duration::ZERO; 6];
        let t = Instant::now();
        let audio = decode_file(&file);
        times[0] = t.elapsed();
        let grid = Grid::new(audio.sample_rate());
        let plans = Plans::new(grid.frame);
        let n = usize::from(audio.channels());
        let hops = audio.frames().div_ceil(grid.hop);
        let mut s = stft::Scratch::new(&plans);
        let t = Instant::now();
        for h in 0..hops {
            for c in 0..n {
                s.analyze_strided(&plans, audio.samples(), h * grid.hop, n, c);
                sink += s.spec[1].re;
            }
        }
        times[1] = t.elapsed();
        let t = Instant::now();
        for _ in 0..hops * n {
            let _ = plans.inverse.process_with_scratch(&mut s.spec, &mut s.time, &mut s.inv);
            sink += s.time[1];
            s.spec.iter_mut().zip(&s.time).for_each(|(x, t)| *x = Complex32::new(*t, 0.0));
        }
        times[2] = t.elapsed();
        let t = Instant::now();
        let mono = audio.stored_mono();
        times[3] = t.elapsed();
        let t = Instant::now();
        for h in 0..hops {
            s.analyze(&plans, mono.samples(), h * grid.hop);
            sink += s.spec[1].re;
        }
        times[4] = t.elapsed();
        let t = Instant::now();
        let bytes =
            crate::audio_codec::encode(&audio, crate::audio_codec::AudioFormat::Wav).unwrap();
        times[5] = t.elapsed();
        sink += bytes.len() as f32;
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
    }
    eprintln!("{file}: (sink {sink:e})");
    for (n, b) in names.iter().zip(best) {
        eprintln!("  {n:16} {:7.2} ms", b.as_secs_f64() * 1e3);
    }
}

/// The writers' vectorised quantizer gives `quantize`'s integer for every sample: halves
/// between steps and the floats beside them, ±0, NaN, infinities, out-of-range values and
/// random ones, at every bit depth the writers use.
#[test]
fn quantize_into_equals_quantize_sample_by_sample() {
    let mut seed = 0x2545_f491_u32;
    for bits in [8u16, 12, 16, 20, 24, 32] {
        let step = 1.0 / (1i64 << (bits - 1)) as f64;
        let mut cases = vec![0.0f32, -0.0, 1.0, -1.0, 1.5, -1.5, f32::NAN, f32::INFINITY];
        cases.extend([f32::NEG_INFINITY, f32::MAX, f32::MIN, f32::MIN_POSITIVE, 1e-30]);
        for k in [-5i64, -3, -2, -1, 0, 1, 2, 4, 999, (1i64 << (bits - 1)) - 2] {
            let half = ((k as f64 + 0.5) * step) as f32;
            cases.extend([half, half.next_up(), half.next_down(), -half, -half.next_up()]);
        }
        for _ in 0..50_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            cases.push((seed as f32 / u32::MAX as f32) * 2.4 - 1.2);
        }
        let mut out = vec![7i32; cases.len()];
        quantize_into(&cases, bits, &mut out);
        for (&x, &q) in cases.iter().zip(&out) {
            assert_eq!(q, quantize(x, bits), "{x:e} at {bits} bits");
        }
    }
}

/// `AudioBuffer::new` checks every sample for NaN and infinity in runs (no early exit per
/// sample): one bad sample anywhere, in the first, a middle or the last run, is refused.
#[test]
fn audio_buffer_refuses_a_non_finite_sample_anywhere() {
    let good = vec![0.25f32; 5000];
    assert!(AudioBuffer::new(good.clone(), 2, 8_000, SampleFormat::Float).is_ok());
    for at in [0, 1, 1023, 1024, 2500, 4095, 4999] {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut samples = good.clone();
            samples[at] = bad;
            let r = AudioBuffer::new(samples, 2, 8_000, SampleFormat::Float);
            assert!(matches!(r, Err(crate::Error::Params { .. })), "{bad} at {at}");
        }
    }
}

/// The marker's kept-spectrum path (the host analysis's band bins, scaled as they are copied
/// in) marks exactly as analysing every frame again and scaling all its bins does, mono and
/// stereo.
#[test]
fn marking_from_kept_band_spectra_equals_marking_from_a_fresh_analysis() {
    let key = WatermarkKey::from_bytes([3; 32]);
    let emb = AudioEmbedder::new(&key, AudioParams::default());
    let coded = emb.codec.encode("fedcba9876543210".parse().unwrap());
    for name in ["pcm16-16000-mono-26s-librivox.wav", "pcm16-44100-stereo-12s-drascula.wav"] {
        let audio = load(name);
        let grid = Grid::new(audio.sample_rate());
        let plans = emb.engine.plans.get(grid.frame);
        let host = emb.engine.analyze_host(&audio);
        assert!(host.bands().is_some(), "{name}: one or two channels keep their band");
        let plan = embed::plan(&host, &emb.engine.layout, &coded, emb.params.strength());
        let channels = usize::from(audio.channels());
        let mark = |bands: Option<&embed::BandSpectra>| {
            let mut samples = audio.samples().to_vec();
            let mut marker = embed::Marker::new(&grid, &plans, channels, audio.frames());
            marker.mark(&mut samples, 0, 0, &plan.mult, bands);
            marker.finish(&mut samples, 0);
            samples.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        let (kept, fresh) = (mark(host.bands()), mark(None));
        assert_ne!(kept, audio.samples().iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert!(kept == fresh, "{name}");
    }
}
