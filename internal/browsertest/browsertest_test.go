package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse/internal/browsertest"
)

// TestAxeFindsWhatItShould runs the accessibility check on pages whose
// faults are known, so a check that silently found nothing (axe-core not
// loaded, the page not rendered) fails here: an unlabelled input and an
// image without text are critical, and a clean page under a strict
// Content-Security-Policy (as every console page has) still gets checked.
func TestAxeFindsWhatItShould(t *testing.T) {
	pages := map[string]string{
		"/bad": `<!DOCTYPE html><html lang="en"><head><title>Bad</title></head><body><main><h1>Bad</h1>
			<form><input type="text" name="sku"><button type="submit">Post</button></form><img src="/x.png"></main></body></html>`,
		"/good": `<!DOCTYPE html><html lang="en"><head><title>Good</title></head><body><main><h1>Good</h1>
			<form><label for="sku">Item</label><input id="sku" type="text" name="sku"><button type="submit">Post</button></form></main></body></html>`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; form-action 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}))
	defer ts.Close()
	ctx := browsertest.New(t, browsertest.Options{})

	cases := []struct {
		path string
		want []string // rule ids that must be among the violations
	}{
		{"/bad", []string{"label", "image-alt"}},
		{"/good", nil},
	}
	for _, tc := range cases {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+tc.path)); err != nil {
			t.Fatal(err)
		}
		vs := browsertest.Violations(ctx, t)
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		for _, id := range tc.want {
			if !slices.Contains(ids, id) {
				t.Errorf("%s: axe-core found %v, want %s among them", tc.path, ids, id)
			}
		}
		if tc.want == nil {
			browsertest.CheckA11y(ctx, t, tc.path)
		}
	}

	path := browsertest.Screenshot(ctx, t, "browsertest-good-phone", 375)
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("screenshot %s: %v", path, err)
	}
}
