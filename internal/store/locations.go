package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

const locationColumns = `l.id, l.code, l.name, l.parent_id, l.structural, l.active, l.path, l.depth, l.created_at, l.created_by, l.updated_at, l.updated_by, l.version`

func scanLocation(row scanner) (*warehouse.Location, error) {
	var l warehouse.Location
	dest, done := locationDest(&l)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return &l, nil
}

// locationDest is itemDest for locationColumns.
func locationDest(l *warehouse.Location) ([]any, func()) {
	var parent sql.NullInt64
	var created, updated int64
	return []any{&l.ID, &l.Code, &l.Name, &parent, &l.Structural, &l.Active, &l.Path, &l.Depth, &created, &l.CreatedBy, &updated, &l.UpdatedBy, &l.Version}, func() {
		if parent.Valid {
			l.ParentID = &parent.Int64
		}
		l.CreatedAt, l.UpdatedAt = fromMS(created), fromMS(updated)
	}
}

func locationTx(ctx context.Context, tx *txn, id int64) (*warehouse.Location, error) {
	return lockLocationTx(ctx, tx, id, "")
}

// lockLocationTx reads a location with a locking clause (see txn.keyShare).
func lockLocationTx(ctx context.Context, tx *txn, id int64, lock string) (*warehouse.Location, error) {
	l, err := scanLocation(tx.QueryRowContext(ctx, `SELECT `+locationColumns+` FROM locations l WHERE l.id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("location", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read location: %w", wrapErr(err))
	}
	return l, nil
}

func checkCodeFree(ctx context.Context, tx *txn, code string, self int64) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM locations WHERE code = ? AND id <> ?) + (SELECT count(*) FROM items WHERE barcode = ?)`,
		code, self, code).Scan(&n)
	if err != nil {
		return fmt.Errorf("check code: %w", wrapErr(err))
	}
	if n > 0 {
		return warehouse.Errorf(warehouse.ECONFLICT, "code %q is already used by a location or as an item barcode", code)
	}
	return nil
}

// parentOf reads the would-be parent; it must exist and be active.
func parentOf(ctx context.Context, tx *txn, id *int64) (*warehouse.Location, error) {
	if id == nil {
		return nil, nil
	}
	p, err := locationTx(ctx, tx, *id)
	if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("parent location %d does not exist", *id),
			Fields: []warehouse.FieldError{{Field: "parent_id", Message: "no such location"}}}
	}
	if err != nil {
		return nil, err
	}
	if !p.Active {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("parent location %s is archived", p.Path),
			Fields: []warehouse.FieldError{{Field: "parent_id", Message: "archived location"}}}
	}
	return p, nil
}

func tooDeep() error {
	return &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("locations may be at most %d levels deep", warehouse.MaxLocationDepth),
		Fields: []warehouse.FieldError{{Field: "parent_id", Message: "too deep"}}}
}

// CreateLocation inserts l under its parent (or at the top).
func (db *DB) CreateLocation(ctx context.Context, l *warehouse.Location, actor string) (err error) {
	defer wrap(&err, "CreateLocation(%q)", l.Code)
	if err := l.Validate(); err != nil {
		return err
	}
	now := db.now()
	return db.tx(ctx, func(tx *txn) error {
		if err := tx.serialize(ctx, lockMasterData); err != nil {
			return err
		}
		return createLocationTx(ctx, tx, now, l, actor)
	})
}

// createLocationTx is CreateLocation inside tx, on a validated l.
func createLocationTx(ctx context.Context, tx *txn, now time.Time, l *warehouse.Location, actor string) error {
	parent, err := parentOf(ctx, tx, l.ParentID)
	if err != nil {
		return err
	}
	path, depth := l.Code, 1
	if parent != nil {
		path, depth = parent.Path+"/"+l.Code, parent.Depth+1
	}
	if depth > warehouse.MaxLocationDepth {
		return tooDeep()
	}
	if err := checkCodeFree(ctx, tx, l.Code, 0); err != nil {
		return err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO locations (code, name, parent_id, structural, active, path, depth, created_at, created_by, updated_at, updated_by, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
		l.Code, l.Name, l.ParentID, l.Structural, true, path, depth, ms(now), actor, ms(now), actor).Scan(&id)
	if err != nil {
		if isUniqueViolation(err) {
			return warehouse.Errorf(warehouse.ECONFLICT, "location code %q already exists", l.Code)
		}
		return fmt.Errorf("insert location: %w", wrapErr(err))
	}
	got, err := locationTx(ctx, tx, id)
	if err != nil {
		return err
	}
	*l = *got
	return audit(ctx, tx, now, "location", strconv.FormatInt(id, 10), "create", nil, got, actor)
}

// Location returns one location.
func (db *DB) Location(ctx context.Context, id int64) (_ *warehouse.Location, err error) {
	defer wrap(&err, "Location(%d)", id)
	l, err := scanLocation(db.read.QueryRowContext(ctx, `SELECT `+locationColumns+` FROM locations l WHERE l.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("location", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read location: %w", wrapErr(err))
	}
	return l, nil
}

// LocationByCode returns the location with that code, or ENOTFOUND.
func (db *DB) LocationByCode(ctx context.Context, code string) (_ *warehouse.Location, err error) {
	defer wrap(&err, "LocationByCode(%q)", code)
	l, err := scanLocation(db.read.QueryRowContext(ctx, `SELECT `+locationColumns+` FROM locations l WHERE l.code = ?`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, warehouse.Errorf(warehouse.ENOTFOUND, "no location with code %q", code)
	}
	if err != nil {
		return nil, fmt.Errorf("read location: %w", wrapErr(err))
	}
	return l, nil
}

func locationWhere(f warehouse.LocationFilter) *where {
	w := &where{}
	if f.ParentID != nil {
		w.add(`l.parent_id = ?`, *f.ParentID)
	}
	if f.Root {
		w.add(`l.parent_id IS NULL`)
	}
	if f.Q != "" {
		p := "%" + likeEscape(f.Q) + "%"
		w.add(`(lower(l.code) LIKE lower(?) ESCAPE '\' OR lower(l.name) LIKE lower(?) ESCAPE '\')`, p, p)
	}
	if f.Active != nil {
		w.add(`l.active = ?`, *f.Active)
	}
	if f.Structural != nil {
		w.add(`l.structural = ?`, *f.Structural)
	}
	return w
}

// ListLocations returns a page of locations ordered by path.
func (db *DB) ListLocations(ctx context.Context, f warehouse.LocationFilter, p warehouse.Page) (_ []*warehouse.Location, _ string, err error) {
	defer wrap(&err, "ListLocations")
	w := locationWhere(f)
	var after string
	if ok, err := decodeCursor(p.After, "locations", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`l.path > ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+locationColumns+` FROM locations l`+w.String()+` ORDER BY l.path LIMIT ?`, append(w.args, limit+1), scanLocation)
	if err != nil {
		return nil, "", fmt.Errorf("list locations: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("locations", out[limit-1].Path)
	}
	return out, next, nil
}

// CountLocations counts the locations matching f.
func (db *DB) CountLocations(ctx context.Context, f warehouse.LocationFilter) (_ int, err error) {
	defer wrap(&err, "CountLocations")
	w := locationWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM locations l`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count locations: %w", wrapErr(err))
	}
	return n, nil
}

// EachLocation streams every location matching f in path order to fn.
func (db *DB) EachLocation(ctx context.Context, f warehouse.LocationFilter, fn func(*warehouse.Location) error) (err error) {
	defer wrap(&err, "EachLocation")
	w := locationWhere(f)
	return eachRow(ctx, db.read, `SELECT `+locationColumns+` FROM locations l`+w.String()+` ORDER BY l.path`, w.args, scanLocation, fn)
}

func locationStock(ctx context.Context, tx *txn, id int64) (int64, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(on_hand), 0) FROM stock_balances WHERE location_id = ?`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("read location stock: %w", wrapErr(err))
	}
	return n, nil
}

// UpdateLocation renames, re-parents or flags a location if it is still at
// version. Re-parenting rewrites the paths of the whole subtree in the same
// transaction.
func (db *DB) UpdateLocation(ctx context.Context, id, version int64, p warehouse.LocationPatch, actor string) (_ *warehouse.Location, err error) {
	defer wrap(&err, "UpdateLocation(%d)", id)
	now := db.now()
	var out *warehouse.Location
	err = db.tx(ctx, func(tx *txn) error {
		if err := tx.serialize(ctx, lockMasterData); err != nil {
			return err
		}
		var err error
		out, _, err = updateLocationTx(ctx, tx, now, id, version, p, actor, false)
		return err
	})
	return out, err
}

// updateLocationTx is UpdateLocation inside tx; skipSame as for
// updateItemTx.
func updateLocationTx(ctx context.Context, tx *txn, now time.Time, id, version int64, p warehouse.LocationPatch, actor string, skipSame bool) (out *warehouse.Location, changed bool, err error) {
	err = func() error {
		if err := tx.lockRow(ctx, "locations", id); err != nil {
			return err
		}
		before, err := locationTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(before.Version, version); err != nil {
			return err
		}
		l := *before
		p.Apply(&l)
		if err := l.Validate(); err != nil {
			return err
		}
		if skipSame && l.Code == before.Code && l.Name == before.Name && sameParent(l.ParentID, before.ParentID) &&
			l.Structural == before.Structural && l.Active == before.Active {
			out = before
			return nil
		}
		changed = true
		if l.Code != before.Code {
			if err := checkCodeFree(ctx, tx, l.Code, id); err != nil {
				return err
			}
		}
		stock, err := locationStock(ctx, tx, id)
		if err != nil {
			return err
		}
		if l.Structural && !before.Structural && stock != 0 {
			return warehouse.Errorf(warehouse.ECONFLICT, "location %s holds stock and cannot become structural", before.Path)
		}
		if before.Active && !l.Active {
			if stock != 0 {
				return warehouse.Errorf(warehouse.ECONFLICT, "location %s still holds stock; move it out before archiving", before.Path)
			}
			var children int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM locations WHERE parent_id = ? AND active = ?`, id, true).Scan(&children); err != nil {
				return fmt.Errorf("read children: %w", wrapErr(err))
			}
			if children > 0 {
				return warehouse.Errorf(warehouse.ECONFLICT, "location %s has %d active sub-locations; archive them first", before.Path, children)
			}
		}
		// New path and depth.
		parentChanged := (l.ParentID == nil) != (before.ParentID == nil) || (l.ParentID != nil && *l.ParentID != *before.ParentID)
		if parentChanged || l.Code != before.Code {
			var parent *warehouse.Location
			if parentChanged {
				if parent, err = parentOf(ctx, tx, l.ParentID); err != nil {
					return err
				}
			} else if l.ParentID != nil {
				if parent, err = locationTx(ctx, tx, *l.ParentID); err != nil {
					return err
				}
			}
			l.Path, l.Depth = l.Code, 1
			if parent != nil {
				if parent.ID == id || strings.HasPrefix(parent.Path+"/", before.Path+"/") {
					return &warehouse.Error{Code: warehouse.EINVALID,
						Message: fmt.Sprintf("cannot move %s under %s: that is itself or one of its sub-locations", before.Path, parent.Path),
						Fields:  []warehouse.FieldError{{Field: "parent_id", Message: "would create a cycle"}}}
				}
				l.Path, l.Depth = parent.Path+"/"+l.Code, parent.Depth+1
			}
			var maxDepth int
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(depth), 0) FROM locations WHERE substr(path, 1, ?) = ?`,
				len(before.Path)+1, before.Path+"/").Scan(&maxDepth); err != nil {
				return fmt.Errorf("read subtree: %w", wrapErr(err))
			}
			if l.Depth > warehouse.MaxLocationDepth || (maxDepth > 0 && maxDepth-before.Depth+l.Depth > warehouse.MaxLocationDepth) {
				return tooDeep()
			}
			// Rewrite the subtree's paths: prefix swap, depth shift.
			_, err = tx.ExecContext(ctx, `UPDATE locations SET path = ? || substr(path, ?), depth = depth + ? WHERE substr(path, 1, ?) = ?`,
				l.Path, len(before.Path)+1, l.Depth-before.Depth, len(before.Path)+1, before.Path+"/")
			if err != nil {
				return fmt.Errorf("move subtree: %w", wrapErr(err))
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE locations SET code = ?, name = ?, parent_id = ?, structural = ?, active = ?, path = ?, depth = ?,
			updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?`,
			l.Code, l.Name, l.ParentID, l.Structural, l.Active, l.Path, l.Depth, ms(now), actor, id)
		if err != nil {
			if isUniqueViolation(err) {
				return warehouse.Errorf(warehouse.ECONFLICT, "location code %q already exists", l.Code)
			}
			return fmt.Errorf("update location: %w", wrapErr(err))
		}
		if out, err = locationTx(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, now, "location", strconv.FormatInt(id, 10), "update", before, out, actor)
	}()
	return out, changed, err
}

func sameParent(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// ArchiveLocation sets active=false; it must hold no stock and have no
// active children.
func (db *DB) ArchiveLocation(ctx context.Context, id, version int64, actor string) (err error) {
	defer wrap(&err, "ArchiveLocation(%d)", id)
	f := false
	_, err = db.UpdateLocation(ctx, id, version, warehouse.LocationPatch{Active: &f}, actor)
	return err
}
