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
