package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/warehouse-api/warehouse"
)

// SenderStore is what the webhook sender reads and writes.
type SenderStore interface {
	Store
	// ClaimWebhooks leases to owner up to limit enabled webhooks that are
	// due and leased to no one.
	ClaimWebhooks(ctx context.Context, owner string, lease time.Duration, limit int) ([]*warehouse.Webhook, error)
	// RecordDelivery logs an attempt (d may be nil) and the webhook's
	// progress if owner still holds its lease; false if not.
	RecordDelivery(ctx context.Context, owner string, id int64, d *warehouse.WebhookDelivery, p warehouse.WebhookProgress) (bool, error)
	// ReleaseWebhook gives up owner's lease.
	ReleaseWebhook(ctx context.Context, owner string, id int64) error
}

// SenderConfig tunes the sender; zero values take the defaults.
type SenderConfig struct {
	// MaxAttempts is how often one event is tried before it is marked
	// failed and the webhook moves on (default 8).
	MaxAttempts int
	// Backoff is the wait after the first failure (default 5 s), doubled
	// after each further one up to MaxBackoff (default 1 h), each wait
	// drawn between half and all of it (jitter).
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Poll is how often the sender looks for due webhooks without being
	// woken by an event (default 2 s): retries fall due this way.
	Poll time.Duration
	// Workers is how many webhooks are delivered to at once (default 4).
	Workers int
	// Transport sends the requests (default: a clone of
	// http.DefaultTransport); redirects are never followed.
	Transport http.RoundTripper
}

// Sender delivers the event log to the webhooks, each in log order. One
// runs per instance; a webhook is delivered to by one instance at a time
// (its lease in the database), so an event is not sent twice by two of
// them. It is at-least-once: an attempt whose outcome could not be
// recorded is made again, with the same webhook-id for receivers to
// recognise.
type Sender struct {
	db    SenderStore
	cfg   SenderConfig
	log   *slog.Logger
	owner string
	http  *http.Client
}

// NewSender returns a sender on db.
func NewSender(db SenderStore, cfg SenderConfig, log *slog.Logger) *Sender {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // a receiver is called directly, not through the environment's proxy
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
		cfg.Transport = t
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Sender{db: db, cfg: cfg, log: log, owner: "sender-" + hex.EncodeToString(b[:]),
		http: &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// lease is how long a claim on a webhook lasts: longer than the most
// time deliver spends (its budget, plus one attempt and its bookkeeping).
func (s *Sender) lease() time.Duration { return 4*s.cfg.Timeout + 30*time.Second }

// Run delivers until ctx ends, then waits for the attempts under way.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, s.cfg.Workers)
	done := make(chan struct{}, 1)
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for {
		changed := s.db.EventsChanged()
		if free := cap(sem) - len(sem); free > 0 {
			hooks, err := s.db.ClaimWebhooks(ctx, s.owner, s.lease(), free)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("webhook sender: claiming webhooks failed; will retry", "err", err)
			}
			for _, h := range hooks {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() {
						<-sem
						select {
						case done <- struct{}{}:
						default:
						}
					}()
					s.deliver(ctx, h)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			// A burst of commits is taken as one.
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		case <-tick.C:
		case <-done:
		}
	}
}

// deliver sends h the events after its position, in order, until it is
// caught up, an attempt fails (the retry is scheduled) or its budget is
// spent, and then releases it.
func (s *Sender) deliver(ctx context.Context, h *warehouse.Webhook) {
	defer func() {
		if err := s.db.ReleaseWebhook(context.WithoutCancel(ctx), s.owner, h.ID); err != nil {
			s.log.Warn("webhook sender: releasing a webhook failed (its lease expires by itself)", "webhook", h.ID, "err", err)
		}
	}()
	budget := time.Now().Add(2 * s.cfg.Timeout)
	pos, attempt := h.Pos, h.Attempt
	const batch = 100
	for time.Now().Before(budget) && ctx.Err() == nil {
		evs, end, err := s.db.EventsAfter(ctx, pos, batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("webhook sender: reading events failed; will retry", "webhook", h.ID, "err", err)
			}
			return
		}
		var ev *warehouse.Event
		for i := range evs {
			if warehouse.MatchesKinds(h.Kinds, evs[i].Kind) {
				ev = &evs[i]
				break
			}
		}
		if ev == nil {
			if end != pos {
				// Nothing for this webhook: move past what was read.
				held, err := s.db.RecordDelivery(ctx, s.owner, h.ID, nil, warehouse.WebhookProgress{Pos: end})
				if err != nil || !held {
					return
				}
				pos, attempt = end, 0
			}
			if len(evs) < batch {
				return // caught up
			}
			continue
		}
		attempt++
		d := s.attempt(ctx, h, ev, attempt)
		p := warehouse.WebhookProgress{Pos: ev.Pos()}
		switch {
		case d.Outcome == warehouse.DeliveryDelivered:
		case attempt >= s.cfg.MaxAttempts:
			d.Outcome = warehouse.DeliveryFailed
			s.log.Warn("webhook delivery failed: giving up on the event", "webhook", h.ID, "url", RedactURL(h.URL), "event_seq", ev.Seq,
				"attempts", attempt, "err", d.Error)
		default:
			// Stay before ev; the webhook's next claim is at NextAt.
			d.Outcome = warehouse.DeliveryRetrying
			next := d.At.Add(time.Duration(d.DurationMS)*time.Millisecond + s.backoff(attempt))
			d.NextRetry = &next
			p = warehouse.WebhookProgress{Pos: pos, Attempt: attempt, NextAt: next}
			if ev.Pos() != evs[0].Pos() {
				// The events before ev were not for it: past them.
				p.Pos = evs[indexOf(evs, ev)-1].Pos()
			}
			s.log.Info("webhook delivery failed; will retry", "webhook", h.ID, "url", RedactURL(h.URL), "event_seq", ev.Seq,
				"attempt", attempt, "next_retry_at", next.UTC().Format(time.RFC3339), "err", d.Error)
		}
		held, err := s.db.RecordDelivery(context.WithoutCancel(ctx), s.owner, h.ID, d, p)
		if err != nil {
			s.log.Warn("webhook sender: recording a delivery failed; the event will be sent again", "webhook", h.ID, "event_seq", ev.Seq, "err", err)
			return
		}
		if !held || d.Outcome == warehouse.DeliveryRetrying {
			return
		}
		pos, attempt = p.Pos, 0
	}
}

func indexOf(evs []warehouse.Event, ev *warehouse.Event) int {
	for i := range evs {
		if &evs[i] == ev {
			return i
		}
	}
	return 0
}

// backoff is the wait after the n-th failed attempt: exponential, capped,
// with jitter, so that many webhooks failing at once do not retry at once.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// Body is what a webhook receives: the Standard Webhooks envelope (type,
// timestamp, data) around the event as the stream sends it.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Message   `json:"data"`
}

// Message is an event as streams and webhooks show it.
type Message struct {
	Seq     int64           `json:"seq"`
	Kind    string          `json:"kind"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
	Actor   string          `json:"actor"`
	At      time.Time       `json:"at"`
}

// MessageOf is e as clients see it.
func MessageOf(e *warehouse.Event) Message {
	return Message{Seq: e.Seq, Kind: e.Kind, Subject: e.Subject, Data: e.Data, Actor: e.Actor, At: e.At}
}

// MessageID is the webhook-id of the messages of e: the same at every
// attempt, so that receivers can drop a repeat.
func MessageID(e *warehouse.Event) string { return "evt_" + strconv.FormatInt(e.Seq, 10) }

// attempt POSTs ev to h once and says how it went (Outcome delivered, or
// empty for a failure).
func (s *Sender) attempt(ctx context.Context, h *warehouse.Webhook, ev *warehouse.Event, n int) *warehouse.WebhookDelivery {
	d := &warehouse.WebhookDelivery{WebhookID: h.ID, EventSeq: ev.Seq, EventKind: ev.Kind, MessageID: MessageID(ev), Attempt: n, At: time.Now().UTC()}
	body, err := json.Marshal(Body{Type: ev.Kind, Timestamp: ev.At, Data: MessageOf(ev)})
	if err != nil {
		d.Error = "encode the event: " + err.Error()
		return d
	}
	sig, err := Sign(h.Secret, d.MessageID, d.At, body)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		d.Error = "bad URL"
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "warehouse-webhooks/1")
	req.Header.Set("webhook-id", d.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(d.At.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	res, err := s.http.Do(req)
	d.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		d.Error = describe(err)
		return d
	}
	// Read a little of the answer so the connection can be reused; what
	// it says does not matter.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	d.StatusCode = &res.StatusCode
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		d.Outcome = warehouse.DeliveryDelivered
		return d
	}
	d.Error = fmt.Sprintf("HTTP %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		d.Error += " (redirects are not followed)"
	}
	return d
}

// describe is err without the URL, which net/http puts in its errors and
// may hold credentials.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out: " + err.Error()
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}
