//! The canonical plaintext encoding (what gets sealed) round-trips exactly for
//! every field type, hides lengths within a block, and refuses malformed bytes.

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{json, Value};
use vault_core::model::{FieldType, FieldValue, PlainDecodeError, ValueKind, FIELDS, PAD_BLOCK};
use zeroize::Zeroizing;

/// One valid submitted value for each field type (None: a type without a sample,
/// which fails `every_field_type_in_the_schema_has_a_sample`).
fn sample(ty: FieldType) -> Option<Value> {
    Some(match ty {
        FieldType::Text { .. } => json!("山田 太郎"),
        FieldType::MultilineText { .. } => json!("一行目\n二行目"),
        FieldType::Kana => json!("ヤマダ タロウ"),
        FieldType::Date => json!("令和6年5月27日"),
        FieldType::DateTime => json!("2024-07-01T09:30"),
        FieldType::Int { min, .. } => json!(min.max(-5)),
        FieldType::Bool => json!(true),
        FieldType::FiscalYear => json!(2024),
        FieldType::MyNumber => json!("123456789018"),
        FieldType::PrefectureCode => json!("35"),
        FieldType::PostalCode => json!("753-0001"),
        FieldType::ResidenceCardNumber => json!("ab12345678cd"),
        FieldType::Phone => json!("083-922-3111"),
        FieldType::Email => json!("t.yamada@example.jp"),
        FieldType::Sex => json!(2),
        FieldType::Grade => json!("special"),
        FieldType::ExamPeriod => json!("any"),
        FieldType::ExamCategory => json!("both"),
        FieldType::Attendance => json!("exempt"),
        FieldType::ActivityKind => json!("technical_high_school"),
        FieldType::MeisterStatus => json!("intent_check"),
        FieldType::Code { .. } => json!("A1"),
        FieldType::Identifier { .. } => json!("EX-2024-001"),
        FieldType::Token { .. } => json!("user@01"),
        FieldType::Trades => json!(["旋盤", "フライス盤"]),
        FieldType::RecordId => json!("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        _ => return None,
    })
}

/// Every variant of `FieldType`, listed by hand (the enum is non-exhaustive).
const ALL_TYPES: &[FieldType] = &[
    FieldType::Text { max: 100 },
    FieldType::MultilineText { max: 1000 },
    FieldType::Kana,
    FieldType::Date,
    FieldType::DateTime,
    FieldType::Int { min: -10, max: 10 },
    FieldType::Bool,
    FieldType::FiscalYear,
    FieldType::MyNumber,
    FieldType::PrefectureCode,
    FieldType::PostalCode,
    FieldType::ResidenceCardNumber,
    FieldType::Phone,
    FieldType::Email,
    FieldType::Sex,
    FieldType::Grade,
    FieldType::ExamPeriod,
    FieldType::ExamCategory,
    FieldType::Attendance,
    FieldType::ActivityKind,
    FieldType::MeisterStatus,
    FieldType::Code { max: 8 },
    FieldType::Identifier { max: 32 },
    FieldType::Token { max: 64 },
    FieldType::Trades,
    FieldType::RecordId,
];

fn round_trip(ty: FieldType, value: &FieldValue) -> FieldValue {
    let bytes = value.to_plain_bytes();
    FieldValue::from_plain_bytes(ty, &bytes).expect("decodes")
}

#[test]
fn every_field_type_in_the_schema_has_a_sample() {
    for def in FIELDS {
        assert!(
            sample(def.ty).is_some(),
            "{}.{}: {:?}",
            def.kind,
            def.name,
            def.ty
        );
    }
}

#[test]
fn plain_bytes_round_trip_exactly_for_every_field_type() {
    let schema_types = FIELDS.iter().map(|d| d.ty);
    for ty in ALL_TYPES.iter().copied().chain(schema_types) {
        let submitted = sample(ty).expect("sample");
        let value = ty.parse_json(&submitted).expect("sample is valid");
        assert_eq!(value.kind(), ty.value_kind(), "{ty:?}");
        let back = round_trip(ty, &value);
        assert!(back == value, "{ty:?} changed in the round trip");
        assert_eq!(back.to_json(), value.to_json());
    }
}

#[test]
fn canonical_forms_are_what_is_stored() {
    let canonical = |ty: FieldType, v: Value| ty.parse_json(&v).unwrap().to_json();
    assert_eq!(
        canonical(FieldType::Date, json!("令和6年5月27日")),
        json!("2024-05-27")
    );
    assert_eq!(
        canonical(FieldType::PostalCode, json!("753-0001")),
        json!("7530001")
    );
    assert_eq!(canonical(FieldType::Sex, json!(2)), json!("female"));
    assert_eq!(canonical(FieldType::Sex, json!("9")), json!("unknown"));
    assert_eq!(
        canonical(FieldType::ResidenceCardNumber, json!("ab12345678cd")),
        json!("AB12345678CD")
    );
    assert_eq!(
        canonical(FieldType::Phone, json!("083-922-3111")),
        json!("083-922-3111")
    );
    assert_eq!(
        canonical(FieldType::DateTime, json!("2024-07-01 09:30")),
        json!("2024-07-01T09:30:00")
    );
    assert_eq!(
        canonical(FieldType::Trades, json!(["旋盤"])),
        json!(["旋盤"])
    );
    assert_eq!(canonical(FieldType::FiscalYear, json!(2024)), json!(2024));
}

#[test]
fn encoding_has_a_fixed_layout() {
    // A fixture: changing the format must fail this test (and needs a new version byte).
    let text = FieldValue::Text(Zeroizing::new("ヤマダ".to_owned())).to_plain_bytes();
    let mut expected = vec![1u8, 1, 0, 0, 0, 9];
    expected.extend_from_slice("ヤマダ".as_bytes());
    expected.resize(32, 0);
    assert_eq!(text.as_slice(), expected.as_slice());

    let int = FieldValue::Int(-2).to_plain_bytes();
    let mut expected = vec![1u8, 2];
    expected.extend_from_slice(&(-2i64).to_be_bytes());
    expected.resize(32, 0);
    assert_eq!(int.as_slice(), expected.as_slice());

    let date = FieldValue::Date(NaiveDate::from_ymd_opt(2024, 5, 27).unwrap()).to_plain_bytes();
    // 2024-05-27 is day 739 033 counted from 0001-01-01 = day 1.
    let mut expected = vec![1u8, 4];
    expected.extend_from_slice(&739_033i32.to_be_bytes());
    expected.resize(32, 0);
    assert_eq!(date.as_slice(), expected.as_slice());

    let list = FieldValue::List(vec![Zeroizing::new("旋盤".to_owned())]).to_plain_bytes();
    let mut expected = vec![1u8, 5, 0, 0, 0, 1, 0, 0, 0, 6];
    expected.extend_from_slice("旋盤".as_bytes());
    expected.resize(32, 0);
    assert_eq!(list.as_slice(), expected.as_slice());
}

#[test]
fn values_of_a_closed_list_encode_to_the_same_length() {
    let len = |v: Value| {
        FieldType::Sex
            .parse_json(&v)
            .unwrap()
            .to_plain_bytes()
            .len()
    };
    assert_eq!(len(json!("male")), len(json!("female")));
    assert_eq!(len(json!("male")), len(json!("unknown")));
    assert_eq!(
        FieldValue::Bool(true).to_plain_bytes().len(),
        FieldValue::Bool(false).to_plain_bytes().len()
    );
    assert_eq!(
        FieldValue::Int(0).to_plain_bytes().len(),
        FieldValue::Int(100).to_plain_bytes().len()
    );
}

#[test]
fn lengths_are_padded_to_whole_blocks() {
    for n in 0..200 {
        let bytes = FieldValue::Text(Zeroizing::new("a".repeat(n))).to_plain_bytes();
        assert_eq!(bytes.len() % PAD_BLOCK, 0);
        assert!(bytes.len() >= 6 + n && bytes.len() < 6 + n + PAD_BLOCK);
    }
}

#[test]
fn decoding_refuses_another_field_type() {
    let bytes = FieldValue::Int(3).to_plain_bytes();
    assert_eq!(
        FieldValue::from_plain_bytes(FieldType::Kana, &bytes),
        Err(PlainDecodeError::TypeMismatch)
    );
    assert_eq!(FieldType::Kana.value_kind(), ValueKind::Text);
}

#[test]
fn decoding_refuses_an_unknown_version() {
    let mut bytes = FieldValue::Bool(true).to_plain_bytes().to_vec();
    bytes[0] = 2;
    assert_eq!(
        FieldValue::from_plain_bytes(FieldType::Bool, &bytes),
        Err(PlainDecodeError::UnsupportedVersion)
    );
}

#[test]
fn decoding_refuses_malformed_bytes() {
    let good = FieldValue::Text(Zeroizing::new("abc".to_owned()))
        .to_plain_bytes()
        .to_vec();
    let ty = FieldType::Text { max: 100 };
    let decode = |b: &[u8]| FieldValue::from_plain_bytes(ty, b);

    assert_eq!(
        decode(&good[..31]),
        Err(PlainDecodeError::Malformed),
        "truncated"
    );
    assert_eq!(decode(&[]), Err(PlainDecodeError::Malformed), "empty");

    let mut nonzero_padding = good.clone();
    nonzero_padding[31] = 1;
    assert_eq!(decode(&nonzero_padding), Err(PlainDecodeError::Malformed));

    let mut extra_block = good.clone();
    extra_block.extend_from_slice(&[0; 32]);
    assert_eq!(decode(&extra_block), Err(PlainDecodeError::Malformed));

    let mut long_length = good.clone();
    long_length[5] = 200;
    assert_eq!(decode(&long_length), Err(PlainDecodeError::Malformed));

    let mut bad_utf8 = good.clone();
    bad_utf8[6] = 0xff;
    assert_eq!(decode(&bad_utf8), Err(PlainDecodeError::Malformed));

    let mut bad_bool = FieldValue::Bool(true).to_plain_bytes().to_vec();
    bad_bool[2] = 2;
    assert_eq!(
        FieldValue::from_plain_bytes(FieldType::Bool, &bad_bool),
        Err(PlainDecodeError::Malformed)
    );

    let mut huge_list = FieldValue::List(vec![]).to_plain_bytes().to_vec();
    huge_list[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        FieldValue::from_plain_bytes(FieldType::Trades, &huge_list),
        Err(PlainDecodeError::Malformed)
    );
}

#[test]
fn to_json_gives_the_api_form() {
    assert_eq!(FieldValue::Int(87).to_json(), json!(87));
    assert_eq!(FieldValue::Bool(false).to_json(), json!(false));
    assert_eq!(
        FieldValue::Date(NaiveDate::from_ymd_opt(2019, 5, 1).unwrap()).to_json(),
        json!("2019-05-01")
    );
}

proptest! {
    #[test]
    fn any_text_round_trips(s in any::<String>()) {
        let v = FieldValue::Text(Zeroizing::new(s));
        let ty = FieldType::Text { max: 100 };
        prop_assert!(round_trip(ty, &v) == v);
    }

    #[test]
    fn any_integer_round_trips(n in any::<i64>()) {
        let v = FieldValue::Int(n);
        let ty = FieldType::Int { min: i64::MIN, max: i64::MAX };
        prop_assert!(round_trip(ty, &v) == v);
    }

    #[test]
    fn any_date_round_trips(days in 1i32..=3_000_000) {
        let v = FieldValue::Date(NaiveDate::from_num_days_from_ce_opt(days).unwrap());
        prop_assert!(round_trip(FieldType::Date, &v) == v);
    }

    #[test]
    fn any_list_round_trips(items in proptest::collection::vec(any::<String>(), 0..8)) {
        let v = FieldValue::List(items.into_iter().map(Zeroizing::new).collect());
        prop_assert!(round_trip(FieldType::Trades, &v) == v);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        for ty in ALL_TYPES {
            let _ = FieldValue::from_plain_bytes(*ty, &bytes);
        }
    }
}
