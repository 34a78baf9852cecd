//! Each validated value type accepts what DATA.md allows and refuses the rest,
//! with a stable code and without ever printing the value.

use proptest::prelude::*;
use serde_json::json;
use vault_core::model::{
    ActivityKind, Attendance, Code, Date, DateTime, Email, ExamCategory, ExamPeriod, FieldType,
    FieldValue, FiscalYear, FreeText, Grade, Identifier, Kana, MeisterStatus, MyNumber, Phone,
    PostalCode, PrefectureCode, ResidenceCardNumber, Sex, Token, Trades, ValueError,
};

use ValueError::*;

fn iso(date: Result<Date, ValueError>) -> Result<String, ValueError> {
    date.map(Date::to_iso)
}

/// Builds a valid My Number from eleven digits with the check-digit helper.
fn with_check_digit(first11: &str) -> String {
    format!("{first11}{}", MyNumber::check_digit(first11).unwrap())
}

// ---------------------------------------------------------------------------
// 個人番号

#[test]
fn my_number_with_the_official_check_digit_is_accepted() {
    // P1..P11 = 1,0,9,8,7,6,5,4,3,2,1; Q = 2..7,2..6; Σ = 212; 212 mod 11 = 3; 11 − 3 = 8.
    let n = MyNumber::parse("123456789018").unwrap();
    assert_eq!(n.expose_digits(), "123456789018");
}

#[test]
fn my_number_with_a_wrong_check_digit_is_refused() {
    assert_eq!(MyNumber::parse("123456789012"), Err(InvalidCheckDigit));
}

#[test]
fn my_number_check_digit_is_zero_when_the_remainder_is_zero_or_one() {
    // All zeros: Σ = 0, r = 0 -> 0.
    assert_eq!(MyNumber::check_digit("00000000000"), Some(0));
    // P1 = 5 (weight 2): Σ = 10, r = 10 -> 1; P1 = 6: Σ = 12, r = 1 -> 0.
    assert_eq!(MyNumber::check_digit("00000000005"), Some(1));
    assert_eq!(MyNumber::check_digit("00000000006"), Some(0));
}

#[test]
fn my_number_that_is_not_twelve_ascii_digits_is_an_invalid_format() {
    for bad in [
        "12345678901",
        "1234567890180",
        "12345678901a",
        "１２３４５６７８９０１８",
        "",
        "1234-5678-9018",
    ] {
        let err = MyNumber::parse(bad).unwrap_err();
        assert!(matches!(err, InvalidFormat | TooLong), "{err:?}");
    }
}

#[test]
fn my_number_check_digit_helper_refuses_other_than_eleven_digits() {
    assert_eq!(MyNumber::check_digit("1234567890"), None);
    assert_eq!(MyNumber::check_digit("123456789012"), None);
    assert_eq!(MyNumber::check_digit("1234567890x"), None);
}

/// Σ P_n·Q_n mod 11 of the first eleven digits, computed apart from the library.
fn remainder(first11: &[u8]) -> u32 {
    const WEIGHTS_FROM_LEFT: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    first11
        .iter()
        .zip(WEIGHTS_FROM_LEFT)
        .map(|(d, q)| u32::from(d - b'0') * q)
        .sum::<u32>()
        % 11
}

#[test]
fn official_check_digit_cannot_tell_remainder_zero_from_one() {
    // r = 0 and r = 1 both give check digit 0, so these two numbers, one digit
    // apart, are both valid: a limit of the official scheme, not of the parser.
    assert!(MyNumber::parse("000000000000").is_ok());
    assert!(MyNumber::parse("000000000060").is_ok());
}

proptest! {
    #[test]
    fn generated_my_numbers_always_parse(first11 in "[0-9]{11}") {
        prop_assert!(MyNumber::parse(&with_check_digit(&first11)).is_ok());
    }

    #[test]
    fn check_digit_helper_agrees_with_an_independent_computation(first11 in "[0-9]{11}") {
        let r = remainder(first11.as_bytes());
        let expected = if r <= 1 { 0 } else { 11 - r };
        prop_assert_eq!(MyNumber::check_digit(&first11), Some(expected as u8));
    }

    #[test]
    fn changing_the_check_digit_is_refused(first11 in "[0-9]{11}", delta in 1u8..10) {
        let mut bytes = with_check_digit(&first11).into_bytes();
        bytes[11] = b'0' + (bytes[11] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(MyNumber::parse(&changed).unwrap_err(), InvalidCheckDigit);
    }

    /// Any single-digit change is refused, except the one case the official
    /// scheme cannot see: both remainders in {0, 1} (check digit 0 either way).
    #[test]
    fn changing_any_other_single_digit_is_refused(
        first11 in "[0-9]{11}",
        position in 0usize..11,
        delta in 1u8..10,
    ) {
        let valid = with_check_digit(&first11);
        let mut bytes = valid.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
        let undetectable =
            remainder(&first11.as_bytes()[..11]) <= 1 && remainder(&bytes[..11]) <= 1;
        let changed = String::from_utf8(bytes).unwrap();
        if undetectable {
            prop_assert!(MyNumber::parse(&changed).is_ok());
        } else {
            prop_assert_eq!(MyNumber::parse(&changed).unwrap_err(), InvalidCheckDigit);
        }
    }
}

// ---------------------------------------------------------------------------
// Places

#[test]
fn prefecture_codes_01_to_47_are_accepted() {
    assert_eq!(PrefectureCode::parse("01").unwrap().as_str(), "01");
    assert_eq!(PrefectureCode::parse("35").unwrap().number(), 35);
    assert_eq!(PrefectureCode::parse("47").unwrap().as_str(), "47");
}

#[test]
fn prefecture_codes_outside_01_to_47_are_refused() {
    assert_eq!(PrefectureCode::parse("00"), Err(OutOfRange));
    assert_eq!(PrefectureCode::parse("48"), Err(OutOfRange));
    assert_eq!(PrefectureCode::parse("1"), Err(InvalidFormat));
    assert_eq!(PrefectureCode::parse("ab"), Err(InvalidFormat));
    assert_eq!(PrefectureCode::parse("001"), Err(TooLong));
}

#[test]
fn postal_code_hyphen_after_the_third_digit_is_removed() {
    assert_eq!(
        PostalCode::parse("100-0013").unwrap().expose_str(),
        "1000013"
    );
    assert_eq!(
        PostalCode::parse("1000013").unwrap().expose_str(),
        "1000013"
    );
}

#[test]
fn postal_code_of_another_shape_is_refused() {
    for bad in [
        "10-00013",
        "100001",
        "1000-013",
        "100-001a",
        "１００００１３",
        "",
    ] {
        assert!(PostalCode::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(PostalCode::parse("10000130"), Err(InvalidFormat));
}

// ---------------------------------------------------------------------------
// Residence and contact

#[test]
fn residence_card_number_is_two_letters_eight_digits_two_letters() {
    assert_eq!(
        ResidenceCardNumber::parse("AB12345678CD")
            .unwrap()
            .expose_str(),
        "AB12345678CD"
    );
    assert_eq!(
        ResidenceCardNumber::parse("ab12345678cd")
            .unwrap()
            .expose_str(),
        "AB12345678CD"
    );
}

#[test]
fn residence_card_number_of_another_shape_is_refused() {
    for bad in [
        "A123456789CD",
        "AB1234567CDE",
        "AB12345678C1",
        "AB 2345678CD",
        "ＡＢ12345678CD",
    ] {
        assert!(ResidenceCardNumber::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn phone_with_ten_or_eleven_digits_is_kept_as_submitted() {
    assert_eq!(
        Phone::parse("03-1234-5678").unwrap().expose_str(),
        "03-1234-5678"
    );
    assert_eq!(
        Phone::parse("09012345678").unwrap().expose_str(),
        "09012345678"
    );
    assert_eq!(
        Phone::parse("090-1234-5678").unwrap().expose_str(),
        "090-1234-5678"
    );
}

#[test]
fn phone_with_other_digit_counts_or_characters_is_refused() {
    for bad in [
        "031234567",
        "090123456789",
        "-0312345678",
        "03--1234-5678",
        "0312345678-",
        "+81312345678",
        "03(1234)5678",
        "０３１２３４５６７８",
    ] {
        assert!(Phone::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Phone::parse(""), Err(Empty));
}

#[test]
fn email_address_is_accepted() {
    assert_eq!(
        Email::parse("t.yamada@example.co.jp").unwrap().expose_str(),
        "t.yamada@example.co.jp"
    );
    assert!(Email::parse("a+b@x-y.jp").is_ok());
}

#[test]
fn malformed_email_address_is_refused() {
    for bad in [
        "yamada",
        "@example.jp",
        "a@b",
        "a b@x.jp",
        "a@@x.jp",
        "a@x..jp",
        "a@-x.jp",
        "山田@x.jp",
    ] {
        assert_eq!(Email::parse(bad), Err(InvalidFormat), "{bad}");
    }
}

// ---------------------------------------------------------------------------
// Names and text

#[test]
fn kana_in_full_width_katakana_with_spaces_is_accepted() {
    for good in [
        "ヤマダ タロウ",
        "ヤマダ　タロウ",
        "スズキ・ジョージ",
        "ヴァーノン",
        "ヰヱヲ",
    ] {
        assert_eq!(Kana::parse(good).unwrap().expose_str(), good);
    }
}

#[test]
fn kana_in_hiragana_half_width_or_latin_is_refused() {
    for bad in [
        "やまだ",
        "ﾔﾏﾀﾞ",
        "Yamada",
        "山田",
        "ヤマダ1",
        "・",
        "ヤマダ\u{0}",
    ] {
        assert_eq!(Kana::parse(bad), Err(InvalidFormat), "{bad}");
    }
    assert_eq!(Kana::parse(""), Err(Empty));
    assert_eq!(Kana::parse("　 "), Err(Empty));
    assert_eq!(Kana::parse(&"ア".repeat(101)), Err(TooLong));
}

#[test]
fn free_text_up_to_its_cap_is_kept_as_submitted() {
    assert_eq!(
        FreeText::parse("山田 太郎", 100).unwrap().expose_str(),
        "山田 太郎"
    );
    assert!(FreeText::parse(&"山".repeat(100), 100).is_ok());
    assert!(FreeText::parse_multiline("一行目\n二行目", 1000).is_ok());
}

#[test]
fn free_text_too_long_blank_or_with_control_characters_is_refused() {
    assert_eq!(FreeText::parse(&"山".repeat(101), 100), Err(TooLong));
    assert_eq!(FreeText::parse("  ", 100), Err(Empty));
    assert_eq!(FreeText::parse("山田\u{7}太郎", 100), Err(InvalidFormat));
    assert_eq!(FreeText::parse("一行目\n二行目", 100), Err(InvalidFormat));
    assert_eq!(
        FreeText::parse_multiline("a\u{1b}[2J", 100),
        Err(InvalidFormat)
    );
}

// ---------------------------------------------------------------------------
// Dates

#[test]
fn iso_dates_are_accepted() {
    assert_eq!(iso(Date::parse("2024-05-27")), Ok("2024-05-27".to_owned()));
    assert_eq!(iso(Date::parse("2000-02-29")), Ok("2000-02-29".to_owned()));
}

#[test]
fn iso_dates_of_another_shape_or_not_on_the_calendar_are_refused() {
    assert_eq!(iso(Date::parse("2024-5-27")), Err(InvalidFormat));
    assert_eq!(iso(Date::parse("2024/05/27")), Err(InvalidFormat));
    assert_eq!(iso(Date::parse("20240527")), Err(InvalidFormat));
    assert_eq!(iso(Date::parse("2024-02-30")), Err(InvalidDate));
    assert_eq!(iso(Date::parse("2023-02-29")), Err(InvalidDate));
    assert_eq!(iso(Date::parse("1800-01-01")), Err(OutOfRange));
    assert_eq!(iso(Date::parse("")), Err(Empty));
}

#[test]
fn wareki_dates_convert_to_the_gregorian_day() {
    let cases = [
        ("令和元年5月1日", "2019-05-01"),
        ("平成31年4月30日", "2019-04-30"),
        ("令和6年5月27日", "2024-05-27"),
        ("令和1年5月1日", "2019-05-01"),
        ("令和６年５月２７日", "2024-05-27"),
        ("令和06年05月07日", "2024-05-07"),
        ("平成元年1月8日", "1989-01-08"),
        ("昭和64年1月7日", "1989-01-07"),
        ("昭和元年12月25日", "1926-12-25"),
        ("大正15年12月25日", "1926-12-25"),
        ("大正元年7月30日", "1912-07-30"),
        ("明治45年7月30日", "1912-07-30"),
        ("明治6年1月1日", "1873-01-01"),
    ];
    for (wareki, expected) in cases {
        assert_eq!(
            iso(Date::parse(wareki)),
            Ok(expected.to_owned()),
            "{wareki}"
        );
    }
}

#[test]
fn wareki_dates_outside_their_era_are_out_of_range() {
    for bad in [
        "平成32年1月1日",
        "平成31年5月1日",
        "令和元年4月30日",
        "昭和64年1月8日",
        "平成元年1月7日",
        "大正15年12月26日",
        "明治45年7月31日",
        "明治5年12月1日",
        "令和0年5月1日",
    ] {
        assert_eq!(iso(Date::parse(bad)), Err(OutOfRange), "{bad}");
    }
}

#[test]
fn malformed_wareki_dates_are_refused() {
    assert_eq!(iso(Date::parse("令和6年2月30日")), Err(InvalidDate));
    for bad in [
        "令和6年5月",
        "令和6年5月27",
        "R6.5.27",
        "慶応3年1月1日",
        "令和六年五月二十七日",
        "令和6年5月27日 ",
        "令和年5月27日",
    ] {
        assert_eq!(iso(Date::parse(bad)), Err(InvalidFormat), "{bad}");
    }
}

#[test]
fn date_times_are_kept_in_canonical_form() {
    let c = |s| DateTime::parse(s).map(DateTime::to_canonical);
    assert_eq!(c("2024-07-01T09:30"), Ok("2024-07-01T09:30:00".to_owned()));
    assert_eq!(
        c("2024-07-01 09:30:15"),
        Ok("2024-07-01T09:30:15".to_owned())
    );
    assert_eq!(c("2024-07-01"), Ok("2024-07-01".to_owned()));
}

#[test]
fn malformed_date_times_are_refused() {
    let c = |s| DateTime::parse(s).map(DateTime::to_canonical);
    assert_eq!(c("2024-07-01T25:00"), Err(InvalidDate));
    assert_eq!(c("2024-07-01T09"), Err(InvalidFormat));
    assert_eq!(c("2024-07-01X09:30"), Err(InvalidFormat));
    assert_eq!(c("2024-07-01T09:30+09:00"), Err(TooLong));
    assert_eq!(c("2024-07-01T9:30:00"), Err(InvalidFormat));
}

// ---------------------------------------------------------------------------
// Closed lists

#[test]
fn sex_accepts_names_and_jis_x_0303_codes() {
    assert_eq!(Sex::parse("male"), Ok(Sex::Male));
    assert_eq!(Sex::parse("1"), Ok(Sex::Male));
    assert_eq!(Sex::parse("2"), Ok(Sex::Female));
    assert_eq!(Sex::parse("0"), Ok(Sex::Unknown));
    assert_eq!(Sex::parse("9"), Ok(Sex::Unknown));
    assert_eq!(Sex::Female.as_str(), "female");
}

#[test]
fn sex_refuses_other_values() {
    for bad in ["m", "3", "Male", "男", ""] {
        assert_eq!(Sex::parse(bad), Err(InvalidValue), "{bad}");
    }
}

#[test]
fn grade_accepts_its_six_names_only() {
    for g in ["special", "1", "2", "3", "basic", "single"] {
        assert_eq!(Grade::parse(g).unwrap().as_str(), g);
    }
    for bad in ["4", "0", "特級", "Special", "first"] {
        assert_eq!(Grade::parse(bad), Err(InvalidValue), "{bad}");
    }
}

#[test]
fn exam_period_and_category_accept_their_names_only() {
    for p in ["1", "2", "any"] {
        assert_eq!(ExamPeriod::parse(p).unwrap().as_str(), p);
    }
    assert_eq!(ExamPeriod::parse("3"), Err(InvalidValue));
    for c in ["written", "practical", "both"] {
        assert_eq!(ExamCategory::parse(c).unwrap().as_str(), c);
    }
    assert_eq!(ExamCategory::parse("oral"), Err(InvalidValue));
}

#[test]
fn attendance_activity_kind_and_meister_status_accept_their_names_only() {
    for a in ["present", "absent", "exempt"] {
        assert_eq!(Attendance::parse(a).unwrap().as_str(), a);
    }
    assert_eq!(Attendance::parse("late"), Err(InvalidValue));
    let kinds = [
        "sme",
        "industry_group",
        "technical_high_school",
        "elementary_junior_high",
        "public_facility",
        "youth_support_station",
        "other",
    ];
    assert_eq!(ActivityKind::ALL.len(), kinds.len());
    for k in kinds {
        assert_eq!(ActivityKind::parse(k).unwrap().as_str(), k);
    }
    assert_eq!(ActivityKind::parse("university"), Err(InvalidValue));
    for s in ["active", "intent_check", "deregistered"] {
        assert_eq!(MeisterStatus::parse(s).unwrap().as_str(), s);
    }
    assert_eq!(MeisterStatus::parse("retired"), Err(InvalidValue));
}

// ---------------------------------------------------------------------------
// Numbers, codes, identifiers, lists

#[test]
fn fiscal_year_from_1959_to_2100_is_accepted() {
    assert_eq!(FiscalYear::new(1959).unwrap().get(), 1959);
    assert_eq!(FiscalYear::new(2100).unwrap().get(), 2100);
    assert_eq!(FiscalYear::new(1958), Err(OutOfRange));
    assert_eq!(FiscalYear::new(2101), Err(OutOfRange));
}

#[test]
fn trade_and_work_codes_are_one_to_eight_letters_or_digits() {
    assert_eq!(Code::parse("A1B2C3D4", 8).unwrap().as_str(), "A1B2C3D4");
    assert_eq!(Code::parse("7", 8).unwrap().as_str(), "7");
    assert_eq!(Code::parse("A1B2C3D4E", 8), Err(TooLong));
    assert_eq!(Code::parse("A-1", 8), Err(InvalidFormat));
    assert_eq!(Code::parse("", 8), Err(Empty));
}

#[test]
fn exam_numbers_and_application_ids_are_letters_digits_and_hyphens() {
    assert_eq!(
        Identifier::parse("EX-2024-0001", 32).unwrap().expose_str(),
        "EX-2024-0001"
    );
    assert!(Identifier::parse(&"9".repeat(32), 32).is_ok());
    assert_eq!(Identifier::parse(&"9".repeat(33), 32), Err(TooLong));
    assert_eq!(Identifier::parse("EX 1", 32), Err(InvalidFormat));
    assert_eq!(Identifier::parse("EX_1", 32), Err(InvalidFormat));
    assert_eq!(Identifier::parse("", 32), Err(Empty));
}

#[test]
fn tokens_are_visible_ascii_without_spaces() {
    assert_eq!(
        Token::parse("user_01@corp", 64).unwrap().expose_str(),
        "user_01@corp"
    );
    assert_eq!(Token::parse("a b", 64), Err(InvalidFormat));
    assert_eq!(Token::parse("ユーザ", 64), Err(InvalidFormat));
    assert_eq!(Token::parse("abc", 2), Err(TooLong));
}

#[test]
fn trades_are_a_non_empty_list_of_non_empty_names() {
    let t = Trades::parse(["旋盤", "フライス盤"]).unwrap();
    assert_eq!(t.expose_names().collect::<Vec<_>>(), ["旋盤", "フライス盤"]);
    assert_eq!(Trades::parse([]), Err(Empty));
    assert_eq!(Trades::parse(["旋盤", " "]), Err(Empty));
    assert_eq!(Trades::parse(vec!["旋盤"; 21]), Err(TooLong));
}

#[test]
fn integers_take_json_integers_in_range() {
    let days = FieldType::Int {
        min: 0,
        max: 1_000_000,
    };
    assert_eq!(days.parse_json(&json!(0)), Ok(FieldValue::Int(0)));
    assert_eq!(days.parse_json(&json!(12)), Ok(FieldValue::Int(12)));
    assert_eq!(days.parse_json(&json!(-1)), Err(OutOfRange));
    assert_eq!(days.parse_json(&json!(1.5)), Err(WrongType));
    assert_eq!(days.parse_json(&json!("12")), Err(WrongType));
    assert_eq!(days.parse_json(&json!(u64::MAX)), Err(OutOfRange));
    assert_eq!(
        FieldType::FiscalYear.parse_json(&json!(2024)),
        Ok(FieldValue::Int(2024))
    );
    assert_eq!(
        FieldType::FiscalYear.parse_json(&json!("2024")),
        Err(WrongType)
    );
}

#[test]
fn booleans_take_json_booleans_only() {
    assert_eq!(
        FieldType::Bool.parse_json(&json!(true)),
        Ok(FieldValue::Bool(true))
    );
    assert_eq!(FieldType::Bool.parse_json(&json!("true")), Err(WrongType));
    assert_eq!(FieldType::Bool.parse_json(&json!(1)), Err(WrongType));
}

#[test]
fn digit_codes_may_come_as_json_integers() {
    let text = |v: FieldValue| v.as_text().map(str::to_owned);
    assert_eq!(
        FieldType::Sex.parse_json(&json!(1)).map(text),
        Ok(Some("male".to_owned()))
    );
    assert_eq!(
        FieldType::Grade.parse_json(&json!(2)).map(text),
        Ok(Some("2".to_owned()))
    );
    assert_eq!(
        FieldType::ExamPeriod.parse_json(&json!(1)).map(text),
        Ok(Some("1".to_owned()))
    );
    assert_eq!(FieldType::Grade.parse_json(&json!(4)), Err(InvalidValue));
    assert_eq!(FieldType::Grade.parse_json(&json!(1.0)), Err(WrongType));
    assert_eq!(
        FieldType::ExamCategory.parse_json(&json!(1)),
        Err(WrongType)
    );
}

#[test]
fn text_types_refuse_other_json_types() {
    assert_eq!(FieldType::Kana.parse_json(&json!(1)), Err(WrongType));
    assert_eq!(FieldType::Date.parse_json(&json!(20240527)), Err(WrongType));
    assert_eq!(
        FieldType::MyNumber.parse_json(&json!(123456789018u64)),
        Err(WrongType)
    );
    assert_eq!(FieldType::Trades.parse_json(&json!("旋盤")), Err(WrongType));
    assert_eq!(FieldType::Trades.parse_json(&json!([1])), Err(WrongType));
}

#[test]
fn record_ids_are_uuids_in_lower_case() {
    let v = FieldType::RecordId
        .parse_json(&json!("6F9619FF-8B86-D011-B42D-00C04FC964FF"))
        .unwrap();
    assert_eq!(v.as_text(), Some("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
    assert_eq!(
        FieldType::RecordId.parse_json(&json!("not-a-uuid")),
        Err(InvalidFormat)
    );
}

// ---------------------------------------------------------------------------
// Nothing prints a value

#[test]
fn debug_of_validated_values_never_shows_the_value() {
    let shown = [
        format!("{:?}", MyNumber::parse("123456789018").unwrap()),
        format!("{:?}", PostalCode::parse("100-0013").unwrap()),
        format!("{:?}", Phone::parse("03-1234-5678").unwrap()),
        format!("{:?}", Kana::parse("ヤマダ").unwrap()),
        format!("{:?}", FreeText::parse("山田太郎", 100).unwrap()),
        format!("{:?}", ResidenceCardNumber::parse("AB12345678CD").unwrap()),
        format!("{:?}", Email::parse("t@example.jp").unwrap()),
        format!("{:?}", Date::parse("1990-04-01").unwrap()),
        format!("{:?}", Sex::Female),
        format!("{:?}", FieldValue::Int(87)),
        format!(
            "{:?}",
            FieldType::Kana.parse_json(&json!("ヤマダ")).unwrap()
        ),
    ];
    for (s, secret) in shown.iter().zip([
        "123456789018",
        "1000013",
        "1234",
        "ヤマダ",
        "山田",
        "12345678",
        "example",
        "1990",
        "female",
        "87",
        "ヤマダ",
    ]) {
        assert!(!s.contains(secret), "{s}");
        assert!(s.contains("<redacted>"), "{s}");
    }
}

#[test]
fn value_errors_carry_no_part_of_the_value() {
    let err = MyNumber::parse("123456789012").unwrap_err();
    for shown in [format!("{err:?}"), err.to_string(), err.code().to_owned()] {
        assert!(
            !shown.contains("123456789012") && !shown.contains("9012"),
            "{shown}"
        );
    }
    assert_eq!(err.code(), "invalid_check_digit");
}
