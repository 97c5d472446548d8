-- +goose Up
-- Outbound webhooks (issue 16): each follows the event log from its own
-- position (pos_tx, pos_seq: the last event delivered or given up on) and
-- delivers the events of its kinds in order. attempt and next_attempt_at
-- are the retries of the event after pos; lease_owner and lease_until let
-- one instance at a time deliver for a webhook.
CREATE TABLE webhooks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    url             TEXT    NOT NULL,
    kinds           TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    secret          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    pos_tx          INTEGER NOT NULL,
    pos_seq         INTEGER NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT    NOT NULL
);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id    INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq     INTEGER NOT NULL,
    event_kind    TEXT    NOT NULL,
    message_id    TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT    NOT NULL DEFAULT '',
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    next_retry_at INTEGER
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
