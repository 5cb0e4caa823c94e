//! Command-line arguments (clap types only; conversion to library configuration happens in
//! `commands`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Mark AI-generated images and audio with robust watermarks, signed GB 45438 labels and a
/// transparency ledger, and trace marked files back to their origin.
#[derive(Debug, Parser)]
#[command(name = "provmark", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a provider identity: signing key, watermark key and public `provider.toml`.
    Keygen(KeygenArgs),
    /// Inspect, prove, verify and export the traceability ledger.
    Ledger(LedgerArgs),
}

/// Arguments of `provmark keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory to create the identity in (created with mode 0700; existing keys are never
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Provider name recorded in `provider.toml`.
    #[arg(long, value_name = "NAME", default_value = "provmark development provider")]
    pub name: String,

    /// GB 45438 service provider code: 27 digits and upper-case letters, `00`, then the
    /// 20-character subject identifier, then the 5-character service extension. Without it a
    /// clearly marked development code starting with `00DEV` is generated.
    #[arg(long, value_name = "CODE")]
    pub producer_code: Option<String>,
}

/// Arguments of `provmark ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The ledger: `sqlite:PATH` or `postgres://user:password@host/database`.
    #[arg(long, value_name = "URL", global = true, default_value = "sqlite:./.provmark/ledger.db")]
    pub ledger: String,

    /// Identity directory whose signing key signs checkpoints and whose public key
    /// verifies them.
    #[arg(long, value_name = "DIR", global = true, default_value = "./.provmark")]
    pub home: PathBuf,

    /// Print JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: LedgerCommand,
}

/// The `provmark ledger` subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Sign and store a checkpoint of the whole log and print it (a C2SP signed note).
    Checkpoint,
    /// Print the record with this content ID, its inclusion proof and the signed checkpoint.
    Prove(ProveArgs),
    /// Print a consistency proof between two tree sizes, with both signed checkpoints.
    Consistency(ConsistencyArgs),
    /// Recompute every hash, index and checkpoint; name the first bad entry (exit 2).
    Verify,
    /// Export the log as C2SP tlog-tiles static files and/or JSON Lines.
    Export(ExportArgs),
    /// Print the log's size, storage use and latest checkpoint.
    Stats,
    /// Print the checkpoint verifier key (signed-note `vkey` form).
    VerifierKey,
}

/// Arguments of `provmark ledger prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// Content ID: 16 hexadecimal digits.
    #[arg(value_name = "ID")]
    pub id: String,
}

/// Arguments of `provmark ledger consistency`.
#[derive(Debug, Args)]
pub struct ConsistencyArgs {
    /// The older tree size.
    #[arg(long, value_name = "N")]
    pub from: u64,
    /// The newer tree size (default: the whole log).
    #[arg(long, value_name = "M")]
    pub to: Option<u64>,
}

/// Arguments of `provmark ledger export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write tlog-tiles (`checkpoint`, `tile/…`) into this directory.
    #[arg(long, value_name = "DIR")]
    pub tiles: Option<PathBuf>,
    /// Write JSON Lines to this file (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
}
