use super::*;

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

#[test]
fn merge_then_scan_round_trips_and_merging_again_replaces() {
    let props = XmpProps {
        label_json: Some(r#"{"Label":"1"}"#),
        digital_source_type: Some("http://x/y"),
        provenance: None,
    };
    let once = merge(None, &props).unwrap();
    let found = scan(&once).unwrap();
    assert_eq!(found.labels, vec![(r#"{"Label":"1"}"#.to_owned(), vec![])]);
    assert_eq!(found.digital_source_types, vec!["http://x/y".to_owned()]);
    let twice = merge(Some(&once), &props).unwrap();
    let found = scan(&twice).unwrap();
    assert_eq!(found.labels.len(), 1);
    assert_eq!(found.digital_source_types.len(), 1);
}

#[test]
fn attribute_and_resource_forms_are_read_and_stripped() {
    let packet = format!(
        "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'><r:RDF xmlns:r='{RDF}'><r:Description r:about='' xmlns:a='http://www.tc260.org.cn/ns/AIGC/1.0/' xmlns:I='http://iptc.org/std/Iptc4xmpExt/2008-02-29/' xmlns:dc='http://purl.org/dc/elements/1.1/' a:AIGC='{{&quot;Label&quot;:&quot;1&quot;}}' dc:format='image/png'><I:DigitalSourceType r:resource='http://cv/t'/></r:Description></r:RDF></x:xmpmeta><?xpacket end='w'?>"
    );
    let found = scan(&packet).unwrap();
    assert_eq!(found.labels[0].0, r#"{"Label":"1"}"#);
    assert_eq!(found.digital_source_types, vec!["http://cv/t".to_owned()]);
    let stripped = strip(&packet).unwrap();
    assert!(stripped.contains("dc:format='image/png'"));
    let found = scan(&stripped).unwrap();
    assert!(found.labels.is_empty() && found.digital_source_types.is_empty());
    // The merged packet uses the packet's own RDF prefix.
    let merged = merge(
        Some(&packet),
        &XmpProps { label_json: Some("{}"), digital_source_type: None, provenance: None },
    )
    .unwrap();
    assert!(merged.contains("<r:Description r:about=\"\""), "{merged}");
    assert_eq!(scan(&merged).unwrap().labels.len(), 1);
}

#[test]
fn cdata_and_numeric_entities_decode() {
    assert_eq!(decode_entities("a&#x41;&#66;&amp;&bogus;&"), "aAB&&bogus;&");
    let packet = format!("<rdf:RDF xmlns:rdf='{RDF}'><rdf:Description xmlns:T='http://www.tc260.org.cn/ns/AIGC/1.0/'><T:AIGC><![CDATA[{{\"Label\":\"1\"}}]]></T:AIGC></rdf:Description></rdf:RDF>");
    assert_eq!(scan(&packet).unwrap().labels[0].0, r#"{"Label":"1"}"#);
}

#[test]
fn malformed_packets_are_errors_not_panics() {
    for bad in [
        "<a><b></a>",
        "<a",
        "<a x=1>",
        "<a x='1>",
        "</a>",
        "<a><!--",
        "<>",
        "<rdf:RDF xmlns:rdf='x'>",
    ] {
        assert!(
            scan(bad).is_err()
                || merge(
                    Some(bad),
                    &XmpProps { label_json: None, digital_source_type: None, provenance: None }
                )
                .is_err(),
            "{bad}"
        );
    }
    let deep = "<a>".repeat(MAX_DEPTH + 1);
    assert!(scan(&deep).is_err());
}

#[test]
fn labels_outside_rdf_are_removed_too() {
    let packet = format!("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='{RDF}'></rdf:RDF><T:AIGC xmlns:T='http://www.tc260.org.cn/ns/AIGC/1.0/'>old</T:AIGC></x:xmpmeta>");
    assert_eq!(scan(&packet).unwrap().labels.len(), 1);
    let merged = merge(
        Some(&packet),
        &XmpProps { label_json: Some("new"), digital_source_type: None, provenance: None },
    )
    .unwrap();
    let labels = scan(&merged).unwrap().labels;
    assert_eq!(labels, vec![("new".to_owned(), vec![])]);
}

proptest::proptest! {
    #[test]
    fn any_value_survives_escape_merge_and_scan(value in "[ -~\u{4e00}-\u{4e10}]{0,80}") {
        let props = XmpProps { label_json: Some(&value), digital_source_type: None, provenance: None };
        let packet = merge(None, &props).unwrap();
        let found = scan(&packet).unwrap();
        proptest::prop_assert_eq!(&found.labels[0].0, value.trim());
    }
}
