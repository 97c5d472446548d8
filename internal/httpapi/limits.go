package httpapi

import (
	"net/http"
	"strconv"
	"strings"
)

// maxBodyBytes is the largest request body any route reads: Huma's
// default limit, which no operation raises. The edge enforces it with
// http.MaxBytesReader on the real ResponseWriter, so net/http knows when
// it was hit and closes the connection properly (after a lingering close,
// see framing.go, so the client reads the 413 rather than a reset).
const maxBodyBytes = 1 << 20

// uploadPrefixes are the paths that take a whole file (bulk import: the
// API's and the console's upload); their bodies may be as large as
// Config.ImportMaxBytes (and a form's worth more, for the console's
// multipart form: the handlers hold the file itself to the limit), every
// other body maxBodyBytes.
var uploadPrefixes = [...]string{"/api/v1/imports/", "/imports"}

// bodyLimits is the largest body of each kind of route.
type bodyLimits struct{ body, upload int64 }

func (l bodyLimits) of(r *http.Request) int64 {
	if r.Method == http.MethodPost {
		for _, p := range uploadPrefixes {
			if strings.HasPrefix(r.URL.Path, p) {
				return l.upload
			}
		}
	}
	return l.body
}

// limitBody bounds r's body. A body declared larger is refused at once,
// before any route or its authentication runs: answered 413 with
// Connection: close, the body left unread (the lingering close drains
// it). It reports whether it answered.
func limitBody(w http.ResponseWriter, st *reqState, r *http.Request, limits bodyLimits) bool {
	limit := limits.of(r)
	if r.ContentLength > limit {
		st.Header()["Connection"] = []string{"close"}
		detail := "Request body too large: " + strconv.FormatInt(r.ContentLength, 10) + " bytes; the limit is " + strconv.FormatInt(limit, 10) + " bytes"
		if limit != limits.body && limits.upload > maxBodyBytes {
			// An upload: say what to do with a file that big.
			detail = "the file is larger than " + strconv.FormatInt(limit-maxBodyBytes, 10) + " bytes: split it, or import it on the server with `warehouse import`"
		}
		writeProblem(st, codeProblem(codeBodyTooLarge, detail))
		return true
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return false
}
