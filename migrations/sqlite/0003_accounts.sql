-- Accounts, their tokens and the single-use bootstrap token (SQLite).
-- Tokens are stored only as SHA-256 hashes; a token in clear never enters the database.
-- Times are RFC 3339 UTC text; ids are UUID text.

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    -- The person or calling system the account belongs to (no shared accounts).
    name             TEXT NOT NULL UNIQUE,
    -- JSON array of role names from the policy.
    roles            TEXT NOT NULL,
    -- 1 when the account covers every prefecture ("*"); otherwise see account_prefectures.
    all_prefectures  INTEGER NOT NULL DEFAULT 0 CHECK (all_prefectures IN (0, 1)),
    -- JSON array of CIDR networks; empty means any source address.
    allowed_networks TEXT NOT NULL DEFAULT '[]',
    expires_at       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    disabled_by      TEXT,
    disabled_at      TEXT,
    last_used_at     TEXT
);

CREATE TABLE account_prefectures (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    prefecture TEXT NOT NULL,
    PRIMARY KEY (account_id, prefecture)
);
CREATE INDEX account_prefectures_by_prefecture ON account_prefectures (prefecture);

CREATE TABLE account_tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    token_hash   BLOB NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX account_tokens_by_account ON account_tokens (account_id);

CREATE TABLE bootstrap_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    consumed_at TEXT,
    -- The admin account created with it.
    consumed_by TEXT
);
