//! Image files in and out of memory: PNG (8/16-bit, gray, gray+alpha, RGB, RGBA), JPEG and
//! WebP, with limits checked on the header before any pixel buffer is allocated.
//!
//! JPEG is re-encoded at the quality estimated from the input's quantisation tables (unless
//! the caller asks for another), with 4:2:0 chroma like most encoders. WebP is written
//! lossless: the pure-Rust WebP encoder has no lossy mode, and a lossless file adds no second
//! generation of compression loss on top of the input's.

use std::io::Cursor;

use ::image::codecs::png::{CompressionType, FilterType, PngEncoder};
use ::image::codecs::webp::WebPEncoder;
use ::image::{DynamicImage, ImageEncoder, ImageReader};

use crate::{Error, Result};

/// Smallest supported short side, in pixels.
pub const MIN_SIDE: u32 = crate::image::MIN_SIDE;
/// Largest supported image, in pixels (100 megapixels).
pub const MAX_PIXELS: u64 = crate::image::MAX_PIXELS;
/// Largest side accepted by the decoder (JPEG's own limit).
pub const MAX_SIDE: u32 = 65_535;
/// Largest single allocation the decoders may make: 100 MP of 16-bit RGBA.
const MAX_ALLOC: u64 = MAX_PIXELS * 8;

/// An image file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (baseline or progressive in; baseline out).
    Jpeg,
    /// WebP (lossy or lossless in; lossless out).
    WebP,
}

impl ImageFormat {
    /// The format of a file name's extension (`png`, `jpg`/`jpeg`, `webp`; any case).
    #[must_use]
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "webp" => Some(Self::WebP),
            _ => None,
        }
    }

    /// The format of a file's magic bytes.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match super::MediaKind::sniff(head)? {
            super::MediaKind::Png => Some(Self::Png),
            super::MediaKind::Jpeg => Some(Self::Jpeg),
            super::MediaKind::WebP => Some(Self::WebP),
            _ => None,
        }
    }

    fn to_image_rs(self) -> ::image::ImageFormat {
        match self {
            Self::Png => ::image::ImageFormat::Png,
            Self::Jpeg => ::image::ImageFormat::Jpeg,
            Self::WebP => ::image::ImageFormat::WebP,
        }
    }
}

/// A decoded image with what is needed to write it back the same way.
#[derive(Clone, Debug)]
pub struct DecodedImage {
    /// The pixels, in the file's own sample type and channel layout.
    pub pixels: DynamicImage,
    /// The file's format.
    pub format: ImageFormat,
    /// For JPEG: the quality (1–100) estimated from the luminance quantisation table.
    pub jpeg_quality: Option<u8>,
}

/// Decodes an image file held in memory.
///
/// # Errors
/// [`Error::Decode`] for an unknown format or corrupt data; [`Error::Limits`] when the header
/// announces more than [`MAX_PIXELS`] (checked before decoding); [`Error::Params`] when the
/// short side is below [`MIN_SIDE`].
pub fn decode(bytes: &[u8]) -> Result<DecodedImage> {
    decode_checked(bytes, check_dimensions)
}

/// Decodes an image file held in memory whatever its short side, for uses that do not
/// watermark it (a visible label, a thumbnail): the same formats and the same limits against
/// decompression bombs as [`decode`], without the watermark's [`MIN_SIDE`].
///
/// # Errors
/// [`Error::Decode`] for an unknown format or corrupt data; [`Error::Limits`] when the header
/// announces more than [`MAX_PIXELS`] (checked before decoding).
pub fn decode_any_size(bytes: &[u8]) -> Result<DecodedImage> {
    decode_checked(bytes, crate::image::check_pixel_count)
}

/// Sniffs, reads the header, runs `check` on the announced size, then decodes under limits.
fn decode_checked(bytes: &[u8], check: fn(u32, u32) -> Result<()>) -> Result<DecodedImage> {
    let format = ImageFormat::sniff(bytes)
        .ok_or_else(|| Error::decode("image", "not a PNG, JPEG or WebP file"))?;
    let reader = || ImageReader::with_format(Cursor::new(bytes), format.to_image_rs());
    let (w, h) =
        reader().into_dimensions().map_err(|e| Error::decode("image header", e.to_string()))?;
    check(w, h)?;
    let mut r = reader();
    let mut limits = ::image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    r.limits(limits);
    let pixels = r.decode().map_err(|e| match e {
        ::image::ImageError::Limits(_) => Error::Limits {
            what: "decoder memory (bytes)",
            actual: u64::from(w) * u64::from(h) * 8,
            limit: MAX_ALLOC,
        },
        other => Error::decode("image", other.to_string()),
    })?;
    let jpeg_quality =
        (format == ImageFormat::Jpeg).then(|| estimate_jpeg_quality(bytes)).flatten();
    Ok(DecodedImage { pixels, format, jpeg_quality })
}

pub use crate::image::check_dimensions;

/// Encodes an image. `jpeg_quality` (1–100, default 90) applies to JPEG only. PNG keeps the
/// bit depth and alpha; JPEG drops alpha and writes 8-bit 4:2:0; WebP is lossless 8-bit.
///
/// # Errors
/// [`Error::Encode`] when the encoder fails or the image does not fit the format (JPEG sides
/// above 65 535); [`Error::Params`] for a quality outside 1–100.
pub fn encode(
    img: &DynamicImage,
    format: ImageFormat,
    jpeg_quality: Option<u8>,
) -> Result<Vec<u8>> {
    let (w, h) = (img.width(), img.height());
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => {
            let enc =
                PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
            enc.write_image(img.as_bytes(), w, h, img.color().into())
                .map_err(|e| Error::encode("PNG", e.to_string()))?;
        }
        ImageFormat::Jpeg => {
            let q = jpeg_quality.unwrap_or(90);
            if !(1..=100).contains(&q) {
                return Err(Error::params("JPEG quality", format!("{q} is outside 1..=100")));
            }
            let (w16, h16) = match (u16::try_from(w), u16::try_from(h)) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    return Err(Error::encode("JPEG", format!("{w}x{h} exceeds 65535 px per side")))
                }
            };
            let mut enc = jpeg_encoder::Encoder::new(&mut out, q);
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            let res = if img.color().has_color() {
                let rgb = to_rgb8(img);
                enc.encode(rgb.as_raw(), w16, h16, jpeg_encoder::ColorType::Rgb)
            } else {
                let l = img.to_luma8();
                enc.encode(l.as_raw(), w16, h16, jpeg_encoder::ColorType::Luma)
            };
            res.map_err(|e| Error::encode("JPEG", e.to_string()))?;
        }
        ImageFormat::WebP => {
            let enc = WebPEncoder::new_lossless(&mut out);
            let res = match img {
                DynamicImage::ImageLuma8(b) => {
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::L8)
                }
                DynamicImage::ImageLumaA8(b) => {
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::La8)
                }
                DynamicImage::ImageRgb8(b) => {
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::Rgb8)
                }
                other if other.color().has_alpha() => {
                    let b = other.to_rgba8();
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::Rgba8)
                }
                other if !other.color().has_color() => {
                    let b = other.to_luma8();
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::L8)
                }
                other => {
                    let b = other.to_rgb8();
                    enc.write_image(b.as_raw(), w, h, ::image::ExtendedColorType::Rgb8)
                }
            };
            res.map_err(|e| Error::encode("WebP", e.to_string()))?;
        }
    }
    Ok(out)
}

/// RGB 8-bit view (borrowed when the image already is one).
fn to_rgb8(img: &DynamicImage) -> std::borrow::Cow<'_, ::image::RgbImage> {
    match img {
        DynamicImage::ImageRgb8(b) => std::borrow::Cow::Borrowed(b),
        other => std::borrow::Cow::Owned(other.to_rgb8()),
    }
}

/// IJG (libjpeg) standard luminance quantisation table, natural order (ITU-T T.81 Annex K).
const STD_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Estimates a JPEG's IJG quality (1–100) from its first (luminance) quantisation table:
/// the table's scale against the standard table, inverted through libjpeg's quality mapping.
/// `None` when the file has no readable DQT segment.
#[must_use]
pub fn estimate_jpeg_quality(bytes: &[u8]) -> Option<u8> {
    let table = first_dqt(bytes)?;
    // The sum is order-independent, so zig-zag order does not matter.
    let sum_q: u64 = table.iter().map(|&v| u64::from(v)).sum();
    let sum_std: u64 = STD_LUMA.iter().map(|&v| u64::from(v)).sum();
    #[allow(clippy::cast_precision_loss, reason = "small sums")]
    let scale = 100.0 * sum_q as f64 / sum_std as f64;
    let q = if scale <= 100.0 { (200.0 - scale) / 2.0 } else { 5000.0 / scale };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 1..=100"
    )]
    let q = q.round().clamp(1.0, 100.0) as u8;
    Some(q)
}

/// The 64 entries of the first quantisation table (table id 0 preferred) of a JPEG stream.
fn first_dqt(b: &[u8]) -> Option<[u16; 64]> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    let mut found: Option<[u16; 64]> = None;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return found;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return found;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let seg = b.get(i + 4..i + 2 + len)?;
        if marker == 0xDB {
            let mut j = 0;
            while j < seg.len() {
                let pq = seg[j] >> 4;
                let tq = seg[j] & 0x0F;
                j += 1;
                let mut t = [0u16; 64];
                for v in &mut t {
                    if pq == 0 {
                        *v = u16::from(*seg.get(j)?);
                        j += 1;
                    } else {
                        *v = u16::from_be_bytes([*seg.get(j)?, *seg.get(j + 1)?]);
                        j += 2;
                    }
                }
                if tq == 0 {
                    return Some(t);
                }
                found.get_or_insert(t);
            }
        }
        i += 2 + len;
    }
    found
}

#[cfg(test)]
mod tests;
