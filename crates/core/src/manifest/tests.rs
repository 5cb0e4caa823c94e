use super::*;
use crate::{ProducerCode, SigningKey};

fn provider(key: &SigningKey) -> ProviderInfo {
    let vk = key.verifying_key();
    ProviderInfo {
        name: "p".into(),
        producer_code: "001191440300708461136T1XGW3".parse::<ProducerCode>().unwrap(),
        public_key: hex::encode(vk.as_bytes()),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    }
}

#[test]
fn security_data_signature_is_over_the_a1_message() {
    let key = SigningKey::from_seed(&[3; 32]);
    let req = LabelRequest::new(ContentId::from_u64(42), "2026-11-28T00:00:00Z");
    let signed = sign_label(&req, &provider(&key), &key, "png", &[9; 32]).unwrap();
    let sd = security::parse(&signed.label.reserved_code1).unwrap();
    assert_eq!(sd.sig_alg, security::ED25519_OID);
    let sig: [u8; 64] = sd.signature.unwrap().try_into().unwrap();
    let msg = r#""Label":"1","ContentProducer":"001191440300708461136T1XGW3","ProduceID":"000000000000002a""#;
    key.verifying_key().verify_strict(msg.as_bytes(), &sig).unwrap();
    assert_eq!(sd.public_key.unwrap(), key.verifying_key().as_bytes());
    assert_eq!(sd.binding.unwrap().hash, vec![9; 32]);
    // The whole label, SecurityData included, stays in the Annex E character set.
    assert!(signed.label.check().is_empty(), "{:?}", signed.label.check());
}

#[test]
fn canonical_bytes_are_stable_and_cover_every_field() {
    let key = SigningKey::from_seed(&[3; 32]);
    let req = LabelRequest::new(ContentId::from_u64(42), "2026-11-28T00:00:00Z").with_model("m");
    let a = sign_label(&req, &provider(&key), &key, "png", &[9; 32]).unwrap().provenance;
    let bytes = a.canonical_bytes().unwrap();
    assert!(bytes.starts_with(provenance::DOMAIN));
    for (i, name) in provenance::FIELDS.iter().enumerate() {
        let mut b = a.clone();
        b.fields[i].push('x');
        assert_ne!(b.canonical_bytes().unwrap(), bytes, "{name}");
    }
    // Moving a byte between adjacent fields changes the encoding (length prefixes).
    let mut c = a.clone();
    c.fields[3] = "".into();
    c.fields[4] = format!("m{}", a.fields[4]);
    assert_ne!(c.canonical_bytes().unwrap(), bytes);
}

#[test]
fn invalid_requests_are_rejected() {
    let key = SigningKey::from_seed(&[3; 32]);
    let bad = LabelRequest::new(ContentId::from_u64(1), "");
    assert!(sign_label(&bad, &provider(&key), &key, "png", &[0; 32]).is_err());
    let bad = LabelRequest::new(ContentId::from_u64(1), "t").with_model("模型");
    assert!(sign_label(&bad, &provider(&key), &key, "png", &[0; 32]).is_err());
    let label = AigcLabel::default();
    assert!(propagate_label(&label, &provider(&key), "has space", None, &key, &[0; 32]).is_err());
}

#[test]
fn a_manifest_without_a_visible_identifier_signs_exactly_the_twelve_original_fields() {
    // Manifests written before the visible-identifier fields existed must still verify, so
    // the empty optional fields add nothing to the signed bytes.
    let key = SigningKey::from_seed(&[3; 32]);
    let req = LabelRequest::new(ContentId::from_u64(42), "2026-11-28T00:00:00Z").with_model("m");
    let a = sign_label(&req, &provider(&key), &key, "png", &[9; 32]).unwrap().provenance;
    let mut old = provenance::DOMAIN.to_vec();
    for (name, value) in provenance::FIELDS.iter().zip(&a.fields).take(provenance::REQUIRED_FIELDS)
    {
        old.extend_from_slice(name.as_bytes());
        old.push(0);
        old.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        old.extend_from_slice(value.as_bytes());
    }
    assert_eq!(a.canonical_bytes().unwrap(), old);
    assert_eq!(a.properties().len(), provenance::REQUIRED_FIELDS + 1);
    assert_eq!(a.visible(), None);

    let claim = VisibleClaim {
        kind: "audio-cue".into(),
        text: "rhythm ·− ··".into(),
        position: "start frames 0+8000".into(),
    };
    let b = sign_label(
        &req.clone().with_visible(claim.clone()),
        &provider(&key),
        &key,
        "wav",
        &[9; 32],
    )
    .unwrap()
    .provenance;
    assert_eq!(b.visible(), Some(claim));
    assert!(b.canonical_bytes().unwrap().len() > old.len());
    assert_eq!(b.properties().len(), provenance::FIELDS.len() + 1);
    // A control character in the text is refused.
    let bad = req.with_visible(VisibleClaim {
        kind: "x".into(),
        text: "a\nb".into(),
        position: String::new(),
    });
    assert!(sign_label(&bad, &provider(&key), &key, "png", &[0; 32]).is_err());
}
