//! The schema covers every 別添1 item, under the names the API contract fixes,
//! with storage, indexes and requirements as DATA.md sets them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use vault_core::model::schema::{
    self, catalog, field, field_by_label_ja, fields_by_label_ja, fields_of, labels_ja,
    name_kana_birth_date_input, FieldDef, COMPOSITE_INDEXES, NAME_KANA_BIRTH_DATE, SOURCE_TABLES,
};
use vault_core::model::{Date, FieldType, Kana, Storage, FIELDS};
use vault_policy::{FieldClass, RecordKind};

/// The published list, beside the repository (`../shared/design/`).
const SHARED_ITEMS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/design/schedule1-items.txt"
);
/// The copy kept with the tests, used when the shared file is absent.
const COPY_ITEMS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/schedule1-items.txt"
);
const SCHEMA_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.md");

/// 別添1 as (table, item) pairs in file order; items before the first table
/// belong to the file itself.
fn schedule1(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read schedule1-items.txt");
    let mut table = schema::TABLE_FILE.to_owned();
    let mut items = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("(別添1)") {
            continue;
        }
        if let Some(name) = line.strip_prefix('【').and_then(|l| l.strip_suffix('】')) {
            table = name.to_owned();
            continue;
        }
        items.push((table.clone(), line.to_owned()));
    }
    items
}

/// The shared list when it is there (a fresh checkout beside `shared/`), else the copy.
fn schedule1_items() -> Vec<(String, String)> {
    if Path::new(SHARED_ITEMS).exists() {
        schedule1(SHARED_ITEMS)
    } else {
        schedule1(COPY_ITEMS)
    }
}

fn distinct_labels(items: &[(String, String)]) -> BTreeSet<String> {
    items.iter().map(|(_, l)| l.clone()).collect()
}

fn assert_every_label_in_schema(items: &[(String, String)]) {
    let labels = distinct_labels(items);
    assert_eq!(labels.len(), 166, "別添1 has 166 distinct item names");
    let schema_labels = labels_ja();
    let missing: Vec<&String> = labels
        .iter()
        .filter(|l| !schema_labels.contains(l.as_str()))
        .collect();
    assert!(missing.is_empty(), "items without a field: {missing:?}");
}

fn is_schedule1_kind(kind: RecordKind) -> bool {
    !matches!(kind, RecordKind::Meister | RecordKind::MeisterActivity)
}

#[test]
fn every_schedule1_item_maps_to_a_field() {
    assert_every_label_in_schema(&schedule1_items());
}

#[test]
fn every_item_of_the_kept_copy_maps_to_a_field() {
    assert_every_label_in_schema(&schedule1(COPY_ITEMS));
}

#[test]
fn kept_copy_of_schedule1_matches_the_shared_list() {
    if !Path::new(SHARED_ITEMS).exists() {
        eprintln!("shared schedule1-items.txt absent; the copy stands in");
        return;
    }
    assert_eq!(schedule1(SHARED_ITEMS), schedule1(COPY_ITEMS));
}

#[test]
fn every_schedule1_label_in_the_schema_is_an_item_of_schedule1() {
    let labels = distinct_labels(&schedule1_items());
    for def in FIELDS.iter().filter(|d| !d.source_tables.is_empty()) {
        for label in def.labels_ja() {
            assert!(
                labels.contains(label),
                "{}.{}: {label} is not in 別添1",
                def.kind,
                def.name
            );
        }
    }
}

#[test]
fn source_tables_are_the_tables_that_list_the_item() {
    let items = schedule1_items();
    let mut tables_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (table, label) in &items {
        let entry = tables_of.entry(label.as_str()).or_default();
        if !entry.contains(&table.as_str()) {
            entry.push(table.as_str());
        }
    }
    let order = |t: &&str| {
        SOURCE_TABLES
            .iter()
            .position(|s| s == t)
            .expect("known table")
    };
    for def in FIELDS
        .iter()
        .filter(|d| is_schedule1_kind(d.kind) && !d.vault_assigned)
    {
        let mut expected: Vec<&str> = def
            .labels_ja()
            .flat_map(|l| tables_of.get(l).cloned().unwrap_or_default())
            .collect();
        expected.sort_by_key(order);
        expected.dedup();
        assert_eq!(
            def.source_tables,
            expected.as_slice(),
            "{}.{}",
            def.kind,
            def.name
        );
    }
}

#[test]
fn only_vault_assigned_ids_and_meister_fields_lack_a_schedule1_source() {
    for def in FIELDS.iter().filter(|d| d.source_tables.is_empty()) {
        assert!(
            def.vault_assigned || !is_schedule1_kind(def.kind),
            "{}.{} has no 別添1 source",
            def.kind,
            def.name
        );
    }
}

#[test]
fn names_fixed_by_the_api_contract_exist() {
    let fixed: &[(RecordKind, &[&str])] = &[
        (
            RecordKind::Examinee,
            &[
                "examinee_id",
                "prefecture_code",
                "my_number",
                "name",
                "name_kana",
                "birth_date",
                "sex",
                "postal_code",
                "address",
                "address_detail",
                "phone",
                "nationality",
                "entry_date",
                "residence_expiry",
                "residence_card_number",
                "qualification_pseudonym_id",
                "portal_pseudonym_id",
            ],
        ),
        (
            RecordKind::Application,
            &[
                "application_id",
                "examinee_id",
                "prefecture_code",
                "fiscal_year",
                "exam_period",
                "grade",
                "trade_code",
                "work_code",
                "exam_category",
                "exam_number",
                "employer_code",
                "employer_name",
                "employer_postal_code",
                "employer_address",
                "employer_address_detail",
                "employer_phone",
                "course_exemption",
                "experience_years",
                "intern_category",
                "plan_approval_number",
                "intern_supervisor_name",
                "intern_site_name",
            ],
        ),
        (
            RecordKind::Result,
            &[
                "written_score",
                "written_attendance",
                "written_pass",
                "practical_total_score",
                "practical_pass",
                "pass",
                "announcement_date",
                "overall_pass_number",
            ],
        ),
        (
            RecordKind::Qualification,
            &[
                "skilled_worker_number",
                "passed_on",
                "valid_until",
                "revoked_on",
                "revocation_reason",
            ],
        ),
        (
            RecordKind::Meister,
            &[
                "meister_id",
                "prefecture_code",
                "name",
                "name_kana",
                "phone",
                "email",
                "address",
                "trades",
                "certification_number",
                "certified_on",
                "status",
                "course_completed_on",
            ],
        ),
        (
            RecordKind::MeisterActivity,
            &["date", "kind", "host_name", "trainee_person_days"],
        ),
    ];
    for (kind, names) in fixed {
        for name in *names {
            assert!(field(*kind, name).is_some(), "{kind}.{name} missing");
        }
    }
}

#[test]
fn field_names_are_snake_case_and_unique_within_a_kind() {
    let mut seen = BTreeSet::new();
    for def in FIELDS {
        assert!(
            !def.name.is_empty()
                && def.name.starts_with(|c: char| c.is_ascii_lowercase())
                && def
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{} is not snake_case",
            def.name
        );
        assert!(
            seen.insert((def.kind, def.name)),
            "{}.{} twice",
            def.kind,
            def.name
        );
    }
}

#[test]
fn japanese_labels_are_unique_within_a_kind() {
    let mut seen = BTreeSet::new();
    for def in FIELDS {
        for label in def.labels_ja() {
            assert!(
                seen.insert((def.kind, label)),
                "{}: {label} twice",
                def.kind
            );
        }
    }
}

#[test]
fn an_item_listed_in_several_tables_is_one_field() {
    let names = |label: &str| -> Vec<String> {
        fields_by_label_ja(label)
            .map(|d| format!("{}.{}", d.kind, d.name))
            .collect()
    };
    assert_eq!(names("氏名"), ["examinee.name", "meister.name"]);
    assert_eq!(names("受検番号"), ["application.exam_number"]);
    assert_eq!(names("個人番号"), ["examinee.my_number"]);
    assert_eq!(names("年度"), ["application.fiscal_year"]);
    assert_eq!(names("技能士番号"), ["qualification.skilled_worker_number"]);
}

#[test]
fn other_names_of_the_same_item_are_aliases() {
    let name = |kind, label| field_by_label_ja(kind, label).map(|d| d.name);
    assert_eq!(
        name(RecordKind::Application, "期別コード"),
        Some("exam_period")
    );
    assert_eq!(name(RecordKind::Application, "期"), Some("exam_period"));
    assert_eq!(name(RecordKind::Application, "級コード"), Some("grade"));
    assert_eq!(
        name(RecordKind::Application, "学科実技の別"),
        Some("exam_category")
    );
    assert_eq!(
        name(RecordKind::Application, "実務経験年数"),
        Some("experience_years")
    );
    assert_eq!(
        name(RecordKind::Application, "学科試験一部免除"),
        Some("written_partial_exemption")
    );
}

#[test]
fn plain_storage_only_for_ids_tenant_fiscal_year_status_and_retention_dates() {
    let plain: BTreeSet<String> = FIELDS
        .iter()
        .filter(|d| d.storage == Storage::Plain)
        .map(|d| format!("{}.{}", d.kind, d.name))
        .collect();
    let expected: BTreeSet<String> = [
        "examinee.examinee_id",
        "examinee.prefecture_code",
        "application.examinee_id",
        "application.prefecture_code",
        "application.fiscal_year",
        "qualification.passed_on",
        "meister.meister_id",
        "meister.prefecture_code",
        "meister.certified_on",
        "meister.status",
        "meister.deregistered_on",
        "meister_activity.date",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(plain, expected);
}

#[test]
fn my_number_alone_lives_in_its_own_compartment() {
    let in_compartment: Vec<&FieldDef> = FIELDS
        .iter()
        .filter(|d| d.storage == Storage::MyNumberCompartment || d.class == FieldClass::MyNumber)
        .collect();
    assert_eq!(in_compartment.len(), 1);
    let def = in_compartment[0];
    assert_eq!((def.kind, def.name), (RecordKind::Examinee, "my_number"));
    assert_eq!(def.storage, Storage::MyNumberCompartment);
    assert_eq!(def.class, FieldClass::MyNumber);
    assert_eq!(def.ty, FieldType::MyNumber);
}

#[test]
fn blind_indexes_are_exam_number_application_id_my_number_and_kana_with_birth_date() {
    let indexed: BTreeSet<(RecordKind, &str)> = FIELDS
        .iter()
        .filter(|d| d.indexed)
        .map(|d| (d.kind, d.name))
        .collect();
    let expected = BTreeSet::from([
        (RecordKind::Application, "exam_number"),
        (RecordKind::Application, "application_id"),
        (RecordKind::Examinee, "my_number"),
    ]);
    assert_eq!(indexed, expected);
    assert_eq!(COMPOSITE_INDEXES, &[NAME_KANA_BIRTH_DATE]);
    assert_eq!(NAME_KANA_BIRTH_DATE.kind, RecordKind::Examinee);
    assert_eq!(NAME_KANA_BIRTH_DATE.fields, ["name_kana", "birth_date"]);
    for name in NAME_KANA_BIRTH_DATE.fields {
        assert!(field(RecordKind::Examinee, name).is_some());
    }
}

#[test]
fn composite_index_input_is_the_same_for_wareki_and_iso_and_any_spacing() {
    let spaced = Kana::parse("ヤマダ　タロウ").unwrap();
    let joined = Kana::parse("ヤマダタロウ").unwrap();
    let iso = Date::parse("1990-04-01").unwrap().to_naive();
    let wareki = Date::parse("平成2年4月1日").unwrap().to_naive();
    let a = name_kana_birth_date_input(&spaced, iso);
    let b = name_kana_birth_date_input(&joined, wareki);
    assert_eq!(a.as_str(), "ヤマダタロウ|1990-04-01");
    assert_eq!(a.as_str(), b.as_str());
}

#[test]
fn required_fields_are_those_data_md_lists() {
    let required = |kind| -> BTreeSet<&str> {
        fields_of(kind)
            .filter(|d| d.required)
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(
        required(RecordKind::Examinee),
        BTreeSet::from(["prefecture_code", "name", "name_kana", "birth_date"])
    );
    assert_eq!(
        required(RecordKind::Application),
        BTreeSet::from([
            "prefecture_code",
            "fiscal_year",
            "exam_period",
            "grade",
            "trade_code",
            "work_code",
            "exam_category",
            "exam_number",
        ])
    );
    assert_eq!(
        required(RecordKind::Meister),
        BTreeSet::from([
            "prefecture_code",
            "name",
            "trades",
            "certification_number",
            "certified_on"
        ])
    );
    assert_eq!(
        required(RecordKind::MeisterActivity),
        BTreeSet::from(["date", "kind"])
    );
    assert!(required(RecordKind::Result).is_empty());
    assert!(required(RecordKind::Qualification).is_empty());
}

#[test]
fn vault_assigned_ids_are_examinee_id_and_meister_id() {
    let assigned: BTreeSet<(RecordKind, &str)> = FIELDS
        .iter()
        .filter(|d| d.vault_assigned)
        .map(|d| (d.kind, d.name))
        .collect();
    assert_eq!(
        assigned,
        BTreeSet::from([
            (RecordKind::Examinee, "examinee_id"),
            (RecordKind::Application, "examinee_id"),
            (RecordKind::Meister, "meister_id"),
        ])
    );
    assert!(FIELDS
        .iter()
        .filter(|d| d.vault_assigned)
        .all(|d| d.ty == FieldType::RecordId && !d.required));
}

#[test]
fn every_kind_has_a_field_and_meister_classes_stay_meister() {
    for kind in RecordKind::ALL {
        assert!(fields_of(*kind).next().is_some(), "{kind} has no field");
    }
    assert!(fields_of(RecordKind::Meister).all(|d| d.class == FieldClass::Meister));
    assert!(fields_of(RecordKind::MeisterActivity).all(|d| d.class == FieldClass::MeisterActivity));
    assert!(FIELDS
        .iter()
        .filter(|d| is_schedule1_kind(d.kind))
        .all(|d| !matches!(d.class, FieldClass::Meister | FieldClass::MeisterActivity)));
}

#[test]
fn catalog_lists_every_field_once_with_its_class() {
    let cat = catalog();
    assert_eq!(cat.len(), FIELDS.len());
    for (r, d) in cat.iter().zip(FIELDS) {
        assert_eq!((r.kind, r.name, r.class), (d.kind, d.name, d.class));
    }
    assert!(std::ptr::eq(catalog(), cat), "built once");
}

#[test]
fn field_lookup_by_kind_and_name() {
    let def = field(RecordKind::Application, "exam_number").unwrap();
    assert_eq!(def.label_ja, "受検番号");
    assert_eq!(def.class, FieldClass::Exam);
    assert!(field(RecordKind::Examinee, "exam_number").is_none());
    assert!(field(RecordKind::Meister, "my_number").is_none());
    assert_eq!(
        fields_of(RecordKind::MeisterActivity)
            .map(|d| d.name)
            .collect::<Vec<_>>(),
        ["date", "kind", "host_name", "trainee_person_days"]
    );
}

// ---------------------------------------------------------------------------
// docs/schema.md is generated from the schema; this test keeps it in step.
// Regenerate with: UPDATE_SCHEMA_DOC=1 cargo test -p vault-core --test model_schema

fn type_text(ty: FieldType) -> String {
    match ty {
        FieldType::Text { max } => format!("text ≤{max}"),
        FieldType::MultilineText { max } => format!("multi-line text ≤{max}"),
        FieldType::Int { min, max } => format!("integer {min}..={max}"),
        FieldType::Code { max } => format!("code (letters, digits) ≤{max}"),
        FieldType::Identifier { max } => format!("identifier (letters, digits, -) ≤{max}"),
        FieldType::Token { max } => format!("token (visible ASCII) ≤{max}"),
        FieldType::FiscalYear => "fiscal year 1959..=2100".to_owned(),
        FieldType::Date => "date".to_owned(),
        FieldType::DateTime => "date-time".to_owned(),
        FieldType::Bool => "boolean".to_owned(),
        FieldType::Kana => "katakana".to_owned(),
        FieldType::Trades => "list of trade names".to_owned(),
        FieldType::RecordId => "id (assigned)".to_owned(),
        FieldType::Sex => "sex: male, female, unknown".to_owned(),
        FieldType::Grade => "grade: special, 1, 2, 3, basic, single".to_owned(),
        FieldType::ExamPeriod => "period: 1, 2, any".to_owned(),
        FieldType::ExamCategory => "category: written, practical, both".to_owned(),
        FieldType::Attendance => "attendance: present, absent, exempt".to_owned(),
        FieldType::MeisterStatus => "status: active, intent_check, deregistered".to_owned(),
        FieldType::ActivityKind => "activity kind (7 values)".to_owned(),
        other => {
            let debug = format!("{other:?}");
            let mut out = String::new();
            for (i, c) in debug.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
    }
}

fn render_schema_doc() -> String {
    let mut out = String::new();
    out.push_str("# Schema\n\n");
    out.push_str(
        "Generated from `vault_core::model::schema::FIELDS` by the test \
         `schema_doc_matches_the_schema` (`UPDATE_SCHEMA_DOC=1 cargo test -p vault-core \
         --test model_schema` rewrites it). Do not edit by hand.\n\n",
    );
    out.push_str(
        "Every one of the 166 distinct item names of 別添1 (`schedule1-items.txt`) is the \
         `label_ja` or an alias of a field. An item listed by several tables is one field; \
         codes that the 受検管理テーブル and 合格者データ repeat from the application map to \
         the application's field. Storage: `sealed` = encrypted per field; `plain` = clear \
         column (ids, prefecture, fiscal year, status, dates that start a retention clock); \
         `my_number` = the 個人番号 compartment. `req` = required on create. `idx` = own blind \
         index. `assigned` = set by the vault, refused at intake (`read_only`).\n\n",
    );
    out.push_str("| kind | fields |\n|---|---|\n");
    for kind in RecordKind::ALL {
        out.push_str(&format!("| {kind} | {} |\n", fields_of(*kind).count()));
    }
    out.push_str(&format!("| total | {} |\n\n", FIELDS.len()));
    for kind in RecordKind::ALL {
        out.push_str(&format!("## {kind}\n\n"));
        out.push_str(
            "| name | label_ja | also | class | type | req | storage | idx | 別添1 tables |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for d in fields_of(*kind) {
            let storage = match d.storage {
                Storage::Sealed => "sealed",
                Storage::Plain => "plain",
                Storage::MyNumberCompartment => "my_number",
                _ => "?",
            };
            let req = if d.vault_assigned {
                "assigned"
            } else if d.required {
                "yes"
            } else {
                ""
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                d.name,
                d.label_ja,
                d.aliases_ja.join(", "),
                d.class,
                type_text(d.ty),
                req,
                storage,
                if d.indexed { "yes" } else { "" },
                d.source_tables.join(", "),
            ));
        }
        out.push('\n');
    }
    out.push_str("## Composite blind indexes\n\n| index | kind | fields |\n|---|---|---|\n");
    for ix in COMPOSITE_INDEXES {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            ix.name,
            ix.kind,
            ix.fields.join(" + ")
        ));
    }
    out.push_str(SCHEMA_NOTES);
    out
}

const SCHEMA_NOTES: &str = "
The index input is `name_kana` without spaces, `|`, and the ISO birth date
(`ヤマダタロウ|1990-04-01`), built by `schema::name_kana_birth_date_input` from
validated values, so 和暦 and ISO input give the same digest.

## Mapping decisions

- **Aliases.** Tables name some items differently: 期別コード (受検管理テーブル) and 期
  (受検申請者情報) are 期別; 定期・随時の別 is folded into `exam_period` too (`1`/`2` are
  定期 前期/後期, `any` is 随時); 級コード is 級; 学科実技の別 is 受検区分; 実務経験年数 is
  経験年数; 学科試験一部免除 (受検管理テーブル) is 学科一部免除. One datum, one field.
- **Repeated codes.** 年度, 職種コード, 作業コード, 受検区分, 受検番号 and 都道府県コード in the
  受検管理テーブル and 合格者データ map to the application's field; 学科得点 to the result's;
  技能士番号 (also in 受検管理テーブル and 初期登録申請者テーブル) to the qualification's.
- **都道府県コード** labels both the examinee's home prefecture (tenant of the person)
  and the application's prefecture (tenant of the sitting).
- **合格年度** (初期登録申請者テーブル) is `qualification.passed_fiscal_year`, not an alias
  of the application's 年度: an initial registration may concern a pass whose
  application is not in the vault.
- **合格通知書受取団体種別** is listed twice in 受検申請者情報, where the second occurrence
  probably stands for 合格証書受取団体種別. It is one field; no field was invented for
  an item 別添1 does not name.
- **Link keys** to other systems (資格仮名ID, マイナポータル仮名ID, ユーザID,
  国家資格システム管理番号) are class `pseudonym`.
- **Category values** (区分, 種別, 方法, 状況) are kept as text of at most 40 characters:
  their code lists are those of the source systems.
- **Meister and activity labels** are the project's own; 別添1 does not cover meisters.
";

#[test]
fn schema_doc_matches_the_schema() {
    let rendered = render_schema_doc();
    if std::env::var_os("UPDATE_SCHEMA_DOC").is_some() {
        std::fs::write(SCHEMA_DOC, &rendered).expect("write docs/schema.md");
    }
    let on_disk = std::fs::read_to_string(SCHEMA_DOC).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "docs/schema.md is out of date: run UPDATE_SCHEMA_DOC=1 cargo test -p vault-core --test model_schema"
    );
}
