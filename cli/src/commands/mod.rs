//! One module per subcommand; each turns its arguments into library calls.

mod home;
mod keygen;
mod label;
mod ledger;
mod stamp;
mod trace;
mod verify;
mod watermark;
mod watermark_audio;

use crate::args::{Cli, Command, WatermarkCommand};

/// Process exit status, as documented in the CLI contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success; every file verified authentic.
    Success = 0,
    /// Usage or I/O error.
    Error = 1,
    /// At least one file modified, forged or failed.
    Failed = 2,
    /// Nothing found.
    NotFound = 3,
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Keygen(args) => keygen::run(&args),
        Command::Stamp(args) => stamp::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Trace(args) => trace::run(&args),
        Command::Ledger(args) => ledger::run(&args),
        Command::Label(args) => label::run(&args),
        Command::Watermark(WatermarkCommand::Embed(args)) => watermark::embed(&args),
        Command::Watermark(WatermarkCommand::Detect(args)) => watermark::detect(&args),
    }
}
