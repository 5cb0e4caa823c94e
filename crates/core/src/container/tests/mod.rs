use super::*;
use crate::manifest::{verify, BindingStatus, LabelStatus, ProvenanceStatus, SignatureStatus};
use crate::{ContentId, Keyring, ProducerCode, SigningKey};

pub(crate) const FILES: [&str; 7] = [
    "images/rgb8-451x300-chelsea.png",
    "images/gray8-512x512-camera.png",
    "images/rgb8-640x427-rocket.jpg",
    "images/rgb8-512x512-astronaut.webp",
    "audio/pcm16-16000-mono-26s-librivox.wav",
    "audio/mp3-16000-mono-3s-librivox.mp3",
    "audio/flac16-16000-mono-3s-librivox.flac",
];

pub(crate) fn testdata(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) struct Party {
    pub key: SigningKey,
    pub info: ProviderInfo,
}

pub(crate) fn party(seed: u8, code: &str) -> Party {
    let key = SigningKey::from_seed(&[seed; 32]);
    let vk = key.verifying_key();
    let info = ProviderInfo {
        name: format!("provider {seed}"),
        producer_code: code.parse::<ProducerCode>().unwrap(),
        public_key: hex::encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    Party { key, info }
}

pub(crate) fn producer() -> Party {
    party(7, "001191440300708461136T1XGW3")
}

pub(crate) fn request() -> LabelRequest {
    LabelRequest::new(ContentId::from_u64(0x0123_4567_89ab_cdef), "2026-11-28T12:00:00Z")
        .with_model("test-model-1")
        .with_watermark("provmark-ss", "1")
        .with_ledger_origin("sqlite:ledger.db")
}

pub(crate) fn stamp(bytes: &[u8]) -> Vec<u8> {
    let p = producer();
    write_label(bytes, &request(), &p.key, &p.info).unwrap()
}

fn keyring(parties: &[&Party]) -> Keyring {
    Keyring { providers: parties.iter().map(|p| p.info.clone()).collect() }
}

/// Flips one byte in the middle of the bound media bytes (found by trying offsets).
fn flip_media_byte(bytes: &[u8]) -> Vec<u8> {
    let original = media_hash(bytes).unwrap();
    let mut at = bytes.len() / 2;
    loop {
        let mut m = bytes.to_vec();
        m[at] ^= 0x01;
        if media_hash(&m).is_ok_and(|h| h != original) && read_metadata(&m).labels.len() == 1 {
            return m;
        }
        at += 1;
    }
}

#[test]
fn write_then_read_is_compliant_and_authentic_in_every_format() {
    let p = producer();
    for name in FILES {
        let input = testdata(name);
        let out = stamp(&input);
        assert_eq!(media_hash(&out).unwrap(), media_hash(&input).unwrap(), "{name}");
        let report = read_metadata(&out);
        assert_eq!(report.labels.len(), 1, "{name}: {report:?}");
        let v = verify(&report, Some(&media_hash(&out).unwrap()), &keyring(&[&p]));
        assert_eq!(v.label.status, LabelStatus::Compliant, "{name}: {:?}", v.label.reasons);
        assert!(v.is_authentic(), "{name}: {v:?}");
        assert!(v.digital_source_type, "{name}");
        let evidence = v.label_evidence().unwrap();
        assert_eq!(evidence.produce_id, Some(ContentId::from_u64(0x0123_4567_89ab_cdef)));
        assert_eq!((evidence.signature_ok, evidence.binding_ok), (Some(true), Some(true)));
        let label = &report.labels[0].parsed.as_ref().unwrap().label;
        assert_eq!(label.produce_id, "0123456789abcdef");
        assert_eq!(label.content_propagator, label.content_producer);
        assert_eq!(label.propagate_id, label.produce_id);
    }
}

#[test]
fn one_byte_media_change_is_a_binding_mismatch() {
    let p = producer();
    for name in FILES {
        let out = stamp(&testdata(name));
        let bad = flip_media_byte(&out);
        let v = verify(&read_metadata(&bad), Some(&media_hash(&bad).unwrap()), &keyring(&[&p]));
        let producer = v.producer.clone().unwrap();
        assert_eq!(producer.signature, SignatureStatus::Valid, "{name}");
        assert_eq!(producer.binding, BindingStatus::Mismatch, "{name}");
        assert!(v.binding_mismatch() && !v.is_authentic(), "{name}");
        let evidence = v.label_evidence().unwrap();
        assert_eq!((evidence.signature_ok, evidence.binding_ok), (Some(true), Some(false)));
        assert!(matches!(v.provenance, ProvenanceStatus::Invalid(_)), "{name}");
    }
}

#[test]
fn writing_twice_keeps_exactly_one_label() {
    let p = producer();
    for name in FILES {
        let once = stamp(&testdata(name));
        let req = request().with_model("second");
        let twice = write_label(&once, &req, &p.key, &p.info).unwrap();
        let report = read_metadata(&twice);
        assert_eq!(report.labels.len(), 1, "{name}");
        assert_eq!(report.provenance.len(), 1, "{name}");
        assert_eq!(report.provenance[0].get("Model"), "second", "{name}");
        assert_eq!(report.digital_source_types.len(), 1, "{name}");
    }
}

#[test]
fn a_tampered_label_field_fails_the_signature() {
    let p = producer();
    let out = stamp(&testdata(FILES[0]));
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.contains("0123456789abcdef"));
    // Change ProduceID (and so the XMP text) without re-signing.
    let tampered: Vec<u8> = out
        .windows(16)
        .position(|w| w == b"0123456789abcdef")
        .map(|at| {
            let mut m = out.clone();
            m[at] = b'f';
            m
        })
        .unwrap();
    let v =
        verify(&read_metadata(&tampered), Some(&media_hash(&tampered).unwrap()), &keyring(&[&p]));
    assert_eq!(v.producer.unwrap().signature, SignatureStatus::Invalid);
}

#[test]
fn unknown_key_is_reported_not_trusted() {
    let out = stamp(&testdata(FILES[2]));
    let stranger = party(9, "001191110102MACQD9K64010000");
    let v = verify(&read_metadata(&out), Some(&media_hash(&out).unwrap()), &keyring(&[&stranger]));
    let producer = v.producer.clone().unwrap();
    assert_eq!(producer.signature, SignatureStatus::Valid);
    assert_eq!(producer.key, crate::manifest::KeyStatus::Unknown);
    assert_eq!(v.provenance, ProvenanceStatus::UnknownKey);
    assert!(!v.is_authentic());
}

#[test]
fn a_signer_that_does_not_match_the_provider_is_rejected() {
    let p = producer();
    let other = SigningKey::from_seed(&[1; 32]);
    let err = write_label(&testdata(FILES[0]), &request(), &other, &p.info).unwrap_err();
    assert!(matches!(err, Error::Params { .. }), "{err}");
}

#[test]
fn propagation_sets_the_platform_fields_and_keeps_the_producer_valid() {
    let p = producer();
    let platform = party(8, "001191110102MACQD9K64028705");
    for name in FILES {
        let out = stamp(&testdata(name));
        let up =
            propagate(&out, &platform.info, "PLAT-42", Some(LabelValue::Possibly), &platform.key)
                .unwrap();
        let report = read_metadata(&up);
        assert_eq!(report.labels.len(), 1, "{name}");
        let label = &report.labels[0].parsed.as_ref().unwrap().label;
        assert_eq!(label.label, "2");
        assert_eq!(label.content_producer, "001191440300708461136T1XGW3");
        assert_eq!(label.content_propagator, "001191110102MACQD9K64028705");
        assert_eq!(label.propagate_id, "PLAT-42");
        let v = verify(&report, Some(&media_hash(&up).unwrap()), &keyring(&[&p, &platform]));
        assert!(v.producer.as_ref().unwrap().is_good(), "{name}: {v:?}");
        assert!(v.propagator.as_ref().unwrap().is_good(), "{name}: {v:?}");
        assert!(v.is_authentic(), "{name}: {v:?}");
    }
}

#[test]
fn unlabelled_files_are_not_found() {
    for name in FILES {
        let report = read_metadata(&testdata(name));
        assert!(report.labels.is_empty(), "{name}");
        assert_eq!(
            crate::manifest::label_status(&report).status,
            LabelStatus::NotFound,
            "{name}: {report:?}"
        );
    }
}

#[test]
fn garbage_is_not_a_format() {
    assert!(media_hash(b"hello").is_err());
    assert_eq!(read_metadata(b"hello").problems, vec!["unknown format".to_owned()]);
    let err = write_label(b"hello", &request(), &producer().key, &producer().info).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
}

#[test]
fn crc32_matches_the_png_check_value() {
    // The CRC-32 check value of "123456789" (ISO-HDLC).
    assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
}

mod foreign;
mod manifest_ns;
mod metadata_only;
mod stream;

#[test]
fn changing_label_without_a_propagator_signature_is_invalid() {
    let p = producer();
    let out = stamp(&testdata(FILES[4]));
    let at = out.windows(11).position(|w| w == br#"{"Label":"1"#).unwrap();
    let mut m = out.clone();
    m[at + 10] = b'2';
    let v = verify(&read_metadata(&m), Some(&media_hash(&m).unwrap()), &keyring(&[&p]));
    assert_eq!(v.producer.unwrap().signature, SignatureStatus::Invalid);
}
