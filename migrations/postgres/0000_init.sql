-- Schema bookkeeping for kentei-vault (PostgreSQL). Later migrations add the tables.
CREATE TABLE IF NOT EXISTS vault_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
