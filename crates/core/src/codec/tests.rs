use super::MediaKind;

#[test]
fn sniff_recognises_every_kind_by_magic_bytes() {
    let cases: [(&[u8], MediaKind); 9] = [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", MediaKind::Png),
        (&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F'], MediaKind::Jpeg),
        (b"RIFF\x24\0\0\0WEBPVP8 ", MediaKind::WebP),
        (b"RIFF\x24\0\0\0WAVEfmt ", MediaKind::Wav),
        (b"fLaC\0\0\0\x22", MediaKind::Flac),
        (b"ID3\x04\0\0\0\0\0\0", MediaKind::Mp3),
        (&[0xFF, 0xFB, 0x90, 0x64, 0, 0], MediaKind::Mp3),
        (b"OggS\0\x02\0\0", MediaKind::Ogg),
        (b"\0\0\0\x20ftypM4A \0\0\0\0", MediaKind::M4a),
    ];
    for (head, kind) in cases {
        assert_eq!(MediaKind::sniff(head), Some(kind), "{kind:?}");
    }
}

#[test]
fn sniff_rejects_unknown_and_short_input() {
    assert_eq!(MediaKind::sniff(b""), None);
    assert_eq!(MediaKind::sniff(b"RIFF"), None);
    assert_eq!(MediaKind::sniff(b"GIF89a\0\0"), None);
    // A reserved MPEG version (01) is not an MP3 frame.
    assert_eq!(MediaKind::sniff(&[0xFF, 0xEB, 0x90, 0x64]), None);
}

#[test]
fn image_kinds_are_not_audio() {
    assert!(MediaKind::Png.is_image() && !MediaKind::Png.is_audio());
    assert!(MediaKind::Wav.is_audio() && !MediaKind::Wav.is_image());
}
