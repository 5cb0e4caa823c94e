//! Our richer signed provenance manifest, carried as properties of its own XMP namespace
//! ([`NS`]) and signed over a canonical byte encoding ([`Provenance::canonical_bytes`]).

use crate::{Error, Result};

/// XMP namespace of the provenance manifest (preferred prefix `provmark`).
pub const NS: &str = "http://provmark.invalid/ns/manifest/1.0/";
/// Preferred prefix for [`NS`].
pub const PREFIX: &str = "provmark";
/// Domain separator at the start of the canonical encoding.
pub const DOMAIN: &[u8] = b"provmark/manifest/v1\n";
/// Largest accepted value of one field (bytes).
pub const MAX_FIELD: usize = 1024;

/// The XMP property names of the signed fields, in canonical order.
pub const FIELDS: [&str; 12] = [
    "ManifestVersion",
    "ContentID",
    "Producer",
    "Model",
    "Created",
    "KeyID",
    "LedgerOrigin",
    "WatermarkAlg",
    "WatermarkVersion",
    "MediaFormat",
    "MediaHash",
    "DigitalSourceType",
];
/// The XMP property name of the signature (hex, 128 digits).
pub const SIGNATURE_FIELD: &str = "Signature";

/// The provenance manifest: every field is text, exactly as stored in XMP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Values of [`FIELDS`], in that order.
    pub fields: [String; 12],
    /// The Ed25519 signature over [`Provenance::canonical_bytes`], hex.
    pub signature: String,
}

impl Provenance {
    /// The value of a field by its [`FIELDS`] name (empty if the name is unknown).
    #[must_use]
    pub fn get(&self, name: &str) -> &str {
        FIELDS.iter().position(|f| *f == name).map_or("", |i| self.fields[i].as_str())
    }

    /// Sets a field by its [`FIELDS`] name; returns false for an unknown name.
    pub fn set(&mut self, name: &str, value: String) -> bool {
        match FIELDS.iter().position(|f| *f == name) {
            Some(i) => {
                self.fields[i] = value;
                true
            }
            None => false,
        }
    }

    /// The only bytes that are signed: [`DOMAIN`], then for each field in [`FIELDS`] order
    /// its name, a 0x00 byte, the value's length as a 4-byte big-endian integer and the value.
    ///
    /// # Errors
    /// [`Error::Limits`] if a value is longer than [`MAX_FIELD`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(DOMAIN);
        for (name, value) in FIELDS.iter().zip(&self.fields) {
            if value.len() > MAX_FIELD {
                return Err(Error::Limits {
                    what: "provenance field length",
                    actual: value.len() as u64,
                    limit: MAX_FIELD as u64,
                });
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        Ok(out)
    }

    /// All properties (fields then signature) as `(name, value)` pairs for XMP.
    #[must_use]
    pub fn properties(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> =
            FIELDS.iter().copied().zip(self.fields.iter().map(String::as_str)).collect();
        out.push((SIGNATURE_FIELD, &self.signature));
        out
    }
}
