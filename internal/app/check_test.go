package app

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// TestCheckDemo runs the integrity check (warehouse check) on the --demo
// database with some history on top (a transfer, an issue and its
// reversal, a count, a receipt), where it finds nothing, then corrupts the
// database behind the store's back, past its triggers and constraints, and
// expects every corruption reported: a balance changed, a qty_after
// broken, a movement's lines deleted, a negative balance inserted, a
// reversal of a movement that does not exist. On both engines; the reports
// are logged (go test -v -run TestCheck ./internal/app).
func TestCheckDemo(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		url := pgtest.URL(t, engine)
		db, err := store.Open(ctx, url, "", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := seedDemo(ctx, db, logcheck.New(t)); err != nil {
			t.Fatal(err)
		}
		h := demoHistory(t, db)

		r, err := db.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("warehouse check on the demo database (%s):\n%s", engine, r)
		if !r.OK() || r.Balances == 0 || r.LedgerEntries == 0 {
			t.Fatalf("the demo database does not check ok:\n%s", r)
		}

		driver, dsn := "pgx", url
		if engine == pgtest.SQLite {
			driver, dsn = "sqlite", "file:"+strings.TrimPrefix(url, "sqlite:")
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetMaxOpenConns(1) // the pragmas below hold per connection
		for _, q := range corruption(engine, h) {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}

		r, err = db.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("warehouse check on the corrupted demo database (%s):\n%s", engine, r)
		want := []struct{ check, where string }{
			{warehouse.CheckBalanceLedger, "(GREASE) at location " + itoa(h.dock) + " (WH1-DOCK)"},
			{warehouse.CheckLedgerChain, "ledger entry " + itoa(h.boltEntry)},
			{warehouse.CheckMovementLines, "movement " + itoa(h.transfer) + " (transfer)"},
			{warehouse.CheckMovementLines, "ledger entry " + itoa(h.transferEntries[0])},
			{warehouse.CheckMovementLines, "ledger entry " + itoa(h.transferEntries[1])},
			{warehouse.CheckNegativeBalance, "(CABLE-CU) at location " + itoa(h.pick) + " (WH1-PICK)"},
			{warehouse.CheckBalanceLedger, "(CABLE-CU) at location " + itoa(h.pick) + " (WH1-PICK)"},
			{warehouse.CheckReversal, "movement 9001"},
		}
		if engine == pgtest.SQLite {
			// SQLite's own checks see two of them too: the negative
			// balance breaks a CHECK, the reversal a foreign key.
			want = append(want, struct{ check, where string }{warehouse.CheckSQLiteIntegrity, "database file"},
				struct{ check, where string }{warehouse.CheckForeignKey, "movements row 9001"})
		}
		unmatched := append([]warehouse.Finding(nil), r.Findings...)
		for _, w := range want {
			i := findingIndex(unmatched, w.check, w.where)
			if i < 0 {
				t.Errorf("no %s finding at %q", w.check, w.where)
				continue
			}
			unmatched = append(unmatched[:i], unmatched[i+1:]...)
		}
		for _, f := range unmatched {
			t.Errorf("unexpected finding: %s", f)
		}
	})
}

// history is what demoHistory posted: the ids the corruption aims at.
type history struct {
	dock, pick, a01, a02 int64
	transfer             int64
	transferEntries      []int64
	boltEntry            int64
	blu, cable           int64
}

func demoHistory(t *testing.T, db *store.DB) history {
	t.Helper()
	ctx := context.Background()
	var h history
	for code, id := range map[string]*int64{"WH1-DOCK": &h.dock, "WH1-PICK": &h.pick, "WH1-A-01": &h.a01, "WH1-A-02": &h.a02} {
		l, err := db.LocationByCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		*id = l.ID
	}
	q := func(n int64) *warehouse.Qty { v := warehouse.Qty(n * warehouse.QtyScale); return &v }
	post := func(typ string, l warehouse.MovementLine) *warehouse.Movement {
		t.Helper()
		nm := warehouse.NewMovement{Type: typ, Lines: []warehouse.MovementLine{l}}
		if typ == warehouse.MoveCount {
			nm.Reason = "correction"
		}
		m, err := db.PostMovement(ctx, nm, "check-test", nil)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return m
	}
	m := post(warehouse.MoveTransfer, warehouse.MovementLine{SKU: "WID-RED", FromLocationID: &h.a01, ToLocationID: &h.pick, Qty: q(10)})
	h.transfer = m.ID
	for _, e := range m.Lines[0].Entries {
		h.transferEntries = append(h.transferEntries, e.ID)
	}
	issue := post(warehouse.MoveIssue, warehouse.MovementLine{SKU: "WID-RED", FromLocationID: &h.pick, Qty: q(3)})
	if _, err := db.ReverseMovement(ctx, issue.ID, "issued by mistake", "check-test", nil); err != nil {
		t.Fatal(err)
	}
	h.blu = post(warehouse.MoveCount, warehouse.MovementLine{SKU: "WID-BLU", LocationID: &h.a02, CountedQty: q(14)}).Lines[0].ItemID
	bolt := post(warehouse.MoveReceipt, warehouse.MovementLine{SKU: "BOLT-M8", ToLocationID: &h.a02, Qty: q(100)})
	h.boltEntry = bolt.Lines[0].Entries[0].ID
	h.cable = post(warehouse.MoveReceipt, warehouse.MovementLine{SKU: "CABLE-CU", ToLocationID: &h.a02, Qty: q(1)}).Lines[0].ItemID
	return h
}

// corruption is the SQL that damages the database past the store's
// defences: its triggers and CHECK constraints (foreign keys are off on
// a plain SQLite connection; on PostgreSQL the reversal's is dropped).
func corruption(engine string, h history) []string {
	var qs []string
	if engine == pgtest.SQLite {
		qs = []string{
			`DROP TRIGGER ledger_entries_no_update`,
			`DROP TRIGGER movement_lines_no_delete`,
			`PRAGMA ignore_check_constraints = ON`,
		}
	} else {
		qs = []string{
			`ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update`,
			`ALTER TABLE movement_lines DISABLE TRIGGER movement_lines_no_delete`,
			`DO $$ DECLARE c record; BEGIN
				FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'stock_balances'::regclass AND contype = 'c' LOOP
					EXECUTE format('ALTER TABLE stock_balances DROP CONSTRAINT %I', c.conname);
				END LOOP;
				FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'movements'::regclass AND contype = 'f' LOOP
					EXECUTE format('ALTER TABLE movements DROP CONSTRAINT %I', c.conname);
				END LOOP;
			END $$`,
		}
	}
	return append(qs,
		// A balance changed by hand: 12.75 kg of grease become 17.75.
		`UPDATE stock_balances SET on_hand = on_hand + 5000 WHERE location_id = `+itoa(h.dock),
		// The last entry of a chain, 100 too many.
		`UPDATE ledger_entries SET qty_after = qty_after + 100000 WHERE id = `+itoa(h.boltEntry),
		`DELETE FROM movement_lines WHERE movement_id = `+itoa(h.transfer),
		`INSERT INTO stock_balances (item_id, location_id, lot, on_hand, reserved) VALUES (`+itoa(h.cable)+`, `+itoa(h.pick)+`, '', -3000, 0)`,
		`INSERT INTO movements (id, type, reference, note, reversal_of, created_by, created_at) VALUES (9001, 'issue', '', '', 9000, 'intruder', 0)`,
		`INSERT INTO movement_lines (movement_id, line_no, item_id, lot, from_location_id, qty) VALUES (9001, 1, `+itoa(h.blu)+`, '', `+itoa(h.a02)+`, 1000)`,
	)
}

func findingIndex(fs []warehouse.Finding, check, where string) int {
	for i, f := range fs {
		// Whole words: "ledger entry 7" is not "ledger entry 70".
		if f.Check == check && strings.Contains(f.Where+" ", where+" ") {
			return i
		}
	}
	return -1
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
