package fakeapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakeapi"
)

func TestLog(t *testing.T) {
	var log fakeapi.Log
	srv := httptest.NewServer(log.Handler("application/json", func(r *http.Request, raw []byte, _ time.Time) fakeapi.Response {
		if resp, ok := log.Injected(); ok {
			return resp
		}
		return fakeapi.Response{Status: http.StatusOK, Body: `{"echo":` + string(raw) + `}`}
	}))
	defer srv.Close()
	log.FailNext(fakeapi.Response{Status: http.StatusTooManyRequests, Body: `{}`, RetryAfter: 1500 * time.Millisecond})

	tests := []struct {
		status     int
		retryAfter string
		body       string
	}{
		{http.StatusTooManyRequests, "2", `{}`},
		{http.StatusOK, "", `{"echo":1}`},
	}
	for i, tt := range tests {
		resp, err := http.Post(srv.URL+"/x", "application/json", strings.NewReader("1"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Retry-After") != tt.retryAfter || string(b) != tt.body {
			t.Errorf("call %d: %d, Retry-After %q, %s; want %d, %q, %s", i+1, resp.StatusCode,
				resp.Header.Get("Retry-After"), b, tt.status, tt.retryAfter, tt.body)
		}
	}
	if !log.Wait(time.Second, func() bool { return len(log.Requests()) == 2 }) {
		t.Fatalf("requests %+v, want 2", log.Requests())
	}
	if r := log.Requests()[0]; r.Method != http.MethodPost || r.Path != "/x" || r.Status != 429 || string(r.Body) != "1" {
		t.Errorf("first request recorded as %+v", r)
	}
	if log.Wait(10*time.Millisecond, func() bool { return len(log.Requests()) == 3 }) {
		t.Error("Wait held for a call never made")
	}
}
