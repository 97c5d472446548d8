-- +goose Up
-- Sessions: every login starts one; its tokens carry its id as `sid`.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    username     TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    via_cookies  INTEGER NOT NULL DEFAULT 0 CHECK (via_cookies IN (0, 1)),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL, -- absolute lifetime
    refresh_jti  TEXT    NOT NULL, -- the session's current refresh token
    ended_at     INTEGER,
    end_reason   TEXT
);
CREATE INDEX sessions_user ON sessions (username, ended_at);

-- Rotation bookkeeping: which session a refresh token belongs to, when it
-- was replaced, and the pair that replaced it, sealed with a key derived from
-- the token itself, so only a holder of the old token can read it (the grace
-- interval hands the same pair to a concurrent duplicate refresh).
ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN replaced_at INTEGER;
ALTER TABLE refresh_tokens ADD COLUMN successor BLOB;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN successor;
ALTER TABLE refresh_tokens DROP COLUMN replaced_at;
ALTER TABLE refresh_tokens DROP COLUMN session_id;
DROP TABLE sessions;
