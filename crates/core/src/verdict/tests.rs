use super::*;

const A: ContentId = ContentId::from_u64(0xa);
const B: ContentId = ContentId::from_u64(0xb);

fn label(id: ContentId, sig: Option<bool>, binding: Option<bool>) -> Option<LabelEvidence> {
    Some(LabelEvidence { produce_id: Some(id), signature_ok: sig, binding_ok: binding })
}

fn verdict(
    watermark_id: Option<ContentId>,
    label: Option<LabelEvidence>,
    ledger: Option<LedgerEvidence>,
) -> Verdict {
    judge(&Evidence { watermark_id, label, ledger }).verdict
}

#[test]
fn the_six_verdicts() {
    use LedgerEvidence::*;
    assert_eq!(verdict(Some(A), label(A, Some(true), Some(true)), None), Verdict::Authentic);
    assert_eq!(
        verdict(Some(A), label(A, Some(true), Some(true)), Some(Confirmed)),
        Verdict::Authentic
    );
    assert_eq!(verdict(Some(A), label(A, Some(true), Some(false)), None), Verdict::Modified);
    assert_eq!(verdict(Some(A), None, None), Verdict::MetadataStripped);
    assert_eq!(verdict(None, label(A, Some(true), Some(true)), None), Verdict::LabelOnly);
    assert_eq!(verdict(None, None, None), Verdict::Unmarked);
    assert_eq!(verdict(None, None, Some(NoRecord)), Verdict::Unmarked, "no ID: nothing to deny");
}

#[test]
fn forgeries() {
    use LedgerEvidence::*;
    // Bad signature.
    assert_eq!(verdict(Some(A), label(A, Some(false), Some(true)), None), Verdict::Forged);
    assert_eq!(verdict(None, label(A, Some(false), None), None), Verdict::Forged);
    // Label of another file on marked content.
    assert_eq!(verdict(Some(A), label(B, Some(true), Some(false)), None), Verdict::Forged);
    // Label copied onto unmarked content.
    assert_eq!(verdict(None, label(A, Some(true), Some(false)), None), Verdict::Forged);
    // The ledger denies.
    assert_eq!(verdict(Some(A), None, Some(NoRecord)), Verdict::Forged);
    assert_eq!(
        verdict(Some(A), label(A, Some(true), Some(true)), Some(Contradicts)),
        Verdict::Forged
    );
}

#[test]
fn judgement_names_the_id_and_reasons() {
    let j = judge(&Evidence {
        watermark_id: Some(A),
        label: label(B, Some(true), Some(true)),
        ledger: None,
    });
    assert_eq!(j.id, Some(A));
    assert!(j.reasons.iter().any(|r| r.contains("differs")), "{:?}", j.reasons);
    let j = judge(&Evidence {
        watermark_id: None,
        label: label(B, Some(true), Some(true)),
        ledger: None,
    });
    assert_eq!(j.id, Some(B));
    assert_eq!(serde_json::to_string(&j.verdict).unwrap(), "\"label_only\"");
}
