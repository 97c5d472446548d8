package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The load generator speaks HTTP/1.1 over raw keep-alive connections with
// pre-built requests and a minimal response parser. net/http's client costs
// about as much CPU per request as the server under test, so on one core it
// would measure itself; this one costs a few microseconds per request.

// nextFunc returns the request to send on one connection, given the body of
// the previous response on that connection (nil for the first request).
type nextFunc func(prev []byte) ([]byte, error)

// group is a set of connections running the same kind of request.
type group struct {
	name  string
	conns int
	// newConn returns the request source of connection i (state such as a
	// refresh-token chain lives in its closure).
	newConn func(i int) nextFunc
	// ok reports whether a status is a success for this request.
	ok func(status int) bool
}

// result is what one group did during the measured window.
type result struct {
	requests int
	errors   int
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration // until finish
	p50, p99 time.Duration
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// run drives addr with every group at once for warmup+duration and returns
// one result per group, counting only requests that started after the
// warm-up and finished before the end.
func run(ctx context.Context, addr string, groups []group, warmup, duration time.Duration) []result {
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	type connStats struct {
		lat      []time.Duration
		errors   int
		firstErr error
	}
	stats := make([][]connStats, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		stats[gi] = make([]connStats, g.conns)
		for ci := range g.conns {
			st := &stats[gi][ci]
			next := g.newConn(ci)
			wg.Go(func() {
				c := &client{addr: addr}
				defer c.close()
				var prev []byte
				for ctx.Err() == nil {
					req, err := next(prev)
					if err != nil {
						st.errors++
						st.firstErr = cmp(st.firstErr, err)
						return
					}
					t0 := time.Now()
					status, body, err := c.do(ctx, req)
					t1 := time.Now()
					if err != nil {
						if ctx.Err() != nil || !t1.Before(end) {
							return // cut off by the deadline: not an error
						}
						st.errors++
						st.firstErr = cmp(st.firstErr, err)
						c.close()
						continue
					}
					if !g.ok(status) {
						st.errors++
						st.firstErr = cmp(st.firstErr, fmt.Errorf("status %d: %.200s", status, body))
						// The chain (e.g. a rotated refresh token) is broken:
						// stop this connection rather than spin on errors.
						return
					}
					prev = body
					if !t0.Before(measureFrom) && !t1.After(end) {
						st.lat = append(st.lat, t1.Sub(t0))
					}
				}
			})
		}
	}
	wg.Wait()

	out := make([]result, len(groups))
	for gi := range groups {
		r := result{elapsed: duration}
		for _, st := range stats[gi] {
			r.lat = append(r.lat, st.lat...)
			r.errors += st.errors
			if st.firstErr != nil && r.firstErr == "" {
				r.firstErr = st.firstErr.Error()
			}
		}
		r.requests = len(r.lat)
		out[gi] = r
	}
	return out
}

// merge adds the measurements of b to a (the same group in another round).
func merge(a, b result) result {
	a.requests += b.requests
	a.errors += b.errors
	if a.firstErr == "" {
		a.firstErr = b.firstErr
	}
	a.elapsed += b.elapsed
	a.lat = append(a.lat, b.lat...)
	return a
}

// finish computes the percentiles once all rounds are merged.
func (r *result) finish() {
	slices.Sort(r.lat)
	r.p50, r.p99 = percentile(r.lat, 0.50), percentile(r.lat, 0.99)
	r.lat = nil
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// client is one keep-alive connection.
type client struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	body []byte
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends req and reads the response. The returned body is valid until
// the next call.
func (c *client) do(ctx context.Context, req []byte) (int, []byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, fmt.Errorf("dial: %w", err)
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		// Past the end of the run, a blocked read must return.
		_ = c.conn.SetDeadline(dl)
	}
	if _, err := c.conn.Write(req); err != nil {
		return 0, nil, fmt.Errorf("write: %w", err)
	}
	status, closeAfter, err := c.readResponse()
	if err != nil {
		return 0, nil, err
	}
	if closeAfter {
		c.close()
	}
	return status, c.body, nil
}

var errProtocol = errors.New("malformed HTTP response")

// readResponse parses a status line, headers and a Content-Length or
// chunked body into c.body.
func (c *client) readResponse() (status int, closeAfter bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, errProtocol
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errProtocol
	}
	length, chunked := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errProtocol
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, errProtocol
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		for {
			line, err = c.br.ReadSlice('\n')
			if err != nil {
				return 0, false, fmt.Errorf("read chunk size: %w", err)
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
			if err != nil {
				return 0, false, errProtocol
			}
			if size == 0 {
				// Trailers (none expected) end with an empty line.
				for {
					line, err = c.br.ReadSlice('\n')
					if err != nil {
						return 0, false, fmt.Errorf("read trailer: %w", err)
					}
					if len(line) <= 2 {
						return status, closeAfter, nil
					}
				}
			}
			if err := c.readBody(int(size)); err != nil {
				return 0, false, err
			}
			if _, err := c.br.Discard(2); err != nil {
				return 0, false, fmt.Errorf("read chunk end: %w", err)
			}
		}
	case length >= 0:
		if err := c.readBody(length); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, errors.New("response without length (the load generator needs keep-alive)")
	}
	return status, closeAfter, nil
}

func (c *client) readBody(n int) error {
	at := len(c.body)
	c.body = slices.Grow(c.body, n)[:at+n]
	if _, err := io.ReadFull(c.br, c.body[at:]); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// httpRequest builds the bytes of one request.
func httpRequest(method, host, path string, headers [][2]string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: warehouse-bench\r\n")
	for _, h := range headers {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if body != nil {
		b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
