// The integrity check behind `warehouse check`: the queries that tell
// whether the books balance. Read-only, so it runs beside a server.

package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

// Check verifies the database: on SQLite the file itself (PRAGMA
// integrity_check) and its references (PRAGMA foreign_key_check); on both
// engines that every balance is the sum of its ledger entries and not
// negative, that each ledger entry's qty_after is the previous one's plus
// its delta (per item, location and lot, in posting order), that every
// movement has lines and every ledger entry a line, and that reversals
// name existing movements. Everything is read in one transaction, so a
// server posting meanwhile cannot make it report a half-applied movement.
// It writes nothing; what it finds is in the report, and err is only for
// a check that could not run.
func (db *DB) Check(ctx context.Context) (_ warehouse.CheckReport, err error) {
	defer wrap(&err, "Check")
	// On PostgreSQL a REPEATABLE READ snapshot; SQLite's read transaction
	// (WAL) is a snapshot from its first read.
	var opts *sql.TxOptions
	if db.pg {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	sqltx, err := db.read.raw().BeginTx(ctx, opts)
	if err != nil {
		return warehouse.CheckReport{}, fmt.Errorf("begin: %w", wrapErr(err))
	}
	defer sqltx.Rollback()
	c := &checker{ctx: ctx, tx: &txn{tx: sqltx, pg: db.pg}}
	steps := []func() error{c.counts, c.balances, c.negative, c.chain, c.lines, c.reversals, c.reservations}
	if !db.pg {
		// First: a damaged file makes the other answers meaningless.
		steps = append([]func() error{c.sqliteIntegrity, c.foreignKeys}, steps...)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return warehouse.CheckReport{}, err
		}
	}
	return c.report, nil
}

type checker struct {
	ctx    context.Context
	tx     *txn
	report warehouse.CheckReport
}

func (c *checker) add(check, where, expected, found string) {
	c.report.Findings = append(c.report.Findings, warehouse.Finding{Check: check, Where: where, Expected: expected, Found: found})
}

// each runs q and calls scan on every row.
func (c *checker) each(what, q string, scan func(*sql.Rows) error) error {
	rows, err := c.tx.QueryContext(c.ctx, q)
	if err != nil {
		return fmt.Errorf("check %s: %w", what, wrapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("check %s: %w", what, wrapErr(err))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check %s: %w", what, wrapErr(err))
	}
	return nil
}

func (c *checker) sqliteIntegrity() error {
	return c.each("integrity", `PRAGMA integrity_check`, func(r *sql.Rows) error {
		var msg string
		if err := r.Scan(&msg); err != nil {
			return err
		}
		if msg != "ok" {
			c.add(warehouse.CheckSQLiteIntegrity, "database file", "", msg)
		}
		return nil
	})
}

func (c *checker) foreignKeys() error {
	return c.each("foreign keys", `PRAGMA foreign_key_check`, func(r *sql.Rows) error {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int64
		if err := r.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		c.add(warehouse.CheckForeignKey, fmt.Sprintf("%s row %d", table, rowid.Int64), "a row in "+parent, "none")
		return nil
	})
}

func (c *checker) counts() error {
	err := c.tx.QueryRowContext(c.ctx, `SELECT (SELECT count(*) FROM stock_balances), (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM movements)`).
		Scan(&c.report.Balances, &c.report.LedgerEntries, &c.report.Movements)
	if err != nil {
		return fmt.Errorf("check counts: %w", wrapErr(err))
	}
	return nil
}

// balanceKey names the rows a balance is made of: ids, and the SKU and
// location code when those rows exist.
const balanceKey = `x.item_id, coalesce(i.sku, ''), x.location_id, coalesce(l.code, ''), x.lot`

func balanceWhere(r *sql.Rows, extra ...any) (string, error) {
	var item, loc int64
	var sku, code, lot string
	if err := r.Scan(append([]any{&item, &sku, &loc, &code, &lot}, extra...)...); err != nil {
		return "", err
	}
	s := fmt.Sprintf("item %d", item)
	if sku != "" {
		s += " (" + sku + ")"
	}
	s += fmt.Sprintf(" at location %d", loc)
	if code != "" {
		s += " (" + code + ")"
	}
	if lot != "" {
		s += ", lot " + lot
	}
	return s, nil
}

// balances compares every balance with its ledger, both ways: a balance
// whose entries sum to something else, and entries with no balance row.
func (c *checker) balances() error {
	err := c.each("balances", `SELECT `+balanceKey+`, x.on_hand, coalesce(s.total, 0), coalesce(s.n, 0)
		FROM stock_balances x
		LEFT JOIN (SELECT item_id, location_id, lot, sum(qty_delta) AS total, count(*) AS n FROM ledger_entries GROUP BY item_id, location_id, lot) s
			ON s.item_id = x.item_id AND s.location_id = x.location_id AND s.lot = x.lot
		LEFT JOIN items i ON i.id = x.item_id
		LEFT JOIN locations l ON l.id = x.location_id
		WHERE x.on_hand <> coalesce(s.total, 0)
		ORDER BY x.item_id, x.location_id, x.lot`, func(r *sql.Rows) error {
		var onHand, total, n int64
		w, err := balanceWhere(r, &onHand, &total, &n)
		if err != nil {
			return err
		}
		c.add(warehouse.CheckBalanceLedger, w, fmt.Sprintf("on_hand %s (the sum of %s)", warehouse.Qty(total), entries(n)), warehouse.Qty(onHand).String())
		return nil
	})
	if err != nil {
		return err
	}
	return c.each("balances", `SELECT `+balanceKey+`, x.total, x.n
		FROM (SELECT item_id, location_id, lot, sum(qty_delta) AS total, count(*) AS n FROM ledger_entries GROUP BY item_id, location_id, lot) x
		LEFT JOIN items i ON i.id = x.item_id
		LEFT JOIN locations l ON l.id = x.location_id
		WHERE x.total <> 0 AND NOT EXISTS (SELECT 1 FROM stock_balances b WHERE b.item_id = x.item_id AND b.location_id = x.location_id AND b.lot = x.lot)
		ORDER BY x.item_id, x.location_id, x.lot`, func(r *sql.Rows) error {
		var total, n int64
		w, err := balanceWhere(r, &total, &n)
		if err != nil {
			return err
		}
		c.add(warehouse.CheckBalanceLedger, w, fmt.Sprintf("a balance of %s (the sum of %s)", warehouse.Qty(total), entries(n)), "no balance row")
		return nil
	})
}

func (c *checker) negative() error {
	return c.each("negative balances", `SELECT `+balanceKey+`, x.on_hand, x.reserved
		FROM stock_balances x
		LEFT JOIN items i ON i.id = x.item_id
		LEFT JOIN locations l ON l.id = x.location_id
		WHERE x.on_hand < 0 OR x.reserved < 0 OR x.reserved > x.on_hand
		ORDER BY x.item_id, x.location_id, x.lot`, func(r *sql.Rows) error {
		var onHand, reserved int64
		w, err := balanceWhere(r, &onHand, &reserved)
		if err != nil {
			return err
		}
		if onHand < 0 {
			c.add(warehouse.CheckNegativeBalance, w, "on_hand >= 0", warehouse.Qty(onHand).String())
		} else {
			c.add(warehouse.CheckNegativeBalance, w, fmt.Sprintf("0 <= reserved <= on_hand %s", warehouse.Qty(onHand)), "reserved "+warehouse.Qty(reserved).String())
		}
		return nil
	})
}

// chain follows each balance's ledger in posting order (id: on PostgreSQL
// an entry is inserted while its balance row is locked, so ids of one
// balance are in commit order), the first entry starting from zero.
func (c *checker) chain() error {
	return c.each("ledger chain", `SELECT `+balanceKey+`, x.id, x.movement_id, x.qty_delta, x.qty_after, x.prev
		FROM (SELECT e.*, coalesce(lag(e.qty_after) OVER (PARTITION BY e.item_id, e.location_id, e.lot ORDER BY e.id), 0) AS prev
			FROM ledger_entries e) x
		LEFT JOIN items i ON i.id = x.item_id
		LEFT JOIN locations l ON l.id = x.location_id
		WHERE x.qty_after <> x.prev + x.qty_delta
		ORDER BY x.id`, func(r *sql.Rows) error {
		var id, movement, delta, after, prev int64
		w, err := balanceWhere(r, &id, &movement, &delta, &after, &prev)
		if err != nil {
			return err
		}
		c.add(warehouse.CheckLedgerChain, fmt.Sprintf("ledger entry %d (movement %d), %s", id, movement, w),
			fmt.Sprintf("qty_after %s (previous %s, delta %s)", warehouse.Qty(prev+delta), warehouse.Qty(prev), warehouse.Qty(delta)), warehouse.Qty(after).String())
		return nil
	})
}

func (c *checker) lines() error {
	err := c.each("movement lines", `SELECT m.id, m.type FROM movements m
		WHERE NOT EXISTS (SELECT 1 FROM movement_lines l WHERE l.movement_id = m.id)
		ORDER BY m.id`, func(r *sql.Rows) error {
		var id int64
		var typ string
		if err := r.Scan(&id, &typ); err != nil {
			return err
		}
		c.add(warehouse.CheckMovementLines, fmt.Sprintf("movement %d (%s)", id, typ), "at least one line", "none")
		return nil
	})
	if err != nil {
		return err
	}
	return c.each("ledger lines", `SELECT e.id, e.movement_id, e.line_no FROM ledger_entries e
		WHERE NOT EXISTS (SELECT 1 FROM movement_lines l WHERE l.movement_id = e.movement_id AND l.line_no = e.line_no)
		ORDER BY e.id`, func(r *sql.Rows) error {
		var id, movement, line int64
		if err := r.Scan(&id, &movement, &line); err != nil {
			return err
		}
		c.add(warehouse.CheckMovementLines, fmt.Sprintf("ledger entry %d", id), fmt.Sprintf("line %d of movement %d", line, movement), "no such line")
		return nil
	})
}

func (c *checker) reversals() error {
	return c.each("reversals", `SELECT m.id, m.reversal_of FROM movements m
		WHERE m.reversal_of IS NOT NULL AND NOT EXISTS (SELECT 1 FROM movements o WHERE o.id = m.reversal_of)
		ORDER BY m.id`, func(r *sql.Rows) error {
		var id, of int64
		if err := r.Scan(&id, &of); err != nil {
			return err
		}
		c.add(warehouse.CheckReversal, fmt.Sprintf("movement %d", id), fmt.Sprintf("movement %d, which it reverses", of), "no such movement")
		return nil
	})
}

func entries(n int64) string {
	if n == 1 {
		return "1 ledger entry"
	}
	return fmt.Sprintf("%d ledger entries", n)
}

// reservations compares each balance's reserved with the sum of what its
// open reservations hold, both ways.
func (c *checker) reservations() error {
	return c.each("reservations", `SELECT `+balanceKey+`, x.reserved, x.held
		FROM (SELECT b.item_id, b.location_id, b.lot, b.reserved, coalesce(s.held, 0) AS held
			FROM stock_balances b
			LEFT JOIN (SELECT item_id, location_id, lot, sum(qty - picked - short - released) AS held FROM reservations WHERE state = 'open' GROUP BY item_id, location_id, lot) s
				ON s.item_id = b.item_id AND s.location_id = b.location_id AND s.lot = b.lot
			UNION ALL
			SELECT r.item_id, r.location_id, r.lot, 0, sum(r.qty - r.picked - r.short - r.released)
			FROM reservations r
			WHERE r.state = 'open' AND NOT EXISTS (SELECT 1 FROM stock_balances b WHERE b.item_id = r.item_id AND b.location_id = r.location_id AND b.lot = r.lot)
			GROUP BY r.item_id, r.location_id, r.lot) x
		LEFT JOIN items i ON i.id = x.item_id
		LEFT JOIN locations l ON l.id = x.location_id
		WHERE x.reserved <> x.held
		ORDER BY x.item_id, x.location_id, x.lot`, func(r *sql.Rows) error {
		var reserved, held int64
		w, err := balanceWhere(r, &reserved, &held)
		if err != nil {
			return err
		}
		c.add(warehouse.CheckReservations, w, fmt.Sprintf("reserved %s (what its open reservations hold)", warehouse.Qty(held)), warehouse.Qty(reserved).String())
		return nil
	})
}
