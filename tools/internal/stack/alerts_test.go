package stack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

// alertRules is the shape of a Prometheus rules file.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRulesReadWhatIsExported: every rule of deploy/prometheus has a
// name, an expression and a summary, and every gtmhub metric the rules read
// is on a running stack's /metrics once a lead went through enrich with a
// provider.
func TestAlertRulesReadWhatIsExported(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	if err := yaml.NewDecoder(bytes.NewReader(raw), yaml.Strict()).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	metrics := map[string]bool{}
	name := regexp.MustCompile(`gtmhub_[a-z_]+`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %+v lacks an alert name, expression, severity or summary", r)
			}
			for _, m := range name.FindAllString(r.Expr, -1) {
				metrics[m] = true
			}
		}
	}
	if len(metrics) < 5 {
		t.Fatalf("the rules read %d gtmhub metrics: %v", len(metrics), metrics)
	}

	body := metricsAfterALead(t)
	for m := range metrics {
		if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(body) {
			t.Errorf("the rules read %s, which the stack does not export", m)
		}
	}
}

// metricsAfterALead runs a stack whose enrich asks a Clearbit-compatible
// server (answering 404, a domain it does not know) and returns its
// /metrics once a lead has been stored.
func metricsAfterALead(t *testing.T) string {
	t.Helper()
	clearbit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"type":"unknown_record","message":"Unknown domain"}}`)
	}))
	t.Cleanup(clearbit.Close)
	file := filepath.Join(t.TempDir(), "gtmhub.yaml")
	conf := fmt.Sprintf("enrich:\n  providers:\n    - {name: clearbit, kind: clearbit, base_url: %q, key: test-key}\n", clearbit.URL)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := stack.DefaultConfig()
	cfg.DataDir, cfg.ConfigFile = t.TempDir(), file
	cfg.HTTPAddr, cfg.AdminAddr, cfg.NATSListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan stack.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, cfg, stack.WithReady(func(a stack.Addrs) { ready <- a })) }()
	t.Cleanup(func() { cancel(); <-done })
	var addrs stack.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("stack did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("stack did not start in 30s")
	}
	if status, _, err := postLead(http.DefaultClient, addrs.HTTP, map[string]string{"email": "ada@unknown-domain.example"}); err != nil ||
		status != http.StatusAccepted {
		t.Fatalf("post: %d %v", status, err)
	}
	var body string
	waitFor(t, 20*time.Second, "the lead stored and the provider timed", func() (bool, string) {
		resp, err := http.Get("http://" + addrs.Admin + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `gtmhub_consumer_messages_total{consumer="store",outcome="acked"} 1`) &&
			strings.Contains(body, `gtmhub_enrich_provider_request_seconds_count{code="404",provider="clearbit"}`), "not yet"
	})
	return body
}
