//! Signed checkpoints in the C2SP `tlog-checkpoint` format (<https://c2sp.org/tlog-checkpoint>).
//!
//! The note text is three lines: the origin (the log's name), the tree size in decimal and
//! the base64 root hash. Extension lines after them are accepted when reading and never
//! written. The log signs with a [`NoteSigner`] whose key name is the origin.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::Hash;
use crate::note::{NoteSigner, NoteVerifier};
use crate::{Error, Result};

/// A signed tree head: the log's origin, a tree size, its root hash, and the signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    note: String,
}

impl Checkpoint {
    /// The note text of a checkpoint (before signing).
    #[must_use]
    pub fn body(origin: &str, size: u64, root: &Hash) -> String {
        format!("{origin}\n{size}\n{}\n", B64.encode(root))
    }

    /// Signs a checkpoint for `size` and `root`; the origin is the signer's key name.
    ///
    /// # Errors
    /// [`Error::Note`] if signing fails.
    pub fn sign(signer: &NoteSigner, size: u64, root: &Hash) -> Result<Self> {
        let note = signer.sign(&Self::body(signer.name(), size, root))?;
        Ok(Self { origin: signer.name().to_owned(), size, root: *root, note })
    }

    /// Opens a signed checkpoint: verifies the signature of `verifier` (whose name must be
    /// the origin) and parses the body.
    ///
    /// # Errors
    /// [`Error::Note`] if the signature or the body is invalid.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self> {
        let text = verifier.open(note)?;
        let cp = Self::parse_text(text, note)?;
        if cp.origin != verifier.name() {
            return Err(Error::note(format!(
                "checkpoint origin `{}` is not the verifier's name `{}`",
                cp.origin,
                verifier.name()
            )));
        }
        Ok(cp)
    }

    /// Parses a signed checkpoint *without* checking any signature (for reading a log's
    /// own store; anything received from elsewhere goes through [`Checkpoint::open`]).
    ///
    /// # Errors
    /// [`Error::Note`] if the note or its body is malformed.
    pub fn parse_unverified(note: &str) -> Result<Self> {
        let split = note.rfind("\n\n").ok_or_else(|| Error::note("no signature block"))?;
        Self::parse_text(&note[..=split], note)
    }

    fn parse_text(text: &str, note: &str) -> Result<Self> {
        let mut lines = text.split_terminator('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::note("checkpoint needs origin, size and root lines"));
        };
        if origin.is_empty() {
            return Err(Error::note("empty checkpoint origin"));
        }
        let canonical = size.bytes().all(|b| b.is_ascii_digit())
            && !size.is_empty()
            && (size == "0" || !size.starts_with('0'));
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| Error::note(format!("checkpoint size `{size}` is not a decimal")))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| Error::note("checkpoint root is not a base64 SHA-256 hash"))?;
        Ok(Self { origin: origin.to_owned(), size, root, note: note.to_owned() })
    }

    /// The log's origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    #[must_use]
    pub const fn root(&self) -> &Hash {
        &self.root
    }

    /// The complete signed note text.
    #[must_use]
    pub fn note(&self) -> &str {
        &self.note
    }
}
