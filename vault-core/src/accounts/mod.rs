//! Accounts and bearer tokens (アカウント管理): who may call the vault.
//!
//! Every account belongs to one person or one calling system (no shared IDs, C4).
//! It carries role names from the policy, the prefectures it serves (tenants, or all),
//! optional allowed source networks (C7), an optional expiry and a status; disabling
//! it takes effect on the next request because every authentication reads the
//! database (C10). Tokens are 256-bit random values shown once and stored only as
//! SHA-256 hashes, looked up by hash and compared in constant time (C5). The bootstrap
//! token printed by `kentei-vault init` works exactly once, to create the first named
//! admin (C9). Emergency revoke withdraws every token of one account or of every
//! account of one prefecture in one call (C24). The roster lists every account with
//! its roles, tenants, status, creator and last use (C8).
//!
//! Each backend's SQL sits in its own module ([`sqlite`](self) and `postgres`).

mod postgres;
mod sqlite;
mod token;

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use vault_policy::TenantScope;

use crate::store::sqlite_readers::Readers;
use crate::store::{Backend, StoreError};

use token::{TokenHash, TokenKind};

/// Errors of the accounts module. Messages name fields and ids, never token values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountsError {
    /// The database failed.
    #[error("accounts store: {0}")]
    Store(#[from] StoreError),
    /// The operating system's random generator failed.
    #[error("random generator failed")]
    Random,
    /// An account with this name already exists.
    #[error("an account with this name already exists")]
    DuplicateName,
    /// No such account.
    #[error("account not found")]
    NotFound,
    /// The account is disabled; no token can be issued for it.
    #[error("account is disabled")]
    Disabled,
    /// The bootstrap token was already used (or never existed).
    #[error("bootstrap token already used")]
    BootstrapUsed,
    /// The submitted account is invalid; each entry names a field and a code.
    #[error("invalid account: {}", .0.iter().map(|e| e.field).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<FieldError>),
    /// A stored row could not be decoded.
    #[error("corrupt account row: {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for AccountsError {
    fn from(e: sqlx::Error) -> Self {
        AccountsError::Store(StoreError::from(e))
    }
}

/// One invalid field of a submitted account: the field name and a stable code, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Field name as in the API (`name`, `roles`, `prefectures`, `allowed_networks`, `expires_at`).
    pub field: &'static str,
    /// Stable machine-readable code (`required`, `unknown_role`, `invalid`, `duplicate`, `in_past`, `too_long`).
    pub code: &'static str,
}

/// Identifier of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub Uuid);

/// Identifier of one issued token (recorded in the audit; never the token itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(pub Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AccountId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(AccountId)
    }
}

/// Whether an account may authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// The account's tokens work.
    Active,
    /// The account was disabled; its tokens stop working at once.
    Disabled,
}

impl AccountStatus {
    /// `active` or `disabled`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Result<Self, AccountsError> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "disabled" => Ok(AccountStatus::Disabled),
            _ => Err(AccountsError::Corrupt("status")),
        }
    }
}

/// Who created an account or a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatedBy {
    /// Another account (normally an admin).
    Account(AccountId),
    /// The single-use bootstrap token of `kentei-vault init`.
    Bootstrap,
    /// An operator on the command line (`kentei-vault accounts create`), with the OS user name.
    Cli(String),
}

impl CreatedBy {
    /// The stored and displayed form: an account id, `bootstrap` or `cli:USER`.
    pub fn to_text(&self) -> String {
        match self {
            CreatedBy::Account(id) => id.to_string(),
            CreatedBy::Bootstrap => "bootstrap".to_owned(),
            CreatedBy::Cli(user) => format!("cli:{user}"),
        }
    }
}

/// An account (one person or one calling system).
#[derive(Clone)]
pub struct Account {
    /// Account id.
    pub id: AccountId,
    /// Name of the person or system (unique).
    pub name: String,
    /// Role names from the policy.
    pub roles: Vec<String>,
    /// Prefectures the account serves.
    pub tenants: TenantScope,
    /// Source networks the account may call from; empty means any.
    pub allowed_networks: Vec<IpNet>,
    /// When the account stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Active or disabled.
    pub status: AccountStatus,
    /// Creator: account id, `bootstrap` or `cli:USER`.
    pub created_by: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it was disabled, if it was.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Last successful authentication (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

// The name may be a person's name: it is left out of Debug output.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// Whether the account has the role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Prefecture codes for display: `["*"]` or the sorted codes.
    pub fn prefecture_codes(&self) -> Vec<String> {
        match &self.tenants {
            TenantScope::All => vec!["*".to_owned()],
            TenantScope::Only(set) => set.iter().cloned().collect(),
        }
    }
}

/// A request to create an account.
#[derive(Clone)]
pub struct NewAccount {
    /// Name of the person or system (unique).
    pub name: String,
    /// Role names (must exist in the policy).
    pub roles: Vec<String>,
    /// Prefecture codes (`"01"`–`"47"`) or `["*"]` for all.
    pub prefectures: Vec<String>,
    /// Allowed source networks (CIDR); empty means any.
    pub allowed_networks: Vec<String>,
    /// Optional expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A validated [`NewAccount`].
struct ValidAccount {
    name: String,
    roles: Vec<String>,
    tenants: TenantScope,
    networks: Vec<IpNet>,
    expires_at: Option<DateTime<Utc>>,
}

/// Longest accepted account name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Whether `code` is a JIS X 0401 prefecture code (`"01"`–`"47"`).
pub fn is_prefecture_code(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_digit())
        && matches!(code.parse::<u8>(), Ok(1..=47))
}

impl NewAccount {
    /// Checks every field; `is_role` says whether a role name exists in the policy.
    /// Returns all problems at once, each as a field name and a code.
    pub fn validate(&self, is_role: &(dyn Fn(&str) -> bool + Sync)) -> Result<(), Vec<FieldError>> {
        self.clone().into_valid(is_role, Utc::now()).map(|_| ())
    }

    fn into_valid(
        self,
        is_role: &(dyn Fn(&str) -> bool + Sync),
        now: DateTime<Utc>,
    ) -> Result<ValidAccount, Vec<FieldError>> {
        let mut errs = Vec::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            errs.push(FieldError {
                field: "name",
                code: "required",
            });
        } else if name.chars().count() > MAX_NAME_CHARS {
            errs.push(FieldError {
                field: "name",
                code: "too_long",
            });
        } else if name.chars().any(char::is_control) {
            errs.push(FieldError {
                field: "name",
                code: "invalid",
            });
        }
        let mut seen = BTreeSet::new();
        if self.roles.is_empty() {
            errs.push(FieldError {
                field: "roles",
                code: "required",
            });
        }
        for r in &self.roles {
            if !is_role(r) {
                errs.push(FieldError {
                    field: "roles",
                    code: "unknown_role",
                });
                break;
            }
            if !seen.insert(r.clone()) {
                errs.push(FieldError {
                    field: "roles",
                    code: "duplicate",
                });
                break;
            }
        }
        let tenants = if self.prefectures.is_empty() {
            errs.push(FieldError {
                field: "prefectures",
                code: "required",
            });
            TenantScope::Only(BTreeSet::new())
        } else if self.prefectures.iter().any(|p| p == "*") {
            if self.prefectures.len() != 1 {
                errs.push(FieldError {
                    field: "prefectures",
                    code: "invalid",
                });
            }
            TenantScope::All
        } else {
            let mut set = BTreeSet::new();
            for p in &self.prefectures {
                if !is_prefecture_code(p) {
                    errs.push(FieldError {
                        field: "prefectures",
                        code: "invalid",
                    });
                    break;
                }
                set.insert(p.clone());
            }
            TenantScope::Only(set)
        };
        let mut networks = Vec::new();
        for n in &self.allowed_networks {
            match parse_network(n) {
                Some(net) => networks.push(net),
                None => {
                    errs.push(FieldError {
                        field: "allowed_networks",
                        code: "invalid",
                    });
                    break;
                }
            }
        }
        if let Some(exp) = self.expires_at {
            if exp <= now {
                errs.push(FieldError {
                    field: "expires_at",
                    code: "in_past",
                });
            }
        }
        if errs.is_empty() {
            Ok(ValidAccount {
                name,
                roles: self.roles,
                tenants,
                networks,
                expires_at: self.expires_at,
            })
        } else {
            Err(errs)
        }
    }
}

/// Parses a CIDR network, or a single address as a host network.
fn parse_network(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// A token in clear, as issued: shown to its holder once and never stored.
pub struct IssuedToken {
    /// Token id (for audit and revocation).
    pub token_id: TokenId,
    /// When the token stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    secret: SecretString,
}

impl IssuedToken {
    /// The printed token, to be handed to its holder exactly once.
    pub fn expose_token(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// Who a presented token belongs to, after a successful authentication.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Principal {
    /// A named account and the token it used.
    Account {
        /// The account, as read from the database for this request.
        account: Account,
        /// The token used.
        token_id: TokenId,
    },
    /// The unused bootstrap token: may only create the first admin.
    Bootstrap {
        /// Id of the bootstrap token row.
        bootstrap_id: Uuid,
    },
}

/// Why an authentication failed. Carries ids where known, never the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The token is not of the vault's format.
    Malformed,
    /// No token with this hash exists.
    UnknownToken,
    /// The token has expired.
    TokenExpired(AccountId, TokenId),
    /// The token was revoked.
    TokenRevoked(AccountId, TokenId),
    /// The account is disabled.
    AccountDisabled(AccountId, TokenId),
    /// The account has expired.
    AccountExpired(AccountId, TokenId),
    /// The source address is outside the account's allowed networks.
    SourceNotAllowed(AccountId, TokenId),
    /// The bootstrap token was already used or has expired.
    BootstrapUnusable,
}

impl AuthFailure {
    /// Stable reason code for metrics and audit.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed",
            AuthFailure::UnknownToken => "unknown_token",
            AuthFailure::TokenExpired(..) => "token_expired",
            AuthFailure::TokenRevoked(..) => "token_revoked",
            AuthFailure::AccountDisabled(..) => "account_disabled",
            AuthFailure::AccountExpired(..) => "account_expired",
            AuthFailure::SourceNotAllowed(..) => "source_not_allowed",
            AuthFailure::BootstrapUnusable => "bootstrap_unusable",
        }
    }

    /// The account the token belonged to, where known.
    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            AuthFailure::TokenExpired(a, _)
            | AuthFailure::TokenRevoked(a, _)
            | AuthFailure::AccountDisabled(a, _)
            | AuthFailure::AccountExpired(a, _)
            | AuthFailure::SourceNotAllowed(a, _) => Some(*a),
            _ => None,
        }
    }

    /// The token id, where known.
    pub fn token_id(&self) -> Option<TokenId> {
        match self {
            AuthFailure::TokenExpired(_, t)
            | AuthFailure::TokenRevoked(_, t)
            | AuthFailure::AccountDisabled(_, t)
            | AuthFailure::AccountExpired(_, t)
            | AuthFailure::SourceNotAllowed(_, t) => Some(*t),
            _ => None,
        }
    }
}

/// Counts of an emergency revoke.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevokeSummary {
    /// Accounts whose tokens were revoked.
    pub accounts: u64,
    /// Tokens revoked (not counting ones already revoked).
    pub tokens: u64,
}

/// Stored form of an account, shared by both backends' SQL modules.
pub(crate) struct AccountRow {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
    pub(crate) all_prefectures: bool,
    pub(crate) prefectures: Vec<String>,
    pub(crate) allowed_networks: Vec<String>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) status: String,
    pub(crate) created_by: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) disabled_at: Option<DateTime<Utc>>,
    pub(crate) last_used_at: Option<DateTime<Utc>>,
}

impl AccountRow {
    fn into_account(self) -> Result<Account, AccountsError> {
        let tenants = if self.all_prefectures {
            TenantScope::All
        } else {
            TenantScope::Only(self.prefectures.into_iter().collect())
        };
        let allowed_networks = self
            .allowed_networks
            .iter()
            .map(|n| n.parse::<IpNet>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AccountsError::Corrupt("allowed_networks"))?;
        Ok(Account {
            id: AccountId(self.id),
            name: self.name,
            roles: self.roles,
            tenants,
            allowed_networks,
            expires_at: self.expires_at,
            status: AccountStatus::parse(&self.status)?,
            created_by: self.created_by,
            created_at: self.created_at,
            disabled_at: self.disabled_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// Stored form of a token.
pub(crate) struct TokenRow {
    pub(crate) id: Uuid,
    pub(crate) account_id: Uuid,
    pub(crate) token_hash: Vec<u8>,
    pub(crate) created_by: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
    pub(crate) last_used_at: Option<DateTime<Utc>>,
}

/// Stored form of the bootstrap token.
pub(crate) struct BootstrapRow {
    pub(crate) id: Uuid,
    pub(crate) token_hash: Vec<u8>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) consumed_at: Option<DateTime<Utc>>,
}

/// Minimum interval between two `last_used_at` writes for the same account, so that a
/// busy service account does not turn every read into a database write.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// The accounts service over one database backend.
#[derive(Clone, Debug)]
pub struct Accounts {
    backend: Backend,
    /// The connections of the token check (decision 0020), set exactly when the backend
    /// is SQLite.
    readers: Option<Arc<Readers>>,
}

impl Accounts {
    /// Accounts stored in `backend` (migrations already applied by [`crate::store::connect`]).
    pub fn new(backend: Backend) -> Accounts {
        let readers = match &backend {
            Backend::Sqlite(p) => Some(Arc::new(Readers::of_pool(
                p,
                p.options().get_max_connections() as usize,
            ))),
            Backend::Postgres(_) => None,
        };
        Accounts { backend, readers }
    }

    /// Creates the single-use bootstrap token (called by `kentei-vault init`).
    /// Refuses when accounts or an unused bootstrap token already exist.
    pub async fn create_bootstrap(&self, lifetime: Duration) -> Result<IssuedToken, AccountsError> {
        let (secret, hash) = token::generate(token::BOOTSTRAP_PREFIX)?;
        let now = Utc::now();
        let id = Uuid::new_v4();
        let expires_at = now + lifetime;
        let created = match &self.backend {
            Backend::Sqlite(p) => sqlite::insert_bootstrap(p, id, &hash.0, now, expires_at).await?,
            Backend::Postgres(p) => {
                postgres::insert_bootstrap(p, id, &hash.0, now, expires_at).await?
            }
        };
        if !created {
            return Err(AccountsError::BootstrapUsed);
        }
        Ok(IssuedToken {
            token_id: TokenId(id),
            expires_at: Some(expires_at),
            secret,
        })
    }

    /// Authenticates a presented bearer token from `source`. The outer error is a store
    /// failure; the inner one says why the token was refused.
    pub async fn authenticate(
        &self,
        presented: &str,
        source: IpAddr,
    ) -> Result<Result<Principal, AuthFailure>, AccountsError> {
        let Some(kind) = token::classify(presented) else {
            return Ok(Err(AuthFailure::Malformed));
        };
        let hash = TokenHash::of(presented);
        let now = Utc::now();
        if kind == TokenKind::Bootstrap {
            let row = match &self.backend {
                Backend::Sqlite(p) => sqlite::find_bootstrap(p, &hash.0).await?,
                Backend::Postgres(p) => postgres::find_bootstrap(p, &hash.0).await?,
            };
            return Ok(match row {
                Some(b) if hash.matches(&b.token_hash) => {
                    if b.consumed_at.is_some() || b.expires_at <= now {
                        Err(AuthFailure::BootstrapUnusable)
                    } else {
                        Ok(Principal::Bootstrap { bootstrap_id: b.id })
                    }
                }
                _ => Err(AuthFailure::UnknownToken),
            });
        }
        let found = match &self.backend {
            Backend::Postgres(p) => postgres::find_token(p, &hash.0).await?,
            Backend::Sqlite(p) => match &self.readers {
                Some(readers) => sqlite::find_token(readers, &hash.0).await?,
                // Not reached: `new` sets the readers of every SQLite backend.
                None => sqlite::find_token(&Readers::on_pool(p.clone()), &hash.0).await?,
            },
        };
        let Some((tok, acc)) = found else {
            return Ok(Err(AuthFailure::UnknownToken));
        };
        // The row was found by its hash; the constant-time comparison guards against
        // any collation or index quirk returning a near match.
        if !hash.matches(&tok.token_hash) {
            return Ok(Err(AuthFailure::UnknownToken));
        }
        let account = acc.into_account()?;
        let (aid, tid) = (account.id, TokenId(tok.id));
        if tok.revoked_at.is_some() {
            return Ok(Err(AuthFailure::TokenRevoked(aid, tid)));
        }
        if account.status != AccountStatus::Active {
            return Ok(Err(AuthFailure::AccountDisabled(aid, tid)));
        }
        if account.expires_at.is_some_and(|e| e <= now) {
            return Ok(Err(AuthFailure::AccountExpired(aid, tid)));
        }
        if tok.expires_at.is_some_and(|e| e <= now) {
            return Ok(Err(AuthFailure::TokenExpired(aid, tid)));
        }
        if !source_allowed(&account.allowed_networks, source) {
            return Ok(Err(AuthFailure::SourceNotAllowed(aid, tid)));
        }
        // Written only when what was just read is stale: an UPDATE that changes no row
        // still takes the database's write lock (SQLite) and waits for the writers.
        let stale_before = now - LAST_USED_RESOLUTION;
        let stale = |t: Option<DateTime<Utc>>| t.is_none_or(|t| t < stale_before);
        if stale(account.last_used_at) || stale(tok.last_used_at) {
            match &self.backend {
                Backend::Sqlite(p) => sqlite::touch(p, aid.0, tid.0, now, stale_before).await?,
                Backend::Postgres(p) => postgres::touch(p, aid.0, tid.0, now, stale_before).await?,
            }
        }
        Ok(Ok(Principal::Account {
            account,
            token_id: tid,
        }))
    }

    /// Creates an account and its first token.
    pub async fn create(
        &self,
        new: NewAccount,
        is_role: &(dyn Fn(&str) -> bool + Sync),
        created_by: &CreatedBy,
        token_expires_at: Option<DateTime<Utc>>,
    ) -> Result<(Account, IssuedToken), AccountsError> {
        self.create_inner(new, is_role, created_by, token_expires_at, None)
            .await
    }

    /// Creates the first named admin with the bootstrap token, consuming it in the same
    /// transaction: a second use fails with [`AccountsError::BootstrapUsed`].
    pub async fn create_with_bootstrap(
        &self,
        bootstrap_id: Uuid,
        new: NewAccount,
        is_role: &(dyn Fn(&str) -> bool + Sync),
        token_expires_at: Option<DateTime<Utc>>,
    ) -> Result<(Account, IssuedToken), AccountsError> {
        self.create_inner(
            new,
            is_role,
            &CreatedBy::Bootstrap,
            token_expires_at,
            Some(bootstrap_id),
        )
        .await
    }

    async fn create_inner(
        &self,
        new: NewAccount,
        is_role: &(dyn Fn(&str) -> bool + Sync),
        created_by: &CreatedBy,
        token_expires_at: Option<DateTime<Utc>>,
        bootstrap: Option<Uuid>,
    ) -> Result<(Account, IssuedToken), AccountsError> {
        let now = Utc::now();
        let v = new
            .into_valid(is_role, now)
            .map_err(AccountsError::Invalid)?;
        let token_expires_at = cap_expiry(token_expires_at, v.expires_at);
        let (prefectures, all) = match &v.tenants {
            TenantScope::All => (Vec::new(), true),
            TenantScope::Only(s) => (s.iter().cloned().collect(), false),
        };
        let creator = created_by.to_text();
        let row = AccountRow {
            id: Uuid::new_v4(),
            name: v.name,
            roles: v.roles,
            all_prefectures: all,
            prefectures,
            allowed_networks: v.networks.iter().map(ToString::to_string).collect(),
            expires_at: v.expires_at,
            status: AccountStatus::Active.as_str().to_owned(),
            created_by: creator.clone(),
            created_at: now,
            disabled_at: None,
            last_used_at: None,
        };
        let (secret, hash) = token::generate(token::ACCOUNT_PREFIX)?;
        let tok = TokenRow {
            id: Uuid::new_v4(),
            account_id: row.id,
            token_hash: hash.0.to_vec(),
            created_by: creator,
            created_at: now,
            expires_at: token_expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        match &self.backend {
            Backend::Sqlite(p) => sqlite::create_account(p, &row, &tok, bootstrap, now).await?,
            Backend::Postgres(p) => postgres::create_account(p, &row, &tok, bootstrap, now).await?,
        }
        let issued = IssuedToken {
            token_id: TokenId(tok.id),
            expires_at: tok.expires_at,
            secret,
        };
        Ok((row.into_account()?, issued))
    }

    /// Issues a further token for an active account.
    pub async fn issue_token(
        &self,
        account: AccountId,
        expires_at: Option<DateTime<Utc>>,
        created_by: &CreatedBy,
    ) -> Result<IssuedToken, AccountsError> {
        let acc = self.get(account).await?.ok_or(AccountsError::NotFound)?;
        if acc.status != AccountStatus::Active {
            return Err(AccountsError::Disabled);
        }
        let now = Utc::now();
        let (secret, hash) = token::generate(token::ACCOUNT_PREFIX)?;
        let tok = TokenRow {
            id: Uuid::new_v4(),
            account_id: account.0,
            token_hash: hash.0.to_vec(),
            created_by: created_by.to_text(),
            created_at: now,
            expires_at: cap_expiry(expires_at, acc.expires_at),
            revoked_at: None,
            last_used_at: None,
        };
        let inserted = match &self.backend {
            Backend::Sqlite(p) => sqlite::insert_token(p, &tok).await?,
            Backend::Postgres(p) => postgres::insert_token(p, &tok).await?,
        };
        if !inserted {
            // Disabled between the read and the insert.
            return Err(AccountsError::Disabled);
        }
        Ok(IssuedToken {
            token_id: TokenId(tok.id),
            expires_at: tok.expires_at,
            secret,
        })
    }

    /// Disables an account; its tokens stop working on the next request.
    pub async fn disable(&self, id: AccountId, by: &CreatedBy) -> Result<(), AccountsError> {
        let found = match &self.backend {
            Backend::Sqlite(p) => sqlite::disable(p, id.0, &by.to_text(), Utc::now()).await?,
            Backend::Postgres(p) => postgres::disable(p, id.0, &by.to_text(), Utc::now()).await?,
        };
        if found {
            Ok(())
        } else {
            Err(AccountsError::NotFound)
        }
    }

    /// Emergency revoke: every token of one account (C24).
    pub async fn revoke_account_tokens(
        &self,
        id: AccountId,
    ) -> Result<RevokeSummary, AccountsError> {
        let now = Utc::now();
        let n = match &self.backend {
            Backend::Sqlite(p) => sqlite::revoke_account(p, id.0, now).await?,
            Backend::Postgres(p) => postgres::revoke_account(p, id.0, now).await?,
        };
        n.map(|tokens| RevokeSummary {
            accounts: 1,
            tokens,
        })
        .ok_or(AccountsError::NotFound)
    }

    /// Emergency revoke: every token of every account whose prefectures name `prefecture`
    /// explicitly (C24). Accounts covering all prefectures (`"*"`) are not affected.
    pub async fn revoke_tenant_tokens(
        &self,
        prefecture: &str,
    ) -> Result<RevokeSummary, AccountsError> {
        if !is_prefecture_code(prefecture) {
            return Err(AccountsError::Invalid(vec![FieldError {
                field: "prefecture",
                code: "invalid",
            }]));
        }
        let now = Utc::now();
        match &self.backend {
            Backend::Sqlite(p) => sqlite::revoke_tenant(p, prefecture, now).await,
            Backend::Postgres(p) => postgres::revoke_tenant(p, prefecture, now).await,
        }
    }

    /// One account by id.
    pub async fn get(&self, id: AccountId) -> Result<Option<Account>, AccountsError> {
        let row = match &self.backend {
            Backend::Sqlite(p) => sqlite::get(p, id.0).await?,
            Backend::Postgres(p) => postgres::get(p, id.0).await?,
        };
        row.map(AccountRow::into_account).transpose()
    }

    /// The roster (C8): accounts ordered by id, at most `limit`, after `after` (keyset paging).
    pub async fn roster(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, AccountsError> {
        let rows = match &self.backend {
            Backend::Sqlite(p) => sqlite::roster(p, after.map(|a| a.0), limit).await?,
            Backend::Postgres(p) => postgres::roster(p, after.map(|a| a.0), limit).await?,
        };
        rows.into_iter().map(AccountRow::into_account).collect()
    }
}

/// A token never outlives its account.
fn cap_expiry(
    token: Option<DateTime<Utc>>,
    account: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (token, account) {
        (Some(t), Some(a)) => Some(t.min(a)),
        (t, a) => t.or(a),
    }
}

/// Whether `source` lies in one of `networks` (any address when the list is empty).
/// IPv4-mapped IPv6 addresses are compared as IPv4.
fn source_allowed(networks: &[IpNet], source: IpAddr) -> bool {
    if networks.is_empty() {
        return true;
    }
    let source = match source {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source, IpAddr::V4),
        v4 => v4,
    };
    networks.iter().any(|n| n.contains(&source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_role(_: &str) -> bool {
        true
    }

    fn valid() -> NewAccount {
        NewAccount {
            name: "tanaka".into(),
            roles: vec!["exam_staff".into()],
            prefectures: vec!["35".into()],
            allowed_networks: vec![],
            expires_at: None,
        }
    }

    #[test]
    fn prefecture_codes_are_01_to_47() {
        assert!(is_prefecture_code("01"));
        assert!(is_prefecture_code("47"));
        assert!(!is_prefecture_code("00"));
        assert!(!is_prefecture_code("48"));
        assert!(!is_prefecture_code("1"));
        assert!(!is_prefecture_code("+1"));
    }

    #[test]
    fn wildcard_must_stand_alone() {
        let mut a = valid();
        a.prefectures = vec!["*".into(), "13".into()];
        let e = a.validate(&any_role).unwrap_err();
        assert_eq!(
            e,
            vec![FieldError {
                field: "prefectures",
                code: "invalid"
            }]
        );
    }

    #[test]
    fn unknown_role_is_named_by_field_and_code() {
        let mut a = valid();
        a.roles = vec!["root".into()];
        let e = a.validate(&|r| r == "admin").unwrap_err();
        assert_eq!(
            e,
            vec![FieldError {
                field: "roles",
                code: "unknown_role"
            }]
        );
    }

    #[test]
    fn bad_network_and_past_expiry_are_both_reported() {
        let mut a = valid();
        a.allowed_networks = vec!["10.0.0.0/33".into()];
        a.expires_at = Some(Utc::now() - Duration::days(1));
        let e = a.validate(&any_role).unwrap_err();
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn source_must_be_inside_allowed_networks() {
        let nets = vec!["10.1.0.0/16".parse::<IpNet>().unwrap()];
        assert!(source_allowed(&nets, "10.1.2.3".parse().unwrap()));
        assert!(!source_allowed(&nets, "10.2.0.1".parse().unwrap()));
        assert!(source_allowed(&nets, "::ffff:10.1.0.9".parse().unwrap()));
        assert!(source_allowed(&[], "192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn token_expiry_is_capped_by_account_expiry() {
        let now = Utc::now();
        let later = now + Duration::days(10);
        assert_eq!(cap_expiry(Some(later), Some(now)), Some(now));
        assert_eq!(cap_expiry(None, Some(now)), Some(now));
        assert_eq!(cap_expiry(Some(later), None), Some(later));
    }
}
