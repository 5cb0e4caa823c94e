//! `provmark label IN OUT`: add a visible identifier (image text label or audio cue).

use std::path::Path;

use anyhow::{bail, Context as _};
use provmark_core::audio::AudioBuffer;
use provmark_core::audio_codec::{self, AudioFormat, DecodeLimits};
use provmark_core::codec::image::{self as image_codec, ImageFormat};
use provmark_core::visible::{
    apply_audio_cue, apply_image_label, CueStyle, LabelStyle, LabelText, SpokenClip, ToneParams,
    VisibleIdentifier,
};

use super::Status;
use crate::args::LabelArgs;
use crate::pipeline::files::write_replace;

/// JPEG quality for labeled JPEG output.
const JPEG_QUALITY: u8 = 92;

pub fn run(args: &LabelArgs) -> anyhow::Result<Status> {
    let input = std::fs::read(&args.input)
        .with_context(|| format!("cannot read `{}`", args.input.display()))?;
    let applied = if audio_codec::sniff(&input).is_some() {
        label_audio(args, &input)?
    } else {
        label_image(args, &input)?
    };
    if args.json {
        let line = serde_json::json!({
            "input": args.input.display().to_string(),
            "output": args.output.display().to_string(),
            "visible_identifier": applied,
        });
        #[allow(clippy::print_stdout, reason = "the CLI prints its --json result")]
        {
            println!("{line}");
        }
    } else {
        #[allow(clippy::print_stderr, reason = "the CLI reports what it did")]
        {
            eprintln!("{}", describe(&applied, &args.output));
        }
    }
    Ok(Status::Success)
}

/// The audio format OUT's extension asks for: WAV or FLAC (the formats with an encoder).
fn audio_output_format(out: &Path) -> anyhow::Result<AudioFormat> {
    match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("wav" | "wave") => Ok(AudioFormat::Wav),
        Some("flac") => Ok(AudioFormat::Flac),
        _ => bail!(
            "audio output must be .wav or .flac (`{}`); MP3, Ogg and AAC are read, not written",
            out.display()
        ),
    }
}

/// Decodes any supported audio file (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A) within the default
/// limits.
fn decode_audio(bytes: &[u8], path: &Path) -> anyhow::Result<AudioBuffer> {
    audio_codec::decode(bytes, &DecodeLimits::default())
        .with_context(|| format!("cannot decode audio `{}`", path.display()))
}

fn describe(v: &VisibleIdentifier, out: &Path) -> String {
    match v {
        VisibleIdentifier::ImageLabel(p) => format!(
            "labeled `{}`: \"{}\" at {} ({}×{} px region at {},{}; glyphs {} px tall, required {} px)",
            out.display(),
            p.text,
            p.position,
            p.region.width,
            p.region.height,
            p.region.x,
            p.region.y,
            p.element_ink_height,
            p.required_height
        ),
        VisibleIdentifier::AudioCue(c) => format!(
            "added a {} cue at the {} of `{}` ({} Hz, {} ch, {} frames added)",
            c.cue,
            c.position,
            out.display(),
            c.rate,
            c.channels,
            c.added_frames
        ),
        _ => format!("labeled `{}`", out.display()),
    }
}

fn label_image(args: &LabelArgs, input: &[u8]) -> anyhow::Result<VisibleIdentifier> {
    let format = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ImageFormat::from_extension)
        .with_context(|| {
            format!(
                "supported image outputs: .png, .jpg/.jpeg, .webp (lossless), not `{}`",
                args.output.display()
            )
        })?;
    let mut img = image_codec::decode_any_size(input)
        .with_context(|| format!("cannot read image `{}`", args.input.display()))?
        .pixels;
    let style = LabelStyle::builder()
        .text(LabelText::new(&args.text)?)
        .position(args.position.parse()?)
        .backing(args.backing.parse()?)
        .min_height_fraction(args.height_percent / 100.0)
        .build()?;
    let placement = apply_image_label(&mut img, &style)?;
    let bytes = image_codec::encode(&img, format, Some(JPEG_QUALITY))
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    // Atomic: a failed write (a full disk) leaves no partial output.
    write_replace(&args.output, &bytes)?;
    Ok(VisibleIdentifier::ImageLabel(placement))
}

fn label_audio(args: &LabelArgs, input: &[u8]) -> anyhow::Result<VisibleIdentifier> {
    let format = audio_output_format(&args.output)?;
    let host = decode_audio(input, &args.input)?;
    let (channels, rate, sample_format) = (host.channels(), host.sample_rate(), host.format());
    let mut builder = CueStyle::builder().position(args.cue.parse()?).tone(ToneParams {
        frequency_hz: args.tone_hz,
        unit_ms: args.unit_ms,
        level_dbfs: args.level_dbfs,
        ..ToneParams::default()
    });
    if let (Some(clip), Some(transcript)) = (&args.spoken, &args.transcript) {
        let bytes =
            std::fs::read(clip).with_context(|| format!("cannot read `{}`", clip.display()))?;
        let spoken = decode_audio(&bytes, clip)?;
        builder = builder.spoken(SpokenClip {
            rate: spoken.sample_rate(),
            channels: spoken.channels(),
            samples: spoken.into_samples(),
            transcript: LabelText::new(transcript)?,
        });
    }
    let mut samples = host.into_samples();
    let placement = apply_audio_cue(&mut samples, rate, channels, &builder.build()?)?;
    // Same rate, channels, bit depth and sample format as the input.
    let labeled = AudioBuffer::new(samples, channels, rate, sample_format)?;
    let bytes = audio_codec::encode(&labeled, format)?;
    // Atomic: a failed write (a full disk) leaves no partial output.
    write_replace(&args.output, &bytes)?;
    Ok(VisibleIdentifier::AudioCue(placement))
}
