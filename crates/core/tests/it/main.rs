//! Integration tests of `provmark-core`: one binary (see STYLE.md).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
#![allow(clippy::print_stderr, reason = "tests print a notice when an external tool is absent")]

mod external;
mod regression;
