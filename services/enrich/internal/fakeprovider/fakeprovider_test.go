package fakeprovider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/gtmhub/gtmhub/services/enrich/internal/fakeprovider"
)

const key = "k"

func get(t *testing.T, f *fakeprovider.Server, path string, q url.Values, bearer string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", path, err)
	}
	return resp, body
}

func TestFake(t *testing.T) {
	f := fakeprovider.New(key)
	defer f.Close()
	f.AddCompany(fakeprovider.Company{Domain: "acme.io", Name: "Acme", Industry: "Software", Employees: 250,
		CountryCode: "GB", Country: "United Kingdom"})
	f.AddEmail("ada@acme.io", fakeprovider.Verification{Status: "valid", Score: 97})

	company := func(domain, bearer string) (*http.Response, map[string]any) {
		return get(t, f, "/v2/companies/find", url.Values{"domain": {domain}}, bearer)
	}
	verify := func(email, apiKey string) (*http.Response, map[string]any) {
		return get(t, f, "/v2/email-verifier", url.Values{"email": {email}, "api_key": {apiKey}}, "")
	}
	tests := []struct {
		name       string
		setup      func()
		call       func() (*http.Response, map[string]any)
		wantStatus int
		wantRetry  string
		check      func(t *testing.T, body map[string]any)
	}{
		{name: "known company", call: func() (*http.Response, map[string]any) { return company("acme.io", key) },
			wantStatus: 200, check: func(t *testing.T, b map[string]any) {
				cat, _ := b["category"].(map[string]any)
				met, _ := b["metrics"].(map[string]any)
				geo, _ := b["geo"].(map[string]any)
				if b["name"] != "Acme" || cat["industry"] != "Software" || met["employees"] != 250.0 || geo["countryCode"] != "GB" {
					t.Errorf("company %v", b)
				}
			}},
		{name: "unknown company", call: func() (*http.Response, map[string]any) { return company("nobody.dev", key) }, wantStatus: 404},
		{name: "bad domain", call: func() (*http.Response, map[string]any) { return company("not a domain", key) }, wantStatus: 422},
		{name: "wrong bearer", call: func() (*http.Response, map[string]any) { return company("acme.io", "nope") }, wantStatus: 401},
		{name: "queued", setup: func() { f.Queue("acme.io", 1) },
			call: func() (*http.Response, map[string]any) { return company("acme.io", key) }, wantStatus: 202, wantRetry: "1"},
		{name: "injected 429", setup: func() { f.Inject(fakeprovider.Clearbit, fakeprovider.Reply{Status: 429, RetryAfter: "2"}) },
			call: func() (*http.Response, map[string]any) { return company("acme.io", key) }, wantStatus: 429, wantRetry: "2"},
		{name: "injected 500", setup: func() { f.Fail(fakeprovider.Clearbit, 500, 1) },
			call: func() (*http.Response, map[string]any) { return company("acme.io", key) }, wantStatus: 500},
		{name: "after injections, normal again", call: func() (*http.Response, map[string]any) { return company("acme.io", key) }, wantStatus: 200},
		{name: "verified email", call: func() (*http.Response, map[string]any) { return verify("ada@acme.io", key) },
			wantStatus: 200, check: func(t *testing.T, b map[string]any) {
				d, _ := b["data"].(map[string]any)
				if d["status"] != "valid" || d["score"] != 97.0 {
					t.Errorf("verification %v", b)
				}
			}},
		{name: "other email is unknown", call: func() (*http.Response, map[string]any) { return verify("bob@acme.io", key) },
			wantStatus: 200, check: func(t *testing.T, b map[string]any) {
				if d, _ := b["data"].(map[string]any); d["status"] != "unknown" {
					t.Errorf("verification %v", b)
				}
			}},
		{name: "wrong api_key", call: func() (*http.Response, map[string]any) { return verify("ada@acme.io", "nope") }, wantStatus: 401},
		{name: "verifying", setup: func() { f.Queue("ada@acme.io", 1) },
			call: func() (*http.Response, map[string]any) { return verify("ada@acme.io", key) }, wantStatus: 202, wantRetry: "1"},
		{name: "hunter injections are separate", setup: func() { f.Inject(fakeprovider.Hunter, fakeprovider.Reply{Status: 503}) },
			call: func() (*http.Response, map[string]any) { return verify("ada@acme.io", key) }, wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			resp, body := tt.call()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.wantRetry {
				t.Fatalf("status %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantStatus, tt.wantRetry)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	if c, h := f.Requests(fakeprovider.Clearbit), f.Requests(fakeprovider.Hunter); c != 8 || h != 5 {
		t.Errorf("requests: clearbit %d hunter %d, want 8 and 5", c, h)
	}
	if log := f.Log(); len(log) != 13 || log[0].Lookup != "acme.io" || log[0].Status != 200 {
		t.Errorf("log %+v", log)
	}
}

func TestFakeRateLimit(t *testing.T) {
	f := fakeprovider.New(key)
	defer f.Close()
	f.SetRateLimit(fakeprovider.Clearbit, 2)
	statuses := map[int]int{}
	for range 5 {
		resp, _ := get(t, f, "/v2/companies/find", url.Values{"domain": {"acme.io"}}, key)
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 without Retry-After: 1")
		}
	}
	if statuses[404] < 2 || statuses[429] < 2 {
		t.Errorf("statuses %v, want the burst of 2 answered and the rest limited", statuses)
	}
}
