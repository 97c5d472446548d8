-- +goose Up
-- The purge deletes auth events by age (DELETE ... WHERE at <= ?): without
-- this index, as PostgreSQL has had since 00001, it scans the whole table
-- while it holds the write lock. Found by TestSchemaParity. PostgreSQL
-- needs no counterpart: its 00001 creates the same index.
CREATE INDEX auth_events_at ON auth_events (at);

-- +goose Down
DROP INDEX auth_events_at;
