-- +goose Up
-- Followers of auth_events keep a position (tx, id) instead of an id (see
-- store.flushEvents): tx is pg_current_xact_id() of the writing transaction
-- on PostgreSQL, so writers need no table lock to make ids visible in
-- order. SQLite has one writer, which commits ids in order: tx stays 0 and
-- the position is the id. Rows written before this migration keep 0, which
-- sorts before every transaction id.
ALTER TABLE auth_events ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX auth_events_tx ON auth_events (tx, id);

-- +goose Down
DROP INDEX auth_events_tx;
ALTER TABLE auth_events DROP COLUMN tx;
