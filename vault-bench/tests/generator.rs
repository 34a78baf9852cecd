//! The generator's contract: deterministic output, unique ids, and values that
//! pass the intake rules of DATA.md.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use serde_json::Value;
use vault_bench::{Generator, GeneratorConfig, NdjsonJob, NdjsonLine};

const SAMPLE_EXAMINEES: u64 = 10_000;
const SAMPLE_MEISTERS: u64 = 1_000;

fn ndjson(config: GeneratorConfig, job: NdjsonJob) -> Vec<u8> {
    let mut out = Vec::new();
    Generator::new(config)
        .write_ndjson(&job, &mut out, |_| {})
        .expect("writing to a Vec cannot fail");
    out
}

/// 10,000 examinees and 1,000 meisters under seed 2024, parsed once.
fn sample() -> &'static (Vec<Value>, Vec<Value>) {
    static SAMPLE: OnceLock<(Vec<Value>, Vec<Value>)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let bytes = ndjson(
            GeneratorConfig::new(2024),
            NdjsonJob::new(0..SAMPLE_EXAMINEES, 0..SAMPLE_MEISTERS).with_threads(2),
        );
        let text = String::from_utf8(bytes).expect("output is UTF-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect();
        let (examinees, meisters): (Vec<Value>, Vec<Value>) =
            lines.into_iter().partition(|v| v.get("examinee").is_some());
        (examinees, meisters)
    })
}

fn examinees() -> &'static [Value] {
    &sample().0
}

fn meisters() -> &'static [Value] {
    &sample().1
}

fn applications() -> impl Iterator<Item = &'static Value> {
    examinees()
        .iter()
        .flat_map(|l| l["applications"].as_array().expect("applications array"))
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string"))
}

// ---- independent checks written from DATA.md -------------------------------

/// 個人番号の検査用数字, written out literally from the published rule.
fn my_number_is_valid(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if s.len() != 12 || d.len() != 12 {
        return false;
    }
    let mut sum = 0;
    for n in 1..=11 {
        let p = d[11 - n]; // P1 is the digit left of the check digit
        let q = if n <= 6 { n as u32 + 1 } else { n as u32 - 5 };
        sum += p * q;
    }
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    d[11] == check
}

fn is_postal_code(s: &str) -> bool {
    s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_phone(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    s.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && (digits == 10 || digits == 11)
}

fn is_residence_card_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..10].iter().all(u8::is_ascii_digit)
        && b[10..].iter().all(u8::is_ascii_uppercase)
}

/// Full-width katakana (ァ..ヺ and ー), with the ideographic space between parts.
fn is_katakana_name(s: &str) -> bool {
    s.chars()
        .all(|c| ('\u{30A1}'..='\u{30FA}').contains(&c) || c == 'ー' || c == '\u{3000}')
        && s.contains('\u{3000}')
        && !s.starts_with('\u{3000}')
        && !s.ends_with('\u{3000}')
}

fn is_iso_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
}

fn is_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_code(s: &str) -> bool {
    (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

// ---- determinism ------------------------------------------------------------

#[test]
fn same_seed_gives_byte_identical_output() {
    let job = NdjsonJob::new(0..2_000, 0..200);
    let a = ndjson(GeneratorConfig::new(99), job.clone());
    let b = ndjson(GeneratorConfig::new(99), job);
    assert!(!a.is_empty());
    assert!(a == b);
}

#[test]
fn different_seeds_give_different_output() {
    let job = NdjsonJob::new(0..200, 0..20);
    let a = ndjson(GeneratorConfig::new(1), job.clone());
    let b = ndjson(GeneratorConfig::new(2), job);
    assert!(a != b);
}

#[test]
fn different_seeds_differ_line_by_line() {
    let job = NdjsonJob::new(0..200, 0..0);
    let a = ndjson(GeneratorConfig::new(1), job.clone());
    let b = ndjson(GeneratorConfig::new(2), job);
    let same = a
        .split(|&c| c == b'\n')
        .zip(b.split(|&c| c == b'\n'))
        .filter(|(x, y)| !x.is_empty() && x == y)
        .count();
    assert_eq!(same, 0);
}

#[test]
fn thread_count_does_not_change_the_output() {
    let one = ndjson(GeneratorConfig::new(5), NdjsonJob::new(0..5_000, 0..500));
    let three = ndjson(
        GeneratorConfig::new(5),
        NdjsonJob::new(0..5_000, 0..500).with_threads(3),
    );
    assert!(one == three);
}

#[test]
fn a_later_batch_continues_the_same_population() {
    let whole = ndjson(GeneratorConfig::new(8), NdjsonJob::new(0..3_000, 0..0));
    let mut parts = ndjson(GeneratorConfig::new(8), NdjsonJob::new(0..1_100, 0..0));
    parts.extend(ndjson(
        GeneratorConfig::new(8),
        NdjsonJob::new(1_100..3_000, 0..0).with_threads(2),
    ));
    assert!(whole == parts);
}

#[test]
fn library_records_serialise_to_the_written_lines() {
    let generator = Generator::new(GeneratorConfig::new(11));
    let bytes = ndjson(GeneratorConfig::new(11), NdjsonJob::new(0..50, 0..5));
    let text = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 55);
    for i in 0..50 {
        let json = serde_json::to_string(&generator.examinee(i)).expect("serialises");
        assert_eq!(json, lines[i as usize]);
    }
    for i in 0..5 {
        let json = serde_json::to_string(&generator.meister(i)).expect("serialises");
        assert_eq!(json, lines[50 + i as usize]);
    }
}

#[test]
fn lines_round_trip_through_the_rust_types() {
    let bytes = ndjson(GeneratorConfig::new(12), NdjsonJob::new(0..300, 0..30));
    let text = String::from_utf8(bytes).expect("UTF-8");
    let mut kinds = (0, 0);
    for line in text.lines() {
        let parsed: NdjsonLine = serde_json::from_str(line).expect("parses as a line type");
        match &parsed {
            NdjsonLine::Examinee(_) => kinds.0 += 1,
            NdjsonLine::Meister(_) => kinds.1 += 1,
            _ => unreachable!("only two kinds of line"),
        }
        assert_eq!(serde_json::to_string(&parsed).expect("serialises"), line);
    }
    assert_eq!(kinds, (300, 30));
}

// ---- the population -----------------------------------------------------------

#[test]
fn sample_has_one_line_per_examinee_and_meister() {
    assert_eq!(examinees().len() as u64, SAMPLE_EXAMINEES);
    assert_eq!(meisters().len() as u64, SAMPLE_MEISTERS);
}

#[test]
fn every_my_number_passes_the_check_digit() {
    for line in examinees() {
        assert!(my_number_is_valid(str_of(&line["examinee"], "my_number")));
    }
}

#[test]
fn my_numbers_are_unique_per_examinee() {
    let numbers: HashSet<&str> = examinees()
        .iter()
        .map(|l| str_of(&l["examinee"], "my_number"))
        .collect();
    assert_eq!(numbers.len(), examinees().len());
}

#[test]
fn all_47_prefecture_codes_appear_in_10000_records() {
    let codes: BTreeSet<&str> = examinees()
        .iter()
        .map(|l| str_of(&l["examinee"], "prefecture_code"))
        .collect();
    let expected: BTreeSet<String> = (1..=47).map(|n| format!("{n:02}")).collect();
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(codes, expected);
}

#[test]
fn addresses_start_with_their_prefecture() {
    const NAMES: [&str; 47] = [
        "北海道",
        "青森県",
        "岩手県",
        "宮城県",
        "秋田県",
        "山形県",
        "福島県",
        "茨城県",
        "栃木県",
        "群馬県",
        "埼玉県",
        "千葉県",
        "東京都",
        "神奈川県",
        "新潟県",
        "富山県",
        "石川県",
        "福井県",
        "山梨県",
        "長野県",
        "岐阜県",
        "静岡県",
        "愛知県",
        "三重県",
        "滋賀県",
        "京都府",
        "大阪府",
        "兵庫県",
        "奈良県",
        "和歌山県",
        "鳥取県",
        "島根県",
        "岡山県",
        "広島県",
        "山口県",
        "徳島県",
        "香川県",
        "愛媛県",
        "高知県",
        "福岡県",
        "佐賀県",
        "長崎県",
        "熊本県",
        "大分県",
        "宮崎県",
        "鹿児島県",
        "沖縄県",
    ];
    for line in examinees() {
        let e = &line["examinee"];
        let code: usize = str_of(e, "prefecture_code").parse().expect("numeric code");
        let address = str_of(e, "address");
        assert!(address.starts_with(NAMES[code - 1]));
        assert!(address.ends_with('号'));
    }
}

#[test]
fn exam_numbers_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for a in applications() {
        let n = str_of(a, "exam_number");
        assert!(is_id(n));
        assert!(seen.insert(n));
    }
    assert!(seen.len() > examinees().len());
}

#[test]
fn application_ids_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for a in applications() {
        let id = str_of(a, "application_id");
        assert!(is_id(id));
        assert!(seen.insert(id));
    }
}

#[test]
fn person_fields_match_the_intake_rules() {
    for line in examinees() {
        let e = &line["examinee"];
        assert!(is_postal_code(str_of(e, "postal_code")));
        assert!(is_phone(str_of(e, "phone")));
        assert!(is_katakana_name(str_of(e, "name_kana")));
        assert!(is_iso_date(str_of(e, "birth_date")));
        assert!(["male", "female"].contains(&str_of(e, "sex")));
        assert!(str_of(e, "name").contains([' ', '\u{3000}']));
    }
}

#[test]
fn japanese_names_are_kanji_or_kana_with_an_ideographic_space() {
    for line in examinees() {
        let e = &line["examinee"];
        if e.get("nationality").is_none() {
            let name = str_of(e, "name");
            assert!(name.chars().all(|c| !c.is_ascii()));
            assert_eq!(name.matches('\u{3000}').count(), 1);
        }
    }
}

#[test]
fn about_five_percent_are_foreign_trainees_with_residence_items() {
    let trainees: Vec<&Value> = examinees()
        .iter()
        .map(|l| &l["examinee"])
        .filter(|e| e.get("nationality").is_some())
        .collect();
    let share = trainees.len() as f64 / examinees().len() as f64;
    assert!((0.035..0.065).contains(&share), "share {share}");
    for e in trainees {
        assert!(is_residence_card_number(str_of(e, "residence_card_number")));
        let entry = str_of(e, "entry_date");
        let expiry = str_of(e, "residence_expiry");
        assert!(is_iso_date(entry) && is_iso_date(expiry));
        assert!(entry < expiry);
    }
}

#[test]
fn trainee_applications_carry_the_intern_items() {
    let mut count = 0;
    for line in examinees() {
        if line["examinee"].get("nationality").is_none() {
            continue;
        }
        for a in line["applications"].as_array().expect("array") {
            count += 1;
            for field in [
                "intern_category",
                "plan_approval_number",
                "intern_supervisor_name",
                "intern_site_name",
                "employer_name",
            ] {
                assert!(!str_of(a, field).is_empty(), "{field}");
            }
            assert_eq!(str_of(a, "exam_period"), "any");
        }
    }
    assert!(count > 0);
}

#[test]
fn residents_never_carry_residence_or_intern_items() {
    for line in examinees() {
        let e = &line["examinee"];
        if e.get("nationality").is_some() {
            continue;
        }
        for field in ["entry_date", "residence_expiry", "residence_card_number"] {
            assert!(e.get(field).is_none());
        }
        for a in line["applications"].as_array().expect("array") {
            assert!(a.get("intern_category").is_none());
        }
    }
}

#[test]
fn application_fields_match_the_intake_rules() {
    for a in applications() {
        let fy = a["fiscal_year"].as_u64().expect("fiscal_year is a number");
        assert!((2015..=2025).contains(&fy));
        assert!(["1", "2", "any"].contains(&str_of(a, "exam_period")));
        assert!(["special", "1", "2", "3", "basic", "single"].contains(&str_of(a, "grade")));
        assert!(["written", "practical", "both"].contains(&str_of(a, "exam_category")));
        assert!(is_code(str_of(a, "trade_code")));
        assert!(is_code(str_of(a, "work_code")));
        let pref: u32 = str_of(a, "prefecture_code").parse().expect("numeric");
        assert!((1..=47).contains(&pref));
        if a.get("employer_name").is_some() {
            assert!(is_postal_code(str_of(a, "employer_postal_code")));
            assert!(is_phone(str_of(a, "employer_phone")));
            assert!(is_code(str_of(a, "employer_code")));
        }
    }
}

#[test]
fn applications_are_in_fiscal_year_order_after_birth() {
    for line in examinees() {
        let born = str_of(&line["examinee"], "birth_date");
        let years: Vec<u64> = line["applications"]
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["fiscal_year"].as_u64().expect("number"))
            .collect();
        assert!(!years.is_empty());
        assert!(years.windows(2).all(|w| w[0] <= w[1]));
        assert!(born < format!("{}-04-01", years[0]).as_str());
    }
}

#[test]
fn results_are_consistent_with_their_parts() {
    let mut results = 0;
    let mut passes = 0;
    for a in applications() {
        let Some(r) = a.get("result") else { continue };
        results += 1;
        assert!(is_iso_date(str_of(r, "announcement_date")));
        assert!(str_of(r, "announcement_date") <= "2025-10-01");
        let pass = r["pass"].as_bool().expect("pass is a flag");
        let written = r.get("written_pass").and_then(Value::as_bool);
        let practical = r.get("practical_pass").and_then(Value::as_bool);
        assert_eq!(pass, written.unwrap_or(true) && practical.unwrap_or(true));
        if let Some(score) = r.get("written_score").and_then(Value::as_u64) {
            assert!(score <= 100);
            assert_eq!(written, Some(score >= 65));
        }
        if let Some(score) = r.get("practical_total_score").and_then(Value::as_u64) {
            assert!(score <= 100);
            assert_eq!(practical, Some(score >= 60));
        }
        match str_of(a, "exam_category") {
            "practical" => assert!(r.get("written_attendance").is_none()),
            _ => assert!(matches!(
                r["written_attendance"].as_str(),
                Some("present" | "absent")
            )),
        }
        assert_eq!(pass, r.get("overall_pass_number").is_some());
        passes += u32::from(pass);
    }
    assert!(results > 0);
    // Pass rates are plausible: neither everyone nor no one.
    let rate = f64::from(passes) / f64::from(results);
    assert!((0.25..0.75).contains(&rate), "pass rate {rate}");
}

#[test]
fn qualifications_come_from_announced_passes() {
    let mut numbers = HashSet::new();
    for line in examinees() {
        let passed: Vec<&str> = line["applications"]
            .as_array()
            .expect("array")
            .iter()
            .filter(|a| str_of(a, "grade") != "basic")
            .filter_map(|a| a.get("result"))
            .filter(|r| r["pass"] == Value::Bool(true))
            .map(|r| str_of(r, "announcement_date"))
            .collect();
        let quals = line["qualifications"].as_array().expect("array");
        assert_eq!(quals.len(), passed.len());
        for (q, on) in quals.iter().zip(&passed) {
            assert_eq!(str_of(q, "passed_on"), *on);
            assert!(numbers.insert(str_of(q, "skilled_worker_number")));
            if let Some(revoked) = q.get("revoked_on") {
                assert!(revoked.as_str().expect("date") > *on);
                assert!(!str_of(q, "revocation_reason").is_empty());
            }
        }
    }
    assert!(!numbers.is_empty());
}

#[test]
fn results_and_qualifications_can_be_left_out() {
    let mut config = GeneratorConfig::new(3);
    config.results = false;
    config.qualifications = false;
    let bytes = ndjson(config, NdjsonJob::new(0..500, 0..0));
    let text = String::from_utf8(bytes).expect("UTF-8");
    assert!(!text.contains("\"result\""));
    assert!(text.contains("\"qualifications\":[]"));
    assert!(!text.contains("skilled_worker_number"));
}

#[test]
fn meister_fields_match_the_intake_rules() {
    let mut numbers = HashSet::new();
    for line in meisters() {
        let m = &line["meister"];
        let pref: u32 = str_of(m, "prefecture_code").parse().expect("numeric");
        assert!((1..=47).contains(&pref));
        assert!(is_katakana_name(str_of(m, "name_kana")));
        assert!(is_phone(str_of(m, "phone")));
        assert!(!m["trades"].as_array().expect("trades list").is_empty());
        assert!(is_iso_date(str_of(m, "certified_on")));
        assert!(["active", "intent_check", "deregistered"].contains(&str_of(m, "status")));
        assert!(numbers.insert(str_of(m, "certification_number")));
        if let Some(email) = m.get("email") {
            assert!(email.as_str().expect("string").contains("@example."));
        }
        for a in line["activities"].as_array().expect("activities") {
            assert!(is_iso_date(str_of(a, "date")));
            assert!(str_of(a, "date") >= str_of(m, "certified_on"));
            assert!([
                "sme",
                "industry_group",
                "technical_high_school",
                "elementary_junior_high",
                "public_facility",
                "youth_support_station",
                "other"
            ]
            .contains(&str_of(a, "kind")));
            assert!(!str_of(a, "host_name").is_empty());
            assert!(a["trainee_person_days"].is_u64());
        }
    }
}

#[test]
fn some_meisters_are_inactive_for_three_years_and_most_are_not() {
    let recent = |line: &Value| {
        line["activities"]
            .as_array()
            .expect("array")
            .iter()
            .any(|a| str_of(a, "date") >= "2022-10-01")
            || str_of(&line["meister"], "certified_on") >= "2022-10-01"
    };
    let inactive = meisters().iter().filter(|l| !recent(l)).count();
    assert!(inactive > 50, "{inactive}");
    assert!(inactive < meisters().len() / 3, "{inactive}");
}
