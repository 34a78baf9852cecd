//! Blind indexes (normalisation, per-field keys, versions across rotation)
//! and audit signatures.

use std::sync::LazyLock;

use vault_core::crypto::{
    normalize_for_index, verify_signature, KeyProvider, KeyState, Keyring, BLIND_INDEX_KEY_ID,
};

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| Keyring::generate().unwrap());

#[test]
fn half_width_hiragana_and_katakana_names_give_one_digest() {
    let indexer = KEYRING.blind_indexer();
    let a = indexer.digest_active("kana_name", "ﾔﾏﾀﾞ ﾀﾛｳ");
    let b = indexer.digest_active("kana_name", "やまだ たろう");
    let c = indexer.digest_active("kana_name", "ヤマダタロウ");
    assert_eq!(a, b);
    assert_eq!(b, c);
}

#[test]
fn normalisation_examples() {
    assert_eq!(normalize_for_index("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダタロウ");
    assert_eq!(normalize_for_index("やまだ　たろう"), "ヤマダタロウ");
    assert_eq!(normalize_for_index("ＡＢ－１２３"), "AB-123");
    assert_eq!(normalize_for_index("がぎぐ ゔ"), "ガギグヴ");
}

#[test]
fn different_values_give_different_digests() {
    let indexer = KEYRING.blind_indexer();
    assert_ne!(
        indexer.digest_active("exam_number", "A-0001"),
        indexer.digest_active("exam_number", "A-0002")
    );
}

#[test]
fn one_value_in_two_fields_gives_unrelated_digests() {
    let indexer = KEYRING.blind_indexer();
    assert_ne!(
        indexer.digest_active("exam_number", "123").bytes,
        indexer.digest_active("application_id", "123").bytes
    );
}

#[test]
fn digests_depend_on_the_index_key() {
    let other = Keyring::generate().unwrap();
    assert_ne!(
        KEYRING
            .blind_indexer()
            .digest_active("exam_number", "1")
            .bytes,
        other
            .blind_indexer()
            .digest_active("exam_number", "1")
            .bytes
    );
}

#[test]
fn digest_is_stable_across_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    KEYRING.save(&path).unwrap();
    let loaded = Keyring::load_file(&path).unwrap();
    assert_eq!(
        loaded
            .blind_indexer()
            .digest_active("my_number", "123456789018"),
        KEYRING
            .blind_indexer()
            .digest_active("my_number", "123456789018")
    );
}

#[test]
fn after_rotation_digest_lists_every_live_version_active_first() {
    let mut keyring = Keyring::generate().unwrap();
    let before = keyring.blind_indexer().digest_active("exam_number", "X1");
    assert_eq!(keyring.rotate(BLIND_INDEX_KEY_ID).unwrap(), 2);
    let digests = keyring.blind_indexer().digest("exam_number", "X1");
    assert_eq!(
        digests.iter().map(|d| d.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(digests[1], before);
    assert_eq!(
        digests[0],
        keyring.blind_indexer().digest_active("exam_number", "X1")
    );
}

#[test]
fn destroyed_index_key_version_is_no_longer_used() {
    let mut keyring = Keyring::generate().unwrap();
    keyring.rotate(BLIND_INDEX_KEY_ID).unwrap();
    keyring
        .set_state(BLIND_INDEX_KEY_ID, 1, KeyState::Destroyed)
        .unwrap();
    let indexer = keyring.blind_indexer();
    assert_eq!(indexer.live_versions(), [2]);
    assert_eq!(indexer.digest("exam_number", "X1").len(), 1);
}

#[test]
fn indexer_debug_shows_no_value_or_key() {
    let indexer = KEYRING.blind_indexer();
    let digest = indexer.digest_active("kana_name", "ヤマダタロウ");
    let debug = format!("{indexer:?} {digest:?}");
    assert!(!debug.contains("ヤマダ"));
    assert!(!debug.contains(&hex::encode(digest.bytes)));
}

#[test]
fn audit_signature_verifies_under_the_public_key() {
    let signer = KEYRING.audit_signer();
    let sig = signer.sign(b"checkpoint 42");
    assert_eq!(sig.len(), 64);
    assert!(verify_signature(
        &signer.public_key(),
        b"checkpoint 42",
        &sig
    ));
}

#[test]
fn audit_signature_fails_for_another_message_or_key() {
    let signer = KEYRING.audit_signer();
    let sig = signer.sign(b"checkpoint 42");
    assert!(!verify_signature(
        &signer.public_key(),
        b"checkpoint 43",
        &sig
    ));
    let other = Keyring::generate().unwrap().audit_signer();
    assert!(!verify_signature(
        &other.public_key(),
        b"checkpoint 42",
        &sig
    ));
    assert!(!verify_signature(b"short", b"checkpoint 42", &sig));
}

#[test]
fn audit_key_id_survives_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    KEYRING.save(&path).unwrap();
    let loaded = Keyring::load_file(&path).unwrap().audit_signer();
    let original = KEYRING.audit_signer();
    assert!(original.key_id().starts_with("ed25519-"));
    assert_eq!(loaded.key_id(), original.key_id());
    assert_eq!(loaded.public_key(), original.public_key());
}
