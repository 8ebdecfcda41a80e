package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPostRetriesLikeASender: answers that ask to retry later are sent again
// and counted; other errors, and retries past postAttempts, fail the post.
func TestPostRetriesLikeASender(t *testing.T) {
	tests := []struct {
		name        string
		failures    int // answers before the 202
		status      int
		wantErr     string
		wantRetried int64
	}{
		{"accepted at once", 0, http.StatusServiceUnavailable, "", 0},
		{"503 twice", 2, http.StatusServiceUnavailable, "", 2},
		{"429 once", 1, http.StatusTooManyRequests, "", 1},
		{"503 past the attempts", postAttempts, http.StatusServiceUnavailable, "Service Unavailable: {\"error\":\"busy\"}", postAttempts - 1},
		{"400 is not retried", 1, http.StatusBadRequest, "Bad Request", 0},
		{"a long Retry-After is not waited out", 1, http.StatusServiceUnavailable, "503", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(secretHeader) != benchSecret {
					t.Errorf("secret header %q", r.Header.Get(secretHeader))
				}
				if calls.Add(1) <= int64(tt.failures) {
					w.Header().Set("Retry-After", retryAfter(tt.name))
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(`{"error":"busy"}`))
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			e := &env{client: srv.Client()}
			err := e.post(t.Context(), srv.URL, []byte(`{}`), true)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := e.retried.Load(); got != tt.wantRetried {
				t.Errorf("retried %d, want %d", got, tt.wantRetried)
			}
		})
	}
}

func TestRetryLater(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wait       string
		again      bool
	}{
		{http.StatusServiceUnavailable, "2", "2s", true},
		{http.StatusTooManyRequests, "", "1s", true},
		{http.StatusServiceUnavailable, "soon", "1s", true},
		{http.StatusInternalServerError, "2", "0s", false},
		{http.StatusAccepted, "", "0s", false},
	}
	for _, tt := range tests {
		wait, again := retryLater(tt.status, tt.retryAfter)
		if wait.String() != tt.wait || again != tt.again {
			t.Errorf("retryLater(%d, %q) = %v, %v; want %s, %v", tt.status, tt.retryAfter, wait, again, tt.wait, tt.again)
		}
	}
}

// retryAfter is what the test server answers: a minute for the case that
// must not wait, else at once.
func retryAfter(name string) string {
	if strings.Contains(name, "long") {
		return "60"
	}
	return "0"
}
