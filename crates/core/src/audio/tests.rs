#![allow(clippy::unwrap_used, reason = "tests")]

use super::detect::Search;
use super::*;

fn load(path: &str) -> AudioBuffer {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let scale = 1.0 / (1u32 << (spec.bits_per_sample - 1)) as f32;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => r.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect(),
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
    };
    AudioBuffer::new(samples, spec.channels, spec.sample_rate, SampleFormat::Int(spec.bits_per_sample)).unwrap()
}

fn coded(n: usize) -> Vec<f32> {
    (0..n).map(|i| if (i * 7919 + 13) % 11 < 5 { 1.0 } else { -1.0 }).collect()
}

#[test]
fn embed_then_sync_and_soft_bits_agree() {
    let key = WatermarkKey::from_bytes([7; 32]);
    let engine = Engine::new(&key, 354);
    let mut audio = load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/audio/pcm16-16000-mono-26s-librivox.wav"));
    let orig = audio.clone();
    let bits = coded(354);
    engine.embed_coded(&mut audio, &bits, 0.05);
    let (mut s, mut n) = (0.0f64, 0.0f64);
    for (a, b) in orig.samples().iter().zip(audio.samples()) {
        s += f64::from(*a) * f64::from(*a);
        n += f64::from(a - b) * f64::from(a - b);
    }
    let snr = 10.0 * (s / n).log10();
    let search = Search::new(0.035, 0.003, 0.965, 1.075, 0.015);
    let c = engine.candidates(&audio, &search, 4);
    let errors = c[0].soft.iter().zip(&bits).filter(|(s, b)| s.signum() != b.signum()).count();
    let c0 = engine.candidates(&orig, &search, 1);
    panic!("snr {snr:.1} sync {} ts {} fs {} errors {errors}; unmarked sync {}", c[0].sync, c[0].time_scale, c[0].freq_scale, c0[0].sync);
}

#[test]
fn debug_identity() {
    let key = WatermarkKey::from_bytes([7; 32]);
    let engine = Engine::new(&key, 354);
    let mut audio = load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/audio/pcm16-16000-mono-26s-librivox.wav"));
    let bits = coded(354);
    engine.embed_coded(&mut audio, &bits, 0.05);
    let search = Search::new(0.0, 0.0, 1.0, 1.0, 0.0);
    let grid = Grid::new(audio.sample_rate());
    let plans = engine.plans.get(grid.frame);
    let mono = audio.mono();
    let total_hops = mono.len() / grid.hop;
    let seg = detect::analyze_segment(&grid, &plans, &engine.layout, &search, &mono, 0, total_hops);
    let c = engine.candidates(&audio, &search, 1);
    let errors = c[0].soft.iter().zip(&bits).filter(|(s, b)| s.signum() != b.signum()).count();
    panic!("grid {grid:?} fit {:?} errors {errors}", seg.fits[0][0]);
}

#[test]
fn debug_snr() {
    let key = WatermarkKey::from_bytes([7; 32]);
    let engine = Engine::new(&key, 354);
    for path in ["/../../testdata/audio/pcm16-16000-mono-26s-librivox.wav", "/../../testdata/audio/pcm16-44100-stereo-12s-drascula.wav"] {
    let orig = load(&format!("{}{}", env!("CARGO_MANIFEST_DIR"), path));
    let mut audio = orig.clone();
    let bits = coded(354);
    engine.embed_coded(&mut audio, &bits, 0.05);
    let grid = Grid::new(audio.sample_rate());
    let plans = engine.plans.get(grid.frame);
    let hops = audio.frames() / grid.hop;
    let sp_m = detect::Spectra::compute(&grid, &plans, &audio.mono(), 0, hops, grid.frame / 2 - 2);
    let sp_o = detect::Spectra::compute(&grid, &plans, &orig.mono(), 0, hops, grid.frame / 2 - 2);
    let dm = detect::features(&sp_m, &grid, 1.0);
    let d0 = detect::features(&sp_o, &grid, 1.0);
    for mode in 0..1 {
    let post = |d: &[f32]| -> Vec<f32> {
        let mut o = d.to_vec();
        for t in 0..hops { for k in 0..60 {
            let g = |tt: isize| -> f32 { if tt < 0 || tt as usize >= hops { d[t*60+k] } else { d[tt as usize*60+k] } };
            let ti = t as isize;
            o[t*60+k] = match mode {
                0 => d[t*60+k],
                1 => d[t*60+k] - 0.5*(g(ti-4)+g(ti+4)),
                2 => { let mut s=0.0; for w in -16..=16 { s+=g(ti+w);} d[t*60+k]-s/33.0 }
                _ => { let mut s=0.0; for w in -6..=6 { s+=g(ti+w);} d[t*60+k]-s/13.0 }
            };
        }}
        o
    };
    let dm = post(&dm); let d0 = post(&d0);
    let (mut sig, mut noise, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for t in 0..hops {
        let b = (t / 4) % 90;
        for k in 0..60 {
            let slot = b * 60 + k;
            let sign = match engine.layout.roles[slot] { layout::Role::Sync => 1.0, layout::Role::Data(c) => bits[usize::from(c)] };
            let m = engine.layout.chips[slot] * sign;
            sig += f64::from(m * dm[t * 60 + k]);
            noise += f64::from(d0[t * 60 + k]).powi(2);
            n += 1.0;
        }
    }
    eprintln!("{path} mode {mode}: mean signal per cell {:.4}, noise rms {:.4} ratio {:.4}", sig / n, (noise / n).sqrt(), sig/n/(noise/n).sqrt());
    }}
    panic!();
}
