-- Schema bookkeeping for kentei-vault (SQLite). Later migrations add the tables.
CREATE TABLE IF NOT EXISTS vault_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
