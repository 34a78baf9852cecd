//! Field sealing: round trips, binding to (record kind, record id, field),
//! tamper detection and secret hygiene of `Dek` and `Plaintext`.

use proptest::prelude::*;
use uuid::Uuid;
use vault_core::crypto::{AesGcmSealer, CryptoError, Dek, FieldAad, FieldSealer, FIELD_OVERHEAD};
use vault_policy::RecordKind;

const RECORD: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);

fn aad(field: &str) -> FieldAad<'_> {
    FieldAad {
        record_kind: RecordKind::Examinee,
        record_id: RECORD,
        field,
    }
}

#[test]
fn sealed_field_opens_to_the_same_bytes() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer
        .seal(&dek, &aad("name"), "山田 太郎".as_bytes())
        .unwrap();
    let opened = AesGcmSealer.open(&dek, &aad("name"), &sealed).unwrap();
    assert_eq!(opened.expose_bytes(), "山田 太郎".as_bytes());
}

#[test]
fn sealed_field_does_not_contain_the_plaintext() {
    let dek = Dek::generate().unwrap();
    let secret = b"TOKYO-CHIYODA-1-1-1";
    let sealed = AesGcmSealer.seal(&dek, &aad("address"), secret).unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret));
    assert_eq!(sealed.len(), secret.len() + FIELD_OVERHEAD);
}

#[test]
fn empty_plaintext_round_trips() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("note"), b"").unwrap();
    assert!(AesGcmSealer
        .open(&dek, &aad("note"), &sealed)
        .unwrap()
        .is_empty());
}

#[test]
fn ciphertext_moved_to_another_record_id_fails() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("name"), b"value").unwrap();
    let other = FieldAad {
        record_id: Uuid::from_u128(RECORD.as_u128() + 1),
        ..aad("name")
    };
    assert!(matches!(
        AesGcmSealer.open(&dek, &other, &sealed),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn ciphertext_moved_to_another_field_fails() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("name"), b"value").unwrap();
    assert!(matches!(
        AesGcmSealer.open(&dek, &aad("kana_name"), &sealed),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn ciphertext_moved_to_another_record_kind_fails() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("name"), b"value").unwrap();
    let other = FieldAad {
        record_kind: RecordKind::Meister,
        ..aad("name")
    };
    assert!(matches!(
        AesGcmSealer.open(&dek, &other, &sealed),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn ciphertext_under_another_subjects_dek_fails() {
    let dek = Dek::generate().unwrap();
    let other = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("name"), b"value").unwrap();
    assert!(matches!(
        AesGcmSealer.open(&other, &aad("name"), &sealed),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn every_single_flipped_bit_fails_to_decrypt() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("grade"), b"1").unwrap();
    let bits = sealed.len() * 8;
    for bit in 0..bits {
        let mut tampered = sealed.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(
                AesGcmSealer.open(&dek, &aad("grade"), &tampered),
                Err(CryptoError::DecryptionFailed)
            ),
            "bit {bit} flipped was accepted"
        );
    }
    assert_eq!(bits, (1 + FIELD_OVERHEAD) * 8);
}

#[test]
fn truncated_or_extended_ciphertext_fails() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("grade"), b"abc").unwrap();
    for len in 0..sealed.len() {
        assert!(matches!(
            AesGcmSealer.open(&dek, &aad("grade"), &sealed[..len]),
            Err(CryptoError::DecryptionFailed)
        ));
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(matches!(
        AesGcmSealer.open(&dek, &aad("grade"), &longer),
        Err(CryptoError::DecryptionFailed)
    ));
}

#[test]
fn decryption_failure_message_reveals_nothing() {
    let dek = Dek::generate().unwrap();
    let sealed = AesGcmSealer.seal(&dek, &aad("name"), b"YAMADA").unwrap();
    let err = AesGcmSealer.open(&dek, &aad("other"), &sealed).unwrap_err();
    assert_eq!(err.to_string(), "decryption failed");
}

#[test]
fn dek_and_plaintext_debug_show_no_secret_bytes() {
    let dek = vault_core::crypto::insecure::dek_from_bytes([0xA7; 32]);
    let dek_debug = format!("{dek:?} {dek:#?}");
    assert!(!dek_debug.contains("a7") && !dek_debug.contains("A7") && !dek_debug.contains("167"));
    let sealed = AesGcmSealer
        .seal(&dek, &aad("name"), b"SEEDED-SECRET-NAME")
        .unwrap();
    let plain = AesGcmSealer.open(&dek, &aad("name"), &sealed).unwrap();
    let plain_debug = format!("{plain:?} {plain:#?}");
    assert!(!plain_debug.contains("SEEDED"), "{plain_debug}");
    assert!(!plain_debug.contains("83, 69, 69"), "{plain_debug}"); // b"SEE" as numbers
}

fn any_kind() -> impl Strategy<Value = RecordKind> {
    prop::sample::select(RecordKind::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn seal_then_open_returns_the_plaintext(
        kind in any_kind(),
        id in any::<u128>(),
        field in "[a-z_]{1,24}",
        plaintext in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let dek = Dek::generate().unwrap();
        let aad = FieldAad { record_kind: kind, record_id: Uuid::from_u128(id), field: &field };
        let sealed = AesGcmSealer.seal(&dek, &aad, &plaintext).unwrap();
        prop_assert_eq!(sealed.len(), plaintext.len() + FIELD_OVERHEAD);
        let opened = AesGcmSealer.open(&dek, &aad, &sealed).unwrap();
        prop_assert_eq!(opened.expose_bytes(), &plaintext[..]);
    }

    #[test]
    fn open_of_arbitrary_bytes_fails_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let dek = Dek::generate().unwrap();
        prop_assert!(matches!(
            AesGcmSealer.open(&dek, &aad("name"), &bytes),
            Err(CryptoError::DecryptionFailed)
        ));
    }
}
