-- +goose Up
-- Outbound orders, their reservations and picks (issue 16). A reservation
-- holds stock of one balance for one order line: stock_balances.reserved is
-- the sum of what the open reservations of that balance still hold
-- (qty - picked - short - released), kept in the same transaction, so the
-- balance's CHECK (reserved <= on_hand) makes over-allocation impossible.
CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    number              TEXT    NOT NULL UNIQUE,
    customer            TEXT    NOT NULL DEFAULT '',
    note                TEXT    NOT NULL DEFAULT '',
    state               TEXT    NOT NULL CHECK (state IN ('draft', 'confirmed', 'partially_allocated', 'allocated', 'picking', 'shipped', 'cancelled')),
    staging_location_id INTEGER REFERENCES locations (id),
    expires_at          INTEGER,
    created_at          INTEGER NOT NULL,
    created_by          TEXT    NOT NULL,
    updated_at          INTEGER NOT NULL,
    updated_by          TEXT    NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX orders_state ON orders (state, id);
CREATE INDEX orders_expires_at ON orders (expires_at);
CREATE INDEX orders_staging ON orders (staging_location_id);

CREATE TABLE order_lines (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    line_no  INTEGER NOT NULL,
    item_id  INTEGER NOT NULL REFERENCES items (id),
    qty      INTEGER NOT NULL CHECK (qty > 0),
    UNIQUE (order_id, line_no)
);
CREATE INDEX order_lines_item ON order_lines (item_id);

CREATE TABLE reservations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    line_id     INTEGER NOT NULL REFERENCES order_lines (id),
    item_id     INTEGER NOT NULL REFERENCES items (id),
    location_id INTEGER NOT NULL REFERENCES locations (id),
    lot         TEXT    NOT NULL DEFAULT '',
    qty         INTEGER NOT NULL CHECK (qty > 0),
    picked      INTEGER NOT NULL DEFAULT 0 CHECK (picked >= 0),
    short       INTEGER NOT NULL DEFAULT 0 CHECK (short >= 0),
    released    INTEGER NOT NULL DEFAULT 0 CHECK (released >= 0),
    state       TEXT    NOT NULL CHECK (state IN ('open', 'picked', 'released')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (picked + short + released <= qty)
);
CREATE INDEX reservations_balance ON reservations (item_id, location_id, lot, state);
CREATE INDEX reservations_order ON reservations (order_id);
CREATE INDEX reservations_line ON reservations (line_id);

CREATE TABLE picks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    reservation_id INTEGER NOT NULL REFERENCES reservations (id),
    qty            INTEGER NOT NULL CHECK (qty >= 0),
    short          INTEGER NOT NULL CHECK (short >= 0),
    movement_id    INTEGER REFERENCES movements (id),
    picked_by      TEXT    NOT NULL,
    picked_at      INTEGER NOT NULL
);
CREATE INDEX picks_order ON picks (order_id);
CREATE INDEX picks_movement ON picks (movement_id);

-- +goose Down
DROP TABLE picks;
DROP TABLE reservations;
DROP TABLE order_lines;
DROP TABLE orders;
