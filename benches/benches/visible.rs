//! Visible identifiers and fingerprints: label a 12-megapixel picture, add the audio cue to 30 s
//! of stereo, fingerprint both; a full-image copy is the baseline for the label.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use image::{DynamicImage, RgbImage};
use provmark_core::fingerprint::{audio_fingerprint, image_fingerprint};
use provmark_core::visible::{apply_audio_cue, apply_image_label, Backing, CueStyle, LabelStyle};

fn picture() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }))
}

fn bench(c: &mut Criterion) {
    let img = picture();
    let plate = LabelStyle::default();
    let outline = LabelStyle::builder().backing(Backing::Outline).build().expect("valid style");
    c.bench_function("copy_rgb8_4000x3000 (baseline)", |b| b.iter(|| img.clone()));
    c.bench_function("label_plate_rgb8_4000x3000", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |i| apply_image_label(i, &plate).expect("fits"),
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("label_outline_rgb8_4000x3000", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |i| apply_image_label(i, &outline).expect("fits"),
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("image_fingerprint_rgb8_4000x3000", |b| {
        b.iter(|| image_fingerprint(&img).expect("non-empty"))
    });

    let rate = 44_100u32;
    let audio: Vec<f32> =
        (0..30 * rate as usize * 2).map(|i| ((i as f32) * 0.013).sin() * 0.3).collect();
    let cue = CueStyle::default();
    c.bench_function("audio_cue_start_30s_stereo_44k", |b| {
        b.iter_batched_ref(
            || audio.clone(),
            |s| apply_audio_cue(s, rate, 2, &cue).expect("valid host"),
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("audio_fingerprint_30s_stereo_44k", |b| {
        b.iter(|| audio_fingerprint(&audio, rate, 2).expect("long enough"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
