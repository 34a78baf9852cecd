//! SQL of the lifecycle tables, shared by both backends.
//!
//! The 0004 tables use TEXT and BIGINT/INTEGER columns only, and every statement is
//! written with `$1, $2, …` placeholders in order of first use, which both SQLite and
//! PostgreSQL accept; [`on_pool!`] expands one body once per backend's pool type.

/// Runs `$body` with `$pool` bound to the backend's pool (SQLite or PostgreSQL).
macro_rules! on_pool {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}

/// Executes one statement with text/integer binds; returns the number of rows changed.
pub(super) async fn exec(
    backend: &crate::store::Backend,
    sql: &str,
    binds: &[Bind],
) -> Result<u64, sqlx::Error> {
    on_pool!(backend, |pool| {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::OptText(t) => q.bind(t.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        Ok(q.execute(pool).await?.rows_affected())
    })
}

/// Fetches rows as vectors of columns, each read as optional text or integer by the
/// caller's column list.
pub(super) async fn fetch(
    backend: &crate::store::Backend,
    sql: &str,
    binds: &[Bind],
    columns: &[Col],
) -> Result<Vec<Vec<Value>>, sqlx::Error> {
    use sqlx::Row;
    on_pool!(backend, |pool| {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::OptText(t) => q.bind(t.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let rows = q.fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                values.push(match c {
                    Col::Text => Value::Text(row.try_get::<Option<String>, _>(i)?),
                    Col::Int => Value::Int(row.try_get::<Option<i64>, _>(i)?),
                });
            }
            out.push(values);
        }
        Ok(out)
    })
}

/// A bound parameter.
#[derive(Clone)]
pub(super) enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// The type a column is read as.
#[derive(Clone, Copy)]
pub(super) enum Col {
    Text,
    Int,
}

/// One column of a fetched row.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Value {
    pub(super) fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => t.as_deref(),
            Value::Int(_) => None,
        }
    }

    pub(super) fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => *i,
            Value::Text(_) => None,
        }
    }
}

/// Shorthand for a text bind.
pub(super) fn t(s: impl Into<String>) -> Bind {
    Bind::Text(s.into())
}

/// Shorthand for an integer bind.
pub(super) fn i(v: i64) -> Bind {
    Bind::Int(v)
}
