package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	sse "github.com/tmaxmax/go-sse"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/events"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// testSender is the webhook sender's setting in these tests: quick
// retries, few attempts.
var testSender = events.SenderConfig{MaxAttempts: 3, Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	Timeout: 2 * time.Second, Poll: 50 * time.Millisecond}

// newEventsEnv starts a server on databaseURL with the given signing
// secret; seed creates the users (one per role) the first instance of a
// database needs. Instances on one database with one secret accept each
// other's tokens (one public URL, as in deploy/).
func newEventsEnv(t *testing.T, databaseURL, secret string, seed bool) *domainEnv {
	t.Helper()
	e := &domainEnv{t: t, hasher: auth.NewHasher(auth.TestParams(), 0), tokens: map[string]string{}}
	cfg := testSettings(databaseURL)
	cfg.Secret = secret
	logcheck.Secret(t, secret)
	cfg.PublicURL = "http://warehouse.test"
	cfg.Leeway, cfg.RefreshReuse, cfg.SessionInactivity = 0, 0, 0
	cfg.SessionLifetime = cfg.RefreshTTL
	sender := testSender
	e.app = openApp(t, cfg, app.Deps{Log: logcheck.New(t), Hasher: e.hasher, WebhookSender: &sender,
		Seed: func(ctx context.Context, db *store.DB) error {
			if !seed {
				return nil
			}
			for _, r := range warehouse.Roles {
				if err := e.createUser(ctx, db, string(r), []string{string(r)}); err != nil {
					return err
				}
			}
			return nil
		}})
	e.db, e.srv, e.state = e.app.DB(), e.app.Server(), e.app.State()
	for _, r := range rolesStrings() {
		e.tokens[r] = e.login(r)
	}
	return e
}

// receipt posts a receipt of one unit and returns its movement id.
func receipt(e *domainEnv, f domainFixture) int64 {
	e.t.Helper()
	return e.move(map[string]any{"type": "receipt", "lines": []any{map[string]any{"item_id": f.wid, "to_location_id": f.a, "qty": 1}}}).must(201).id()
}

// sseClient reads an event stream with go-sse (an SSE client we did not
// write), which reconnects by itself with Last-Event-ID. target says
// where each (re)connection goes, so a test can move it to another
// instance.
type sseClient struct {
	t      *testing.T
	target atomic.Pointer[string]
	events chan sse.Event
	cancel context.CancelFunc
	done   chan error
}

func openSSE(t *testing.T, base, query, token string, header ...string) *sseClient {
	t.Helper()
	c := &sseClient{t: t, events: make(chan sse.Event, 1000), done: make(chan error, 1)}
	c.target.Store(&base)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rt := roundTrip(func(r *http.Request) (*http.Response, error) {
		u, _ := url.Parse(*c.target.Load())
		r = r.Clone(r.Context())
		r.URL.Host, r.Host = u.Host, u.Host
		return http.DefaultTransport.RoundTrip(r)
	})
	client := &sse.Client{HTTPClient: &http.Client{Transport: rt},
		Backoff: sse.Backoff{InitialInterval: 300 * time.Millisecond, Multiplier: 1, Jitter: -1, MaxRetries: 0}}
	conn := client.NewConnection(req)
	conn.SubscribeToAll(func(ev sse.Event) {
		if ev.Data != "" || ev.Type != "" { // go-sse also passes on the retry: field alone
			c.events <- ev
		}
	})
	go func() { c.done <- conn.Connect() }()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// next is the next event, within a few seconds.
func (c *sseClient) next() (sse.Event, events.Message) {
	c.t.Helper()
	select {
	case ev := <-c.events:
		var m events.Message
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			c.t.Fatalf("event data is not JSON: %v: %q", err, ev.Data)
		}
		if ev.Type != m.Kind {
			c.t.Fatalf("event: %q but kind %q", ev.Type, m.Kind)
		}
		return ev, m
	case err := <-c.done:
		c.t.Fatalf("the stream ended: %v", err)
	case <-time.After(10 * time.Second):
		c.t.Fatal("no event within 10 s")
	}
	panic("unreachable")
}

// expect reads the next events and checks they are the movements ids, in
// that order, each once.
func (c *sseClient) expect(ids ...int64) string {
	c.t.Helper()
	last := ""
	for _, id := range ids {
		ev, m := c.next()
		if want := fmt.Sprintf("movement/%d", id); m.Subject != want || m.Kind != warehouse.EventMovementPosted {
			c.t.Fatalf("event %s %s, want movement.posted %s", m.Kind, m.Subject, want)
		}
		last = ev.LastEventID
	}
	return last
}

// quiet checks that no event arrives for a moment: none was repeated.
func (c *sseClient) quiet() {
	c.t.Helper()
	select {
	case ev := <-c.events:
		c.t.Fatalf("unexpected event %s: %s", ev.Type, ev.Data)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestEventStreamResumes: a client that reconnects with Last-Event-ID (or
// ?after=) receives every event exactly once, those posted while it was
// away included.
func TestEventStreamResumes(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		// One public URL: the tokens, issued through the recorder, are
		// then valid at the test server's address too.
		d := newEventsEnv(t, pgtest.URL(t, engine), rand.Text()+rand.Text(), true)
		f := d.fixture()
		ts := httptest.NewServer(d.srv)
		t.Cleanup(ts.Close)
		viewer := d.tokens["viewer"]

		c := openSSE(t, ts.URL, "", viewer)
		time.Sleep(300 * time.Millisecond) // connected: it starts at the head
		m1, m2 := receipt(d, f), receipt(d, f)
		last := c.expect(m1, m2)
		c.close()

		m3, m4 := receipt(d, f), receipt(d, f) // while it is away
		c = openSSE(t, ts.URL, "", viewer, "Last-Event-ID", last)
		c.expect(m3, m4)
		m5 := receipt(d, f)
		c.expect(m5)
		c.quiet()
		c.close()

		// ?after= for clients that cannot set the header; a kinds filter
		// that matches none of them.
		c = openSSE(t, ts.URL, "?after="+url.QueryEscape(last), viewer)
		c.expect(m3, m4, m5)
		c.close()
		c = openSSE(t, ts.URL, "?kinds=order.state_changed,pick.confirmed&after="+url.QueryEscape(last), viewer)
		c.quiet()
		c.close()

		runScenarios(t, engine, d.srv, []scenario{
			{name: "no token", method: "GET", path: "/api/v1/events", status: 401},
			{name: "bad cursor", method: "GET", path: "/api/v1/events", headers: []string{"Authorization: Bearer " + viewer, "Last-Event-ID: nope"}, status: 400},
			{name: "bad after", method: "GET", path: "/api/v1/events?after=ZXg", headers: []string{"Authorization: Bearer " + viewer}, status: 400},
			{name: "unknown kind", method: "GET", path: "/api/v1/events?kinds=movement.posted,nope", headers: []string{"Authorization: Bearer " + viewer}, status: 400},
			{name: "JSON only", method: "GET", path: "/api/v1/events", headers: []string{"Authorization: Bearer " + viewer, "Accept: application/json"}, status: 406},
		})
	})
}

// TestEventStreamAcrossInstances: two instances on one PostgreSQL
// database. A client streaming from A is moved to B when A shuts down
// (the shutdown ends its stream); go-sse reconnects to B with
// Last-Event-ID and receives exactly the events B wrote while it was
// away, then B's new ones.
func TestEventStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t, pgtest.Postgres)
	secret := rand.Text() + rand.Text()
	a := newEventsEnv(t, dbURL, secret, true)
	b := newEventsEnv(t, dbURL, secret, false)
	f := a.fixture()
	tsA, tsB := httptest.NewServer(a.srv), httptest.NewServer(b.srv)
	t.Cleanup(tsA.Close)
	t.Cleanup(tsB.Close)

	c := openSSE(t, tsA.URL, "", a.tokens["viewer"])
	time.Sleep(300 * time.Millisecond)
	m1 := receipt(a, f)
	m2 := receipt(b, f) // written by B, streamed by A (NOTIFY)
	c.expect(m1, m2)

	// A goes; the client will reconnect to B.
	c.target.Store(&tsB.URL)
	if err := a.app.Close(); err != nil {
		t.Fatal(err)
	}
	tsA.Close()
	m3, m4 := receipt(b, f), receipt(b, f) // while the client is away
	c.expect(m3, m4)
	m5 := receipt(b, f)
	c.expect(m5)
	c.quiet()
}

// receiver is a webhook endpoint: it verifies every delivery with the
// Standard Webhooks library and answers the statuses of fail first.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	fail   []int
	got    []received
	ts     *httptest.Server
}

type received struct {
	id   string
	body events.Body
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	r := &receiver{t: t, fail: fail}
	r.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(r.secret)
		if err != nil {
			t.Errorf("secret: %v", err)
		} else if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		var b events.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("body: %v: %s", err, body)
		}
		r.got = append(r.got, received{id: req.Header.Get("webhook-id"), body: b})
		if len(r.fail) > 0 {
			w.WriteHeader(r.fail[0])
			r.fail = r.fail[1:]
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.ts.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

type deliveryPage struct {
	Items []warehouse.WebhookDelivery `json:"items"`
}

func createWebhook(t *testing.T, d *domainEnv, r *receiver, hookURL string, kinds ...string) int64 {
	t.Helper()
	res := d.do("POST", "/api/v1/webhooks", d.tokens["admin"], map[string]any{"url": hookURL, "kinds": kinds}).must(201)
	var w httpapi.WebhookBody
	if err := json.Unmarshal(res.body, &w); err != nil || w.Secret == "" {
		t.Fatalf("create: %v %s", err, res.body)
	}
	logcheck.Secret(t, w.Secret)
	if r != nil {
		r.mu.Lock()
		r.secret = w.Secret
		r.mu.Unlock()
	}
	return w.ID
}

// TestWebhookDelivery: deliveries are signed per Standard Webhooks (the
// official library verifies them), retried after a 500 with the same
// webhook-id, logged attempt by attempt, given up on after the last
// attempt at an unreachable URL, and stop when the webhook is disabled.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newEventsEnv(t, pgtest.URL(t, engine), rand.Text()+rand.Text(), true)
		f := d.fixture()
		admin := d.tokens["admin"]
		r := newReceiver(t, http.StatusInternalServerError)
		id := createWebhook(t, d, r, r.ts.URL+"/hook?token=abc", warehouse.EventMovementPosted)
		hook := fmt.Sprintf("/api/v1/webhooks/%d", id)
		if got := d.do("GET", hook, admin, nil).must(200).json(); got["secret"] != nil || got["enabled"] != true {
			t.Fatalf("GET shows %v", got)
		}

		m1 := receipt(d, f)
		waitFor(t, "the retry of the first delivery", func() bool { return len(r.received()) == 2 })
		got := r.received()
		if got[0].id != got[1].id || got[0].body.Type != warehouse.EventMovementPosted || got[0].body.Data.Subject != fmt.Sprintf("movement/%d", m1) {
			t.Fatalf("deliveries %+v", got)
		}
		m2 := receipt(d, f)
		waitFor(t, "the second event", func() bool { return len(r.received()) == 3 })
		if got := r.received()[2]; got.body.Data.Subject != fmt.Sprintf("movement/%d", m2) {
			t.Fatalf("third delivery %+v", got)
		}
		var log deliveryPage
		waitFor(t, "the delivery log", func() bool {
			log = decodeAnswerBody[deliveryPage](t, d.do("GET", hook+"/deliveries", admin, nil).must(200).body)
			return len(log.Items) == 3
		})
		l := log.Items // newest first
		if l[2].Attempt != 1 || l[2].Outcome != warehouse.DeliveryRetrying || l[2].StatusCode == nil || *l[2].StatusCode != 500 || l[2].NextRetry == nil ||
			l[1].Attempt != 2 || l[1].Outcome != warehouse.DeliveryDelivered || *l[1].StatusCode != 204 || l[1].NextRetry != nil ||
			l[0].Attempt != 1 || l[0].Outcome != warehouse.DeliveryDelivered || l[0].EventSeq <= l[1].EventSeq {
			t.Fatalf("delivery log %+v", l)
		}

		// An unreachable receiver: every attempt fails, the last marks the
		// event failed, and the webhook moves on to the next event. Its
		// URL's password must never be logged.
		logcheck.Secret(t, "hunter2-webhook-password")
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL := "http://user:hunter2-webhook-password@" + dead.Listener.Addr().String() + "/hook"
		dead.Close()
		deadID := createWebhook(t, d, nil, deadURL)
		receipt(d, f)
		receipt(d, f)
		deadLog := fmt.Sprintf("/api/v1/webhooks/%d/deliveries", deadID)
		waitFor(t, "both events given up", func() bool {
			l := decodeAnswerBody[deliveryPage](t, d.do("GET", deadLog, admin, nil).must(200).body).Items
			return len(l) == 6 && l[0].Outcome == warehouse.DeliveryFailed
		})
		l = decodeAnswerBody[deliveryPage](t, d.do("GET", deadLog, admin, nil).must(200).body).Items
		for i, want := range []string{"failed", "retrying", "retrying", "failed", "retrying", "retrying"} {
			if l[i].Outcome != want || l[i].StatusCode != nil || l[i].Error == "" {
				t.Fatalf("dead webhook log %d: %+v", i, l[i])
			}
		}

		// Disabled, it is sent nothing; deleted, it is gone.
		d.do("PATCH", hook, admin, map[string]any{"enabled": false}).must(200)
		n := len(r.received())
		receipt(d, f)
		time.Sleep(500 * time.Millisecond)
		if len(r.received()) != n {
			t.Fatal("a disabled webhook was delivered to")
		}
		d.do("DELETE", hook, admin, nil).must(204)
		d.do("GET", hook, admin, nil).must(404)
		list := d.do("GET", "/api/v1/webhooks", admin, nil).must(200).items()
		if len(list) != 1 {
			t.Fatalf("webhooks %v", list)
		}

		runScenarios(t, engine, d.srv, []scenario{
			{name: "not http", method: "POST", path: "/api/v1/webhooks", headers: []string{"Authorization: Bearer " + admin}, body: `{"url":"ftp://example.com/x"}`, status: 422},
			{name: "unknown kind", method: "POST", path: "/api/v1/webhooks", headers: []string{"Authorization: Bearer " + admin}, body: `{"url":"https://example.com/x","kinds":["nope"]}`, status: 422},
			{name: "manager", method: "GET", path: "/api/v1/webhooks", headers: []string{"Authorization: Bearer " + d.tokens["manager"]}, status: 403},
			{name: "no such webhook", method: "GET", path: "/api/v1/webhooks/999/deliveries", headers: []string{"Authorization: Bearer " + admin}, status: 404},
		})
	})
}

func decodeAnswerBody[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, b)
	}
	return v
}

// TestWebhooksTwoInstancesDeliverOnce: two instances on one PostgreSQL
// database, each with its sender, share one webhook: every event is
// delivered exactly once, in order.
func TestWebhooksTwoInstancesDeliverOnce(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t, pgtest.Postgres)
	secret := rand.Text() + rand.Text()
	a := newEventsEnv(t, dbURL, secret, true)
	b := newEventsEnv(t, dbURL, secret, false)
	f := a.fixture()
	r := newReceiver(t)
	createWebhook(t, a, r, r.ts.URL)
	const n = 20
	for i := range n {
		if i%2 == 0 {
			receipt(a, f)
		} else {
			receipt(b, f)
		}
	}
	waitFor(t, "every delivery", func() bool { return len(r.received()) >= n })
	time.Sleep(500 * time.Millisecond) // time for a second delivery, if one were to come
	got := r.received()
	if len(got) != n {
		t.Fatalf("%d deliveries of %d events", len(got), n)
	}
	for i := 1; i < n; i++ {
		if got[i].body.Data.Seq <= got[i-1].body.Data.Seq {
			t.Fatalf("delivery %d (seq %d) after seq %d", i, got[i].body.Data.Seq, got[i-1].body.Data.Seq)
		}
	}
}
