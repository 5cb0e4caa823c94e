//! `provmark trace`: from a file to its ledger record, with an inclusion proof and a signed
//! checkpoint; `--evidence` writes a bundle that `provmark ledger verify-evidence` checks
//! offline.
//!
//! Lookup order: the watermark ID, else the label's `ProduceID`, else the content hash of
//! the media bytes, else the nearest perceptual fingerprint within the match radius.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use provmark_core::fingerprint::{self, AUDIO_MATCH_RADIUS, IMAGE_MATCH_RADIUS};
use provmark_core::stamp::{Detectors, Finding, Kind};
use provmark_core::{container, ContentId};
use provmark_ledger::{Found, Ledger, NoteVerifier};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::{home, Status};
use crate::args::TraceArgs;
use crate::pipeline::files::write_atomic;

/// Version of the evidence bundle format.
pub const EVIDENCE_VERSION: u32 = 1;

pub fn run(args: &TraceArgs) -> anyhow::Result<Status> {
    let (keyring, keys) = home::trusted(args.home.as_deref(), args.keyring.as_deref())?;
    let detectors = Detectors::new(&keys);
    let mut ledger = provmark_ledger::open(&args.ledger)
        .with_context(|| format!("cannot open the ledger `{}`", args.ledger))?;
    // A provider tracing its own files can sign a fresh checkpoint when needed.
    if let Some(h) = &args.home {
        if let Ok(id) = home::load(h) {
            let origin = provmark_ledger::default_origin(&id.provider.producer_code);
            ledger.set_signer(provmark_ledger::NoteSigner::from_signing_key(
                &origin,
                &id.signing_key,
            )?);
        }
    }
    let subject = Subject::open(&args.file)?;
    let (found, how) = lookup(&subject, &detectors, &mut ledger)?;
    let Some(found) = found else {
        print(
            args.json,
            &json!({"file": args.file.display().to_string(), "found": false}),
            "no ledger record matches this file",
        );
        return Ok(Status::NotFound);
    };
    // The verifier key of the log, from the checkpoint origin and the record's provider.
    let provider =
        keyring.providers.iter().find(|p| p.key_id == found.record.key_id.to_string()).context(
            "the record's key id is not in the trusted keys, so its checkpoint cannot be checked",
        )?;
    let verifier = NoteVerifier::new(found.checkpoint.origin(), provider.verifying_key()?)?;
    found.verify(&verifier).context("the ledger's answer does not verify")?;
    let bundle = evidence(&found, how, &subject.sha256()?, &verifier);
    if let Some(path) = &args.evidence {
        write_atomic(path, serde_json::to_string_pretty(&bundle)?.as_bytes())?;
    }
    let r = &found.record;
    let human = format!(
        "found by {how}: ledger #{} of {}\n  id {}  kind {}  producer {}  key {}\n  model {:?}  created {} (unix)\n  proof verified against the signed checkpoint (tree size {})",
        found.index,
        found.checkpoint.origin(),
        r.content_id,
        r.kind.as_str(),
        r.producer_code,
        r.key_id,
        r.model,
        r.created_unix,
        found.proof.tree_size
    );
    print(args.json, &bundle, &human);
    Ok(Status::Success)
}

fn print(json: bool, value: &Value, human: &str) {
    #[allow(clippy::print_stdout, reason = "the CLI's output")]
    if json {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

/// The file traced: held whole, or (audio longer than 2 minutes whose container states its
/// length) read as streams, so an hour of audio never has to be in memory.
enum Subject {
    Whole(Vec<u8>),
    Long(PathBuf),
}

impl Subject {
    fn open(path: &Path) -> anyhow::Result<Self> {
        if super::watermark_audio::open_long(path)?.is_some() {
            return Ok(Self::Long(path.to_path_buf()));
        }
        let bytes = fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Ok(Self::Whole(bytes))
    }

    fn detect(&self, detectors: &Detectors) -> Option<Finding> {
        match self {
            Self::Whole(b) => detectors.detect(b).ok(),
            Self::Long(path) => {
                let (reader, _) = super::watermark_audio::open_long(path).ok()??;
                super::watermark_audio::detect_long(detectors, path, &reader).ok()
            }
        }
    }

    /// The label's `ProduceID` and the media hash.
    fn metadata(&self) -> (Option<ContentId>, Option<[u8; 32]>) {
        let (report, hash) = match self {
            Self::Whole(b) => (container::read_metadata(b), container::media_hash(b)),
            Self::Long(path) => {
                match fs::File::open(path)
                    .map_err(provmark_core::Error::from)
                    .and_then(|mut f| container::inspect_stream(&mut f))
                {
                    Ok(found) => found,
                    Err(_) => return (None, None),
                }
            }
        };
        let id =
            report.parsed_labels().find_map(|(_, p)| p.label.produce_id.parse::<ContentId>().ok());
        (id, hash.ok())
    }

    fn fingerprint(&self) -> Option<(fingerprint::Fingerprint, u32)> {
        match self {
            Self::Whole(bytes) => match Kind::sniff(bytes)? {
                Kind::Image => provmark_core::codec::image::decode(bytes)
                    .ok()
                    .and_then(|d| fingerprint::image_fingerprint(&d.pixels).ok())
                    .map(|f| (f, IMAGE_MATCH_RADIUS)),
                Kind::Audio => provmark_core::audio_codec::decode(bytes, &Default::default())
                    .ok()
                    .and_then(|a| {
                        fingerprint::audio_fingerprint(a.samples(), a.sample_rate(), a.channels())
                            .ok()
                    })
                    .map(|f| (f, AUDIO_MATCH_RADIUS)),
            },
            Self::Long(path) => {
                let (mut reader, _) = super::watermark_audio::open_long(path).ok()??;
                let spec = reader.spec();
                let mut printer =
                    fingerprint::AudioPrinter::new(spec.sample_rate, spec.channels, spec.frames?)
                        .ok()?;
                while let Some(chunk) = reader.next_chunk().ok()? {
                    printer.push(&chunk).ok()?;
                }
                printer.finish().ok().map(|f| (f, AUDIO_MATCH_RADIUS))
            }
        }
    }

    /// SHA-256 of the file's bytes.
    fn sha256(&self) -> anyhow::Result<[u8; 32]> {
        match self {
            Self::Whole(b) => Ok(Sha256::digest(b).into()),
            Self::Long(path) => {
                let mut f = fs::File::open(path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                let mut h = Sha256::new();
                std::io::copy(&mut f, &mut h)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                Ok(h.finalize().into())
            }
        }
    }
}

fn lookup(
    subject: &Subject,
    detectors: &Detectors,
    ledger: &mut Ledger,
) -> anyhow::Result<(Option<Found>, &'static str)> {
    if let Some(id) = subject.detect(detectors).and_then(|f| f.id) {
        if let Some(f) = ledger.find_by_id(id)? {
            return Ok((Some(f), "watermark"));
        }
    }
    let (produce_id, hash) = subject.metadata();
    if let Some(id) = produce_id {
        if let Some(f) = ledger.find_by_id(id)? {
            return Ok((Some(f), "label"));
        }
    }
    if let Some(hash) = hash {
        if let Some(f) = ledger.find_by_content_hash(&hash)?.into_iter().next() {
            return Ok((Some(f), "content_hash"));
        }
    }
    if let Some((fp, radius)) = subject.fingerprint() {
        if let Some(f) = ledger.find_nearest_fingerprint(&fp, radius)? {
            return Ok((Some(f), "fingerprint"));
        }
    }
    Ok((None, "none"))
}

fn evidence(found: &Found, how: &str, file_sha256: &[u8; 32], verifier: &NoteVerifier) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let r = &found.record;
    json!({
        "evidence_version": EVIDENCE_VERSION,
        "found_by": how,
        "distance": found.distance,
        "file_sha256": hex::encode(file_sha256),
        "id": r.content_id,
        "kind": r.kind.as_str(),
        "producer_code": r.producer_code.to_string(),
        "key_id": r.key_id.to_string(),
        "model": r.model,
        "created_unix": r.created_unix,
        "index": found.index,
        "record": b64(&found.record_bytes),
        "leaf_hash": b64(&found.leaf_hash()),
        "tree_size": found.proof.tree_size,
        "proof": found.proof.hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        "checkpoint": found.checkpoint.note(),
        "vkey": verifier.to_vkey(),
    })
}

/// Checks an evidence bundle offline: the checkpoint signature under `vkey` (the bundle's
/// own when none is given), that the record bytes hash to the leaf, and the inclusion proof.
/// Returns a one-line description.
pub fn verify_evidence(text: &str, vkey: Option<&str>) -> anyhow::Result<String> {
    let v: Value = serde_json::from_str(text).context("the evidence is not JSON")?;
    let field = |name: &str| v.get(name).with_context(|| format!("the evidence has no `{name}`"));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).context("bad base64");
    let hash = |s: &str| -> anyhow::Result<[u8; 32]> {
        b64(s)?.try_into().map_err(|_| anyhow::anyhow!("a hash is not 32 bytes"))
    };
    let vkey_text = match vkey {
        Some(k) => k.to_owned(),
        None => field("vkey")?.as_str().context("`vkey` is not text")?.to_owned(),
    };
    let verifier = NoteVerifier::from_vkey(&vkey_text)?;
    let note = field("checkpoint")?.as_str().context("`checkpoint` is not text")?;
    let checkpoint = provmark_ledger::Checkpoint::open(note, &verifier)
        .context("the checkpoint signature does not verify")?;
    let record_bytes = b64(field("record")?.as_str().context("`record` is not text")?)?;
    let record = provmark_ledger::Record::decode(&record_bytes)?;
    let leaf = provmark_ledger::leaf_hash(&record_bytes);
    if let Some(claimed) = v.get("leaf_hash").and_then(Value::as_str) {
        anyhow::ensure!(hash(claimed)? == leaf, "`leaf_hash` does not match the record");
    }
    let proof = provmark_ledger::InclusionProof {
        index: field("index")?.as_u64().context("`index` is not a number")?,
        tree_size: field("tree_size")?.as_u64().context("`tree_size` is not a number")?,
        hashes: field("proof")?
            .as_array()
            .context("`proof` is not a list")?
            .iter()
            .map(|h| hash(h.as_str().unwrap_or("")))
            .collect::<anyhow::Result<_>>()?,
    };
    anyhow::ensure!(
        proof.tree_size == checkpoint.size(),
        "the proof is for another tree size than the checkpoint"
    );
    proof.verify(&leaf, checkpoint.root()).context("the inclusion proof does not verify")?;
    Ok(format!(
        "evidence verified: record #{} (id {}, producer {}) is in `{}` at tree size {}{}",
        proof.index,
        record.content_id,
        record.producer_code,
        checkpoint.origin(),
        checkpoint.size(),
        if vkey.is_none() {
            " (checked with the bundle's own key: pin it with --vkey)"
        } else {
            ""
        }
    ))
}
