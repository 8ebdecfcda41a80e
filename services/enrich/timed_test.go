package enrich

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestTimedCountsRequestsWithoutAnswer: a provider request is timed by its
// status code, and one that got no answer as "error", which is how a
// provider that only times out shows in its latency.
func TestTimedCountsRequestsWithoutAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	h, err := newRequestHistogram(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	obs := h.MustCurryWith(prometheus.Labels{"provider": "clearbit"})
	for _, next := range []http.RoundTripper{http.DefaultTransport, unanswered{}} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if resp, err := (timed{next: next, obs: obs}).RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	for _, code := range []string{"429", "error"} {
		var m dto.Metric
		if err := h.WithLabelValues("clearbit", code).(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		if n := m.GetHistogram().GetSampleCount(); n != 1 {
			t.Errorf("requests timed as %s: %d, want 1", code, n)
		}
	}
}

// unanswered is a transport that never gets an answer.
type unanswered struct{}

func (unanswered) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}
