//! The sealed record container: canonical encode/decode, strict rejection of
//! malformed blobs, sealing and opening fields through it.

use proptest::prelude::*;
use uuid::Uuid;
use vault_core::crypto::{AesGcmSealer, CryptoError, Dek, SealedRecord};
use vault_policy::RecordKind;

fn two_fields() -> SealedRecord {
    let mut r = SealedRecord::new();
    r.insert("name", vec![1, 2, 3]).unwrap();
    r.insert("birth_date", vec![9; 200]).unwrap();
    r
}

#[test]
fn encoded_record_decodes_to_the_same_fields() {
    let r = two_fields();
    let decoded = SealedRecord::decode(&r.encode()).unwrap();
    assert_eq!(decoded, r);
    assert_eq!(
        decoded.field_names().collect::<Vec<_>>(),
        ["birth_date", "name"]
    );
}

#[test]
fn empty_record_encodes_to_version_and_zero_count() {
    assert_eq!(SealedRecord::new().encode(), [0x01, 0x00]);
    assert!(SealedRecord::decode(&[0x01, 0x00]).unwrap().is_empty());
}

#[test]
fn encoding_is_compact() {
    // version + count + (1 + 4 name + 1 len + 3 ct)
    let mut r = SealedRecord::new();
    r.insert("name", vec![1, 2, 3]).unwrap();
    assert_eq!(r.encode(), [1, 1, 4, b'n', b'a', b'm', b'e', 3, 1, 2, 3]);
}

#[test]
fn unknown_container_version_is_rejected() {
    let mut bytes = two_fields().encode();
    bytes[0] = 0x02;
    assert!(matches!(
        SealedRecord::decode(&bytes),
        Err(CryptoError::MalformedSealedRecord { .. })
    ));
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = two_fields().encode();
    bytes.push(0);
    assert!(SealedRecord::decode(&bytes).is_err());
}

#[test]
fn unsorted_or_duplicate_field_names_are_rejected() {
    // "b" then "a"
    let unsorted = [1, 2, 1, b'b', 0, 1, b'a', 0];
    assert!(SealedRecord::decode(&unsorted).is_err());
    let duplicate = [1, 2, 1, b'a', 0, 1, b'a', 0];
    assert!(SealedRecord::decode(&duplicate).is_err());
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = two_fields().encode();
    for len in 0..bytes.len() {
        assert!(SealedRecord::decode(&bytes[..len]).is_err(), "length {len}");
    }
}

#[test]
fn invalid_field_names_are_refused_on_insert() {
    let mut r = SealedRecord::new();
    assert!(r.insert("", vec![]).is_err());
    assert!(r.insert("with space", vec![]).is_err());
    assert!(r.insert("名前", vec![]).is_err());
    assert!(r.insert(&"x".repeat(256), vec![]).is_err());
    assert!(r.insert(&"x".repeat(255), vec![]).is_ok());
}

#[test]
fn fields_sealed_into_a_record_open_after_encode_and_decode() {
    let dek = Dek::generate().unwrap();
    let id = Uuid::new_v4();
    let mut r = SealedRecord::new();
    r.seal_field(
        &AesGcmSealer,
        &dek,
        RecordKind::Examinee,
        id,
        "name",
        b"YAMADA",
    )
    .unwrap();
    let stored = SealedRecord::decode(&r.encode()).unwrap();
    let opened = stored
        .open_field(&AesGcmSealer, &dek, RecordKind::Examinee, id, "name")
        .unwrap()
        .unwrap();
    assert_eq!(opened.expose_bytes(), b"YAMADA");
    assert!(stored
        .open_field(&AesGcmSealer, &dek, RecordKind::Examinee, id, "absent")
        .unwrap()
        .is_none());
}

#[test]
fn record_debug_shows_names_and_lengths_only() {
    let r = two_fields();
    let debug = format!("{r:?}");
    assert!(debug.contains("name") && debug.contains("3 bytes sealed"));
    assert!(!debug.contains("[1, 2, 3]"));
}

fn any_record() -> impl Strategy<Value = SealedRecord> {
    prop::collection::btree_map(
        "[!-~]{1,40}",
        prop::collection::vec(any::<u8>(), 0..300),
        0..12,
    )
    .prop_map(|m| {
        let mut r = SealedRecord::new();
        for (k, v) in m {
            r.insert(&k, v).unwrap();
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_is_identity(r in any_record()) {
        let bytes = r.encode();
        let decoded = SealedRecord::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &r);
        // Canonical: re-encoding gives the same bytes.
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(r) = SealedRecord::decode(&bytes) {
            // Whatever decodes is canonical.
            prop_assert_eq!(r.encode(), bytes);
        }
    }

    #[test]
    fn decode_of_mutated_encoding_never_panics(
        r in any_record(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = r.encode();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = SealedRecord::decode(&bytes);
    }
}
