//! Keys: the secret watermark key and the provider's Ed25519 signing key.
//!
//! `Debug` never shows secret material, and secrets are zeroized on drop.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Error, Result};

/// The 256-bit secret that seeds every pseudo-noise sequence of the watermark.
///
/// Detection needs the same key (it is a symmetric "detection key"), so a provider that
/// publishes it in `provider.toml` lets anyone verify its marks, at the price of making them
/// easier to attack for whoever holds it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct WatermarkKey([u8; 32]);

impl WatermarkKey {
    /// Draws a new key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS generator fails.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Wraps raw key bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes. Handle with care: this is the secret.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lowercase hex digits (zeroized when dropped).
    #[must_use]
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`Error::Params`] if the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|_| Error::params("watermark key", "expected 64 hexadecimal digits"))?;
        Ok(Self(bytes))
    }

    /// A public fingerprint of the key (first 8 bytes of SHA-256 over a domain tag and the
    /// key), for naming keys without revealing them.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"provmark watermark key fingerprint v1\0");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }
}

impl fmt::Debug for WatermarkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatermarkKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// Identifies a provider's Ed25519 public key: the first 8 bytes of SHA-256 of the 32-byte
/// public key, as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// Computes the key id of a public key.
    #[must_use]
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// The raw 8 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut id = [0u8; 8];
        hex::decode_to_slice(s, &mut id)
            .map_err(|_| Error::params("key id", format!("`{s}` is not 16 hexadecimal digits")))?;
        Ok(Self(id))
    }
}

/// An Ed25519 public key with its [`KeyId`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey {
    inner: ed25519_dalek::VerifyingKey,
}

impl VerifyingKey {
    /// Parses a 32-byte Ed25519 public key.
    ///
    /// # Errors
    /// [`Error::Params`] if the bytes are not a valid (or are a weak) Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let inner = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| Error::params("public key", "not a valid Ed25519 public key"))?;
        if inner.is_weak() {
            return Err(Error::params("public key", "weak (small-order) Ed25519 key"));
        }
        Ok(Self { inner })
    }

    /// The 32 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.inner.as_bytes()
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        KeyId::of(self)
    }

    /// The underlying `ed25519-dalek` key.
    #[must_use]
    pub const fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.inner
    }

    /// Verifies a signature strictly (rejects malleable and small-order inputs).
    ///
    /// # Errors
    /// [`Error::Signature`] if the signature does not verify.
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> Result<()> {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.inner.verify_strict(message, &sig).map_err(|_| Error::Signature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_id", &self.key_id())
            .field("bytes", &hex::encode(self.as_bytes()))
            .finish()
    }
}

/// A provider's Ed25519 signing key. Implements [`signature::Signer`], so code that signs
/// takes `S: signature::Signer<ed25519_dalek::Signature>` and an HSM or KMS signer can stand
/// in for this one.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// Generates a new key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS generator fails.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self { inner: ed25519_dalek::SigningKey::from_bytes(&seed) })
    }

    /// Builds a key from its 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { inner: ed25519_dalek::SigningKey::from_bytes(seed) }
    }

    /// Parses a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`Error::Params`] if the text is not an Ed25519 PKCS#8 PEM key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(|inner| Self { inner })
            .map_err(|_| Error::params("signing key", "not an Ed25519 PKCS#8 PEM private key"))
    }

    /// Encodes the key as a PKCS#8 PEM document (zeroized when dropped).
    ///
    /// # Errors
    /// [`Error::Encode`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.inner
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| Error::encode("PKCS#8 PEM", e.to_string()))
    }

    /// The matching public key.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey { inner: self.inner.verifying_key() }
    }

    /// The key id of the public key.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.verifying_key().key_id()
    }

    /// Signs a message, returning the 64-byte signature.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.inner.sign(message).to_bytes()
    }

    /// The underlying `ed25519-dalek` key (for code that signs with the generic trait).
    #[must_use]
    pub const fn as_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.inner
    }
}

impl signature::Signer<ed25519_dalek::Signature> for SigningKey {
    fn try_sign(&self, msg: &[u8]) -> Result<ed25519_dalek::Signature, signature::Error> {
        self.inner.try_sign(msg)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("key_id", &self.key_id()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
