//! SQLite SQL of the accounts module. Times are RFC 3339 UTC text, ids UUID text,
//! role and network lists JSON text.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::store::sqlite_readers::Readers;

use super::{AccountRow, AccountsError, BootstrapRow, RevokeSummary, TokenRow};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, AccountsError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AccountsError::Corrupt("timestamp"))
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, AccountsError> {
    s.as_deref().map(parse_ts).transpose()
}

fn parse_uuid(s: &str) -> Result<Uuid, AccountsError> {
    Uuid::parse_str(s).map_err(|_| AccountsError::Corrupt("id"))
}

fn json_list(s: &str) -> Result<Vec<String>, AccountsError> {
    serde_json::from_str(s).map_err(|_| AccountsError::Corrupt("list"))
}

fn to_json(list: &[String]) -> String {
    // Serialising a list of strings cannot fail.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.roles, a.all_prefectures, a.allowed_networks, \
     a.expires_at, a.status, a.created_by, a.created_at, a.disabled_at, a.last_used_at";

fn account_from_row(r: &SqliteRow) -> Result<AccountRow, AccountsError> {
    Ok(AccountRow {
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        name: r.try_get("name")?,
        roles: json_list(&r.try_get::<String, _>("roles")?)?,
        all_prefectures: r.try_get::<i64, _>("all_prefectures")? != 0,
        prefectures: Vec::new(),
        allowed_networks: json_list(&r.try_get::<String, _>("allowed_networks")?)?,
        expires_at: parse_opt_ts(r.try_get("expires_at")?)?,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
        disabled_at: parse_opt_ts(r.try_get("disabled_at")?)?,
        last_used_at: parse_opt_ts(r.try_get("last_used_at")?)?,
    })
}

async fn load_prefectures(pool: &SqlitePool, acc: &mut AccountRow) -> Result<(), AccountsError> {
    acc.prefectures = sqlx::query_scalar(
        "SELECT prefecture FROM account_prefectures WHERE account_id = ? ORDER BY prefecture",
    )
    .bind(acc.id.to_string())
    .fetch_all(pool)
    .await?;
    Ok(())
}

pub(super) async fn insert_bootstrap(
    pool: &SqlitePool,
    id: Uuid,
    hash: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, AccountsError> {
    let mut tx = pool.begin().await?;
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&mut *tx)
        .await?;
    let open: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM bootstrap_tokens WHERE consumed_at IS NULL")
            .fetch_one(&mut *tx)
            .await?;
    if accounts > 0 || open > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO bootstrap_tokens (id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(hash)
    .bind(ts(now))
    .bind(ts(expires_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn find_bootstrap(
    pool: &SqlitePool,
    hash: &[u8],
) -> Result<Option<BootstrapRow>, AccountsError> {
    let row = sqlx::query(
        "SELECT id, token_hash, expires_at, consumed_at FROM bootstrap_tokens WHERE token_hash = ?",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(BootstrapRow {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            token_hash: r.try_get("token_hash")?,
            expires_at: parse_ts(&r.try_get::<String, _>("expires_at")?)?,
            consumed_at: parse_opt_ts(r.try_get("consumed_at")?)?,
        })
    })
    .transpose()
}

pub(super) async fn find_token(
    readers: &Readers,
    hash: &[u8],
) -> Result<Option<(TokenRow, AccountRow)>, AccountsError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS}, t.id AS t_id, t.token_hash, t.created_by AS t_created_by, \
         t.created_at AS t_created_at, t.expires_at AS t_expires_at, t.revoked_at, \
         t.last_used_at AS t_last_used_at, \
         (SELECT group_concat(prefecture, ',') FROM (SELECT prefecture FROM account_prefectures \
          WHERE account_id = a.id ORDER BY prefecture)) AS t_prefectures \
         FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?"
    );
    // `token_hash` is unique: one row at most.
    let Some(r) = readers
        .fetch_all(sqlx::query(&sql).bind(hash))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let mut acc = account_from_row(&r)?;
    let tok = TokenRow {
        id: parse_uuid(&r.try_get::<String, _>("t_id")?)?,
        account_id: acc.id,
        token_hash: r.try_get("token_hash")?,
        created_by: r.try_get("t_created_by")?,
        created_at: parse_ts(&r.try_get::<String, _>("t_created_at")?)?,
        expires_at: parse_opt_ts(r.try_get("t_expires_at")?)?,
        revoked_at: parse_opt_ts(r.try_get("revoked_at")?)?,
        last_used_at: parse_opt_ts(r.try_get("t_last_used_at")?)?,
    };
    // The prefectures come with the token (one query per authentication); the codes
    // are two digits, so a comma separates them unambiguously.
    acc.prefectures = r
        .try_get::<Option<String>, _>("t_prefectures")?
        .map(|list| list.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Some((tok, acc)))
}

pub(super) async fn touch(
    pool: &SqlitePool,
    account: Uuid,
    token: Uuid,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<(), AccountsError> {
    // RFC 3339 UTC text with fixed precision orders like the instants it names.
    sqlx::query(
        "UPDATE accounts SET last_used_at = ?1 WHERE id = ?2 \
         AND (last_used_at IS NULL OR last_used_at < ?3)",
    )
    .bind(ts(now))
    .bind(account.to_string())
    .bind(ts(stale_before))
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE account_tokens SET last_used_at = ?1 WHERE id = ?2 \
         AND (last_used_at IS NULL OR last_used_at < ?3)",
    )
    .bind(ts(now))
    .bind(token.to_string())
    .bind(ts(stale_before))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn create_account(
    pool: &SqlitePool,
    acc: &AccountRow,
    tok: &TokenRow,
    bootstrap: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AccountsError> {
    let mut tx = pool.begin().await?;
    if let Some(b) = bootstrap {
        let done = sqlx::query(
            "UPDATE bootstrap_tokens SET consumed_at = ?, consumed_by = ? \
             WHERE id = ? AND consumed_at IS NULL",
        )
        .bind(ts(now))
        .bind(acc.id.to_string())
        .bind(b.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(AccountsError::BootstrapUsed);
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, name, roles, all_prefectures, allowed_networks, expires_at, \
         status, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(acc.id.to_string())
    .bind(&acc.name)
    .bind(to_json(&acc.roles))
    .bind(i64::from(acc.all_prefectures))
    .bind(to_json(&acc.allowed_networks))
    .bind(opt_ts(acc.expires_at))
    .bind(&acc.status)
    .bind(&acc.created_by)
    .bind(ts(acc.created_at))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(AccountsError::DuplicateName);
    }
    for p in &acc.prefectures {
        sqlx::query("INSERT INTO account_prefectures (account_id, prefecture) VALUES (?, ?)")
            .bind(acc.id.to_string())
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    insert_token_in(&mut tx, tok).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_token_in(
    conn: &mut sqlx::SqliteConnection,
    tok: &TokenRow,
) -> Result<u64, AccountsError> {
    // Only for an active account: a disable racing with the issue wins.
    let r = sqlx::query(
        "INSERT INTO account_tokens (id, account_id, token_hash, created_by, created_at, expires_at) \
         SELECT ?, id, ?, ?, ?, ? FROM accounts WHERE id = ? AND status = 'active'",
    )
    .bind(tok.id.to_string())
    .bind(&tok.token_hash)
    .bind(&tok.created_by)
    .bind(ts(tok.created_at))
    .bind(opt_ts(tok.expires_at))
    .bind(tok.account_id.to_string())
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

pub(super) async fn insert_token(pool: &SqlitePool, tok: &TokenRow) -> Result<bool, AccountsError> {
    let mut conn = pool.acquire().await?;
    Ok(insert_token_in(&mut conn, tok).await? == 1)
}

pub(super) async fn disable(
    pool: &SqlitePool,
    id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, AccountsError> {
    let r = sqlx::query(
        "UPDATE accounts SET status = 'disabled', disabled_by = ?, disabled_at = ? \
         WHERE id = ? AND status = 'active'",
    )
    .bind(by)
    .bind(ts(now))
    .bind(id.to_string())
    .execute(pool)
    .await?;
    if r.rows_affected() == 1 {
        return Ok(true);
    }
    // Disabling an already disabled account is not an error.
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(exists.is_some())
}

pub(super) async fn revoke_account(
    pool: &SqlitePool,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<u64>, AccountsError> {
    let mut tx = pool.begin().await?;
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let r = sqlx::query(
        "UPDATE account_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
    )
    .bind(ts(now))
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(r.rows_affected()))
}

pub(super) async fn revoke_tenant(
    pool: &SqlitePool,
    prefecture: &str,
    now: DateTime<Utc>,
) -> Result<RevokeSummary, AccountsError> {
    let mut tx = pool.begin().await?;
    let accounts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM account_prefectures WHERE prefecture = ?")
            .bind(prefecture)
            .fetch_one(&mut *tx)
            .await?;
    let r = sqlx::query(
        "UPDATE account_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND account_id IN \
         (SELECT account_id FROM account_prefectures WHERE prefecture = ?)",
    )
    .bind(ts(now))
    .bind(prefecture)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(RevokeSummary {
        accounts: u64::try_from(accounts).unwrap_or(0),
        tokens: r.rows_affected(),
    })
}

pub(super) async fn get(pool: &SqlitePool, id: Uuid) -> Result<Option<AccountRow>, AccountsError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ?");
    let Some(r) = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut acc = account_from_row(&r)?;
    load_prefectures(pool, &mut acc).await?;
    Ok(Some(acc))
}

pub(super) async fn roster(
    pool: &SqlitePool,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<AccountRow>, AccountsError> {
    let sql =
        format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id > ? ORDER BY a.id LIMIT ?");
    let rows = sqlx::query(&sql)
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut acc = account_from_row(r)?;
        load_prefectures(pool, &mut acc).await?;
        out.push(acc);
    }
    Ok(out)
}
