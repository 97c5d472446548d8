package warehouse

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ETOOMANYSTREAMS refuses an event stream beyond the caller's share of
// open streams.
const ETOOMANYSTREAMS = "too_many_streams"

// EventPos is a reader's position in the event log: the (Tx, Seq) of the
// last event it has seen. Readers take events in (Tx, Seq) order, which on
// PostgreSQL is commit-safe where Seq alone is not (see EventsAfter in the
// store); on SQLite Tx is always 0.
type EventPos struct {
	Tx, Seq int64
}

// Pos is the event's position in the log.
func (e *Event) Pos() EventPos { return EventPos{Tx: e.Tx, Seq: e.Seq} }

// Less reports whether p comes before q.
func (p EventPos) Less(q EventPos) bool {
	return p.Tx < q.Tx || p.Tx == q.Tx && p.Seq < q.Seq
}

// Cursor is p as an opaque token for clients (the SSE id, Last-Event-ID).
func (p EventPos) Cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte("e" + strconv.FormatInt(p.Tx, 10) + "." + strconv.FormatInt(p.Seq, 10)))
}

// ParseEventCursor is the position a Cursor names; anything else is
// EBADCURSOR.
func ParseEventCursor(c string) (EventPos, error) {
	bad := Errorf(EBADCURSOR, "Bad event cursor %q: use the id of an event received from this server", limitText(c, 40))
	if len(c) > 64 {
		return EventPos{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 4 || b[0] != 'e' {
		return EventPos{}, bad
	}
	txs, seqs, ok := strings.Cut(string(b[1:]), ".")
	if !ok {
		return EventPos{}, bad
	}
	tx, err1 := strconv.ParseInt(txs, 10, 64)
	seq, err2 := strconv.ParseInt(seqs, 10, 64)
	if err1 != nil || err2 != nil || tx < 0 || seq < 0 || strconv.FormatInt(tx, 10) != txs || strconv.FormatInt(seq, 10) != seqs {
		return EventPos{}, bad
	}
	return EventPos{Tx: tx, Seq: seq}, nil
}

func limitText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ParseEventKinds checks a list of event kinds (a filter or a
// subscription): each must be one of EventKinds; duplicates are dropped.
// An empty list means every kind.
func ParseEventKinds(field string, kinds []string) ([]string, error) {
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		k = strings.TrimSpace(k)
		if !slices.Contains(EventKinds, k) {
			return nil, invalidField(field, "unknown event kind "+strconv.Quote(limitText(k, 40))+" (kinds: "+strings.Join(EventKinds, ", ")+")")
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// MatchesKinds reports whether an event of kind passes the filter kinds
// (empty: every kind).
func MatchesKinds(kinds []string, kind string) bool {
	return len(kinds) == 0 || slices.Contains(kinds, kind)
}

// Webhook is an outbound subscription to the event log: every event of
// its kinds is POSTed to URL, signed with its secret (Standard Webhooks).
type Webhook struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url" doc:"Where events are POSTed (http or https)"`
	Kinds       []string  `json:"kinds" doc:"Event kinds delivered; empty: every kind"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled" doc:"A disabled webhook delivers nothing until enabled again; it then resumes where it stopped"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`

	// The sender's state, not shown to clients.
	// Secret signs the deliveries ("whsec_" + base64 of the key).
	Secret string `json:"-"`
	// Pos is the last event delivered (or given up on).
	Pos EventPos `json:"-"`
	// Attempt counts the failed attempts at the event after Pos; NextAt is
	// when the next may be made.
	Attempt int       `json:"-"`
	NextAt  time.Time `json:"-"`
}

// WebhookChange is a new webhook, or the fields a change sets (nil: kept).
type WebhookChange struct {
	URL         *string
	Kinds       *[]string
	Description *string
	Enabled     *bool
}

// Validate checks the fields that are set.
func (c *WebhookChange) Validate() error {
	if c.URL != nil {
		if err := ValidateWebhookURL(*c.URL); err != nil {
			return err
		}
	}
	if c.Kinds != nil {
		k, err := ParseEventKinds("kinds", *c.Kinds)
		if err != nil {
			return err
		}
		*c.Kinds = k
	}
	if c.Description != nil && len(*c.Description) > 500 {
		return invalidField("description", "must be at most 500 characters")
	}
	return nil
}

// ValidateWebhookURL accepts absolute http and https URLs with a host.
func ValidateWebhookURL(s string) error {
	if len(s) > 2000 {
		return invalidField("url", "must be at most 2000 characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return invalidField("url", "must be an absolute http:// or https:// URL with a host")
	}
	if u.Fragment != "" {
		return invalidField("url", "must not have a #fragment")
	}
	return nil
}

// Delivery outcomes.
const (
	DeliveryDelivered = "delivered" // a 2xx answer
	DeliveryRetrying  = "retrying"  // failed; another attempt is due at next_retry_at
	DeliveryFailed    = "failed"    // failed, and the last attempt allowed: the event is given up
)

// WebhookDelivery is one attempt at delivering one event to one webhook:
// the delivery log.
type WebhookDelivery struct {
	ID        int64  `json:"id"`
	WebhookID int64  `json:"webhook_id"`
	EventSeq  int64  `json:"event_seq" doc:"The event's seq"`
	EventKind string `json:"event_kind"`
	// MessageID is the webhook-id header, the same on every attempt.
	MessageID  string     `json:"message_id" doc:"The webhook-id header sent: the same on every attempt at one event"`
	Attempt    int        `json:"attempt" doc:"1 for the first attempt"`
	StatusCode *int       `json:"status_code" doc:"The receiver's HTTP status; null when no answer came"`
	Error      string     `json:"error,omitempty" doc:"Why the attempt failed"`
	DurationMS int64      `json:"duration_ms"`
	Outcome    string     `json:"outcome" enum:"delivered,retrying,failed"`
	At         time.Time  `json:"at"`
	NextRetry  *time.Time `json:"next_retry_at" doc:"When the next attempt is due; null unless retrying"`
}

// WebhookProgress is where a webhook's sender stands after an attempt:
// the last event done with, and the failed attempts at the next one.
type WebhookProgress struct {
	Pos     EventPos
	Attempt int
	NextAt  time.Time
}
