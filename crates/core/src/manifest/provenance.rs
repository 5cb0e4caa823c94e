//! Our richer signed provenance manifest, carried as properties of its own XMP namespace
//! ([`NS`]) and signed over a canonical byte encoding ([`Provenance::canonical_bytes`]).

use crate::{Error, Result};

/// XMP namespace of the provenance manifest (preferred prefix `provmark`): a UUID URN
/// (RFC 9562), which the project owns without owning a domain, with an empty fragment so
/// that a property's full name (`…#ContentID`) is that URN plus a fragment. Written and read.
pub const NS: &str = "urn:uuid:c327a903-be24-4cbb-866c-0a7bbd0bbaaa#";
/// The placeholder namespace of early versions, still read (never written).
pub const LEGACY_NS: &str = "http://provmark.invalid/ns/manifest/1.0/";

/// Whether `ns` is a namespace of the provenance manifest ([`NS`] or [`LEGACY_NS`]).
#[must_use]
pub fn is_namespace(ns: &str) -> bool {
    ns == NS || ns == LEGACY_NS
}

/// Preferred prefix for [`NS`].
pub const PREFIX: &str = "provmark";
/// Domain separator at the start of the canonical encoding.
pub const DOMAIN: &[u8] = b"provmark/manifest/v1\n";
/// Largest accepted value of one field (bytes).
pub const MAX_FIELD: usize = 1024;

/// The XMP property names of the signed fields, in canonical order. The first
/// [`REQUIRED_FIELDS`] are always signed; the others (the visible identifier) are signed
/// when present (non-empty), so manifests written before they existed still verify.
pub const FIELDS: [&str; 15] = [
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
    "VisibleKind",
    "VisibleText",
    "VisiblePosition",
];
/// How many of [`FIELDS`] are always part of the signed bytes.
pub const REQUIRED_FIELDS: usize = 12;
/// The XMP property name of the signature (hex, 128 digits).
pub const SIGNATURE_FIELD: &str = "Signature";

/// The provenance manifest: every field is text, exactly as stored in XMP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Values of [`FIELDS`], in that order.
    pub fields: [String; 15],
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
    /// its name, a 0x00 byte, the value's length as a 4-byte big-endian integer and the value;
    /// an optional field (after [`REQUIRED_FIELDS`]) whose value is empty is left out.
    ///
    /// # Errors
    /// [`Error::Limits`] if a value is longer than [`MAX_FIELD`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(DOMAIN);
        for (i, (name, value)) in FIELDS.iter().zip(&self.fields).enumerate() {
            if i >= REQUIRED_FIELDS && value.is_empty() {
                continue;
            }
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

    /// The visible identifier the manifest names, if any: (kind, text, position).
    #[must_use]
    pub fn visible(&self) -> Option<VisibleClaim> {
        let kind = self.get("VisibleKind");
        (!kind.is_empty()).then(|| VisibleClaim {
            kind: kind.to_owned(),
            text: self.get("VisibleText").to_owned(),
            position: self.get("VisiblePosition").to_owned(),
        })
    }

    /// All properties (fields then signature) as `(name, value)` pairs for XMP; optional
    /// fields that are empty are left out.
    #[must_use]
    pub fn properties(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = FIELDS
            .iter()
            .copied()
            .zip(self.fields.iter().map(String::as_str))
            .enumerate()
            .filter(|(i, (_, v))| *i < REQUIRED_FIELDS || !v.is_empty())
            .map(|(_, p)| p)
            .collect();
        out.push((SIGNATURE_FIELD, &self.signature));
        out
    }
}

/// The visible identifier (explicit label) a manifest names: what was applied to the
/// content before the watermark.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VisibleClaim {
    /// `image-label` (text drawn on a picture) or `audio-cue` (a rhythm or spoken cue).
    pub kind: String,
    /// The label text (e.g. `AI生成`), or the cue: `rhythm ·− ··` or the spoken transcript.
    pub text: String,
    /// Where it is: for an image, the edge or corner and the pixel region
    /// (`bottom-right 512,384 120x40`); for audio, start/end/both and each cue's frames.
    pub position: String,
}
