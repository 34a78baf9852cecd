//! Wycheproof test vectors run through the vault's own AES-GCM and HMAC code
//! paths (`vault_core::crypto::insecure`).

use serde_json::Value;
use vault_core::crypto::{insecure, CryptoError};

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

fn hex_field(test: &Value, key: &str) -> Vec<u8> {
    hex::decode(test[key].as_str().expect("hex string")).expect("hex")
}

fn num(group: &Value, key: &str) -> u64 {
    group[key].as_u64().expect("number")
}

#[test]
fn wycheproof_aes_256_gcm_96_bit_iv_vectors_pass() {
    let doc = load("aes_gcm_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().expect("groups") {
        if num(group, "ivSize") != 96
            || num(group, "keySize") != 256
            || num(group, "tagSize") != 128
        {
            continue;
        }
        for test in group["tests"].as_array().expect("tests") {
            let id = &test["tcId"];
            let key: [u8; 32] = hex_field(test, "key").try_into().expect("32-byte key");
            let iv: [u8; 12] = hex_field(test, "iv").try_into().expect("12-byte iv");
            let aad = hex_field(test, "aad");
            let msg = hex_field(test, "msg");
            let mut ct_and_tag = hex_field(test, "ct");
            ct_and_tag.extend(hex_field(test, "tag"));
            let opened = insecure::aes256gcm_open(&key, &iv, &aad, &ct_and_tag);
            match test["result"].as_str() {
                Some("valid") | Some("acceptable") => {
                    let sealed = insecure::aes256gcm_seal(&key, &iv, &aad, &msg).expect("seal");
                    assert_eq!(sealed, ct_and_tag, "seal, tcId {id}");
                    let opened = opened.unwrap_or_else(|e| panic!("open tcId {id}: {e}"));
                    assert_eq!(opened.expose_bytes(), &msg[..], "open, tcId {id}");
                    valid += 1;
                }
                Some("invalid") => {
                    assert!(
                        matches!(opened, Err(CryptoError::DecryptionFailed)),
                        "invalid tcId {id} was accepted"
                    );
                    invalid += 1;
                }
                other => panic!("unknown result {other:?} in tcId {id}"),
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "valid {valid}, invalid {invalid}");
    // 66 cases in the shipped file (39 valid, 27 invalid).
    assert_eq!((valid, invalid), (39, 27));
}

#[test]
fn wycheproof_hmac_sha256_vectors_pass() {
    let doc = load("hmac_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().expect("groups") {
        let tag_len = usize::try_from(num(group, "tagSize") / 8).expect("tag size");
        for test in group["tests"].as_array().expect("tests") {
            let id = &test["tcId"];
            let key = hex_field(test, "key");
            let msg = hex_field(test, "msg");
            let expected = hex_field(test, "tag");
            let full = insecure::hmac_sha256(&key, &msg);
            let matches = expected.len() == tag_len && full[..tag_len] == expected[..];
            match test["result"].as_str() {
                Some("valid") => {
                    assert!(matches, "valid tcId {id} did not match");
                    valid += 1;
                }
                Some("invalid") => {
                    assert!(!matches, "invalid tcId {id} matched");
                    invalid += 1;
                }
                other => panic!("unknown result {other:?} in tcId {id}"),
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "valid {valid}, invalid {invalid}");
    assert_eq!((valid, invalid), (66, 108));
}
