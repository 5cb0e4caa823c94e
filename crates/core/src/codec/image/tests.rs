use ::image::{DynamicImage, ImageBuffer, Rgb, Rgba};

use super::{decode, decode_any_size, encode, estimate_jpeg_quality, ImageFormat};
use crate::Error;

fn photo(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 3) % 200 + (x ^ y) % 50) as u8;
        Rgb([v, 255 - v, (x % 256) as u8])
    }))
}

#[test]
fn png_keeps_16_bit_depth_and_alpha() {
    let img = DynamicImage::ImageRgba16(ImageBuffer::from_fn(200, 150, |x, y| {
        Rgba([(x * 300) as u16, (y * 400) as u16, 12345, ((x + y) * 100) as u16])
    }));
    let bytes = encode(&img, ImageFormat::Png, None).unwrap();
    let back = decode(&bytes).unwrap();
    assert_eq!(back.format, ImageFormat::Png);
    assert_eq!(back.pixels, img);
}

#[test]
fn webp_output_is_lossless() {
    let img = photo(200, 160);
    let back = decode(&encode(&img, ImageFormat::WebP, None).unwrap()).unwrap();
    assert_eq!(back.format, ImageFormat::WebP);
    assert_eq!(back.pixels.to_rgb8(), img.to_rgb8());
}

#[test]
fn jpeg_quality_is_estimated_from_the_quantisation_tables() {
    let img = photo(256, 256);
    for q in [30u8, 50, 75, 90, 95] {
        let bytes = encode(&img, ImageFormat::Jpeg, Some(q)).unwrap();
        let est = estimate_jpeg_quality(&bytes).unwrap();
        assert!(est.abs_diff(q) <= 2, "quality {q} estimated as {est}");
        let d = decode(&bytes).unwrap();
        assert_eq!((d.format, d.jpeg_quality), (ImageFormat::Jpeg, Some(est)));
    }
}

#[test]
fn garbage_and_truncated_files_are_decode_errors() {
    assert!(matches!(decode(b"not an image at all").unwrap_err(), Error::Decode { .. }));
    let bytes = encode(&photo(200, 200), ImageFormat::Png, None).unwrap();
    assert!(decode(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn images_below_the_minimum_side_are_rejected() {
    let bytes = encode(&photo(127, 300), ImageFormat::Png, None).unwrap();
    assert!(decode(&bytes).unwrap_err().to_string().contains("too small"));
    // Uses that do not watermark (a visible label) read it, pixels intact.
    let small = decode_any_size(&bytes).unwrap();
    assert_eq!(small.pixels.to_rgb8(), photo(127, 300).to_rgb8());
}

/// A PNG whose header claims 60000×60000 pixels (3.6 GP) is refused from the header alone.
#[test]
fn decompression_bomb_is_refused_before_allocation() {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(60_000u32.to_be_bytes());
    ihdr.extend(60_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    // A few bytes of (invalid) image data and the end chunk, as a real bomb would carry.
    for (name, data) in [(&b"IDAT"[..], &[0x78u8, 0x9c, 0x03, 0x00][..]), (b"IEND", b"")] {
        let mut chunk = name.to_vec();
        chunk.extend(data);
        png.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    let e = decode(&png).unwrap_err();
    assert!(matches!(e, Error::Limits { .. }), "{e}");
    let e = decode_any_size(&png).unwrap_err();
    assert!(matches!(e, Error::Limits { .. }), "{e}");
}
