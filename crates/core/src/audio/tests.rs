#![allow(clippy::unwrap_used, reason = "tests")]

use super::*;
use crate::payload::CODED_BITS;

fn load(name: &str) -> AudioBuffer {
    load_path(std::path::Path::new(&format!(
        "{}/../../testdata/audio/{name}",
        env!("CARGO_MANIFEST_DIR")
    )))
}

fn load_path(path: &std::path::Path) -> AudioBuffer {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let scale = 1.0 / (1u32 << (spec.bits_per_sample - 1)) as f32;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => r.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect(),
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
    };
    AudioBuffer::new(
        samples,
        spec.channels,
        spec.sample_rate,
        SampleFormat::Int(spec.bits_per_sample),
    )
    .unwrap()
}

/// Raw coded-bit errors of the best candidate at the nominal scale (what the self-check sees).
fn nominal_bit_errors(emb: &AudioEmbedder, audio: &AudioBuffer, coded: &[f32]) -> usize {
    let search = detect::Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
    let c = emb.engine.candidates(audio, &search, emb.params.strength(), 1);
    c.first().map_or(coded.len(), |c| {
        c.soft.iter().zip(coded).filter(|(s, b)| s.signum() != b.signum()).count()
    })
}

/// Any supported audio file, through the codecs.
fn decode_file(path: &str) -> AudioBuffer {
    let bytes = std::fs::read(path).unwrap();
    crate::audio_codec::decode(&bytes, &crate::audio_codec::DecodeLimits::default()).unwrap()
}

fn snr_db(a: &AudioBuffer, b: &AudioBuffer) -> f64 {
    let (mut s, mut n) = (0.0f64, 0.0f64);
    for (x, y) in a.samples().iter().zip(b.samples()) {
        s += f64::from(*x).powi(2);
        n += f64::from(x - y).powi(2);
    }
    10.0 * (s / n).log10()
}

#[test]
fn embed_then_detect_recovers_id_with_high_snr() {
    let key = WatermarkKey::from_bytes([7; 32]);
    let params = AudioParams::default();
    let id: ContentId = "00c0ffee12345678".parse().unwrap();
    let orig = load("pcm16-16000-mono-26s-librivox.wav");
    let mut marked = orig.clone();
    AudioEmbedder::new(&key, params.clone()).embed(&mut marked, id).unwrap();
    let snr = snr_db(&orig, &marked);
    assert!(snr >= 30.0, "SNR {snr:.1} dB");
    let det = AudioDetector::new(&key, params);
    let r = det.detect(&marked).unwrap();
    assert_eq!(r.id(), Some(id));
    assert!(r.p_value <= 1e-12 && r.attempts >= 1);
    assert_eq!(det.detect(&orig).unwrap().id(), None);
}

/// `embed_copy` leaves the original as it was and gives the samples and self-check finding
/// `embed_checked` gives in place.
#[test]
fn embed_copy_matches_embed_checked_and_keeps_the_original() {
    let key = WatermarkKey::from_bytes([9; 32]);
    let id: ContentId = "0123456789abcdef".parse().unwrap();
    let emb = AudioEmbedder::new(&key, AudioParams::default());
    let orig = load("pcm16-44100-stereo-12s-drascula.wav");
    let before = orig.clone();
    let (copy, check) = emb.embed_copy(&orig, id).unwrap();
    assert_eq!(orig, before);
    let mut in_place = orig.clone();
    assert_eq!(emb.embed_checked(&mut in_place, id).unwrap(), check);
    assert_eq!(check, Some(true));
    assert_eq!(copy, in_place);
    assert_ne!(copy, orig);
}

#[test]
fn stereo_music_at_higher_strength_round_trips_and_downmix_keeps_it() {
    // 12 s of music is short for 112 payload bits at the default strength (see README,
    // "Audio watermark"); 4 dB more strength carries it.
    let key = WatermarkKey::from_bytes([9; 32]);
    let params = AudioParams::builder().snr_db(26.0).build().unwrap();
    let id = ContentId::from_u64(0xfeed_beef_0000_0001);
    let orig = load("pcm16-44100-stereo-12s-drascula.wav");
    let mut marked = orig.clone();
    AudioEmbedder::new(&key, params.clone()).embed(&mut marked, id).unwrap();
    assert!(snr_db(&orig, &marked) >= 26.0);
    let det = AudioDetector::new(&key, params);
    assert_eq!(det.detect(&marked).unwrap().id(), Some(id));
    let mono =
        AudioBuffer::new(marked.mono().into_owned(), 1, 44_100, SampleFormat::Int(16)).unwrap();
    assert_eq!(det.detect(&mono).unwrap().id(), Some(id));
}

#[test]
fn waterfill_spends_the_budget_and_respects_the_cap() {
    let energy = [1.0f32, 4.0, 0.01, 100.0, 0.0];
    let mut depth = [0.0f32; 5];
    mask::waterfill(&energy, 2.0, 0.3, &mut depth);
    let spent: f32 = energy.iter().zip(&depth).map(|(e, d)| e * d * d).sum();
    assert!((spent - 2.0).abs() < 1e-3, "spent {spent}");
    assert!(depth.iter().all(|&d| (0.0..=0.3 + 1e-6).contains(&d)));
    assert!(depth[2] >= depth[1] && depth[1] >= depth[3], "weaker bands get deeper modulation");
    mask::waterfill(&energy, 1e9, 0.3, &mut depth);
    assert!(depth.iter().all(|&d| (d - 0.3).abs() < 1e-6));
    mask::waterfill(&energy, 0.0, 0.3, &mut depth);
    assert!(depth.iter().all(|&d| d == 0.0));
}

#[test]
fn level_dependent_budgets_keep_the_total_and_favour_quiet_frames() {
    let totals = [100.0f32, 100.0, 10.0, 0.01, 0.0, 100.0];
    let flat = mask::frame_budgets(&totals, 1e-3, 1.0);
    let leveled = mask::frame_budgets(&totals, 1e-3, mask::LEVEL_GAIN_MAX);
    let (sf, sl): (f32, f32) = (flat.iter().sum(), leveled.iter().sum());
    assert!((sf - sl).abs() <= 1e-6 * sf, "same total change energy: {sf} vs {sl}");
    // A frame at 1/5 of the mean power gets 5 times the share of frames above the mean, one
    // far below it LEVEL_GAIN_MAX times, silence nothing.
    let share = |b: &[f32], i: usize| b[i] / totals[i];
    let ratio = share(&leveled, 2) / share(&leveled, 0);
    assert!((ratio - 310.01 / 6.0 / 10.0).abs() < 1e-3, "{ratio}");
    let most = share(&leveled, 0) * mask::LEVEL_GAIN_MAX as f32;
    assert!((share(&leveled, 3) - most).abs() <= 1e-4 * most);
    assert_eq!(leveled[4], 0.0);
    assert!(share(&leveled, 0) < share(&flat, 0), "loud frames give up a little");
}

#[test]
fn level_dependent_budgets_lower_bit_errors_on_speech_at_the_same_snr() {
    // The 26 s speech clip with every other half second 20 dB quieter (speech with quiet
    // stretches, as the dev clip that failed under noise), marked with fixed and with
    // level-dependent frame shares, then white noise 30 dB below the clip's power: raw bit
    // errors at the nominal scale.
    let key = WatermarkKey::from_bytes([5; 32]);
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let coded = emb.codec.encode(ContentId::from_u64(0x5eed_0123_4567_89ab));
    let speech = load("pcm16-16000-mono-26s-librivox.wav");
    let rate = speech.sample_rate() as usize;
    let quieter: Vec<f32> = speech
        .samples()
        .iter()
        .enumerate()
        .map(|(i, &x)| if (2 * i / rate) % 2 == 1 { 0.1 * x } else { x })
        .collect();
    let orig = AudioBuffer::new(quieter, 1, speech.sample_rate(), SampleFormat::Float).unwrap();
    let power = orig.samples().iter().map(|x| x * x).sum::<f32>() / orig.samples().len() as f32;
    let noise = gaussians(31, orig.samples().len());
    let sigma = (power * 1e-3).sqrt();
    let mut errors = Vec::new();
    for gain_max in [1.0, mask::LEVEL_GAIN_MAX] {
        let strength = embed::Strength { level_gain_max: gain_max, ..params.strength() };
        let mut marked = orig.clone();
        emb.engine.embed_coded(&mut marked, &coded, strength);
        let snr = snr_db(&orig, &marked);
        let noisy: Vec<f32> =
            marked.samples().iter().zip(&noise).map(|(x, n)| x + sigma * n).collect();
        let noisy = AudioBuffer::new(noisy, 1, orig.sample_rate(), SampleFormat::Float).unwrap();
        let e =
            (nominal_bit_errors(&emb, &marked, &coded), nominal_bit_errors(&emb, &noisy, &coded));
        errors.push((snr, e));
    }
    let ((snr_flat, (clean_flat, noisy_flat)), (snr_lev, (clean_lev, noisy_lev))) =
        (errors[0], errors[1]);
    // Not lower (it is higher: the depth cap binds in more quiet frames and leaves some of
    // their budget unspent).
    assert!(snr_lev > snr_flat - 0.1, "SNR {snr_flat:.2} vs {snr_lev:.2} dB");
    // Measured: SNR 31.63 / 31.82 dB, errors clean/noisy 19/64 → 19/57 of 354.
    assert!(
        clean_lev + noisy_lev < clean_flat + noisy_flat,
        "bit errors clean/noisy: fixed share {clean_flat}/{noisy_flat}, \
         level-dependent {clean_lev}/{noisy_lev}"
    );
}

#[test]
fn level_dependent_detector_weights_lower_bit_errors_on_speech() {
    // The 26 s speech clip, marked as usual (the embedder's depths are level-dependent), as
    // marked, under white noise 30 dB below its power and rounded to 8 bits: raw bit errors of
    // the plain and the noise-weighted candidate at the nominal scale, with the detector's
    // cells weighted by the fixed-share depths (before) and by the level-dependent depths, of
    // the energies above the noise floor in the weighted search (now).
    let key = WatermarkKey::from_bytes([5; 32]);
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let coded = emb.codec.encode(ContentId::from_u64(0x5eed_0123_4567_89ab));
    let mut marked = load("pcm16-16000-mono-26s-librivox.wav");
    emb.engine.embed_coded(&mut marked, &coded, params.strength());
    let power = marked.samples().iter().map(|x| x * x).sum::<f32>() / marked.samples().len() as f32;
    let sigma = (power * 1e-3).sqrt();
    let noise = gaussians(32, marked.samples().len());
    let attacked: [Vec<f32>; 3] = [
        marked.samples().to_vec(),
        marked.samples().iter().zip(&noise).map(|(x, n)| x + sigma * n).collect(),
        marked.samples().iter().map(|x| (x * 127.0).round() / 127.0).collect(),
    ];
    let mut errors = [[0usize; 2]; 2];
    for samples in attacked {
        let audio =
            AudioBuffer::new(samples, 1, marked.sample_rate(), SampleFormat::Float).unwrap();
        for (i, level_depths) in [false, true].into_iter().enumerate() {
            for (j, noise_weighted) in [false, true].into_iter().enumerate() {
                let search = detect::Search {
                    noise_weighted,
                    level_depths,
                    ..detect::Search::new(0.0, 0.0, 1.0, 1.0, 0.0)
                };
                let c = emb.engine.candidates(&audio, &search, params.strength(), 1);
                errors[i][j] += c.first().map_or(coded.len(), |c| {
                    c.soft.iter().zip(&coded).filter(|(s, b)| s.signum() != b.signum()).count()
                });
            }
        }
    }
    let ([plain_before, weighted_before], [plain_now, weighted_now]) = (errors[0], errors[1]);
    // Measured (clean + 30 dB + 8-bit): plain 17 + 49 + 56 → 12 + 43 + 46, weighted
    // 20 + 46 + 48 → 19 + 41 + 38 of 354 each.
    assert!(
        plain_now < plain_before && weighted_now < weighted_before,
        "bit errors plain/weighted: fixed-share weights {plain_before}/{weighted_before}, \
         level-dependent {plain_now}/{weighted_now}"
    );
}

#[test]
fn layout_gives_every_coded_bit_the_same_number_of_slots() {
    let l = layout::Layout::new(&WatermarkKey::from_bytes([3; 32]), CODED_BITS);
    let mut count = vec![0usize; CODED_BITS];
    for &(_, _, _, c) in &l.data {
        count[usize::from(c)] += 1;
    }
    assert!(count.iter().all(|&n| n == count[0] && n >= 3));
    assert!(l.sync.len() >= layout::BLOCK_SLOTS / 12);
    let other = layout::Layout::new(&WatermarkKey::from_bytes([4; 32]), CODED_BITS);
    assert_ne!(l.chips, other.chips);
}

#[test]
fn params_builder_rejects_out_of_range_values() {
    assert!(AudioParams::builder().snr_db(5.0).build().is_err());
    assert!(AudioParams::builder().max_depth(0.9).build().is_err());
    assert!(AudioParams::builder().freq_scale_range(1.01, 1.1).build().is_err());
    assert!(AudioParams::builder().max_false_positive(1e-20).build().is_err());
    assert!(AudioParams::builder().max_seconds(f64::NAN).build().is_err());
    assert!(AudioParams::default().attempts() >= 1);
}

/// A candidate at the nominal scale with `soft` values.
fn candidate(soft: Vec<f32>) -> Candidate {
    Candidate { soft, sync: 1.0, time_scale: 1.0, freq_scale: 1.0 }
}

/// Standard normal samples from a fixed seed (Box–Muller over an LCG).
pub(super) fn gaussians(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut uniform = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

#[test]
fn list_decoding_recovers_ids_the_plain_decision_misses_within_the_budget() {
    let key = WatermarkKey::from_bytes([9; 32]);
    let det = AudioDetector::new(&key, AudioParams::default());
    let budget = det.params.attempts();
    assert_eq!(budget, 64);
    let id = ContentId::from_u64(0x0123_4567_89ab_cdef);
    let coded = det.codec.encode(id);
    // ≈ 21 % raw bit errors: near the code's limit, where the plain decision often fails.
    let sigma = 1.25f32;
    let (mut plain_missed, mut list_found) = (0, 0);
    for seed in 0..40u64 {
        let noise = gaussians(seed, 2 * CODED_BITS);
        let marked: Vec<f32> = coded.iter().zip(&noise).map(|(c, n)| c + sigma * n).collect();
        let other = noise[CODED_BITS..].to_vec();
        let plain_ok = det.codec.decode(&marked).verified() == Some(id);
        let r = det.decode_candidates(&[candidate(marked), candidate(other)], budget);
        assert!(r.id().is_none() || r.id() == Some(id), "a wrong ID verified");
        assert!(r.attempts as usize <= budget);
        assert!(r.p_value <= 64.0 * (-48f64).exp2());
        if plain_ok {
            assert_eq!(r.id(), Some(id));
            assert_eq!(r.attempts, 1);
        } else {
            plain_missed += 1;
            list_found += usize::from(r.id() == Some(id));
        }
    }
    assert!(plain_missed >= 5, "the noise is too weak to test anything ({plain_missed})");
    // Measured: 15 of the 24 the plain decision missed.
    assert!(list_found * 4 >= plain_missed, "list decoding found {list_found} of {plain_missed}");
    // Unmarked: every attempt is spent and counted, and nothing verifies.
    let r = det.decode_candidates(
        &[candidate(gaussians(99, CODED_BITS)), candidate(gaussians(98, CODED_BITS))],
        budget,
    );
    assert_eq!((r.id(), r.attempts as usize), (None, budget));
    assert_eq!(r.p_value, false_positive_probability(64));
}

#[test]
fn limits_reject_overlong_audio() {
    let key = WatermarkKey::from_bytes([1; 32]);
    let params = AudioParams::builder().max_seconds(1.0).build().unwrap();
    let mut a = AudioBuffer::new(vec![0.0; 16_000 * 2], 1, 16_000, SampleFormat::Float).unwrap();
    assert!(AudioEmbedder::new(&key, params.clone())
        .embed(&mut a, ContentId::from_u64(1))
        .is_err());
    assert!(AudioDetector::new(&key, params).detect(&a).is_err());
}

#[test]
#[ignore = "diagnostic: oracle-aligned bit error rates"]
fn diag_oracle_ber() {
    let key = WatermarkKey::from_bytes([7; 32]);
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let id: ContentId = "00c0ffee12345678".parse().unwrap();
    let coded = emb.codec.encode(id);
    let search = detect::Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
    let dir = std::env::var("DIAG_DIR")
        .unwrap_or_else(|_| format!("{}/../../testdata/audio", env!("CARGO_MANIFEST_DIR")));
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let orig = load_path(&p);
        let mut marked = orig.clone();
        emb.embed(&mut marked, id).unwrap();
        if let Ok(db) = std::env::var("DIAG_NOISE").map(|v| v.parse::<f64>().unwrap()) {
            let power = marked.samples().iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
                / marked.samples().len() as f64;
            let sigma = (power / 10f64.powf(db / 10.0)).sqrt() as f32;
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for s in marked.samples_mut() {
                let mut g = 0.0f32;
                for _ in 0..12 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    g += (x >> 40) as f32 / (1u64 << 24) as f32;
                }
                *s += sigma * (g - 6.0);
            }
        }
        let c = emb.engine.candidates(&marked, &search, params.strength(), 1);
        let errs = c[0].soft.iter().zip(&coded).filter(|(s, b)| s.signum() != b.signum()).count();
        let full = AudioDetector::new(&key, params.clone()).detect(&marked).unwrap();
        {
            let grid = layout::Grid::new(marked.sample_rate());
            let plans = emb.engine.plans.get(grid.frame);
            let mono = marked.mono();
            let hops = mono.len() / grid.hop;
            for seg in detect::segments(hops) {
                let sg = detect::analyze_segment(
                    &grid,
                    &plans,
                    &emb.engine.layout,
                    &search,
                    params.strength(),
                    &mono,
                    seg,
                );
                let f = sg.sync.fits[0][0];
                eprintln!("  seg {:?}: z {:.1} phase {} offset {}", seg, f.z, f.phase, f.offset);
            }
        }
        eprintln!(
            "{:50} snr {:.1} sync {:.1} ber {:.3} found {} score {:.1} attempts {}",
            p.file_name().unwrap().to_string_lossy(),
            snr_db(&orig, &marked),
            c[0].sync,
            errs as f64 / 354.0,
            full.id() == Some(id),
            full.score,
            full.attempts
        );
    }
    panic!("diagnostic");
}

#[test]
#[ignore = "diagnostic: real vs simulated mark response per sub-band"]
fn diag_response() {
    use layout::{Grid, SUBBANDS};
    let key = WatermarkKey::from_bytes([7; 32]);
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let coded = emb.codec.encode(ContentId::from_u64(5));
    let path = std::env::var("DIAG_FILE").unwrap();
    let orig = load_path(std::path::Path::new(&path));
    let grid = Grid::new(orig.sample_rate());
    let plans = emb.engine.plans.get(grid.frame);
    let mono = orig.mono();
    let hops = (mono.len() / grid.hop).min(360);
    let frames = mono.len().div_ceil(grid.hop);
    let st = params.strength();
    let host = embed::Host::analyze(&grid, &plans, (&mono, 1), frames);
    let plan = embed::plan(&host, &emb.engine.layout, &coded, st);
    let mut marked = mono.to_vec();
    let mut marker = embed::Marker::new(&grid, &plans, 1, marked.len());
    marker.mark(&mut marked, 0, 0, &plan.mult, host.bands());
    marker.finish(&mut marked, 0);
    let sp_h = detect::Spectra::compute(&grid, &plans, &mono, 0, hops, grid.frame / 2);
    let sp_m = detect::Spectra::compute(&grid, &plans, &marked, 0, hops, grid.frame / 2);
    let eh = detect::band_energies(&sp_h, &grid, 1.0);
    let em = detect::band_energies(&sp_m, &grid, 1.0);
    let eff = grid.efficiency();
    let es: Vec<f32> = eh
        .iter()
        .zip(&plan.mult)
        .enumerate()
        .map(|(i, (e, m))| e * (1.0 + eff[i % SUBBANDS] * m).powi(2))
        .collect();
    let fh = detect::features_from_energy(eh, &sp_h.total, st);
    let fm = detect::features_from_energy(em, &sp_m.total, st);
    let fs = detect::features_from_energy(es, &sp_h.total, st);
    for g in 0..4 {
        let (mut real, mut sim, mut host) = (0.0f32, 0.0f32, 0.0f32);
        for k in g * SUBBANDS / 4..(g + 1) * SUBBANDS / 4 {
            for t in 0..hops {
                let i = t * SUBBANDS + k;
                let s = plan.mult[i].signum();
                real += s * (fm.d[i] - fh.d[i]);
                sim += s * (fs.d[i] - fh.d[i]);
                host += (fh.d[i]).powi(2);
            }
        }
        eprintln!(
            "bands {}..: real {real:.1} sim {sim:.1} ratio {:.2} host rms {:.2}",
            g * SUBBANDS / 4,
            real / sim,
            (host / (SUBBANDS / 4 * hops) as f32).sqrt()
        );
    }
    panic!("diagnostic");
}

#[test]
#[ignore = "diagnostic: short-clip reliability over many IDs"]
fn diag_short_ids() {
    let file = std::env::var("DIAG_FILE").unwrap_or_else(|_| {
        format!(
            "{}/../../testdata/audio/flac16-16000-mono-3s-librivox.flac",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let orig = decode_file(&file);
    let n: u64 = std::env::var("DIAG_N").map_or(12, |v| v.parse().unwrap());
    let params = AudioParams::default();
    let mut ok = 0;
    for i in 0..n {
        let key = WatermarkKey::from_bytes([(i % 3) as u8 + 1; 32]);
        let emb = AudioEmbedder::new(&key, params.clone());
        let id = ContentId::from_u64(0x1234_5678_9abc_0000 ^ (i * 0x9e37_79b9));
        let coded = emb.codec.encode(id);
        let mut marked = orig.clone();
        let check = emb.embed_checked(&mut marked, id).unwrap();
        let errs = nominal_bit_errors(&emb, &marked.as_stored(), &coded);
        let full = AudioDetector::new(&key, params.clone()).detect(&marked.as_stored()).unwrap();
        ok += usize::from(full.id() == Some(id));
        eprintln!(
            "i {i} self-check {check:?} snr {:.1} nominal ber {:.3} found {} score {:.1} attempts {}",
            snr_db(&orig, &marked),
            errs as f64 / 354.0,
            full.id() == Some(id),
            full.score,
            full.attempts
        );
    }
    eprintln!("decoded {ok}/{n}");
    panic!("diagnostic");
}

#[test]
#[ignore = "diagnostic: one key and ID on a clip under every boost and gain recipe"]
fn diag_recipes() {
    let file = std::env::var("DIAG_FILE").unwrap();
    let key_hex = std::env::var("DIAG_KEY").unwrap();
    let id: ContentId = std::env::var("DIAG_ID").unwrap().parse().unwrap();
    let key = WatermarkKey::from_hex(&key_hex).unwrap();
    let orig = decode_file(&file);
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let det = AudioDetector::new(&key, params.clone());
    let coded = emb.codec.encode(id);
    let mut a = orig.clone();
    let check = emb.embed_checked(&mut a, id).unwrap();
    let found = det.detect(&a).unwrap();
    eprintln!(
        "embed_checked: {check:?}, snr {:.1}, found {} score {:.3}",
        snr_db(&orig, &a),
        found.id() == Some(id),
        found.score
    );
    let fq = det.detect(&a.as_stored()).unwrap();
    eprintln!("as stored: found {} score {:.3}", fq.id() == Some(id), fq.score);
    for boost in [0.0f32, 1.5, 3.0, 4.5, 6.0] {
        for rounds in [3usize, 0, 1, 6] {
            let mut st = params.strength_boosted(boost);
            st.informed_rounds = rounds;
            let mut a = orig.clone();
            emb.engine.embed_coded(&mut a, &coded, st);
            let errs = nominal_bit_errors(&emb, &a, &coded);
            let found = det.detect(&a).unwrap();
            eprintln!(
                "boost {boost} rounds {rounds}: snr {:.1} ber {:.3} found {} score {:.1}",
                snr_db(&orig, &a),
                errs as f64 / 354.0,
                found.id() == Some(id),
                found.score
            );
        }
    }
    panic!("diagnostic");
}

#[test]
#[ignore = "diagnostic: wall time of each embedding phase on DIAG_FILE (run with RAYON_NUM_THREADS=1)"]
fn diag_phase_times() {
    use std::time::{Duration, Instant};
    let file = std::env::var("DIAG_FILE").unwrap();
    let reps: usize = std::env::var("DIAG_REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let key = WatermarkKey::from_bytes([7; 32]);
    let id: ContentId = "0123456789abcdef".parse().unwrap();
    let params = AudioParams::default();
    let emb = AudioEmbedder::new(&key, params.clone());
    let coded = emb.codec.encode(id);
    let names = [
        "decode",
        "analyze",
        "plan",
        "apply",
        "stored_mono",
        "nominal check",
        "full check",
        "detect",
        "embed_checked",
        "encode",
    ];
    let mut best = [Duration::MAX; 10];
    let mut notes = String::new();
    for _ in 0..reps {
        let mut times = [Duration::ZERO; 10];
        let mut lap = |i: usize, t: Instant| times[i] = t.elapsed();
        let t = Instant::now();
        let orig = decode_file(&file);
        lap(0, t);
        let mut audio = orig.clone();
        let grid = Grid::new(audio.sample_rate());
        let plans = emb.engine.plans.get(grid.frame);
        let channels = usize::from(audio.channels());
        let frames = audio.frames().div_ceil(grid.hop);
        let t = Instant::now();
        let host = embed::Host::analyze(&grid, &plans, (audio.samples(), channels), frames);
        lap(1, t);
        let t = Instant::now();
        let plan = embed::plan(&host, &emb.engine.layout, &coded, params.strength());
        lap(2, t);
        let t = Instant::now();
        let mut marker = embed::Marker::new(&grid, &plans, channels, audio.frames());
        marker.mark(audio.samples_mut(), 0, 0, &plan.mult, host.bands());
        marker.finish(audio.samples_mut(), 0);
        lap(3, t);
        let t = Instant::now();
        let stored = audio.stored_mono();
        lap(4, t);
        let t = Instant::now();
        let margin = emb.has_margin(&stored, id, false);
        lap(5, t);
        let t = Instant::now();
        let plain = emb.decodes(&stored, id);
        lap(6, t);
        let t = Instant::now();
        let found = emb.detector().detect(&stored).unwrap();
        lap(7, t);
        let t = Instant::now();
        let (full, check) = emb.embed_copy(&orig, id).unwrap();
        lap(8, t);
        let t = Instant::now();
        let bytes =
            crate::audio_codec::encode(&full, crate::audio_codec::AudioFormat::Wav).unwrap();
        lap(9, t);
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
        notes = format!(
            "nominal {margin}, full {plain}, detect {}, checked {check:?}, {} bytes, {:.1} s, {} ch",
            found.id() == Some(id),
            bytes.len(),
            orig.duration_seconds(),
            orig.channels()
        );
    }
    eprintln!("{file}: {notes}");
    for (n, b) in names.iter().zip(best) {
        eprintln!("  {n:14} {:7.2} ms", b.as_secs_f64() * 1e3);
    }
}

#[test]
fn quantize_rounds_half_away_from_zero_and_clips_like_libm() {
    let reference = |x: f32, bits: u16| -> i32 {
        let scale = (1i64 << (bits - 1)) as f64;
        (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) as i32
    };
    let mut seed = 0x9e37_79b9_u32;
    for bits in [8u16, 16, 24, 32] {
        let step = 1.0 / (1i64 << (bits - 1)) as f32;
        let mut cases = vec![0.0f32, -0.0, 1.0, -1.0, 1.5, -1.5, f32::NAN, f32::INFINITY];
        for k in [-3i64, -2, -1, 0, 1, 2, 3, 1000, (1i64 << (bits - 1)) - 2] {
            // Exact halves between steps, and the floats either side of them.
            let half = ((k as f64 + 0.5) * f64::from(step)) as f32;
            cases.extend([half, half.next_up(), half.next_down(), -half]);
        }
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            cases.push((seed as f32 / u32::MAX as f32) * 2.2 - 1.1);
        }
        for x in cases {
            let expected = if x.is_nan() { 0 } else { reference(x, bits) };
            assert_eq!(quantize(x, bits), expected, "{x:e} at {bits} bits");
            if bits <= 24 {
                // `store` (the self-check's rounding, in f32) gives the same level.
                let stored = buffer::store(x, bits) * (1u32 << (bits - 1)) as f32;
                // Bit for bit: a zero level is +0, as the integer path gives.
                assert_eq!(
                    stored.to_bits(),
                    (expected as f32).to_bits(),
                    "store: {x:e} at {bits} bits"
                );
            }
        }
    }
}

#[test]
fn stored_mono_is_the_mix_of_the_stored_samples() {
    let mut seed = 7u32;
    let samples: Vec<f32> = (0..3 * 20_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / 8_388_608.0 - 1.0
        })
        .collect();
    for (channels, format) in [
        (1, SampleFormat::Int(16)),
        (2, SampleFormat::Int(16)),
        (3, SampleFormat::Int(24)),
        (2, SampleFormat::Float),
        (1, SampleFormat::Int(32)),
    ] {
        let n = samples.len() / 3 * 3;
        let audio = AudioBuffer::new(samples[..n].to_vec(), channels, 16_000, format).unwrap();
        let mono = audio.stored_mono();
        assert_eq!(mono.channels(), 1);
        assert_eq!(mono.samples(), &*audio.as_stored().mono(), "{channels} × {format:?}");
        // Against a frame-by-frame mix written out here (`mono` shares `mix_mapped`).
        let stored = audio.as_stored();
        let frames = stored.samples().chunks_exact(usize::from(channels));
        let direct: Vec<f32> = match channels {
            1 => stored.samples().to_vec(),
            2 => frames.map(|f| (f[0] + f[1]) * 0.5).collect(),
            _ => frames.map(|f| f.iter().sum::<f32>() * (1.0 / f32::from(channels))).collect(),
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(mono.samples()), bits(&direct), "{channels} × {format:?}");
    }
}

/// A long stream marked a segment at a time gives exactly the samples of marking the whole
/// buffer, holding only about one segment at a time.
#[test]
fn streamed_embedding_matches_the_whole_buffer_and_holds_one_segment() {
    let rate = 8_000u32;
    let channels = 2u16;
    let frames = rate as usize * 125; // past the 2-minute self-check, so none runs
    let mut seed = 11u32;
    let samples: Vec<f32> = (0..frames * 2)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let t = (i / 2) as f32 / rate as f32;
            0.3 * (t * 2.0 * std::f32::consts::PI * 330.0 * (1.0 + (i % 2) as f32)).sin()
                + 0.1 * ((seed >> 8) as f32 / 16_777_216.0 - 0.5)
        })
        .collect();
    let key = WatermarkKey::from_bytes([5; 32]);
    let id: ContentId = "00c0ffee12345678".parse().unwrap();
    let emb = AudioEmbedder::new(&key, AudioParams::default());
    let mut whole =
        AudioBuffer::new(samples.clone(), channels, rate, SampleFormat::Int(16)).unwrap();
    assert_eq!(emb.embed_checked(&mut whole, id).unwrap(), None, "no self-check past 2 min");

    // What the embedder holds: pulled but not yet written.
    let pulled = std::cell::Cell::new(0usize);
    let held = std::cell::Cell::new(0usize);
    let mut most_held = 0usize;
    let mut written = Vec::with_capacity(samples.len());
    let mut chunks = samples.chunks(1_234 * 2);
    emb.embed_stream(
        (channels, rate, frames as u64),
        id,
        &mut || -> Result<Option<Vec<f32>>> {
            let c = chunks.next().map(<[f32]>::to_vec);
            let n = c.as_ref().map_or(0, Vec::len);
            pulled.set(pulled.get() + n);
            held.set(held.get() + n);
            Ok(c)
        },
        &mut |s: &[f32]| -> Result<()> {
            most_held = most_held.max(held.get());
            held.set(held.get() - s.len());
            written.extend_from_slice(s);
            Ok(())
        },
    )
    .unwrap();
    let pulled = pulled.get();
    assert_eq!(pulled, samples.len());
    assert_eq!(written.len(), whole.samples().len());
    assert!(written == whole.samples(), "streamed samples differ from the whole buffer's");
    let segment = (detect::SEGMENT_HOPS * 3 / 2 + 4) * Grid::new(rate).hop * 2 + 1_234 * 2;
    assert!(most_held <= segment, "held {most_held} samples, more than ~1.5 segments");
    // Found by the detector, whole and streamed alike, on the marked and the unmarked audio.
    let detector = AudioDetector::new(&key, AudioParams::default());
    for (audio, marked) in [(whole.samples(), true), (&samples[..], false)] {
        let buffer = AudioBuffer::new(audio.to_vec(), channels, rate, SampleFormat::Int(16));
        let found = detector.detect(&buffer.unwrap()).unwrap();
        assert_eq!(found.id(), marked.then_some(id));
        let mut opened = 0;
        let streamed = detector
            .detect_stream((channels, rate, frames as u64), &mut || {
                opened += 1;
                Ok(Box::new(Chunks(audio.chunks(3_001 * 2))))
            })
            .unwrap();
        assert_eq!(streamed, found, "streamed detection, marked: {marked}");
        assert_eq!(opened, 2);
    }
    // A stream that ends early is an error, not a short file.
    let mut short = samples[..samples.len() / 2].chunks(4_000);
    let r = emb.embed_stream(
        (channels, rate, frames as u64),
        id,
        &mut || Ok(short.next().map(<[f32]>::to_vec)),
        &mut |_| Ok(()),
    );
    assert!(matches!(r, Err(Error::Decode { .. })), "{r:?}");
}

/// A sample source over borrowed chunks.
struct Chunks<'a>(std::slice::Chunks<'a, f32>);

impl SampleSource for Chunks<'_> {
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>> {
        Ok(self.0.next().map(<[f32]>::to_vec))
    }
}

/// The harness files the attacked-file diagnostics read: the key (`DIAG_KEY`), each clip's
/// ID (`DIAG_IDS`: "file id" lines) and the folders under `DIAG_ROOT` (`marked` as "none",
/// then every `attacked/<attack>` folder in order).
#[allow(clippy::type_complexity, reason = "diagnostic inputs")]
fn harness_diag_inputs(
) -> (WatermarkKey, Vec<(String, ContentId)>, Vec<(String, std::path::PathBuf)>) {
    let root = std::env::var("DIAG_ROOT").unwrap();
    let key = WatermarkKey::from_hex(&std::env::var("DIAG_KEY").unwrap()).unwrap();
    let ids: Vec<(String, ContentId)> = std::fs::read_to_string(std::env::var("DIAG_IDS").unwrap())
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            (it.next().unwrap().to_string(), it.next().unwrap().parse().unwrap())
        })
        .collect();
    let mut dirs: Vec<(String, std::path::PathBuf)> =
        vec![("none".into(), std::path::Path::new(&root).join("marked"))];
    if let Ok(rd) = std::fs::read_dir(std::path::Path::new(&root).join("attacked")) {
        let mut v: Vec<_> = rd
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
            .collect();
        v.sort();
        dirs.extend(v);
    }
    (key, ids, dirs)
}

/// Raw bit errors of each candidate against `coded`, as a fraction.
fn ber_of(c: &Candidate, coded: &[f32]) -> f64 {
    c.soft.iter().zip(coded).filter(|(s, b)| s.signum() != b.signum()).count() as f64
        / coded.len() as f64
}

#[test]
#[ignore = "diagnostic: raw bit errors of the harness's attacked files (DIAG_ROOT, DIAG_IDS, DIAG_KEY)"]
fn diag_attacked() {
    let (key, ids, dirs) = harness_diag_inputs();
    let only = std::env::var("DIAG_ATTACKS").ok();
    let params = AudioParams::default();
    let det = AudioDetector::new(&key, params.clone());
    let nominal = detect::Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
    let (mut found_n, mut total) = (0, 0);
    for (attack, dir) in dirs {
        if only.as_ref().is_some_and(|o| !o.split(',').any(|a| a == attack)) {
            continue;
        }
        let mut found_a = 0;
        for (clip, id) in &ids {
            let path = dir.join(clip);
            if !path.exists() {
                continue;
            }
            let audio = decode_file(path.to_str().unwrap());
            let coded = det.codec.encode(*id);
            let r = det.detect(&audio).unwrap();
            let ok = r.id() == Some(*id);
            total += 1;
            if ok {
                found_n += 1;
                found_a += 1;
            }
            assert!(r.id().is_none() || ok, "false ID");
            let mut line = format!("{attack:16} {:38} {} att {:2}", clip, u8::from(ok), r.attempts);
            for weighted in [false, true] {
                let s = detect::Search { noise_weighted: weighted, ..det.search.clone() };
                let c = det.engine.candidates(&audio, &s, params.strength(), 12);
                let bers: Vec<f64> = c.iter().map(|c| ber_of(c, &coded)).collect();
                let (imin, bmin) = bers
                    .iter()
                    .copied()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((99, 1.0));
                let sn = detect::Search { noise_weighted: weighted, ..nominal.clone() };
                let cn = det.engine.candidates(&audio, &sn, params.strength(), 1);
                line += &format!(
                    " | {} top {:.3} ({:.3},{:.3}) sync {:4.1} min {:.3}@{} nom {:.3}",
                    if weighted { "W" } else { "P" },
                    bers.first().copied().unwrap_or(1.0),
                    c.first().map_or(0.0, |c| c.time_scale),
                    c.first().map_or(0.0, |c| c.freq_scale),
                    c.first().map_or(0.0, |c| c.sync),
                    bmin,
                    imin,
                    cn.first().map_or(1.0, |c| ber_of(c, &coded)),
                );
            }
            eprintln!("{line}");
        }
        eprintln!("== {attack}: {found_a}");
    }
    eprintln!("TOTAL {found_n}/{total}");
    panic!("diagnostic");
}

/// Lean diagnostic: detection and top-candidate raw bit errors per attacked file.
#[test]
#[ignore = "diagnostic on local harness files"]
fn diag_lean() {
    let (key, ids, dirs) = harness_diag_inputs();
    let only = std::env::var("DIAG_ATTACKS").ok();
    let params = AudioParams::default();
    let det = AudioDetector::new(&key, params.clone());
    let wsearch = det.weighted_search();
    let (mut found_n, mut total, mut ber_sum, mut wber_sum) = (0, 0, 0.0, 0.0);
    for (attack, dir) in dirs {
        if only.as_ref().is_some_and(|o| !o.split(',').any(|a| a == attack)) {
            continue;
        }
        let (mut found_a, mut bers) = (0, String::new());
        for (clip, id) in &ids {
            let path = dir.join(clip);
            if !path.exists() {
                continue;
            }
            let audio = decode_file(path.to_str().unwrap());
            let coded = det.codec.encode(*id);
            let r = det.detect(&audio).unwrap();
            assert!(r.id().is_none() || r.id() == Some(*id), "false ID");
            let ok = r.id() == Some(*id);
            let c = det.engine.candidates(&audio, &det.search, params.strength(), 1);
            let b = c.first().map_or(0.5, |c| ber_of(c, &coded));
            let cw = det.engine.candidates(&audio, &wsearch, params.strength(), 1);
            let bw = cw.first().map_or(0.5, |c| ber_of(c, &coded));
            ber_sum += b;
            wber_sum += bw;
            bers += &format!(" {}{:.3}/{:.3}", if ok { "+" } else { "-" }, b, bw);
            total += 1;
            found_a += usize::from(ok);
        }
        found_n += found_a;
        eprintln!("{attack:18} {found_a} {bers}");
    }
    eprintln!(
        "TOTAL {found_n}/{total} mean top BER plain {:.4} weighted {:.4}",
        ber_sum / f64::from(total),
        wber_sum / f64::from(total)
    );
}

/// Unmarked files (every file under `DIAG_FP_ROOT`, recursively): no ID, highest score.
#[test]
#[ignore = "diagnostic on local harness files"]
fn diag_fp() {
    let key = WatermarkKey::from_hex(&std::env::var("DIAG_KEY").unwrap()).unwrap();
    let det = AudioDetector::new(&key, AudioParams::default());
    let mut stack = vec![std::path::PathBuf::from(std::env::var("DIAG_FP_ROOT").unwrap())];
    let (mut n, mut max_score, mut max_att) = (0, 0.0f32, 0u32);
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if p.extension().is_some_and(|e| e == "wav") {
            let r = det.detect(&decode_file(p.to_str().unwrap())).unwrap();
            assert!(r.id().is_none(), "false ID on {}", p.display());
            n += 1;
            max_score = max_score.max(r.score);
            max_att = max_att.max(r.attempts);
        }
    }
    eprintln!("FP files {n}, no ID, max score {max_score:.2}, max attempts {max_att}");
}

#[test]
#[ignore = "diagnostic: the self-check's nominal margin against the full detector, per boost, \
            on DIAG_FILES (comma-separated; DIAG_CUT=seconds cuts excerpts), DIAG_KEYS keys"]
fn diag_selfcheck() {
    let files = std::env::var("DIAG_FILES").unwrap();
    let cut: f64 = std::env::var("DIAG_CUT").ok().and_then(|c| c.parse().ok()).unwrap_or(0.0);
    let keys: u8 = std::env::var("DIAG_KEYS").ok().and_then(|c| c.parse().ok()).unwrap_or(4);
    let params = AudioParams::default();
    for file in files.split(',') {
        let whole = decode_file(file);
        let n = usize::from(whole.channels());
        let mut clips = Vec::new();
        if cut > 0.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "diag")]
            let len = (cut * f64::from(whole.sample_rate())) as usize;
            let mut at = 0;
            while at + len <= whole.frames() {
                let s = whole.samples()[at * n..(at + len) * n].to_vec();
                clips.push(
                    AudioBuffer::new(s, whole.channels(), whole.sample_rate(), whole.format())
                        .unwrap(),
                );
                at += len;
            }
        } else {
            clips.push(whole);
        }
        for (ci, orig) in clips.iter().enumerate() {
            for k in 0..keys {
                // DIAG_KEY (hex) and DIAG_ID replace the generated key and ID.
                let key = std::env::var("DIAG_KEY").map_or_else(
                    |_| WatermarkKey::from_bytes([0x61 + k; 32]),
                    |h| WatermarkKey::from_hex(&h).unwrap(),
                );
                let emb = AudioEmbedder::new(&key, params.clone());
                let id = std::env::var("DIAG_ID").map_or_else(
                    |_| ContentId::from_u64(0x1234_5678_9abc_def0 ^ (u64::from(k) * 0x0101_0101)),
                    |h| h.parse().unwrap(),
                );
                let coded = emb.codec.encode(id);
                let host = emb.engine.analyze_host(orig);
                for boost in [0.0f32, 1.5, 3.0, 4.5, 6.0] {
                    let mut audio = orig.clone();
                    emb.engine.embed_planned(
                        &mut audio,
                        &host,
                        &coded,
                        params.strength_boosted(boost),
                    );
                    let stored = audio.stored_mono();
                    let search = Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
                    let c = emb.engine.candidates(&stored, &search, params.strength(), 1);
                    let (errs, sync, ok) = c.first().map_or((354, 0.0, false), |c| {
                        let d = emb.codec.decode(&c.soft);
                        (d.bit_errors, c.sync, d.verified() == Some(id))
                    });
                    let full = emb.decodes(&stored, id);
                    eprintln!(
                        "SC {file} clip {ci} key {k} boost {boost}: nominal errs {errs} ({:.1} %) \
                         sync {sync:.2} verified {ok} full {full}",
                        errs as f64 / 3.54
                    );
                }
            }
        }
    }
}

#[test]
fn resampled_folds_equal_direct_folds_bit_for_bit() {
    use layout::{BLOCK_SYMBOLS, HOPS_PER_SYMBOL, SUBBANDS};
    let mut seed = 11u32;
    let hops = 361;
    let d: Vec<f32> = (0..hops * SUBBANDS)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / 4_194_304.0 - 2.0
        })
        .collect();
    let (mut a, mut b) = (vec![0.0f32; BLOCK_SYMBOLS * SUBBANDS], vec![1.0f32; 1]);
    let mut virt = Vec::new();
    for ts in [0.965, 0.997, 1.0, 1.003, 1.035] {
        let at = detect::positions(hops, ts);
        detect::resample(&d, &at, &mut virt);
        for phase in 0..HOPS_PER_SYMBOL {
            detect::fold_at(&d, &at, phase, &mut a);
            b.resize(a.len(), 1.0);
            detect::fold_rows(&virt, phase, &mut b);
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "time scale {ts}, phase {phase}"
            );
        }
    }
}

mod fast_paths;
