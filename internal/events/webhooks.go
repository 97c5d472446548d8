package events

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

// WebhookStore keeps the webhooks and their delivery log.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, c warehouse.WebhookChange, secret, actor string) (*warehouse.Webhook, error)
	Webhooks(ctx context.Context) ([]*warehouse.Webhook, error)
	Webhook(ctx context.Context, id int64) (*warehouse.Webhook, error)
	UpdateWebhook(ctx context.Context, id int64, c warehouse.WebhookChange, actor string) (*warehouse.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
	WebhookDeliveries(ctx context.Context, id int64, p warehouse.Page) ([]*warehouse.WebhookDelivery, string, error)
}

// Webhooks manages the webhooks (admin use cases).
type Webhooks struct {
	db WebhookStore
}

// NewWebhooks returns the service on db.
func NewWebhooks(db WebhookStore) *Webhooks { return &Webhooks{db: db} }

// Create stores a new webhook with a new secret, which it returns this
// once (the webhook's Secret); no later answer shows it.
func (w *Webhooks) Create(ctx context.Context, c warehouse.WebhookChange, actor string) (*warehouse.Webhook, error) {
	if c.URL == nil {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "url is required", Fields: []warehouse.FieldError{{Field: "url", Message: "required"}}}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return w.db.CreateWebhook(ctx, c, NewSecret(), actor)
}

// List returns every webhook.
func (w *Webhooks) List(ctx context.Context) ([]*warehouse.Webhook, error) { return w.db.Webhooks(ctx) }

// Get returns one webhook.
func (w *Webhooks) Get(ctx context.Context, id int64) (*warehouse.Webhook, error) {
	return w.db.Webhook(ctx, id)
}

// Update changes a webhook (URL, kinds, description, enabled).
func (w *Webhooks) Update(ctx context.Context, id int64, c warehouse.WebhookChange, actor string) (*warehouse.Webhook, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return w.db.UpdateWebhook(ctx, id, c, actor)
}

// Delete deletes a webhook; its deliveries stop.
func (w *Webhooks) Delete(ctx context.Context, id int64) error { return w.db.DeleteWebhook(ctx, id) }

// Deliveries is a page of a webhook's delivery log, newest first.
func (w *Webhooks) Deliveries(ctx context.Context, id int64, p warehouse.Page) ([]*warehouse.WebhookDelivery, string, error) {
	return w.db.WebhookDeliveries(ctx, id, p)
}

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// NewSecret is a new signing secret: "whsec_" and 32 random bytes in
// base64, the form Standard Webhooks libraries take.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Sign is the webhook-signature header of a message (Standard Webhooks:
// "v1," and the base64 HMAC-SHA256, keyed with the secret's bytes, of
// "<id>.<unix timestamp>.<body>").
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	enc, ok := strings.CutPrefix(secret, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(enc)
	if !ok || err != nil || len(key) == 0 {
		return "", warehouse.Errorf(warehouse.EINTERNAL, "webhook secret is not a whsec_ secret")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// RedactURL is u as logs may show it: without user info and query, which
// may hold credentials.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User, p.RawQuery, p.ForceQuery, p.Fragment = nil, "", false, ""
	return p.String()
}
