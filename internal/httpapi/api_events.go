package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/events"
)

// GET /api/v1/events is the integration event log as Server-Sent Events:
// movements posted, order and purchase order state changes, reservations,
// picks. Each event's id is a cursor of its position in the log, so a
// client that reconnects with Last-Event-ID (as EventSource does) resumes
// exactly after the last event it received, on any instance.

// Stream timing: a comment at least every keepAlive keeps proxies from
// closing an idle stream; a client that takes longer than writeWindow to
// take one batch of events is cut off (it reconnects and resumes), so a
// stalled reader holds one batch and its connection, nothing more.
const (
	keepAlive   = 15 * time.Second
	writeWindow = 30 * time.Second
	// retryMS is the reconnection delay the stream suggests (retry:).
	retryMS = "2000"
)

func (s *Server) opStreamEvents() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"events"}, Summary: "Stream the event log (Server-Sent Events)",
		Description: "A `text/event-stream` of the integration event log: `movement.posted`, `order.state_changed`, `reservation.created`, " +
			"`reservation.released`, `pick.confirmed`, `purchase_order.received`, `purchase_order.state_changed`. Each event has `id:` (an opaque " +
			"cursor), `event:` (its kind) and `data:` (JSON: seq, kind, subject, data, actor, at). Without a cursor the stream starts with the " +
			"events committed from now on; with `Last-Event-ID` (sent by EventSource when it reconnects) or `?after=` it resumes right after " +
			"that event, on any instance: no event is lost or repeated across a reconnect. A comment line is sent every 15 s when idle. " +
			"A client may have 8 streams open per instance (429 beyond); a full instance answers 503.",
		Errors: []int{http.StatusNotAcceptable, http.StatusTooManyRequests}})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "The event stream; each event's `data:` line is one JSON object: `seq` (integer), `kind`, `subject` (e.g. movement/12), " +
			"`data` (the kind's payload object), `actor`, `at` (RFC 3339)",
		Headers: map[string]*huma.Param{
			"Cache-Control":     {Description: "no-store", Schema: &huma.Schema{Type: "string"}},
			"X-Accel-Buffering": {Description: "no: proxies (nginx) pass each event at once", Schema: &huma.Schema{Type: "string"}},
		},
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string",
			Description: "Server-Sent Events (WHATWG HTML, section 9.2): `id:`, `event:` and `data:` lines, a blank line after each event",
			Examples:    []any{"id: ZTAuMTI\nevent: movement.posted\ndata: {\"seq\":12,\"kind\":\"movement.posted\",...}\n\n"}}},
		},
	}}
	return op
}

// EventMessage is the JSON of one event's data: line.
type EventMessage = events.Message

type streamEventsInput struct {
	LastEventID string `header:"Last-Event-ID" maxLength:"64" doc:"The id of the last event received: the stream resumes after it (wins over after)"`
	After       string `query:"after" maxLength:"64" doc:"The id of the last event received, for clients that cannot set Last-Event-ID"`
	Kinds       string `query:"kinds" maxLength:"500" doc:"Only these kinds, comma-separated (e.g. movement.posted,order.state_changed); default every kind"`
	Accept      string `header:"Accept"`
}

// acceptsEventStream reports whether an Accept header allows
// text/event-stream (no header allows everything).
func acceptsEventStream(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "text/event-stream", "text/*", "*/*":
			return true
		}
	}
	return false
}

func (s *Server) streamEvents(ctx context.Context, in *streamEventsInput) (*streamOutput, error) {
	if s.feed == nil {
		return nil, warehouse.Errorf(warehouse.EUNAVAILABLE, "The event stream is not served here")
	}
	if !acceptsEventStream(in.Accept) {
		return nil, warehouse.Errorf(codeNotAcceptable, "The event log is served as text/event-stream only")
	}
	var after *warehouse.EventPos
	for _, c := range []string{in.LastEventID, in.After} {
		if c = strings.TrimSpace(c); c != "" {
			p, err := warehouse.ParseEventCursor(c)
			if err != nil {
				return nil, apiError(err)
			}
			after = &p
			break
		}
	}
	var kinds []string
	if in.Kinds != "" {
		kinds = strings.Split(in.Kinds, ",")
	}
	st, err := s.feed.Open(ctx, actor(ctx), after, kinds)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.EINVALID {
			return nil, apiError(&warehouse.Error{Code: codeBadParameter, Message: "Bad parameter: " + warehouse.ErrorMessage(err)})
		}
		return nil, apiError(err)
	}
	return &streamOutput{Body: func(hctx huma.Context) {
		defer st.Close()
		s.serveStream(ctx, hctx, st)
	}}, nil
}

// serveStream writes st's events until the client goes, the server shuts
// down or a write fails.
func (s *Server) serveStream(ctx context.Context, hctx huma.Context, st *events.Stream) {
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetHeader("X-Accel-Buffering", "no") // nginx: pass events at once
	hctx.SetStatus(http.StatusOK)
	var rc *http.ResponseController
	if rs, ok := ctx.Value(requestKey).(*reqState); ok {
		rc = http.NewResponseController(rs)
	}
	w := bufio.NewWriterSize(hctx.BodyWriter(), 16<<10)
	flush := func() error {
		if rc != nil {
			// Each batch gets its own window, so the server's
			// WriteTimeout does not end a long stream, and a client that
			// stops reading is cut off.
			_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if rc != nil {
			return rc.Flush()
		}
		return nil
	}
	_, _ = w.WriteString("retry: " + retryMS + "\n: connected\n\n")
	if flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		evs, err := st.Next(ctx, keepAlive)
		switch {
		case errors.Is(err, events.ErrClosed):
			// The client reconnects (to another instance) and resumes.
			_, _ = w.WriteString(": server shutting down\n\n")
			_ = flush()
			return
		case err != nil:
			if ctx.Err() == nil {
				s.log.Warn("event stream ended by an error; the client will resume", "err", err)
				_, _ = w.WriteString(": error reading events\n\n")
				_ = flush()
			}
			return
		case len(evs) == 0:
			_, _ = w.WriteString(": keep-alive\n\n")
		}
		for i := range evs {
			e := &evs[i]
			_, _ = w.WriteString("id: " + e.Pos().Cursor() + "\nevent: " + e.Kind + "\ndata: ")
			// Encode ends the line; JSON has no raw newline in it.
			_ = enc.Encode(events.MessageOf(e))
			_, _ = w.WriteString("\n")
		}
		if flush() != nil {
			return
		}
	}
}
