use proptest::prelude::*;

use super::*;

pub(crate) fn sample(id: u64) -> Record {
    Record {
        content_id: ContentId::from_u64(id),
        kind: MediaKind::Image,
        producer_code: "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse().unwrap(),
        key_id: "0123456789abcdef".parse().unwrap(),
        model: "模型-x".into(),
        created_unix: 1_760_000_000,
        media_sha256: [0x11; 32],
        fingerprint: Some(Fingerprint([0x22; 32])),
        watermark_algorithm: "provmark-ss".into(),
        watermark_version: 3,
        visible_label: LabelFlags::IMAGE_TEXT,
        batch_id: 77,
    }
}

#[test]
fn encode_then_decode_is_identity() {
    let r = sample(5);
    let bytes = r.encode().unwrap();
    assert_eq!(Record::decode(&bytes).unwrap(), r);
    let none = Record { fingerprint: None, kind: MediaKind::Audio, ..r };
    assert_eq!(Record::decode(&none.encode().unwrap()).unwrap(), none);
}

#[test]
fn known_answer_encoding() {
    // Pins the v1 layout (module docs): changing it changes every leaf hash.
    let bytes = sample(0x0102_0304_0506_0708).encode().unwrap();
    assert_eq!(bytes.len(), FIXED_LEN + 1 + 11 + 2 + "模型-x".len());
    assert_eq!(&bytes[..10], &[1, 1, 2, 3, 4, 5, 6, 7, 8, 1]);
    assert_eq!(&bytes[10..18], &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    assert_eq!(bytes[OFF_FINGERPRINT_FLAG], 1);
    assert_eq!(&bytes[102..129], b"00DEVABCDEFGHIJKLMNOPQ1DEV0");
    assert_eq!(
        hex::encode(crate::merkle::leaf_hash(&bytes)),
        hex::encode(crate::merkle::leaf_hash(&sample(0x0102_0304_0506_0708).encode().unwrap()))
    );
    let (id, sha, fp) = indexed_fields(&bytes).unwrap();
    assert_eq!(id, 0x0102_0304_0506_0708);
    assert_eq!(sha, [0x11; 32]);
    assert_eq!(fp, Some([0x22; 32]));
}

#[test]
fn non_canonical_bytes_are_rejected() {
    let good = sample(1).encode().unwrap();
    let mut v = good.clone();
    v[0] = 2; // unknown version
    assert!(Record::decode(&v).is_err());
    let mut v = good.clone();
    v[9] = 3; // unknown kind
    assert!(Record::decode(&v).is_err());
    let mut v = good.clone();
    v.push(0); // trailing byte
    assert!(Record::decode(&v).is_err());
    let mut v = good.clone();
    v[OFF_FINGERPRINT_FLAG] = 2;
    assert!(Record::decode(&v).is_err());
    let mut v = Record { fingerprint: None, ..sample(1) }.encode().unwrap();
    v[OFF_FINGERPRINT_FLAG + 5] = 1; // absent fingerprint must be zero
    assert!(Record::decode(&v).is_err());
    let mut v = good.clone();
    v[101] = 0x80; // unknown label flag
    assert!(Record::decode(&v).is_err());
    let mut v = good.clone();
    v[102] = b'a'; // lower-case producer code
    assert!(Record::decode(&v).is_err());
    for cut in 0..good.len() {
        assert!(Record::decode(&good[..cut]).is_err(), "truncated at {cut}");
    }
}

#[test]
fn invalid_fields_are_refused_when_encoding() {
    assert!(Record { watermark_algorithm: String::new(), ..sample(1) }.encode().is_err());
    assert!(Record { watermark_algorithm: "a b".into(), ..sample(1) }.encode().is_err());
    assert!(Record { model: "m".repeat(MAX_MODEL_LEN + 1), ..sample(1) }.encode().is_err());
    assert!(Record { model: "m".repeat(MAX_MODEL_LEN), ..sample(1) }.encode().is_ok());
}

#[test]
fn fingerprint_distance_counts_bits() {
    let a = Fingerprint([0; 32]);
    let mut b = [0u8; 32];
    b[0] = 0xff;
    b[31] = 1;
    assert_eq!(a.distance(&Fingerprint(b)), 9);
    assert_eq!(a.distance(&a), 0);
}

proptest! {
    #[test]
    fn decode_never_panics_and_round_trips_what_it_accepts(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(r) = Record::decode(&bytes) {
            prop_assert_eq!(r.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn mutated_records_never_panic(pos in 0usize..200, val in any::<u8>()) {
        let mut bytes = sample(9).encode().unwrap();
        let p = pos % bytes.len();
        bytes[p] = val;
        if let Ok(r) = Record::decode(&bytes) {
            prop_assert_eq!(r.encode().unwrap(), bytes);
        }
    }
}
