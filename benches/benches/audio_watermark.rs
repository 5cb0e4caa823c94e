//! Audio watermark: embed and detect per second of audio, beside the decode + encode round trip
//! that any stamping pipeline pays anyway (WAV in, WAV out).
//!
//! Throughput is reported in sample frames per second; divide by the clip's sample rate for
//! "× real time" (the bench id names the rate). Inputs are the committed clips in
//! `testdata/audio/`.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use provmark_core::audio::{AudioDetector, AudioEmbedder, AudioParams};
use provmark_core::audio_codec::{self, DecodeLimits};
use provmark_core::{ContentId, WatermarkKey};

/// The allocator the `provmark` binary uses, so the bench measures what the CLI pays (with the
/// system allocator, fresh large buffers cost page faults and TLB shootdowns on every pass).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIPS: [&str; 2] =
    ["pcm16-44100-stereo-12s-drascula.wav", "pcm16-16000-mono-26s-librivox.wav"];

fn bench(c: &mut Criterion) {
    let key = WatermarkKey::from_bytes([42; 32]);
    let embedder = AudioEmbedder::new(&key, AudioParams::default());
    let detector = AudioDetector::new(&key, AudioParams::default());
    let id = ContentId::from_u64(0x0123_4567_89ab_cdef);
    let mut group = c.benchmark_group("audio");
    group.sample_size(10);
    for clip in CLIPS {
        let path = format!("{}/../testdata/audio/{clip}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("test clip");
        let audio = audio_codec::decode(&bytes, &DecodeLimits::default()).expect("decodable clip");
        let mut marked = audio.clone();
        embedder.embed(&mut marked, id).expect("embed");
        group.throughput(Throughput::Elements(audio.frames() as u64));
        group.bench_function(format!("decode_encode_wav/{clip}"), |b| {
            b.iter(|| {
                let a = audio_codec::decode(&bytes, &DecodeLimits::default()).expect("decode");
                audio_codec::encode_wav(&a).expect("encode")
            });
        });
        group.bench_function(format!("embed/{clip}"), |b| {
            b.iter(|| {
                let mut a = audio.clone();
                embedder.embed(&mut a, id).expect("embed");
                a
            });
        });
        group.bench_function(format!("detect/{clip}"), |b| {
            b.iter(|| detector.detect(&marked).expect("detect"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
