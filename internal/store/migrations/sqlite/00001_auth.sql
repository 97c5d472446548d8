-- +goose Up
-- Timestamps are unix milliseconds (INTEGER) so the same code reads them on
-- SQLite and PostgreSQL.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1
);

-- Signing keys are shared by every instance on this database.
CREATE TABLE signing_keys (
    kid        TEXT    PRIMARY KEY,
    algorithm  TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- Issued refresh tokens: only the id and a SHA-256 of the token, never the
-- token. replaced_by is set when the token is rotated.
CREATE TABLE refresh_tokens (
    jti         TEXT    PRIMARY KEY,
    username    TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    replaced_by TEXT
);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- A log of changes that every instance must apply to its in-memory auth
-- state (revocations, user changes); instances follow it by id.
CREATE TABLE auth_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    at      INTEGER NOT NULL
);

-- +goose Down
DROP TABLE auth_events;
DROP TABLE refresh_tokens;
DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
DROP TABLE users;
