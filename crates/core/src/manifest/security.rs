//! The TC260-PG-202511A `SecurityData` object stored (as a JSON string) in `ReservedCode1`
//! (producer) or `ReservedCode2` (propagator), with Ed25519 in place of SM2.
//!
//! Layout we write (compact, keys in this order):
//!
//! ```text
//! {"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[
//!   {"Type":"DS","AlgID":"1.3.101.112","TBSData":{"Type":"Md","Label":"1"},"Signature":"<128 hex>"},
//!   {"Type":"Bnd","BType":"provmark.media.v1","AlgID":"2.16.840.1.101.3.4.2.1","Hash":"<64 hex>",
//!    "SigAlgID":"1.3.101.112","Signature":"<128 hex>"},
//!   {"Type":"PubKey","AlgID":"1.3.101.112","KeyValue":"302a300506032b6570032100<64 hex>","KeyID":"<16 hex>"}]}}
//! ```
//!
//! The `DS` signature is over the Appendix A.1 message exactly, so any Ed25519 verifier can
//! check it. `TBSData.Label` records the `Label` value that was signed, because a propagator
//! may later set `Label` to 2 or 3. The A.1 message does not cover the media, so the `Bnd`
//! entry carries its own signature over `<A.1 message>,"BType":"…","Hash":"…"`.

use serde_json::Value;

use crate::manifest::label::push_json_string;
use crate::{Error, Result, VerifyingKey};

/// Object identifier of Ed25519 (RFC 8410).
pub const ED25519_OID: &str = "1.3.101.112";
/// Object identifier of SHA-256.
pub const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
/// The `BType` of our hard binding: SHA-256 over the media bytes per
/// [`crate::container::media_hash`].
pub const BINDING_TYPE: &str = "provmark.media.v1";
/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410), followed by the 32 key bytes.
pub const ED25519_SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Parsed `SecurityData`: what a verifier needs, as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityData {
    /// `AlgID` of the `DS` entry.
    pub sig_alg: String,
    /// The `DS` signature bytes (if hex-decodable).
    pub signature: Option<Vec<u8>>,
    /// `TBSData.Label`, the `Label` value that was signed, if recorded.
    pub signed_label: Option<String>,
    /// The binding entry, if any.
    pub binding: Option<Binding>,
    /// `AlgID` of the `PubKey` entry.
    pub key_alg: String,
    /// The public key bytes (raw 32 bytes extracted from the SPKI, or as found).
    pub public_key: Option<Vec<u8>>,
    /// The `KeyID` attribute of the `PubKey` entry, if present.
    pub key_id: Option<String>,
}

/// The `Bnd` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// `BType`.
    pub btype: String,
    /// `AlgID` of the hash.
    pub hash_alg: String,
    /// The hash bytes.
    pub hash: Vec<u8>,
    /// The signature over the binding message, if any.
    pub signature: Option<Vec<u8>>,
}

/// The message the `Bnd` signature covers.
#[must_use]
pub fn binding_message(a1_message: &str, btype: &str, hash: &[u8]) -> String {
    let mut out = String::from(a1_message);
    out.push_str(",\"BType\":");
    push_json_string(&mut out, btype);
    out.push_str(",\"Hash\":");
    push_json_string(&mut out, &hex::encode(hash));
    out
}

/// Builds the `SecurityData` JSON text.
#[must_use]
pub fn encode(
    signed_label: &str,
    signature: &[u8; 64],
    media_hash: &[u8; 32],
    binding_signature: &[u8; 64],
    key: &VerifyingKey,
) -> String {
    let mut out = String::with_capacity(640);
    out.push_str("{\"SecurityData\":{\"Type\":\"TC260PG\",\"Version\":1,\"PubSD\":[");
    out.push_str("{\"Type\":\"DS\",\"AlgID\":\"");
    out.push_str(ED25519_OID);
    out.push_str("\",\"TBSData\":{\"Type\":\"Md\",\"Label\":");
    push_json_string(&mut out, signed_label);
    out.push_str("},\"Signature\":\"");
    out.push_str(&hex::encode(signature));
    out.push_str("\"},{\"Type\":\"Bnd\",\"BType\":\"");
    out.push_str(BINDING_TYPE);
    out.push_str("\",\"AlgID\":\"");
    out.push_str(SHA256_OID);
    out.push_str("\",\"Hash\":\"");
    out.push_str(&hex::encode(media_hash));
    out.push_str("\",\"SigAlgID\":\"");
    out.push_str(ED25519_OID);
    out.push_str("\",\"Signature\":\"");
    out.push_str(&hex::encode(binding_signature));
    out.push_str("\"},{\"Type\":\"PubKey\",\"AlgID\":\"");
    out.push_str(ED25519_OID);
    out.push_str("\",\"KeyValue\":\"");
    out.push_str(&hex::encode(ED25519_SPKI_PREFIX));
    out.push_str(&hex::encode(key.as_bytes()));
    out.push_str("\",\"KeyID\":\"");
    out.push_str(&key.key_id().to_string());
    out.push_str("\"}]}}");
    out
}

/// Parses a `SecurityData` JSON text (ours or another provider's; unknown entries ignored).
///
/// # Errors
/// [`Error::Decode`] if the text is not a `SecurityData` object.
pub fn parse(text: &str) -> Result<SecurityData> {
    let bad = |reason: &str| Error::decode("SecurityData", reason);
    let value: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let sd = value.get("SecurityData").ok_or_else(|| bad("no `SecurityData` key"))?;
    let entries =
        sd.get("PubSD").and_then(Value::as_array).ok_or_else(|| bad("no `PubSD` list"))?;
    let text_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let hex_of =
        |v: &Value, k: &str| v.get(k).and_then(Value::as_str).and_then(|s| hex::decode(s).ok());
    let mut out = SecurityData::default();
    for entry in entries {
        match entry.get("Type").and_then(Value::as_str) {
            Some("DS") if out.signature.is_none() => {
                out.sig_alg = text_of(entry, "AlgID");
                out.signature = hex_of(entry, "Signature");
                out.signed_label = entry
                    .get("TBSData")
                    .and_then(|t| t.get("Label"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            Some("Bnd" | "Bindings") if out.binding.is_none() => {
                out.binding = Some(Binding {
                    btype: text_of(entry, "BType"),
                    hash_alg: text_of(entry, "AlgID"),
                    hash: hex_of(entry, "Hash").unwrap_or_default(),
                    signature: hex_of(entry, "Signature"),
                });
            }
            Some("PubKey") if out.public_key.is_none() => {
                out.key_alg = text_of(entry, "AlgID");
                out.public_key = hex_of(entry, "KeyValue").map(|k| {
                    k.strip_prefix(ED25519_SPKI_PREFIX.as_slice())
                        .map_or_else(|| k.clone(), <[u8]>::to_vec)
                });
                out.key_id = entry.get("KeyID").and_then(Value::as_str).map(str::to_owned);
            }
            _ => {}
        }
    }
    Ok(out)
}
