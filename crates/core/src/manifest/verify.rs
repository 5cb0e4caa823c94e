//! Verification of what a reader found: label status, signatures, binding, keys.

use crate::manifest::label::AigcLabel;
use crate::manifest::provenance::{Provenance, VisibleClaim};
use crate::manifest::report::MetadataReport;
use crate::manifest::security::{self, SecurityData};
use crate::manifest::TRAINED_ALGORITHMIC_MEDIA;
use crate::verdict::LabelEvidence;
use crate::{ContentId, Keyring, VerifyingKey};

/// The GB 45438 label status, as in the public verifiers (AigcTotal's four verdicts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelStatus {
    /// Exactly one label, well-formed per Annex E.
    Compliant,
    /// A label is present but violates Annex E or 6.1 c) (duplicates).
    Noncompliant,
    /// No label and nothing unreadable.
    NotFound,
    /// Some carrier could not be read, so the answer is not certain.
    Inconclusive,
}

impl LabelStatus {
    /// `compliant`, `noncompliant`, `not_found` or `inconclusive`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::Noncompliant => "noncompliant",
            Self::NotFound => "not_found",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// A label status with its reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelVerdict {
    /// The status.
    pub status: LabelStatus,
    /// Why (empty for a clean `compliant`).
    pub reasons: Vec<String>,
}

/// Outcome of a signature check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Verified (strict Ed25519).
    Valid,
    /// Present and does not verify.
    Invalid,
    /// No signature (no or foreign `SecurityData`).
    Missing,
    /// A signature with an algorithm we do not verify (e.g. SM2, RSA), named here.
    Unsupported(String),
}

/// Outcome of the hard-binding check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingStatus {
    /// The signed hash equals the file's media hash.
    Match,
    /// The signed hash differs: the media was re-encoded or edited.
    Mismatch,
    /// A binding entry exists but its signature does not verify.
    Unsigned,
    /// No binding entry (or one of a type we do not know).
    Missing,
    /// No media hash was supplied to compare with.
    NotChecked,
}

/// Whether the signing key is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// In the keyring, and the provider code matches the label.
    Known {
        /// The provider's name from the keyring.
        provider: String,
    },
    /// In the keyring, but registered for another provider code than the label names.
    CodeMismatch {
        /// The keyring's code for this key.
        expected: String,
    },
    /// Not in the keyring: the signature proves integrity only, not who signed.
    Unknown,
    /// No usable public key in the security data.
    Missing,
}

/// The checks for one party (producer via `ReservedCode1`, propagator via `ReservedCode2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyCheck {
    /// The label signature (Appendix A.1 message).
    pub signature: SignatureStatus,
    /// The hard binding.
    pub binding: BindingStatus,
    /// The key.
    pub key: KeyStatus,
    /// The key id of the embedded public key, if one parsed.
    pub key_id: Option<String>,
}

impl PartyCheck {
    /// Signature valid, binding matches, key known.
    #[must_use]
    pub fn is_good(&self) -> bool {
        self.signature == SignatureStatus::Valid
            && self.binding == BindingStatus::Match
            && matches!(self.key, KeyStatus::Known { .. })
    }
}

/// Outcome of the provenance-manifest check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvenanceStatus {
    /// Signed by a known key, content id and media hash match.
    Valid,
    /// No manifest for this content id.
    Missing,
    /// Its key id is not in the keyring.
    UnknownKey,
    /// Present but wrong (reason given).
    Invalid(String),
}

/// Everything [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The GB 45438 label status.
    pub label: LabelVerdict,
    /// The producer's checks (`ReservedCode1`), if a label was found.
    pub producer: Option<PartyCheck>,
    /// The propagator's checks (`ReservedCode2`), if a propagator signed.
    pub propagator: Option<PartyCheck>,
    /// The provenance manifest.
    pub provenance: ProvenanceStatus,
    /// Whether XMP declares `trainedAlgorithmicMedia` (full URI).
    pub digital_source_type: bool,
    /// Whether a C2PA manifest store is present.
    pub c2pa_present: bool,
    /// The label's `ProduceID` as a content id, if it is one.
    pub produce_id: Option<ContentId>,
    /// The visible identifier named by the provenance manifest, when its signature verifies
    /// under a known key (even if the media changed since).
    pub visible: Option<VisibleClaim>,
}

impl Verification {
    /// Producer signature valid with a known key, binding intact, provenance valid, and the
    /// propagator (if any) equally good.
    #[must_use]
    pub fn is_authentic(&self) -> bool {
        self.producer.as_ref().is_some_and(PartyCheck::is_good)
            && self.propagator.as_ref().is_none_or(PartyCheck::is_good)
            && self.provenance == ProvenanceStatus::Valid
    }

    /// The label's evidence for [`crate::verdict::judge`]: `signature_ok` is `Some(true)` for
    /// a valid producer signature (label and binding) under a known key, `Some(false)` for an
    /// invalid one, `None` when it cannot be checked (no signature, unknown key, unsupported
    /// algorithm); `binding_ok` is `None` when not checked. `None` without a label.
    #[must_use]
    pub fn label_evidence(&self) -> Option<LabelEvidence> {
        let p = self.producer.as_ref()?;
        let known = matches!(p.key, KeyStatus::Known { .. });
        let signature_ok = match (&p.signature, p.binding) {
            (SignatureStatus::Invalid, _) | (_, BindingStatus::Unsigned) => Some(false),
            (SignatureStatus::Valid, _) if matches!(p.key, KeyStatus::CodeMismatch { .. }) => {
                Some(false)
            }
            (SignatureStatus::Valid, _) if known => Some(true),
            _ => None,
        };
        let binding_ok = match p.binding {
            BindingStatus::Match => Some(true),
            BindingStatus::Mismatch => Some(false),
            _ => None,
        };
        Some(LabelEvidence { produce_id: self.produce_id, signature_ok, binding_ok })
    }

    /// Whether any signed binding no longer matches the media (re-encoded or edited).
    #[must_use]
    pub fn binding_mismatch(&self) -> bool {
        [&self.producer, &self.propagator]
            .into_iter()
            .flatten()
            .any(|p| p.binding == BindingStatus::Mismatch)
    }
}

/// The GB 45438 label status of a report.
#[must_use]
pub fn label_status(report: &MetadataReport) -> LabelVerdict {
    let mut reasons = Vec::new();
    if report.labels.is_empty() {
        if report.problems.is_empty() {
            return LabelVerdict { status: LabelStatus::NotFound, reasons };
        }
        reasons.extend(report.problems.iter().map(|p| format!("unreadable: {p}")));
        return LabelVerdict { status: LabelStatus::Inconclusive, reasons };
    }
    if report.labels.len() > 1 {
        let places: Vec<&str> = report.labels.iter().map(|l| l.carrier.name.as_str()).collect();
        reasons.push(format!(
            "{} labels found ({}); GB 45438 6.1 c) allows one",
            report.labels.len(),
            places.join(", ")
        ));
    }
    for found in &report.labels {
        let at = &found.carrier.name;
        match &found.parsed {
            Err(e) => reasons.push(format!("{at}: {e}")),
            Ok(p) => {
                reasons.extend(p.issues.iter().map(|i| format!("{at}: {i}")));
                reasons.extend(p.label.check().into_iter().map(|i| format!("{at}: {i}")));
            }
        }
        reasons.extend(found.remarks.iter().map(|r| format!("{at}: {r}")));
    }
    if !reasons.is_empty() {
        return LabelVerdict { status: LabelStatus::Noncompliant, reasons };
    }
    if !report.problems.is_empty() {
        reasons.extend(report.problems.iter().map(|p| format!("unreadable: {p}")));
        return LabelVerdict { status: LabelStatus::Inconclusive, reasons };
    }
    LabelVerdict { status: LabelStatus::Compliant, reasons }
}

/// Verifies the (first) label of `report`: the producer's and propagator's signatures and
/// bindings against `media_hash` (from [`crate::container::media_hash`]; `None` skips the
/// binding), their keys against `keyring`, and the provenance manifest.
#[must_use]
pub fn verify(
    report: &MetadataReport,
    media_hash: Option<&[u8; 32]>,
    keyring: &Keyring,
) -> Verification {
    let mut verdict = label_status(report);
    let first = report.parsed_labels().next().map(|(_, p)| &p.label);
    let mut producer = None;
    let mut propagator = None;
    if let Some(label) = first {
        let prop = (!label.reserved_code2.is_empty()).then(|| {
            party(
                &label.reserved_code2,
                &label.propagator_message(),
                &label.content_propagator,
                media_hash,
                keyring,
                None,
            )
        });
        let mut p = party(
            &label.reserved_code1,
            &label.producer_message(&label.label),
            &label.content_producer,
            media_hash,
            keyring,
            Some(label),
        );
        // The producer signed the `Label` recorded in `TBSData`; a different current value is
        // only legitimate when a propagator signed it.
        let signed = security::parse(&label.reserved_code1).ok().and_then(|sd| sd.signed_label);
        let propagator_ok = prop.as_ref().is_some_and(|pr| pr.signature == SignatureStatus::Valid);
        if signed.is_some_and(|s| s != label.label) && !propagator_ok {
            p.signature = SignatureStatus::Invalid;
        }
        if let Some(pr) = &prop {
            if pr.signature != SignatureStatus::Valid {
                verdict
                    .reasons
                    .push("the propagator's signature in `ReservedCode2` does not verify".into());
            }
        }
        producer = Some(p);
        propagator = prop;
    }
    let provenance = check_provenance(report, first, media_hash, keyring);
    let visible = signed_visible(report, first, keyring);
    let digital_source_type = report
        .digital_source_types
        .iter()
        .any(|v| v.trim().replace("https://", "http://") == TRAINED_ALGORITHMIC_MEDIA);
    Verification {
        label: verdict,
        producer,
        propagator,
        provenance,
        digital_source_type,
        c2pa_present: report.has_c2pa(),
        produce_id: first.and_then(|l| l.produce_id.parse().ok()),
        visible,
    }
}

/// The visible identifier of the label's provenance manifest, if its signature verifies.
fn signed_visible(
    report: &MetadataReport,
    label: Option<&AigcLabel>,
    keyring: &Keyring,
) -> Option<VisibleClaim> {
    let wanted = label.map(|l| l.produce_id.as_str());
    let p = report.provenance.iter().find(|p| wanted.is_none_or(|id| p.get("ContentID") == id))?;
    let key = keyring.by_key_id(p.get("KeyID"))?.verifying_key().ok()?;
    if provenance_signature(p, &key).is_some() {
        return None;
    }
    p.visible()
}

fn party(
    reserved: &str,
    message: &str,
    code: &str,
    media_hash: Option<&[u8; 32]>,
    keyring: &Keyring,
    producer_label: Option<&AigcLabel>,
) -> PartyCheck {
    let missing = PartyCheck {
        signature: SignatureStatus::Missing,
        binding: BindingStatus::Missing,
        key: KeyStatus::Missing,
        key_id: None,
    };
    let Ok(sd) = security::parse(reserved) else { return missing };
    if sd.signature.is_none() {
        return missing;
    }
    if sd.sig_alg != security::ED25519_OID {
        return PartyCheck { signature: SignatureStatus::Unsupported(sd.sig_alg), ..missing };
    }
    let key = sd
        .public_key
        .as_deref()
        .and_then(|k| <&[u8; 32]>::try_from(k).ok())
        .and_then(|k| VerifyingKey::from_bytes(k).ok());
    let Some(key) = key else {
        return PartyCheck { signature: SignatureStatus::Invalid, ..missing };
    };
    let key_id = key.key_id().to_string();
    let key_status = match keyring.by_key_id(&key_id) {
        Some(p) if p.verifying_key().ok() == Some(key) => {
            if p.producer_code.as_str() == code {
                KeyStatus::Known { provider: p.name.clone() }
            } else {
                KeyStatus::CodeMismatch { expected: p.producer_code.as_str().to_owned() }
            }
        }
        _ => KeyStatus::Unknown,
    };
    // The producer signed the `Label` it wrote, recorded in `TBSData.Label`.
    let message = match (producer_label, &sd.signed_label) {
        (Some(label), Some(signed)) => label.producer_message(signed),
        _ => message.to_owned(),
    };
    let signature = check_sig(&key, message.as_bytes(), sd.signature.as_deref());
    let binding = check_binding(&sd, &key, &message, media_hash);
    PartyCheck { signature, binding, key: key_status, key_id: Some(key_id) }
}

fn check_sig(key: &VerifyingKey, message: &[u8], sig: Option<&[u8]>) -> SignatureStatus {
    match sig.and_then(|s| <&[u8; 64]>::try_from(s).ok()) {
        Some(s) if key.verify_strict(message, s).is_ok() => SignatureStatus::Valid,
        Some(_) => SignatureStatus::Invalid,
        None => SignatureStatus::Invalid,
    }
}

fn check_binding(
    sd: &SecurityData,
    key: &VerifyingKey,
    message: &str,
    media_hash: Option<&[u8; 32]>,
) -> BindingStatus {
    let Some(b) = &sd.binding else { return BindingStatus::Missing };
    if b.btype != security::BINDING_TYPE || b.hash_alg != security::SHA256_OID {
        return BindingStatus::Missing;
    }
    let bmsg = security::binding_message(message, &b.btype, &b.hash);
    if check_sig(key, bmsg.as_bytes(), b.signature.as_deref()) != SignatureStatus::Valid {
        return BindingStatus::Unsigned;
    }
    match media_hash {
        None => BindingStatus::NotChecked,
        Some(h) if b.hash.as_slice() == h.as_slice() => BindingStatus::Match,
        Some(_) => BindingStatus::Mismatch,
    }
}

fn check_provenance(
    report: &MetadataReport,
    label: Option<&AigcLabel>,
    media_hash: Option<&[u8; 32]>,
    keyring: &Keyring,
) -> ProvenanceStatus {
    let wanted = label.map(|l| l.produce_id.as_str());
    let Some(p) =
        report.provenance.iter().find(|p| wanted.is_none_or(|id| p.get("ContentID") == id))
    else {
        return ProvenanceStatus::Missing;
    };
    let Some(info) = keyring.by_key_id(p.get("KeyID")) else {
        return ProvenanceStatus::UnknownKey;
    };
    let Ok(key) = info.verifying_key() else { return ProvenanceStatus::UnknownKey };
    provenance_signature(p, &key).unwrap_or_else(|| {
        if let Some(l) = label {
            if p.get("Producer") != l.content_producer {
                return ProvenanceStatus::Invalid("producer differs from the label's".into());
            }
        }
        if info.producer_code.as_str() != p.get("Producer") {
            return ProvenanceStatus::Invalid("key is registered for another provider code".into());
        }
        match media_hash {
            Some(h) if p.get("MediaHash") != hex::encode(h) => {
                ProvenanceStatus::Invalid("media hash differs (media re-encoded or edited)".into())
            }
            _ => ProvenanceStatus::Valid,
        }
    })
}

/// `Some(Invalid)` if the signature does not verify, `None` if it does.
fn provenance_signature(p: &Provenance, key: &VerifyingKey) -> Option<ProvenanceStatus> {
    let bytes = match p.canonical_bytes() {
        Ok(b) => b,
        Err(e) => return Some(ProvenanceStatus::Invalid(e.to_string())),
    };
    let mut sig = [0u8; 64];
    if hex::decode_to_slice(&p.signature, &mut sig).is_err() {
        return Some(ProvenanceStatus::Invalid("signature is not 128 hex digits".into()));
    }
    match key.verify_strict(&bytes, &sig) {
        Ok(()) => None,
        Err(_) => Some(ProvenanceStatus::Invalid("signature does not verify".into())),
    }
}
