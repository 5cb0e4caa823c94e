//! The error type of `provmark-core`, split by who is to blame.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `provmark-core`.
///
/// "Watermark not found" is not an error: detectors return it as a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input media or metadata could not be parsed (truncated, corrupt, hostile).
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded (a format or structure name).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// Media or metadata could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A parameter or user-supplied value is invalid.
    #[error("invalid {what}: {reason}")]
    Params {
        /// The parameter's name.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The input exceeds a configured limit (dimensions, sample count, metadata size).
    #[error("input exceeds the limit on {what}: {actual} > {limit}")]
    Limits {
        /// The limited quantity.
        what: &'static str,
        /// The value found in the input.
        actual: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A signature or key did not verify. Deliberately opaque.
    #[error("signature verification failed")]
    Signature,
    /// A key file or directory is unusable (bad permissions, bad content).
    #[error("key file `{path}`: {reason}")]
    Key {
        /// The offending file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    /// An I/O error, with the path when one is known.
    #[error("{}: {source}", path.as_ref().map_or_else(|| "I/O error".to_owned(), |p| format!("`{}`", p.display())))]
    Io {
        /// The file involved, if any.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Builds an [`Error::Params`].
    pub fn params(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Params { what, reason: reason.into() }
    }

    /// Builds an [`Error::Decode`].
    pub fn decode(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Decode { what, reason: reason.into() }
    }

    /// Builds an [`Error::Encode`].
    pub fn encode(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Encode { what, reason: reason.into() }
    }

    /// Builds an [`Error::Io`] for a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: Some(path.into()), source }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Self::Io { path: None, source }
    }
}
