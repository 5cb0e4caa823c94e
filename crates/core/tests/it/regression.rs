//! Replays every input kept under `testdata/regression/` (fuzzing finds and hand-made
//! malformed files) through every parser: none may panic.

use std::path::Path;

use provmark_core::audio_codec::{self, DecodeLimits};
use provmark_core::container::{
    media_hash, media_hash_stream, read_metadata, read_metadata_stream, xmp,
};
use provmark_core::manifest::{parse_label, security};

#[test]
fn regression_inputs_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/regression");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let _ = read_metadata(&bytes);
        let _ = media_hash(&bytes);
        // The streamed container paths accept nothing the in-memory ones reject.
        if let Ok(h) = media_hash_stream(&mut std::io::Cursor::new(&bytes)) {
            assert_eq!(media_hash(&bytes).ok(), Some(h), "{}", path.display());
        }
        if let Ok(r) = read_metadata_stream(&mut std::io::Cursor::new(&bytes)) {
            assert_eq!(r.labels.len(), read_metadata(&bytes).labels.len(), "{}", path.display());
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = xmp::scan(&text);
        let _ = parse_label(&text);
        let _ = security::parse(&text);
        let limits = DecodeLimits::with_max_seconds(60.0);
        let _ = audio_codec::decode(&bytes, &limits);
        if let Ok(mut reader) = audio_codec::AudioReader::from_bytes(&bytes, &limits) {
            while let Ok(Some(_)) = reader.next_chunk() {}
        }
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
