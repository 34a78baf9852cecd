//! Field sealing throughput (a benchmark, not a test): prints seals/s and opens/s.
//!
//! `cargo run --release -p vault-core --example seal_bench [-- N]`
//!
//! The import benchmark needs about 500,000 field seals/s on two cores, so one core
//! should manage 250,000/s with the AES key schedule prepared once per data key.

use std::time::Instant;

use uuid::Uuid;
use vault_core::crypto::{AesGcmSealer, Dek, FieldAad, FieldSealer};
use vault_policy::RecordKind;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let dek = Dek::generate().expect("random data key");
    let id = Uuid::new_v4();
    let aad = |field| FieldAad {
        record_kind: RecordKind::Examinee,
        record_id: id,
        field,
    };
    let plaintext = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let start = Instant::now();
    let mut last = Vec::new();
    for i in 0..n {
        let field = if i % 2 == 0 { "name" } else { "name_kana" };
        last = AesGcmSealer
            .seal(&dek, &aad(field), plaintext)
            .expect("seal");
    }
    let seal_rate = f64::from(n) / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..n {
        AesGcmSealer
            .open(&dek, &aad("name_kana"), &last)
            .expect("open");
    }
    let open_rate = f64::from(n) / start.elapsed().as_secs_f64();
    println!("fields: {n}, 32-byte plaintexts, one core");
    println!("seal: {seal_rate:>12.0} /s");
    println!("open: {open_rate:>12.0} /s");
    println!(
        "{{\"scenario\":\"seal\",\"records\":{n},\"seal_per_sec\":{seal_rate:.0},\"open_per_sec\":{open_rate:.0}}}"
    );
}
