//! `provmark verify`: one verdict per file from the watermark, the signed label and the
//! ledger, with the evidence behind it.

use std::fs;
use std::path::Path;

use anyhow::Context as _;
use provmark_core::manifest::{self, LabelValue, MetadataReport, Verification};
use provmark_core::stamp::{Detectors, Finding};
use provmark_core::verdict::{self, Evidence, Judgement, LedgerEvidence, Verdict};
use provmark_core::{container, ContentId, Keyring, ProducerCode};
use provmark_ledger::Ledger;
use rayon::prelude::*;
use serde_json::{json, Value};

use super::{home, Status};
use crate::args::VerifyArgs;
use crate::pipeline::files::write_atomic;

/// What was found in one file before the ledger is asked.
struct Inspection {
    watermark: Result<Finding, String>,
    verification: Verification,
    metadata_problems: Vec<String>,
    /// The label's `ContentProducer`, if a label parsed.
    claimed_producer: Option<String>,
}

/// Reads every layer of one file held in memory.
fn inspect(bytes: &[u8], detectors: &Detectors, keyring: &Keyring) -> Inspection {
    let report = container::read_metadata(bytes);
    let hash = container::media_hash(bytes).ok();
    let watermark = detectors.detect(bytes).map_err(|e| e.to_string());
    inspection(report, hash, watermark, keyring)
}

fn inspection(
    report: MetadataReport,
    hash: Option<[u8; 32]>,
    watermark: Result<Finding, String>,
    keyring: &Keyring,
) -> Inspection {
    let verification = manifest::verify(&report, hash.as_ref(), keyring);
    let claimed_producer =
        report.parsed_labels().next().map(|(_, p)| p.label.content_producer.clone());
    Inspection { watermark, verification, metadata_problems: report.problems, claimed_producer }
}

/// Reads every layer of the file at `path`. Audio longer than 2 minutes whose container
/// states its length is read as streams (an hour of audio decodes to over a gigabyte): the
/// watermark through the streamed detector, WAV and FLAC metadata and media hash through
/// the streamed container readers; the rest is read whole.
fn inspect_path(
    path: &Path,
    detectors: &Detectors,
    keyring: &Keyring,
) -> Result<Inspection, String> {
    let read_err = |e: &dyn std::fmt::Display| format!("cannot read `{}`: {e:#}", path.display());
    let long = super::watermark_audio::open_long(path).map_err(|e| read_err(&e))?;
    let Some((reader, _)) = long else {
        return fs::read(path).map(|b| inspect(&b, detectors, keyring)).map_err(|e| read_err(&e));
    };
    let watermark =
        super::watermark_audio::detect_long(detectors, path, &reader).map_err(|e| format!("{e:#}"));
    drop(reader);
    let (report, hash) = fs::File::open(path)
        .map_err(|e| read_err(&e))
        .and_then(|mut f| container::inspect_stream(&mut f).map_err(|e| read_err(&e)))?;
    Ok(inspection(report, hash.ok(), watermark, keyring))
}

/// What the ledger says of `id`, given the producer the file claims.
fn ask_ledger(
    ledger: &mut Ledger,
    id: ContentId,
    claimed: Option<&str>,
) -> anyhow::Result<(LedgerEvidence, Value)> {
    let Some(found) = ledger.find_by_id(id).context("ledger lookup failed")? else {
        return Ok((LedgerEvidence::NoRecord, json!({"found": false})));
    };
    let producer = found.record.producer_code.to_string();
    let agrees = claimed.is_none_or(|c| c == producer);
    let detail = json!({
        "found": true,
        "index": found.index,
        "producer_code": producer,
        "key_id": found.record.key_id.to_string(),
        "model": found.record.model,
        "created_unix": found.record.created_unix,
    });
    Ok((if agrees { LedgerEvidence::Confirmed } else { LedgerEvidence::Contradicts }, detail))
}

/// Verifies one file and returns its JSON report and verdict.
fn verify_one(
    path: &Path,
    inspection: &Inspection,
    ledger: Option<&mut Ledger>,
) -> anyhow::Result<(Value, Judgement)> {
    let v = &inspection.verification;
    let finding = inspection.watermark.as_ref().ok();
    let watermark_id = finding.and_then(|f| f.id);
    let mut evidence = Evidence { watermark_id, label: v.label_evidence(), ledger: None };
    let mut ledger_json = Value::Null;
    if let Some(ledger) = ledger {
        if let Some(id) = watermark_id.or(v.produce_id) {
            let (e, detail) = ask_ledger(ledger, id, inspection.claimed_producer.as_deref())?;
            evidence.ledger = Some(e);
            ledger_json = detail;
        }
    }
    let judgement = verdict::judge(&evidence);
    let watermark_json = match &inspection.watermark {
        Ok(f) => {
            json!({"found": f.id.is_some(), "id": f.id, "score": f.score, "p_value": f.p_value,
                        "kind": match f.kind { provmark_core::stamp::Kind::Image => "image", provmark_core::stamp::Kind::Audio => "audio" }})
        }
        Err(e) => json!({"found": false, "error": e}),
    };
    let producer = v.producer.as_ref().map(|p| {
        json!({"signature": format!("{:?}", p.signature), "binding": format!("{:?}", p.binding),
               "key": format!("{:?}", p.key), "key_id": p.key_id})
    });
    let report = json!({
        "file": path.display().to_string(),
        "verdict": judgement.verdict.as_str(),
        "id": judgement.id,
        "label_status": v.label.status.as_str(),
        "label_reasons": v.label.reasons,
        "reasons": judgement.reasons,
        "watermark": watermark_json,
        "label": {"present": inspection.claimed_producer.is_some(), "produce_id": v.produce_id, "producer": producer,
                  "provenance": format!("{:?}", v.provenance), "digital_source_type": v.digital_source_type,
                  "c2pa_present": v.c2pa_present, "problems": inspection.metadata_problems,
                  "visible_identifier": v.visible},
        "ledger": ledger_json,
    });
    Ok((report, judgement))
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<Status> {
    let (keyring, keys) = home::trusted(args.home.as_deref(), args.keyring.as_deref())?;
    if keys.is_empty() {
        anyhow::bail!("no watermark detection key: the keyring publishes none");
    }
    let detectors = Detectors::new(&keys);
    let mut ledger = match &args.ledger {
        Some(url) => Some(
            provmark_ledger::open(url)
                .with_context(|| format!("cannot open the ledger `{url}`"))?,
        ),
        None => None,
    };
    let inspections: Vec<Result<Inspection, String>> =
        args.files.par_iter().map(|f| inspect_path(f, &detectors, &keyring)).collect();

    let (mut problems, mut found_any, mut errors) = (false, false, false);
    for (path, inspection) in args.files.iter().zip(&inspections) {
        let (line, verdict) = match inspection {
            Ok(ins) => {
                let (report, j) = verify_one(path, ins, ledger.as_mut())?;
                (report, Some(j.verdict))
            }
            Err(e) => {
                (json!({"file": path.display().to_string(), "verdict": "error", "error": e}), None)
            }
        };
        match verdict {
            Some(Verdict::Modified | Verdict::Forged) => problems = true,
            Some(Verdict::Unmarked) => {}
            Some(_) => found_any = true,
            None => errors = true,
        }
        print_report(&line, args.json);
        if let (Some(code), Ok(_)) = (&args.propagate, inspection) {
            propagate(path, code, args)?;
        }
    }
    Ok(if problems || errors {
        Status::Failed
    } else if !found_any {
        Status::NotFound
    } else {
        Status::Success
    })
}

fn print_report(line: &Value, json: bool) {
    #[allow(clippy::print_stdout, reason = "the CLI's output")]
    if json {
        println!("{line}");
    } else {
        let id = line["id"].as_str().unwrap_or("-");
        let visible = &line["label"]["visible_identifier"];
        let visible = if visible.is_object() {
            format!(
                "\n    - the signed manifest names a visible identifier: {} \"{}\" at {}",
                visible["kind"].as_str().unwrap_or(""),
                visible["text"].as_str().unwrap_or(""),
                visible["position"].as_str().unwrap_or("")
            )
        } else {
            String::new()
        };
        println!(
            "{}: {} (id {id}, label {}){}{visible}",
            line["file"].as_str().unwrap_or(""),
            line["verdict"].as_str().unwrap_or("error"),
            line["label_status"].as_str().unwrap_or("-"),
            line["reasons"].as_array().map_or_else(String::new, |r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(|s| format!("\n    - {s}"))
                    .collect::<String>()
            })
        );
    }
}

/// The platform update of Measures Art. 6: fill the propagator fields, keep the producer's.
fn propagate(path: &Path, code: &str, args: &VerifyArgs) -> anyhow::Result<()> {
    let code: ProducerCode = code.parse()?;
    let id = home::load(args.home.as_deref().unwrap_or_else(|| Path::new(".provmark")))?;
    let mut propagator = id.provider.clone();
    propagator.producer_code = code;
    let label = match args.propagate_label.as_deref() {
        Some(l) => Some(LabelValue::parse(l).context("label must be 2 or 3")?),
        None => None,
    };
    let bytes = fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let propagate_id = ContentId::random()?.to_string();
    let out = container::propagate(&bytes, &propagator, &propagate_id, label, &id.signing_key)
        .with_context(|| format!("cannot propagate the label of `{}`", path.display()))?;
    write_atomic(path, &out)?;
    #[allow(clippy::print_stderr, reason = "diagnostic")]
    {
        eprintln!(
            "propagated `{}` as {} (PropagateID {propagate_id})",
            path.display(),
            propagator.producer_code
        );
    }
    Ok(())
}
