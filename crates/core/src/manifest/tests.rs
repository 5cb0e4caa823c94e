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
