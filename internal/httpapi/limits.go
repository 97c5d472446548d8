package httpapi

import (
	"net/http"
	"strconv"
)

// maxBodyBytes is the largest request body any route reads: Huma's
// default limit, which no operation raises. The edge enforces it with
// http.MaxBytesReader on the real ResponseWriter, so net/http knows when
// it was hit and closes the connection properly (after a lingering close,
// see framing.go, so the client reads the 413 rather than a reset).
const maxBodyBytes = 1 << 20

// limitBody bounds r's body. A body declared larger is refused at once,
// before any route or its authentication runs: answered 413 with
// Connection: close, the body left unread (the lingering close drains
// it). It reports whether it answered.
func limitBody(w http.ResponseWriter, st *reqState, r *http.Request) bool {
	if r.ContentLength > maxBodyBytes {
		st.Header()["Connection"] = []string{"close"}
		writeProblem(st, codeProblem(codeBodyTooLarge, "Request body too large: "+strconv.FormatInt(r.ContentLength, 10)+
			" bytes; the limit is "+strconv.Itoa(maxBodyBytes)+" bytes"))
		return true
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	return false
}
