//! The streamed WAV/FLAC paths give the in-memory results byte for byte.

use std::io::Cursor;

use super::metadata_only::{id3_prepend, riff_append};
use super::{producer, request, stamp, testdata};
use crate::container::{
    media_hash, media_hash_stream, read_metadata, read_metadata_stream, write_label_hashed,
    write_label_stream,
};

/// WAV and FLAC shapes: bundled files, a chunk after `data`, odd-length `data`, an existing
/// label (replaced), a leading ID3 tag on FLAC, a FLAC whose metadata exceeds the first
/// prefix read.
fn shapes() -> Vec<(&'static str, Vec<u8>)> {
    let wav = testdata("audio/pcm16-16000-mono-26s-librivox.wav");
    let flac = testdata("audio/flac16-16000-mono-3s-librivox.flac");
    // The bundled WAV's header is the canonical 36 bytes before `data`.
    assert_eq!(&wav[36..40], b"data");
    let odd = riff_append(
        &riff_append(&wav[..36], b"data", &[1, 2, 3]),
        b"LIST",
        b"INFOICMT\x04\0\0\0hey\0",
    );
    let big_id3 = id3_prepend(&flac, &{
        let mut f = b"PRIV".to_vec();
        f.extend_from_slice(&200_000u32.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(b"x\0");
        f.resize(10 + 200_000, 7);
        f
    });
    vec![
        ("wav", wav.clone()),
        ("stereo wav", testdata("audio/pcm16-44100-stereo-12s-drascula.wav")),
        ("wav, LIST after data", riff_append(&wav, b"LIST", b"INFOICMT\x04\0\0\0hey\0")),
        ("wav, odd data", odd),
        ("wav, truncated in its data", wav[..wav.len() - 1001].to_vec()),
        ("wav, labelled", stamp(&wav)),
        ("flac", flac.clone()),
        ("flac, labelled", stamp(&flac)),
        ("flac, 200 kB ID3 tag", big_id3),
    ]
}

#[test]
fn streamed_labels_hashes_and_reports_equal_the_in_memory_ones() {
    let p = producer();
    for (name, input) in shapes() {
        let (whole, hash) = write_label_hashed(&input, &request(), &p.key, &p.info)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        let (written, streamed_hash) =
            write_label_stream(&mut Cursor::new(&input), &mut out, &request(), &p.key, &p.info)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(streamed_hash, hash, "{name}");
        assert!(
            out == whole,
            "{name}: streamed output differs ({} vs {} bytes)",
            out.len(),
            whole.len()
        );
        assert_eq!(written, out.len() as u64, "{name}");
        assert_eq!(media_hash_stream(&mut Cursor::new(&out)).unwrap(), media_hash(&out).unwrap());
        let (a, b) = (read_metadata(&out), read_metadata_stream(&mut Cursor::new(&out)).unwrap());
        assert_eq!(a.labels.len(), 1, "{name}");
        assert_eq!(b.labels.len(), 1, "{name}");
        assert_eq!(a.labels[0].text, b.labels[0].text, "{name}");
        assert_eq!(a.provenance, b.provenance, "{name}");
    }
}

#[test]
fn streamed_paths_reject_other_formats_and_broken_files() {
    let p = producer();
    let png = testdata("images/rgb8-451x300-chelsea.png");
    let mp3 = testdata("audio/mp3-16000-mono-3s-librivox.mp3");
    let wav = testdata("audio/pcm16-16000-mono-26s-librivox.wav");
    let flac = testdata("audio/flac16-16000-mono-3s-librivox.flac");
    let mut no_data = wav[..36].to_vec();
    no_data[4..8].copy_from_slice(&28u32.to_le_bytes());
    let mut long_chunk = riff_append(&wav, b"LIST", b"INFO");
    let at = long_chunk.len() - 12;
    long_chunk[at + 4..at + 8].copy_from_slice(&1000u32.to_le_bytes());
    for (name, bad) in [
        ("png", png),
        ("mp3", mp3),
        ("empty", Vec::new()),
        ("wav without data", no_data),
        ("wav chunk past the end", long_chunk),
        ("flac cut in its metadata", flac[..20].to_vec()),
    ] {
        let mut out = Vec::new();
        assert!(
            write_label_stream(&mut Cursor::new(&bad), &mut out, &request(), &p.key, &p.info)
                .is_err(),
            "{name}"
        );
        assert!(media_hash_stream(&mut Cursor::new(&bad)).is_err(), "{name}");
    }
}
