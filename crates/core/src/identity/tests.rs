use super::*;

#[test]
fn producer_code_validation() {
    let ok = "001191440300708461136T1XGW3";
    assert_eq!(ok.parse::<ProducerCode>().unwrap().as_str(), ok);
    for bad in [
        "001191440300708461136T1XGW",   // 26 characters
        "001191440300708461136T1XGW33", // 28 characters
        "001191440300708461136t1XGW3",  // lower case
        "011191440300708461136T1XGW3",  // wrong format code
        "00119144030070846113 T1XGW3",  // space
    ] {
        assert!(bad.parse::<ProducerCode>().is_err(), "{bad} must be rejected");
    }
}

#[test]
fn development_codes_are_valid_and_marked() {
    let c = ProducerCode::development().unwrap();
    assert!(c.is_development());
    assert_eq!(c.as_str().parse::<ProducerCode>().unwrap(), c);
    assert!(!"001191440300708461136T1XGW3".parse::<ProducerCode>().unwrap().is_development());
}

#[cfg(unix)]
#[test]
fn saved_identity_has_private_secrets_and_loads_back() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home");
    let id = Identity::generate("Example AI", ProducerCode::development().unwrap()).unwrap();
    id.save(&dir).unwrap();
    for (name, mode) in
        [(SIGNING_KEY_FILE, 0o600), (WATERMARK_KEY_FILE, 0o600), (PROVIDER_FILE, 0o644)]
    {
        let got = fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{name}");
    }
    let toml = fs::read_to_string(dir.join(PROVIDER_FILE)).unwrap();
    assert!(toml.contains(&id.signing_key.key_id().to_string()));
    assert!(!toml.contains(&*id.watermark_key.to_hex()), "the watermark key must stay secret");

    let back = Identity::load(&dir).unwrap();
    assert_eq!(back.provider, id.provider);
    assert_eq!(back.watermark_key, id.watermark_key);
    assert_eq!(back.signing_key.verifying_key(), id.signing_key.verifying_key());

    assert!(id.save(&dir).is_err(), "must refuse to overwrite an identity");
}

#[cfg(unix)]
#[test]
fn loading_a_group_readable_secret_fails_with_chmod_advice() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let id = Identity::generate("x", ProducerCode::development().unwrap()).unwrap();
    id.save(tmp.path()).unwrap();
    let key = tmp.path().join(SIGNING_KEY_FILE);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = Identity::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
}

#[test]
fn keyring_accepts_both_forms_and_rejects_mismatched_key_ids() {
    let id = Identity::generate("A", ProducerCode::development().unwrap()).unwrap();
    let single = toml::to_string(&id.provider).unwrap();
    assert_eq!(Keyring::parse(&single).unwrap().providers, vec![id.provider.clone()]);

    let ring = Keyring { providers: vec![id.provider.clone()] };
    let text = ring.to_toml().unwrap();
    assert_eq!(Keyring::parse(&text).unwrap(), ring);
    assert!(ring.by_key_id(&id.provider.key_id).is_some());

    let mut wrong = id.provider.clone();
    wrong.key_id = "0000000000000000".into();
    assert!(Keyring::parse(&toml::to_string(&wrong).unwrap()).is_err());
    assert!(Keyring::parse("not = [toml").is_err());
}
