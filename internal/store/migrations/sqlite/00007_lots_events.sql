-- +goose Up
-- Lots with expiry dates (issue 16): one row per (item, lot) that carries
-- facts of its own. A lot named by a balance without a row here simply has
-- no expiry. expires_on is an ISO date (YYYY-MM-DD), so it sorts as text.
CREATE TABLE lots (
    item_id    INTEGER NOT NULL REFERENCES items (id),
    lot        TEXT    NOT NULL CHECK (lot <> ''),
    expires_on TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (item_id, lot)
);
CREATE INDEX lots_expires_on ON lots (expires_on);

-- The integration event log (issue 16): movements posted, order state
-- changes, reservations, receipts; written in the transaction of the change
-- it describes, read by the SSE stream and the webhook sender. tx is the
-- writing transaction's id on PostgreSQL (pg_current_xact_id), which lets
-- readers find the point below which no event can still appear; it is 0
-- on SQLite, whose single writer commits ids in order.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    tx      INTEGER NOT NULL DEFAULT 0,
    kind    TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX events_tx ON events (tx, id);
CREATE INDEX events_at ON events (at);

-- +goose Down
DROP TABLE events;
DROP TABLE lots;
