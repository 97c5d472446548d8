// Helpers for scanning rows and passing NULLs, shared by every table.

package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/warehouse-api/warehouse"
)

type scanner interface{ Scan(...any) error }

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullQty(q *warehouse.Qty) sql.NullInt64 {
	if q == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*q), Valid: true}
}

// queryRows runs a query and scans every row.
func queryRows[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := eachRow(ctx, q, query, args, scan, func(v T) error { out = append(out, v); return nil })
	return out, err
}

func eachRow[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any, scan func(scanner) (T, error), fn func(T) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return wrapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return wrapErr(err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return wrapErr(rows.Err())
}

func qtyPtr(v sql.NullInt64) *warehouse.Qty {
	if !v.Valid {
		return nil
	}
	q := warehouse.Qty(v.Int64)
	return &q
}

func int64Ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}
