//! The ledger record: one stamp, in a versioned canonical byte encoding.
//!
//! # Encoding, version 1
//!
//! All integers are big-endian. The fixed-size fields come first, so that the content ID,
//! media hash and fingerprint sit at fixed offsets; the variable-length text fields follow.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version = `0x01` |
//! | 1 | 8 | content ID |
//! | 9 | 1 | kind: `0x01` image, `0x02` audio |
//! | 10 | 8 | key id of the provider's signing key |
//! | 18 | 8 | creation time, seconds since the Unix epoch |
//! | 26 | 32 | SHA-256 of the stamped file's media bytes |
//! | 58 | 1 | fingerprint present: `0x00` or `0x01` |
//! | 59 | 32 | perceptual fingerprint (all zero when absent) |
//! | 91 | 8 | batch id |
//! | 99 | 2 | watermark algorithm version |
//! | 101 | 1 | visible-label flags ([`LabelFlags`]) |
//! | 102 | 27 | GB 45438 producer code (ASCII) |
//! | 129 | 1 + n | watermark algorithm name: length byte + ASCII (1..=64 bytes) |
//! | … | 2 + n | model: length (u16) + UTF-8 (0..=1024 bytes) |
//!
//! Decoding is strict: it accepts exactly the bytes [`Record::encode`] produces (known
//! version, known kind, flags and lengths in range, zero fingerprint when absent, no
//! trailing bytes), so a record has one encoding and one leaf hash.

use std::fmt;

use provmark_core::{ContentId, KeyId, ProducerCode};

use crate::Error;

/// The current record encoding version.
pub const RECORD_VERSION: u8 = 1;
/// Longest model name, in bytes.
pub const MAX_MODEL_LEN: usize = 1024;
/// Longest watermark algorithm name, in bytes.
pub const MAX_ALGORITHM_LEN: usize = 64;
/// Longest encoded record, in bytes.
pub const MAX_RECORD_LEN: usize = FIXED_LEN + 1 + MAX_ALGORITHM_LEN + 2 + MAX_MODEL_LEN;

pub(crate) const OFF_CONTENT_ID: usize = 1;
pub(crate) const OFF_MEDIA_SHA256: usize = 26;
pub(crate) const OFF_FINGERPRINT_FLAG: usize = 58;
const FIXED_LEN: usize = 129;

/// What was stamped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// A still image.
    Image,
    /// An audio recording.
    Audio,
}

impl MediaKind {
    const fn code(self) -> u8 {
        match self {
            Self::Image => 1,
            Self::Audio => 2,
        }
    }

    /// The lowercase name (`image`, `audio`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
        }
    }
}

/// Which visible labels the stamp added, as bit flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelFlags(u8);

impl LabelFlags {
    /// No visible label.
    pub const NONE: Self = Self(0);
    /// A visible text label drawn on the image.
    pub const IMAGE_TEXT: Self = Self(1);
    /// A spoken or tonal cue added to the audio.
    pub const AUDIO_CUE: Self = Self(2);
    const ALL: u8 = 0b11;

    /// The flags from their bits.
    ///
    /// # Errors
    /// [`Error::Record`] if an unknown bit is set.
    pub fn from_bits(bits: u8) -> Result<Self, Error> {
        if bits & !Self::ALL != 0 {
            return Err(Error::record(format!("unknown visible-label flags {bits:#04x}")));
        }
        Ok(Self(bits))
    }

    /// The raw bits.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// A 256-bit perceptual fingerprint (for example PDQ for images or a chroma-print hash for
/// audio), compared by Hamming distance.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Number of differing bits.
    #[must_use]
    pub fn distance(&self, other: &Self) -> u32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| (a ^ b).count_ones()).sum()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex::encode(self.0))
    }
}

/// One stamp, as logged. Plain data: build it with a struct literal; it is checked when
/// encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The content ID (watermark payload, `ProduceID`, ledger key). Unique in a ledger.
    pub content_id: ContentId,
    /// Image or audio.
    pub kind: MediaKind,
    /// GB 45438 service provider code of the producer.
    pub producer_code: ProducerCode,
    /// Key id of the provider's signing key.
    pub key_id: KeyId,
    /// The generating model's name (UTF-8, at most [`MAX_MODEL_LEN`] bytes).
    pub model: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// SHA-256 of the stamped file's media bytes.
    pub media_sha256: [u8; 32],
    /// Perceptual fingerprint of the stamped content, if computed.
    pub fingerprint: Option<Fingerprint>,
    /// Watermark algorithm name (ASCII, 1..=[`MAX_ALGORITHM_LEN`] bytes).
    pub watermark_algorithm: String,
    /// Watermark algorithm version.
    pub watermark_version: u16,
    /// Visible labels added.
    pub visible_label: LabelFlags,
    /// The stamping batch this record belongs to.
    pub batch_id: u64,
}

impl Record {
    /// The canonical encoding (the bytes the leaf hash covers).
    ///
    /// # Errors
    /// [`Error::Record`] if a text field is too long, empty or not ASCII where required.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let algo = self.watermark_algorithm.as_bytes();
        if algo.is_empty()
            || algo.len() > MAX_ALGORITHM_LEN
            || !algo.iter().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::record(format!(
                "watermark algorithm name must be 1..={MAX_ALGORITHM_LEN} printable ASCII characters"
            )));
        }
        let model = self.model.as_bytes();
        if model.len() > MAX_MODEL_LEN {
            return Err(Error::record(format!("model name longer than {MAX_MODEL_LEN} bytes")));
        }
        let code = self.producer_code.as_str().as_bytes();
        if code.len() != ProducerCode::LEN {
            return Err(Error::record("producer code must be 27 characters"));
        }
        let mut out = Vec::with_capacity(FIXED_LEN + 3 + algo.len() + model.len());
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.content_id.to_bytes());
        out.push(self.kind.code());
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.created_unix.to_be_bytes());
        out.extend_from_slice(&self.media_sha256);
        match &self.fingerprint {
            Some(fp) => {
                out.push(1);
                out.extend_from_slice(&fp.0);
            }
            None => {
                out.push(0);
                out.extend_from_slice(&[0u8; 32]);
            }
        }
        out.extend_from_slice(&self.batch_id.to_be_bytes());
        out.extend_from_slice(&self.watermark_version.to_be_bytes());
        out.push(self.visible_label.bits());
        out.extend_from_slice(code);
        // Both lengths were checked above.
        out.push(u8::try_from(algo.len()).map_err(|_| Error::record("algorithm name too long"))?);
        out.extend_from_slice(algo);
        out.extend_from_slice(
            &u16::try_from(model.len())
                .map_err(|_| Error::record("model name too long"))?
                .to_be_bytes(),
        );
        out.extend_from_slice(model);
        Ok(out)
    }

    /// Decodes a canonical encoding. Untrusted input: never panics, never allocates more
    /// than the input length.
    ///
    /// # Errors
    /// [`Error::Record`] naming the first field that is not canonical.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8("version")?;
        if version != RECORD_VERSION {
            return Err(Error::record(format!("unknown record version {version}")));
        }
        let content_id = ContentId::from_bytes(r.array("content id")?);
        let kind = match r.u8("kind")? {
            1 => MediaKind::Image,
            2 => MediaKind::Audio,
            k => return Err(Error::record(format!("unknown media kind {k}"))),
        };
        let key_bytes: [u8; 8] = r.array("key id")?;
        let key_id: KeyId =
            hex::encode(key_bytes).parse().map_err(|_| Error::record("key id is not 8 bytes"))?;
        let created_unix = u64::from_be_bytes(r.array("creation time")?);
        let media_sha256 = r.array("media hash")?;
        let flag = r.u8("fingerprint flag")?;
        let fp: [u8; 32] = r.array("fingerprint")?;
        let fingerprint = match flag {
            0 if fp == [0u8; 32] => None,
            0 => return Err(Error::record("absent fingerprint must be all zero")),
            1 => Some(Fingerprint(fp)),
            f => return Err(Error::record(format!("fingerprint flag {f} is not 0 or 1"))),
        };
        let batch_id = u64::from_be_bytes(r.array("batch id")?);
        let watermark_version = u16::from_be_bytes(r.array("watermark version")?);
        let visible_label = LabelFlags::from_bits(r.u8("visible-label flags")?)?;
        let code: [u8; ProducerCode::LEN] = r.array("producer code")?;
        let producer_code = std::str::from_utf8(&code)
            .ok()
            .and_then(|s| s.parse::<ProducerCode>().ok())
            .ok_or_else(|| Error::record("producer code is not a valid GB 45438 code"))?;
        let algo_len = usize::from(r.u8("algorithm length")?);
        let algo = r.take(algo_len, "algorithm name")?;
        if algo.is_empty()
            || algo_len > MAX_ALGORITHM_LEN
            || !algo.iter().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::record("watermark algorithm name is not 1..=64 printable ASCII"));
        }
        let watermark_algorithm = String::from_utf8_lossy(algo).into_owned();
        let model_len = usize::from(u16::from_be_bytes(r.array("model length")?));
        if model_len > MAX_MODEL_LEN {
            return Err(Error::record("model name too long"));
        }
        let model = std::str::from_utf8(r.take(model_len, "model")?)
            .map_err(|_| Error::record("model name is not UTF-8"))?
            .to_owned();
        if r.pos != bytes.len() {
            return Err(Error::record(format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        Ok(Self {
            content_id,
            kind,
            producer_code,
            key_id,
            model,
            created_unix,
            media_sha256,
            fingerprint,
            watermark_algorithm,
            watermark_version,
            visible_label,
            batch_id,
        })
    }
}

/// Reads the fields the stores index straight out of an encoded record, without a full
/// decode. `None` if the bytes are too short.
pub(crate) fn indexed_fields(bytes: &[u8]) -> Option<(u64, [u8; 32], Option<[u8; 32]>)> {
    let id = bytes.get(OFF_CONTENT_ID..OFF_CONTENT_ID + 8)?;
    let sha = bytes.get(OFF_MEDIA_SHA256..OFF_MEDIA_SHA256 + 32)?;
    let flag = *bytes.get(OFF_FINGERPRINT_FLAG)?;
    let fp = bytes.get(OFF_FINGERPRINT_FLAG + 1..OFF_FINGERPRINT_FLAG + 33)?;
    let mut idb = [0u8; 8];
    idb.copy_from_slice(id);
    let mut shab = [0u8; 32];
    shab.copy_from_slice(sha);
    let fp = (flag == 1).then(|| {
        let mut f = [0u8; 32];
        f.copy_from_slice(fp);
        f
    });
    Some((u64::from_be_bytes(idb), shab, fp))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::record(format!("record ends inside the {what}")))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
