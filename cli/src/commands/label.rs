//! `provmark label IN OUT`: add a visible identifier (image text label or audio cue).

use std::path::Path;

use anyhow::{bail, Context as _};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat};
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
    let applied = if is_wav(&args.input) {
        if !is_wav(&args.output) {
            bail!("audio output must be .wav (other audio formats arrive with the codec modules)");
        }
        label_audio(args)?
    } else {
        label_image(args)?
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

fn is_wav(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("wav"))
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

fn label_image(args: &LabelArgs) -> anyhow::Result<VisibleIdentifier> {
    let format = ImageFormat::from_path(&args.output)
        .with_context(|| format!("unknown output image format for `{}`", args.output.display()))?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) {
        bail!("supported image outputs: .png, .jpg/.jpeg, .webp (lossless)");
    }
    let mut img = image::open(&args.input)
        .with_context(|| format!("cannot read image `{}`", args.input.display()))?;
    let style = LabelStyle::builder()
        .text(LabelText::new(&args.text)?)
        .position(args.position.parse()?)
        .backing(args.backing.parse()?)
        .min_height_fraction(args.height_percent / 100.0)
        .build()?;
    let placement = apply_image_label(&mut img, &style)?;
    save_image(&img, &args.output, format)?;
    Ok(VisibleIdentifier::ImageLabel(placement))
}

fn save_image(img: &DynamicImage, out: &Path, format: ImageFormat) -> anyhow::Result<()> {
    let context = || format!("cannot write `{}`", out.display());
    let mut bytes = std::io::Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))
                .with_context(context)?;
        }
        ImageFormat::WebP => {
            // The WebP encoder takes 8-bit RGB(A) only.
            let eight = if img.color().has_alpha() {
                DynamicImage::ImageRgba8(img.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(img.to_rgb8())
            };
            eight.write_to(&mut bytes, format).with_context(context)?;
        }
        _ => img.write_to(&mut bytes, format).with_context(context)?,
    }
    // Atomic: a failed write (a full disk) leaves no partial output.
    write_replace(out, bytes.get_ref())
}

/// Reads a WAV file as interleaved f32 in [-1, 1].
fn read_wav(path: &Path) -> anyhow::Result<(Vec<f32>, hound::WavSpec)> {
    let mut r = hound::WavReader::open(path)
        .with_context(|| format!("cannot read WAV `{}`", path.display()))?;
    let spec = r.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            if !(8..=32).contains(&spec.bits_per_sample) {
                bail!("unsupported WAV bit depth {}", spec.bits_per_sample);
            }
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()?
        }
    };
    Ok((samples, spec))
}

fn label_audio(args: &LabelArgs) -> anyhow::Result<VisibleIdentifier> {
    let (mut samples, spec) = read_wav(&args.input)?;
    let mut builder = CueStyle::builder().position(args.cue.parse()?).tone(ToneParams {
        frequency_hz: args.tone_hz,
        unit_ms: args.unit_ms,
        level_dbfs: args.level_dbfs,
        ..ToneParams::default()
    });
    if let (Some(clip), Some(transcript)) = (&args.spoken, &args.transcript) {
        let (clip_samples, clip_spec) = read_wav(clip)?;
        builder = builder.spoken(SpokenClip {
            samples: clip_samples,
            rate: clip_spec.sample_rate,
            channels: clip_spec.channels,
            transcript: LabelText::new(transcript)?,
        });
    }
    let placement =
        apply_audio_cue(&mut samples, spec.sample_rate, spec.channels, &builder.build()?)?;
    // Same rate, channels, bit depth and sample format as the input.
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut bytes, spec)
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for s in &samples {
                w.write_sample(*s)?;
            }
        }
        hound::SampleFormat::Int => {
            let max = ((1u64 << (spec.bits_per_sample - 1)) - 1) as f32;
            let min = -max - 1.0;
            for s in &samples {
                let v = (s * (max + 1.0)).round().clamp(min, max) as i32;
                w.write_sample(v)?;
            }
        }
    }
    w.finalize()?;
    // Atomic: a failed write (a full disk) leaves no partial output.
    write_replace(&args.output, bytes.get_ref())?;
    Ok(VisibleIdentifier::AudioCue(placement))
}
