//! Signed metadata: the GB 45438-2025 Annex E `AIGC` label with Ed25519 `SecurityData` and a
//! hard binding in `ReservedCode1`, our signed provenance manifest, and their verification.
//!
//! This module knows no file formats; [`crate::container`] places what it builds.
//!
//! * [`LabelRequest`] says what to label; [`sign_label`] turns it into an [`AigcLabel`] and a
//!   [`Provenance`], both signed by any `S: signature::Signer<ed25519_dalek::Signature>`.
//! * [`propagate_label`] is the platform update of Measures Art. 6: it fills
//!   `ContentPropagator`/`PropagateID`/`ReservedCode2` and may set `Label` to 2 or 3.
//! * [`verify`] checks a [`MetadataReport`] against the media hash and a [`crate::Keyring`].

pub mod label;
pub mod provenance;
pub mod report;
pub mod security;
mod verify;

use ed25519_dalek::Signature;
use signature::Signer;

pub use label::{parse_label, AigcLabel, LabelForm, LabelValue, ParsedLabel};
pub use provenance::{Provenance, VisibleClaim};
pub use report::{C2paStore, Carrier, FoundLabel, MetadataReport};
pub use verify::{
    label_status, verify, BindingStatus, KeyStatus, LabelStatus, LabelVerdict, PartyCheck,
    ProvenanceStatus, SignatureStatus, Verification,
};

use crate::{ContentId, Error, ProviderInfo, Result, VerifyingKey};

/// The TC260 namespace of the `AIGC` XMP property.
pub const TC260_NS: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
/// The IPTC Extension namespace.
pub const IPTC_EXT_NS: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
/// The IPTC digital source type we write for generated media.
pub const TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
/// Version of the provenance manifest written by this code.
pub const MANIFEST_VERSION: &str = "1";

/// What to label. Build with [`LabelRequest::new`] and the `with_*` setters; every text value
/// is checked in [`LabelRequest::validate`] (printable ASCII without space for the fields that
/// reach the Annex E label, printable ASCII for the others, at most 256 bytes each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRequest {
    /// The content id, written as `ProduceID` (and `PropagateID` on first write).
    pub content_id: ContentId,
    /// `Label`; default [`LabelValue::Generated`].
    pub label: LabelValue,
    /// The generating model or system name; default empty.
    pub model: String,
    /// Creation time, RFC 3339 (e.g. `2026-11-28T12:00:00Z`); required.
    pub created: String,
    /// Watermark algorithm name; default empty (no watermark).
    pub watermark_alg: String,
    /// Watermark algorithm version; default empty.
    pub watermark_version: String,
    /// Where the ledger record lives (URL or log origin); default empty.
    pub ledger_origin: String,
    /// The visible identifier applied to the content, named in the provenance manifest;
    /// default none.
    pub visible: Option<VisibleClaim>,
}

impl LabelRequest {
    /// A request with the defaults above.
    #[must_use]
    pub fn new(content_id: ContentId, created: impl Into<String>) -> Self {
        Self {
            content_id,
            label: LabelValue::Generated,
            model: String::new(),
            created: created.into(),
            watermark_alg: String::new(),
            watermark_version: String::new(),
            ledger_origin: String::new(),
            visible: None,
        }
    }

    /// Sets `Label`.
    #[must_use]
    pub fn with_label(mut self, label: LabelValue) -> Self {
        self.label = label;
        self
    }

    /// Sets the model name.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets the watermark algorithm and version.
    #[must_use]
    pub fn with_watermark(mut self, alg: impl Into<String>, version: impl Into<String>) -> Self {
        self.watermark_alg = alg.into();
        self.watermark_version = version.into();
        self
    }

    /// Sets the ledger origin.
    #[must_use]
    pub fn with_ledger_origin(mut self, origin: impl Into<String>) -> Self {
        self.ledger_origin = origin.into();
        self
    }

    /// Sets the visible identifier the manifest names.
    #[must_use]
    pub fn with_visible(mut self, visible: VisibleClaim) -> Self {
        self.visible = Some(visible);
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::Params`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        if self.created.is_empty() {
            return Err(Error::params("created", "is required (RFC 3339 time)"));
        }
        for (what, value) in [
            ("model", &self.model),
            ("created", &self.created),
            ("watermark algorithm", &self.watermark_alg),
            ("watermark version", &self.watermark_version),
            ("ledger origin", &self.ledger_origin),
        ] {
            if value.len() > 256 || value.chars().any(|c| !(' '..='~').contains(&c)) {
                return Err(Error::params(what, "must be printable ASCII, at most 256 bytes"));
            }
        }
        if let Some(v) = &self.visible {
            if v.kind.is_empty() {
                return Err(Error::params("visible identifier kind", "is required"));
            }
            for (what, value) in [
                ("visible identifier kind", &v.kind),
                ("visible identifier text", &v.text),
                ("visible identifier position", &v.position),
            ] {
                if value.len() > 256 || value.chars().any(char::is_control) {
                    return Err(Error::params(
                        what,
                        "must be at most 256 bytes of UTF-8 without control characters",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The signed label and manifest for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedMetadata {
    /// The Annex E label, `ReservedCode1` filled.
    pub label: AigcLabel,
    /// The provenance manifest, signed.
    pub provenance: Provenance,
}

fn sign_checked<S: Signer<Signature>>(
    signer: &S,
    key: &VerifyingKey,
    message: &[u8],
) -> Result<[u8; 64]> {
    let sig = signer.try_sign(message).map_err(|_| Error::Signature)?.to_bytes();
    key.verify_strict(message, &sig).map_err(|_| {
        Error::params("signer", "its signatures do not verify with the provider's public key")
    })?;
    Ok(sig)
}

/// Builds and signs the label and the provenance manifest for media whose hash (per
/// [`crate::container::media_hash`]) is `media_hash`, in a file of format `format`.
///
/// # Errors
/// [`Error::Params`] for an invalid request or a signer that does not match
/// `provider.public_key`; [`Error::Signature`] if the signer fails.
pub fn sign_label<S: Signer<Signature>>(
    request: &LabelRequest,
    provider: &ProviderInfo,
    signer: &S,
    format: &str,
    media_hash: &[u8; 32],
) -> Result<SignedMetadata> {
    request.validate()?;
    let key = provider.verifying_key()?;
    let id = request.content_id.to_string();
    let code = provider.producer_code.as_str().to_owned();
    let mut label = AigcLabel {
        label: request.label.as_str().to_owned(),
        content_producer: code.clone(),
        produce_id: id.clone(),
        reserved_code1: String::new(),
        content_propagator: code.clone(),
        propagate_id: id.clone(),
        reserved_code2: String::new(),
    };
    label.reserved_code1 = security_for(
        &label.producer_message(&label.label),
        &label.label,
        signer,
        &key,
        media_hash,
    )?;

    let mut provenance = Provenance::default();
    for (name, value) in [
        ("ManifestVersion", MANIFEST_VERSION),
        ("ContentID", &id),
        ("Producer", &code),
        ("Model", &request.model),
        ("Created", &request.created),
        ("KeyID", &key.key_id().to_string()),
        ("LedgerOrigin", &request.ledger_origin),
        ("WatermarkAlg", &request.watermark_alg),
        ("WatermarkVersion", &request.watermark_version),
        ("MediaFormat", format),
        ("MediaHash", &hex::encode(media_hash)),
        ("DigitalSourceType", TRAINED_ALGORITHMIC_MEDIA),
    ] {
        provenance.set(name, value.to_owned());
    }
    if let Some(v) = &request.visible {
        provenance.set("VisibleKind", v.kind.clone());
        provenance.set("VisibleText", v.text.clone());
        provenance.set("VisiblePosition", v.position.clone());
    }
    let sig = sign_checked(signer, &key, &provenance.canonical_bytes()?)?;
    provenance.signature = hex::encode(sig);
    Ok(SignedMetadata { label, provenance })
}

fn security_for<S: Signer<Signature>>(
    message: &str,
    signed_label: &str,
    signer: &S,
    key: &VerifyingKey,
    media_hash: &[u8; 32],
) -> Result<String> {
    let sig = sign_checked(signer, key, message.as_bytes())?;
    let bmsg = security::binding_message(message, security::BINDING_TYPE, media_hash);
    let bsig = sign_checked(signer, key, bmsg.as_bytes())?;
    Ok(security::encode(signed_label, &sig, media_hash, &bsig, key))
}

/// The platform update (Measures Art. 6): keeps the producer's fields, sets
/// `ContentPropagator` to `propagator.producer_code`, `PropagateID` to `propagate_id`,
/// `Label` to `new_label` when given, and `ReservedCode2` to the propagator's `SecurityData`
/// (signature over `"Label":…,"ContentPropagator":…,"PropagateID":…` and the binding).
///
/// # Errors
/// [`Error::Params`] if `propagate_id` is empty or outside the Annex E character set, or the
/// signer does not match the propagator's key.
pub fn propagate_label<S: Signer<Signature>>(
    label: &AigcLabel,
    propagator: &ProviderInfo,
    propagate_id: &str,
    new_label: Option<LabelValue>,
    signer: &S,
    media_hash: &[u8; 32],
) -> Result<AigcLabel> {
    if propagate_id.is_empty()
        || propagate_id.len() > 256
        || !propagate_id.chars().all(label::annex_e_char)
    {
        return Err(Error::params(
            "propagate id",
            "must be 1-256 printable ASCII characters, no space or backslash",
        ));
    }
    let key = propagator.verifying_key()?;
    let mut out = label.clone();
    if let Some(v) = new_label {
        out.label = v.as_str().to_owned();
    }
    out.content_propagator = propagator.producer_code.as_str().to_owned();
    out.propagate_id = propagate_id.to_owned();
    out.reserved_code2 =
        security_for(&out.propagator_message(), &out.label, signer, &key, media_hash)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
