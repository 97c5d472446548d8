package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
)

// TestBackupRestoreInProcess: a backup of an open store has its data and
// checks ok; restore refuses while a store has the database open (the
// shared flock of Open), and once it is closed puts the backup in place,
// keeps the replaced file aside with its WAL, and the store opens it.
func TestBackupRestoreInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, "", dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loc := &warehouse.Location{Code: "BIN-1", Name: "Bin 1"}
	if err := db.CreateLocation(ctx, loc, "test"); err != nil {
		t.Fatal(err)
	}
	it := &warehouse.Item{SKU: "WID", Name: "Widget", UOM: "ea", Active: true}
	if err := db.CreateItem(ctx, it, "test"); err != nil {
		t.Fatal(err)
	}
	q := warehouse.Qty(5 * warehouse.QtyScale)
	if _, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &loc.ID, Qty: &q}}}, "test", nil); err != nil {
		t.Fatal(err)
	}

	backup := filepath.Join(t.TempDir(), "b.db")
	var started int64
	size, err := Backup(ctx, db.Path, backup, BackupOptions{Started: func(n int64) { started = n }})
	if err != nil || size == 0 || started == 0 {
		t.Fatalf("Backup: %d bytes (database %d): %v", size, started, err)
	}
	if _, err := Backup(ctx, db.Path, backup, BackupOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("Backup over a file: %v, want ErrExists", err)
	}
	if _, err := Restore(ctx, "", dir, backup, time.Now()); !errors.Is(err, ErrInUse) {
		t.Fatalf("Restore while open: %v, want ErrInUse", err)
	}
	// The refusal left the open store working.
	if r, err := db.Check(ctx); err != nil || !r.OK() {
		t.Fatalf("Check after a refused restore: %v\n%s", err, r)
	}
	db.Close()
	// A WAL left by a crash goes aside with its database.
	if err := os.WriteFile(db.Path+"-wal", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(ctx, "", dir, backup, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := db.Path + ".before-restore-20260102T030405Z"; r.Aside != want || r.Version == 0 {
		t.Errorf("Restore: %+v, want aside %s", r, want)
	}
	if _, err := os.Stat(r.Aside + "-wal"); err != nil {
		t.Errorf("the WAL did not go aside: %v", err)
	}
	db2, err := Open(ctx, "", dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	rep, err := db2.Check(ctx)
	if err != nil || !rep.OK() || rep.LedgerEntries != 1 {
		t.Fatalf("Check on the restored database: %v\n%s", err, rep)
	}
	if _, err := Backup(ctx, db2.Path, filepath.Join(dir, "no", "such", "dir.db"), BackupOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Backup into a missing directory: %v", err)
	}
}
