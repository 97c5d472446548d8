-- +goose Up
-- The PostgreSQL twin of migrations/sqlite/00009_auth_events_tx.sql. A
-- follower reads the events of transactions below its snapshot's xmin,
-- ordered by (tx, id), from its position (tx, id): a transaction that
-- commits late has a tx no smaller than that xmin, so it is read later,
-- never skipped.
ALTER TABLE auth_events ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
CREATE INDEX auth_events_tx ON auth_events (tx, id);

-- +goose Down
DROP INDEX auth_events_tx;
ALTER TABLE auth_events DROP COLUMN tx;
