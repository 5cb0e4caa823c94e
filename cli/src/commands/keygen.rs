//! `provmark keygen`: create a provider identity directory.

use anyhow::Context as _;
use provmark_core::{Identity, ProducerCode};

use super::Status;
use crate::args::KeygenArgs;

pub fn run(args: &KeygenArgs) -> anyhow::Result<Status> {
    let code = match &args.producer_code {
        Some(code) => code.parse::<ProducerCode>()?,
        None => ProducerCode::development()?,
    };
    let identity = Identity::generate(&args.name, code)?;
    identity
        .save(&args.out)
        .with_context(|| format!("cannot create the identity in `{}`", args.out.display()))?;
    #[allow(clippy::print_stderr, reason = "the CLI reports what it created")]
    {
        eprintln!(
            "created identity in `{}`: key id {}, producer code {}{}",
            args.out.display(),
            identity.provider.key_id,
            identity.provider.producer_code,
            if identity.provider.producer_code.is_development() {
                " (development code: pass --producer-code for production)"
            } else {
                ""
            }
        );
    }
    Ok(Status::Success)
}
