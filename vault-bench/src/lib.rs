//! Benchmarks for kentei-vault: the deterministic synthetic data generator
//! whose output the scenarios and `kentei-vault import --file F.ndjson` read,
//! and the load scenarios themselves ([`scenario`]: `import`, `lookup`,
//! `rewrap`, `pgcrypto`, `http`, each against a plaintext baseline).
//!
//! # The population
//!
//! [`Generator`] makes 受検者 (examinees) with 受検申請 (applications),
//! 受検管理 results and 技能士 qualifications, and ものづくりマイスター
//! (meisters) with their activities. Values are synthetic but shaped like the
//! real thing and valid under the intake rules of DATA.md: kanji names with
//! full-width katakana readings, addresses and 7-digit postal codes in all 47
//! prefectures (weighted by population), 10/11-digit phone numbers, My Numbers
//! with the official check digit, and about 5% foreign technical intern
//! trainees with residence-card items. Item `i` depends only on the seed and
//! `i`, so the same seed gives the same bytes, whatever the thread count.
//!
//! Uniqueness within one seed: My Number (a seeded permutation of the
//! 11-digit space, so up to [`MAX_EXAMINEES`] examinees), `application_id`,
//! `exam_number`, `overall_pass_number`, `skilled_worker_number` and the
//! meister `certification_number` (all built from the item index).
//!
//! # NDJSON format
//!
//! UTF-8, one JSON object per line, `\n` after every line. First every
//! examinee line, then every meister line; a line is recognised by its
//! top-level key. Field names are those fixed by the API contract; optional
//! fields are left out when empty; dates are `YYYY-MM-DD`; `fiscal_year`,
//! scores, `experience_years` and `trainee_person_days` are JSON numbers,
//! pass flags are booleans, `written_attendance` is `"present"` or `"absent"`,
//! everything else is a string. Ids the vault assigns
//! (`examinee_id`, `meister_id`) are not in the file: an application belongs to
//! the examinee of its line.
//!
//! ```text
//! {"examinee": {"prefecture_code": "13", "my_number": "…", "name": "山田　太郎",
//!               "name_kana": "ヤマダ　タロウ", "birth_date": "1990-05-27", "sex": "male",
//!               "postal_code": "1600023", "address": "東京都新宿区…1丁目2番3号",
//!               "address_detail"?, "phone": "090-1234-5678",
//!               "nationality"?, "entry_date"?, "residence_expiry"?, "residence_card_number"?},
//!  "applications": [{"application_id": "2024-13-00000000080", "prefecture_code": "13",
//!                    "fiscal_year": 2024, "exam_period": "1"|"2"|"any",
//!                    "grade": "special"|"1"|"2"|"3"|"basic"|"single",
//!                    "trade_code": "0310", "work_code": "031001",
//!                    "exam_category": "written"|"practical"|"both",
//!                    "exam_number": "13241-00000000080",
//!                    "employer_code"?, "employer_name"?, "employer_postal_code"?,
//!                    "employer_address"?, "employer_address_detail"?, "employer_phone"?,
//!                    "experience_years"?, "intern_category"?, "plan_approval_number"?,
//!                    "intern_supervisor_name"?, "intern_site_name"?,
//!                    "result"?: {"written_score"?, "written_attendance"?, "written_pass"?,
//!                                "practical_total_score"?, "practical_pass"?, "pass",
//!                                "announcement_date", "overall_pass_number"?}}],
//!  "qualifications": [{"skilled_worker_number", "passed_on", "revoked_on"?,
//!                      "revocation_reason"?}]}
//! {"meister": {"prefecture_code", "name", "name_kana", "phone", "email"?, "address",
//!              "trades": ["機械加工"], "certification_number", "certified_on",
//!              "status": "active"|"intent_check"|"deregistered", "course_completed_on"?},
//!  "activities": [{"date", "kind": "sme"|"industry_group"|"technical_high_school"|
//!                  "elementary_junior_high"|"public_facility"|"youth_support_station"|"other",
//!                  "host_name", "trainee_person_days"}]}
//! ```
//!
//! (`?` marks a field that may be absent.) The same shapes are the Rust types
//! [`ExamineeLine`] and [`MeisterLine`] (serde `Serialize` and `Deserialize`).

#![warn(missing_docs)]

mod generate;
mod my_number;
mod ndjson;
mod records;
mod rng;
pub mod scenario;
mod tables;

pub use generate::{
    Generator, GeneratorConfig, AS_OF, FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, MAX_APPLICATIONS,
    MAX_EXAMINEES,
};
pub use my_number::{is_valid_my_number, my_number_check_digit};
pub use ndjson::{NdjsonJob, WriteStats};
pub use records::{
    ActivityKind, Application, Attendance, ExamCategory, ExamPeriod, ExamResult, Examinee,
    ExamineeLine, Grade, Meister, MeisterActivity, MeisterLine, MeisterStatus, NdjsonLine,
    Qualification, Sex,
};
