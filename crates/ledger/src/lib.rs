//! # provmark-ledger
//!
//! The traceability log of provmark: an append-only RFC 6962 Merkle log with one record per
//! stamp, signed C2SP checkpoints, inclusion and consistency proofs, lookups by content ID,
//! media hash and perceptual fingerprint (each answer with its proof), a full `verify`,
//! and exports as C2SP `tlog-tiles` static files and JSON Lines.
//!
//! Use it to record and later prove *who stamped what, when, with which model*. Do not use
//! it as a general database: records are small, fixed in shape, and never updated or
//! deleted.
//!
//! ```
//! use provmark_core::{ContentId, SigningKey};
//! use provmark_ledger::{LabelFlags, MediaKind, NoteSigner, Record};
//!
//! let mut ledger = provmark_ledger::open("memory:")?;
//! let key = SigningKey::from_seed(&[1; 32]);
//! let record = Record {
//!     content_id: ContentId::from_u64(7),
//!     kind: MediaKind::Audio,
//!     producer_code: "00DEVABCDEFGHIJKLMNOPQ1DEV0".parse()?,
//!     key_id: key.key_id(),
//!     model: "tts-1".into(),
//!     created_unix: 1_760_000_000,
//!     media_sha256: [3; 32],
//!     fingerprint: Some(provmark_ledger::Fingerprint([0xaa; 32])),
//!     watermark_algorithm: "provmark-ss".into(),
//!     watermark_version: 1,
//!     visible_label: LabelFlags::AUDIO_CUE,
//!     batch_id: 9,
//! };
//! ledger.append_batch(&[record])?;
//! let signer = NoteSigner::from_signing_key("example.com/log", &key)?;
//! let checkpoint = ledger.checkpoint(&signer)?;
//! assert_eq!(checkpoint.size(), 1);
//! let mut near = [0xaa; 32];
//! near[0] ^= 0b111; // three bits away
//! let found = ledger.find_nearest_fingerprint(&near, 10)?.expect("within 10 bits");
//! assert_eq!(found.distance, 3);
//! found.verify(signer.verifier())?;
//! assert!(ledger.verify(Some(signer.verifier()))?.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! * [`record`]: the versioned canonical record encoding (the leaf data).
//! * [`merkle`]: pure RFC 6962 math, no I/O.
//! * [`note`], [`checkpoint`]: C2SP signed notes and checkpoints (Ed25519).
//! * [`store`]: the [`LogStore`] trait and its memory, SQLite and PostgreSQL backends.
//! * [`Ledger`]: records in, proofs and checkpoints out; [`export`]: tiles and JSON Lines.
//!
//! # Crate features
//!
//! None: SQLite (bundled) and PostgreSQL are always built.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checkpoint;
pub mod error;
pub mod export;
mod ledger;
pub mod merkle;
pub mod note;
pub mod record;
pub mod store;
mod verify;

pub use checkpoint::Checkpoint;
pub use error::{Error, Result};
pub use ledger::{default_origin, open, Found, Ledger, Problem, ProblemKind, Stats, VerifyReport};
pub use merkle::{leaf_hash, node_hash, ConsistencyProof, Hash, InclusionProof};
pub use note::{NoteSigner, NoteVerifier};
pub use record::{Fingerprint, LabelFlags, MediaKind, Record};
pub use store::LogStore;
