//! The generated records, one struct per record kind, serialised with the
//! field names fixed by the API contract (DATA.md).
//!
//! These types hold synthetic values shaped exactly like personal data, so,
//! as everywhere in the vault, they have no `Debug`: nothing should make a
//! habit of printing them.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// 性別 (sex), as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

/// 級 (grade) of a 技能検定 sitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Grade {
    /// 特級
    #[serde(rename = "special")]
    Special,
    /// 1級
    #[serde(rename = "1")]
    First,
    /// 2級
    #[serde(rename = "2")]
    Second,
    /// 3級
    #[serde(rename = "3")]
    Third,
    /// 基礎級
    #[serde(rename = "basic")]
    Basic,
    /// 単一等級
    #[serde(rename = "single")]
    Single,
}

/// 期別 (exam period).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ExamPeriod {
    /// 前期
    #[serde(rename = "1")]
    First,
    /// 後期
    #[serde(rename = "2")]
    Second,
    /// 随時
    #[serde(rename = "any")]
    Any,
}

/// 受検区分 (which parts of the exam are taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExamCategory {
    /// 学科のみ
    Written,
    /// 実技のみ
    Practical,
    /// 学科及び実技
    Both,
}

/// Registration status of a ものづくりマイスター.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MeisterStatus {
    /// 登録中
    Active,
    /// 活動意思確認中 (no activity for three years)
    IntentCheck,
    /// 登録解除
    Deregistered,
}

/// Kind of a meister's teaching activity (派遣先の種別).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActivityKind {
    /// 中小企業
    Sme,
    /// 業界団体
    IndustryGroup,
    /// 工業高校等
    TechnicalHighSchool,
    /// 小中学校
    ElementaryJuniorHigh,
    /// 公共職業能力開発施設等
    PublicFacility,
    /// 地域若者サポートステーション
    YouthSupportStation,
    /// その他
    Other,
}

/// 受検者 (examinee): the person fields, with the home prefecture and My Number.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Examinee {
    /// 都道府県コード of the home prefecture ("01".."47"), the record's tenant.
    pub prefecture_code: Cow<'static, str>,
    /// 個人番号: 12 digits with a valid check digit, unique within one seed.
    pub my_number: String,
    /// 氏名: family and given name separated by an ideographic space (U+3000).
    pub name: String,
    /// ふりがな in full-width katakana, family and given separated by U+3000.
    pub name_kana: String,
    /// 生年月日
    pub birth_date: NaiveDate,
    /// 性別
    pub sex: Sex,
    /// 郵便番号: 7 digits, no hyphen.
    pub postal_code: String,
    /// 住所: prefecture, city, town and 丁目・番・号.
    pub address: String,
    /// 方書 (building and room), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_detail: Option<String>,
    /// 電話番号: 10 (landline) or 11 (mobile) digits with hyphens.
    pub phone: String,
    /// 国籍 (technical intern trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Cow<'static, str>>,
    /// 入国日 (trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_date: Option<NaiveDate>,
    /// 在留期限日 (trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_expiry: Option<NaiveDate>,
    /// 在留カード番号: two letters, eight digits, two letters (trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_card_number: Option<String>,
}

/// 受検申請 (application): one exam sitting, with its employer and, once
/// announced, its result.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Application {
    /// 申請受付ID: letters, digits and hyphens, at most 32; unique within one seed.
    pub application_id: String,
    /// 都道府県コード of the prefecture holding the exam.
    pub prefecture_code: Cow<'static, str>,
    /// 年度 (April to March), 2015..=2025.
    pub fiscal_year: u16,
    /// 期別
    pub exam_period: ExamPeriod,
    /// 級
    pub grade: Grade,
    /// 職種コード (1–8 letters or digits).
    pub trade_code: Cow<'static, str>,
    /// 作業コード (1–8 letters or digits).
    pub work_code: Cow<'static, str>,
    /// 受検区分
    pub exam_category: ExamCategory,
    /// 受検番号: digits and hyphens; unique within one seed.
    pub exam_number: String,
    /// 事業所コード
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_code: Option<String>,
    /// 事業所名
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_name: Option<String>,
    /// 事業所郵便番号 (7 digits)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_postal_code: Option<String>,
    /// 事業所住所
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_address: Option<String>,
    /// 事業所方書
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_address_detail: Option<Cow<'static, str>>,
    /// 事業所電話番号
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_phone: Option<String>,
    /// 経験年数
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience_years: Option<u8>,
    /// 試験実習の区分 (trainees only): 技能実習1号, 2号 or 3号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intern_category: Option<Cow<'static, str>>,
    /// 計画認定番号 (trainees only): 10 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_approval_number: Option<String>,
    /// 実習実施者名 (trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intern_supervisor_name: Option<String>,
    /// 実習事業所名 (trainees only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intern_site_name: Option<String>,
    /// 受検管理: the result, absent until announced (or when results are not generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExamResult>,
}

/// 出欠 (attendance at a test), as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Attendance {
    /// 出席
    Present,
    /// 欠席
    Absent,
}

/// 受検管理 (result) of one application.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExamResult {
    /// 学科得点 (0–100), when the written test was sat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_score: Option<u8>,
    /// 学科出欠; absent for practical-only sittings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_attendance: Option<Attendance>,
    /// 学科合否フラグ
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_pass: Option<bool>,
    /// 実技合計得点 (0–100), when the practical test was sat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practical_total_score: Option<u8>,
    /// 実技合否フラグ
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practical_pass: Option<bool>,
    /// 合否フラグ: every part taken was passed.
    pub pass: bool,
    /// 合格発表日
    pub announcement_date: NaiveDate,
    /// 総合合格番号, for a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall_pass_number: Option<String>,
}

/// 合格者 / 技能士 (qualification) earned by a passed application.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Qualification {
    /// 技能士番号: unique within one seed.
    pub skilled_worker_number: String,
    /// 合格日付
    pub passed_on: NaiveDate,
    /// 有効期限 (技能士 does not expire; never generated, kept for completeness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    /// 合格取消日
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_on: Option<NaiveDate>,
    /// 合格取消理由
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<Cow<'static, str>>,
}

/// ものづくりマイスター (meister).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Meister {
    /// 都道府県コード of the registering prefecture, the record's tenant.
    pub prefecture_code: Cow<'static, str>,
    /// 氏名 (family U+3000 given).
    pub name: String,
    /// ふりがな in full-width katakana (family U+3000 given).
    pub name_kana: String,
    /// 電話番号
    pub phone: String,
    /// e-mail, at a reserved example domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// 住所
    pub address: String,
    /// Certified trade names (職種), at least one.
    pub trades: Vec<Cow<'static, str>>,
    /// 認定番号: unique within one seed.
    pub certification_number: String,
    /// 認定日
    pub certified_on: NaiveDate,
    /// 登録状況
    pub status: MeisterStatus,
    /// 指導技法講習 completion date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_completed_on: Option<NaiveDate>,
}

/// One teaching activity (活動実績) of a meister.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MeisterActivity {
    /// 実施日
    pub date: NaiveDate,
    /// 派遣先の種別
    pub kind: ActivityKind,
    /// 派遣先名
    pub host_name: String,
    /// 受講者延べ人日
    pub trainee_person_days: u32,
}

/// One NDJSON line for an examinee:
/// `{"examinee": {..}, "applications": [{.., "result": {..}}], "qualifications": [..]}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExamineeLine {
    /// The person.
    pub examinee: Examinee,
    /// Their applications, oldest fiscal year first.
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Qualifications earned by passed applications.
    #[serde(default)]
    pub qualifications: Vec<Qualification>,
}

/// One NDJSON line for a meister: `{"meister": {..}, "activities": [..]}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MeisterLine {
    /// The meister.
    pub meister: Meister,
    /// Their activities, oldest first.
    #[serde(default)]
    pub activities: Vec<MeisterActivity>,
}

/// Any line of a generated file: told apart by its top-level key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum NdjsonLine {
    /// An `{"examinee": ..}` line.
    Examinee(Box<ExamineeLine>),
    /// A `{"meister": ..}` line.
    Meister(Box<MeisterLine>),
}
