//! The integration tests of `provmark-core` (one binary).

#![allow(clippy::unwrap_used, reason = "tests may panic")]
#![allow(clippy::print_stdout, reason = "the ignored sweep prints its table")]

mod attacks;
mod image_robustness;
