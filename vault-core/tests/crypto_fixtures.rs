//! Stored-ciphertext fixtures: bytes written by format v1 must keep opening,
//! and sealing with the same key and nonce must give the same bytes. Any
//! change of a format, an AAD layout, a key derivation or the normalisation
//! fails here. Fixtures: `tests/data/fixtures/` (TEST keys only).

use serde_json::Value;
use uuid::Uuid;
use vault_core::crypto::{
    insecure, verify_signature, AesGcmSealer, Compartment, FieldAad, FieldSealer, KeyProvider,
    Keyring, SealedRecord, WrappedDek,
};
use vault_policy::RecordKind;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture file")
}

fn fixture() -> Value {
    serde_json::from_str(&data("ciphertexts_v1.json")).expect("fixture JSON")
}

fn keyring() -> Keyring {
    Keyring::from_toml(&data("keyring_v1.toml")).expect("fixture keyring")
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn uuid_of(v: &Value) -> Uuid {
    Uuid::parse_str(v.as_str().expect("uuid string")).expect("uuid")
}

fn fixture_dek(f: &Value) -> vault_core::crypto::Dek {
    insecure::dek_from_bytes(hex_of(&f["dek"]).try_into().expect("32 bytes"))
}

#[test]
fn stored_field_ciphertexts_open_to_their_plaintexts() {
    let f = fixture();
    let dek = fixture_dek(&f);
    let kind: RecordKind = f["record_kind"].as_str().unwrap().parse().unwrap();
    let record_id = uuid_of(&f["record_id"]);
    let fields = f["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 3);
    for field in fields {
        let aad = FieldAad {
            record_kind: kind,
            record_id,
            field: field["field"].as_str().unwrap(),
        };
        let opened = AesGcmSealer
            .open(&dek, &aad, &hex_of(&field["sealed"]))
            .unwrap();
        assert_eq!(
            opened.expose_bytes(),
            field["plaintext"].as_str().unwrap().as_bytes()
        );
    }
}

#[test]
fn sealing_with_the_fixture_nonce_reproduces_the_stored_bytes() {
    let f = fixture();
    let dek = fixture_dek(&f);
    let record_id = uuid_of(&f["record_id"]);
    for field in f["fields"].as_array().unwrap() {
        let aad = FieldAad {
            record_kind: RecordKind::Examinee,
            record_id,
            field: field["field"].as_str().unwrap(),
        };
        let nonce: [u8; 12] = hex_of(&field["nonce"]).try_into().unwrap();
        let sealed = insecure::seal_field_with_fixed_nonce(
            &dek,
            &aad,
            &nonce,
            field["plaintext"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
        assert_eq!(sealed, hex_of(&field["sealed"]));
    }
}

#[test]
fn stored_sealed_record_decodes_and_re_encodes_byte_for_byte() {
    let f = fixture();
    let bytes = hex_of(&f["sealed_record"]);
    let record = SealedRecord::decode(&bytes).unwrap();
    assert_eq!(
        record.field_names().collect::<Vec<_>>(),
        ["birth_date", "kana_name", "name"]
    );
    for field in f["fields"].as_array().unwrap() {
        let name = field["field"].as_str().unwrap();
        assert_eq!(record.get(name).unwrap(), &hex_of(&field["sealed"])[..]);
    }
    assert_eq!(record.encode(), bytes);
}

#[test]
fn stored_sealed_record_fields_open_with_the_fixture_dek() {
    let f = fixture();
    let record = SealedRecord::decode(&hex_of(&f["sealed_record"])).unwrap();
    let opened = record
        .open_field(
            &AesGcmSealer,
            &fixture_dek(&f),
            RecordKind::Examinee,
            uuid_of(&f["record_id"]),
            "name",
        )
        .unwrap()
        .unwrap();
    assert_eq!(opened.expose_bytes(), "山田 太郎".as_bytes());
}

#[test]
fn stored_wrapped_deks_unwrap_with_the_fixture_keyring() {
    let f = fixture();
    let keyring = keyring();
    let subject = uuid_of(&f["subject_id"]);
    for (compartment, version) in [(Compartment::General, 2), (Compartment::MyNumber, 1)] {
        let bytes = hex_of(&f["wrapped_dek"][compartment.as_str()]);
        let wrapped = WrappedDek::from_bytes(&bytes).unwrap();
        assert_eq!(wrapped.kek_id(), compartment.kek_id());
        assert_eq!(wrapped.kek_version(), version);
        let dek = keyring.unwrap_dek(compartment, subject, &wrapped).unwrap();
        assert_eq!(&dek.expose_bytes()[..], &hex_of(&f["dek"])[..]);
    }
}

#[test]
fn wrapping_with_the_fixture_nonce_reproduces_the_stored_bytes() {
    let f = fixture();
    let keyring = keyring();
    let nonce: [u8; 12] = hex_of(&f["wrap_nonce"]).try_into().unwrap();
    for compartment in [Compartment::General, Compartment::MyNumber] {
        let wrapped = insecure::wrap_dek_with_fixed_nonce(
            &keyring,
            compartment,
            uuid_of(&f["subject_id"]),
            &fixture_dek(&f),
            &nonce,
        )
        .unwrap();
        assert_eq!(
            wrapped.as_bytes(),
            &hex_of(&f["wrapped_dek"][compartment.as_str()])[..]
        );
    }
}

#[test]
fn stored_blind_index_digest_is_reproduced() {
    let f = fixture();
    let b = &f["blind_index"];
    let digest = keyring()
        .blind_indexer()
        .digest_active(b["field"].as_str().unwrap(), b["value"].as_str().unwrap());
    assert_eq!(u64::from(digest.version), b["version"].as_u64().unwrap());
    assert_eq!(&digest.bytes[..], &hex_of(&b["digest"])[..]);
}

#[test]
fn stored_audit_signature_is_reproduced_and_verifies() {
    let f = fixture();
    let s = &f["audit_signature"];
    let signer = keyring().audit_signer();
    let msg = s["message"].as_str().unwrap().as_bytes();
    assert_eq!(signer.key_id(), s["key_id"].as_str().unwrap());
    assert_eq!(signer.public_key(), hex_of(&s["public_key"]));
    // Ed25519 signatures are deterministic.
    assert_eq!(signer.sign(msg), hex_of(&s["signature"]));
    assert!(verify_signature(
        &hex_of(&s["public_key"]),
        msg,
        &hex_of(&s["signature"])
    ));
}
