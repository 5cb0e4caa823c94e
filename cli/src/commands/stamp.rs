//! `provmark stamp`: watermark, sign and log every file, in batches.
//!
//! Per file: new content ID → decode → (visible identifier) → watermark → encode → signed
//! metadata → synced temporary file beside the output. Per batch: one durable ledger commit
//! of all records, then each temporary file is renamed into place. So no stamped file
//! exists without its committed record. After a crash, the next run finishes what was
//! committed (a temporary file whose ID the ledger holds is renamed into place), discards
//! what was not, and skips outputs that are already stamped: no record is lost or written
//! twice.

use std::fs;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use provmark_core::audio::AudioParams;
use provmark_core::audio_codec::AudioFormat;
use provmark_core::image::ImageParams;
use provmark_core::stamp::{Kind, StampSettings, Stamped, StampedStream, Stamper, VisibleOptions};
use provmark_core::visible::{CueStyle, LabelStyle};
use provmark_core::{container, ContentId, Identity, SigningKey};
use provmark_ledger::{Fingerprint, LabelFlags, Ledger, MediaKind, Record};
use rayon::prelude::*;
use serde_json::json;

use super::{home, Status};
use crate::args::StampArgs;
use crate::pipeline::files::{rename_synced, write_synced};
use crate::pipeline::inputs::{self, Destination, Job};

/// A file stamped into its temporary path: its ID, the stamp, and its final path.
type TempStamp = (ContentId, Done, PathBuf);

/// What the record and the report need of a stamped file (held whole or streamed).
struct Done {
    kind: Kind,
    media_sha256: [u8; 32],
    fingerprint: provmark_core::fingerprint::Fingerprint,
    visible: bool,
    /// The embedder's self-check (`None`: audio too long to check).
    self_check: Option<bool>,
    bytes: u64,
}

impl Done {
    fn whole(s: &Stamped) -> Self {
        Self {
            kind: s.kind,
            media_sha256: s.media_sha256,
            fingerprint: s.fingerprint,
            visible: s.visible.is_some(),
            self_check: s.watermark_self_check,
            bytes: s.bytes.len() as u64,
        }
    }

    fn streamed(s: &StampedStream) -> Self {
        Self {
            kind: Kind::Audio,
            media_sha256: s.media_sha256,
            fingerprint: s.fingerprint,
            visible: s.visible.is_some(),
            self_check: None,
            bytes: s.bytes_written,
        }
    }
}

/// What happened to one file.
enum Outcome {
    Stamped {
        id: ContentId,
        kind: Kind,
        index: u64,
        output: PathBuf,
        bytes: u64,
        /// The embedder's self-check (`None`: audio too long to check).
        self_check: Option<bool>,
    },
    Skipped {
        id: ContentId,
        reason: &'static str,
        output: PathBuf,
    },
    Failed(String),
}

pub fn run(args: &StampArgs) -> anyhow::Result<Status> {
    let started = Instant::now();
    let identity = home::load_or_create(&args.home)?;
    let ledger_url = args
        .ledger
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", args.home.join("ledger.db").display()));
    let mut ledger = provmark_ledger::open(&ledger_url)
        .with_context(|| format!("cannot open the ledger `{ledger_url}`"))?;
    let origin = provmark_ledger::default_origin(&identity.provider.producer_code);
    let note_signer =
        provmark_ledger::NoteSigner::from_signing_key(&origin, &identity.signing_key)?;
    ledger
        .set_signer(provmark_ledger::NoteSigner::from_signing_key(&origin, &identity.signing_key)?);

    let dest = match &args.out {
        Some(dir) => Destination::Folder(dir.clone()),
        None => Destination::InPlace,
    };
    let jobs = inputs::collect(&args.inputs, &dest)?;
    let stamper = build_stamper(args, &identity, &origin)?;
    let batch_id = ContentId::random()?.as_u64();
    let progress = progress_bar(jobs.len(), args.json);

    let (mut stamped, mut skipped, mut failed, mut bytes_out) = (0usize, 0usize, 0usize, 0u64);
    for chunk in jobs.chunks(usize::try_from(args.batch).unwrap_or(64)) {
        let outcomes =
            process_batch(chunk, &stamper, &identity, &mut ledger, batch_id, &args.model, &dest)?;
        for (job, outcome) in chunk.iter().zip(outcomes) {
            match &outcome {
                Outcome::Stamped { bytes, .. } => {
                    stamped += 1;
                    bytes_out += bytes;
                }
                Outcome::Skipped { .. } => skipped += 1,
                Outcome::Failed(_) => failed += 1,
            }
            report(job, &outcome, args.json, progress.as_ref());
            if let Some(p) = &progress {
                p.inc(1);
            }
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if stamped > 0 {
        ledger.checkpoint(&note_signer).context("cannot sign a checkpoint of the ledger")?;
    }
    #[allow(clippy::print_stderr, reason = "the summary is a diagnostic")]
    {
        eprintln!(
            "stamped {stamped} file(s) ({:.1} MB), skipped {skipped} already stamped, {failed} failed, in {:.2} s; ledger `{ledger_url}`",
            bytes_out as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if failed > 0 { Status::Failed } else { Status::Success })
}

fn build_stamper(
    args: &StampArgs,
    identity: &Identity,
    origin: &str,
) -> anyhow::Result<Stamper<SigningKey>> {
    // `--strength` scales the image mark; the audio mark's strength is its SNR target,
    // kept at the default that meets the quality bar.
    let mut image = ImageParams::builder();
    if let Some(s) = args.strength {
        image = image.strength(s);
    }
    let visible = if args.visible_label {
        VisibleOptions { image: Some(LabelStyle::default()), audio: Some(CueStyle::default()) }
    } else {
        VisibleOptions::default()
    };
    let settings = StampSettings {
        image: image.build()?,
        audio: AudioParams::default(),
        visible,
        model: args.model.clone(),
        ledger_origin: origin.to_owned(),
    };
    Ok(Stamper::new(
        &identity.watermark_key,
        identity.signing_key.clone(),
        identity.provider.clone(),
        settings,
    ))
}

/// Stamps one batch: recover/skip first, stamp the rest in parallel into synced temporary
/// files, commit all records at once, then rename.
fn process_batch(
    chunk: &[Job],
    stamper: &Stamper<SigningKey>,
    identity: &Identity,
    ledger: &mut Ledger,
    batch_id: u64,
    model: &str,
    dest: &Destination,
) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(chunk.len());
    for job in chunk {
        outcomes.push(resume(job, ledger)?);
    }
    let (created, created_unix) = now();
    let todo: Vec<usize> = (0..chunk.len()).filter(|&i| outcomes[i].is_none()).collect();
    let results: Vec<(usize, anyhow::Result<TempStamp>)> =
        todo.par_iter().map(|&i| (i, stamp_to_temp(&chunk[i], stamper, &created))).collect();

    let mut records = Vec::new();
    let mut pending = Vec::new();
    for (i, result) in results {
        match result {
            Ok((id, s, output)) => {
                records.push(record(identity, id, &s, created_unix, batch_id, model));
                pending.push((i, id, s, output));
            }
            Err(e) => outcomes[i] = Some(Outcome::Failed(format!("{e:#}"))),
        }
    }
    // The one durable commit of the batch. If it fails, nothing of the batch is logged:
    // remove the temporary files so no unlogged output can ever be renamed into place.
    let indexes = match ledger.append_batch(&records) {
        Ok(ix) => ix,
        Err(e) => {
            for (_, _, _, output) in &pending {
                let _ = fs::remove_file(temp_path(output));
            }
            return Err(anyhow::Error::new(e)
                .context("the ledger commit failed; nothing of this batch was stamped"));
        }
    };
    for ((i, id, s, output), index) in pending.into_iter().zip(indexes) {
        let job = &chunk[i];
        outcomes[i] = Some(match rename_synced(&temp_path(&output), &output) {
            Ok(()) => {
                if output != job.output && matches!(dest, Destination::InPlace) {
                    // In place with a new extension (lossy audio written as FLAC): the
                    // stamped file replaces the input.
                    let _ = fs::remove_file(&job.input);
                }
                Outcome::Stamped {
                    id,
                    kind: s.kind,
                    index,
                    output,
                    bytes: s.bytes,
                    self_check: s.self_check,
                }
            }
            Err(e) => {
                Outcome::Failed(format!("{e:#} (the record {id} is committed; re-run to finish)"))
            }
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("not processed".into())))
        .collect())
}

/// Finishes what an interrupted run committed, discards what it did not, and skips outputs
/// that are already stamped and logged.
fn resume(job: &Job, ledger: &mut Ledger) -> anyhow::Result<Option<Outcome>> {
    for output in candidate_outputs(job) {
        let tmp = temp_path(&output);
        if tmp.exists() {
            if let Some(id) = logged_id(&tmp, ledger)? {
                rename_synced(&tmp, &output)?;
                return Ok(Some(Outcome::Skipped { id, reason: "recovered", output }));
            }
            fs::remove_file(&tmp).with_context(|| format!("cannot remove `{}`", tmp.display()))?;
        }
        if output.exists() {
            if let Some(id) = logged_id(&output, ledger)? {
                return Ok(Some(Outcome::Skipped { id, reason: "already stamped", output }));
            }
        }
    }
    Ok(None)
}

/// The output paths a job may have produced: its own, or with a `.flac` extension for
/// audio inputs that are written as FLAC.
fn candidate_outputs(job: &Job) -> Vec<PathBuf> {
    let mut v = vec![job.output.clone()];
    let flac = job.output.with_extension("flac");
    if flac != job.output {
        v.push(flac);
    }
    v
}

fn temp_path(output: &Path) -> PathBuf {
    Job { input: output.to_path_buf(), output: output.to_path_buf() }.temp_path()
}

/// The content ID of a stamped file whose record is in the ledger with the same media hash.
fn logged_id(path: &Path, ledger: &mut Ledger) -> anyhow::Result<Option<ContentId>> {
    // WAV and FLAC are read as streams (an hour of audio is 635 MB); the rest whole.
    let Ok((report, hash)) = fs::File::open(path)
        .and_then(|mut f| container::inspect_stream(&mut f).map_err(std::io::Error::other))
    else {
        return Ok(None);
    };
    let Some(id) =
        report.parsed_labels().find_map(|(_, p)| p.label.produce_id.parse::<ContentId>().ok())
    else {
        return Ok(None);
    };
    let Ok(hash) = hash else { return Ok(None) };
    let found = ledger.find_by_id(id).context("ledger lookup failed")?;
    Ok(found.filter(|f| f.record.media_sha256 == hash).map(|_| id))
}

fn stamp_to_temp(
    job: &Job,
    stamper: &Stamper<SigningKey>,
    created: &str,
) -> anyhow::Result<TempStamp> {
    let id = ContentId::random()?;
    if let Some(done) = stamp_streamed(job, stamper, id, created)? {
        return Ok(done);
    }
    let input =
        fs::read(&job.input).with_context(|| format!("cannot read `{}`", job.input.display()))?;
    let stamped = stamper.stamp(&input, id, created)?;
    let output = output_path(job, stamped.extension);
    let tmp = temp_path(&output);
    // A failed write (a full disk) leaves no partial temporary file behind.
    write_synced(&tmp, &stamped.bytes).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok((id, Done::whole(&stamped), output))
}

/// Audio longer than the embedder's self-check (2 minutes) whose container states its
/// length is stamped as a stream, in memory bounded by a few seconds of audio whatever its
/// length: the encoded audio goes to an unnamed scratch file beside the output (gone when
/// closed, even if the process is killed), then the labelled file to the synced temporary
/// path. `None`: stamp it whole (short, not audio, or fewer frames than the header states).
fn stamp_streamed(
    job: &Job,
    stamper: &Stamper<SigningKey>,
    id: ContentId,
    created: &str,
) -> anyhow::Result<Option<TempStamp>> {
    let Some((mut reader, format)) = super::watermark_audio::open_long(&job.input)? else {
        return Ok(None);
    };
    let output = output_path(job, if format == AudioFormat::Wav { "wav" } else { "flac" });
    let tmp = temp_path(&output);
    let dir = tmp.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let result = (|| -> anyhow::Result<StampedStream> {
        let mut scratch = tempfile::tempfile_in(dir)
            .with_context(|| format!("cannot create a scratch file in `{}`", dir.display()))?;
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot create `{}`", tmp.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let s = stamper.stamp_audio_stream(
            &mut reader,
            format,
            (&mut scratch, &mut out),
            id,
            created,
        )?;
        let file = out.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all().with_context(|| format!("cannot sync `{}`", tmp.display()))?;
        Ok(s)
    })();
    match result {
        Ok(s) => Ok(Some((id, Done::streamed(&s), output))),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            // Fewer frames than the header states (a truncated recording): decode what is
            // there, whole.
            if matches!(e.downcast_ref(), Some(provmark_core::Error::Decode { .. })) {
                return Ok(None);
            }
            Err(e.context(format!("cannot stamp `{}`", job.input.display())))
        }
    }
}

/// The job's output path, with the extension of the format actually written when it
/// differs (an MP3 stamped as FLAC).
fn output_path(job: &Job, extension: &str) -> PathBuf {
    let current = job.output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let same = match (current.as_deref(), extension) {
        (Some("jpeg" | "jpg"), "jpg") | (Some("wave" | "wav"), "wav") => true,
        (Some(c), e) => c == e,
        (None, _) => false,
    };
    if same {
        job.output.clone()
    } else {
        job.output.with_extension(extension)
    }
}

fn record(
    identity: &Identity,
    id: ContentId,
    s: &Done,
    created_unix: u64,
    batch_id: u64,
    model: &str,
) -> Record {
    let (kind, alg, flags) = match s.kind {
        Kind::Image => {
            (MediaKind::Image, provmark_core::stamp::IMAGE_ALGORITHM, LabelFlags::IMAGE_TEXT)
        }
        Kind::Audio => {
            (MediaKind::Audio, provmark_core::stamp::AUDIO_ALGORITHM, LabelFlags::AUDIO_CUE)
        }
    };
    Record {
        content_id: id,
        kind,
        producer_code: identity.provider.producer_code.clone(),
        key_id: identity.signing_key.key_id(),
        model: model.to_owned(),
        created_unix,
        media_sha256: s.media_sha256,
        fingerprint: Some(Fingerprint(s.fingerprint)),
        watermark_algorithm: alg.0.to_owned(),
        watermark_version: alg.1,
        visible_label: if s.visible { flags } else { LabelFlags::NONE },
        batch_id,
    }
}

/// The current time as RFC 3339 (UTC, seconds) and as Unix seconds.
fn now() -> (String, u64) {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (rfc3339(secs), secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, days-from-civil).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn progress_bar(len: usize, json: bool) -> Option<indicatif::ProgressBar> {
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn report(job: &Job, outcome: &Outcome, json: bool, progress: Option<&indicatif::ProgressBar>) {
    let file = job.input.display().to_string();
    let (line, human) = match outcome {
        Outcome::Stamped { id, kind, index, output, self_check, .. } => {
            let mut line = json!({"file": file, "status": "stamped", "id": id,
                   "kind": kind_name(*kind), "output": output.display().to_string(),
                   "ledger_index": index});
            let mut human =
                format!("stamped  {file} -> {} (id {id}, ledger #{index})", output.display());
            if let Some(ok) = self_check {
                line["watermark_self_check"] = json!(ok);
            }
            if *self_check == Some(false) {
                human.push_str(
                    "\n         warning: the watermark did not read back cleanly in the \
                     embedder's self-check (a clip too short, or media too busy or too hard for \
                     the mark); the signed label and the ledger record carry the ID",
                );
            }
            (line, human)
        }
        Outcome::Skipped { id, reason, output } => (
            json!({"file": file, "status": "skipped", "reason": reason, "id": id,
                   "output": output.display().to_string()}),
            format!("skipped  {file}: {reason} (id {id})"),
        ),
        Outcome::Failed(e) => {
            (json!({"file": file, "status": "failed", "error": e}), format!("FAILED   {file}: {e}"))
        }
    };
    #[allow(clippy::print_stdout, clippy::print_stderr, reason = "the CLI reports per file")]
    if json {
        println!("{line}");
    } else if let Some(p) = progress {
        p.println(human);
    } else {
        eprintln!("{human}");
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Image => "image",
        Kind::Audio => "audio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_867_200), "2026-11-28T12:00:00Z");
    }

    #[test]
    fn lossy_audio_outputs_take_the_written_extension() {
        let job = Job { input: "a/x.mp3".into(), output: "o/x.mp3".into() };
        assert_eq!(output_path(&job, "flac"), PathBuf::from("o/x.flac"));
        let job = Job { input: "a/x.JPEG".into(), output: "o/x.JPEG".into() };
        assert_eq!(output_path(&job, "jpg"), PathBuf::from("o/x.JPEG"));
    }
}
