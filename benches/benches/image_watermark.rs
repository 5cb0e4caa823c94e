//! Image watermark cost beside the unavoidable codec round trip, at about 1 MP and 12 MP.
//!
//! Inputs are generated, not committed: `testdata/images/rgb8-640x427-rocket.jpg` upscaled
//! (Catmull-Rom) to 1224x816 and 4240x2828, then JPEG-encoded at quality 90. Every case starts
//! from the JPEG bytes and ends with JPEG bytes at the input's estimated quality (what
//! `watermark embed in.jpg out.jpg` does):
//! - `roundtrip`: decode + encode, the floor any marking tool pays;
//! - `embed`: decode + embed + encode;
//! - `embed_only`: the embedder alone on decoded pixels;
//! - `detect`: decode + detect.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use provmark_core::codec::image::{decode, encode, ImageFormat};
use provmark_core::image::{ImageDetector, ImageEmbedder, ImageParams};
use provmark_core::{ContentId, WatermarkKey};

/// The allocator the `provmark` binary uses, so the bench measures what the CLI pays (with the
/// system allocator, fresh large buffers cost page faults and TLB shootdowns on every pass).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn input(w: u32, h: u32) -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/images/rgb8-640x427-rocket.jpg");
    let src = decode(&std::fs::read(path).expect("testdata image")).expect("decodes").pixels;
    let big = src.resize_exact(w, h, image::imageops::FilterType::CatmullRom);
    encode(&big, ImageFormat::Jpeg, Some(90)).expect("encodes")
}

fn bench(c: &mut Criterion) {
    let key = WatermarkKey::from_bytes([42; 32]);
    let params = ImageParams::default();
    let embedder = ImageEmbedder::new(&key, params);
    let detector = ImageDetector::new(&key, params);
    let id = ContentId::from_u64(0x0123_4567_89ab_cdef);
    for (name, w, h) in [("1MP", 1224u32, 816u32), ("12MP", 4240, 2828)] {
        let jpeg = input(w, h);
        let mut marked = decode(&jpeg).expect("decodes");
        embedder.embed(&mut marked.pixels, id).expect("embeds");
        let marked_jpeg =
            encode(&marked.pixels, ImageFormat::Jpeg, marked.jpeg_quality).expect("encodes");

        let mut g = c.benchmark_group("image_watermark");
        g.throughput(Throughput::Elements(u64::from(w) * u64::from(h)));
        g.sample_size(10).measurement_time(Duration::from_secs(if w > 2000 { 12 } else { 5 }));
        g.bench_function(BenchmarkId::new("roundtrip", name), |b| {
            b.iter(|| {
                let d = decode(&jpeg).expect("decodes");
                encode(&d.pixels, ImageFormat::Jpeg, d.jpeg_quality).expect("encodes")
            });
        });
        g.bench_function(BenchmarkId::new("embed", name), |b| {
            b.iter(|| {
                let mut d = decode(&jpeg).expect("decodes");
                embedder.embed(&mut d.pixels, id).expect("embeds");
                encode(&d.pixels, ImageFormat::Jpeg, d.jpeg_quality).expect("encodes")
            });
        });
        let decoded = decode(&jpeg).expect("decodes").pixels;
        g.bench_function(BenchmarkId::new("embed_only", name), |b| {
            b.iter_batched_ref(
                || decoded.clone(),
                |pixels| embedder.embed(pixels, id).expect("embeds"),
                BatchSize::LargeInput,
            );
        });
        g.bench_function(BenchmarkId::new("encode_plain", name), |b| {
            b.iter(|| encode(&decoded, ImageFormat::Jpeg, Some(90)).expect("encodes"));
        });
        g.bench_function(BenchmarkId::new("encode_marked", name), |b| {
            b.iter(|| encode(&marked.pixels, ImageFormat::Jpeg, Some(90)).expect("encodes"));
        });
        g.bench_function(BenchmarkId::new("detect", name), |b| {
            b.iter(|| {
                let d = decode(&marked_jpeg).expect("decodes");
                let r = detector.detect(&d.pixels).expect("detects");
                assert_eq!(r.id, Some(id));
            });
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
