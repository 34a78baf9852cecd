//! The vocabulary shared by the policy and the data model: record kinds, field
//! classes, actions and tenant scopes.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in the policy file, the API and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { what: stringify!($name) }),
                }
            }
        }
    };
}

pub(crate) use named_enum;

/// A name that is not part of the vocabulary. Carries only the kind of name, never the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}")]
pub struct UnknownName {
    /// Which vocabulary the name was checked against.
    pub what: &'static str,
}

named_enum! {
    /// The kinds of record the vault stores.
    RecordKind {
        /// 受検者 (examinee, a person).
        Examinee => "examinee",
        /// 受検申請 (application for one exam sitting).
        Application => "application",
        /// 受検管理 (attendance, scores and pass flags of one application).
        Result => "result",
        /// 合格者 / 技能士 (qualification of a certified skilled worker).
        Qualification => "qualification",
        /// ものづくりマイスター (a certified meister, a person).
        Meister => "meister",
        /// A meister's teaching visit.
        MeisterActivity => "meister_activity",
    }
}

impl RecordKind {
    /// Whether a record of this kind is a subject (a person with its own data key).
    pub fn is_subject(self) -> bool {
        matches!(self, RecordKind::Examinee | RecordKind::Meister)
    }
}

named_enum! {
    /// Classes of fields; the policy grants classes to role × purpose pairs.
    FieldClass {
        /// 個人番号 (My Number): own compartment and key.
        MyNumber => "my_number",
        /// 氏名, ふりがな, 生年月日, 性別.
        Identity => "identity",
        /// 郵便番号, 住所, 方書.
        Address => "address",
        /// 電話番号, email.
        Contact => "contact",
        /// 国籍, 入国日, 在留期限日, 在留カード番号.
        Residence => "residence",
        /// 事業所*, 実習*.
        Employment => "employment",
        /// 級, 職種, 作業, 受検番号, 期別.
        Exam => "exam",
        /// Scores, attendance, pass flags.
        Result => "result",
        /// 技能士番号, 合格日付, 取消.
        Qualification => "qualification",
        /// 手数料支払*, 請求*.
        Finance => "finance",
        /// 資格仮名ID, マイナポータル仮名ID.
        Pseudonym => "pseudonym",
        /// Meister records.
        Meister => "meister",
        /// Meister teaching visits.
        MeisterActivity => "meister_activity",
    }
}

named_enum! {
    /// What a caller does with records.
    Action {
        /// Read a record's fields.
        Read => "read",
        /// Register a new record.
        Create => "create",
        /// Correct (訂正) an existing record.
        Update => "update",
        /// Exact-match search by blind index (exam number, application id, kana name + birth date).
        Search => "search",
        /// Find a subject by My Number (the number itself is never returned).
        Resolve => "resolve",
        /// Reveal the My Number of a subject.
        Reveal => "reveal",
        /// Export records.
        Export => "export",
        /// Set or clear the suspension of use (利用停止) of a subject.
        Suspend => "suspend",
    }
}

/// The prefectures an account may see: all, or a set of JIS X 0401 codes ("01".."47").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantScope {
    /// Every prefecture (written `["*"]`).
    All,
    /// Only these prefecture codes.
    Only(BTreeSet<String>),
}

impl TenantScope {
    /// Whether a record of prefecture `code` is inside the scope.
    pub fn contains(&self, code: &str) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(set) => set.contains(code),
        }
    }

    /// Builds a scope from the API form: `["*"]` or a list of codes.
    pub fn from_list<S: AsRef<str>>(items: &[S]) -> TenantScope {
        if items.iter().any(|s| s.as_ref() == "*") {
            TenantScope::All
        } else {
            TenantScope::Only(items.iter().map(|s| s.as_ref().to_owned()).collect())
        }
    }

    /// The API form: `["*"]` or the sorted codes.
    pub fn to_list(&self) -> Vec<String> {
        match self {
            TenantScope::All => vec!["*".to_owned()],
            TenantScope::Only(set) => set.iter().cloned().collect(),
        }
    }
}

/// One field of the data model as the policy sees it: its record kind, name and class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// The record kind the field belongs to.
    pub kind: RecordKind,
    /// The English field name (DATA.md).
    pub name: &'static str,
    /// The class the policy grants.
    pub class: FieldClass,
}

named_enum! {
    /// Permissions for operations that touch no personal field values (accounts, audit, keys,
    /// retention, de-identified exports). The policy grants them to role × purpose pairs.
    Capability {
        /// Create, disable and re-key accounts; issue tokens (アカウント管理).
        ManageAccounts => "manage_accounts",
        /// Read audit events, verify the chain, read the account roster (アクセス記録の確認).
        ReadAudit => "read_audit",
        /// Run incident impact reports and notification lists (漏えい等の影響範囲の特定).
        IncidentReport => "incident_report",
        /// Rotate and retire keys, see key status (鍵管理).
        ManageKeys => "manage_keys",
        /// Create retention plans (dry runs) (廃棄計画の作成).
        PlanRetention => "plan_retention",
        /// Approve a retention plan made by someone else (廃棄の承認; second person).
        ApproveRetention => "approve_retention",
        /// Execute an approved retention plan (廃棄の実行).
        ExecuteRetention => "execute_retention",
        /// Place and lift legal holds on subjects (保存の指示).
        ManageHolds => "manage_holds",
        /// Produce de-identified exports (統計用の匿名化データ).
        ExportDeidentified => "export_deidentified",
        /// Approve a bulk export requested by someone else (second person).
        ApproveExport => "approve_export",
    }
}

impl Capability {
    /// Whether this capability is a second-person approval, which separation of duties keeps
    /// away from roles that see personal data.
    pub fn is_approval(self) -> bool {
        matches!(
            self,
            Capability::ApproveRetention | Capability::ApproveExport
        )
    }
}
