//! The provenance manifest's XMP namespace (written: the UUID URN; still read: the early
//! placeholder) and the visible identifier it names.

use super::*;
use crate::manifest::provenance::{LEGACY_NS, NS};
use crate::manifest::VisibleClaim;

/// Rewrites every occurrence of `from` in the WAV file's `_PMX` (XMP) chunk as `to`, fixing
/// the chunk and RIFF sizes: a file as an older writer would have made it.
fn rewrite_wav_xmp(wav: &[u8], from: &str, to: &str) -> Vec<u8> {
    let mut out = wav[..12].to_vec();
    let mut i = 12;
    while i + 8 <= wav.len() {
        let len = u32::from_le_bytes(wav[i + 4..i + 8].try_into().unwrap()) as usize;
        let mut body = wav[i + 8..i + 8 + len].to_vec();
        if &wav[i..i + 4] == b"_PMX" {
            let text = String::from_utf8(body).unwrap();
            assert!(text.contains(from), "{text}");
            body = text.replace(from, to).into_bytes();
        }
        out.extend_from_slice(&wav[i..i + 4]);
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        i += 8 + len + (len & 1);
    }
    let riff = u32::try_from(out.len() - 8).unwrap();
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

fn claim() -> VisibleClaim {
    VisibleClaim {
        kind: "image-label".into(),
        text: "AI生成".into(),
        position: "bottom-right 520,380 110x40".into(),
    }
}

#[test]
fn the_manifest_is_written_in_the_urn_namespace_and_names_the_visible_identifier() {
    let p = producer();
    let wav = testdata("audio/pcm16-16000-mono-26s-librivox.wav");
    let out = write_label(&wav, &request().with_visible(claim()), &p.key, &p.info).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(NS) && !text.contains(LEGACY_NS));
    let report = read_metadata(&out);
    let v = verify(&report, Some(&media_hash(&out).unwrap()), &keyring(&[&p]));
    assert_eq!(v.provenance, ProvenanceStatus::Valid);
    assert_eq!(v.visible, Some(claim()));

    // The visible identifier is signed: changing its text breaks the manifest signature
    // (and then it is not reported).
    let forged = rewrite_wav_xmp(&out, "bottom-right", "top-left");
    let v = verify(&read_metadata(&forged), Some(&media_hash(&forged).unwrap()), &keyring(&[&p]));
    assert!(matches!(v.provenance, ProvenanceStatus::Invalid(_)), "{:?}", v.provenance);
    assert_eq!(v.visible, None);

    // Without a visible identifier the manifest has no such property.
    let plain = write_label(&wav, &request(), &p.key, &p.info).unwrap();
    assert!(!String::from_utf8_lossy(&plain).contains("VisibleKind"));
    let v = verify(&read_metadata(&plain), Some(&media_hash(&plain).unwrap()), &keyring(&[&p]));
    assert_eq!((v.provenance, v.visible), (ProvenanceStatus::Valid, None));
}

#[test]
fn manifests_in_the_old_placeholder_namespace_are_still_read_and_replaced_on_rewrite() {
    let p = producer();
    let wav = testdata("audio/pcm16-16000-mono-26s-librivox.wav");
    let out = write_label(&wav, &request(), &p.key, &p.info).unwrap();
    let legacy = rewrite_wav_xmp(&out, NS, LEGACY_NS);
    assert!(!String::from_utf8_lossy(&legacy).contains(NS));
    let report = read_metadata(&legacy);
    assert_eq!(report.provenance.len(), 1);
    let v = verify(&report, Some(&media_hash(&legacy).unwrap()), &keyring(&[&p]));
    assert_eq!(v.provenance, ProvenanceStatus::Valid);
    assert!(v.is_authentic());

    // Writing again replaces the old-namespace manifest: one manifest, in the new namespace
    // (the old element keeps only its now unused namespace declaration).
    let again = write_label(&legacy, &request(), &p.key, &p.info).unwrap();
    let text = String::from_utf8_lossy(&again);
    assert!(text.contains(&format!("xmlns:provmark=\"{NS}\"")), "{text}");
    assert_eq!(text.matches("<provmark:ContentID>").count(), 1, "{text}");
    assert_eq!(read_metadata(&again).provenance.len(), 1);

    // A third, unknown namespace is not ours.
    let other = rewrite_wav_xmp(&out, NS, "http://example.com/other/");
    assert!(read_metadata(&other).provenance.is_empty());
}
