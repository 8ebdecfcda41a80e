package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is ready.
type Check func(ctx context.Context) error

// Health is the set of readiness checks behind /readyz.
type Health struct {
	mu     sync.Mutex
	checks map[string]Check
}

// NewHealth returns an empty check set.
func NewHealth() *Health { return &Health{checks: make(map[string]Check)} }

// Add registers a named check, replacing any check of the same name.
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// Run runs every check at once, each with its own 2s budget, so that one
// slow dependency is not blamed on the others, and returns the failures by
// name.
func (h *Health) Run(ctx context.Context) map[string]string {
	h.mu.Lock()
	checks := maps.Clone(h.checks)
	h.mu.Unlock()
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]string{}
	)
	for name, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			if err := check(ctx); err != nil {
				mu.Lock()
				failed[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

// checkTimeout bounds one readiness check.
const checkTimeout = 2 * time.Second

// NATSCheck is ready while nc is connected.
func NATSCheck(nc *nats.Conn) Check {
	return func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats %s", nc.Status())
		}
		return nil
	}
}

// StreamsCheck is ready when every named stream exists.
func StreamsCheck(js jetstream.JetStream, names ...string) Check {
	return func(ctx context.Context) error {
		var errs []error
		for _, n := range names {
			if _, err := js.Stream(ctx, n); err != nil {
				errs = append(errs, fmt.Errorf("stream %s: %w", n, err))
			}
		}
		return errors.Join(errs...)
	}
}

// AdminHandler serves /livez, /readyz (JSON listing failed checks, 503 when
// any fails) and /metrics from g. Any other path, or a method other than
// GET or HEAD, is answered with a JSON error, as every other endpoint does,
// instead of net/http's plain-text 404 and 405.
func AdminHandler(h *Health, g prometheus.Gatherer) http.Handler {
	routes := map[string]http.Handler{
		"/livez": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}),
		"/readyz": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			failed := h.Run(r.Context())
			if len(failed) > 0 {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}),
		"/metrics": promhttp.HandlerFor(g, promhttp.HandlerOpts{}),
	}
	mux := http.NewServeMux()
	for path, route := range routes {
		mux.Handle("GET "+path, route)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := routes[r.URL.Path]; ok {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, adminError{Details: []any{},
				Error: fmt.Sprintf("method %s is not allowed on %s: use GET", r.Method, r.URL.Path)})
			return
		}
		writeJSON(w, http.StatusNotFound, adminError{Details: []any{},
			Error: fmt.Sprintf("no such endpoint %s: use GET %s", r.URL.Path, strings.Join(slices.Sorted(maps.Keys(routes)), ", "))})
	})
	return mux
}

// adminError is the body of the admin server's errors, in the shape of the
// services' own: a message and the details (none here).
type adminError struct {
	Error   string `json:"error"`
	Details []any  `json:"details"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	return nil
}
