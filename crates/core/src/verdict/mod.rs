//! Combining the evidence of the three layers into one verdict per file.
//!
//! The rules (DESIGN.md §3), in order:
//!
//! 1. **forged**: a label whose signature fails; or a watermark ID that differs from the
//!    label's `ProduceID`; or a ledger that was consulted and has no record for the ID (or a
//!    record that contradicts the file's label); or a valid label whose hard binding does
//!    not match while no watermark backs it (a label transplanted onto other content).
//! 2. **authentic**: every layer present agrees and the binding is intact (a watermark and a
//!    valid label at least).
//! 3. **modified**: watermark and valid label agree, but the binding no longer matches
//!    (re-encoded or edited).
//! 4. **metadata_stripped**: a watermark, no label.
//! 5. **label_only**: a valid label with an intact binding (or one that cannot be checked),
//!    no watermark found.
//! 6. **unmarked**: nothing found.
//!
//! A watermark counts only when its tag verified under a known key (so its false-positive
//! probability is bounded, by default by 10⁻¹²), so `unmarked` files are never accused.

use serde::Serialize;

use crate::ContentId;

/// The verdict on one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// All present layers agree and the binding is intact.
    Authentic,
    /// The marks agree but the binding hash no longer matches.
    Modified,
    /// Watermark found, no label.
    MetadataStripped,
    /// Valid label, no watermark found.
    LabelOnly,
    /// A signature fails, the layers disagree, or the ledger denies the record.
    Forged,
    /// Nothing found.
    Unmarked,
}

impl Verdict {
    /// The verdict's name as printed (`authentic`, `modified`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authentic => "authentic",
            Self::Modified => "modified",
            Self::MetadataStripped => "metadata_stripped",
            Self::LabelOnly => "label_only",
            Self::Forged => "forged",
            Self::Unmarked => "unmarked",
        }
    }
}

/// What the label layer showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelEvidence {
    /// The label's `ProduceID`, when it parses as a content ID.
    pub produce_id: Option<ContentId>,
    /// `Some(true)` if the signature verified under a known key, `Some(false)` if it failed,
    /// `None` if it could not be checked (no signature, unknown key or algorithm).
    pub signature_ok: Option<bool>,
    /// `Some(true)` if the hard binding matches the file's media bytes, `Some(false)` if not,
    /// `None` if the label carries no binding we can check.
    pub binding_ok: Option<bool>,
}

/// What the ledger said, when one was consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerEvidence {
    /// A record for the ID exists and agrees with the file's other layers.
    Confirmed,
    /// No record for the ID.
    NoRecord,
    /// A record exists but contradicts the file (another producer or key).
    Contradicts,
}

/// The evidence gathered for one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The verified watermark ID, if a mark was found.
    pub watermark_id: Option<ContentId>,
    /// The label, if one was found.
    pub label: Option<LabelEvidence>,
    /// The ledger's answer, if a ledger was consulted.
    pub ledger: Option<LedgerEvidence>,
}

/// The verdict with the reasons behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The content ID the evidence points to, if any.
    pub id: Option<ContentId>,
    /// Human-readable reasons, one per finding that decided the verdict.
    pub reasons: Vec<String>,
}

/// Applies the rules of this module to the evidence.
#[must_use]
pub fn judge(e: &Evidence) -> Judgement {
    let mut reasons = Vec::new();
    let label = e.label.unwrap_or_default();
    let has_label = e.label.is_some();
    let id = e.watermark_id.or(label.produce_id);

    // 1. Forgery.
    if has_label && label.signature_ok == Some(false) {
        reasons.push("the label's signature does not verify".to_owned());
    }
    if let (Some(w), Some(p)) = (e.watermark_id, label.produce_id) {
        if has_label && w != p {
            reasons.push(format!("watermark ID {w} differs from the label's ProduceID {p}"));
        }
    }
    match e.ledger {
        Some(LedgerEvidence::NoRecord) if id.is_some() => {
            reasons.push("the ledger has no record of this ID".to_owned());
        }
        Some(LedgerEvidence::Contradicts) => {
            reasons.push("the ledger record contradicts the file".to_owned());
        }
        _ => {}
    }
    let label_valid = has_label && label.signature_ok == Some(true);
    if label_valid && label.binding_ok == Some(false) && e.watermark_id.is_none() {
        reasons.push(
            "the label's binding does not match this content and no watermark backs it: \
             the label was taken from another file"
                .to_owned(),
        );
    }
    if !reasons.is_empty() {
        return Judgement { verdict: Verdict::Forged, id, reasons };
    }

    let verdict = match (e.watermark_id.is_some(), has_label) {
        (true, true) if label.binding_ok == Some(false) => {
            reasons.push(
                "watermark and label agree, but the media bytes changed since signing".into(),
            );
            Verdict::Modified
        }
        (true, true) if label_valid => {
            reasons.push("watermark, signed label and binding agree".to_owned());
            Verdict::Authentic
        }
        (true, true) => {
            // A label we cannot check (unknown key, no signature) beside a verified mark:
            // the mark speaks, the label adds nothing verifiable.
            reasons.push("watermark found; the label could not be verified".to_owned());
            Verdict::MetadataStripped
        }
        (true, false) => {
            reasons.push("watermark found, no label".to_owned());
            Verdict::MetadataStripped
        }
        (false, true) => {
            reasons.push(if label_valid {
                "signed label found, no watermark".to_owned()
            } else {
                "a label was found but could not be verified, and no watermark".to_owned()
            });
            Verdict::LabelOnly
        }
        (false, false) => {
            reasons.push("no watermark and no label".to_owned());
            Verdict::Unmarked
        }
    };
    if e.ledger == Some(LedgerEvidence::Confirmed) {
        reasons.push("the ledger holds a matching record".to_owned());
    }
    Judgement { verdict, id, reasons }
}

#[cfg(test)]
mod tests;
