// Package keystore keeps token-signing keys in the database, shared by
// every instance. Every active key verifies; per algorithm, one signs. A
// key made by a rotation is first only published (it verifies and is in
// the JWKS) and signs once Policy.PublishDelay has passed, so verifiers
// that cache the JWKS already have it when they meet a token it signed.
// A rotation never invalidates tokens already issued. Keys are stored with
// auth.MarshalKey.
package keystore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// Store is where the keys are kept: the database every instance shares.
// Each change records the security events given in its transaction (the
// audit trail).
type Store interface {
	SigningKeys(ctx context.Context) ([]warehouse.SigningKey, error)
	AddSigningKey(ctx context.Context, kid, algorithm string, material []byte, events ...warehouse.SecurityEvent) error
	AddFirstSigningKey(ctx context.Context, kid, algorithm string, material []byte, events ...warehouse.SecurityEvent) (bool, error)
	RetireSigningKey(ctx context.Context, kid string, events ...warehouse.SecurityEvent) error
}

// Key states, as `warehouse keys list` shows them.
const (
	StateSigns     = "signs"     // signs new tokens of its algorithm
	StatePublished = "published" // verifies and is in the JWKS; signs once its delay ends
	StateVerifies  = "verifies"  // signed before; still verifies its tokens
	StateRetired   = "retired"   // refused
)

// DefaultPublishDelay is longer than the JWKS cache time (max-age=300)
// with room for clocks and slow pollers.
const DefaultPublishDelay = 10 * time.Minute

// Policy says when a new key starts signing.
type Policy struct {
	// PublishDelay is how long a rotated key is only published before it
	// signs (0: it signs at once).
	PublishDelay time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Actor is who rotates and retires, for the audit trail ("cli";
	// empty: "system", the server itself).
	Actor string
}

func (p Policy) actor() string {
	if p.Actor == "" {
		return "system"
	}
	return p.Actor
}

// keyEvent is the audit trail's record of a change to key kid.
func (p Policy) keyEvent(kind, kid string, detail map[string]any) warehouse.SecurityEvent {
	return warehouse.SecurityEvent{Kind: kind, Actor: p.actor(), Entity: "key", EntityID: kid, Detail: detail}
}

func (p Policy) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// Key is a stored key with its state, for listings.
type Key struct {
	auth.Key
	CreatedAt time.Time
	RetiredAt time.Time // zero while active
	State     string    // one of the State constants
	Current   bool      // State == StateSigns
	// SignsAt is when a published key starts signing.
	SignsAt time.Time
	// SignedUntil is when a key in state verifies stopped signing (zero if
	// it never signed).
	SignedUntil time.Time
}

// decode reads a stored key. Keys stored before keys were marshalled are
// raw HMAC secrets.
func decode(sk warehouse.SigningKey) (auth.Key, error) {
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

// List returns every stored key, newest first, with its state. States do
// not depend on the algorithm a server runs with: per algorithm, the
// newest active key whose publish delay has passed signs (or, if none has,
// the oldest: the first key of an algorithm signs at once, nothing having
// been published before it).
func (p Policy) List(ctx context.Context, db Store) ([]Key, error) {
	stored, err := db.SigningKeys(ctx) // newest first
	if err != nil {
		return nil, err
	}
	now := p.now()
	out := make([]Key, 0, len(stored))
	byAlg := map[string][]int{} // active keys' indexes in out, newest first
	for _, sk := range stored {
		k, err := decode(sk)
		if err != nil {
			return nil, err
		}
		key := Key{Key: k, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt, State: StateRetired}
		if sk.RetiredAt.IsZero() {
			byAlg[sk.Algorithm] = append(byAlg[sk.Algorithm], len(out))
		}
		out = append(out, key)
	}
	for _, idx := range byAlg {
		cur := len(idx) - 1
		for i, j := range idx {
			if !out[j].CreatedAt.Add(p.PublishDelay).After(now) {
				cur = i
				break
			}
		}
		for i, j := range idx {
			k := &out[j]
			switch {
			case i == cur:
				k.State, k.Current = StateSigns, true
			case i < cur:
				k.State, k.SignsAt = StatePublished, k.CreatedAt.Add(p.PublishDelay)
			default:
				// It signed until the next newer key started to.
				k.State = StateVerifies
				k.SignedUntil = out[idx[i-1]].CreatedAt.Add(p.PublishDelay)
				if i-1 == cur && k.SignedUntil.After(now) {
					k.SignedUntil = now
				}
			}
		}
	}
	return out, nil
}

// List is Policy{}.List: keys sign as soon as they are made.
func List(ctx context.Context, db Store) ([]Key, error) { return Policy{}.List(ctx, db) }

// Ensure makes sure an active key for algorithm exists, generating one on
// first start (it signs at once: no key of that algorithm was published).
func Ensure(ctx context.Context, db Store, algorithm string) error {
	keys, err := List(ctx, db)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Current && k.Algorithm == algorithm {
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
	_, err = db.AddFirstSigningKey(ctx, k.ID, k.Algorithm, b,
		Policy{}.keyEvent(warehouse.KindKeyRotated, k.ID, map[string]any{"algorithm": k.Algorithm, "first": true}))
	return err
}

// Rotate is Policy{}.Rotate: the server's own rotation.
func Rotate(ctx context.Context, db Store, algorithm string) (auth.Key, error) {
	return Policy{}.Rotate(ctx, db, algorithm)
}

// Rotate generates a new key for algorithm. It is published at once and
// signs once the policy's publish delay has passed; the previous keys keep
// verifying until retired. It is audited as key_rotated by p.Actor.
func (p Policy) Rotate(ctx context.Context, db Store, algorithm string) (auth.Key, error) {
	k, err := auth.GenerateKey(algorithm)
	if err != nil {
		return auth.Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	b, err := auth.MarshalKey(k)
	if err != nil {
		return auth.Key{}, fmt.Errorf("store signing key: %w", err)
	}
	ev := p.keyEvent(warehouse.KindKeyRotated, k.ID, map[string]any{"algorithm": k.Algorithm, "publish_delay": p.PublishDelay.String()})
	if err := db.AddSigningKey(ctx, k.ID, k.Algorithm, b, ev); err != nil {
		return auth.Key{}, err
	}
	return k, nil
}

// Retire stops a key from verifying. A key that signs cannot be retired
// (rotate first, and wait for the new key to sign). Unless force is set,
// neither can a key that signed within refreshTTL: refresh tokens it
// signed may still be live, and their sessions would end. The error for
// that is a warehouse ECONFLICT that says until when. It is audited as
// key_retired by p.Actor.
func (p Policy) Retire(ctx context.Context, db Store, kid string, refreshTTL time.Duration, force bool) error {
	keys, err := p.List(ctx, db)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID != kid {
			continue
		}
		switch {
		case k.Current:
			return warehouse.Errorf(warehouse.ECONFLICT, "key %s signs new tokens; rotate before retiring it", kid)
		case !force && k.State == StateVerifies && p.now().Before(k.SignedUntil.Add(refreshTTL)):
			return warehouse.Errorf(warehouse.ECONFLICT, "key %s signed tokens until %s: refresh tokens it signed may be live until %s (--refresh-ttl), and their sessions would end; wait, or retire it anyway with --force",
				kid, k.SignedUntil.UTC().Format(time.RFC3339), k.SignedUntil.Add(refreshTTL).UTC().Format(time.RFC3339))
		}
	}
	return db.RetireSigningKey(ctx, kid, p.keyEvent(warehouse.KindKeyRetired, kid, map[string]any{"forced": force}))
}

// Retire is Policy{}.Retire without the refresh token check.
func Retire(ctx context.Context, db Store, algorithm, kid string) error {
	return Policy{}.Retire(ctx, db, kid, 0, true)
}

// Active returns the signing key for algorithm, every other active key,
// and when the signing key next changes by itself (a published key's delay
// ends; zero if no key is waiting).
func (p Policy) Active(ctx context.Context, db Store, algorithm string) (auth.Key, []auth.Key, time.Time, error) {
	keys, err := p.List(ctx, db)
	if err != nil {
		return auth.Key{}, nil, time.Time{}, err
	}
	var current *auth.Key
	var others []auth.Key
	var next time.Time
	for _, k := range keys {
		switch {
		case k.State == StateRetired:
			continue
		case k.Current && k.Algorithm == algorithm:
			cur := k.Key
			current = &cur
			continue
		case k.State == StatePublished && k.Algorithm == algorithm && (next.IsZero() || k.SignsAt.Before(next)):
			next = k.SignsAt
		}
		others = append(others, k.Key)
	}
	if current == nil {
		return auth.Key{}, nil, time.Time{}, fmt.Errorf("no active %s signing key in the database", algorithm)
	}
	return *current, others, next, nil
}

// Keyring builds a keyring from the database.
func (p Policy) Keyring(ctx context.Context, db Store, algorithm string) (*auth.Keyring, error) {
	cur, others, _, err := p.Active(ctx, db, algorithm)
	if err != nil {
		return nil, err
	}
	return auth.NewKeyring(cur, others...)
}

// Keyring is Policy{}.Keyring.
func Keyring(ctx context.Context, db Store, algorithm string) (*auth.Keyring, error) {
	return Policy{}.Keyring(ctx, db, algorithm)
}

// Reload refreshes kr from the database (after a rotation elsewhere) and
// returns when it must be reloaded again (zero: only on a change).
func (p Policy) Reload(ctx context.Context, db Store, algorithm string, kr *auth.Keyring) (time.Time, error) {
	cur, others, next, err := p.Active(ctx, db, algorithm)
	if err != nil {
		return time.Time{}, err
	}
	return next, kr.SetKeys(cur, others...)
}

// Reload is Policy{}.Reload.
func Reload(ctx context.Context, db Store, algorithm string, kr *auth.Keyring) error {
	_, err := Policy{}.Reload(ctx, db, algorithm, kr)
	return err
}

// Follower keeps a keyring in step with the database: Reload on every key
// change (authstate.OnKeyChange), and Run to reload when a published key's
// delay ends, which no database change announces. Every instance switches
// then, give or take clock skew.
type Follower struct {
	db        Store
	algorithm string
	policy    Policy
	kr        *auth.Keyring

	mu   sync.Mutex
	next time.Time
	wake chan struct{}
}

// NewFollower returns a follower of db's keys for kr.
func NewFollower(db Store, algorithm string, p Policy, kr *auth.Keyring) *Follower {
	return &Follower{db: db, algorithm: algorithm, policy: p, kr: kr, wake: make(chan struct{}, 1)}
}

// Reload reloads the keyring now.
func (f *Follower) Reload(ctx context.Context) error {
	next, err := f.policy.Reload(ctx, f.db, f.algorithm, f.kr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.next = next
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

// Next is when the keyring will next be reloaded by Run (zero: none due).
func (f *Follower) Next() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// Run reloads the keyring whenever a published key is due to sign, until
// ctx ends. A failed reload is retried after retry.
func (f *Follower) Run(ctx context.Context, log *slog.Logger) {
	const retry = 10 * time.Second
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		if next := f.Next(); !next.IsZero() {
			// A little past the instant, so the key is due when we look.
			timer.Reset(max(next.Sub(f.policy.now()), 0) + 10*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
			continue
		case <-timer.C:
		}
		if err := f.Reload(ctx); err != nil {
			log.Warn("signing keys not reloaded; retrying", "err", err)
			f.mu.Lock()
			f.next = f.policy.now().Add(retry)
			f.mu.Unlock()
			continue
		}
		log.Info("signing key switched after its publish delay", "kid", f.kr.Current().ID)
	}
}
