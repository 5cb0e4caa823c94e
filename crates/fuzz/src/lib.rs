//! Fuzz targets for every parser of provmark's signed-metadata layer, and a small
//! mutation engine that drives them on the stable toolchain.
//!
//! Each target takes arbitrary bytes and must neither panic nor allocate without bound. The
//! same functions can be wrapped in `libfuzzer_sys::fuzz_target!` for coverage-guided runs
//! with cargo-fuzz on a nightly toolchain.

#![forbid(unsafe_code)]

use provmark_core::container::{self, xmp};
use provmark_core::manifest::{self, security, LabelRequest};
use provmark_core::{ContentId, ProducerCode, ProviderInfo, SigningKey};

/// A target: a name, and a function that returns a short fingerprint of what it observed
/// (used as cheap feedback: an input with a new fingerprint joins the corpus).
pub struct Target {
    /// Name (also the corpus folder under `crates/fuzz/corpus/`).
    pub name: &'static str,
    /// The function under test.
    pub run: fn(&[u8]) -> String,
}

/// All targets.
pub const TARGETS: [Target; 6] = [
    Target { name: "reader", run: reader_target },
    Target { name: "stream", run: stream_target },
    Target { name: "audio", run: audio_target },
    Target { name: "container", run: container_target },
    Target { name: "xmp", run: xmp_target },
    Target { name: "label", run: label_target },
];

fn provider() -> (SigningKey, ProviderInfo) {
    let key = SigningKey::from_seed(&[5; 32]);
    let vk = key.verifying_key();
    let info = ProviderInfo {
        name: "fuzz".into(),
        producer_code: "001191440300708461136T1XGW3"
            .parse::<ProducerCode>()
            .unwrap_or_else(|_| unreachable!()),
        public_key: hex::encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    (key, info)
}

/// Stamps a file as the fuzz provider (used to make seeds).
///
/// # Errors
/// Whatever `write_label` returns.
pub fn stamp(bytes: &[u8]) -> provmark_core::Result<Vec<u8>> {
    let (key, info) = provider();
    let req = LabelRequest::new(ContentId::from_u64(7), "2026-11-28T00:00:00Z").with_model("fuzz");
    container::write_label(bytes, &req, &key, &info)
}

/// Container reader, media hash and verifier only (no signing: many more executions per
/// second than [`container_target`]).
pub fn reader_target(data: &[u8]) -> String {
    let report = container::read_metadata(data);
    let hash = container::media_hash(data);
    let ring = provmark_core::Keyring { providers: vec![provider().1] };
    let v = manifest::verify(&report, hash.as_ref().ok(), &ring);
    format!(
        "{:?}|{}|{}|{}|{}|{:?}|{:?}",
        report.format,
        report.labels.len(),
        report.problems.len(),
        report.c2pa.len(),
        hash.is_ok(),
        v.label.status,
        v.producer.map(|p| p.signature)
    )
}

/// The streamed WAV/FLAC container paths against the in-memory ones (differential): whatever
/// the streamed reader, hash or label writer accepts, the in-memory one must accept with the
/// same labels, the same hash and the same output bytes.
pub fn stream_target(data: &[u8]) -> String {
    use std::io::Cursor;
    let hash = container::media_hash_stream(&mut Cursor::new(data));
    if let Ok(h) = &hash {
        let whole = container::media_hash(data).unwrap_or_else(|e| panic!("streamed only: {e}"));
        assert_eq!(*h, whole, "streamed media hash differs");
    }
    let report = container::read_metadata_stream(&mut Cursor::new(data));
    if let Ok(r) = &report {
        let whole = container::read_metadata(data);
        let texts = |m: &manifest::MetadataReport| {
            m.labels.iter().map(|l| l.text.clone()).collect::<Vec<_>>()
        };
        assert_eq!(texts(r), texts(&whole), "streamed labels differ");
        assert_eq!(r.provenance, whole.provenance, "streamed provenance differs");
    }
    let (key, info) = provider();
    let req = LabelRequest::new(ContentId::from_u64(7), "2026-11-28T00:00:00Z").with_model("fuzz");
    let mut out = Vec::new();
    let written =
        container::write_label_stream(&mut Cursor::new(data), &mut out, &req, &key, &info);
    if let Ok((n, h)) = &written {
        let (whole, wh) = container::write_label_hashed(data, &req, &key, &info)
            .unwrap_or_else(|e| panic!("streamed writer only: {e}"));
        assert!(out == whole, "streamed label writer output differs");
        assert_eq!((*n, *h), (out.len() as u64, wh), "streamed writer's count or hash");
    }
    format!(
        "{}|{}|{}",
        hash.is_ok(),
        report.map_or(usize::MAX, |r| r.labels.len()),
        written.is_ok()
    )
}

/// Audio decoders (the direct WAV reader and symphonia) on arbitrary bytes, with small
/// limits: an error is fine, a panic or a malformed buffer is not; what decodes must encode
/// and decode back to the same shape.
pub fn audio_target(data: &[u8]) -> String {
    use provmark_core::audio_codec::{self, DecodeLimits};
    let mut limits = DecodeLimits::with_max_seconds(30.0);
    limits.max_samples = 1 << 20;
    match audio_codec::decode(data, &limits) {
        Ok(a) => {
            let n = usize::from(a.channels());
            assert!(n > 0 && a.samples().len() % n == 0, "ragged buffer");
            assert!(a.samples().iter().all(|s| s.is_finite()), "non-finite sample");
            let wav = audio_codec::encode_wav(&a).unwrap_or_else(|e| panic!("encode: {e}"));
            let back = audio_codec::decode(&wav, &limits).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (back.channels(), back.sample_rate(), back.frames()),
                (a.channels(), a.sample_rate(), a.frames()),
                "WAV round trip changed the shape"
            );
            format!("ok|{}|{}|{}", a.channels(), a.sample_rate(), a.frames())
        }
        Err(e) => format!("err|{}", e.to_string().len()),
    }
}

/// Container reader, media hash, verifier, writer and propagator on arbitrary bytes.
pub fn container_target(data: &[u8]) -> String {
    let report = container::read_metadata(data);
    let hash = container::media_hash(data);
    let ring = provmark_core::Keyring { providers: vec![provider().1] };
    let v = manifest::verify(&report, hash.as_ref().ok(), &ring);
    let written = stamp(data);
    if let Ok(out) = &written {
        // What we wrote must read back as exactly one label (write_label checks it too).
        assert_eq!(container::read_metadata(out).labels.len(), 1, "written file lost its label");
        let (key, info) = provider();
        let _ = container::propagate(out, &info, "P1", None, &key);
    }
    format!(
        "{:?}|{}|{}|{}|{}|{:?}|{}",
        report.format,
        report.labels.len(),
        report.problems.len(),
        report.c2pa.len(),
        hash.is_ok(),
        v.label.status,
        written.is_ok()
    )
}

/// XMP scanner, merger and stripper on arbitrary text.
pub fn xmp_target(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let found = xmp::scan(&text);
    let props = xmp::XmpProps {
        label_json: Some("{\"Label\":\"1\"}"),
        digital_source_type: None,
        provenance: None,
    };
    let merged = xmp::merge(Some(&text), &props);
    if let Ok(m) = &merged {
        let again = xmp::scan(m).map(|f| f.labels.len());
        assert_eq!(again.ok(), Some(1), "merged packet must hold exactly one label");
    }
    let _ = xmp::strip(&text);
    format!(
        "{}|{}",
        found.map(|f| f.labels.len() * 10 + f.digital_source_types.len()).unwrap_or(99),
        merged.is_ok()
    )
}

/// Label and SecurityData parsers on arbitrary text.
pub fn label_target(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let label = manifest::parse_label(&text);
    let issues = label.as_ref().map(|p| p.label.check().len() + p.issues.len());
    if let Ok(p) = &label {
        // Re-encoding and parsing again is lossless.
        let again = manifest::parse_label(&p.label.to_json()).map(|q| q.label);
        assert_eq!(again.as_ref().ok(), Some(&p.label), "label JSON round trip");
    }
    let sd = security::parse(&text);
    format!("{:?}|{}", issues.ok(), sd.is_ok())
}
