// Package importer is the application service of bulk import: a CSV file
// of items, locations or stock read twice, once to validate every row with
// the domain's rules and once to apply them through the store in one
// transaction. The JSON API and the CLI (and the console's upload page)
// call Import, so none of them copies these rules.
//
// It is a package of its own rather than methods on internal/inventory:
// most of it is CSV (columns, lines, the two passes), items and locations
// are master data, not the ledger, and stock posts through the store's
// movement path with the domain's movement rules, which inventory shares.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/warehouse-api/warehouse"
)

// Store is what the service needs of storage, declared here where it is
// used. Each method applies every row each gives in one transaction and
// returns every refused row as one error; dryRun rolls back at the end.
type Store interface {
	ImportItems(ctx context.Context, actor string, each func(func(warehouse.ItemRow) error) error, dryRun bool) (warehouse.ImportCounts, error)
	ImportLocations(ctx context.Context, actor string, each func(func(warehouse.LocationRow) error) error, dryRun bool) (warehouse.ImportCounts, error)
	ImportStock(ctx context.Context, actor string, each func(func(warehouse.StockChunk) error) error, dryRun bool) (warehouse.ImportCounts, error)
}

// Kind is what a file holds.
type Kind string

// The kinds of import.
const (
	Items     Kind = "items"
	Locations Kind = "locations"
	Stock     Kind = "stock"
)

// Kinds lists every kind, in the order they are best imported.
var Kinds = []Kind{Items, Locations, Stock}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("unknown import kind %q: use items, locations or stock", s),
		Fields: []warehouse.FieldError{{Field: "kind", Message: "must be items, locations or stock"}}}
}

// Actor is who imports: the name the audit trail and the ledger record,
// and the roles the rules check.
type Actor struct {
	Name  string
	Roles []string
}

// Phases of an import, as Progress reports them.
const (
	PhaseValidate = "validate"
	PhaseApply    = "apply"
)

// Step is how far an import is: Rows of Total rows done in Phase (Total is
// 0 while validating: the rows are being counted).
type Step struct {
	Phase string
	Rows  int
	Total int
}

// Progress is told of each step; nil reports nothing. It is called on the
// importing goroutine and should return quickly.
type Progress func(Step)

// progressEvery is how many rows pass between two reports.
const progressEvery = 1000

// Summary is what an import did, or on a dry run would do.
type Summary struct {
	Kind      Kind `json:"kind" enum:"items,locations,stock"`
	DryRun    bool `json:"dry_run" doc:"Nothing was written: the counts are what the import would do"`
	Rows      int  `json:"rows" doc:"Data rows in the file (the header not counted)"`
	Created   int  `json:"created" doc:"Items or locations created; stock: balances counted"`
	Updated   int  `json:"updated"`
	Unchanged int  `json:"unchanged" doc:"Rows equal to what is stored: nothing written"`
	// MovementIDs are a stock import's count movements, one per chunk of
	// warehouse.MaxMovementLines rows.
	MovementIDs []int64 `json:"movement_ids" doc:"Stock: the count movements posted, one per 500 rows"`
	Replayed    bool    `json:"replayed" doc:"Stock: this file was imported before; nothing was posted again"`
	// FileSHA256 identifies the file (a stock import's idempotency key is
	// derived from it).
	FileSHA256 string        `json:"file_sha256"`
	Elapsed    time.Duration `json:"-"`
}

// Service imports files.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a service on st.
func New(st Store) *Service { return &Service{store: st, now: time.Now} }

// Import reads src (read twice: it must seek) as a CSV file of kind and
// applies it for by. A file with any bad row is refused whole: the error
// is a *warehouse.Error with code invalid whose Fields list every problem
// with its line and column.
func (s *Service) Import(ctx context.Context, by Actor, kind Kind, src io.ReadSeeker, dryRun bool, progress Progress) (Summary, error) {
	start := s.now()
	if progress == nil {
		progress = func(Step) {}
	}
	if _, err := ParseKind(string(kind)); err != nil {
		return Summary{}, err
	}
	if !warehouse.HasRole(by.Roles, warehouse.RoleManager) {
		return Summary{}, warehouse.Errorf(warehouse.EFORBIDDEN, "importing needs the %s role", warehouse.RoleManager)
	}
	if kind == Stock {
		if err := warehouse.CanPostMovement(by.Roles, warehouse.MoveCount); err != nil {
			return Summary{}, err
		}
	}
	spec := specs[kind]

	// Pass 1: every row checked, nothing kept but the keys that must be
	// unique in the file (and, for locations, the tree the rows form).
	h := sha256.New()
	v := spec.newValidator()
	var bad warehouse.RowErrors
	rows, err := scan(ctx, io.TeeReader(src, h), spec, &bad, func(r record) {
		v.check(r, &bad)
		if r.n%progressEvery == 0 {
			progress(Step{Phase: PhaseValidate, Rows: r.n})
		}
	})
	if err != nil {
		return Summary{}, err
	}
	progress(Step{Phase: PhaseValidate, Rows: rows, Total: rows})
	v.finish(&bad)
	if err := bad.Err(); err != nil {
		return Summary{}, err
	}
	sum := Summary{Kind: kind, DryRun: dryRun, Rows: rows, FileSHA256: hex.EncodeToString(h.Sum(nil)), MovementIDs: []int64{}}

	// Pass 2: the rows again, to the store. PostgreSQL may retry the
	// transaction, so each pass rewinds.
	rewind := func() error {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind the file: %w", err)
		}
		return nil
	}
	done := 0
	tick := func() {
		done++
		if done%progressEvery == 0 || done == rows {
			progress(Step{Phase: PhaseApply, Rows: done, Total: rows})
		}
	}
	var c warehouse.ImportCounts
	switch kind {
	case Items:
		c, err = s.store.ImportItems(ctx, by.Name, func(yield func(warehouse.ItemRow) error) error {
			done = 0
			if err := rewind(); err != nil {
				return err
			}
			return rescan(ctx, src, spec, func(r record) error {
				tick()
				return yield(itemRow(r))
			})
		}, dryRun)
	case Locations:
		lv := v.(*locationValidator)
		c, err = s.store.ImportLocations(ctx, by.Name, func(yield func(warehouse.LocationRow) error) error {
			done = 0
			// One pass per level of the file's tree: parents first,
			// whatever order the file gives them in.
			for level := 0; level <= lv.maxLevel; level++ {
				if err := rewind(); err != nil {
					return err
				}
				err := rescan(ctx, src, spec, func(r record) error {
					row := locationRow(r)
					if lv.level[row.Code] != level {
						return nil
					}
					tick()
					return yield(row)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}, dryRun)
	case Stock:
		c, err = s.store.ImportStock(ctx, by.Name, func(yield func(warehouse.StockChunk) error) error {
			done = 0
			if err := rewind(); err != nil {
				return err
			}
			parts := (rows + warehouse.MaxMovementLines - 1) / warehouse.MaxMovementLines
			chunk := warehouse.StockChunk{}
			n := 0
			flush := func() error {
				if len(chunk.Rows) == 0 {
					return nil
				}
				n++
				chunk.Reference = "import " + sum.FileSHA256[:16]
				chunk.Note = fmt.Sprintf("opening count imported from a file, part %d of %d", n, parts)
				chunk.Idem = &warehouse.Idempotency{User: warehouse.ImportKeyUser, Key: fmt.Sprintf("import-stock-%s-%d", sum.FileSHA256, n), Hash: h.Sum(nil)}
				err := yield(chunk)
				chunk = warehouse.StockChunk{Rows: chunk.Rows[:0]}
				return err
			}
			err := rescan(ctx, src, spec, func(r record) error {
				tick()
				chunk.Rows = append(chunk.Rows, stockRow(r))
				if len(chunk.Rows) == warehouse.MaxMovementLines {
					return flush()
				}
				return nil
			})
			if err != nil {
				return err
			}
			return flush()
		}, dryRun)
	}
	if err != nil {
		// The store named the operation; a refusal is a domain error the
		// caller shows as it is.
		return Summary{}, err
	}
	sum.Created, sum.Updated, sum.Unchanged, sum.Replayed = c.Created, c.Updated, c.Unchanged, c.Replayed
	if c.MovementIDs != nil {
		sum.MovementIDs = c.MovementIDs
	}
	sum.Elapsed = s.now().Sub(start)
	return sum, nil
}

// errChanged: the second pass met a row the first would have refused.
var errChanged = errors.New("the file changed while it was being imported")
