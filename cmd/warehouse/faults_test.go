package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestSIGTERMDrains signals a server while it is reading the body of a
// movement: the listener closes at once (new connections are refused),
// the request in flight completes and is answered, the process exits
// cleanly, and the movement is there after a restart.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "warehouse.db")
	in := startInstance(t, "drain", dbURL, "--hash-workers", "inline", "--shutdown-timeout", "20s")
	token := login(t, in)
	item, loc := setupStock(t, in, token, 0)
	body, err := json.Marshal(receiptOf(item, loc, 7))
	if err != nil {
		t.Fatal(err)
	}

	c, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Expect: 100-continue makes the server say when the handler starts
	// reading the body: from then on the request is in flight.
	fmt.Fprintf(c, "POST /api/v1/movements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", token, rand.Text(), len(body))
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}
	if _, err := c.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The signal is handled asynchronously: wait for the listener to go.
	for deadline := time.Now().Add(20 * time.Second); ; {
		nc, err := net.DialTimeout("tcp", strings.TrimPrefix(in.base, "http://"), time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !in.alive() {
		t.Fatalf("exited with a request in flight\n%s", in.logs)
	}

	if _, err := c.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v\n%s", err, in.logs)
	}
	var mv created
	err = json.NewDecoder(resp.Body).Decode(&mv)
	resp.Body.Close()
	if resp.StatusCode != 201 || err != nil || mv.ID == 0 {
		t.Fatalf("the request in flight: %d %v", resp.StatusCode, err)
	}
	select {
	case err := <-in.done:
		in.done <- err
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, in.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("did not exit after draining\n%s", in.logs)
	}

	again := startInstance(t, "drain-restarted", dbURL, "--hash-workers", "inline")
	must(t, 200, "GET", fmt.Sprintf("%s/api/v1/movements/%d", again.base, mv.ID), login(t, again), nil)
}

// TestKill9 kills a server with SIGKILL while 16 clients post movements
// of two lines each, a few rounds over one database, on SQLite and on
// PostgreSQL: after every restart each acknowledged movement is there with
// both its lines, no movement is half applied, and every balance equals
// the sum of its ledger entries. (SQLite's synchronous=NORMAL in WAL mode
// loses nothing on a process crash; only an OS crash or power loss may
// take the last commits.)
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Parallel()
	pgtest.ForEach(t, testKill9)
}

func testKill9(t *testing.T, engine string) {
	const rounds, clients, acksPerRound = 3, 16, 150
	dbURL := pgtest.URL(t, engine)
	args := []string{"--hash-workers", "inline"}

	in := startInstance(t, "kill9-0", dbURL, args...)
	token := login(t, in)
	item, a := setupStock(t, in, token, 0)
	b := mustCreate(t, in.base+"/api/v1/locations", token, newLocation{Code: "BIN-2", Name: "Bin 2"})
	mv := newMovement{Type: "receipt", Lines: []movementLine{{ItemID: item, ToLocationID: a, Qty: 1}, {ItemID: item, ToLocationID: b, Qty: 2}}}

	var acked []int64
	for round := range rounds {
		if round > 0 {
			in = startInstance(t, fmt.Sprint("kill9-", round), dbURL, args...)
			token = login(t, in)
			checkAcked(t, in, token, acked)
		}
		var (
			mu     sync.Mutex
			n      atomic.Int64
			wg     sync.WaitGroup
			ctx    context.Context
			done   context.CancelFunc
			url    = in.base + "/api/v1/movements"
			enough = make(chan struct{})
			once   sync.Once
		)
		ctx, done = context.WithCancel(context.Background())
		for range clients {
			wg.Go(func() {
				for ctx.Err() == nil {
					code, _, body, err := send("POST", url, token, mv, "Idempotency-Key", rand.Text())
					if err != nil {
						return // the server is gone
					}
					if code != 201 {
						t.Errorf("round %d: %d %s", round, code, body)
						return
					}
					var c created
					if err := json.Unmarshal(body, &c); err != nil || c.ID == 0 {
						t.Errorf("round %d: %s", round, body)
						return
					}
					mu.Lock()
					acked = append(acked, c.ID)
					mu.Unlock()
					if n.Add(1) == acksPerRound {
						once.Do(func() { close(enough) })
					}
				}
			})
		}
		select {
		case <-enough:
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: only %d movements acknowledged", round, n.Load())
		}
		// SIGKILL with the clients still posting.
		if err := in.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		err := <-in.done
		in.done <- err
		done()
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	in = startInstance(t, "kill9-last", dbURL, args...)
	checkAcked(t, in, login(t, in), acked)
	in.stop(t)
	driver, dsn := "pgx", dbURL
	if engine == pgtest.SQLite {
		driver, dsn = "sqlite", "file:"+strings.TrimPrefix(dbURL, "sqlite:")
	}
	checkMovementsWhole(t, driver, dsn, len(acked))
}

// checkAcked asserts that every acknowledged movement is there with both
// its lines.
func checkAcked(t *testing.T, in *instance, token string, ids []int64) {
	t.Helper()
	for _, id := range ids {
		b := must(t, 200, "GET", fmt.Sprintf("%s/api/v1/movements/%d", in.base, id), token, nil)
		var m struct {
			Lines []json.RawMessage `json:"lines"`
		}
		if err := json.Unmarshal(b, &m); err != nil || len(m.Lines) != 2 {
			t.Fatalf("acknowledged movement %d: %v %s", id, err, b)
		}
	}
}

// checkMovementsWhole asserts, in the stopped server's database, that no
// movement is half applied (each has its two lines and ledger entries),
// that at least the acknowledged ones are there, and that every balance
// equals the sum of its ledger entries. The SQL is the engines' common
// subset, without parameters.
func checkMovementsWhole(t *testing.T, driver, dsn string, acked int) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var movements, half, bad int
	if err := db.QueryRow(`SELECT count(*) FROM movements`).Scan(&movements); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM movements m WHERE (SELECT count(*) FROM movement_lines l WHERE l.movement_id = m.id) <> 2
		OR (SELECT count(*) FROM ledger_entries e WHERE e.movement_id = m.id) <> 2`).Scan(&half); err != nil {
		t.Fatal(err)
	}
	err = db.QueryRow(`SELECT count(*) FROM stock_balances b WHERE b.on_hand < 0 OR b.on_hand <> (SELECT coalesce(sum(e.qty_delta), 0)
		FROM ledger_entries e WHERE e.item_id = b.item_id AND e.location_id = b.location_id AND e.lot = b.lot)`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if movements < acked || half != 0 || bad != 0 {
		t.Fatalf("%d movements (%d acknowledged), %d half applied, %d balances disagree with the ledger", movements, acked, half, bad)
	}
	t.Logf("%d movements acknowledged over the rounds, %d in the database", acked, movements)
}
