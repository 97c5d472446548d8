-- +goose Up
-- SQLite's 00005 adds the index PostgreSQL has had since 00001; this one
-- keeps both engines at the same schema version (a no-op here).
CREATE INDEX IF NOT EXISTS auth_events_at ON auth_events (at);

-- +goose Down
-- Nothing: the index belongs to 00001.
SELECT 1;
