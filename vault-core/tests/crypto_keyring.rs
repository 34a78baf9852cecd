//! The keyring: key file handling, rotation and key states, DEK wrapping, and
//! that no key material leaks through Debug or errors.

use std::os::unix::fs::PermissionsExt;
use std::sync::LazyLock;

use base64::Engine as _;
use proptest::prelude::*;
use uuid::Uuid;
use vault_core::crypto::{
    insecure, Compartment, CryptoError, Dek, KeyProvider, KeyState, Keyring, WrappedDek,
    BLIND_INDEX_KEY_ID,
};

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| Keyring::generate().unwrap());

fn saved(keyring: &Keyring) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    keyring.save(&path).unwrap();
    (dir, path)
}

fn materials(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("material = \"")
                .or_else(|| l.strip_prefix("pkcs8 = \""))
        })
        .map(|l| l.trim_end_matches('"').to_owned())
        .collect()
}

#[test]
fn saved_key_file_has_mode_0600() {
    let (_dir, path) = saved(&KEYRING);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn key_file_with_mode_0600_is_accepted() {
    let (_dir, path) = saved(&KEYRING);
    let loaded = Keyring::load_file(&path).unwrap();
    assert_eq!(format!("{loaded:?}"), format!("{:?}", *KEYRING));
}

#[test]
fn key_file_readable_by_others_is_refused_with_the_fix() {
    let (_dir, path) = saved(&KEYRING);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Keyring::load_file(&path).unwrap_err();
    assert!(matches!(
        err,
        CryptoError::KeyFilePermissions { mode: 0o644, .. }
    ));
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("chmod 600"), "{msg}");
}

#[test]
fn key_file_writable_by_group_is_refused() {
    let (_dir, path) = saved(&KEYRING);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
    assert!(matches!(
        Keyring::load_file(&path),
        Err(CryptoError::KeyFilePermissions { .. })
    ));
}

#[test]
fn save_replaces_an_existing_file_and_leaves_no_temporary_file() {
    let (dir, path) = saved(&KEYRING);
    let other = Keyring::generate().unwrap();
    other.save(&path).unwrap();
    let loaded = Keyring::load_file(&path).unwrap();
    assert_eq!(
        loaded.audit_signer().public_key(),
        other.audit_signer().public_key()
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn keyring_loads_from_an_environment_variable() {
    let (_dir, path) = saved(&KEYRING);
    let text = std::fs::read_to_string(&path).unwrap();
    let var = "KENTEI_TEST_KEYRING_FROM_ENV";
    std::env::set_var(var, &text);
    let loaded = Keyring::from_env(var).unwrap();
    std::env::remove_var(var);
    assert_eq!(
        loaded.active_kek(Compartment::General),
        KEYRING.active_kek(Compartment::General)
    );
}

#[test]
fn missing_environment_variable_is_named_in_the_error() {
    let err = Keyring::from_env("KENTEI_TEST_KEYRING_NOT_SET").unwrap_err();
    assert!(err.to_string().contains("KENTEI_TEST_KEYRING_NOT_SET"));
}

#[test]
fn loaded_keyring_unwraps_what_the_original_wrapped() {
    let (_dir, path) = saved(&KEYRING);
    let loaded = Keyring::load_file(&path).unwrap();
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let wrapped = KEYRING
        .wrap_dek(Compartment::MyNumber, subject, &dek)
        .unwrap();
    let back = loaded
        .unwrap_dek(Compartment::MyNumber, subject, &wrapped)
        .unwrap();
    assert_eq!(back.expose_bytes(), dek.expose_bytes());
}

#[test]
fn keyring_debug_shows_ids_versions_states_but_no_key_material() {
    let (_dir, path) = saved(&KEYRING);
    let text = std::fs::read_to_string(&path).unwrap();
    let secrets = materials(&text);
    assert_eq!(secrets.len(), 4, "three symmetric keys and the audit key");
    let debug = format!("{:?} {:#?}", *KEYRING, *KEYRING);
    for secret in &secrets {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap();
        assert!(!debug.contains(secret.as_str()));
        assert!(!debug.contains(&hex::encode(&raw)));
        assert!(!debug.contains(&format!("{:?}", &raw[..8])));
    }
    for expected in ["general", "my_number", BLIND_INDEX_KEY_ID, "Active"] {
        assert!(debug.contains(expected), "{debug}");
    }
}

#[test]
fn invalid_key_file_error_does_not_quote_the_file() {
    let seeded = "c2VlZGVkLXNlY3JldC1rZXktbWF0ZXJpYWwtMDEyMzQ1Njc=";
    let text = format!("format = 1\n[[key]]\nid = \"general\"\nversion = \"{seeded}\"\n");
    let err = Keyring::from_toml(&text).unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains(seeded), "{msg}");
    assert!(msg.contains("line"), "{msg}");
}

#[test]
fn key_file_with_short_material_is_rejected_naming_the_key() {
    let (_dir, path) = saved(&KEYRING);
    let text = std::fs::read_to_string(&path).unwrap();
    let first = materials(&text).remove(0);
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    let err = Keyring::from_toml(&text.replacen(&first, &short, 1)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("32 bytes") && msg.contains("version 1"),
        "{msg}"
    );
    assert!(!msg.contains(&short));
}

#[test]
fn key_file_without_the_my_number_kek_is_rejected() {
    let (_dir, path) = saved(&KEYRING);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("id = \"my_number\"", "id = \"other\"");
    let err = Keyring::from_toml(&text).unwrap_err();
    assert!(
        err.to_string().contains("key my_number is missing"),
        "{err}"
    );
}

#[test]
fn destroyed_key_entry_that_still_has_material_is_rejected() {
    let mut keyring = Keyring::generate().unwrap();
    keyring.rotate("general").unwrap();
    let (_dir, path) = saved(&keyring);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("state = \"decrypt_only\"", "state = \"destroyed\"", 1);
    let err = Keyring::from_toml(&text).unwrap_err();
    assert!(
        err.to_string().contains("destroyed but still has material"),
        "{err}"
    );
}

#[test]
fn unknown_key_file_format_is_rejected() {
    let (_dir, path) = saved(&KEYRING);
    let text = std::fs::read_to_string(&path).unwrap();
    let err = Keyring::from_toml(&text.replace("format = 1", "format = 2")).unwrap_err();
    assert!(err.to_string().contains("unsupported format 2"), "{err}");
}

#[test]
fn key_file_with_two_active_versions_is_rejected() {
    let mut keyring = Keyring::generate().unwrap();
    keyring.rotate("general").unwrap();
    let (_dir, path) = saved(&keyring);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("state = \"decrypt_only\"", "state = \"active\"");
    let err = Keyring::from_toml(&text).unwrap_err();
    assert!(err.to_string().contains("exactly one active"), "{err}");
}

#[test]
fn rotation_makes_a_new_active_version_and_keeps_the_old_for_unwrapping() {
    let mut keyring = Keyring::generate().unwrap();
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let old = keyring
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert_eq!(keyring.rotate("general").unwrap(), 2);
    assert_eq!(keyring.active_kek(Compartment::General).version, 2);
    let new = keyring
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert_eq!((old.kek_version(), new.kek_version()), (1, 2));
    let states: Vec<_> = keyring
        .keys()
        .into_iter()
        .filter(|k| k.id == "general")
        .map(|k| (k.version, k.state))
        .collect();
    assert_eq!(states, [(1, KeyState::DecryptOnly), (2, KeyState::Active)]);
    let back = keyring
        .unwrap_dek(Compartment::General, subject, &old)
        .unwrap();
    assert_eq!(back.expose_bytes(), dek.expose_bytes());
}

#[test]
fn rewrap_moves_an_old_wrapped_dek_to_the_active_version() {
    let mut keyring = Keyring::generate().unwrap();
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let old = keyring
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert!(keyring
        .rewrap_dek(Compartment::General, subject, &old)
        .unwrap()
        .is_none());
    keyring.rotate("general").unwrap();
    let new = keyring
        .rewrap_dek(Compartment::General, subject, &old)
        .unwrap()
        .unwrap();
    assert_eq!(new.kek_version(), 2);
    let back = keyring
        .unwrap_dek(Compartment::General, subject, &new)
        .unwrap();
    assert_eq!(back.expose_bytes(), dek.expose_bytes());
}

#[test]
fn destroyed_kek_version_makes_its_deks_unrecoverable() {
    let mut keyring = Keyring::generate().unwrap();
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let old = keyring
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    keyring.rotate("general").unwrap();
    keyring.destroy("general", 1).unwrap();
    assert!(matches!(
        keyring.unwrap_dek(Compartment::General, subject, &old),
        Err(CryptoError::KeyDestroyed { version: 1, .. })
    ));
    // And it stays destroyed across save and load.
    let (_dir, path) = saved(&keyring);
    let loaded = Keyring::load_file(&path).unwrap();
    assert!(matches!(
        loaded.unwrap_dek(Compartment::General, subject, &old),
        Err(CryptoError::KeyDestroyed { .. })
    ));
    // general v2, my_number, blind_index and the audit key keep material.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(materials(&text).len(), 4);
}

#[test]
fn active_version_cannot_be_destroyed_or_retired() {
    let mut keyring = Keyring::generate().unwrap();
    assert!(matches!(
        keyring.destroy("general", 1),
        Err(CryptoError::WouldLeaveNoActiveKey { .. })
    ));
    assert!(matches!(
        keyring.set_state("general", 1, KeyState::DecryptOnly),
        Err(CryptoError::WouldLeaveNoActiveKey { .. })
    ));
}

#[test]
fn reactivating_an_old_version_retires_the_current_one() {
    let mut keyring = Keyring::generate().unwrap();
    keyring.rotate("my_number").unwrap();
    keyring.set_state("my_number", 1, KeyState::Active).unwrap();
    assert_eq!(keyring.active_kek(Compartment::MyNumber).version, 1);
    assert_eq!(keyring.active_version("my_number").unwrap(), 1);
}

#[test]
fn destroyed_key_cannot_be_revived() {
    let mut keyring = Keyring::generate().unwrap();
    keyring.rotate("general").unwrap();
    keyring
        .set_state("general", 1, KeyState::Destroyed)
        .unwrap();
    assert!(matches!(
        keyring.set_state("general", 1, KeyState::DecryptOnly),
        Err(CryptoError::KeyDestroyed { .. })
    ));
}

#[test]
fn unknown_kek_version_is_key_not_found() {
    let subject = Uuid::new_v4();
    let other = Keyring::generate().unwrap();
    let mut rotated = Keyring::generate().unwrap();
    rotated.rotate("general").unwrap();
    let dek = Dek::generate().unwrap();
    let wrapped = rotated
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert!(matches!(
        other.unwrap_dek(Compartment::General, subject, &wrapped),
        Err(CryptoError::KeyNotFound { version: 2, .. })
    ));
}

#[test]
fn rotating_an_unknown_id_fails() {
    let mut keyring = Keyring::generate().unwrap();
    assert!(matches!(
        keyring.rotate("nope"),
        Err(CryptoError::UnknownKeyId { .. })
    ));
}

#[test]
fn wrapped_dek_for_another_subject_fails() {
    let dek = Dek::generate().unwrap();
    let wrapped = KEYRING
        .wrap_dek(Compartment::General, Uuid::new_v4(), &dek)
        .unwrap();
    assert!(matches!(
        KEYRING.unwrap_dek(Compartment::General, Uuid::new_v4(), &wrapped),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn wrapped_dek_for_another_compartment_fails() {
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let wrapped = KEYRING
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert_eq!(wrapped.kek_id(), "general");
    assert!(matches!(
        KEYRING.unwrap_dek(Compartment::MyNumber, subject, &wrapped),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn wrapped_dek_under_another_keyring_fails() {
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let wrapped = Keyring::generate()
        .unwrap()
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap();
    assert!(matches!(
        KEYRING.unwrap_dek(Compartment::General, subject, &wrapped),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn every_flipped_bit_of_a_wrapped_dek_is_rejected() {
    let subject = Uuid::new_v4();
    let dek = Dek::generate().unwrap();
    let bytes = KEYRING
        .wrap_dek(Compartment::General, subject, &dek)
        .unwrap()
        .as_bytes()
        .to_vec();
    for bit in 0..bytes.len() * 8 {
        let mut tampered = bytes.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        let result = WrappedDek::from_bytes(&tampered)
            .and_then(|w| KEYRING.unwrap_dek(Compartment::General, subject, &w));
        assert!(result.is_err(), "bit {bit} flipped was accepted");
    }
}

#[test]
fn wrapped_dek_header_names_the_kek() {
    let dek = Dek::generate().unwrap();
    let wrapped = KEYRING
        .wrap_dek(Compartment::MyNumber, Uuid::new_v4(), &dek)
        .unwrap();
    let parsed = WrappedDek::from_bytes(wrapped.as_bytes()).unwrap();
    assert_eq!((parsed.kek_id(), parsed.kek_version()), ("my_number", 1));
    assert_eq!(parsed, wrapped);
    assert_eq!(wrapped.as_bytes().len(), 1 + 1 + 9 + 4 + 12 + 32 + 16);
}

#[test]
fn wrapped_dek_does_not_contain_the_dek() {
    let dek = insecure::dek_from_bytes([0x5c; 32]);
    let wrapped = KEYRING
        .wrap_dek(Compartment::General, Uuid::new_v4(), &dek)
        .unwrap();
    assert!(!wrapped.as_bytes().windows(8).any(|w| w == [0x5c; 8]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn wrap_then_unwrap_returns_the_dek(
        key in any::<[u8; 32]>(),
        subject in any::<u128>(),
        my_number in any::<bool>(),
    ) {
        let compartment = if my_number { Compartment::MyNumber } else { Compartment::General };
        let subject = Uuid::from_u128(subject);
        let dek = insecure::dek_from_bytes(key);
        let wrapped = KEYRING.wrap_dek(compartment, subject, &dek).unwrap();
        let stored = WrappedDek::from_bytes(wrapped.as_bytes()).unwrap();
        let back = KEYRING.unwrap_dek(compartment, subject, &stored).unwrap();
        prop_assert_eq!(back.expose_bytes(), &key);
    }

    #[test]
    fn wrapped_dek_parse_of_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        if let Ok(w) = WrappedDek::from_bytes(&bytes) {
            let _ = KEYRING.unwrap_dek(Compartment::General, Uuid::nil(), &w);
        }
    }
}
