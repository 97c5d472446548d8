// Command baseline is the yardstick of the load benchmark: a bare net/http
// server answering warehouse's benchmarked paths with the same JSON and no
// auth, no database and no middleware. Ratios in the benchmark's table are
// warehouse's numbers divided by this server's, measured in the same run.
//
// The stock and movement answers are warehouse's own bodies, captured by
// the benchmark and given with -bodies; each is decoded once and encoded
// again on every request, as a handler that builds its answer would.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

type message struct {
	Message string `json:"message"`
}

type user struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8001", "listen address")
	bodies := flag.String("bodies", "", "directory with stock.json, movement.json and pair.json captured from warehouse")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := serve(*addr, *bodies); err != nil {
		log.Error("baseline failed", "err", err)
		os.Exit(1)
	}
}

func serve(addr, dir string) error {
	var stock, movement any = map[string]any{"items": []any{}}, map[string]any{"id": 1}
	// A pair of the length warehouse issues, so the bodies weigh the same.
	pair := tokenPair{AccessToken: "a", RefreshToken: "r", TokenType: "bearer", ExpiresIn: 900}
	if dir != "" {
		for name, dst := range map[string]any{"stock.json": &stock, "movement.json": &movement, "pair.json": &pair} {
			if err := load(filepath.Join(dir, name), dst); err != nil {
				return err
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /welcome", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, message{"Welcome to the Warehouse Management API"})
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, user{User: "joevu", Roles: []string{"admin"}})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, pair)
	})
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, pair)
	})
	mux.HandleFunc("GET /api/v1/stock", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, stock)
	})
	mux.HandleFunc("POST /api/v1/movements", func(w http.ResponseWriter, r *http.Request) {
		var in any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusCreated, movement)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func load(path string, dst any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a failed write is the client's loss
}
