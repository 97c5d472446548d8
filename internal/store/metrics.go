package store

import (
	"database/sql"
	"time"
)

// BatchMetrics is told of each SQLite group commit (sqlite_batch.go),
// declared here where it is used (internal/metrics implements it).
type BatchMetrics interface {
	// CommitBatch records a COMMIT of size write transactions that took
	// commit.
	CommitBatch(size int, commit time.Duration)
}

type nopBatchMetrics struct{}

func (nopBatchMetrics) CommitBatch(int, time.Duration) {}

// Pool is one of the store's database/sql pools.
type Pool struct {
	// Name is "read" or "write" on SQLite, "shared" on PostgreSQL (one
	// pool for both).
	Name string
	DB   *sql.DB
}

// Pools are the store's connection pools, for their statistics
// (sql.DB.Stats) only: every query goes through the store's methods.
// The checkpointer's single connection is left out.
func (db *DB) Pools() []Pool {
	if db.read == db.write {
		return []Pool{{Name: "shared", DB: db.write.raw()}}
	}
	return []Pool{{Name: "read", DB: db.read.raw()}, {Name: "write", DB: db.write.raw()}}
}
