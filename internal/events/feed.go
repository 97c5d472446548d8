// Package events serves the integration event log to integrations: live
// streams of it (Feed, behind GET /api/v1/events) and outbound webhooks
// (Webhooks for their management, Sender for their delivery).
package events

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/warehouse-api/warehouse"
)

// Store is the event log, as the streams and the sender read it.
type Store interface {
	// EventsAfter returns up to limit events after pos in log order and
	// the position of the last one (pos if none).
	EventsAfter(ctx context.Context, pos warehouse.EventPos, limit int) ([]warehouse.Event, warehouse.EventPos, error)
	// EventHead is the position a reader starts at to see only new events.
	EventHead(ctx context.Context) (warehouse.EventPos, error)
	// EventsChanged is closed when events may have been committed since.
	EventsChanged() <-chan struct{}
}

// FeedConfig bounds the streams.
type FeedConfig struct {
	// MaxStreams is the most streams open at once on this instance
	// (default 256); MaxPerUser the most per user (default 8).
	MaxStreams, MaxPerUser int
	// Poll is how often a stream reads the log without being woken
	// (default 1 s): the fallback for a lost notification, and on
	// PostgreSQL for events held back by a long transaction.
	Poll time.Duration
	// Batch is the most events read at once (default 100): what one
	// stream holds in memory while its client reads.
	Batch int
}

// Feed opens and closes the event streams of this instance.
type Feed struct {
	db  Store
	cfg FeedConfig

	mu      sync.Mutex
	open    int
	perUser map[string]int
	closed  bool
	// closing is closed by Close: every stream ends.
	closing chan struct{}
}

// ErrClosed ends the streams of a server shutting down.
var ErrClosed = errors.New("events: the server is shutting down")

// NewFeed returns a feed reading db.
func NewFeed(db Store, cfg FeedConfig) *Feed {
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 8
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	return &Feed{db: db, cfg: cfg, perUser: map[string]int{}, closing: make(chan struct{})}
}

// Close ends every stream, now and to come (the server's shutdown: a
// stream never ends by itself, and would hold the shutdown until its
// timeout). Safe to call more than once.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.closing)
	}
}

// Stream is one client's stream of the log.
type Stream struct {
	f     *Feed
	user  string
	pos   warehouse.EventPos
	kinds []string
	once  sync.Once
}

// Open starts a stream for user after pos (nil: from now on) of the
// events of kinds (none: every kind). Beyond the limits it refuses with
// ETOOMANYSTREAMS (this user) or EUNAVAILABLE (this instance). Close the
// stream when done.
func (f *Feed) Open(ctx context.Context, user string, after *warehouse.EventPos, kinds []string) (*Stream, error) {
	kinds, err := warehouse.ParseEventKinds("kinds", kinds)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return nil, &warehouse.Error{Code: warehouse.EUNAVAILABLE, Message: "The server is shutting down: connect again (to another instance)", RetryAfter: time.Second}
	case f.perUser[user] >= f.cfg.MaxPerUser:
		f.mu.Unlock()
		return nil, &warehouse.Error{Code: warehouse.ETOOMANYSTREAMS, RetryAfter: 5 * time.Second,
			Message: "Too many event streams: " + user + " has the most allowed open on this server; close one first"}
	case f.open >= f.cfg.MaxStreams:
		f.mu.Unlock()
		return nil, &warehouse.Error{Code: warehouse.EUNAVAILABLE, RetryAfter: 5 * time.Second,
			Message: "This server has as many event streams open as it serves: try again later, or another instance"}
	}
	f.open++
	f.perUser[user]++
	f.mu.Unlock()
	s := &Stream{f: f, user: user, kinds: kinds}
	if after != nil {
		s.pos = *after
		return s, nil
	}
	if s.pos, err = f.db.EventHead(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close gives the stream's place back.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.f.mu.Lock()
		defer s.f.mu.Unlock()
		s.f.open--
		if s.f.perUser[s.user]--; s.f.perUser[s.user] <= 0 {
			delete(s.f.perUser, s.user)
		}
	})
}

// Pos is the stream's position: after the last event it returned or
// skipped.
func (s *Stream) Pos() warehouse.EventPos { return s.pos }

// Next waits until there are events of the stream's kinds after its
// position and returns them (at most Batch), or returns none once idle
// has passed (time for a keep-alive). It returns ctx's error when ctx
// ends and ErrClosed when the feed closes.
func (s *Stream) Next(ctx context.Context, idle time.Duration) ([]warehouse.Event, error) {
	quiet := time.NewTimer(idle)
	defer quiet.Stop()
	for {
		// Taken before the read, so that a commit between the read and
		// the wait still wakes it.
		changed := s.f.db.EventsChanged()
		evs, pos, err := s.f.db.EventsAfter(ctx, s.pos, s.f.cfg.Batch)
		if err != nil {
			return nil, err
		}
		s.pos = pos
		out := evs[:0]
		for _, e := range evs {
			if warehouse.MatchesKinds(s.kinds, e.Kind) {
				out = append(out, e)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if len(evs) == s.f.cfg.Batch {
			continue // more to read at once
		}
		poll := time.NewTimer(s.f.cfg.Poll)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, ctx.Err()
		case <-s.f.closing:
			poll.Stop()
			return nil, ErrClosed
		case <-quiet.C:
			poll.Stop()
			return nil, nil
		case <-changed:
		case <-poll.C:
		}
		poll.Stop()
	}
}
