package httpapi_test

import (
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestRefreshGraceNeverHandsOutInvalidTokens: within the reuse interval a
// replay of the rotated refresh token gets the successor pair only while
// that pair is still valid. Once the successor is revoked (either token),
// its session ended, or its revocation made on another instance, the
// replay is refused with the revoked-token 401.
func TestRefreshGraceNeverHandsOutInvalidTokens(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		cases := []struct {
			name string
			// invalidate acts on the successor pair; on is the instance
			// the replay is sent to.
			invalidate func(t *testing.T, e, other *env, access2, refresh2 string)
			replayOK   bool
		}{
			{"nothing revoked", func(*testing.T, *env, *env, string, string) {}, true},
			{"successor refresh revoked", func(t *testing.T, e, _ *env, _, refresh2 string) {
				e.do("DELETE", "/refresh-revoke", "", bearer(refresh2)).mustCode(t, 200)
			}, false},
			{"successor access revoked", func(t *testing.T, e, _ *env, access2, _ string) {
				e.do("DELETE", "/access-revoke", "", bearer(access2)).mustCode(t, 200)
			}, false},
			{"successor refresh revoked on another instance", func(t *testing.T, _, other *env, _, refresh2 string) {
				other.do("DELETE", "/refresh-revoke", "", bearer(refresh2)).mustCode(t, 200)
			}, false},
			{"successor access revoked on another instance", func(t *testing.T, _, other *env, access2, _ string) {
				other.do("DELETE", "/access-revoke", "", bearer(access2)).mustCode(t, 200)
			}, false},
			{"logout", func(t *testing.T, e, _ *env, access2, _ string) {
				e.do("POST", "/logout", "", bearer(access2)).mustCode(t, 204)
			}, false},
			{"session deleted", func(t *testing.T, e, _ *env, access2, _ string) {
				r := e.do("GET", "/sessions", "", bearer(access2)).mustCode(t, 200)
				var list []map[string]any
				if err := jsonUnmarshal(r.Body.Bytes(), &list); err != nil || len(list) != 1 {
					t.Fatalf("sessions: %s", r.Body)
				}
				e.do("DELETE", "/sessions/"+list[0]["id"].(string), "", bearer(access2)).mustCode(t, 204)
			}, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, engine)
				other := &env{t: t, url: e.url, hasher: e.hasher, clock: e.clock}
				other.open()
				_, refresh := e.login("joevu", "glinteco")
				r := e.do("POST", "/refresh", "", bearer(refresh)).mustCode(t, 200)
				access2, refresh2 := r.str("access_token"), r.str("refresh_token")
				tc.invalidate(t, e, other, access2, refresh2)
				replay := e.do("POST", "/refresh", "", bearer(refresh))
				if tc.replayOK {
					if replay.Code != 200 || replay.str("access_token") != access2 || replay.str("refresh_token") != refresh2 {
						t.Fatalf("replay within grace: %d %s", replay.Code, replay.Body)
					}
					return
				}
				if replay.Code != 401 || replay.str("detail") != "Token has been revoked" || replay.str("access_token") != "" {
					t.Fatalf("replay of a rotated token whose successor is no longer valid: %d %s", replay.Code, replay.Body)
				}
				if got := replay.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
	})
}

func (r resp) mustCode(t *testing.T, code int) resp {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want %d, got %d %s", code, r.Code, r.Body)
	}
	return r
}
