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
    /// Add a visible identifier: a text label on an image (PNG, JPEG, WebP) or the
    /// "short-long short-short" audio cue to a WAV file (GB 45438-2025 clause 5).
    Label(LabelArgs),
    /// Embed or detect the raw watermark alone (no ledger record, no metadata).
    #[command(subcommand)]
    Watermark(WatermarkCommand),
    /// Stamp files and folders: watermark, signed GB 45438 label, ledger record.
    Stamp(StampArgs),
    /// Check files: one verdict per file from the watermark, the label and the ledger.
    Verify(VerifyArgs),
    /// Trace a file to its ledger record, with an inclusion proof and a signed checkpoint.
    Trace(TraceArgs),
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

/// Arguments of `provmark ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The ledger: `sqlite:PATH` or `postgres://user:password@host/database` (default
    /// `sqlite:HOME/ledger.db`, the ledger `stamp` writes).
    #[arg(long, value_name = "URL", global = true)]
    pub ledger: Option<String>,

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

impl LedgerArgs {
    /// The ledger URL: `--ledger`, or the SQLite ledger in `--home`.
    pub fn ledger_url(&self) -> String {
        self.ledger
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.home.join("ledger.db").display()))
    }
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
    /// Check an evidence bundle written by `provmark trace --evidence`, offline.
    VerifyEvidence(VerifyEvidenceArgs),
}

/// Arguments of `provmark ledger verify-evidence`.
#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The log's verifier key (`provmark ledger verifier-key`); without it the bundle's own
    /// key is used, which proves consistency but not who signed.
    #[arg(long, value_name = "VKEY")]
    pub vkey: Option<String>,

    /// The evidence bundle (JSON).
    #[arg(value_name = "EVIDENCE.json")]
    pub file: PathBuf,
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

/// Arguments of `provmark label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Input file: an image (PNG, JPEG, WebP) or audio (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A),
    /// recognised by its content.
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// Output file (format from its extension: .png, .jpg, .webp for images, .wav or .flac
    /// for audio; the same kind of media as IN).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,

    /// Label text; must contain `AI` or `人工智能` and `生成` or `合成`.
    #[arg(long, value_name = "TEXT", default_value = "AI生成")]
    pub text: String,

    /// Label position: top-left, top, top-right, left, right, bottom-left, bottom, bottom-right.
    #[arg(long, value_name = "POS", default_value = "bottom-right")]
    pub position: String,

    /// What keeps the label legible: plate, outline or plate-and-outline.
    #[arg(long, value_name = "B", default_value = "plate")]
    pub backing: String,

    /// Inked height of the label's glyphs in percent of the image's shortest side (≥ 5).
    #[arg(long, value_name = "PCT", default_value_t = 6.0)]
    pub height_percent: f32,

    /// Where the audio cue goes: start, end or both.
    #[arg(long, value_name = "WHERE", default_value = "start")]
    pub cue: String,

    /// Audio cue tone frequency in Hz.
    #[arg(long, value_name = "HZ", default_value_t = 1000.0)]
    pub tone_hz: f32,

    /// Audio cue Morse unit (dot length) in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100.0)]
    pub unit_ms: f32,

    /// Audio cue peak level in dBFS.
    #[arg(long, value_name = "DB", default_value_t = -12.0, allow_negative_numbers = true)]
    pub level_dbfs: f32,

    /// Use this spoken clip (any audio input format) as the audio cue instead of the rhythm
    /// (needs --transcript).
    #[arg(long, value_name = "AUDIO", requires = "transcript")]
    pub spoken: Option<PathBuf>,

    /// What the spoken clip says (must contain the AI and generation elements).
    #[arg(long, value_name = "TEXT")]
    pub transcript: Option<String>,

    /// Print what was applied as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `provmark stamp`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("dest").required(true).args(["out", "in_place"])))]
pub struct StampArgs {
    /// Provider identity directory; created with a new identity and SQLite ledger on first
    /// use when it is missing.
    #[arg(long, value_name = "DIR", default_value = ".provmark")]
    pub home: PathBuf,

    /// The ledger: `sqlite:PATH` or `postgres://…` (default `sqlite:HOME/ledger.db`).
    #[arg(long, value_name = "URL")]
    pub ledger: Option<String>,

    /// Write stamped files under this folder, mirroring each input tree.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace each input with its stamped version (atomically).
    #[arg(long)]
    pub in_place: bool,

    /// Add the visible identifier: the `AI生成` label on images, the "·− ··" cue on audio.
    #[arg(long)]
    pub visible_label: bool,

    /// Name of the generating model, recorded in the manifest and the ledger.
    #[arg(long, value_name = "NAME", default_value = "unspecified")]
    pub model: String,

    /// Image watermark strength, a multiplier of the default amplitude (0.1..=4; default 1).
    #[arg(long, value_name = "S")]
    pub strength: Option<f32>,

    /// Files per durable ledger commit.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,

    /// Print one JSON object per file (JSON Lines) on stdout.
    #[arg(long)]
    pub json: bool,

    /// Files and folders (walked recursively) to stamp.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Arguments of `provmark verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Provider identity directory whose keys are trusted (default `./.provmark`).
    #[arg(long, value_name = "DIR", conflicts_with = "keyring")]
    pub home: Option<PathBuf>,

    /// Keyring of trusted providers (their published detection keys find watermarks).
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,

    /// A ledger to check records against: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    pub ledger: Option<String>,

    /// Apply the platform (propagator) update of the label with this GB 45438 provider code,
    /// signed with the `--home` identity; the file is rewritten atomically, media untouched.
    #[arg(long, value_name = "CODE", requires = "home")]
    pub propagate: Option<String>,

    /// With `--propagate`: set `Label` to 2 (possibly AI) or 3 (suspected AI).
    #[arg(long, value_name = "LABEL", requires = "propagate", value_parser = ["2", "3"])]
    pub propagate_label: Option<String>,

    /// Print one JSON object per file (JSON Lines) on stdout.
    #[arg(long)]
    pub json: bool,

    /// Files to verify.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `provmark trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Provider identity directory whose keys are trusted (default `./.provmark`).
    #[arg(long, value_name = "DIR", conflicts_with = "keyring")]
    pub home: Option<PathBuf>,

    /// Keyring of trusted providers.
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,

    /// The ledger to search: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    pub ledger: String,

    /// Write an evidence bundle (record, inclusion proof, signed checkpoint, verifier key)
    /// that `provmark ledger verify-evidence` checks offline.
    #[arg(long, value_name = "OUT.json")]
    pub evidence: Option<PathBuf>,

    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// The file to trace.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
