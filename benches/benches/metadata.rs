//! Signed metadata per format: write (hash + 3 signatures + container rewrite + read-back),
//! read + verify, and the media hash alone; a plain copy of the file is the floor.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use provmark_core::container::{media_hash, read_metadata, write_label};
use provmark_core::manifest::{verify, LabelRequest};
use provmark_core::{ContentId, Keyring, ProducerCode, ProviderInfo, SigningKey};

/// (case name, file under `testdata/`).
const BENCH_DEFS: [(&str, &str); 6] = [
    ("png_451x300", "images/rgb8-451x300-chelsea.png"),
    ("jpeg_640x427", "images/rgb8-640x427-rocket.jpg"),
    ("webp_512x512", "images/rgb8-512x512-astronaut.webp"),
    ("wav_26s_16k", "audio/pcm16-16000-mono-26s-librivox.wav"),
    ("mp3_3s", "audio/mp3-16000-mono-3s-librivox.mp3"),
    ("flac_3s", "audio/flac16-16000-mono-3s-librivox.flac"),
];

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[42; 32]);
    let vk = key.verifying_key();
    let info = ProviderInfo {
        name: "bench".into(),
        producer_code: "001191440300708461136T1XGW3".parse::<ProducerCode>().expect("valid code"),
        public_key: hex_encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    let ring = Keyring { providers: vec![info.clone()] };
    let req = LabelRequest::new(ContentId::from_u64(1), "2026-11-28T12:00:00Z").with_model("bench");
    let mut group = c.benchmark_group("metadata");
    group.sample_size(20);
    for (name, file) in BENCH_DEFS {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/").to_owned() + file;
        let input = std::fs::read(&path).expect("testdata file");
        let stamped = write_label(&input, &req, &key, &info).expect("write");
        group
            .bench_with_input(BenchmarkId::new("copy", name), &input, |b, i| b.iter(|| i.to_vec()));
        group.bench_with_input(BenchmarkId::new("media_hash", name), &input, |b, i| {
            b.iter(|| media_hash(i).expect("hash"))
        });
        group.bench_with_input(BenchmarkId::new("write_label", name), &input, |b, i| {
            b.iter(|| write_label(i, &req, &key, &info).expect("write"))
        });
        group.bench_with_input(BenchmarkId::new("read_verify", name), &stamped, |b, s| {
            b.iter(|| verify(&read_metadata(s), Some(&media_hash(s).expect("hash")), &ring))
        });
    }
    group.finish();
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
