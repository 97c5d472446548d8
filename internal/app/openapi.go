package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// OpenAPI is the OpenAPI document exactly as a server with cfg's version
// and public URL answers GET /openapi.json. The document depends on the
// routes, not on the database: the server is built without one and never
// asked anything else.
func OpenAPI(cfg Config) ([]byte, error) {
	srv := httpapi.New(httpapi.Config{Version: cfg.Version, PublicURL: cfg.PublicURL},
		httpapi.Deps{Log: slog.New(slog.DiscardHandler)})
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK {
		return nil, fmt.Errorf("openapi: the server answered %d", w.Code)
	}
	return w.Body.Bytes(), nil
}
