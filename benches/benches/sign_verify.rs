//! Ed25519 signing and strict verification of a label-sized message.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use criterion::{criterion_group, criterion_main, Criterion};
use provmark_core::SigningKey;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[42; 32]);
    let message = br#""Label":"1","ContentProducer":"001191440300708461136T1XGW3","ProduceID":"0123456789abcdef""#;
    let sig = key.sign(message);
    let vk = key.verifying_key();
    c.bench_function("ed25519_sign_label", |b| b.iter(|| key.sign(message)));
    c.bench_function("ed25519_verify_strict_label", |b| {
        b.iter(|| vk.verify_strict(message, &sig).expect("valid signature"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
