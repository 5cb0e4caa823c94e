//! Metadata-only edits keep the binding; C2PA stores survive our writes byte for byte.

use super::*;

/// Inserts a PNG chunk after IHDR (or before IEND when `late`).
pub(crate) fn png_insert(b: &[u8], ty: &[u8; 4], data: &[u8], late: bool) -> Vec<u8> {
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    chunk.extend_from_slice(ty);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&[ty, data]).to_be_bytes());
    let at = if late { b.len() - 12 } else { 8 + 12 + 13 };
    [&b[..at], &chunk[..], &b[at..]].concat()
}

/// Inserts a JPEG segment right after SOI.
pub(crate) fn jpeg_insert(b: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
    [&b[..2], &[0xFF, marker, len[0], len[1]][..], payload, &b[2..]].concat()
}

/// Appends a top-level RIFF chunk and fixes the RIFF size.
pub(crate) fn riff_append(b: &[u8], id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = b.to_vec();
    riff::push_chunk(&mut out, id, data).unwrap();
    let size = u32::try_from(out.len() - 8).unwrap().to_le_bytes();
    out[4..8].copy_from_slice(&size);
    out
}

/// Prepends an ID3v2.3 tag holding `frames` (already encoded).
pub(crate) fn id3_prepend(b: &[u8], frames: &[u8]) -> Vec<u8> {
    let mut tag = id3::tag(3, frames).unwrap();
    tag.extend_from_slice(b);
    tag
}

fn assert_authentic(name: &str, bytes: &[u8]) {
    let p = producer();
    let v = verify(&read_metadata(bytes), Some(&media_hash(bytes).unwrap()), &keyring(&[&p]));
    assert!(v.is_authentic(), "{name}: {v:?}");
}

#[test]
fn metadata_only_edits_keep_the_binding() {
    let png = stamp(&testdata(FILES[0]));
    assert_authentic("png tEXt", &png_insert(&png, b"tEXt", b"Comment\0hello", false));
    assert_authentic(
        "png late tIME",
        &png_insert(&png, b"tIME", &[7, 234, 11, 28, 12, 0, 0], true),
    );

    let jpeg = stamp(&testdata(FILES[2]));
    assert_authentic("jpeg COM", &jpeg_insert(&jpeg, 0xFE, b"a comment"));
    assert_authentic("jpeg APP13", &jpeg_insert(&jpeg, 0xED, b"Photoshop 3.0\0"));

    let webp = stamp(&testdata(FILES[3]));
    assert_authentic("webp unknown chunk", &riff_append(&webp, b"ZZZZ", b"abc"));

    let wav = stamp(&testdata(FILES[4]));
    assert_authentic("wav LIST/INFO", &riff_append(&wav, b"LIST", b"INFOICMT\x04\0\0\0hey\0"));

    let mp3 = stamp(&testdata(FILES[5]));
    let mut v1 = mp3.clone();
    v1.extend_from_slice(b"TAG");
    v1.extend_from_slice(&[b' '; 125]);
    assert_authentic("mp3 ID3v1", &v1);
}

#[test]
fn c2pa_stores_are_detected_and_kept_byte_for_byte() {
    let store = b"\0\0\0\x20jumb\0\0\0\x18jumdc2pa\0\x11\0\x10\x80\0\0\xaa\0\x38\x9b\x71c2pa\0";
    let mut app11 = b"JP\x02\x11\0\0\0\x01".to_vec();
    app11.extend_from_slice(store);
    let mut geob = vec![0u8];
    geob.extend_from_slice(b"application/c2pa\0c2pa\0c2pa manifest store\0");
    geob.extend_from_slice(store);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("png caBX", png_insert(&testdata(FILES[0]), b"caBX", store, false)),
        ("jpeg APP11 JUMBF", jpeg_insert(&testdata(FILES[2]), 0xEB, &app11)),
        ("riff C2PA", riff_append(&testdata(FILES[3]), b"C2PA", store)),
        ("riff C2PA", riff_append(&testdata(FILES[4]), b"C2PA", store)),
        (
            "id3 GEOB application/c2pa",
            id3_prepend(&testdata(FILES[5]), &id3::frame(3, b"GEOB", &geob).unwrap()),
        ),
        (
            "id3 GEOB application/c2pa",
            id3_prepend(&testdata(FILES[6]), &id3::frame(3, b"GEOB", &geob).unwrap()),
        ),
    ];
    for (carrier, input) in cases {
        let before = read_metadata(&input);
        assert_eq!(before.c2pa.len(), 1, "{carrier}: {before:?}");
        assert_eq!(before.c2pa[0].carrier.name, carrier);
        let out = stamp(&input);
        let after = read_metadata(&out);
        assert_eq!(after.c2pa.len(), 1, "{carrier}");
        assert!(out.windows(store.len()).any(|w| w == store), "{carrier}: store bytes changed");
        assert_eq!(after.labels.len(), 1, "{carrier}");
    }
}

#[test]
fn a_bare_c2pa_substring_is_not_a_store() {
    let input = jpeg_insert(&testdata(FILES[2]), 0xEB, b"JP not a store, just c2pa text");
    assert!(read_metadata(&input).c2pa.is_empty());
}

#[test]
fn existing_xmp_properties_survive_the_merge() {
    let packet = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" dcterms:provenance=\"self#jumbf=c2pa\"><dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>";
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(packet.as_bytes());
    let input = png_insert(&testdata(FILES[0]), b"iTXt", &itxt, false);
    let out = stamp(&input);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("dcterms:provenance=\"self#jumbf=c2pa\""));
    assert!(text.contains("<rdf:li>Ann</rdf:li>"));
    assert_eq!(read_metadata(&out).labels.len(), 1);
}
