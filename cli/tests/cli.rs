//! End-to-end tests of the `provmark` binary.

#![allow(clippy::unwrap_used, reason = "test helpers may panic")]

use std::fs;

use assert_cmd::Command;

fn provmark() -> Command {
    Command::cargo_bin("provmark").unwrap()
}

#[cfg(unix)]
#[test]
fn keygen_creates_private_secrets_and_a_public_file_naming_the_key_id() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("id");
    let out = provmark()
        .args(["keygen", "--out"])
        .arg(&home)
        .args(["--name", "Acme AI"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("development code"), "{stderr}");
    for (name, mode) in [("signing.key", 0o600), ("watermark.key", 0o600)] {
        assert_eq!(fs::metadata(home.join(name)).unwrap().permissions().mode() & 0o777, mode);
    }
    let provider = fs::read_to_string(home.join("provider.toml")).unwrap();
    assert!(provider.contains("key_id = \""), "{provider}");
    assert!(provider.contains("name = \"Acme AI\""), "{provider}");
    assert!(stderr.contains(provider.split("key_id = \"").nth(1).unwrap().get(..16).unwrap()));

    // Running it again must not overwrite the keys.
    provmark().args(["keygen", "--out"]).arg(&home).assert().code(1);
}

#[test]
fn keygen_validates_the_producer_code() {
    let tmp = tempfile::tempdir().unwrap();
    provmark()
        .args(["keygen", "--producer-code", "001191440300708461136T1XGW3", "--out"])
        .arg(tmp.path().join("ok"))
        .assert()
        .success();
    let out = provmark()
        .args(["keygen", "--producer-code", "not-a-code", "--out"])
        .arg(tmp.path().join("bad"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("27"), "{stderr}");
}

#[test]
fn keygen_help_documents_every_flag() {
    let out = provmark().args(["keygen", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for flag in ["--out", "--name", "--producer-code"] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}
