-- +goose Up
-- Followers of auth_events keep a position (tx, id) instead of an id (see
-- store.flushEvents): on PostgreSQL tx is the id of the writing
-- transaction, so writers need no table lock to make ids visible in order.
-- SQLite has one writer, which commits ids in order: tx is always 0 and the
-- position is the id. On both engines the database sets tx, not the
-- writer (the trigger of the same name), so an instance of an older version
-- writing during a rolling upgrade writes it right too.
ALTER TABLE auth_events ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX auth_events_tx ON auth_events (tx, id);
-- +goose StatementBegin
CREATE TRIGGER auth_events_tx BEFORE INSERT ON auth_events WHEN NEW.tx <> 0
BEGIN SELECT RAISE(ABORT, 'auth_events.tx is set by the database'); END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_events_tx;
DROP INDEX auth_events_tx;
ALTER TABLE auth_events DROP COLUMN tx;
