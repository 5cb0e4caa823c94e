use super::*;

#[test]
fn display_is_16_lowercase_hex_digits_with_leading_zeros() {
    assert_eq!(ContentId::from_u64(0xAB).to_string(), "00000000000000ab");
    assert_eq!(ContentId::from_u64(u64::MAX).to_string(), "ffffffffffffffff");
}

#[test]
fn parse_accepts_upper_case_and_rejects_bad_lengths_and_digits() {
    assert_eq!("00000000000000AB".parse::<ContentId>().unwrap().as_u64(), 0xab);
    for bad in
        ["", "abc", "00000000000000abc", "0000000000000g00", "+000000000000000", " 000000000000000"]
    {
        assert!(bad.parse::<ContentId>().is_err(), "{bad:?} must be rejected");
    }
}

#[test]
fn random_ids_differ_and_round_trip() {
    let a = ContentId::random().unwrap();
    let b = ContentId::random().unwrap();
    assert_ne!(a, b, "two 64-bit random draws collided");
    assert_eq!(a.to_string().parse::<ContentId>().unwrap(), a);
    assert_eq!(ContentId::from_bytes(a.to_bytes()), a);
}

proptest::proptest! {
    #[test]
    fn display_parse_round_trips(v: u64) {
        let id = ContentId::from_u64(v);
        proptest::prop_assert_eq!(id.to_string().parse::<ContentId>().unwrap(), id);
    }
}

#[test]
fn serde_uses_the_hex_text_form() {
    let id = ContentId::from_u64(0x0123_4567_89ab_cdef);
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"0123456789abcdef\"");
    assert_eq!(serde_json::from_str::<ContentId>("\"0123456789abcdef\"").unwrap(), id);
    assert!(serde_json::from_str::<ContentId>("\"xyz\"").is_err());
}
