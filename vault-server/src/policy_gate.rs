//! The retention gate at start: a policy that shortens a retention period is refused
//! unless the operator acknowledges it, and the acknowledgement is an audit event.
//!
//! The text of the last policy the service ran with is kept in the database
//! (`vault_meta`, key `accepted_policy`), so the check compares with what was really in
//! force, whichever file it came from.

use vault_core::audit::{AuditEvent, AuditLog, Ident, Label, Outcome};
use vault_core::store::Backend;
use vault_policy::{diff, Policy};

use crate::cli::CliError;

const META_KEY: &str = "accepted_policy";

/// What the gate decided.
#[derive(Debug, PartialEq, Eq)]
pub enum GateOutcome {
    /// First start: the policy is recorded as the accepted one.
    FirstPolicy,
    /// No retention period got shorter.
    Accepted,
    /// Periods got shorter and the operator acknowledged it (audited).
    ShorteningAcknowledged,
}

/// Compares `new` with the policy last accepted; refuses a shorter retention period
/// unless `acknowledge` is set. On success `new` becomes the accepted policy.
pub async fn gate(
    backend: &Backend,
    audit: &AuditLog,
    new_text: &str,
    new: &Policy,
    acknowledge: bool,
) -> Result<GateOutcome, CliError> {
    let previous = read_accepted(backend).await?;
    let outcome = match previous
        .as_deref()
        .map(|t| Policy::from_toml(t, "accepted policy"))
    {
        None => GateOutcome::FirstPolicy,
        // A stored policy this version cannot read any more is not evidence of a
        // longer period; the new file is checked on its own merits at load.
        Some(Err(_)) => GateOutcome::Accepted,
        Some(Ok(old)) => {
            let change = diff(&old, new);
            if !change.shortens_retention() {
                GateOutcome::Accepted
            } else if acknowledge {
                let event = AuditEvent::new(
                    Ident::system(),
                    Label::parse("action", "policy.accept_shorter_retention")
                        .map_err(|e| CliError::Runtime(e.to_string()))?,
                    Outcome::Ok,
                );
                audit.append(event).await.map_err(|e| {
                    CliError::Runtime(format!(
                        "cannot record the acknowledgement in the audit log: {e}"
                    ))
                })?;
                tracing::warn!(
                    "policy shortens retention periods; started with --accept-shorter-retention"
                );
                GateOutcome::ShorteningAcknowledged
            } else {
                return Err(CliError::Usage(format!(
                    "the policy shortens retention periods compared with the policy this vault \
                     last ran with, so records could become due for deletion earlier:\n{change}\n\
                     Check the impact with `kentei-vault retention policy-check`, then start \
                     with --accept-shorter-retention to put it in force (the acknowledgement is \
                     written to the audit log)."
                )));
            }
        }
    };
    write_accepted(backend, new_text).await?;
    Ok(outcome)
}

async fn read_accepted(backend: &Backend) -> Result<Option<String>, CliError> {
    let r = match backend {
        Backend::Sqlite(p) => {
            sqlx::query_scalar::<_, String>("SELECT value FROM vault_meta WHERE key = ?")
                .bind(META_KEY)
                .fetch_optional(p)
                .await
        }
        Backend::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SELECT value FROM vault_meta WHERE key = $1")
                .bind(META_KEY)
                .fetch_optional(p)
                .await
        }
    };
    r.map_err(|e| CliError::Runtime(format!("cannot read the accepted policy: {e}")))
}

async fn write_accepted(backend: &Backend, text: &str) -> Result<(), CliError> {
    let r = match backend {
        Backend::Sqlite(p) => sqlx::query(
            "INSERT INTO vault_meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(META_KEY)
        .bind(text)
        .execute(p)
        .await
        .map(|_| ()),
        Backend::Postgres(p) => sqlx::query(
            "INSERT INTO vault_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(META_KEY)
        .bind(text)
        .execute(p)
        .await
        .map(|_| ()),
    };
    r.map_err(|e| CliError::Runtime(format!("cannot record the accepted policy: {e}")))
}
