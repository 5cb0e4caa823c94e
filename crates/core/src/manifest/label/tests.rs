use super::*;

fn sample() -> AigcLabel {
    AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: "0123456789abcdef".into(),
        reserved_code1: r#"{"a":"b"}"#.into(),
        content_propagator: "001191440300708461136T1XGW3".into(),
        propagate_id: "0123456789abcdef".into(),
        reserved_code2: String::new(),
    }
}

#[test]
fn json_has_the_annex_e_shape_in_order() {
    let json = sample().to_json();
    assert_eq!(
        json,
        r#"{"Label":"1","ContentProducer":"001191440300708461136T1XGW3","ProduceID":"0123456789abcdef","ReservedCode1":"{\"a\":\"b\"}","ContentPropagator":"001191440300708461136T1XGW3","PropagateID":"0123456789abcdef","ReservedCode2":""}"#
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7);
    assert!(sample().check().is_empty(), "{:?}", sample().check());
}

#[test]
fn every_framing_parses_to_the_same_label() {
    let bare = sample().to_json();
    let wrapped = sample().to_wrapped_json();
    let as_string = format!("{{\"AIGC\":{}}}", serde_json::to_string(&bare).unwrap());
    for (text, form) in [
        (bare.clone(), LabelForm::Bare),
        (wrapped, LabelForm::Wrapped),
        (format!("AIGC{bare}"), LabelForm::Glued),
        (as_string, LabelForm::WrappedString),
        (format!("  {bare}\0\0"), LabelForm::Bare),
    ] {
        let p = parse_label(&text).unwrap();
        assert_eq!(p.label, sample(), "{text}");
        assert_eq!(p.form, form, "{text}");
        assert!(p.issues.is_empty(), "{text}: {:?}", p.issues);
    }
}

#[test]
fn producer_message_is_appendix_a1() {
    assert_eq!(
        sample().producer_message("1"),
        r#""Label":"1","ContentProducer":"001191440300708461136T1XGW3","ProduceID":"0123456789abcdef""#
    );
}

#[test]
fn non_labels_are_errors_and_deviations_are_issues() {
    assert!(parse_label("not json").is_err());
    assert!(parse_label("[1,2]").is_err());
    assert!(parse_label(r#"{"foo":"bar"}"#).is_err());
    assert!(parse_label(&"x".repeat(MAX_LABEL_TEXT + 1)).is_err());
    let p = parse_label(r#"{"Label":1,"ContentProducer":"a","Extra":"x"}"#).unwrap();
    assert!(p.issues.iter().any(|i| i.contains("not a string")));
    assert!(p.issues.iter().any(|i| i.contains("unknown key `Extra`")));
    assert!(p.issues.iter().any(|i| i.contains("`ProduceID` is missing")));
}

#[test]
fn annex_e_charset_is_enforced() {
    let mut l = sample();
    l.content_producer = "名字".into();
    l.propagate_id = "a b".into();
    let issues = l.check();
    assert_eq!(issues.len(), 2, "{issues:?}");
    for ok in ['!', '"', '#', '[', ']', '~'] {
        assert!(annex_e_char(ok));
    }
    for bad in [' ', '\\', '\u{7f}', 'é'] {
        assert!(!annex_e_char(bad));
    }
}

proptest::proptest! {
    #[test]
    fn any_label_round_trips_through_json(fields in proptest::array::uniform7("[!-~]{0,40}")) {
        let [label, content_producer, produce_id, reserved_code1, content_propagator, propagate_id, reserved_code2] = fields;
        let l = AigcLabel { label, content_producer, produce_id, reserved_code1, content_propagator, propagate_id, reserved_code2 };
        let bare = parse_label(&l.to_json()).unwrap();
        proptest::prop_assert_eq!(&bare.label, &l);
        proptest::prop_assert!(bare.issues.is_empty());
        proptest::prop_assert_eq!(&parse_label(&l.to_wrapped_json()).unwrap().label, &l);
    }
}
