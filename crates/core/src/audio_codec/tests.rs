#![allow(clippy::unwrap_used, reason = "tests")]

use super::*;
use crate::audio::quantize;

fn testfile(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../testdata/audio/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn wav_decode_encode_round_trip_is_lossless() {
    let bytes = testfile("pcm16-44100-stereo-12s-drascula.wav");
    assert_eq!(sniff(&bytes), Some(AudioFormat::Wav));
    let a = decode(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!((a.channels(), a.sample_rate(), a.format()), (2, 44_100, SampleFormat::Int(16)));
    let b = decode(&encode_wav(&a).unwrap(), &DecodeLimits::default()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn flac_round_trip_is_lossless() {
    let a =
        decode(&testfile("pcm16-16000-mono-26s-librivox.wav"), &DecodeLimits::default()).unwrap();
    let flac = encode_flac(&a).unwrap();
    assert_eq!(sniff(&flac), Some(AudioFormat::Flac));
    assert!(flac.len() < a.samples().len() * 2);
    let b = decode(&flac, &DecodeLimits::default()).unwrap();
    assert_eq!(a.samples().len(), b.samples().len());
    let diff = a.samples().iter().zip(b.samples()).position(|(x, y)| x != y);
    assert_eq!(diff, None, "first difference");
    assert_eq!((b.channels(), b.sample_rate(), b.format()), (1, 16_000, SampleFormat::Int(16)));
}

#[test]
fn float_and_24_bit_wav_keep_their_format() {
    for format in [SampleFormat::Float, SampleFormat::Int(24), SampleFormat::Int(8)] {
        let samples: Vec<f32> = (0..4000).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
        let a = AudioBuffer::new(samples, 2, 48_000, format).unwrap();
        let b = decode(&encode_wav(&a).unwrap(), &DecodeLimits::default()).unwrap();
        assert_eq!(b.format(), format);
        let tol = match format {
            SampleFormat::Int(8) => 1.0 / 127.0,
            _ => 1e-6,
        };
        assert!(a.samples().iter().zip(b.samples()).all(|(x, y)| (x - y).abs() <= tol));
    }
}

#[test]
fn limits_reject_long_audio_and_garbage_is_an_error() {
    let bytes = testfile("pcm16-16000-mono-26s-librivox.wav");
    assert!(matches!(
        decode(&bytes, &DecodeLimits::with_max_seconds(10.0)),
        Err(Error::Limits { .. })
    ));
    assert!(decode(b"RIFF\x00\x00\x00\x00WAVEjunkjunk", &DecodeLimits::default()).is_err());
    assert!(decode(&[0u8; 100], &DecodeLimits::default()).is_err());
    let mut truncated = bytes.clone();
    truncated.truncate(1000);
    let _ = decode(&truncated, &DecodeLimits::default());
}

#[test]
#[ignore = "diagnostic"]
fn diag_write_flac() {
    let a =
        decode(&testfile("pcm16-16000-mono-26s-librivox.wav"), &DecodeLimits::default()).unwrap();
    std::fs::write("/tmp/audio_diag.flac", encode_flac(&a).unwrap()).unwrap();
}

/// The packed WAV writer, whole or streamed, gives exactly the bytes of hound's per-sample
/// writer, for every format it handles and for plain and extensible headers.
#[test]
fn packed_wav_writer_matches_hound_byte_for_byte() {
    for format in [
        SampleFormat::Float,
        SampleFormat::Int(8),
        SampleFormat::Int(16),
        SampleFormat::Int(24),
        SampleFormat::Int(32),
    ] {
        for channels in [1u16, 2, 3] {
            let n = 1001 * usize::from(channels);
            let samples: Vec<f32> = (0..n).map(|i| 1.2 * ((i as f32) * 0.37).sin() - 0.1).collect();
            let audio = AudioBuffer::new(samples, channels, 44_100, format).unwrap();
            let (bits, float) = match format {
                SampleFormat::Float => (32, true),
                SampleFormat::Int(b) => (b, false),
            };
            let spec = hound::WavSpec {
                channels,
                sample_rate: 44_100,
                bits_per_sample: bits,
                sample_format: if float {
                    hound::SampleFormat::Float
                } else {
                    hound::SampleFormat::Int
                },
            };
            let mut reference = Cursor::new(Vec::new());
            let mut w = hound::WavWriter::new(&mut reference, spec).unwrap();
            for &s in audio.samples() {
                if float {
                    w.write_sample(s).unwrap();
                } else {
                    w.write_sample(quantize(s, bits)).unwrap();
                }
            }
            w.finalize().unwrap();
            let reference = reference.into_inner();
            assert_eq!(encode_wav(&audio).unwrap(), reference, "{format:?} × {channels}");
            // The stream writer, fed in uneven chunks, gives the same bytes.
            let frames = (audio.samples().len() / usize::from(channels)) as u64;
            let mut w = WavStreamWriter::new(Vec::new(), channels, 44_100, format, frames).unwrap();
            for chunk in audio.samples().chunks(37 * usize::from(channels)) {
                w.write(chunk).unwrap();
            }
            assert_eq!(w.finish().unwrap(), reference, "stream: {format:?} × {channels}");
            let mut short =
                WavStreamWriter::new(Vec::new(), channels, 44_100, format, frames).unwrap();
            short.write(&audio.samples()[..usize::from(channels)]).unwrap();
            assert!(short.finish().is_err(), "a short stream is an error");
        }
    }
}

/// The packet reader gives, chunk by chunk, exactly the samples `decode` gives, for every
/// container the test data has.
#[test]
fn reader_chunks_add_up_to_the_decoded_buffer() {
    for name in ["pcm16-44100-stereo-12s-drascula.wav", "pcm16-16000-mono-26s-librivox.wav"] {
        let bytes = testfile(name);
        let whole = decode(&bytes, &DecodeLimits::default()).unwrap();
        for input in [bytes.clone(), encode_flac(&whole).unwrap()] {
            let mut reader = AudioReader::from_bytes(&input, &DecodeLimits::default()).unwrap();
            let spec = reader.spec();
            assert_eq!((spec.channels, spec.sample_rate), (whole.channels(), whole.sample_rate()));
            assert_eq!(spec.frames, Some(whole.frames() as u64));
            let mut samples = Vec::new();
            let mut chunks = 0;
            while let Some(chunk) = reader.next_chunk().unwrap() {
                samples.extend_from_slice(&chunk);
                chunks += 1;
            }
            assert!(chunks > 1, "{name}: decoded in several packets");
            assert_eq!(samples, whole.samples(), "{name}");
        }
    }
}

#[test]
#[ignore = "diagnostic: peak memory of streaming DIAG_FILE through the reader"]
fn diag_reader_memory() {
    let path = std::env::var("DIAG_FILE").unwrap();
    let hwm = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap()
            .to_owned()
    };
    eprintln!("start {}", hwm());
    let file = std::fs::File::open(&path).unwrap();
    let mut r = AudioReader::new(Box::new(file), None, &DecodeLimits::default()).unwrap();
    let mut n = 0usize;
    while let Some(c) = r.next_chunk().unwrap() {
        n += c.len();
    }
    eprintln!("read {n} samples, {}", hwm());
}

/// A RIFF/WAVE file around `data`, with a plain or extensible `fmt ` chunk and, if `extra`,
/// an odd-sized `JUNK` chunk (with its pad byte) before the data.
fn wav_file(
    float: bool,
    channels: u16,
    bits: u16,
    data: &[u8],
    extensible: bool,
    extra: bool,
) -> Vec<u8> {
    let tag: u16 = if float { 3 } else { 1 };
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&(if extensible { 0xFFFE } else { tag }).to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&44_100u32.to_le_bytes());
    fmt.extend_from_slice(&(44_100 * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&0u32.to_le_bytes());
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71");
    }
    let mut body = b"WAVE".to_vec();
    let mut chunk = |id: &[u8], b: &[u8]| {
        body.extend_from_slice(id);
        body.extend_from_slice(&u32::try_from(b.len()).unwrap().to_le_bytes());
        body.extend_from_slice(b);
        if b.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"fmt ", &fmt);
    if extra {
        chunk(b"JUNK", b"odd!!");
    }
    chunk(b"data", data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    file.extend_from_slice(&body);
    file
}

/// The direct PCM reader gives bit for bit the samples, shape and format symphonia gives, for
/// every sample width it takes (the whole 8- and 16-bit ranges, extremes and pseudo-random
/// words for 24/32-bit, NaN and infinities in float), plain and extensible headers, an extra
/// chunk before the data and a partial last frame; files it does not take go to symphonia.
#[test]
fn direct_pcm_reader_matches_symphonia_bit_for_bit() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (float, bits) in [(false, 8u16), (false, 16), (false, 24), (false, 32), (true, 32)] {
        let width = usize::from(bits / 8);
        let mut data: Vec<u8> = match bits {
            8 => (0..=255u8).collect(),
            16 => (i16::MIN..=i16::MAX).flat_map(i16::to_le_bytes).collect(),
            _ => Vec::new(),
        };
        if float {
            for v in
                [0.0f32, -0.0, 1.0, -1.0, 1.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-40]
            {
                data.extend_from_slice(&v.to_le_bytes());
            }
        } else if bits >= 24 {
            for v in [i32::MIN, i32::MAX, 0, 1, -1, 0x7F_FFFF, -0x80_0000] {
                data.extend_from_slice(&v.to_le_bytes()[4 - width..]);
            }
        }
        while data.len() < 6000 * width {
            let r = random();
            if float {
                #[allow(clippy::cast_precision_loss, reason = "test values")]
                let v = (r as i64 as f32) / 9.2e18;
                data.extend_from_slice(&v.to_le_bytes());
            } else {
                data.extend_from_slice(&r.to_le_bytes()[..width]);
            }
        }
        for channels in [1u16, 2, 3] {
            for (extensible, extra) in [(false, false), (true, false), (false, true)] {
                // Whole frames, then one extra sample (a partial last frame).
                let whole =
                    data.len() / (width * usize::from(channels)) * width * usize::from(channels);
                for len in [whole, whole - width * usize::from(channels) + width] {
                    let file = wav_file(float, channels, bits, &data[..len], extensible, extra);
                    let what = format!("{bits}-bit float={float} ×{channels} ext={extensible} extra={extra} len={len}");
                    assert!(pcm::PcmWav::parse(&file).is_some(), "{what}: not taken");
                    let fast = decode(&file, &DecodeLimits::default()).unwrap();
                    let slow = decode_packets(&file, &DecodeLimits::default()).unwrap();
                    assert_eq!(
                        (fast.channels(), fast.sample_rate(), fast.format(), fast.frames()),
                        (slow.channels(), slow.sample_rate(), slow.format(), slow.frames()),
                        "{what}"
                    );
                    let diff = fast
                        .samples()
                        .iter()
                        .zip(slow.samples())
                        .position(|(a, b)| a.to_bits() != b.to_bits());
                    assert_eq!(diff, None, "{what}: first differing sample");
                }
            }
        }
    }
    // Not taken: 24 bits valid in a 32-bit container, 64-bit float, a data chunk past the end.
    let mut ext = wav_file(false, 2, 32, &[0; 64], true, false);
    ext[20 + 18..20 + 20].copy_from_slice(&24u16.to_le_bytes());
    assert!(pcm::PcmWav::parse(&ext).is_none());
    assert!(pcm::PcmWav::parse(&wav_file(true, 1, 64, &[0; 64], false, false)).is_none());
    let mut cut = wav_file(false, 1, 16, &[1; 4000], false, false);
    cut.truncate(2000);
    assert!(pcm::PcmWav::parse(&cut).is_none());
    let partial = decode(&cut, &DecodeLimits::default()).unwrap();
    assert!(partial.frames() > 0 && partial.frames() < 2000, "symphonia keeps what is there");
    // Limits are checked on the header, before the samples are allocated.
    let long = wav_file(false, 2, 16, &vec![0; 44_100 * 4 * 3], false, false);
    assert!(matches!(
        decode(&long, &DecodeLimits::with_max_seconds(2.0)),
        Err(Error::Limits { what: "audio frames", .. })
    ));
    let limits = DecodeLimits { max_samples: 1000, ..DecodeLimits::default() };
    assert!(matches!(decode(&long, &limits), Err(Error::Limits { what: "audio samples", .. })));
}

/// The FLAC stream writer gives the bytes of the whole-buffer encoder however the samples
/// are split (chunks shorter and longer than a block, not frame-aligned), decodes back to the
/// stored samples, and refuses a stream shorter or longer than announced.
#[test]
fn flac_stream_writer_matches_the_whole_encoder_in_any_chunks() {
    for (channels, format, frames) in [
        (1u16, SampleFormat::Int(16), 20_011usize),
        (2, SampleFormat::Int(24), 9_000),
        (3, SampleFormat::Float, 4_100),
        // 2 × 4096 + 30: a last block of 30 frames, below the encoder's 64, must not be chosen.
        (1, SampleFormat::Int(16), 8_222),
        (1, SampleFormat::Int(16), 64),
    ] {
        let n = frames * usize::from(channels);
        let samples: Vec<f32> = (0..n).map(|i| 0.6 * ((i as f32) * 0.013).sin()).collect();
        let audio = AudioBuffer::new(samples, channels, 22_050, format).unwrap();
        let whole = encode_flac(&audio).unwrap();
        for piece in [1usize, 1_000, 5_003, n] {
            let mut w = FlacStreamWriter::new(
                Cursor::new(Vec::new()),
                channels,
                22_050,
                format,
                frames as u64,
            )
            .unwrap();
            for chunk in audio.samples().chunks(piece) {
                w.write(chunk).unwrap();
            }
            assert_eq!(w.finish().unwrap().into_inner(), whole, "{channels} ch, pieces of {piece}");
        }
        {
            let back = decode(&whole, &DecodeLimits::default()).unwrap();
            assert_eq!(back.frames(), frames);
            let bits = if format == SampleFormat::Int(16) { 16 } else { 24 };
            let stored = audio.samples().iter().map(|&s| quantize(s, bits) as f32);
            let scale = 1.0 / (1u32 << (bits - 1)) as f32;
            assert!(back.samples().iter().zip(stored).all(|(b, s)| (b - s * scale).abs() < 1e-9));
        }
        let mut short =
            FlacStreamWriter::new(Cursor::new(Vec::new()), channels, 22_050, format, frames as u64)
                .unwrap();
        short.write(&audio.samples()[..usize::from(channels)]).unwrap();
        assert!(short.finish().is_err(), "a short stream is an error");
        let mut long =
            FlacStreamWriter::new(Cursor::new(Vec::new()), channels, 22_050, format, 64).unwrap();
        assert!(long.write(&vec![0.0; n + 64 * usize::from(channels)]).is_err(), "too long");
    }
    let tiny = AudioBuffer::new(vec![0.1; 63], 1, 8_000, SampleFormat::Int(16)).unwrap();
    assert!(matches!(encode_flac(&tiny), Err(Error::Encode { .. })), "63 frames: a clear error");
}

/// A WAV header stating a sample rate of 0 (found by fuzzing: symphonia panicked on it) is a
/// clear decode error, from the whole-file decoder and from the packet reader alike.
#[test]
fn wav_with_sample_rate_zero_is_an_error_not_a_panic() {
    let mut file = wav_file(false, 1, 16, &[0; 64], false, false);
    file[24..28].copy_from_slice(&0u32.to_le_bytes());
    let e = decode(&file, &DecodeLimits::default()).unwrap_err();
    assert!(e.to_string().contains("sample rate of 0"), "{e}");
    assert!(matches!(
        AudioReader::from_bytes(&file, &DecodeLimits::default()),
        Err(Error::Decode { .. })
    ));
    let mut no_channels = wav_file(false, 1, 16, &[0; 64], false, false);
    no_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
    assert!(decode(&no_channels, &DecodeLimits::default())
        .unwrap_err()
        .to_string()
        .contains("no channels"));
}
