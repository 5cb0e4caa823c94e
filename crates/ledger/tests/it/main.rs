//! Integration tests of provmark-ledger: one binary, the same suite over every backend.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(clippy::print_stderr, reason = "tests report skipped parts")]
#![allow(missing_docs, reason = "test code")]

mod backends;
mod common;
mod crash;
mod golang;
mod migrate;
mod tamper;
