-- +goose Up
-- The security audit trail (issue 13): audit_events also records security
-- events (logins, lockouts, revocations, logouts, user and key changes),
-- each with its kind, the client's address, User-Agent and request id, and
-- a small JSON detail. Master-data rows keep kind NULL and read as before.
ALTER TABLE audit_events ADD COLUMN kind TEXT;
ALTER TABLE audit_events ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN detail TEXT;
-- The rows already written that are security events get their kind; the
-- reuse rows lose the token ids they carried (a jti has no place in the
-- trail), keeping the username.
UPDATE audit_events SET kind = 'refresh_token_reuse',
    detail = json_build_object('username', after::json->>'username')::text, after = NULL
    WHERE entity = 'session' AND action = 'refresh_token_reuse';
UPDATE audit_events SET kind = 'account_unlocked' WHERE entity = 'user' AND action = 'unlock';
UPDATE audit_events SET kind = 'user_created' WHERE entity = 'user' AND action = 'create';
-- The listing's filters, each newest first.
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose Down
DROP INDEX audit_events_at;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_kind;
ALTER TABLE audit_events DROP COLUMN detail;
ALTER TABLE audit_events DROP COLUMN request_id;
ALTER TABLE audit_events DROP COLUMN user_agent;
ALTER TABLE audit_events DROP COLUMN ip;
ALTER TABLE audit_events DROP COLUMN kind;
