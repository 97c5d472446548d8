// Package inventory is the application service of the stock ledger: one
// method per use case (post a movement, reverse one), with the rules that
// are not the database's (who may post what, idempotency keys). The JSON
// API calls it, and so will bulk import, orders and the console, so that
// none of them copies these rules.
package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/warehouse-api/warehouse"
)

// Store is what the service needs of storage, declared here where it is
// used. Each method runs in one transaction and enforces the domain's
// movement rules there; a replayed key returns *warehouse.IdempotentReplay.
type Store interface {
	PostMovement(ctx context.Context, nm warehouse.NewMovement, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error)
	ReverseMovement(ctx context.Context, id int64, note, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error)
}

// MaxKeyLen bounds an idempotency key.
const MaxKeyLen = 255

// Errors about the idempotency key, for the caller to render.
var (
	ErrKeyRequired = errors.New("idempotency key required")
	ErrKeyTooLong  = fmt.Errorf("idempotency key longer than %d characters", MaxKeyLen)
	// ErrKeyInUse: the first request under this key is still running in
	// this process; retry shortly.
	ErrKeyInUse = errors.New("idempotency key in use by a request still running")
)

// Actor is who posts: the name the ledger records and the roles the
// rules check.
type Actor struct {
	Name  string
	Roles []string
}

// Key identifies a request for idempotency: the client's key, and a hash
// of what was asked, so another request under the same key is refused.
type Key struct {
	Key  string
	Hash []byte
}

// Posted is the answer to a post or a reversal: the movement posted, or
// the replay of the first request under the same key.
type Posted struct {
	// ID is the movement's id; 0 only for a replay whose record and body
	// name none.
	ID int64
	// Movement is the movement posted; nil on a replay.
	Movement *warehouse.Movement
	// Replayed: Body is the answer stored with the first request, byte
	// for byte.
	Replayed bool
	Body     []byte
}

// Metrics is what the service reports, declared here where it is used
// (internal/metrics implements it).
type Metrics interface {
	// MovementPosted counts a movement posted (not a replay) of typ, one
	// of warehouse.MovementTypes or TypeReversal.
	MovementPosted(typ string)
}

// TypeReversal is the type a reversal is counted under (the reversal
// itself carries its original's type).
const TypeReversal = "reversal"

type nopMetrics struct{}

func (nopMetrics) MovementPosted(string) {}

// Option configures a Service.
type Option func(*Service)

// WithMetrics reports movements posted to m.
func WithMetrics(m Metrics) Option {
	return func(s *Service) {
		if m != nil {
			s.metrics = m
		}
	}
}

// Service posts and reverses movements.
type Service struct {
	store   Store
	busy    inflight
	metrics Metrics
}

// New returns a service on st.
func New(st Store, opts ...Option) *Service {
	s := &Service{store: st, busy: inflight{keys: map[string]struct{}{}}, metrics: nopMetrics{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// PostMovement posts nm for by, once per key.
func (s *Service) PostMovement(ctx context.Context, by Actor, nm warehouse.NewMovement, key Key) (Posted, error) {
	if err := warehouse.CanPostMovement(by.Roles, nm.Type); err != nil {
		return Posted{}, err
	}
	p, err := s.once(by, key, func(idem *warehouse.Idempotency) (*warehouse.Movement, error) {
		return s.store.PostMovement(ctx, nm, by.Name, idem)
	})
	if err == nil && !p.Replayed {
		s.metrics.MovementPosted(p.Movement.Type)
	}
	return p, err
}

// Reverse posts the compensating movement of movement id, once per key.
func (s *Service) Reverse(ctx context.Context, by Actor, id int64, note string, key Key) (Posted, error) {
	p, err := s.once(by, key, func(idem *warehouse.Idempotency) (*warehouse.Movement, error) {
		return s.store.ReverseMovement(ctx, id, note, by.Name, idem)
	})
	if err == nil && !p.Replayed {
		s.metrics.MovementPosted(TypeReversal)
	}
	return p, err
}

// once runs post under key: a concurrent retry in this process is refused
// rather than queued behind the first (across instances the database's key
// record decides: the second transaction sees the first's and replays).
func (s *Service) once(by Actor, key Key, post func(*warehouse.Idempotency) (*warehouse.Movement, error)) (Posted, error) {
	if key.Key == "" {
		return Posted{}, ErrKeyRequired
	}
	if len(key.Key) > MaxKeyLen {
		return Posted{}, ErrKeyTooLong
	}
	idem := &warehouse.Idempotency{User: by.Name, Key: key.Key, Hash: key.Hash}
	k := idem.User + "\x00" + idem.Key
	if !s.busy.acquire(k) {
		return Posted{}, ErrKeyInUse
	}
	defer s.busy.release(k)
	m, err := post(idem)
	var replay *warehouse.IdempotentReplay
	if errors.As(err, &replay) {
		return replayed(replay), nil
	}
	if err != nil {
		return Posted{}, err
	}
	return Posted{ID: m.ID, Movement: m}, nil
}

func replayed(r *warehouse.IdempotentReplay) Posted {
	id := r.MovementID
	if id == 0 {
		// No movement_id in the record: take the id from the stored body.
		var b struct{ ID int64 }
		if json.Unmarshal(r.Body, &b) == nil {
			id = b.ID
		}
	}
	return Posted{ID: id, Replayed: true, Body: r.Body}
}

// inflight tracks the keys whose first request is still running here.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (f *inflight) acquire(k string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[k]; ok {
		return false
	}
	f.keys[k] = struct{}{}
	return true
}

func (f *inflight) release(k string) {
	f.mu.Lock()
	delete(f.keys, k)
	f.mu.Unlock()
}
