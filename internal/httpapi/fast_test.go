package httpapi_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// TestFastRoutesAnswerAsHuma sends each request twice: as is (the fast
// path for GET /welcome and GET /user) and with an Accept header that the
// fast path leaves to Huma but that Huma answers with JSON all the same.
// Status, headers and body must match.
func TestFastRoutesAnswerAsHuma(t *testing.T) {
	h := newHot(t)
	access, _ := h.token(t, "joevu", auth.TypeAccess)
	refresh, _ := h.token(t, "joevu", auth.TypeRefresh)
	ghost, _ := h.token(t, "ghost", auth.TypeAccess)
	revoked, rc := h.token(t, "joevu", auth.TypeAccess)
	h.state.Revoke(rc.ID, rc.Expiry)
	for _, tc := range []struct {
		name, method, path, authorization string
	}{
		{"welcome", http.MethodGet, "/welcome", ""},
		{"welcome HEAD", http.MethodHead, "/welcome", ""},
		{"user", http.MethodGet, "/user", "Bearer " + access},
		{"user twice (cached token)", http.MethodGet, "/user", "Bearer " + access},
		{"user lower-case scheme", http.MethodGet, "/user", "bearer " + access},
		{"user HEAD", http.MethodHead, "/user", "Bearer " + access},
		{"no token", http.MethodGet, "/user", ""},
		{"bad header", http.MethodGet, "/user", "Basic abc"},
		{"forged", http.MethodGet, "/user", "Bearer " + access[:len(access)-4] + "AAAA"},
		{"refresh token", http.MethodGet, "/user", "Bearer " + refresh},
		{"unknown user", http.MethodGet, "/user", "Bearer " + ghost},
		{"revoked", http.MethodGet, "/user", "Bearer " + revoked},
		{"garbage", http.MethodGet, "/user", "Bearer x.y.z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send := func(accept string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(tc.method, tc.path, nil)
				if tc.authorization != "" {
					req.Header.Set("Authorization", tc.authorization)
				}
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				return serve(t, h.srv, req)
			}
			fast, slow := send(""), send("application/json;q=0.9")
			if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() {
				t.Fatalf("fast %d %q, Huma %d %q", fast.Code, fast.Body, slow.Code, slow.Body)
			}
			for _, hdr := range []http.Header{fast.Header(), slow.Header()} {
				hdr.Del("X-Request-Id") // differs per request by design
			}
			if !maps.EqualFunc(fast.Header(), slow.Header(), slices.Equal) {
				t.Fatalf("headers: fast %v, Huma %v", fast.Header(), slow.Header())
			}
			if send("*/*").Body.String() != fast.Body.String() {
				t.Fatal("Accept: */* answered differently")
			}
		})
	}
}

// TestFastPathServes asserts which path answered: the fast path for the
// requests it covers (so a renamed OperationID, which would hand them all
// to Huma, fails here), and Huma for those it hands on (so the hook is live
// and the first assertion cannot pass vacuously).
func TestFastPathServes(t *testing.T) {
	h := newHot(t)
	access, _ := h.token(t, "joevu", auth.TypeAccess)
	humaServed := map[string]int{}
	httpapi.OnHumaHandler(h.srv, func(opID string) { humaServed[opID]++ })
	for _, tc := range []struct {
		name, method, path, authorization, accept string
		op                                        string // OperationID of the route
		wantStatus                                int
		wantFast                                  bool
	}{
		{"welcome", http.MethodGet, "/welcome", "", "", "welcome", http.StatusOK, true},
		{"welcome, Accept JSON", http.MethodGet, "/welcome", "", "application/json", "welcome", http.StatusOK, true},
		{"welcome, Accept anything", http.MethodGet, "/welcome", "", "*/*", "welcome", http.StatusOK, true},
		{"welcome HEAD", http.MethodHead, "/welcome", "", "", "welcome", http.StatusOK, true},
		{"user", http.MethodGet, "/user", "Bearer " + access, "", "user", http.StatusOK, true},
		{"user, Accept JSON", http.MethodGet, "/user", "Bearer " + access, "application/json", "user", http.StatusOK, true},
		{"user, bad header", http.MethodGet, "/user", "Basic abc", "", "user", http.StatusUnauthorized, true},
		{"user, garbage token", http.MethodGet, "/user", "Bearer x.y.z", "", "user", http.StatusUnauthorized, true},
		// Handed to Huma by design.
		{"welcome, weighted Accept", http.MethodGet, "/welcome", "", "application/json;q=0.9", "welcome", http.StatusOK, false},
		{"user, weighted Accept", http.MethodGet, "/user", "Bearer " + access, "application/json;q=0.9", "user", http.StatusOK, false},
		{"user, no Authorization", http.MethodGet, "/user", "", "", "user", http.StatusUnauthorized, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			before := humaServed[tc.op]
			w := serve(t, h.srv, req)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			byHuma := humaServed[tc.op] - before
			switch {
			case tc.wantFast && byHuma != 0:
				t.Errorf("Huma's handler served %s %s; want the fast path", tc.method, tc.path)
			case !tc.wantFast && byHuma != 1:
				t.Errorf("Huma's handler served %s %s %d times; want once", tc.method, tc.path, byHuma)
			}
		})
	}
}
