use super::*;

/// The example of c2sp.org/signed-note (also in Go's `sumdb/note` docs), recomputed in
/// `shared/research/provenance_ledger.md` §2.2.
const VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

#[test]
fn spec_example_verifies() {
    let v = NoteVerifier::from_vkey(VKEY).unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d_903a);
    assert_eq!(v.to_vkey(), VKEY);
    assert_eq!(v.open(NOTE).unwrap(), "This is an example message.\n");
}

#[test]
fn altered_notes_are_rejected() {
    let v = NoteVerifier::from_vkey(VKEY).unwrap();
    assert!(v.open(&NOTE.replace("example message", "example massage")).is_err());
    assert!(v.open(&NOTE.replace("Uw2Q", "Uw2R")).is_err());
    assert!(v.open("This is an example message.\n").is_err());
    assert!(v.open("").is_err());
    // Only unknown signers: rejected.
    assert!(v.open(&NOTE.replace("example.com/foo ", "example.com/bar ")).is_err());
}

#[test]
fn unknown_signatures_are_ignored() {
    let v = NoteVerifier::from_vkey(VKEY).unwrap();
    let other = SigningKey::from_seed(&[9; 32]);
    let signer = NoteSigner::from_signing_key("other.example/log", &other).unwrap();
    let extra = signer.sign("This is an example message.\n").unwrap();
    let extra_line = extra.rsplit_once("\n\n").unwrap().1;
    let both = format!("{NOTE}{extra_line}");
    assert_eq!(v.open(&both).unwrap(), "This is an example message.\n");
    assert_eq!(signer.verifier().open(&both).unwrap(), "This is an example message.\n");
}

#[test]
fn sign_then_open_round_trips() {
    let key = SigningKey::from_seed(&[7; 32]);
    let signer = NoteSigner::from_signing_key("provmark.example/log", &key).unwrap();
    let note = signer.sign("hello\nworld\n").unwrap();
    let v = NoteVerifier::from_vkey(&signer.verifier().to_vkey()).unwrap();
    assert_eq!(v.open(&note).unwrap(), "hello\nworld\n");
    assert!(signer.sign("no newline").is_err());
    assert!(signer.sign("blank\n\nline\n").is_err());
    assert!(NoteSigner::from_signing_key("has space", &key).is_err());
    assert!(NoteSigner::from_signing_key("has+plus", &key).is_err());
}

#[test]
fn malformed_vkeys_are_rejected() {
    for bad in [
        "",
        "name",
        "name+530d903a",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AgkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
        "example.com/foo+zz0d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ] {
        assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad}");
    }
}
