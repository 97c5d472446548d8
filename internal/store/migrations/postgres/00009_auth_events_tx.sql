-- +goose Up
-- The PostgreSQL twin of migrations/sqlite/00009_auth_events_tx.sql. tx is
-- pg_current_xact_id() of the writing transaction, set by the trigger. A
-- follower reads the events of transactions below its snapshot's xmin,
-- ordered by (tx, id), from its position (tx, id): a transaction still
-- running has an id at or past that xmin, so its events, whatever their
-- ids, sort after the position and are read later, never skipped. Rows
-- written before keep 0, before every transaction id.
ALTER TABLE auth_events ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
CREATE INDEX auth_events_tx ON auth_events (tx, id);
-- +goose StatementBegin
CREATE FUNCTION auth_events_tx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tx := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER auth_events_tx BEFORE INSERT ON auth_events
    FOR EACH ROW EXECUTE FUNCTION auth_events_tx();

-- +goose Down
DROP TRIGGER auth_events_tx ON auth_events;
DROP FUNCTION auth_events_tx();
DROP INDEX auth_events_tx;
ALTER TABLE auth_events DROP COLUMN tx;
