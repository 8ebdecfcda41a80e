package enrich

import (
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/service"
)

func TestScoring(t *testing.T) {
	var p service.Problems
	s := newScorer(DefaultScoring(), &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	employees := func(n int) *int { return &n }
	tests := []struct {
		name    string
		lead    contracts.Lead
		attrs   map[string]any
		company *contracts.Company
		notes   Notes
		want    Scores
	}{
		{name: "nothing known", lead: contracts.Lead{Email: "x@y.dev"}, want: Scores{}},
		{
			name:    "ideal customer asking for a demo",
			lead:    contracts.Lead{Email: "ada@acme.io", Title: "Head of Sales", Source: "form"},
			attrs:   map[string]any{"form_type": "Demo", "pages": []any{"/", "/pricing", "/docs"}},
			company: &contracts.Company{Industry: "Software", Employees: employees(120), Country: "DE"},
			want:    Scores{Fit: 100, Intent: 100, Signal: 100},
		},
		{
			name:    "big company, contact form, one page",
			lead:    contracts.Lead{Email: "bob@big.com", Title: "Engineer", Source: "clay"},
			attrs:   map[string]any{"form": "contact", "page": "/about"},
			company: &contracts.Company{Industry: "Retail", Employees: employees(90000), Country: "US"},
			want:    Scores{Fit: 15, Intent: 30, Signal: 21}, // round(30*0.4 + 15*0.6) = 21
		},
		{
			name:  "role and disposable addresses lose points, floored at 0",
			lead:  contracts.Lead{Email: "info@yopmail.com", Source: "form"},
			notes: Notes{Role: true, Disposable: true},
			want:  Scores{Fit: 0, Intent: 15, Signal: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, failed := s.score(facts(tt.lead, tt.attrs, contracts.Enrichment{Company: tt.company}, tt.notes))
			if len(failed) > 0 {
				t.Fatalf("rules failed: %v", failed)
			}
			if got != tt.want {
				t.Errorf("scores %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScoringWeights(t *testing.T) {
	cfg := ScoringConfig{
		Weights: Weights{Intent: 1, Fit: 0},
		Fit:     []Rule{{When: "true", Points: 80}},
		Intent:  []Rule{{When: `signals.source == "form"`, Points: 33.4}, {When: "email.status == 'valid' && email.score > 90", Points: 200}},
	}
	var p service.Problems
	s := newScorer(cfg, &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	score := 95.0
	got, _ := s.score(facts(contracts.Lead{Source: "form"}, nil, contracts.Enrichment{
		EmailVerification: &contracts.EmailVerification{Status: "valid", Score: &score}}, Notes{}))
	if got != (Scores{Fit: 80, Intent: 100, Signal: 100}) {
		t.Errorf("scores %+v: want intent clamped to 100 and signal = intent", got)
	}
	got, _ = s.score(facts(contracts.Lead{Source: "form"}, nil, contracts.Enrichment{}, Notes{}))
	if got.Signal != 33 {
		t.Errorf("signal %v, want round(33.4) = 33", got.Signal)
	}
}

func TestScoringKeepsTrustedSourcesScores(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	rules := Scores{Fit: 20, Intent: 50, Signal: 32} // 0.4*50 + 0.6*20
	tests := []struct {
		name string
		lead contracts.Lead
		want Scores
	}{
		{"trusted, all three sent", contracts.Lead{Source: "clay", FitScore: f(90), IntentScore: f(70), SignalScore: f(95)},
			Scores{Fit: 90, Intent: 70, Signal: 95}},
		{"trusted, fit and intent sent: signal from them", contracts.Lead{Source: "clay", FitScore: f(90), IntentScore: f(70)},
			Scores{Fit: 90, Intent: 70, Signal: 82}},
		{"trusted, fit only: intent from the rules", contracts.Lead{Source: "clay", FitScore: f(100)},
			Scores{Fit: 100, Intent: 50, Signal: 80}},
		{"trusted, signal only", contracts.Lead{Source: "clay", SignalScore: f(88)},
			Scores{Fit: 20, Intent: 50, Signal: 88}},
		{"trusted, out of range clamped", contracts.Lead{Source: "clay", SignalScore: f(400)},
			Scores{Fit: 20, Intent: 50, Signal: 100}},
		{"trusted, nothing sent", contracts.Lead{Source: "clay"}, rules},
		{"untrusted source's scores ignored", contracts.Lead{Source: "form", FitScore: f(99), IntentScore: f(99), SignalScore: f(99)}, rules},
	}
	cfg := ScoringConfig{
		Weights:         Weights{Intent: 0.4, Fit: 0.6},
		Fit:             []Rule{{When: "true", Points: 20}},
		Intent:          []Rule{{When: "true", Points: 50}},
		TrustScoresFrom: []string{"clay"},
	}
	var p service.Problems
	s := newScorer(cfg, &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, failed := s.score(facts(tt.lead, nil, contracts.Enrichment{}, Notes{}))
			if len(failed) > 0 || sc != rules {
				t.Fatalf("rules gave %+v (%v), want %+v", sc, failed, rules)
			}
			if got := s.keepSent(sc, tt.lead, tt.lead.Source); got != tt.want {
				t.Errorf("scores %+v, want %+v", got, tt.want)
			}
		})
	}
	// A lead that names a trusted source but arrived on another source's
	// subject (POST /events, say) did not come through that source's
	// verified webhook.
	if got := s.keepSent(rules, contracts.Lead{Source: "clay", SignalScore: f(99)}, "events"); got != rules {
		t.Errorf("a lead naming clay that arrived as events kept its scores: %+v", got)
	}
}

// TestScoringRuleFailsAtRunTime: a rule that fails while it runs counts as
// not matched and is reported, and the rules after it still run and count.
func TestScoringRuleFailsAtRunTime(t *testing.T) {
	var p service.Problems
	s := newScorer(ScoringConfig{
		Weights: Weights{Intent: 1, Fit: 1},
		Fit: []Rule{
			{Name: "third_page", When: `signals.pages[2] == "/pricing"`, Points: 40},
			{Name: "always", When: "true", Points: 20},
		},
		Intent: []Rule{{Name: "inbound", When: `signals.source == "form"`, Points: 30}},
	}, &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	lead := contracts.Lead{Email: "ada@acme.io", Source: "form"}
	for _, tt := range []struct {
		name   string
		attrs  map[string]any
		want   Scores
		failed int
	}{
		{"one page: the index fails", map[string]any{"pages": []any{"/"}}, Scores{Fit: 20, Intent: 30, Signal: 50}, 1},
		{"three pages: every rule runs", map[string]any{"pages": []any{"/", "/docs", "/pricing"}}, Scores{Fit: 60, Intent: 30, Signal: 90}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, failed := s.score(facts(lead, tt.attrs, contracts.Enrichment{}, Notes{}))
			if got != tt.want || len(failed) != tt.failed {
				t.Fatalf("score = %+v with %d failed (%v), want %+v with %d", got, len(failed), failed, tt.want, tt.failed)
			}
			if tt.failed > 0 && !strings.Contains(failed[0].Error(), "third_page") {
				t.Errorf("failure %q does not name its rule", failed[0])
			}
		})
	}
}

// BenchmarkScore gathers a lead's facts and runs the default scoring rules
// on them, for a lead with a known company and form answers, and for one
// with nothing but an email.
func BenchmarkScore(b *testing.B) {
	var p service.Problems
	s := newScorer(DefaultScoring(), &p)
	if err := p.Err(); err != nil {
		b.Fatal(err)
	}
	employees := 120
	for _, c := range []struct {
		name  string
		lead  contracts.Lead
		attrs map[string]any
		e     contracts.Enrichment
	}{
		{"known-company", contracts.Lead{Email: "ada@acme.io", Title: "Head of Sales", Source: "form"},
			map[string]any{"form_type": "Demo", "pages": []any{"/", "/pricing", "/docs"}},
			contracts.Enrichment{Company: &contracts.Company{Industry: "Software", Employees: &employees, Country: "DE"}}},
		{"email-only", contracts.Lead{Email: "x@y.dev"}, nil, contracts.Enrichment{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, failed := s.score(facts(c.lead, c.attrs, c.e, Notes{})); len(failed) > 0 {
					b.Fatal(failed)
				}
			}
		})
	}
}
