-- +goose Up
-- The purge deletes auth events by age (DELETE ... WHERE at <= ?): without
-- this index, as PostgreSQL has had since 00001, it scans the whole table
-- while it holds the write lock. Found by TestSchemaParity. PostgreSQL's
-- 00005 is a no-op that keeps the engines at the same schema version.
CREATE INDEX auth_events_at ON auth_events (at);

-- +goose Down
DROP INDEX auth_events_at;
