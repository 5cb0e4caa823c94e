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
    /// Embed or detect the raw watermark alone (no ledger record, no metadata).
    #[command(subcommand)]
    Watermark(WatermarkCommand),
}

/// `provmark watermark` subcommands.
#[derive(Debug, Subcommand)]
pub enum WatermarkCommand {
    /// Embed a content ID into one file.
    Embed(WatermarkEmbedArgs),
    /// Detect and decode the watermark in files (JSON Lines with `--json`).
    Detect(WatermarkDetectArgs),
}

/// Arguments of `provmark watermark embed`.
#[derive(Debug, Args)]
pub struct WatermarkEmbedArgs {
    /// Provider identity directory holding `watermark.key`.
    #[arg(long, value_name = "DIR", default_value = ".provmark")]
    pub home: PathBuf,

    /// Content ID to embed: 16 hexadecimal digits.
    #[arg(long, value_name = "HEX16")]
    pub id: String,

    /// Embedding strength (default 1.0; 0.1..=4).
    #[arg(long, value_name = "S")]
    pub strength: Option<f32>,

    /// JPEG output quality (default: the input's estimated quality when it is a JPEG, else 90).
    #[arg(long, value_name = "Q")]
    pub quality: Option<u8>,

    /// Input file.
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// Output file; its extension picks the format (same as the input when unknown).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

/// Arguments of `provmark watermark detect`.
#[derive(Debug, Args)]
pub struct WatermarkDetectArgs {
    /// Provider identity directory holding `watermark.key` (default `./.provmark`).
    #[arg(long, value_name = "DIR", conflicts_with = "keyring")]
    pub home: Option<PathBuf>,

    /// Keyring file: every provider's published `detection_key` is tried.
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,

    /// Print one JSON object per file (JSON Lines).
    #[arg(long)]
    pub json: bool,

    /// Files to examine.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
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
