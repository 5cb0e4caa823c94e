//! The provider identity directory and the verifier's keyring.
//!
//! An identity directory holds three files:
//!
//! | file | content | mode |
//! |---|---|---|
//! | `signing.key` | Ed25519 private key, PKCS#8 PEM | 0600 |
//! | `watermark.key` | 256-bit watermark key, `provmark-watermark-key-v1` + 64 hex digits | 0600 |
//! | `provider.toml` | [`ProviderInfo`]: name, GB 45438 producer code, public key, key id | 0644 |
//!
//! Secret files readable by group or others are refused, as ssh refuses such keys.
//! A keyring is a TOML file of `[[provider]]` tables with the fields of `provider.toml`;
//! a single `provider.toml` is also accepted as a one-entry keyring.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::key::{KeyId, SigningKey, VerifyingKey, WatermarkKey};
use crate::{Error, Result};

/// File name of the signing key inside an identity directory.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the watermark key inside an identity directory.
pub const WATERMARK_KEY_FILE: &str = "watermark.key";
/// File name of the public provider description inside an identity directory.
pub const PROVIDER_FILE: &str = "provider.toml";

const WATERMARK_KEY_HEADER: &str = "provmark-watermark-key-v1";
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// A GB 45438 service provider code (TC260-PG-20252A): 27 characters, digits and upper-case
/// letters: `00` (format code) + 20-character subject identifier + 5-character service
/// extension.
///
/// Development codes, made by [`ProducerCode::development`], start with `00DEV`. No real
/// subject identifier starts with `DEV` (its first character is a digit naming the subject
/// type), so a development code can never be mistaken for a registered one.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProducerCode(String);

impl ProducerCode {
    /// Length of a provider code.
    pub const LEN: usize = 27;
    const DEV_PREFIX: &'static str = "00DEV";

    /// Generates a clearly marked development code: `00DEV` + 17 random characters + `1DEV0`.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS generator fails.
    pub fn development() -> Result<Self> {
        const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut raw = [0u8; 17];
        getrandom::getrandom(&mut raw).map_err(|e| Error::Random(e.to_string()))?;
        let middle: String = raw.iter().map(|b| ALPHABET[usize::from(*b) % 36] as char).collect();
        Ok(Self(format!("{}{middle}1DEV0", Self::DEV_PREFIX)))
    }

    /// Whether this is a development code made by [`ProducerCode::development`].
    #[must_use]
    pub fn is_development(&self) -> bool {
        self.0.starts_with(Self::DEV_PREFIX)
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProducerCode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: String| Err(Error::params("producer code", reason));
        if s.len() != Self::LEN {
            return bad(format!(
                "`{s}` has {} characters; a GB 45438 provider code has 27",
                s.len()
            ));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase())) {
            return bad(format!(
                "`{s}` contains {c:?}; only digits and upper-case letters are allowed"
            ));
        }
        if !s.starts_with("00") {
            return bad(format!("`{s}` must start with the format code `00`"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for ProducerCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ProducerCode> for String {
    fn from(c: ProducerCode) -> Self {
        c.0
    }
}

impl fmt::Display for ProducerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProducerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProducerCode({})", self.0)
    }
}

/// The public description of a provider: the content of `provider.toml` and of one keyring
/// entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInfo {
    /// Human-readable provider name.
    pub name: String,
    /// GB 45438 provider code, written as `ContentProducer`.
    pub producer_code: ProducerCode,
    /// Ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Key id of `public_key` (see [`KeyId`]), 16 hex digits.
    pub key_id: String,
    /// The watermark detection key (64 hex digits), if the provider publishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_key: Option<String>,
}

impl ProviderInfo {
    /// The parsed public key, checked against `key_id`.
    ///
    /// # Errors
    /// [`Error::Params`] if the key is malformed or does not match `key_id`.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.public_key, &mut bytes)
            .map_err(|_| Error::params("public key", "expected 64 hexadecimal digits"))?;
        let key = VerifyingKey::from_bytes(&bytes)?;
        let claimed: KeyId = self.key_id.parse()?;
        if claimed != key.key_id() {
            return Err(Error::params(
                "key id",
                format!(
                    "`{}` does not match the public key (its id is `{}`)",
                    self.key_id,
                    key.key_id()
                ),
            ));
        }
        Ok(key)
    }

    /// The published detection key, if any.
    ///
    /// # Errors
    /// [`Error::Params`] if it is present but malformed.
    pub fn detection_key(&self) -> Result<Option<WatermarkKey>> {
        self.detection_key.as_deref().map(WatermarkKey::from_hex).transpose()
    }
}

/// A loaded provider identity: secret keys plus the public description.
pub struct Identity {
    /// The Ed25519 signing key.
    pub signing_key: SigningKey,
    /// The watermark key.
    pub watermark_key: WatermarkKey,
    /// The public description.
    pub provider: ProviderInfo,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("provider", &self.provider)
            .field("signing_key", &self.signing_key)
            .field("watermark_key", &self.watermark_key)
            .finish()
    }
}

impl Identity {
    /// Makes a new identity with fresh keys.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS generator fails.
    pub fn generate(name: &str, producer_code: ProducerCode) -> Result<Self> {
        let signing_key = SigningKey::generate()?;
        let watermark_key = WatermarkKey::generate()?;
        let vk = signing_key.verifying_key();
        let provider = ProviderInfo {
            name: name.to_owned(),
            producer_code,
            public_key: hex::encode(vk.as_bytes()),
            key_id: vk.key_id().to_string(),
            detection_key: None,
        };
        Ok(Self { signing_key, watermark_key, provider })
    }

    /// Whether `dir` already holds an identity (its `provider.toml` exists).
    #[must_use]
    pub fn exists(dir: &Path) -> bool {
        dir.join(PROVIDER_FILE).is_file()
    }

    /// Writes the identity into `dir` (created, mode 0700, if missing). Refuses to overwrite
    /// an existing identity. Secret files are created with mode 0600 and written atomically.
    ///
    /// # Errors
    /// [`Error::Params`] if an identity is already there; [`Error::Io`] on file errors.
    pub fn save(&self, dir: &Path) -> Result<()> {
        for name in [SIGNING_KEY_FILE, WATERMARK_KEY_FILE, PROVIDER_FILE] {
            if dir.join(name).exists() {
                return Err(Error::params(
                    "identity directory",
                    format!(
                        "`{}` already exists; refusing to overwrite keys",
                        dir.join(name).display()
                    ),
                ));
            }
        }
        create_private_dir(dir)?;
        let pem = self.signing_key.to_pkcs8_pem()?;
        write_atomic(&dir.join(SIGNING_KEY_FILE), pem.as_bytes(), 0o600)?;
        let wm = zeroize::Zeroizing::new(format!(
            "{WATERMARK_KEY_HEADER}\n{}\n",
            &*self.watermark_key.to_hex()
        ));
        write_atomic(&dir.join(WATERMARK_KEY_FILE), wm.as_bytes(), 0o600)?;
        let toml = toml::to_string_pretty(&self.provider)
            .map_err(|e| Error::encode("provider.toml", e.to_string()))?;
        let text = format!("# provmark provider identity (public; safe to share)\n{toml}");
        write_atomic(&dir.join(PROVIDER_FILE), text.as_bytes(), 0o644)?;
        Ok(())
    }

    /// Loads the identity in `dir`, checking the permissions of the secret files and that
    /// `provider.toml` matches the signing key.
    ///
    /// # Errors
    /// [`Error::Key`] for unsafe permissions or malformed key files; [`Error::Io`] if a
    /// file cannot be read.
    pub fn load(dir: &Path) -> Result<Self> {
        let sk_path = dir.join(SIGNING_KEY_FILE);
        let pem = read_secret(&sk_path)?;
        let signing_key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| Error::Key { path: sk_path.clone(), reason: e.to_string() })?;

        let wm_path = dir.join(WATERMARK_KEY_FILE);
        let text = read_secret(&wm_path)?;
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(WATERMARK_KEY_HEADER) {
            return Err(Error::Key {
                path: wm_path,
                reason: format!("does not start with `{WATERMARK_KEY_HEADER}`"),
            });
        }
        let watermark_key = WatermarkKey::from_hex(lines.next().unwrap_or(""))
            .map_err(|e| Error::Key { path: wm_path.clone(), reason: e.to_string() })?;

        let provider = ProviderInfo::load(&dir.join(PROVIDER_FILE))?;
        if provider.verifying_key()? != signing_key.verifying_key() {
            return Err(Error::Key {
                path: dir.join(PROVIDER_FILE),
                reason: format!("its public key does not match `{}`", sk_path.display()),
            });
        }
        Ok(Self { signing_key, watermark_key, provider })
    }
}

impl ProviderInfo {
    /// Reads a `provider.toml` file.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::Key`] if malformed.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_bounded(path)?;
        let info: Self = toml::from_str(&text)
            .map_err(|e| Error::Key { path: path.to_owned(), reason: e.to_string() })?;
        info.verifying_key()
            .map_err(|e| Error::Key { path: path.to_owned(), reason: e.to_string() })?;
        Ok(info)
    }
}

/// A verifier's list of known providers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyring {
    /// The providers, in file order.
    #[serde(default, rename = "provider")]
    pub providers: Vec<ProviderInfo>,
}

impl Keyring {
    /// Parses a keyring: `[[provider]]` tables, or a single `provider.toml`.
    ///
    /// # Errors
    /// [`Error::Params`] if the text is neither form or an entry is invalid.
    pub fn parse(text: &str) -> Result<Self> {
        let ring = match toml::from_str::<Self>(text) {
            Ok(ring) if !ring.providers.is_empty() => ring,
            first => match toml::from_str::<ProviderInfo>(text) {
                Ok(one) => Self { providers: vec![one] },
                Err(e) => {
                    let reason = first.err().map_or_else(|| e.to_string(), |f| f.to_string());
                    return Err(Error::params("keyring", reason));
                }
            },
        };
        for p in &ring.providers {
            p.verifying_key()?;
            p.detection_key()?;
        }
        Ok(ring)
    }

    /// Reads a keyring file.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::Key`] if malformed.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_bounded(path)?;
        Self::parse(&text).map_err(|e| Error::Key { path: path.to_owned(), reason: e.to_string() })
    }

    /// Renders the keyring as TOML.
    ///
    /// # Errors
    /// [`Error::Encode`] if serialization fails.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::encode("keyring", e.to_string()))
    }

    /// The provider with this key id, if any.
    #[must_use]
    pub fn by_key_id(&self, key_id: &str) -> Option<&ProviderInfo> {
        self.providers.iter().find(|p| p.key_id == key_id)
    }
}

fn read_bounded(path: &Path) -> Result<String> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(Error::Key {
            path: path.to_owned(),
            reason: "file is too large for a key file".into(),
        });
    }
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Reads a secret file after checking it is not accessible to group or others.
fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<String>> {
    check_private(path)?;
    read_bounded(path).map(zeroize::Zeroizing::new)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path).map_err(|e| Error::io(path, e))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Key {
            path: path.to_owned(),
            reason: format!(
                "permissions {mode:04o} are too open: a secret key must not be readable by group or others; \
                 run `chmod 600 {}`",
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, created with
/// `mode`, synced, then renamed into place.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{file_name}.tmp"));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    #[cfg(unix)]
    {
        // The mode given at creation is filtered by the umask, and a stale temp file keeps
        // its old mode: set it explicitly.
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(fs::Permissions::from_mode(mode)).map_err(|e| Error::io(&tmp, e))?;
    }
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
