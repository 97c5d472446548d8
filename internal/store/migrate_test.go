package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/warehouse-api/warehouse/internal/store"
)

// TestConcurrentFirstOpen: servers started together on a fresh SQLite
// database all come up: migrations are applied once, under a lock, as on
// PostgreSQL (where goose holds an advisory lock). Before the lock, one of
// two concurrent starts often died with "table users already exists".
func TestConcurrentFirstOpen(t *testing.T) {
	t.Parallel()
	const opens, rounds = 4, 8
	for round := range rounds {
		path := "sqlite:" + filepath.Join(t.TempDir(), "warehouse.db")
		var wg sync.WaitGroup
		errs := make([]error, opens)
		dbs := make([]*store.DB, opens)
		start := make(chan struct{})
		for i := range opens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				dbs[i], errs[i] = store.Open(context.Background(), path, "", store.Options{})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, open %d: %v", round, i, err)
				continue
			}
			v, err := dbs[i].Version(context.Background())
			if err != nil || v == 0 {
				t.Errorf("round %d, open %d: schema version %d, %v", round, i, v, err)
			}
			dbs[i].Close()
		}
	}
}
