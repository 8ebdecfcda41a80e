package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/events/service"
)

// TestHealthBlamesOnlyTheSlowCheck: a check that hangs fails on its own
// deadline, and the checks next to it are judged on their own.
func TestHealthBlamesOnlyTheSlowCheck(t *testing.T) {
	h := service.NewHealth()
	h.Add("a-nats", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	h.Add("b-store", func(ctx context.Context) error { return ctx.Err() })
	h.Add("c-kv", func(context.Context) error { return errors.New("bucket missing") })
	h.Add("d-smtp", func(ctx context.Context) error { return ctx.Err() })

	got := h.Run(context.Background())
	want := map[string]string{"a-nats": context.DeadlineExceeded.Error(), "c-kv": "bucket missing"}
	if !maps.Equal(got, want) {
		t.Errorf("Run = %v, want %v", got, want)
	}
}

// TestAdminHandlerErrorsAreJSON: the admin server answers an unknown path
// and a method its endpoints do not take with a JSON error, like every
// other endpoint, and still serves its own.
func TestAdminHandlerErrorsAreJSON(t *testing.T) {
	srv := httptest.NewServer(service.AdminHandler(service.NewHealth(), prometheus.NewRegistry()))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		allow        string
		wantError    string
	}{
		{http.MethodGet, "/livez", http.StatusOK, "", ""},
		{http.MethodGet, "/readyz", http.StatusOK, "", ""},
		{http.MethodGet, "/nope", http.StatusNotFound, "", "no such endpoint /nope: use GET /livez, /metrics, /readyz"},
		{http.MethodPost, "/livez", http.StatusMethodNotAllowed, "GET, HEAD", "method POST is not allowed on /livez"},
		{http.MethodDelete, "/metrics", http.StatusMethodNotAllowed, "GET, HEAD", "method DELETE is not allowed on /metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error   string `json:"error"`
				Details []any  `json:"details"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow ||
				resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(body.Error, tt.wantError) {
				t.Errorf("%d %q, Allow %q, Content-Type %q; want %d %q..., Allow %q",
					resp.StatusCode, body.Error, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"),
					tt.status, tt.wantError, tt.allow)
			}
			if tt.wantError != "" && body.Details == nil {
				t.Error("details missing: want an empty list")
			}
		})
	}
}
