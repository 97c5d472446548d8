package httpapi

import (
	"context"
	"net/http"
	"time"
)

// bodyRead clears the connection's read deadline once Huma has read the
// request, before h runs. Huma bounds the reading of a body with a read
// deadline on the connection (Operation.BodyReadTimeout, 5 s by default)
// and never lifts it; net/http's own ReadTimeout is one more. A handler
// still running when it passes (a login waiting for a hash slot under a
// login flood) then has net/http's background read fail with a timeout,
// which cancels the request's context and the connection's: the request
// ends 503, and every later request on that keep-alive connection starts
// canceled and fails 500. The request is whole by now, so nothing is
// left for the deadline to guard (a handler that reads the body itself is
// registered with streamed instead); net/http sets the next request's
// deadlines itself once h returns.
func bodyRead[I, O any](h func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		if st, ok := ctx.Value(requestKey).(*reqState); ok {
			_ = http.NewResponseController(st).SetReadDeadline(time.Time{})
		}
		return h(ctx, in)
	}
}
