-- +goose Up
-- The PostgreSQL twin of migrations/sqlite/00003_sessions.sql.
CREATE TABLE sessions (
    id           TEXT    COLLATE "C" PRIMARY KEY,
    username     TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    via_cookies  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL, -- absolute lifetime
    refresh_jti  TEXT    NOT NULL, -- the session's current refresh token
    ended_at     BIGINT,
    end_reason   TEXT
);
CREATE INDEX sessions_user ON sessions (username, ended_at);

ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN replaced_at BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN successor BYTEA;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN successor;
ALTER TABLE refresh_tokens DROP COLUMN replaced_at;
ALTER TABLE refresh_tokens DROP COLUMN session_id;
DROP TABLE sessions;
