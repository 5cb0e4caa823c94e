//! `provmark ledger …`: checkpoints, proofs, verification, export and statistics.

#![allow(clippy::print_stdout, reason = "the ledger commands print their results")]
#![allow(clippy::print_stderr, reason = "the ledger commands report notices")]

use std::io::Write as _;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use provmark_core::{ContentId, Identity};
use provmark_ledger::{Checkpoint, Found, Ledger, NoteSigner};
use serde_json::json;

use super::Status;
use crate::args::{ConsistencyArgs, ExportArgs, LedgerArgs, LedgerCommand};

fn signer(args: &LedgerArgs) -> anyhow::Result<NoteSigner> {
    let id = Identity::load(&args.home).with_context(|| {
        format!(
            "cannot load the identity in `{}` (create one with `provmark keygen --out {}`)",
            args.home.display(),
            args.home.display()
        )
    })?;
    let origin = provmark_ledger::default_origin(&id.provider.producer_code);
    Ok(NoteSigner::from_signing_key(&origin, &id.signing_key)?)
}

fn open(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    let url = args.ledger_url();
    provmark_ledger::open(&url).with_context(|| format!("cannot open the ledger `{url}`"))
}

fn b64_hashes(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

pub fn run(args: &LedgerArgs) -> anyhow::Result<Status> {
    match &args.command {
        LedgerCommand::Checkpoint => {
            let signer = signer(args)?;
            let cp = open(args)?.checkpoint(&signer)?;
            if args.json {
                println!(
                    "{}",
                    json!({ "size": cp.size(), "root": B64.encode(cp.root()), "checkpoint": cp.note() })
                );
            } else {
                print!("{}", cp.note());
            }
            Ok(Status::Success)
        }
        LedgerCommand::Prove(p) => {
            let id: ContentId = p.id.parse()?;
            let mut ledger = open(args)?;
            ledger.set_signer(signer(args)?);
            match ledger.find_by_id(id)? {
                Some(found) => {
                    print_found(&found, args.json);
                    Ok(Status::Success)
                }
                None => {
                    eprintln!("content ID {id} is not in the ledger `{}`", args.ledger_url());
                    Ok(Status::NotFound)
                }
            }
        }
        LedgerCommand::Consistency(c) => consistency(args, c),
        LedgerCommand::Verify => verify(args),
        LedgerCommand::Export(e) => export(args, e),
        LedgerCommand::Stats => stats(args),
        LedgerCommand::VerifyEvidence(e) => {
            let text = std::fs::read_to_string(&e.file)
                .with_context(|| format!("cannot read `{}`", e.file.display()))?;
            let msg = super::trace::verify_evidence(&text, e.vkey.as_deref())?;
            #[allow(clippy::print_stdout, reason = "the CLI's output")]
            {
                println!("{msg}");
            }
            Ok(Status::Success)
        }
        LedgerCommand::VerifierKey => {
            let vkey = signer(args)?.verifier().to_vkey();
            if args.json {
                println!("{}", json!({ "vkey": vkey }));
            } else {
                println!("{vkey}");
            }
            Ok(Status::Success)
        }
    }
}

fn print_found(f: &Found, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "index": f.index,
                "record": B64.encode(&f.record_bytes),
                "leaf_hash": B64.encode(f.leaf_hash()),
                "proof": b64_hashes(&f.proof.hashes),
                "checkpoint": f.checkpoint.note(),
            })
        );
        return;
    }
    let r = &f.record;
    println!("index          {}", f.index);
    println!("content ID     {}", r.content_id);
    println!("kind           {}", r.kind.as_str());
    println!("producer code  {}", r.producer_code);
    println!("key id         {}", r.key_id);
    println!("model          {}", r.model);
    println!("created (unix) {}", r.created_unix);
    println!("media SHA-256  {}", hex::encode(r.media_sha256));
    println!("fingerprint    {}", r.fingerprint.map_or_else(|| "-".into(), |fp| hex::encode(fp.0)));
    println!("watermark      {} v{}", r.watermark_algorithm, r.watermark_version);
    println!("visible label  {:#04x}", r.visible_label.bits());
    println!("batch          {}", r.batch_id);
    println!("leaf hash      {}", B64.encode(f.leaf_hash()));
    println!("proof ({} hashes, tree size {})", f.proof.hashes.len(), f.proof.tree_size);
    for h in b64_hashes(&f.proof.hashes) {
        println!("  {h}");
    }
    print!("\n{}", f.checkpoint.note());
}

fn consistency(args: &LedgerArgs, c: &ConsistencyArgs) -> anyhow::Result<Status> {
    let signer = signer(args)?;
    let mut ledger = open(args)?;
    let new: Checkpoint = match c.to {
        Some(to) => ledger.checkpoint_at_size(&signer, to)?,
        None => ledger.checkpoint(&signer)?,
    };
    if c.from > new.size() {
        bail!("--from {} is larger than --to {}", c.from, new.size());
    }
    let old = ledger.checkpoint_at_size(&signer, c.from)?;
    let proof = ledger.prove_consistency(old.size(), new.size())?;
    proof.verify(old.root(), new.root())?;
    if args.json {
        println!(
            "{}",
            json!({
                "old_checkpoint": old.note(),
                "new_checkpoint": new.note(),
                "proof": b64_hashes(&proof.hashes),
            })
        );
    } else {
        println!(
            "consistency proof {} -> {} ({} hashes)",
            old.size(),
            new.size(),
            proof.hashes.len()
        );
        for h in b64_hashes(&proof.hashes) {
            println!("  {h}");
        }
        print!("\n{}\n{}", old.note(), new.note());
    }
    Ok(Status::Success)
}

fn verify(args: &LedgerArgs) -> anyhow::Result<Status> {
    let verifier = match signer(args) {
        Ok(s) => Some(s.verifier().clone()),
        Err(e) => {
            eprintln!("notice: checkpoint signatures not checked: {e:#}");
            None
        }
    };
    let report = open(args)?.verify(verifier.as_ref())?;
    if args.json {
        let problem = report.problem.as_ref().map(|p| {
            json!({ "kind": format!("{:?}", p.kind).to_lowercase(), "index": p.index, "detail": p.detail })
        });
        println!(
            "{}",
            json!({
                "ok": report.is_ok(),
                "size": report.size,
                "hashes": report.hashes,
                "checkpoints": report.checkpoints,
                "signatures_checked": verifier.is_some(),
                "problem": problem,
            })
        );
    } else if let Some(p) = &report.problem {
        println!("FAILED: {}", p.detail);
    } else {
        println!(
            "ok: {} records, {} stored hashes, {} checkpoints{}",
            report.size,
            report.hashes,
            report.checkpoints,
            if verifier.is_some() { " (signatures checked)" } else { "" }
        );
    }
    Ok(if report.is_ok() { Status::Success } else { Status::Failed })
}

fn export(args: &LedgerArgs, e: &ExportArgs) -> anyhow::Result<Status> {
    if e.tiles.is_none() && e.jsonl.is_none() {
        bail!("say what to export: `--tiles DIR` and/or `--jsonl FILE` (`-` for stdout)");
    }
    let mut ledger = open(args)?;
    if let Some(dir) = &e.tiles {
        let cp = ledger.checkpoint(&signer(args)?)?;
        let out = ledger.export_tiles(dir, &cp)?;
        eprintln!(
            "wrote {} hash tiles and {} entry bundles for {} records to `{}`",
            out.hash_tiles,
            out.entry_bundles,
            out.size,
            dir.display()
        );
    }
    if let Some(path) = &e.jsonl {
        let n = if path.as_os_str() == "-" {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = ledger.export_jsonl(&mut out)?;
            out.flush()?;
            n
        } else {
            // Atomic: a failed export (a full disk) leaves no truncated file that looks whole.
            crate::pipeline::files::write_atomic_with(path, |out| Ok(ledger.export_jsonl(out)?))?
        };
        eprintln!("wrote {n} records as JSON Lines");
    }
    Ok(Status::Success)
}

fn stats(args: &LedgerArgs) -> anyhow::Result<Status> {
    let s = open(args)?.stats()?;
    let ratio = s.storage_bytes.map(|b| b as f64 / (s.record_bytes + 64 * s.size).max(1) as f64);
    if args.json {
        println!(
            "{}",
            json!({
                "backend": s.backend,
                "size": s.size,
                "stored_hashes": s.stored_hashes,
                "checkpoints": s.checkpoints,
                "latest_checkpoint": s.latest_checkpoint,
                "record_bytes": s.record_bytes,
                "storage_bytes": s.storage_bytes,
                "storage_ratio": ratio,
            })
        );
    } else {
        println!("backend            {}", s.backend);
        println!("records            {}", s.size);
        println!("stored hashes      {}", s.stored_hashes);
        println!("checkpoints        {}", s.checkpoints);
        println!(
            "latest checkpoint  {}",
            s.latest_checkpoint.map_or("-".into(), |n| n.to_string())
        );
        println!("record bytes       {}", s.record_bytes);
        if let (Some(b), Some(r)) = (s.storage_bytes, ratio) {
            println!("storage bytes      {b} ({r:.2}x records + 64 bytes of hashes each)");
        }
    }
    Ok(Status::Success)
}
