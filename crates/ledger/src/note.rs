//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one signature line per
//! signer: `— <key name> <base64(4-byte key ID ‖ 64-byte signature)>`. The Ed25519 key ID
//! is the first four bytes of SHA-256(key name ‖ `\n` ‖ `0x01` ‖ public key), and a
//! verifier key is written `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`. This is the
//! format of Go's `golang.org/x/mod/sumdb/note`, which the tests check against.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use provmark_core::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Signature type byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// At most this many signature lines are read (the spec asks verifiers to accept 16; Go
/// accepts 100).
const MAX_SIGNATURES: usize = 100;
/// Longest note accepted, in bytes.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The 32-bit key ID of an Ed25519 key in the signed-note format.
#[must_use]
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(Error::note(format!(
            "key name `{name}` must be non-empty, without spaces and without `+`"
        )));
    }
    Ok(())
}

/// A public key that verifies notes: a name, its key ID and an Ed25519 key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    ///
    /// # Errors
    /// [`Error::Note`] if the name is not a valid key name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self> {
        check_name(name)?;
        Ok(Self { name: name.to_owned(), id: key_id(name, &key), key })
    }

    /// Parses the vkey text form `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
    ///
    /// # Errors
    /// [`Error::Note`] if malformed, not Ed25519, or the key ID does not match.
    pub fn from_vkey(text: &str) -> Result<Self> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::note("verifier key must be `name+keyid+key`"));
        };
        check_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::note("verifier key ID must be 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|e| Error::note(e.to_string()))?;
        let raw = B64.decode(key_b64).map_err(|_| Error::note("verifier key is not base64"))?;
        let [alg, rest @ ..] = raw.as_slice() else {
            return Err(Error::note("empty verifier key"));
        };
        if *alg != ALG_ED25519 {
            return Err(Error::note(format!("unsupported signature type {alg:#04x}")));
        }
        let pk: [u8; 32] =
            rest.try_into().map_err(|_| Error::note("Ed25519 public key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|e| Error::note(e.to_string()))?;
        let verifier = Self::new(name, key)?;
        if verifier.id != id {
            return Err(Error::note("verifier key ID does not match the key"));
        }
        Ok(verifier)
    }

    /// The vkey text form.
    #[must_use]
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key ID.
    #[must_use]
    pub const fn key_id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    #[must_use]
    pub const fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Opens a signed note: checks its form and that this key signed it, and returns the
    /// note text (up to and including its last newline, without the signature block).
    /// Signatures by other keys are ignored, as the spec requires.
    ///
    /// # Errors
    /// [`Error::Note`] if the note is malformed, this key's signature does not verify, or
    /// this key did not sign it.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str> {
        let (text, sigs) = split_note(note)?;
        let mut verified = false;
        for line in sigs {
            let (name, id, sig) = parse_signature_line(line)?;
            if name != self.name || id != self.id {
                continue;
            }
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| Error::note(format!("signature by `{name}` does not verify")))?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(Error::note(format!("note is not signed by `{}`", self.name)))
        }
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

fn split_note(note: &str) -> Result<(&str, impl Iterator<Item = &str>)> {
    if note.len() > MAX_NOTE_LEN {
        return Err(Error::note("note too large"));
    }
    let split = note.rfind("\n\n").ok_or_else(|| Error::note("no signature block"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(Error::note("signature block must end with a newline"));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(Error::note("too many signatures"));
    }
    Ok((text, lines.into_iter()))
}

fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') || text.contains("\n\n") || text.starts_with('\n') {
        return Err(Error::note("note text must end in one newline and contain no blank line"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::note("note text contains control characters"));
    }
    Ok(())
}

fn parse_signature_line(line: &str) -> Result<(&str, u32, [u8; 64])> {
    let rest = line
        .strip_prefix("\u{2014} ")
        .ok_or_else(|| Error::note("signature line must start with `— `"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| Error::note("signature line needs a name and a signature"))?;
    check_name(name)?;
    let raw = B64.decode(b64).map_err(|_| Error::note("signature is not base64"))?;
    if raw.len() != 4 + 64 {
        // Other signature types have other lengths; they are not ours to check, but they are
        // never from an Ed25519 key we know, so report them as unknown with an impossible id.
        if raw.len() < 4 {
            return Err(Error::note("signature shorter than its key ID"));
        }
        return Ok((name, u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]), [0u8; 64]));
    }
    let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&raw[4..]);
    Ok((name, id, sig))
}

/// Signs notes with an Ed25519 key under a key name. The signer is any
/// `signature::Signer<ed25519_dalek::Signature>`, so an HSM or KMS can hold the key.
pub struct NoteSigner {
    verifier: NoteVerifier,
    signer: Box<dyn signature::Signer<Signature> + Send + Sync>,
}

impl NoteSigner {
    /// A signer for `name` whose public key is `key`. `signer` must sign with the matching
    /// private key; [`NoteSigner::sign`] checks each signature against `key`.
    ///
    /// # Errors
    /// [`Error::Note`] if the name is invalid.
    pub fn new<S>(name: &str, key: VerifyingKey, signer: S) -> Result<Self>
    where
        S: signature::Signer<Signature> + Send + Sync + 'static,
    {
        Ok(Self { verifier: NoteVerifier::new(name, key)?, signer: Box::new(signer) })
    }

    /// A signer from a provider signing key.
    ///
    /// # Errors
    /// [`Error::Note`] if the name is invalid.
    pub fn from_signing_key(name: &str, key: &SigningKey) -> Result<Self> {
        Self::new(name, key.verifying_key(), key.clone())
    }

    /// The matching verifier.
    #[must_use]
    pub const fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// Signs `text` (which must end in a newline and contain no blank line) and returns
    /// the complete note.
    ///
    /// # Errors
    /// [`Error::Note`] if the text is not a valid note text or the signer fails or
    /// produces a signature that does not verify.
    pub fn sign(&self, text: &str) -> Result<String> {
        check_text(text)?;
        let sig = self
            .signer
            .try_sign(text.as_bytes())
            .map_err(|_| Error::note("the signer failed"))?
            .to_bytes();
        self.verifier
            .key
            .verify_strict(text.as_bytes(), &sig)
            .map_err(|_| Error::note("the signer's signature does not match its public key"))?;
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.verifier.id.to_be_bytes());
        raw.extend_from_slice(&sig);
        Ok(format!("{text}\n\u{2014} {} {}\n", self.verifier.name, B64.encode(raw)))
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
