//! Robustness of the audio watermark on the committed clips in `testdata/audio`.
//!
//! The default run applies fast attacks written here in Rust (level, noise, trims, splices,
//! downmix, quantisation, echo, resampling-style speed change, lossless codecs). The full sweep
//! with real encoders (lame, ffmpeg AAC, oggenc, opusenc, sox tempo/speed/pitch/filters) is
//! `#[ignore]`d: run it with `cargo test -p provmark-core --test audio_robustness -- --ignored
//! --nocapture` on a machine with those tools (`.ci/run` installs them).

#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests report and may panic")]

use std::path::PathBuf;
use std::process::Command;

use provmark_core::audio::{AudioBuffer, AudioDetector, AudioEmbedder, AudioParams, SampleFormat};
use provmark_core::audio_codec::{self, DecodeLimits};
use provmark_core::{ContentId, WatermarkKey};

const CLIPS: [&str; 2] =
    ["pcm16-16000-mono-26s-librivox.wav", "pcm16-44100-stereo-12s-drascula.wav"];

fn clip(name: &str) -> AudioBuffer {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/audio").join(name);
    audio_codec::decode(&std::fs::read(path).unwrap(), &DecodeLimits::default()).unwrap()
}

fn key() -> WatermarkKey {
    WatermarkKey::from_bytes([0x5a; 32])
}

const ID: ContentId = ContentId::from_u64(0x00c0_ffee_1234_5678);

fn marked(name: &str) -> AudioBuffer {
    let mut a = clip(name);
    AudioEmbedder::new(&key(), AudioParams::default()).embed(&mut a, ID).unwrap();
    a
}

fn rebuild(a: &AudioBuffer, samples: Vec<f32>, channels: u16) -> AudioBuffer {
    AudioBuffer::new(samples, channels, a.sample_rate(), a.format()).unwrap()
}

/// Deterministic white noise (xorshift), scaled to the given SNR against the signal.
fn add_noise(a: &AudioBuffer, snr_db: f64) -> AudioBuffer {
    let power =
        a.samples().iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / a.samples().len() as f64;
    let sigma = (power / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut gauss = || {
        let mut s = 0.0f32;
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s += (x >> 40) as f32 / (1u64 << 24) as f32;
        }
        s - 6.0
    };
    rebuild(a, a.samples().iter().map(|&s| s + sigma * gauss()).collect(), a.channels())
}

fn frames_range(a: &AudioBuffer, start_s: f64, len_s: f64) -> AudioBuffer {
    let ch = usize::from(a.channels());
    let start = (start_s * f64::from(a.sample_rate())) as usize;
    let len = ((len_s * f64::from(a.sample_rate())) as usize).min(a.frames() - start);
    rebuild(a, a.samples()[start * ch..(start + len) * ch].to_vec(), a.channels())
}

/// Plays the audio `factor` times faster by linear-interpolation resampling (pitch and tempo
/// both change, like sox `speed`).
fn speed(a: &AudioBuffer, factor: f64) -> AudioBuffer {
    let ch = usize::from(a.channels());
    let n = (a.frames() as f64 / factor) as usize;
    let s = a.samples();
    let mut out = Vec::with_capacity(n * ch);
    for i in 0..n {
        let x = i as f64 * factor;
        let j = x.floor() as usize;
        let f = (x - j as f64) as f32;
        for c in 0..ch {
            let a0 = s[j * ch + c];
            let a1 = s.get((j + 1) * ch + c).copied().unwrap_or(a0);
            out.push(a0 + (a1 - a0) * f);
        }
    }
    rebuild(a, out, a.channels())
}

type Attack = (&'static str, fn(&AudioBuffer) -> AudioBuffer);

fn fast_attacks() -> Vec<Attack> {
    vec![
        ("none", |a| a.clone()),
        ("wav_round_trip", |a| {
            audio_codec::decode(&audio_codec::encode_wav(a).unwrap(), &DecodeLimits::default())
                .unwrap()
        }),
        ("flac_round_trip", |a| {
            audio_codec::decode(&audio_codec::encode_flac(a).unwrap(), &DecodeLimits::default())
                .unwrap()
        }),
        ("volume_0.5", |a| rebuild(a, a.samples().iter().map(|s| s * 0.5).collect(), a.channels())),
        ("volume_2_clip", |a| {
            rebuild(
                a,
                a.samples().iter().map(|s| (s * 2.0).clamp(-1.0, 1.0)).collect(),
                a.channels(),
            )
        }),
        ("dc_offset_0.05", |a| {
            rebuild(a, a.samples().iter().map(|s| s + 0.05).collect(), a.channels())
        }),
        ("quant_8bit", |a| {
            rebuild(
                a,
                a.samples().iter().map(|s| (s * 127.0).round() / 127.0).collect(),
                a.channels(),
            )
        }),
        ("white_noise_30db", |a| add_noise(a, 30.0)),
        ("cut_first_1.5s", |a| frames_range(a, 1.5, 1e9)),
        ("excerpt_10s", |a| frames_range(a, 1.3, 10.0)),
        ("insert_silence_1s", |a| {
            let ch = usize::from(a.channels());
            let mid = a.frames() / 2 * ch;
            let mut s = a.samples()[..mid].to_vec();
            s.extend(std::iter::repeat_n(0.0, a.sample_rate() as usize * ch));
            s.extend_from_slice(&a.samples()[mid..]);
            rebuild(a, s, a.channels())
        }),
        ("echo_100ms", |a| {
            let ch = usize::from(a.channels());
            let d = a.sample_rate() as usize / 10 * ch;
            let s = a.samples();
            rebuild(
                a,
                (0..s.len()).map(|i| s[i] + if i >= d { 0.3 * s[i - d] } else { 0.0 }).collect(),
                a.channels(),
            )
        }),
        ("mono_downmix", |a| {
            let ch = usize::from(a.channels());
            rebuild(
                a,
                a.samples().chunks(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect(),
                1,
            )
        }),
        ("speed_+1%", |a| speed(a, 1.01)),
        ("speed_-3%", |a| speed(a, 0.97)),
    ]
}

#[test]
fn marked_speech_survives_fast_attacks() {
    // The 12 s music clip is too short for the default strength (README, "Audio watermark":
    // short music is the known weak spot), so the strict check runs on the 26 s speech clip;
    // the music clip is checked at 4 dB more strength below.
    let detector = AudioDetector::new(&key(), AudioParams::default());
    let m = marked(CLIPS[0]);
    let mut failures = Vec::new();
    for (attack, f) in fast_attacks() {
        let r = detector.detect(&f(&m)).unwrap();
        eprintln!("{attack:18} id={:?} score={:.1} p={:.1e}", r.id(), r.score, r.p_value);
        assert!(r.p_value <= 1e-12);
        if r.id() != Some(ID) {
            failures.push(attack);
        }
    }
    assert!(failures.is_empty(), "lost the mark under: {failures:?}");
}

#[test]
fn stronger_mark_on_short_stereo_music_survives_codec_level_and_downmix() {
    let params = AudioParams::builder().snr_db(26.0).build().unwrap();
    let mut m = clip(CLIPS[1]);
    AudioEmbedder::new(&key(), params.clone()).embed(&mut m, ID).unwrap();
    let detector = AudioDetector::new(&key(), params);
    for (attack, f) in fast_attacks() {
        if ["none", "flac_round_trip", "volume_0.5", "mono_downmix"].contains(&attack) {
            assert_eq!(detector.detect(&f(&m)).unwrap().id(), Some(ID), "{attack}");
        }
    }
}

#[test]
fn unmarked_clips_and_their_attacked_versions_yield_no_id() {
    let detector = AudioDetector::new(&key(), AudioParams::default());
    for name in CLIPS {
        let a = clip(name);
        for (attack, f) in fast_attacks() {
            let r = detector.detect(&f(&a)).unwrap();
            assert_eq!(r.id(), None, "{name}/{attack}: false ID");
        }
    }
}

#[test]
fn another_key_finds_nothing() {
    let other = AudioDetector::new(&WatermarkKey::from_bytes([0x11; 32]), AudioParams::default());
    for name in CLIPS {
        assert_eq!(other.detect(&marked(name)).unwrap().id(), None);
    }
}

#[test]
fn short_silent_and_odd_inputs_are_results_not_panics() {
    let detector = AudioDetector::new(&key(), AudioParams::default());
    let embedder = AudioEmbedder::new(&key(), AudioParams::default());
    for (frames, rate, ch) in
        [(0usize, 8_000u32, 1u16), (100, 8_000, 1), (48_000 * 3, 48_000, 6), (8_000 * 12, 8_000, 1)]
    {
        let mut a =
            AudioBuffer::new(vec![0.0; frames * usize::from(ch)], ch, rate, SampleFormat::Float)
                .unwrap();
        embedder.embed(&mut a, ID).unwrap();
        assert!(a.samples().iter().all(|s| *s == 0.0), "silence stays silent");
        assert_eq!(detector.detect(&a).unwrap().id(), None);
    }
}

/// Runs `cmd` through `sh -c` with `{in}` and `{out}` replaced.
fn external(cmd: &str, input: &std::path::Path, output: &std::path::Path) -> bool {
    let line = cmd
        .replace("{in}", &input.display().to_string())
        .replace("{out}", &output.display().to_string());
    Command::new("sh").arg("-c").arg(line).status().map(|s| s.success()).unwrap_or(false)
}

#[test]
#[ignore = "needs lame, ffmpeg, oggenc, opusenc and sox; slow"]
fn full_attack_sweep_with_real_encoders() {
    let attacks: &[(&str, &str)] = &[
        ("mp3_320", "lame --quiet -b 320 {in} {out}.mp3 && ffmpeg -loglevel error -y -i {out}.mp3 {out}"),
        ("mp3_128", "lame --quiet -b 128 {in} {out}.mp3 && ffmpeg -loglevel error -y -i {out}.mp3 {out}"),
        ("mp3_64", "lame --quiet -b 64 {in} {out}.mp3 && ffmpeg -loglevel error -y -i {out}.mp3 {out}"),
        ("aac_128", "ffmpeg -loglevel error -y -i {in} -c:a aac -b:a 128k {out}.m4a && ffmpeg -loglevel error -y -i {out}.m4a {out}"),
        ("vorbis_q3", "oggenc -Q -q 3 -o {out}.ogg {in} && ffmpeg -loglevel error -y -i {out}.ogg {out}"),
        ("opus_32", "opusenc --quiet --bitrate 32 {in} {out}.opus && ffmpeg -loglevel error -y -i {out}.opus {out}"),
        ("resample_16000", "sox {in} -r 16000 {out}.wav rate -v && sox {out}.wav {out} rate -v $(soxi -r {in})"),
        ("lowpass_4k", "sox {in} {out} sinc -4000"),
        ("highpass_300", "sox {in} {out} sinc 300"),
        ("reverb", "sox {in} {out} reverb 50 50 60"),
        ("tempo_+1%", "sox {in} {out} tempo 1.01"),
        ("tempo_-1%", "sox {in} {out} tempo 0.99"),
        ("tempo_+3%", "sox {in} {out} tempo 1.03"),
        ("tempo_-3%", "sox {in} {out} tempo 0.97"),
        ("speed_+3%", "sox {in} {out} speed 1.03 rate -v $(soxi -r {in})"),
        ("pitch_+1semitone", "sox {in} {out} pitch 100"),
        ("pink_noise_20db", "sox {in} -p synth pinknoise vol 0.05 | sox -m {in} - {out}"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let detector = AudioDetector::new(&key(), AudioParams::default());
    let mut lost = Vec::new();
    for name in CLIPS {
        let m = marked(name);
        let src = dir.path().join(format!("marked-{name}"));
        std::fs::write(&src, audio_codec::encode_wav(&m).unwrap()).unwrap();
        for (attack, cmd) in attacks {
            let out = dir.path().join(format!("{attack}-{name}"));
            assert!(external(cmd, &src, &out), "{attack}: command failed (tools installed?)");
            let a = audio_codec::decode(&std::fs::read(&out).unwrap(), &DecodeLimits::default())
                .unwrap();
            let r = detector.detect(&a).unwrap();
            eprintln!("{name:45} {attack:18} id={:?} score={:.1}", r.id(), r.score);
            if r.id() != Some(ID) {
                lost.push(format!("{name}/{attack}"));
            }
        }
    }
    eprintln!("lost: {lost:?}");
    assert!(lost.len() <= attacks.len() * CLIPS.len() / 10, "lost the mark under: {lost:?}");
}

fn stamper(
    visible: provmark_core::stamp::VisibleOptions,
) -> provmark_core::stamp::Stamper<provmark_core::SigningKey> {
    use provmark_core::stamp::{StampSettings, Stamper};
    use provmark_core::{ProducerCode, ProviderInfo, SigningKey};
    let signer = SigningKey::from_seed(&[3; 32]);
    let vk = signer.verifying_key();
    let provider = ProviderInfo {
        name: "test".into(),
        producer_code: "001191440300708461136T1XGW3".parse::<ProducerCode>().unwrap(),
        public_key: vk.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
        key_id: vk.key_id().to_string(),
        detection_key: None,
    };
    let settings = StampSettings {
        image: provmark_core::image::ImageParams::default(),
        audio: AudioParams::default(),
        visible,
        model: "m".into(),
        ledger_origin: "test".into(),
    };
    Stamper::new(&key(), signer, provider, settings)
}

/// Every bundled clip (3 s speech in FLAC and MP3, 12 s stereo music, 26 s speech), stamped
/// through the same path as `provmark stamp` (decode, mark, encode, signed label) and detected
/// through the same path as `provmark verify`, unattacked, yields its ID.
#[test]
fn stamping_each_bundled_clip_then_detecting_finds_the_id() {
    use provmark_core::stamp::{Detectors, VisibleOptions};
    let stamper = stamper(VisibleOptions::default());
    let detectors = Detectors::new(&[key()]);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/audio");
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 4);
    for (i, path) in names.iter().enumerate() {
        let id = ContentId::from_u64(0x1234_5678_0000_0000 + i as u64);
        let stamped = stamper.stamp(&std::fs::read(path).unwrap(), id, "2026-11-28T00:00:00Z");
        let stamped = stamped.unwrap();
        let found = detectors.detect(&stamped.bytes).unwrap();
        assert_eq!(found.id, Some(id), "{}: score {}", path.display(), found.score);
        assert!(found.p_value <= 1e-12);
    }
}

/// The embedder's self-check is what `stamp` reports to the user, so it must agree with the
/// detector: over several IDs on the 3 s clip, every `Some(true)` is found by a fresh detector
/// and every `Some(false)` is not.
#[test]
fn the_embedders_self_check_agrees_with_the_detector() {
    let detector = AudioDetector::new(&key(), AudioParams::default());
    let embedder = AudioEmbedder::new(&key(), AudioParams::default());
    let original = clip("flac16-16000-mono-3s-librivox.flac");
    let mut outcomes = Vec::new();
    for i in 0..6u64 {
        let id = ContentId::from_u64(0x5eed_0000_0000_0000 | (i * 0x1111_1111));
        let mut audio = original.clone();
        let check = embedder.embed_checked(&mut audio, id).unwrap();
        let found = detector.detect(&audio).unwrap().id() == Some(id);
        assert_eq!(check, Some(found), "id {id}: self-check {check:?}, detector found {found}");
        outcomes.push(found);
    }
    assert!(outcomes.iter().any(|&f| f), "no ID decoded on the 3 s clip: {outcomes:?}");
    // Audio longer than the self-check covers is not checked.
    let long = clip("pcm16-16000-mono-26s-librivox.wav");
    let samples: Vec<f32> = long.samples().iter().copied().cycle().take(16_000 * 130).collect();
    let mut long = rebuild(&long, samples, 1);
    let check = embedder.embed_checked(&mut long, ContentId::from_u64(7)).unwrap();
    assert_eq!(check, None);
}

/// Short clips carry one block of the mark, so their decoding margin depends on how the coded
/// bits meet the host; the self-check's boost (budget and depth cap) and its uniform-gain
/// fallback must make every ID decode, not most. Two keys, 8 IDs each on the 3 s speech clips
/// and 4 on the 12 s music, written as 16-bit WAV and read back, found by a fresh detector.
#[test]
fn short_clips_decode_under_every_key_and_id_tried() {
    let mut missed = Vec::new();
    let mut tried = 0;
    for (name, ids) in [
        ("flac16-16000-mono-3s-librivox.flac", 8u64),
        ("mp3-16000-mono-3s-librivox.mp3", 8),
        ("pcm16-44100-stereo-12s-drascula.wav", 4),
    ] {
        let original = clip(name);
        for k in 0..2u8 {
            let key = WatermarkKey::from_bytes([0x40 + k; 32]);
            let embedder = AudioEmbedder::new(&key, AudioParams::default());
            let detector = AudioDetector::new(&key, AudioParams::default());
            for i in 0..ids {
                let id = ContentId::from_u64(
                    0x0bad_cafe_0000_0000 ^ (i * 0x0101_0101_0101) ^ u64::from(k),
                );
                let mut audio = original.clone();
                embedder.embed(&mut audio, id).unwrap();
                // As written: a 16-bit WAV rounds away a mark near one step in quiet passages.
                let wav = audio_codec::encode(&audio, audio_codec::AudioFormat::Wav).unwrap();
                let stored = audio_codec::decode(&wav, &DecodeLimits::default()).unwrap();
                tried += 1;
                if detector.detect(&stored).unwrap().id() != Some(id) {
                    missed.push(format!("{name} key {k} id {id}"));
                }
            }
        }
    }
    assert!(missed.is_empty(), "{} of {tried} missed: {missed:?}", missed.len());
}

/// A 130 s recording (the 26 s speech five times), as WAV and as FLAC, with a cue at both
/// ends: stamped as a stream it gives exactly the bytes, hash, fingerprint and cue placement
/// of stamping it whole, and its ID is found.
#[test]
fn stamping_a_long_stream_equals_stamping_it_whole() {
    use provmark_core::audio_codec::{AudioFormat, AudioReader};
    use provmark_core::stamp::{Detectors, VisibleOptions};
    use provmark_core::visible::{CuePosition, CueStyle};
    let cue = CueStyle::builder().position(CuePosition::Both).build().unwrap();
    let stamper = stamper(VisibleOptions { image: None, audio: Some(cue) });
    let base = clip("pcm16-16000-mono-26s-librivox.wav");
    let long = rebuild(&base, base.samples().repeat(5), 1);
    let created = "2026-11-29T00:00:00Z";
    for format in [AudioFormat::Wav, AudioFormat::Flac] {
        let input = audio_codec::encode(&long, format).unwrap();
        let whole = stamper.stamp(&input, ID, created).unwrap();
        let mut limits = DecodeLimits::default();
        limits.max_samples = u64::MAX;
        let mut reader = AudioReader::from_bytes(&input, &limits).unwrap();
        let (mut scratch, mut out) = (std::io::Cursor::new(Vec::new()), Vec::new());
        let s = stamper
            .stamp_audio_stream(&mut reader, format, (&mut scratch, &mut out), ID, created)
            .unwrap();
        assert!(out == whole.bytes, "{format:?}: {} vs {} bytes", out.len(), whole.bytes.len());
        assert_eq!(s.bytes_written, out.len() as u64);
        assert_eq!(s.media_sha256, whole.media_sha256);
        assert_eq!(s.fingerprint, whole.fingerprint);
        assert_eq!(s.visible, whole.visible);
        assert_eq!(s.extension, whole.extension);
        assert_eq!(whole.watermark_self_check, None);
        let found = Detectors::new(&[key()]).detect(&out).unwrap();
        assert_eq!(found.id, Some(ID), "{format:?}");
    }
}
