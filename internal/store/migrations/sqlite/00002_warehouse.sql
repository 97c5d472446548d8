-- +goose Up
-- The warehouse: items, the location tree, balances, movements and the
-- append-only ledger. Quantities are INTEGER thousandths of the item's unit
-- (never REAL); timestamps are unix milliseconds, as in 00001.

CREATE TABLE items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sku           TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    uom           TEXT    NOT NULL,
    qty_precision INTEGER NOT NULL DEFAULT 0 CHECK (qty_precision BETWEEN 0 AND 3),
    barcode       TEXT    UNIQUE, -- NULL when none, so that many items may lack one
    lot_tracked   INTEGER NOT NULL DEFAULT 0 CHECK (lot_tracked IN (0, 1)),
    reorder_point INTEGER CHECK (reorder_point >= 0),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE locations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES locations (id),
    structural INTEGER NOT NULL DEFAULT 0 CHECK (structural IN (0, 1)),
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    path       TEXT    NOT NULL UNIQUE,
    depth      INTEGER NOT NULL CHECK (depth BETWEEN 1 AND 8),
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX locations_parent ON locations (parent_id);

-- Current stock per (item, location, lot): a cache of the ledger kept in the
-- same transaction. The CHECKs are the last line of defence against
-- negative stock; the conditional UPDATEs are the first.
CREATE TABLE stock_balances (
    item_id          INTEGER NOT NULL REFERENCES items (id),
    location_id      INTEGER NOT NULL REFERENCES locations (id),
    lot              TEXT    NOT NULL DEFAULT '',
    on_hand          INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved         INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
    last_movement_at INTEGER,
    last_counted_at  INTEGER,
    PRIMARY KEY (item_id, location_id, lot)
);
CREATE INDEX stock_balances_location ON stock_balances (location_id);

CREATE TABLE movements (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT    NOT NULL CHECK (type IN ('receipt', 'issue', 'transfer', 'adjustment', 'count')),
    reference   TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT '',
    reason      TEXT,
    reversal_of INTEGER UNIQUE REFERENCES movements (id), -- UNIQUE: a movement is reversed at most once
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX movements_reference ON movements (reference);

CREATE TABLE movement_lines (
    movement_id      INTEGER NOT NULL REFERENCES movements (id),
    line_no          INTEGER NOT NULL,
    item_id          INTEGER NOT NULL REFERENCES items (id),
    lot              TEXT    NOT NULL DEFAULT '',
    from_location_id INTEGER REFERENCES locations (id),
    to_location_id   INTEGER REFERENCES locations (id),
    location_id      INTEGER REFERENCES locations (id),
    qty              INTEGER,
    qty_delta        INTEGER,
    counted_qty      INTEGER,
    expected_qty     INTEGER,
    PRIMARY KEY (movement_id, line_no)
);
CREATE INDEX movement_lines_item ON movement_lines (item_id);

CREATE TABLE ledger_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    movement_id INTEGER NOT NULL REFERENCES movements (id),
    line_no     INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    item_id     INTEGER NOT NULL REFERENCES items (id),
    location_id INTEGER NOT NULL REFERENCES locations (id),
    lot         TEXT    NOT NULL DEFAULT '',
    qty_delta   INTEGER NOT NULL,
    qty_after   INTEGER NOT NULL CHECK (qty_after >= 0),
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ledger_entries_movement ON ledger_entries (movement_id);
CREATE INDEX ledger_entries_item ON ledger_entries (item_id, id);
CREATE INDEX ledger_entries_location ON ledger_entries (location_id, id);

-- History cannot be rewritten: not by a bug, not by a hand-typed UPDATE.
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER movements_no_update BEFORE UPDATE ON movements
BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER movements_no_delete BEFORE DELETE ON movements
BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER movement_lines_no_update BEFORE UPDATE ON movement_lines
BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER movement_lines_no_delete BEFORE DELETE ON movement_lines
BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END;
-- +goose StatementEnd

-- Idempotency-Key records: the response of a posted movement, stored in the
-- movement's transaction so a retry can never post twice.
CREATE TABLE idempotency_keys (
    username     TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    movement_id  INTEGER REFERENCES movements (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (username, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Master-data history: who changed which item, location or user, from what
-- to what.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT    NOT NULL,
    entity_id TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    before    TEXT,
    after     TEXT,
    actor     TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity, entity_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE idempotency_keys;
DROP TRIGGER movement_lines_no_delete;
DROP TRIGGER movement_lines_no_update;
DROP TRIGGER movements_no_delete;
DROP TRIGGER movements_no_update;
DROP TRIGGER ledger_entries_no_delete;
DROP TRIGGER ledger_entries_no_update;
DROP TABLE ledger_entries;
DROP TABLE movement_lines;
DROP TABLE movements;
DROP TABLE stock_balances;
DROP TABLE locations;
DROP TABLE items;
