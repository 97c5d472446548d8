package store

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// benchOrders makes n confirmed one-line orders of it (qty 1) on stock in
// four bins, untimed.
func benchOrders(b *testing.B, db *DB, prefix string, n int) *warehouse.Item {
	b.Helper()
	it, a, c := seedStock(b, db)
	receive(b, db, it.SKU, a.ID, 1_000_000)
	receive(b, db, it.SKU, c.ID, 1_000_000)
	for i := range n {
		confirmedOrder(b, db, fmt.Sprint(prefix, i), it.SKU, 1)
	}
	return it
}

// BenchmarkAllocate allocates orders from the same balances with 8
// concurrent clients: go test -run '^$' -bench Allocate ./internal/store
// (PostgreSQL with CI=true or a PostgreSQL available).
func BenchmarkAllocate(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) {
			db := openTestDB(b, engine)
			benchOrders(b, db, "SO-B", b.N)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if _, err := db.AllocateOrder(ctx, fmt.Sprint("SO-B", i), 0, "bench"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocations/s")
		})
	}
}

// BenchmarkPick confirms picks (each posting its issue through the ledger)
// with 8 concurrent clients.
func BenchmarkPick(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) {
			db := openTestDB(b, engine)
			it := benchOrders(b, db, "SO-P", b.N)
			ctx := context.Background()
			for i := range b.N {
				if _, err := db.AllocateOrder(ctx, fmt.Sprint("SO-P", i), 0, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					_, err := db.ConfirmPick(ctx, fmt.Sprint("SO-P", i), warehouse.PickRequest{LocationCode: "A-01", ItemCode: it.SKU}, "bench",
						&warehouse.Idempotency{User: "bench", Key: fmt.Sprint("k", i), Hash: []byte("h")})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "picks/s")
		})
	}
}
