-- +goose Up
-- Purchase (inbound) orders (issue 16): what a supplier is expected to
-- deliver, line by line, and how much of each line has been received.
-- Quantities are thousandths of the item's unit, as everywhere.
CREATE TABLE purchase_orders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    number        TEXT    NOT NULL UNIQUE,
    supplier      TEXT    NOT NULL,
    note          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL CHECK (status IN ('draft', 'confirmed', 'partially_received', 'received', 'cancelled')),
    tolerance_pct INTEGER NOT NULL DEFAULT 0 CHECK (tolerance_pct BETWEEN 0 AND 100),
    close_reason  TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX purchase_orders_status ON purchase_orders (status, number);

-- received may pass expected only by the order's tolerance, which the
-- domain checks (PurchaseOrder.PlanReceipt) under the order's row lock.
CREATE TABLE purchase_order_lines (
    order_id   INTEGER NOT NULL REFERENCES purchase_orders (id),
    line_no    INTEGER NOT NULL,
    item_id    INTEGER NOT NULL REFERENCES items (id),
    lot        TEXT    NOT NULL DEFAULT '',
    expires_on TEXT,
    expected   INTEGER NOT NULL CHECK (expected > 0),
    received   INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX purchase_order_lines_item ON purchase_order_lines (item_id);

-- Each receipt is one receipt movement (its ledger entries are the truth).
CREATE TABLE purchase_receipts (
    movement_id INTEGER PRIMARY KEY REFERENCES movements (id),
    order_id    INTEGER NOT NULL REFERENCES purchase_orders (id),
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    -- why a line was over-received (within the order's tolerance)
    reason      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX purchase_receipts_order ON purchase_receipts (order_id, movement_id);

-- +goose Down
DROP TABLE purchase_receipts;
DROP TABLE purchase_order_lines;
DROP TABLE purchase_orders;
