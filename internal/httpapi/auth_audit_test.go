package httpapi_test

import (
	"encoding/json"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"testing"
	"time"
)

func TestAuditEvents(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		admin, _ := e.login("joevu", "glinteco")
		viewer, _ := e.login("vera", "viewer-pass")
		if r := e.do("POST", "/api/v1/items", `{"sku":"AUD-1","name":"Audited","uom":"ea"}`, bearer(admin)); r.Code != 201 {
			t.Fatalf("create item: %d %s", r.Code, r.Body)
		}
		// A refresh token reuse is a session security event.
		_, refresh := e.login("joevu", "glinteco")
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 200 {
			t.Fatal(r.Code)
		}
		e.clock.advance(11 * time.Second)
		e.do("POST", "/refresh", "", bearer(refresh))

		cases := []struct {
			name, query, token string
			status             int
			wantAction         string
		}{
			{"item events", "?entity=item", admin, 200, "create"},
			{"user events", "?entity=user&entity_id=vera", admin, 200, "create"},
			{"session events", "?entity=session", admin, 200, "refresh_token_reuse"},
			{"viewer may not", "", viewer, 403, ""},
			{"bad entity", "?entity=planet", admin, 400, ""},
			{"bad cursor", "?cursor=nope", admin, 400, ""},
			{"csv", "?format=csv", admin, 406, ""},
		}
		for _, tc := range cases {
			r := e.do("GET", "/api/v1/audit-events"+tc.query, "", bearer(tc.token))
			if r.Code != tc.status {
				t.Errorf("%s: %d %s", tc.name, r.Code, r.Body)
				continue
			}
			if tc.wantAction == "" {
				continue
			}
			var page struct {
				Items []struct {
					Entity, EntityID, Action, Actor string
					After                           json.RawMessage
				} `json:"items"`
			}
			if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil || len(page.Items) == 0 || page.Items[0].Action != tc.wantAction {
				t.Errorf("%s: %v %s", tc.name, err, r.Body)
			}
		}
		// Pagination walks every event once.
		seen := map[float64]bool{}
		next := "/api/v1/audit-events?limit=1"
		for i := 0; next != "" && i < 100; i++ {
			r := e.do("GET", next, "", bearer(admin))
			if r.Code != 200 {
				t.Fatalf("page %d: %d %s", i, r.Code, r.Body)
			}
			for _, it := range r.body["items"].([]any) {
				id := it.(map[string]any)["id"].(float64)
				if seen[id] {
					t.Fatalf("event %v twice", id)
				}
				seen[id] = true
			}
			next = ""
			if c, ok := r.body["next_cursor"].(string); ok {
				next = "/api/v1/audit-events?limit=1&cursor=" + c
			}
		}
		if len(seen) < 5 {
			t.Fatalf("only %d events", len(seen))
		}
	})
}
