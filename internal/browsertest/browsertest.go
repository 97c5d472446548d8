// Package browsertest is what the browser tests share: a headless Chromium
// started the way this machine needs (no network beyond loopback), an
// accessibility check by axe-core (Deque's engine, injected into the page,
// so the judgement is not ours), and screenshots kept as test artifacts.
//
// Without Chromium or axe-core a test skips, except under CI=true, where it
// fails: CI (.ci/run) installs both.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// missing skips t, or fails it under CI=true, for a tool the test needs.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
}

// Chromium finds the browser: $CHROMIUM_PATH, or chromium on PATH.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CHROMIUM_PATH: %v", err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "chromium not found on PATH and CHROMIUM_PATH is not set (apt-get install -y chromium)")
	return ""
}

// Options are a browser's settings beyond the defaults.
type Options struct {
	// Hosts maps host names to 127.0.0.1 (every other name fails to
	// resolve, so nothing leaves the machine).
	Hosts []string
	// Width and Height are the window's size (default 1280x900).
	Width, Height int
}

// New starts a headless Chromium with a fresh profile and returns a tab's
// context; the browser is closed when t ends.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	exe := Chromium(t)
	if o.Width == 0 {
		o.Width, o.Height = 1280, 900
	}
	rules := "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"
	for _, h := range o.Hosts {
		rules = "MAP " + h + " 127.0.0.1, " + rules
	}
	var out lockedBuffer
	// chromedp's defaults have most of these; they are repeated because
	// the machine has no internet, and without the background networking
	// flags Chromium floods refused connections.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", rules),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.CombinedOutput(&out),
	)
	base, stop := context.WithTimeout(context.Background(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()   // closes the browser
		cancelAlloc() // waits for the process to exit
		stop()
		if t.Failed() {
			s := out.String()
			if len(s) > 4000 {
				s = "..." + s[len(s)-4000:]
			}
			t.Logf("chromium output:\n%s", s)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	return ctx
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// AxeVersion is the axe-core release .ci/run installs.
const AxeVersion = "4.11.0"

// axeSource is axe.min.js: $WAREHOUSE_AXE_JS, which .ci/run sets after
// installing axe-core from npm (npm install axe-core@AxeVersion).
func axeSource(t testing.TB) string {
	t.Helper()
	p := os.Getenv("WAREHOUSE_AXE_JS")
	if p == "" {
		missing(t, "WAREHOUSE_AXE_JS is not set: npm install --prefix /tmp/axe axe-core@"+AxeVersion+
			" and set WAREHOUSE_AXE_JS=/tmp/axe/node_modules/axe-core/axe.min.js")
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("WAREHOUSE_AXE_JS: %v", err)
	}
	return string(b)
}

// Violation is one rule axe-core found broken on the page.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"` // minor, moderate, serious, critical
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var targets []string
	for _, n := range v.Nodes {
		targets = append(targets, fmt.Sprint(n.Target...))
	}
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
}

// Violations runs axe-core on the page the tab shows (WCAG 2.0-2.2 A and
// AA rules, and axe's best practices) and returns what it found. The
// script is evaluated by the DevTools protocol, which a page's
// Content-Security-Policy does not govern, so the page under test keeps
// its own policy.
func Violations(ctx context.Context, t testing.TB) []Violation {
	t.Helper()
	src := axeSource(t)
	run := `(async () => {
		const r = await axe.run(document, {resultTypes: ["violations"],
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}});
		return JSON.stringify(r.violations);
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;true")); err != nil {
		t.Fatalf("load axe-core: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("axe-core result: %v", err)
	}
	return vs
}

// CheckA11y fails t if axe-core finds a serious or critical violation on
// the page the tab shows; lesser ones are logged. name says which page.
func CheckA11y(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	for _, v := range Violations(ctx, t) {
		if slices.Contains([]string{"serious", "critical"}, v.Impact) {
			t.Errorf("%s: accessibility: %s", name, v)
		} else {
			t.Logf("%s: accessibility (%s, not failing): %s", name, v.Impact, v)
		}
	}
}

// ArtifactsDir is where tests keep what a person should look at
// (screenshots): $WAREHOUSE_ARTIFACTS, or a directory that outlives the
// test in the system's temp dir.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WAREHOUSE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "warehouse-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	return dir
}

// Screenshot saves the whole page as ArtifactsDir/name.png and logs where.
// width, if not 0, first sets the viewport's width in CSS pixels (375: a
// phone), for this screenshot and what follows.
func Screenshot(ctx context.Context, t testing.TB, name string, width int) string {
	t.Helper()
	if width > 0 {
		var opts []chromedp.EmulateViewportOption
		if width < 600 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 800, opts...)); err != nil {
			t.Fatalf("screenshot %s: viewport: %v", name, err)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
