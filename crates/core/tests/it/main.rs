//! Integration tests of `provmark-core`: one binary (see STYLE.md).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
#![allow(clippy::print_stderr, reason = "tests print a notice when an external tool is absent")]
#![allow(clippy::print_stdout, reason = "the ignored sweep prints its table")]

mod attacks;
mod external;
mod image_robustness;
mod regression;
