package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupUnderLoad backs up a server's SQLite database while 8 clients
// post movements of two lines each, restores the backup into a fresh data
// directory, and finds there every movement acknowledged before the backup
// started, with both its lines; `warehouse check` passes on the restored
// copy (and on the live database, beside the running server), and the
// server went on acknowledging movements during and after the backup.
func TestBackupUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	const clients, before, after = 8, 120, 40
	dir := t.TempDir()
	live := filepath.Join(dir, "live", "warehouse.db")
	if err := os.Mkdir(filepath.Dir(live), 0o700); err != nil {
		t.Fatal(err)
	}
	in := startInstance(t, "backup", "sqlite:"+live, "--hash-workers", "inline")
	token := login(t, in)
	item, a := setupStock(t, in, token, 0)
	b := mustCreate(t, in.base+"/api/v1/locations", token, newLocation{Code: "BIN-2", Name: "Bin 2"})
	mv := newMovement{Type: "receipt", Lines: []movementLine{{ItemID: item, ToLocationID: a, Qty: 1}, {ItemID: item, ToLocationID: b, Qty: 2}}}

	var (
		mu     sync.Mutex
		acked  []int64
		cond   = sync.NewCond(&mu)
		wg     sync.WaitGroup
		ctx, c = context.WithCancel(context.Background())
	)
	defer c()
	// waitAcked waits until n movements are acknowledged in all, and
	// returns those acknowledged by then.
	waitAcked := func(n int) []int64 {
		t.Helper()
		timer := time.AfterFunc(90*time.Second, func() { c(); cond.Broadcast() })
		defer timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		for len(acked) < n && ctx.Err() == nil {
			cond.Wait()
		}
		if len(acked) < n {
			t.Fatalf("only %d movements acknowledged, want %d", len(acked), n)
		}
		return slices.Clone(acked)
	}
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, _, body, err := send("POST", in.base+"/api/v1/movements", token, mv, "Idempotency-Key", rand.Text())
				if err != nil || code != 201 {
					if ctx.Err() == nil {
						t.Errorf("post a movement: %d %v %s", code, err, body)
						c()
						cond.Broadcast()
					}
					return
				}
				var m created
				if err := json.Unmarshal(body, &m); err != nil || m.ID == 0 {
					t.Errorf("post a movement: %s", body)
					return
				}
				mu.Lock()
				acked = append(acked, m.ID)
				cond.Broadcast()
				mu.Unlock()
			}
		})
	}

	ackedBefore := waitAcked(before)
	backup := filepath.Join(dir, "backup.db")
	out, errOut, code := runBinary(t, dir, nil, "backup", "--database-url", "sqlite:"+live, backup)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s%s", code, out, errOut)
	}
	ackedAtEnd := waitAcked(0)
	t.Logf("backup: %s%s", errOut, out)
	// The server keeps acknowledging after the backup.
	waitAcked(len(ackedAtEnd) + after)
	c()
	wg.Wait()
	if t.Failed() {
		return
	}

	// check beside the running server, read-only.
	if out, errOut, code := runBinary(t, dir, nil, "check", "--database-url", "sqlite:"+live); code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("check on the live database: exit %d: %s%s", code, out, errOut)
	}

	fresh := filepath.Join(dir, "fresh")
	out, errOut, code = runBinary(t, dir, nil, "restore", "--data", fresh, backup)
	if code != 0 {
		t.Fatalf("restore into a fresh data dir: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("restore: %s%s", errOut, out)
	out, errOut, code = runBinary(t, dir, nil, "check", "--data", fresh)
	t.Logf("check on the restored copy: %s%s", out, errOut)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("check on the restored copy: exit %d", code)
	}

	var inBackup int
	db, err := sql.Open("sqlite", "file:"+filepath.Join(fresh, "warehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	err = db.QueryRow(`SELECT count(*) FROM movements WHERE type = 'receipt' AND (SELECT count(*) FROM movement_lines l WHERE l.movement_id = movements.id) = 2`).Scan(&inBackup)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d movements acknowledged before the backup started, %d by its end, %d in the backup, %d acknowledged in all",
		len(ackedBefore), len(ackedAtEnd), inBackup, len(waitAcked(0)))
	if inBackup < len(ackedBefore) {
		t.Errorf("the backup has %d movements, fewer than the %d acknowledged before it started", inBackup, len(ackedBefore))
	}

	restored := startInstance(t, "restored", "sqlite:"+filepath.Join(fresh, "warehouse.db"), "--hash-workers", "inline")
	checkAcked(t, restored, login(t, restored), ackedBefore)
}

// TestRestoreRefusals: restore refuses, with one line and without touching
// the database, while a server has it open, and a file that is not a
// database, not a warehouse database, of a newer schema, or a live
// database with its WAL (a copy of the file alone would miss commits). Once the
// server is stopped the restore happens and the replaced database is kept
// aside. backup refuses to overwrite a file without --force, and on
// PostgreSQL points to pg_dump without showing the URL.
func TestRestoreRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := startInstance(t, "restore", "sqlite:"+filepath.Join(mkdir(t, data), "warehouse.db"), "--hash-workers", "inline")
	token := login(t, in)
	setupStock(t, in, token, 5)

	backup := filepath.Join(dir, "backup.db")
	if out, errOut, code := runBinary(t, dir, nil, "backup", "--data", data, backup); code != 0 {
		t.Fatalf("backup: exit %d: %s%s", code, out, errOut)
	}
	garbage := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	newer := filepath.Join(dir, "newer.db")
	if _, errOut, code := runBinary(t, dir, nil, "backup", "--data", data, newer); code != 0 {
		t.Fatal(errOut)
	}
	for path, q := range map[string]string{
		other: `CREATE TABLE notes (body TEXT)`,
		newer: `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`,
	} {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(q)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"while a server runs", []string{"restore", "--data", data, backup}, nil, "is in use by a running warehouse server or command: stop it first"},
		{"not a database", []string{"restore", "--data", data, garbage}, nil, "notes.txt: not a SQLite database"},
		{"not a warehouse database", []string{"restore", "--data", data, other}, nil, "a SQLite database, but not a warehouse one"},
		{"newer schema", []string{"restore", "--data", data, newer}, nil, "schema version 999 is newer than this binary's"},
		{"a live database", []string{"restore", "--data", filepath.Join(dir, "elsewhere"), filepath.Join(data, "warehouse.db")}, nil, "it has a WAL beside it"},
		{"missing file", []string{"restore", "--data", data, filepath.Join(dir, "nope.db")}, nil, "cannot open"},
		{"backup over a file", []string{"backup", "--data", data, backup}, nil, "file exists (give --force to replace it)"},
		{"backup of PostgreSQL", []string{"backup", filepath.Join(dir, "pg.db")}, []string{"WAREHOUSE_DATABASE_URL=postgres://u:hunter2-secret@127.0.0.1:1/db"}, "pg_dump -Fc"},
		{"restore on PostgreSQL", []string{"restore", backup}, []string{"WAREHOUSE_DATABASE_URL=postgres://u:hunter2-secret@127.0.0.1:1/db"}, "pg_restore"},
		{"check of no database", []string{"check", "--data", filepath.Join(dir, "typo")}, nil, "no database at"},
	}
	for _, tc := range cases {
		out, errOut, code := runBinary(t, dir, tc.env, tc.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code == 0 || out != "" || len(lines) != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want one line with %q", tc.name, code, out, errOut, tc.want)
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%s: the password is shown: %s", tc.name, errOut)
		}
		t.Logf("%s: %s", tc.name, strings.TrimSpace(errOut))
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); err == nil {
		t.Error("check created a data directory")
	}
	// Refused means untouched: the server still has its data.
	must(t, 200, "GET", in.base+"/api/v1/movements", login(t, in), nil)
	if out, errOut, code := runBinary(t, dir, nil, "backup", "--force", "--data", data, backup); code != 0 {
		t.Errorf("backup --force: exit %d: %s%s", code, out, errOut)
	}

	in.stop(t)
	out, errOut, code := runBinary(t, dir, nil, "restore", "--data", data, backup)
	if code != 0 || !strings.Contains(out, "restored ") {
		t.Fatalf("restore with the server stopped: exit %d: %s%s", code, out, errOut)
	}
	aside, _ := filepath.Glob(filepath.Join(data, "warehouse.db.before-restore-*"))
	if len(aside) != 1 {
		t.Fatalf("the replaced database is not kept aside: %v (%s)", aside, errOut)
	}
	again := startInstance(t, "restored", "sqlite:"+filepath.Join(data, "warehouse.db"), "--hash-workers", "inline")
	must(t, 200, "GET", again.base+"/api/v1/movements", login(t, again), nil)
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
