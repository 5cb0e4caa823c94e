//! Labels written by other tools, in the serializations listed in the research
//! (`shared/research/standards.md` §1.5, §1.8), are read, judged and replaced.

use super::metadata_only::{id3_prepend, jpeg_insert, png_insert, riff_append};
use super::*;
use crate::manifest::{label_status, LabelForm};

const BARE: &str = r#"{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"abc123","ReservedCode1":"","ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"abc123","ReservedCode2":""}"#;

fn wrapped() -> String {
    format!("{{\"AIGC\":{BARE}}}")
}

fn xmp_element(prefix: &str, ns: &str) -> String {
    let escaped = BARE.replace('"', "&quot;");
    format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:{prefix}=\"{ns}\"><{prefix}:AIGC>{escaped}</{prefix}:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
}

fn xmp_attribute(prefix: &str) -> String {
    let escaped = BARE.replace('"', "&quot;");
    format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:{prefix}=\"http://www.tc260.org.cn/ns/AIGC/1.0/\" {prefix}:AIGC=\"{escaped}\"/></rdf:RDF></x:xmpmeta>"
    )
}

fn itxt(packet: &str) -> Vec<u8> {
    let mut d = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    d.extend_from_slice(packet.as_bytes());
    d
}

/// Reads, expects one compliant label with the given form, then stamps and expects ours only.
fn check_one(what: &str, input: &[u8], form: LabelForm) {
    let report = read_metadata(input);
    assert_eq!(report.labels.len(), 1, "{what}: {report:?}");
    let parsed = report.labels[0].parsed.as_ref().unwrap();
    assert_eq!(parsed.form, form, "{what}");
    assert_eq!(parsed.label.produce_id, "abc123", "{what}");
    assert_eq!(
        label_status(&report).status,
        LabelStatus::Compliant,
        "{what}: {:?}",
        label_status(&report)
    );
    let out = stamp(input);
    let after = read_metadata(&out);
    assert_eq!(after.labels.len(), 1, "{what}: old label not replaced");
    assert_eq!(
        after.labels[0].parsed.as_ref().unwrap().label.produce_id,
        "0123456789abcdef",
        "{what}"
    );
}

#[test]
fn png_text_chunks_and_xmp_forms_are_read() {
    let png = testdata(FILES[0]);
    let text = [b"AIGC\0".as_slice(), wrapped().as_bytes()].concat();
    check_one(
        "png tEXt AIGC (Doubao)",
        &png_insert(&png, b"tEXt", &text, false),
        LabelForm::Wrapped,
    );
    check_one(
        "png tEXt AIGC after IDAT",
        &png_insert(&png, b"tEXt", &text, true),
        LabelForm::Wrapped,
    );
    let z = [
        b"AIGC\0\0".as_slice(),
        &miniz_oxide::deflate::compress_to_vec_zlib(wrapped().as_bytes(), 6),
    ]
    .concat();
    check_one("png zTXt AIGC", &png_insert(&png, b"zTXt", &z, false), LabelForm::Wrapped);
    let tc260 = "http://www.tc260.org.cn/ns/AIGC/1.0/";
    check_one(
        "png XMP element",
        &png_insert(&png, b"iTXt", &itxt(&xmp_element("TC260", tc260)), false),
        LabelForm::Bare,
    );
    check_one(
        "png XMP lower-case prefix",
        &png_insert(&png, b"iTXt", &itxt(&xmp_element("tc260", tc260)), false),
        LabelForm::Bare,
    );
    check_one(
        "png XMP other prefix",
        &png_insert(&png, b"iTXt", &itxt(&xmp_element("aigc", tc260)), false),
        LabelForm::Bare,
    );
    check_one(
        "png XMP attribute (PicWish)",
        &png_insert(&png, b"iTXt", &itxt(&xmp_attribute("TC260")), false),
        LabelForm::Bare,
    );
    check_one(
        "png XMP after IDAT",
        &png_insert(&png, b"iTXt", &itxt(&xmp_element("TC260", tc260)), true),
        LabelForm::Bare,
    );
    let compressed = [
        b"XML:com.adobe.xmp\0\x01\0\0\0".as_slice(),
        &miniz_oxide::deflate::compress_to_vec_zlib(xmp_element("TC260", tc260).as_bytes(), 6),
    ]
    .concat();
    check_one(
        "png compressed iTXt XMP",
        &png_insert(&png, b"iTXt", &compressed, false),
        LabelForm::Bare,
    );
}

#[test]
fn wrong_namespace_is_read_but_noncompliant() {
    let png = png_insert(
        &testdata(FILES[0]),
        b"iTXt",
        &itxt(&xmp_element("TC260", "http://ns.adobe.com/xap/1.0/tc/")),
        false,
    );
    let report = read_metadata(&png);
    assert_eq!(report.labels.len(), 1);
    let verdict = label_status(&report);
    assert_eq!(verdict.status, LabelStatus::Noncompliant);
    assert!(verdict.reasons[0].contains("not the TC260 namespace"), "{verdict:?}");
}

fn exif_user_comment(text: &str) -> Vec<u8> {
    // Little-endian TIFF: IFD0 with one entry (ExifIFD pointer), Exif IFD with UserComment.
    let mut comment = b"ASCII\0\0\0".to_vec();
    comment.extend_from_slice(text.as_bytes());
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    t.extend_from_slice(&[1, 0, 0x69, 0x87, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&[1, 0, 0x86, 0x92, 7, 0]);
    t.extend_from_slice(&u32::try_from(comment.len()).unwrap().to_le_bytes());
    t.extend_from_slice(&44u32.to_le_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&comment);
    t
}

#[test]
fn jpeg_exif_user_comment_and_glued_forms_are_read() {
    let jpeg = testdata(FILES[2]);
    let exif = [b"Exif\0\0".as_slice(), &exif_user_comment(&wrapped())].concat();
    check_one("jpeg EXIF UserComment", &jpeg_insert(&jpeg, 0xE1, &exif), LabelForm::Wrapped);
    let glued = format!("AIGC{BARE}");
    check_one(
        "jpeg APP3 glued AIGC{{…}}",
        &jpeg_insert(&jpeg, 0xE3, glued.as_bytes()),
        LabelForm::Glued,
    );
    let xmp =
        [b"http://ns.adobe.com/xap/1.0/\0".as_slice(), xmp_attribute("TC260").as_bytes()].concat();
    check_one("jpeg APP1 XMP attribute", &jpeg_insert(&jpeg, 0xE1, &xmp), LabelForm::Bare);
}

#[test]
fn webp_exif_user_comment_is_read() {
    let exif = exif_user_comment(&wrapped());
    check_one(
        "webp EXIF UserComment",
        &riff_append(&testdata(FILES[3]), b"EXIF", &exif),
        LabelForm::Wrapped,
    );
}

#[test]
fn wav_label_in_chunk_and_list_info_is_a_duplicate() {
    let wav = testdata(FILES[4]);
    check_one("wav AIGC chunk", &riff_append(&wav, b"AIGC", BARE.as_bytes()), LabelForm::Bare);
    // gtkit/aigc writes both an `AIGC` chunk and a LIST/INFO `AIGC` sub-chunk.
    let mut info = b"INFO".to_vec();
    riff::push_chunk(&mut info, b"AIGC", wrapped().as_bytes()).unwrap();
    let both = riff_append(&riff_append(&wav, b"AIGC", wrapped().as_bytes()), b"LIST", &info);
    let report = read_metadata(&both);
    assert_eq!(report.labels.len(), 2);
    let verdict = label_status(&report);
    assert_eq!(verdict.status, LabelStatus::Noncompliant);
    assert!(verdict.reasons[0].contains("allows one"), "{verdict:?}");
    let out = stamp(&both);
    assert_eq!(read_metadata(&out).labels.len(), 1);
}

#[test]
fn mp3_txxx_in_every_text_encoding_is_read() {
    let mp3 = testdata(FILES[5]);
    for enc in [0u8, 1, 3] {
        let mut body = vec![enc];
        let push = |body: &mut Vec<u8>, s: &str| {
            if enc == 1 {
                body.extend_from_slice(&[0xFF, 0xFE]);
                body.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
                body.extend_from_slice(&[0, 0]);
            } else {
                body.extend_from_slice(s.as_bytes());
                body.push(0);
            }
        };
        push(&mut body, "AIGC");
        push(&mut body, &wrapped());
        let input = id3_prepend(&mp3, &id3::frame(3, b"TXXX", &body).unwrap());
        check_one(&format!("mp3 TXXX encoding {enc}"), &input, LabelForm::Wrapped);
    }
}

#[test]
fn deviations_seen_in_the_wild_are_noncompliant_with_reasons() {
    let bad = r#"{"AIGC":{"Label":"AIGC","ContentProducer":"Minimax Agent AI","ProduceID":"","ReservedCode1":"","ContentPropagator":"","PropagateID":""}}"#;
    let png = png_insert(
        &testdata(FILES[0]),
        b"tEXt",
        &[b"AIGC\0".as_slice(), bad.as_bytes()].concat(),
        false,
    );
    let verdict = label_status(&read_metadata(&png));
    assert_eq!(verdict.status, LabelStatus::Noncompliant);
    let all = verdict.reasons.join("\n");
    assert!(all.contains("`Label` is `AIGC`"), "{all}");
    assert!(all.contains("`ProduceID` is empty"), "{all}");
    assert!(all.contains("key `ReservedCode2` is missing"), "{all}");
    assert!(all.contains("outside the Annex E j) character set"), "{all}");
}

#[test]
fn an_sm2_security_data_is_reported_unsupported() {
    let sd = r#"{"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[{"Type":"DS","AlgID":"1.2.156.10197.1.501","TBSData":{"Type":"LabelMataData"},"Signature":"3046"},{"Type":"PubKey","AlgID":"1.2.156.10197.1.501","KeyValue":"3059"}]}}"#;
    let mut label = crate::manifest::parse_label(BARE).unwrap().label;
    label.reserved_code1 = sd.to_owned();
    let wav = riff_append(&testdata(FILES[4]), b"AIGC", label.to_json().as_bytes());
    let v = verify(&read_metadata(&wav), Some(&media_hash(&wav).unwrap()), &Keyring::default());
    assert_eq!(
        v.producer.unwrap().signature,
        SignatureStatus::Unsupported("1.2.156.10197.1.501".into())
    );
    assert_eq!(v.label.status, LabelStatus::Compliant);
}

#[test]
fn extended_xmp_makes_a_clean_result_inconclusive() {
    let ext = b"http://ns.adobe.com/xmp/extension/\0ABCDEF0123456789ABCDEF0123456789\0\0\0\x10\0\0\0\0<x:xmpmeta/>";
    let jpeg = jpeg_insert(&testdata(FILES[2]), 0xE1, ext);
    let verdict = label_status(&read_metadata(&jpeg));
    assert_eq!(verdict.status, LabelStatus::Inconclusive, "{verdict:?}");
}
