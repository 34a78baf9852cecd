//! The schema: every field of every record kind, with its 別添1 item name
//! (`label_ja`), field class, value type, storage and blind index.
//!
//! Each of the 166 distinct item names of 別添1 (特定個人情報ファイル記録項目) maps to
//! a field. An item that several tables list is one field. A few tables name the
//! same datum differently (期別 / 期別コード / 期, 級 / 級コード, 受検区分 / 学科実技の別,
//! 経験年数 / 実務経験年数, 学科一部免除 / 学科試験一部免除, 期別 / 定期・随時の別);
//! such a field carries the other names in [`FieldDef::aliases_ja`]. Codes that the
//! 受検管理テーブル and 合格者データ repeat from the application (年度, 職種コード,
//! 受検番号, ...) map to the application's field. `docs/schema.md` shows the table.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::LazyLock;

use chrono::Datelike;
use vault_policy::{FieldClass, FieldRef, RecordKind};
use zeroize::Zeroizing;

use super::types::{Kana, IDENTIFIER_MAX, TRADE_CODE_MAX};

/// How a field's value is kept at rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Storage {
    /// Encrypted per field under the subject's data key (the default).
    Sealed,
    /// A clear column, for what the vault filters on without decrypting: ids,
    /// prefecture code, fiscal year, status and dates that start a retention clock.
    Plain,
    /// The 個人番号 compartment: own table, own key-encryption key.
    MyNumberCompartment,
}

/// The type of a field's value: how it is validated at intake and encoded at rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// One line of free text of at most `max` characters.
    Text {
        /// Most characters.
        max: u16,
    },
    /// Free text that may span lines (備考, 理由).
    MultilineText {
        /// Most characters.
        max: u16,
    },
    /// フリガナ in full-width katakana.
    Kana,
    /// A date (ISO or 和暦 at intake, ISO at rest).
    Date,
    /// A local date-time (or a day), `YYYY-MM-DDTHH:MM:SS` at rest.
    DateTime,
    /// An integer in `min..=max`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// `true` / `false`.
    Bool,
    /// 年度, 1959..=2100.
    FiscalYear,
    /// 個人番号 with its check digit.
    MyNumber,
    /// 都道府県コード "01".."47".
    PrefectureCode,
    /// 郵便番号, seven digits.
    PostalCode,
    /// 在留カード番号.
    ResidenceCardNumber,
    /// 電話番号, 10 or 11 digits with optional hyphens.
    Phone,
    /// An e-mail address.
    Email,
    /// 性別.
    Sex,
    /// 級.
    Grade,
    /// 期別.
    ExamPeriod,
    /// 受検区分.
    ExamCategory,
    /// 出欠.
    Attendance,
    /// The kind of a meister's activity.
    ActivityKind,
    /// A meister's registration status.
    MeisterStatus,
    /// ASCII letters and digits, 1..=`max` (職種コード, 作業コード).
    Code {
        /// Most characters.
        max: u8,
    },
    /// ASCII letters, digits and hyphens, 1..=`max` (受検番号, 申請受付ID).
    Identifier {
        /// Most characters.
        max: u8,
    },
    /// Visible ASCII without spaces, 1..=`max` (ids and codes of other systems).
    Token {
        /// Most characters.
        max: u8,
    },
    /// A non-empty list of trade names.
    Trades,
    /// An id the vault assigns (a UUID); never accepted at intake.
    RecordId,
}

/// One field of the data model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldDef {
    /// English name, snake_case (the JSON key).
    pub name: &'static str,
    /// The item name exactly as 別添1 writes it (CSV header); for fields that 別添1
    /// does not list, a Japanese name in the same style.
    pub label_ja: &'static str,
    /// Other 別添1 item names for the same datum.
    pub aliases_ja: &'static [&'static str],
    /// The record kind the field belongs to.
    pub kind: RecordKind,
    /// The class the policy grants.
    pub class: FieldClass,
    /// Value type.
    pub ty: FieldType,
    /// Required when a record is created.
    pub required: bool,
    /// Assigned by the vault; refused at intake with `read_only`.
    pub vault_assigned: bool,
    /// How the value is kept at rest.
    pub storage: Storage,
    /// Has its own exact-match blind index (see also [`COMPOSITE_INDEXES`]).
    pub indexed: bool,
    /// The 別添1 tables that list the item (under `label_ja` or an alias), in the
    /// order of 別添1; empty for fields 別添1 does not list.
    pub source_tables: &'static [&'static str],
}

impl FieldDef {
    const fn new(
        kind: RecordKind,
        name: &'static str,
        label_ja: &'static str,
        class: FieldClass,
        ty: FieldType,
    ) -> FieldDef {
        FieldDef {
            name,
            label_ja,
            aliases_ja: &[],
            kind,
            class,
            ty,
            required: false,
            vault_assigned: false,
            storage: Storage::Sealed,
            indexed: false,
            source_tables: &[],
        }
    }

    const fn required(mut self) -> FieldDef {
        self.required = true;
        self
    }

    const fn plain(mut self) -> FieldDef {
        self.storage = Storage::Plain;
        self
    }

    const fn indexed(mut self) -> FieldDef {
        self.indexed = true;
        self
    }

    const fn assigned(mut self) -> FieldDef {
        self.vault_assigned = true;
        self.storage = Storage::Plain;
        self
    }

    const fn my_number_compartment(mut self) -> FieldDef {
        self.storage = Storage::MyNumberCompartment;
        self
    }

    const fn aliases(mut self, aliases: &'static [&'static str]) -> FieldDef {
        self.aliases_ja = aliases;
        self
    }

    const fn from(mut self, tables: &'static [&'static str]) -> FieldDef {
        self.source_tables = tables;
        self
    }

    /// `label_ja` followed by the aliases.
    pub fn labels_ja(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.label_ja).chain(self.aliases_ja.iter().copied())
    }

    /// The field as the policy sees it.
    pub fn field_ref(&self) -> FieldRef {
        FieldRef {
            kind: self.kind,
            name: self.name,
            class: self.class,
        }
    }
}

// The 別添1 tables, by the names 別添1 gives them.
/// Items listed at the head of 別添1, outside any table (資格仮名ID, マイナポータル仮名ID).
pub const TABLE_FILE: &str = "特定個人情報ファイル記録項目";
/// 受検者テーブル.
pub const TABLE_EXAMINEE: &str = "受検者テーブル";
/// 受検管理テーブル.
pub const TABLE_EXAM_MANAGEMENT: &str = "受検管理テーブル";
/// 合格者データ.
pub const TABLE_PASSED: &str = "合格者データ";
/// 受検申請者情報.
pub const TABLE_APPLICANT_INFO: &str = "受検申請者情報";
/// 受検申請者テーブル.
pub const TABLE_APPLICANT: &str = "受検申請者テーブル";
/// 初期登録申請者テーブル.
pub const TABLE_INITIAL_REGISTRATION: &str = "初期登録申請者テーブル";

/// Every 別添1 table, in the order 別添1 lists them.
pub const SOURCE_TABLES: &[&str] = &[
    TABLE_FILE,
    TABLE_EXAMINEE,
    TABLE_EXAM_MANAGEMENT,
    TABLE_PASSED,
    TABLE_APPLICANT_INFO,
    TABLE_APPLICANT,
    TABLE_INITIAL_REGISTRATION,
];

const FL: &str = TABLE_FILE;
const ET: &str = TABLE_EXAMINEE;
const RT: &str = TABLE_EXAM_MANAGEMENT;
const PD: &str = TABLE_PASSED;
const AI: &str = TABLE_APPLICANT_INFO;
const AT: &str = TABLE_APPLICANT;
const IT: &str = TABLE_INITIAL_REGISTRATION;

// Value types used by many fields.
const NAME: FieldType = FieldType::Text { max: 100 };
const ADDRESS: FieldType = FieldType::Text { max: 200 };
/// 区分, 種別, 方法, 状況: category values of the source systems, kept as written.
const CATEGORY: FieldType = FieldType::Text { max: 40 };
const REMARKS: FieldType = FieldType::MultilineText { max: 1000 };
/// 技能検定 tests and parts are marked out of 100.
const SCORE: FieldType = FieldType::Int { min: 0, max: 100 };
const COUNT: FieldType = FieldType::Int { min: 0, max: 999 };
const RESERVE_INT: FieldType = FieldType::Int {
    min: -999_999_999,
    max: 999_999_999,
};
/// Ids and pseudonymous ids issued by other systems.
const EXTERNAL_ID: FieldType = FieldType::Token { max: 64 };
/// Numbers and organisation codes of the exam systems.
const NUMBER: FieldType = FieldType::Token { max: 32 };
const EXAM_CODE: FieldType = FieldType::Token { max: 16 };
const TRADE_CODE: FieldType = FieldType::Code {
    max: TRADE_CODE_MAX as u8,
};
const IDENTIFIER: FieldType = FieldType::Identifier {
    max: IDENTIFIER_MAX as u8,
};

use FieldClass as C;
use FieldType as T;
use RecordKind::{
    Application as A, Examinee as E, Meister as M, MeisterActivity as V, Qualification as Q,
    Result as R,
};

const fn f(
    kind: RecordKind,
    name: &'static str,
    label_ja: &'static str,
    class: FieldClass,
    ty: FieldType,
) -> FieldDef {
    FieldDef::new(kind, name, label_ja, class, ty)
}

/// Every field, grouped by record kind.
#[rustfmt::skip]
pub static FIELDS: &[FieldDef] = &[
    // ---- examinee (受検者) -------------------------------------------------
    f(E, "examinee_id", "受検者ID", C::Identity, T::RecordId).assigned(),
    f(E, "prefecture_code", "都道府県コード", C::Address, T::PrefectureCode).required().plain().from(&[ET, RT, AT, IT]),
    f(E, "my_number", "個人番号", C::MyNumber, T::MyNumber).my_number_compartment().indexed().from(&[ET, PD, AI, AT, IT]),
    f(E, "name", "氏名", C::Identity, NAME).required().from(&[ET, AT, IT]),
    f(E, "name_kana", "ふりがな", C::Identity, T::Kana).required().from(&[ET, AT]),
    f(E, "birth_date", "生年月日", C::Identity, T::Date).required().from(&[ET, AT, IT]),
    f(E, "sex", "性別", C::Identity, T::Sex).from(&[ET, AT, IT]),
    f(E, "postal_code", "郵便番号", C::Address, T::PostalCode).from(&[ET, AT, IT]),
    f(E, "address", "住所", C::Address, ADDRESS).from(&[ET, AT, IT]),
    f(E, "address_detail", "方書", C::Address, ADDRESS).from(&[ET, AT, IT]),
    f(E, "phone", "電話番号", C::Contact, T::Phone).from(&[ET, AT, IT]),
    f(E, "nationality", "国籍", C::Residence, T::Text { max: 60 }).from(&[ET, AT]),
    f(E, "entry_date", "入国日", C::Residence, T::Date).from(&[ET, AT]),
    f(E, "residence_expiry", "在留期限日", C::Residence, T::Date).from(&[ET, AT]),
    f(E, "residence_card_number", "在留カード番号", C::Residence, T::ResidenceCardNumber).from(&[ET, AT]),
    f(E, "qualification_pseudonym_id", "資格仮名ID", C::Pseudonym, EXTERNAL_ID).from(&[FL]),
    f(E, "portal_pseudonym_id", "マイナポータル仮名ID", C::Pseudonym, EXTERNAL_ID).from(&[FL]),
    f(E, "user_id", "ユーザID", C::Pseudonym, EXTERNAL_ID).from(&[PD, AI]),
    // ---- application (受検申請) --------------------------------------------
    f(A, "application_id", "申請受付ID", C::Exam, IDENTIFIER).indexed().from(&[ET, AT, IT]),
    f(A, "examinee_id", "受検者ID", C::Exam, T::RecordId).assigned(),
    f(A, "prefecture_code", "都道府県コード", C::Exam, T::PrefectureCode).required().plain().from(&[ET, RT, AT, IT]),
    f(A, "fiscal_year", "年度", C::Exam, T::FiscalYear).required().plain().from(&[ET, RT, PD, AI, AT]),
    f(A, "exam_period", "期別", C::Exam, T::ExamPeriod).required().aliases(&["期別コード", "期", "定期・随時の別"]).from(&[ET, RT, AI, AT, IT]),
    f(A, "grade", "級", C::Exam, T::Grade).required().aliases(&["級コード"]).from(&[ET, RT, AI, AT, IT]),
    f(A, "trade_code", "職種コード", C::Exam, TRADE_CODE).required().from(&[ET, RT, AI, AT, IT]),
    f(A, "work_code", "作業コード", C::Exam, TRADE_CODE).required().from(&[ET, RT, AI, AT, IT]),
    f(A, "exam_category", "受検区分", C::Exam, T::ExamCategory).required().aliases(&["学科実技の別"]).from(&[ET, RT, AI, AT, IT]),
    f(A, "exam_number", "受検番号", C::Exam, IDENTIFIER).required().indexed().from(&[ET, RT, PD, AI]),
    f(A, "exam_body_code", "試験実施機関コード", C::Exam, EXAM_CODE).from(&[PD, AI]),
    f(A, "trade_name", "職種名称", C::Exam, NAME).from(&[AI]),
    f(A, "work_name", "作業名称", C::Exam, NAME).from(&[AI]),
    f(A, "grade_name", "級名称", C::Exam, CATEGORY).from(&[AI]),
    f(A, "applicant_type", "団体・個人の別", C::Exam, CATEGORY).from(&[AI]),
    f(A, "trade_work_order", "職種作業順序", C::Exam, T::Int { min: 0, max: 9999 }).from(&[AI]),
    f(A, "application_system_number", "受検申請受付システム番号", C::Exam, NUMBER).from(&[AI]),
    f(A, "receipt_number", "受付番号", C::Exam, NUMBER).from(&[AI]),
    f(A, "written_exam_code", "学科試験コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "work_exam_code", "作業試験コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "element_exam_code", "要素試験コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "paper_exam_code", "ペパ試験コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "preferred_start_date", "受検開始希望日", C::Exam, T::Date).from(&[AI]),
    f(A, "preferred_end_date", "受検終了希望日", C::Exam, T::Date).from(&[AI]),
    f(A, "course_exemption", "コース/免除", C::Exam, NAME).from(&[ET, AT]),
    f(A, "experience_years", "経験年数", C::Exam, T::Int { min: 0, max: 99 }).aliases(&["実務経験年数"]).from(&[ET, AI, AT]),
    f(A, "eligibility_code", "受検資格コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "eligible", "受検資格有無", C::Exam, T::Bool).from(&[AI]),
    f(A, "education_history_count", "学歴数", C::Exam, COUNT).from(&[AI]),
    f(A, "training_history_count", "訓練歴数", C::Exam, COUNT).from(&[AI]),
    f(A, "work_history_count", "職歴数", C::Exam, COUNT).from(&[AI]),
    f(A, "pass_history_count", "合格歴数", C::Exam, COUNT).from(&[AI]),
    f(A, "exemption_class_code", "試験免除分類記号", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "written_exemption_code", "学科免除内容コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "practical_exemption_code", "実技免除内容コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "written_partial_exemption", "学科一部免除", C::Exam, T::Bool).aliases(&["学科試験一部免除"]).from(&[RT, AI]),
    f(A, "attached_certificate_count", "添付証明書数", C::Exam, COUNT).from(&[AI]),
    f(A, "exemption_target_code", "免除対象者コード", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "application_completed_on", "申請入力完了日", C::Exam, T::Date).from(&[AI]),
    f(A, "exam_guide_issued_on", "受検案内発行日", C::Exam, T::Date).from(&[AI]),
    f(A, "admission_ticket_issued_on", "受検票発行日", C::Exam, T::Date).from(&[AI]),
    f(A, "practical_number", "実技番号", C::Exam, NUMBER).from(&[AI]),
    f(A, "seat_number", "座席番号", C::Exam, EXAM_CODE).from(&[AI]),
    f(A, "eligibility_reviewer_name", "受検資格審査者職員名", C::Exam, NAME).from(&[AI]),
    f(A, "application_remarks", "受検申請備考", C::Exam, REMARKS).from(&[AI]),
    f(A, "application_forwarded_on", "受検申請情報取次ぎ日", C::Exam, T::Date).from(&[AI]),
    f(A, "coordinator_user_id", "調整担当者ユーザID", C::Exam, EXTERNAL_ID).from(&[AI]),
    f(A, "admission_ticket_receiver", "受検票受取人", C::Exam, NAME).from(&[AI]),
    f(A, "admission_ticket_receiver_org_type", "受検票受取団体種別", C::Exam, CATEGORY).from(&[AI]),
    f(A, "admission_ticket_receiver_org_code", "受検票受取団体コード", C::Exam, NUMBER).from(&[AI]),
    f(A, "admission_ticket_receiver_org_user_id", "受検票受取団体担当者ユーザID", C::Exam, EXTERNAL_ID).from(&[AI]),
    f(A, "admission_ticket_delivery_method", "受検票受取方法", C::Exam, CATEGORY).from(&[AI]),
    f(A, "pass_notice_receiver", "合格通知書受取人", C::Exam, NAME).from(&[AI]),
    f(A, "pass_notice_receiver_org_type", "合格通知書受取団体種別", C::Exam, CATEGORY).from(&[AI]),
    f(A, "pass_notice_receiver_org_code", "合格通知書受取団体コード", C::Exam, NUMBER).from(&[AI]),
    f(A, "pass_notice_receiver_org_user_id", "合格通知書受取団体担当者ユーザID", C::Exam, EXTERNAL_ID).from(&[AI]),
    f(A, "pass_notice_delivery_method", "合格通知書受取方法", C::Exam, CATEGORY).from(&[AI]),
    f(A, "pass_notice_issued_on", "合格通知書発行日", C::Exam, T::Date).from(&[AI]),
    f(A, "certificate_receiver", "合格証書受取人", C::Exam, NAME).from(&[AI]),
    f(A, "certificate_receiver_org_code", "合格証書受取団体コード", C::Exam, NUMBER).from(&[AI]),
    f(A, "certificate_receiver_org_user_id", "合格証書受取団体担当者ユーザID", C::Exam, EXTERNAL_ID).from(&[AI]),
    f(A, "certificate_delivery_method", "合格証書受取方法", C::Exam, CATEGORY).from(&[AI]),
    f(A, "certificate_serial_number", "合格証書シリアル番号", C::Qualification, NUMBER).from(&[AI]),
    // employer and technical intern training (事業所, 技能実習)
    f(A, "employer_code", "事業所コード", C::Employment, NUMBER).from(&[ET, AI, AT]),
    f(A, "employer_name", "事業所名", C::Employment, ADDRESS).from(&[ET, AT]),
    f(A, "employer_postal_code", "事業所郵便番号", C::Employment, T::PostalCode).from(&[ET, AT]),
    f(A, "employer_address", "事業所住所", C::Employment, ADDRESS).from(&[ET, AT]),
    f(A, "employer_address_detail", "事業所方書", C::Employment, ADDRESS).from(&[ET, AT]),
    f(A, "employer_phone", "事業所電話番号", C::Employment, T::Phone).from(&[ET, AT]),
    f(A, "intern_category", "試験実習の区分", C::Employment, CATEGORY).from(&[ET, AT]),
    f(A, "plan_approval_number", "計画認定番号", C::Employment, NUMBER).from(&[ET, AT]),
    f(A, "intern_supervisor_name", "実習実施者名", C::Employment, ADDRESS).from(&[ET, AT]),
    f(A, "intern_site_name", "実習事業所名", C::Employment, ADDRESS).from(&[ET, AT]),
    f(A, "applying_org_type", "受検申請団体種別", C::Employment, CATEGORY).from(&[AI]),
    f(A, "applying_org_code", "受検申請団体コード", C::Employment, NUMBER).from(&[AI]),
    f(A, "applying_org_user_id", "受検申請団体担当者ユーザID", C::Employment, EXTERNAL_ID).from(&[AI]),
    f(A, "applying_org_name", "受検申請団体名", C::Employment, ADDRESS).from(&[AI]),
    // fees and invoices (手数料, 請求)
    f(A, "written_fee_status", "学科手数料支払状況", C::Finance, CATEGORY).from(&[AI]),
    f(A, "written_fee_method", "学科手数料支払方法", C::Finance, CATEGORY).from(&[AI]),
    f(A, "written_fee_paid_on", "学科手数料支払日", C::Finance, T::Date).from(&[AI]),
    f(A, "practical_fee_status", "実技手数料支払状況", C::Finance, CATEGORY).from(&[AI]),
    f(A, "practical_fee_method", "実技手数料支払方法", C::Finance, CATEGORY).from(&[AI]),
    f(A, "practical_fee_paid_on", "実技手数料支払日", C::Finance, T::Date).from(&[AI]),
    f(A, "payment_slip_issued_on", "納付書発行日", C::Finance, T::Date).from(&[AI]),
    f(A, "invoice_receiver", "請求書受取人", C::Finance, NAME).from(&[AI]),
    f(A, "invoice_org_type", "請求団体種別", C::Finance, CATEGORY).from(&[AI]),
    f(A, "invoice_org_code", "請求団体コード", C::Finance, NUMBER).from(&[AI]),
    f(A, "invoice_org_user_id", "請求団体担当者ユーザID", C::Finance, EXTERNAL_ID).from(&[AI]),
    f(A, "invoice_delivery_method", "請求書受取方法", C::Finance, CATEGORY).from(&[AI]),
    // ---- result (受検管理) -------------------------------------------------
    f(R, "announcement_date", "合格発表日", C::Result, T::Date).from(&[RT]),
    f(R, "written_attendance", "学科出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "written_score", "学科得点", C::Result, SCORE).from(&[RT, PD]),
    f(R, "practical_total_score", "実技合計得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_work_attendance", "実技作業出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_work_score", "実技作業得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_work_pass", "実技作業合否", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_task1_attendance", "実技課題1出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_task1_score", "実技課題1得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_task1_pass", "実技課題1合否", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_task2_attendance", "実技課題2出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_task2_score", "実技課題2得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_task2_pass", "実技課題2合否", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_task3_attendance", "実技課題3出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_task3_score", "実技課題3得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_task3_pass", "実技課題3合否", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_element_attendance", "実技要素出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_element_score", "実技要素得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_element_pass", "実技要素合否", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_paper_attendance", "実技ペーパー出欠", C::Result, T::Attendance).from(&[RT]),
    f(R, "practical_paper_score", "実技ペーパー得点", C::Result, SCORE).from(&[RT]),
    f(R, "practical_paper_pass", "実技ペーパー合否", C::Result, T::Bool).from(&[RT]),
    f(R, "pass", "合否フラグ", C::Result, T::Bool).from(&[RT]),
    f(R, "written_pass", "学科合否フラグ", C::Result, T::Bool).from(&[RT]),
    f(R, "practical_pass", "実技合否フラグ", C::Result, T::Bool).from(&[RT]),
    f(R, "written_pass_number", "学科合格番号", C::Result, NUMBER).from(&[RT]),
    f(R, "practical_pass_number", "実技合格番号", C::Result, NUMBER).from(&[RT]),
    f(R, "overall_pass_number", "総合合格番号", C::Result, NUMBER).from(&[RT]),
    // ---- qualification (合格者 / 技能士) -----------------------------------
    f(Q, "skilled_worker_number", "技能士番号", C::Qualification, NUMBER).from(&[RT, PD, IT]),
    f(Q, "national_qualification_system_id", "国家資格システム管理番号", C::Pseudonym, EXTERNAL_ID).from(&[RT, PD]),
    f(Q, "passed_fiscal_year", "合格年度", C::Qualification, T::FiscalYear).from(&[IT]),
    f(Q, "written_result_code", "学科合否区分", C::Result, CATEGORY).from(&[PD]),
    f(Q, "practical_result_code", "実技合否区分", C::Result, CATEGORY).from(&[PD]),
    f(Q, "practical_score", "実技得点", C::Result, SCORE).from(&[PD]),
    f(Q, "score_item_count", "得点情報数", C::Result, COUNT).from(&[PD]),
    f(Q, "skilled_worker_result_code", "技能士合否区分", C::Qualification, CATEGORY).from(&[PD]),
    f(Q, "pass_decision", "合否判定", C::Qualification, CATEGORY).from(&[PD]),
    f(Q, "pass_notice_category", "合格通知区分", C::Qualification, CATEGORY).from(&[PD]),
    f(Q, "written_pass_notice_number", "学科合格通知番号", C::Qualification, NUMBER).from(&[PD]),
    f(Q, "practical_pass_notice_number", "実技合格通知番号", C::Qualification, NUMBER).from(&[PD]),
    f(Q, "written_exam_at", "学科試験日時", C::Exam, T::DateTime).from(&[PD]),
    f(Q, "practical_exam_at", "実技試験日時", C::Exam, T::DateTime).from(&[PD]),
    f(Q, "passed_on", "合格日付", C::Qualification, T::Date).plain().from(&[PD]),
    f(Q, "valid_until", "有効期限", C::Qualification, T::Date).from(&[PD]),
    f(Q, "electronic_certificate_count", "電子合格証書回数", C::Qualification, COUNT).from(&[PD]),
    f(Q, "paper_certificate_count", "紙合格証書回数", C::Qualification, COUNT).from(&[PD]),
    f(Q, "japanese_proof_count", "日本語合格証明回数", C::Qualification, COUNT).from(&[PD]),
    f(Q, "english_proof_count", "英文合格証明回数", C::Qualification, COUNT).from(&[PD]),
    f(Q, "reissue_count", "再交付回数", C::Qualification, COUNT).from(&[PD]),
    f(Q, "revoked_on", "合格取消日", C::Qualification, T::Date).from(&[PD]),
    f(Q, "revocation_reason", "合格取消理由", C::Qualification, REMARKS).from(&[PD]),
    f(Q, "reserve_text_01", "合否文字予備01", C::Qualification, ADDRESS).from(&[PD]),
    f(Q, "reserve_text_02", "合否文字予備02", C::Qualification, ADDRESS).from(&[PD]),
    f(Q, "reserve_number_01", "合否数値予備01", C::Qualification, RESERVE_INT).from(&[PD]),
    f(Q, "reserve_number_02", "合否数値予備02", C::Qualification, RESERVE_INT).from(&[PD]),
    // ---- meister (ものづくりマイスター) -------------------------------------
    f(M, "meister_id", "マイスターID", C::Meister, T::RecordId).assigned(),
    f(M, "prefecture_code", "都道府県コード", C::Meister, T::PrefectureCode).required().plain(),
    f(M, "name", "氏名", C::Meister, NAME).required(),
    f(M, "name_kana", "ふりがな", C::Meister, T::Kana),
    f(M, "phone", "電話番号", C::Meister, T::Phone),
    f(M, "email", "メールアドレス", C::Meister, T::Email),
    f(M, "address", "住所", C::Meister, ADDRESS),
    f(M, "trades", "認定職種", C::Meister, T::Trades).required(),
    f(M, "certification_number", "認定番号", C::Meister, NUMBER).required(),
    f(M, "certified_on", "認定日", C::Meister, T::Date).required().plain(),
    f(M, "status", "登録状況", C::Meister, T::MeisterStatus).plain(),
    f(M, "course_completed_on", "指導技法等講習修了日", C::Meister, T::Date),
    f(M, "deregistered_on", "登録抹消日", C::Meister, T::Date).plain(),
    // ---- meister activity (マイスター活動実績) -----------------------------
    f(V, "date", "活動日", C::MeisterActivity, T::Date).required().plain(),
    f(V, "kind", "活動区分", C::MeisterActivity, T::ActivityKind).required(),
    f(V, "host_name", "派遣先名", C::MeisterActivity, ADDRESS),
    f(V, "trainee_person_days", "受講者延べ人日", C::MeisterActivity, T::Int { min: 0, max: 1_000_000, }),
];

/// The field `name` of record kind `kind`.
pub fn field(kind: RecordKind, name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.kind == kind && f.name == name)
}

/// The fields of record kind `kind`, in schema order.
pub fn fields_of(kind: RecordKind) -> impl Iterator<Item = &'static FieldDef> {
    FIELDS.iter().filter(move |f| f.kind == kind)
}

/// Every field as the policy sees it (kind, name, class), in schema order.
pub fn catalog() -> &'static [FieldRef] {
    static CATALOG: LazyLock<Vec<FieldRef>> =
        LazyLock::new(|| FIELDS.iter().map(FieldDef::field_ref).collect());
    &CATALOG
}

/// Every Japanese item name of the schema (`label_ja` and aliases), each once.
pub fn labels_ja() -> BTreeSet<&'static str> {
    FIELDS.iter().flat_map(FieldDef::labels_ja).collect()
}

/// The fields that carry the Japanese item name `label` (as `label_ja` or alias).
/// 都道府県コード, for instance, names the examinee's, the application's and the
/// meister's prefecture.
pub fn fields_by_label_ja(label: &str) -> impl Iterator<Item = &'static FieldDef> + '_ {
    FIELDS
        .iter()
        .filter(move |f| f.labels_ja().any(|l| l == label))
}

/// The field of kind `kind` that carries the item name `label`.
pub fn field_by_label_ja(kind: RecordKind, label: &str) -> Option<&'static FieldDef> {
    fields_by_label_ja(label).find(|f| f.kind == kind)
}

/// An exact-match blind index over several fields of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompositeIndex {
    /// The index name, used as the blind indexer's field label.
    pub name: &'static str,
    /// The record kind indexed.
    pub kind: RecordKind,
    /// The fields combined, in order.
    pub fields: &'static [&'static str],
}

/// The (name_kana + birth_date) lookup of `POST /v1/examinees/search`.
pub const NAME_KANA_BIRTH_DATE: CompositeIndex = CompositeIndex {
    name: "name_kana+birth_date",
    kind: RecordKind::Examinee,
    fields: &["name_kana", "birth_date"],
};

/// Every composite blind index.
pub const COMPOSITE_INDEXES: &[CompositeIndex] = &[NAME_KANA_BIRTH_DATE];

/// The input of the (name_kana + birth_date) blind index: the kana without spaces,
/// `|`, and the ISO birth date, e.g. `ヤマダタロウ|1990-04-01`.
///
/// Intake and search both build it from validated values, so 和暦 and ISO birth
/// dates and differently spaced kana give the same input. The blind indexer
/// normalises further (NFKC); `|` cannot occur in validated kana.
pub fn name_kana_birth_date_input(
    name_kana: &Kana,
    birth_date: chrono::NaiveDate,
) -> Zeroizing<String> {
    let kana = name_kana.expose_str();
    let mut out = Zeroizing::new(String::with_capacity(kana.len() + 11));
    out.extend(kana.chars().filter(|c| !matches!(c, ' ' | '\u{3000}')));
    out.push('|');
    // Written in place: the capacity above holds it, so no copy is left behind.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        birth_date.year(),
        birth_date.month(),
        birth_date.day()
    );
    out
}
