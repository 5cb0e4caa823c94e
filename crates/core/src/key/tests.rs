use super::*;

#[test]
fn debug_never_shows_secret_bytes() {
    let wm = WatermarkKey::from_bytes([0xAB; 32]);
    let dbg = format!("{wm:?}");
    assert!(!dbg.contains("abab"), "watermark key leaked in Debug: {dbg}");
    assert!(!dbg.contains("171"), "watermark key leaked in Debug: {dbg}");

    let sk = SigningKey::from_seed(&[0xCD; 32]);
    let dbg = format!("{sk:?}");
    assert!(!dbg.to_lowercase().contains("cdcd"), "signing key leaked in Debug: {dbg}");
    assert!(dbg.contains(&sk.key_id().to_string()));
}

#[test]
fn rfc8032_test_vector_1_signs_and_verifies() {
    // RFC 8032 section 7.1, TEST 1 (empty message).
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let sk = SigningKey::from_seed(&seed);
    assert_eq!(
        hex::encode(sk.verifying_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let sig = sk.sign(b"");
    assert_eq!(
        hex::encode(sig),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    sk.verifying_key().verify_strict(b"", &sig).unwrap();
    assert!(sk.verifying_key().verify_strict(b"x", &sig).is_err());
}

#[test]
fn pkcs8_pem_round_trips() {
    let sk = SigningKey::generate().unwrap();
    let pem = sk.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.verifying_key(), sk.verifying_key());
    assert!(SigningKey::from_pkcs8_pem(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    .is_err());
}

#[test]
fn watermark_key_hex_round_trips_and_rejects_garbage() {
    let k = WatermarkKey::generate().unwrap();
    assert_eq!(WatermarkKey::from_hex(&k.to_hex()).unwrap(), k);
    assert!(WatermarkKey::from_hex("00").is_err());
    assert!(WatermarkKey::from_hex(&"zz".repeat(32)).is_err());
}

#[test]
fn key_id_is_stable_and_parses() {
    let sk = SigningKey::from_seed(&[7; 32]);
    let id = sk.key_id();
    assert_eq!(id.to_string().len(), 16);
    assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
    assert_ne!(SigningKey::from_seed(&[8; 32]).key_id(), id);
}
