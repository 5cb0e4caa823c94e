//! Media codecs: format sniffing by magic bytes, and image decoding/encoding
//! ([`image`]). Codecs know nothing about watermarks.

pub mod image;

#[cfg(test)]
mod tests;

/// The kinds of media file provmark handles, recognised by their magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// WebP image.
    WebP,
    /// RIFF WAVE audio.
    Wav,
    /// FLAC audio.
    Flac,
    /// MPEG audio layer III (with or without an ID3v2 tag).
    Mp3,
    /// Ogg container (Vorbis, Opus, FLAC).
    Ogg,
    /// ISO base media file (M4A/MP4 audio).
    M4a,
}

impl MediaKind {
    /// Recognises a file from its first bytes (16 are enough). `None` when unknown.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Option<Self> {
        let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
        if at(0, b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if at(0, &[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if at(0, b"RIFF") && at(8, b"WEBP") {
            Some(Self::WebP)
        } else if at(0, b"RIFF") && at(8, b"WAVE") {
            Some(Self::Wav)
        } else if at(0, b"fLaC") {
            Some(Self::Flac)
        } else if at(0, b"OggS") {
            Some(Self::Ogg)
        } else if at(4, b"ftyp") {
            Some(Self::M4a)
        } else if at(0, b"ID3") || is_mpeg_audio_frame(head) {
            Some(Self::Mp3)
        } else {
            None
        }
    }

    /// Whether this is an image kind.
    #[must_use]
    pub const fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::WebP)
    }

    /// Whether this is an audio kind.
    #[must_use]
    pub const fn is_audio(self) -> bool {
        !self.is_image()
    }
}

/// An MPEG-1/2/2.5 layer III frame header: 11 sync bits, a valid version, layer III, and a
/// bitrate and sample-rate index that are not reserved.
fn is_mpeg_audio_frame(h: &[u8]) -> bool {
    if h.len() < 4 || h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return false;
    }
    let version = (h[1] >> 3) & 0b11;
    let layer = (h[1] >> 1) & 0b11;
    let bitrate = h[2] >> 4;
    let rate = (h[2] >> 2) & 0b11;
    version != 0b01 && layer == 0b01 && bitrate != 0b1111 && rate != 0b11
}
