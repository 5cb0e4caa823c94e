//! `provmark watermark embed|detect`: the raw watermark, without ledger or metadata.
//!
//! Both dispatch on the media kind sniffed from the file's magic bytes, so the audio engine
//! plugs in as one more arm of the `match`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use provmark_core::audio::AudioParams;
use provmark_core::codec::image::{self as image_codec, ImageFormat};
use provmark_core::codec::MediaKind;
use provmark_core::image::{ImageDetector, ImageEmbedder, ImageParams};
use provmark_core::payload::false_positive_probability;
use provmark_core::{ContentId, Identity, Keyring, WatermarkKey};
use rayon::prelude::*;
use serde::Serialize;

use super::Status;
use crate::args::{WatermarkDetectArgs, WatermarkEmbedArgs};

/// Default identity directory.
const DEFAULT_HOME: &str = ".provmark";

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// The first bytes of a file, enough to sniff its kind.
fn read_head(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(head)
}

fn sniff(path: &Path, bytes: &[u8]) -> anyhow::Result<MediaKind> {
    MediaKind::sniff(bytes)
        .ok_or_else(|| anyhow!("`{}`: unrecognised media format", path.display()))
}

pub fn embed(args: &WatermarkEmbedArgs) -> anyhow::Result<Status> {
    let id: ContentId = args.id.parse()?;
    let identity = Identity::load(&args.home)
        .with_context(|| format!("cannot load the identity in `{}`", args.home.display()))?;
    let mut params = ImageParams::builder();
    if let Some(s) = args.strength {
        params = params.strength(s);
    }
    let params = params.build()?;
    // Only the first bytes to tell the kind: a long audio file is then streamed, not read
    // whole.
    let out = match sniff(&args.input, &read_head(&args.input)?)? {
        MediaKind::Png | MediaKind::Jpeg | MediaKind::WebP => {
            embed_image(&read(&args.input)?, &identity.watermark_key, params, id, args)?
        }
        MediaKind::Wav | MediaKind::Flac | MediaKind::Mp3 | MediaKind::Ogg | MediaKind::M4a => {
            super::watermark_audio::embed_audio(
                &identity.watermark_key,
                id,
                &args.input,
                &args.output,
                args.strength,
            )?;
            return Ok(Status::Success);
        }
        kind => bail!("`{}`: no watermark for {kind:?} files", args.input.display()),
    };
    crate::pipeline::files::write_replace(&args.output, &out)?;
    Ok(Status::Success)
}

fn embed_image(
    bytes: &[u8],
    key: &WatermarkKey,
    params: ImageParams,
    id: ContentId,
    args: &WatermarkEmbedArgs,
) -> anyhow::Result<Vec<u8>> {
    let mut decoded = image_codec::decode(bytes)
        .with_context(|| format!("cannot decode `{}`", args.input.display()))?;
    ImageEmbedder::new(key, params)
        .embed(&mut decoded.pixels, id)
        .with_context(|| format!("cannot mark `{}`", args.input.display()))?;
    let format = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ImageFormat::from_extension)
        .unwrap_or(decoded.format);
    let quality = args.quality.or(decoded.jpeg_quality);
    Ok(image_codec::encode(&decoded.pixels, format, quality)?)
}

/// One watermark key to try, with the provider it belongs to.
struct DetectKey {
    key_id: String,
    key: WatermarkKey,
    image: ImageDetector,
}

/// One line of `--json` output.
#[derive(Serialize)]
struct Report {
    file: String,
    detected: bool,
    id: Option<String>,
    score: f32,
    p_value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    attempts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The audio detector's own p-value (it counts its attempts itself).
    #[serde(skip)]
    audio_p_value: Option<f64>,
}

fn load_keys(args: &WatermarkDetectArgs) -> anyhow::Result<Vec<DetectKey>> {
    if let Some(path) = &args.keyring {
        let ring = Keyring::load(path)
            .with_context(|| format!("cannot load the keyring `{}`", path.display()))?;
        let mut found = Vec::new();
        for p in &ring.providers {
            if let Some(k) = p.detection_key()? {
                found.push((p.key_id.clone(), k));
            }
        }
        if found.is_empty() {
            bail!("no provider in `{}` publishes a detection key", path.display());
        }
        let params = ImageParams::builder()
            .max_false_positive(provmark_core::payload::per_key_bound(found.len()))
            .build()?;
        Ok(found
            .into_iter()
            .map(|(key_id, k)| DetectKey { key_id, image: ImageDetector::new(&k, params), key: k })
            .collect())
    } else {
        let home = args.home.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_HOME));
        let identity = Identity::load(&home)
            .with_context(|| format!("cannot load the identity in `{}`", home.display()))?;
        Ok(vec![DetectKey {
            key_id: identity.provider.key_id.clone(),
            image: ImageDetector::new(&identity.watermark_key, ImageParams::default()),
            key: identity.watermark_key.clone(),
        }])
    }
}

fn detect_file(path: &Path, keys: &[DetectKey]) -> Report {
    let mut report = Report {
        file: path.display().to_string(),
        detected: false,
        id: None,
        score: 0.0,
        p_value: 0.0,
        key_id: None,
        kind: None,
        attempts: 0,
        error: None,
        audio_p_value: None,
    };
    let result = (|| -> anyhow::Result<()> {
        match sniff(path, &read_head(path)?)? {
            MediaKind::Png | MediaKind::Jpeg | MediaKind::WebP => {
                report.kind = Some("image");
                let decoded = image_codec::decode(&read(path)?)?;
                let mut best_score = f32::MIN;
                for k in keys {
                    let d = k.image.detect(&decoded.pixels)?;
                    report.attempts += u64::from(d.attempts);
                    best_score = best_score.max(d.score);
                    if let Some(id) = d.id {
                        report.detected = true;
                        report.id = Some(id.to_string());
                        report.key_id = Some(k.key_id.clone());
                        best_score = d.score;
                        break;
                    }
                }
                report.score = best_score.max(0.0);
            }
            MediaKind::Wav | MediaKind::Flac | MediaKind::Mp3 | MediaKind::Ogg | MediaKind::M4a => {
                report.kind = Some("audio");
                let pairs: Vec<(String, WatermarkKey)> =
                    keys.iter().map(|k| (k.key_id.clone(), k.key.clone())).collect();
                let params = AudioParams::builder()
                    .max_false_positive(provmark_core::payload::per_key_bound(keys.len()))
                    .build()?;
                let a = super::watermark_audio::detect_audio(&pairs, path, &params)?;
                report.detected = a.detected;
                report.id = a.id;
                report.key_id = a.key_id;
                report.score = a.score;
                report.attempts = a.attempts;
                report.audio_p_value = Some(a.p_value);
            }
            kind => bail!("no watermark for {kind:?} files"),
        }
        Ok(())
    })();
    // Every attempt under every key counts towards the false-positive bound.
    report.p_value =
        report.audio_p_value.unwrap_or_else(|| false_positive_probability(report.attempts));
    if let Err(e) = result {
        report.error = Some(format!("{e:#}"));
    }
    report
}

pub fn detect(args: &WatermarkDetectArgs) -> anyhow::Result<Status> {
    let keys = load_keys(args)?;
    let reports: Vec<Report> = args.files.par_iter().map(|f| detect_file(f, &keys)).collect();
    let (mut found, mut errors) = (0usize, 0usize);
    for r in &reports {
        found += usize::from(r.detected);
        errors += usize::from(r.error.is_some());
        #[allow(clippy::print_stdout, clippy::print_stderr, reason = "the CLI's output")]
        if args.json {
            println!("{}", serde_json::to_string(r)?);
        } else if let Some(e) = &r.error {
            eprintln!("{}: error: {e}", r.file);
        } else if let Some(id) = &r.id {
            println!("{}: watermark {id} (score {:.3}, p <= {:.1e})", r.file, r.score, r.p_value);
        } else {
            println!("{}: no watermark found (best score {:.3})", r.file, r.score);
        }
    }
    Ok(if errors > 0 {
        Status::Error
    } else if found == reports.len() {
        Status::Success
    } else if found == 0 {
        Status::NotFound
    } else {
        Status::Failed
    })
}
