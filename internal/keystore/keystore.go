// Package keystore keeps token-signing keys in the database, shared by
// every instance: the newest active key of the configured algorithm signs,
// every other active key still verifies, so a rotation never invalidates
// tokens already issued. Keys are stored with auth.MarshalKey.
package keystore

import (
	"context"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/store"
)

// Key is a stored key with its state, for listings.
type Key struct {
	auth.Key
	CreatedAt time.Time
	RetiredAt time.Time // zero while active
	Current   bool      // signs new tokens
}

// decode reads a stored key. Keys stored before keys were marshalled are
// raw HMAC secrets.
func decode(sk store.SigningKey) (auth.Key, error) {
	if k, err := auth.UnmarshalKey(sk.Secret); err == nil {
		k.ID, k.Algorithm = sk.ID, sk.Algorithm
		return k, nil
	}
	switch sk.Algorithm {
	case auth.AlgHS256, auth.AlgHS384, auth.AlgHS512:
		return auth.Key{ID: sk.ID, Algorithm: sk.Algorithm, Secret: sk.Secret}, nil
	}
	return auth.Key{}, fmt.Errorf("stored key %s (%s) is unreadable", sk.ID, sk.Algorithm)
}

// List returns every stored key, newest first, marking the one that signs
// for algorithm.
func List(ctx context.Context, db *store.DB, algorithm string) ([]Key, error) {
	stored, err := db.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(stored))
	current := false
	for _, sk := range stored {
		k, err := decode(sk)
		if err != nil {
			return nil, err
		}
		isCurrent := !current && sk.RetiredAt.IsZero() && sk.Algorithm == algorithm
		current = current || isCurrent
		out = append(out, Key{Key: k, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt, Current: isCurrent})
	}
	return out, nil
}

// Ensure makes sure an active key for algorithm exists, generating one on
// first start.
func Ensure(ctx context.Context, db *store.DB, algorithm string) error {
	keys, err := List(ctx, db, algorithm)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Current {
			return nil
		}
	}
	k, err := auth.GenerateKey(algorithm)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	b, err := auth.MarshalKey(k)
	if err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	_, err = db.AddFirstSigningKey(ctx, k.ID, k.Algorithm, b)
	return err
}

// Rotate generates a new key for algorithm; it signs from now on, and the
// previous keys keep verifying until retired.
func Rotate(ctx context.Context, db *store.DB, algorithm string) (auth.Key, error) {
	k, err := auth.GenerateKey(algorithm)
	if err != nil {
		return auth.Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	b, err := auth.MarshalKey(k)
	if err != nil {
		return auth.Key{}, fmt.Errorf("store signing key: %w", err)
	}
	if err := db.AddSigningKey(ctx, k.ID, k.Algorithm, b); err != nil {
		return auth.Key{}, err
	}
	return k, nil
}

// Retire stops a key from verifying. The key signing for algorithm cannot
// be retired: rotate first.
func Retire(ctx context.Context, db *store.DB, algorithm, kid string) error {
	keys, err := List(ctx, db, algorithm)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID == kid && k.Current {
			return warehouse.Errorf(warehouse.ECONFLICT, "key %s signs new tokens; rotate before retiring it", kid)
		}
	}
	return db.RetireSigningKey(ctx, kid)
}

// Active returns the signing key for algorithm and every other active key.
func Active(ctx context.Context, db *store.DB, algorithm string) (auth.Key, []auth.Key, error) {
	keys, err := List(ctx, db, algorithm)
	if err != nil {
		return auth.Key{}, nil, err
	}
	var current *auth.Key
	var others []auth.Key
	for _, k := range keys {
		if !k.RetiredAt.IsZero() {
			continue
		}
		if k.Current {
			cur := k.Key
			current = &cur
		} else {
			others = append(others, k.Key)
		}
	}
	if current == nil {
		return auth.Key{}, nil, fmt.Errorf("no active %s signing key in the database", algorithm)
	}
	return *current, others, nil
}

// Keyring builds a keyring from the database.
func Keyring(ctx context.Context, db *store.DB, algorithm string) (*auth.Keyring, error) {
	cur, others, err := Active(ctx, db, algorithm)
	if err != nil {
		return nil, err
	}
	return auth.NewKeyring(cur, others...)
}

// Reload refreshes kr from the database (after a rotation elsewhere).
func Reload(ctx context.Context, db *store.DB, algorithm string, kr *auth.Keyring) error {
	cur, others, err := Active(ctx, db, algorithm)
	if err != nil {
		return err
	}
	return kr.SetKeys(cur, others...)
}
