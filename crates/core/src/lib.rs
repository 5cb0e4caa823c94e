//! # provmark-core
//!
//! Media in memory for provmark: the content identifier, the provider's keys, and (as the
//! modules land) the robust image and audio watermarks, the payload coding, the signed
//! GB 45438-2025 `AIGC` metadata and the container readers/writers.
//!
//! This crate does no database or network I/O and never prints. Its only file system access
//! is [`identity`], which reads and writes a provider identity directory, because the
//! permission checks on secret key files belong next to the key types.
//!
//! ```
//! use provmark_core::ContentId;
//!
//! let id = ContentId::random()?;
//! let text = id.to_string();
//! assert_eq!(text.len(), 16);
//! assert_eq!(text.parse::<ContentId>()?, id);
//! # Ok::<(), provmark_core::Error>(())
//! ```
//!
//! # Crate features
//!
//! None yet: every module is always built.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audio;
pub mod audio_codec;
pub mod codec;
pub mod container;
pub mod error;
pub mod fingerprint;
pub mod id;
pub mod identity;
pub mod image;
pub mod key;
pub mod manifest;
pub mod payload;
pub mod spread;
pub mod stamp;
pub mod verdict;
pub mod visible;

pub use error::{Error, Result};
pub use id::ContentId;
pub use identity::{Identity, Keyring, ProducerCode, ProviderInfo};
pub use key::{KeyId, SigningKey, VerifyingKey, WatermarkKey};
