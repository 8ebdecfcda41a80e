package enrich

import (
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
