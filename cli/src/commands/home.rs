//! The provider identity directory (`--home`) and the trusted keys of verifiers.

use std::path::Path;

use anyhow::Context as _;
use provmark_core::{Identity, Keyring, ProducerCode, WatermarkKey};

/// Loads the identity in `home`, creating a development identity there first when there is
/// none (`stamp` on a fresh machine). Says so on stderr.
pub fn load_or_create(home: &Path) -> anyhow::Result<Identity> {
    if !Identity::exists(home) {
        let id = Identity::generate("provmark local provider", ProducerCode::development()?)?;
        id.save(home)
            .with_context(|| format!("cannot create the identity in `{}`", home.display()))?;
        #[allow(clippy::print_stderr, reason = "the CLI tells the user what it created")]
        {
            eprintln!(
                "notice: created a new provider identity in `{}` (key id {}, development producer code {}); \
                 keep `signing.key` and `watermark.key` secret",
                home.display(),
                id.provider.key_id,
                id.provider.producer_code
            );
        }
    }
    load(home)
}

/// Loads the identity in `home`.
pub fn load(home: &Path) -> anyhow::Result<Identity> {
    Identity::load(home).with_context(|| {
        format!(
            "cannot load the identity in `{}` (create one with `provmark keygen --out {}`)",
            home.display(),
            home.display()
        )
    })
}

/// The trusted providers and the watermark keys to detect with: a keyring's published
/// detection keys, or the identity's own key.
pub fn trusted(
    home: Option<&Path>,
    keyring: Option<&Path>,
) -> anyhow::Result<(Keyring, Vec<WatermarkKey>)> {
    if let Some(path) = keyring {
        let ring = Keyring::load(path)
            .with_context(|| format!("cannot load the keyring `{}`", path.display()))?;
        let keys = ring
            .providers
            .iter()
            .filter_map(|p| p.detection_key().transpose())
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((ring, keys));
    }
    let id = load(home.unwrap_or_else(|| Path::new(".provmark")))?;
    let ring = Keyring { providers: vec![id.provider.clone()] };
    Ok((ring, vec![id.watermark_key.clone()]))
}
