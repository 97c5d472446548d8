package app

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/metrics"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
)

// Each part declares what it reports where it reports it; internal/metrics
// implements all of them, and this is where they meet (as in stores.go).
var (
	_ session.Metrics    = (*metrics.Metrics)(nil)
	_ inventory.Metrics  = (*metrics.Metrics)(nil)
	_ store.BatchMetrics = (*metrics.Metrics)(nil)
	_ httpapi.Metrics    = (*metrics.Metrics)(nil)
	_ metrics.AuthLag    = (*authstate.State)(nil)
	_ metrics.HashLoad   = (*auth.Hasher)(nil)
)

// listenMetrics binds --metrics-addr and makes the registry. It runs with
// the other listeners, before the database is opened, so that a busy port
// is one line at start and nothing is created.
func (a *App) listenMetrics(addr string) error {
	ln, err := Listen("--metrics-addr", addr)
	if err != nil {
		return err
	}
	a.metricsLn = ln
	a.metrics = metrics.New()
	return nil
}

// serveMetrics registers the collectors that read what Open has opened
// (the database pools, the hasher, the auth state) and serves /metrics on
// the metrics listener until Close.
func (a *App) serveMetrics() {
	var pools []metrics.Pool
	for _, p := range a.db.Pools() {
		pools = append(pools, metrics.Pool{Name: p.Name, DB: p.DB})
	}
	a.metrics.AddDBPools(pools...)
	a.metrics.AddHashLoad(a.hasher)
	a.metrics.AddAuthLag(a.state, a.log)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler(a.log))
	a.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	ln := a.metricsLn
	go func() {
		if err := a.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("metrics server stopped", "err", err)
		}
	}()
	a.log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
}

// The metrics each part is given: none (a nil interface, not a nil
// pointer in one) without --metrics-addr.

func (a *App) sessionMetrics() session.Metrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

func (a *App) httpMetrics() httpapi.Metrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

func (a *App) storeMetrics() store.BatchMetrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

func (a *App) inventoryOptions() []inventory.Option {
	if a.metrics == nil {
		return nil
	}
	return []inventory.Option{inventory.WithMetrics(a.metrics)}
}

// MetricsAddr is the address metrics are served on (nil without
// --metrics-addr).
func (a *App) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}
