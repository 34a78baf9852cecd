//! PostgreSQL SQL of the accounts module (UUID, TIMESTAMPTZ, BYTEA, TEXT[]).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{AccountRow, AccountsError, BootstrapRow, RevokeSummary, TokenRow};

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.roles, a.all_prefectures, a.allowed_networks, \
     a.expires_at, a.status, a.created_by, a.created_at, a.disabled_at, a.last_used_at";

fn account_from_row(r: &PgRow) -> Result<AccountRow, AccountsError> {
    Ok(AccountRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        roles: r.try_get("roles")?,
        all_prefectures: r.try_get("all_prefectures")?,
        prefectures: Vec::new(),
        allowed_networks: r.try_get("allowed_networks")?,
        expires_at: r.try_get("expires_at")?,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        disabled_at: r.try_get("disabled_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

async fn load_prefectures(pool: &PgPool, acc: &mut AccountRow) -> Result<(), AccountsError> {
    acc.prefectures = sqlx::query_scalar(
        "SELECT prefecture FROM account_prefectures WHERE account_id = $1 ORDER BY prefecture",
    )
    .bind(acc.id)
    .fetch_all(pool)
    .await?;
    Ok(())
}

pub(super) async fn insert_bootstrap(
    pool: &PgPool,
    id: Uuid,
    hash: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, AccountsError> {
    let mut tx = pool.begin().await?;
    // Serialise concurrent `init`s against the same database.
    sqlx::query("LOCK TABLE bootstrap_tokens IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
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
        "INSERT INTO bootstrap_tokens (id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn find_bootstrap(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<BootstrapRow>, AccountsError> {
    let row = sqlx::query(
        "SELECT id, token_hash, expires_at, consumed_at FROM bootstrap_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(BootstrapRow {
            id: r.try_get("id")?,
            token_hash: r.try_get("token_hash")?,
            expires_at: r.try_get("expires_at")?,
            consumed_at: r.try_get("consumed_at")?,
        })
    })
    .transpose()
}

pub(super) async fn find_token(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<(TokenRow, AccountRow)>, AccountsError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS}, t.id AS t_id, t.token_hash, t.created_by AS t_created_by, \
         t.created_at AS t_created_at, t.expires_at AS t_expires_at, t.revoked_at, \
         t.last_used_at AS t_last_used_at, \
         ARRAY(SELECT prefecture FROM account_prefectures WHERE account_id = a.id \
          ORDER BY prefecture) AS t_prefectures \
         FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1"
    );
    let Some(r) = sqlx::query(&sql).bind(hash).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let mut acc = account_from_row(&r)?;
    let tok = TokenRow {
        id: r.try_get("t_id")?,
        account_id: acc.id,
        token_hash: r.try_get("token_hash")?,
        created_by: r.try_get("t_created_by")?,
        created_at: r.try_get("t_created_at")?,
        expires_at: r.try_get("t_expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("t_last_used_at")?,
    };
    // The prefectures come with the token (one query per authentication).
    acc.prefectures = r.try_get("t_prefectures")?;
    Ok(Some((tok, acc)))
}

pub(super) async fn touch(
    pool: &PgPool,
    account: Uuid,
    token: Uuid,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<(), AccountsError> {
    sqlx::query(
        "UPDATE accounts SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(account)
    .bind(stale_before)
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE account_tokens SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(token)
    .bind(stale_before)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn create_account(
    pool: &PgPool,
    acc: &AccountRow,
    tok: &TokenRow,
    bootstrap: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AccountsError> {
    let mut tx = pool.begin().await?;
    if let Some(b) = bootstrap {
        let done = sqlx::query(
            "UPDATE bootstrap_tokens SET consumed_at = $1, consumed_by = $2 \
             WHERE id = $3 AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(acc.id)
        .bind(b)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(AccountsError::BootstrapUsed);
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, name, roles, all_prefectures, allowed_networks, expires_at, \
         status, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(acc.id)
    .bind(&acc.name)
    .bind(&acc.roles)
    .bind(acc.all_prefectures)
    .bind(&acc.allowed_networks)
    .bind(acc.expires_at)
    .bind(&acc.status)
    .bind(&acc.created_by)
    .bind(acc.created_at)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(AccountsError::DuplicateName);
    }
    for p in &acc.prefectures {
        sqlx::query("INSERT INTO account_prefectures (account_id, prefecture) VALUES ($1, $2)")
            .bind(acc.id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    insert_token_in(&mut tx, tok).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_token_in(
    conn: &mut sqlx::PgConnection,
    tok: &TokenRow,
) -> Result<u64, AccountsError> {
    // Only for an active account: a disable racing with the issue wins.
    let r = sqlx::query(
        "INSERT INTO account_tokens (id, account_id, token_hash, created_by, created_at, expires_at) \
         SELECT $1, id, $2, $3, $4, $5 FROM accounts WHERE id = $6 AND status = 'active'",
    )
    .bind(tok.id)
    .bind(&tok.token_hash)
    .bind(&tok.created_by)
    .bind(tok.created_at)
    .bind(tok.expires_at)
    .bind(tok.account_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

pub(super) async fn insert_token(pool: &PgPool, tok: &TokenRow) -> Result<bool, AccountsError> {
    let mut conn = pool.acquire().await?;
    Ok(insert_token_in(&mut conn, tok).await? == 1)
}

pub(super) async fn disable(
    pool: &PgPool,
    id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, AccountsError> {
    let r = sqlx::query(
        "UPDATE accounts SET status = 'disabled', disabled_by = $1, disabled_at = $2 \
         WHERE id = $3 AND status = 'active'",
    )
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    if r.rows_affected() == 1 {
        return Ok(true);
    }
    // Disabling an already disabled account is not an error.
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(exists.is_some())
}

pub(super) async fn revoke_account(
    pool: &PgPool,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<u64>, AccountsError> {
    let mut tx = pool.begin().await?;
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let r = sqlx::query(
        "UPDATE account_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(r.rows_affected()))
}

pub(super) async fn revoke_tenant(
    pool: &PgPool,
    prefecture: &str,
    now: DateTime<Utc>,
) -> Result<RevokeSummary, AccountsError> {
    let mut tx = pool.begin().await?;
    let accounts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM account_prefectures WHERE prefecture = $1")
            .bind(prefecture)
            .fetch_one(&mut *tx)
            .await?;
    let r = sqlx::query(
        "UPDATE account_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND account_id IN \
         (SELECT account_id FROM account_prefectures WHERE prefecture = $2)",
    )
    .bind(now)
    .bind(prefecture)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(RevokeSummary {
        accounts: u64::try_from(accounts).unwrap_or(0),
        tokens: r.rows_affected(),
    })
}

pub(super) async fn get(pool: &PgPool, id: Uuid) -> Result<Option<AccountRow>, AccountsError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1");
    let Some(r) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let mut acc = account_from_row(&r)?;
    load_prefectures(pool, &mut acc).await?;
    Ok(Some(acc))
}

pub(super) async fn roster(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<AccountRow>, AccountsError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE ($1::uuid IS NULL OR a.id > $1) \
         ORDER BY a.id LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(after)
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
