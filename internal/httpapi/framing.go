package httpapi

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// Request framing (RFC 9112 section 6.3). net/http reads a request that
// has both Content-Length and Transfer-Encoding: chunked by the chunked
// coding and keeps the connection open, and it folds duplicate
// Content-Length headers into one, both before any handler can see the
// raw headers. A proxy in front that frames by Content-Length then sends
// us a request hidden in the body (request smuggling). So the listener
// reads every request head itself as it passes: a head whose framing is
// ambiguous reaches net/http without its body, marked with framingHeader,
// and nothing after it on that connection is ever read. The edge answers
// the marked request 400 and closes.
//
// The inspector follows bodies (Content-Length or chunked) to find the
// next head. Where its reading of the bytes might differ from net/http's
// (a malformed chunk, a head too large, a blank line first), it stops
// inspecting that connection: net/http refuses such input itself and
// closes the connection.

// framingHeader carries the inspector's verdict to the edge. The
// inspector removes it from every head a client sends, so only the
// inspector can set it.
const framingHeader = "X-Warehouse-Bad-Framing"

// FramingListener inspects the request framing of every connection ln
// accepts (see above), and closes them lingering (see Close). maxHead
// bounds a head the inspector holds back until it is complete; a longer
// one is passed on uninspected (net/http answers 431 for it).
func FramingListener(ln net.Listener, maxHead int) net.Listener {
	return &framingListener{Listener: ln, maxHead: maxHead, inspect: true}
}

// LingeringListener closes the connections ln accepts lingering, without
// inspecting them: for the TCP connections under TLS, whose bytes are
// not HTTP to look at.
func LingeringListener(ln net.Listener) net.Listener {
	return &framingListener{Listener: ln}
}

type framingListener struct {
	net.Listener
	maxHead int
	inspect bool
}

func (l *framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &framingConn{Conn: c, maxHead: l.maxHead, linger: true}
	if !l.inspect {
		fc.state = stBlind
	}
	return fc, nil
}

// TLSFramingListener serves TLS with cfg on the TCP connections of ln
// (closed lingering) and inspects the framing of the HTTP/1.x requests
// inside, as FramingListener does in the clear: under TLS the inspector
// has to read the decrypted stream, so the handshake happens here, before
// net/http sees the connection. A connection that negotiated h2 (cfg's
// NextProtos) is handed over as the *tls.Conn itself, which net/http needs
// to serve HTTP/2 (whose frames carry no such ambiguity); any other is
// wrapped, and still reports its TLS state (ConnectionState), so
// Request.TLS is set. Serve it with an http.Server whose TLSConfig is nil,
// so that Serve sets HTTP/2 up for the h2 connections.
//
// Handshakes run one goroutine per connection, bounded by timeout, so a
// slow client cannot hold up Accept. log gets the failed handshakes, as
// net/http's ErrorLog would.
func TLSFramingListener(ln net.Listener, cfg *tls.Config, maxHead int, timeout time.Duration, log *slog.Logger) net.Listener {
	l := &tlsFramingListener{Listener: LingeringListener(ln), cfg: cfg, maxHead: maxHead, timeout: timeout, log: log,
		conns: make(chan net.Conn), done: make(chan struct{}), errc: make(chan error, 1)}
	go l.acceptLoop()
	return l
}

type tlsFramingListener struct {
	net.Listener
	cfg     *tls.Config
	maxHead int
	timeout time.Duration
	log     *slog.Logger

	conns chan net.Conn // handshaken connections, for Accept
	done  chan struct{} // closed by Close
	once  sync.Once
	errc  chan error // the inner listener's Accept error, once
}

// acceptLoop accepts TCP connections until the listener closes. Other
// errors (out of file descriptors) are waited out with a backoff, as
// net/http's Serve does, rather than ending the server.
func (l *tlsFramingListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				err = net.ErrClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.errc <- err
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go l.handshake(c)
	}
}

// handshake completes the TLS handshake of c and hands it to Accept.
func (l *tlsFramingListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.cfg)
	if l.timeout > 0 {
		_ = raw.SetDeadline(time.Now().Add(l.timeout))
	}
	if err := tc.Handshake(); err != nil {
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// Plain HTTP on the TLS port: say so, as net/http does.
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		_ = raw.Close()
		l.log.Warn("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", reason)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		c = &tlsFramingConn{framingConn: &framingConn{Conn: tc, maxHead: l.maxHead}, tls: tc}
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// looksLikeHTTP reports whether the first five bytes of a TLS record
// header are the start of a plain HTTP request (net/http's test).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func (l *tlsFramingListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // every later Accept fails the same way
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *tlsFramingListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// tlsFramingConn is an inspected connection inside TLS. Its Close is the
// TLS connection's (close_notify, then the lingering close of the TCP
// connection below); ConnectionState lets net/http set Request.TLS.
type tlsFramingConn struct {
	*framingConn
	tls *tls.Conn
}

func (c *tlsFramingConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// A lingering close: net/http closes a connection whose request body it
// has not read (a 413 answered early, a refused request, an ambiguous
// one). Closing a socket with unread input makes the kernel send a reset,
// which can destroy the answer before the client has read it (15-45% of
// clients that send Connection: close with an 8 MiB body got a reset).
// So Close sends FIN, then reads and discards what the client still sends,
// up to lingerBytes and lingerTime, and only then closes, in the
// background (as Apache's lingering_close).
const (
	lingerBytes = 16 << 20
	lingerTime  = 5 * time.Second
)

// CloseWrite lets net/http half-close the connection (its own reset
// avoidance) through the wrapper.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close half-closes the connection and lingers (see lingerBytes); a
// connection inside TLS (not linger) leaves that to the TCP one below.
func (c *framingConn) Close() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !c.linger || !ok || cw.CloseWrite() != nil {
		return c.Conn.Close()
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	go func() {
		_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		_ = c.Conn.Close()
	}()
	return nil
}

type framingState int

const (
	stHead      framingState = iota // collecting a request head
	stBody                          // passing n bytes of a Content-Length body
	stChunkSize                     // reading a chunk-size line
	stChunkData                     // passing n bytes of chunk data
	stChunkEnd                      // expecting the CRLF after chunk data
	stTrailer                       // reading trailer lines after the last chunk
	stBlind                         // passing everything uninspected
	stCut                           // after an ambiguous head: nothing more
)

// framingConn is a connection whose reads go through the inspector. Reads
// of one connection are sequential (net/http's one reader), so it needs
// no lock.
type framingConn struct {
	net.Conn
	maxHead int
	linger  bool // Close lingers (a TCP connection)

	state framingState
	n     int64  // bytes left in stBody or stChunkData
	line  []byte // the head, or the chunk or trailer line, so far
	out   []byte // inspected bytes not yet returned
	buf   [4096]byte
}

func (c *framingConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.state == stCut {
			return 0, errCut
		}
		if c.state == stBlind && len(c.line) == 0 {
			return c.Conn.Read(p)
		}
		n, err := c.Conn.Read(c.buf[:])
		c.feed(c.buf[:n])
		if err != nil {
			if len(c.out) == 0 && len(c.line) > 0 {
				// A partial head at EOF: net/http says what is wrong with it.
				c.out, c.line = c.line, nil
			}
			if len(c.out) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.out = nil
	}
	return n, nil
}

// errCut ends the reading of a connection after an ambiguous head.
var errCut = &net.OpError{Op: "read", Net: "tcp", Err: errString("connection closed after a request with ambiguous framing")}

type errString string

func (e errString) Error() string { return string(e) }

// feed runs the inspector over b, appending to c.out what may be read.
func (c *framingConn) feed(b []byte) {
	for len(b) > 0 {
		switch c.state {
		case stBlind:
			c.out = append(c.out, c.line...)
			c.line = nil
			c.out = append(c.out, b...)
			return
		case stCut:
			return
		case stBody, stChunkData:
			k := int(min(int64(len(b)), c.n))
			c.out = append(c.out, b[:k]...)
			b = b[k:]
			c.n -= int64(k)
			if c.n == 0 {
				if c.state == stBody {
					c.state = stHead
				} else {
					c.state = stChunkEnd
				}
			}
		case stHead:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.line = append(c.line, b...)
				b = nil
				if len(c.line) > c.maxHead {
					c.state = stBlind
				}
				continue
			}
			c.line = append(c.line, b[:i+1]...)
			b = b[i+1:]
			if !headComplete(c.line) {
				if len(c.line) > c.maxHead {
					c.state = stBlind
				}
				continue
			}
			head := c.line
			c.line = nil
			c.head(head)
		case stChunkSize, stChunkEnd, stTrailer:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.line = append(c.line, b...)
				b = nil
				if len(c.line) > 4096 {
					c.state = stBlind
				}
				continue
			}
			c.line = append(c.line, b[:i+1]...)
			b = b[i+1:]
			line := c.line
			c.line = nil
			c.out = append(c.out, line...)
			c.chunkLine(bytes.TrimRight(line, "\r\n"), line)
		}
	}
}

// chunkLine moves the chunk reader on by one line (trimmed, and raw).
func (c *framingConn) chunkLine(line, raw []byte) {
	switch c.state {
	case stChunkEnd:
		// net/http wants exactly CRLF after the data.
		if string(raw) != "\r\n" {
			c.state = stBlind
			return
		}
		c.state = stChunkSize
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimRight(line, " \t")
		size, err := strconv.ParseUint(string(line), 16, 63)
		if err != nil || len(line) == 0 || len(line) > 16 {
			c.state = stBlind
			return
		}
		if size == 0 {
			c.state = stTrailer
			return
		}
		c.state, c.n = stChunkData, int64(size)
	case stTrailer:
		if len(line) == 0 {
			c.state = stHead
		}
	}
}

// headComplete reports whether h, which ends in LF, ends with an empty
// line (as net/http's textproto reads them: CR optional).
func headComplete(h []byte) bool {
	h = h[:len(h)-1] // the LF
	h = bytes.TrimSuffix(h, []byte("\r"))
	return len(h) == 0 || h[len(h)-1] == '\n'
}

// head judges one complete request head and passes it on: as it is, with
// the inspector following its body; without its framing and marked, and
// nothing after it, when the framing is ambiguous.
func (c *framingConn) head(h []byte) {
	lines := bytes.SplitAfter(h, []byte("\n"))
	reqLine := bytes.TrimRight(lines[0], "\r\n")
	if len(reqLine) == 0 {
		// A blank line before the request line: net/http refuses it as
		// malformed; do not guess how it would read the rest.
		c.out = append(c.out, h...)
		c.state = stBlind
		return
	}
	http10 := bytes.HasSuffix(reqLine, []byte(" HTTP/1.0"))
	var (
		reason  string
		cls     [][]byte
		tes     [][]byte
		kept    = [][]byte{lines[0]} // the head without a spoofed verdict
		bare    = [][]byte{lines[0]} // and without its framing
		spoofed bool
	)
	fail := func(r string) {
		if reason == "" {
			reason = r
		}
	}
	for _, raw := range lines[1:] {
		line := bytes.TrimRight(raw, "\r\n")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			fail("obsolete line folding in a header")
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			kept, bare = append(kept, raw), append(bare, raw) // net/http refuses it
			continue
		}
		name := string(line[:colon])
		value := bytes.Trim(line[colon+1:], " \t")
		switch {
		case equalFold(name, "Content-Length"):
			cls = append(cls, value)
			kept = append(kept, raw)
			continue
		case equalFold(name, "Transfer-Encoding"):
			tes = append(tes, value)
			kept = append(kept, raw)
			continue
		case equalFold(name, framingHeader):
			spoofed = true
			continue
		case bytes.ContainsAny(line[:colon], " \t"):
			fail("whitespace in a header name")
		}
		kept, bare = append(kept, raw), append(bare, raw)
	}
	var length int64
	chunked := false
	switch {
	case len(cls) > 1:
		fail("more than one Content-Length")
	case len(tes) > 0 && len(cls) > 0:
		fail("both Content-Length and Transfer-Encoding")
	case len(tes) > 0 && http10:
		fail("Transfer-Encoding in an HTTP/1.0 request")
	case len(tes) > 1:
		fail("more than one Transfer-Encoding")
	case len(tes) == 1 && !equalFold(string(tes[0]), "chunked"):
		fail("Transfer-Encoding other than chunked")
	case len(tes) == 1:
		chunked = true
	case len(cls) == 1:
		n, ok := parseLength(cls[0])
		if !ok {
			fail("Content-Length is not a number of bytes")
		}
		length = n
	}
	if reason != "" {
		out := bytes.Join(bare, nil)
		out = append(out, framingHeader+": "+reason+"\r\n\r\n"...)
		c.out = append(c.out, out...)
		c.state = stCut
		return
	}
	if spoofed {
		h = append(bytes.Join(kept, nil), "\r\n"...)
	}
	c.out = append(c.out, h...)
	switch {
	case chunked:
		c.state = stChunkSize
	case length > 0:
		c.state, c.n = stBody, length
	default:
		c.state = stHead
	}
}

// parseLength is a Content-Length value as net/http reads it: digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
