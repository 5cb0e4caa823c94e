//! The `provmark` command: parse, dispatch, map errors to exit codes.
//!
//! Exit codes: 0 success (all verified authentic); 1 usage or I/O error; 2 at least one file
//! modified, forged or failed; 3 nothing found.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod pipeline;

use std::process::ExitCode;

/// mimalloc keeps freed pages for reuse: with the system allocator every large working buffer
/// of an image or audio pass was a fresh `mmap` whose pages the threads fault in and whose
/// `munmap` interrupts every core (TLB shootdowns); measured on `watermark embed`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser as _;

/// Exit status when the reader of stdout went away (`provmark … | head`), as a shell tool
/// killed by `SIGPIPE` reports it (128 + 13).
const BROKEN_PIPE_EXIT: i32 = 141;

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(status) => ExitCode::from(status as u8),
        Err(err) => {
            #[allow(clippy::print_stderr, reason = "the binary reports fatal errors on stderr")]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(commands::Status::Error as u8)
        }
    }
}

/// Rust ignores `SIGPIPE`, so `println!` to a closed pipe panics. Stop quietly instead, with
/// the status a shell tool gets from `SIGPIPE`: everything written so far is durable (a stamp
/// batch interrupted here is finished by the next run, as after any kill).
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default(info);
    }));
}
