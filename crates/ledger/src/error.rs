//! The error type of this crate.

use crate::merkle::ProofError;

/// Everything that can go wrong in the ledger, split by who is to blame.
///
/// "Not found" is not an error: lookups return `Option`, and [`crate::Ledger::verify`]
/// returns its findings as a [`crate::VerifyReport`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record cannot be encoded or decoded (bad field, non-canonical bytes).
    #[error("ledger record: {0}")]
    Record(String),
    /// A proof does not verify or is malformed.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// A signed note or checkpoint is malformed, or its signature does not verify.
    #[error("signed note: {0}")]
    Note(String),
    /// The ledger URL or a parameter is not usable.
    #[error("invalid {what}: {reason}")]
    Params {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The storage backend failed (SQLite, PostgreSQL or the file system).
    #[error("ledger storage ({backend}): {reason}")]
    Storage {
        /// Which backend.
        backend: &'static str,
        /// The backend's message.
        reason: String,
    },
    /// Stored data contradicts itself (found while serving a request; a full check is
    /// [`crate::Ledger::verify`]).
    #[error("ledger integrity: {0}")]
    Integrity(String),
}

impl Error {
    pub(crate) fn record(reason: impl Into<String>) -> Self {
        Self::Record(reason.into())
    }

    pub(crate) fn note(reason: impl Into<String>) -> Self {
        Self::Note(reason.into())
    }

    pub(crate) fn params(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Params { what, reason: reason.into() }
    }

    pub(crate) fn integrity(reason: impl Into<String>) -> Self {
        Self::Integrity(reason.into())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
