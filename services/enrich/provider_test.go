package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

type fakeProvider struct {
	name string
	res  Result
	err  error
	got  []Query
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) Lookup(_ context.Context, q Query) (Result, error) {
	p.got = append(p.got, q)
	return p.res, p.err
}

func TestEnrichLead(t *testing.T) {
	employees := 40
	company := &contracts.Company{Domain: "example.com", Name: "Engines", Employees: &employees}
	verified := &contracts.EmailVerification{Status: "valid"}
	other := &contracts.Company{Domain: "example.com", Name: "Someone else"}
	lead := contracts.Lead{Email: "ada@example.com", Domain: "example.com"}

	tests := []struct {
		name      string
		providers []*fakeProvider
		want      contracts.Enrichment
	}{
		{
			name: "no providers",
			want: contracts.Enrichment{Status: map[string]contracts.ProviderStatus{}},
		},
		{
			name: "first answer wins, failures and skips recorded",
			providers: []*fakeProvider{
				{name: "skips", err: fmt.Errorf("no domain: %w", ErrNotApplicable)},
				{name: "breaks", err: errors.New("HTTP 500 from api.example.test")},
				{name: "clearbit", res: Result{Company: company}},
				{name: "hunter", res: Result{Company: other, EmailVerification: verified}},
			},
			want: contracts.Enrichment{
				Status: map[string]contracts.ProviderStatus{
					"skips":    {State: contracts.ProviderSkipped, Reason: "no domain: nothing to look up"},
					"breaks":   {State: contracts.ProviderFailed, Reason: "HTTP 500 from api.example.test"},
					"clearbit": {State: contracts.ProviderDone},
					"hunter":   {State: contracts.ProviderDone},
				},
				Company:           company,
				EmailVerification: verified,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []Provider
			for _, p := range tt.providers {
				ps = append(ps, p)
			}
			got := enrichLead(context.Background(), ps, lead)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("enrichLead =\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, p := range tt.providers {
				if len(p.got) != 1 || p.got[0].Email != lead.Email || p.got[0].Domain != lead.Domain {
					t.Errorf("provider %s was asked %+v", p.name, p.got)
				}
			}
			data, err := json.Marshal(contracts.LeadEnriched{Lead: lead, Enrichment: got})
			if err != nil {
				t.Fatal(err)
			}
			if err := contracts.Validate(contracts.TypeLeadEnriched, data); err != nil {
				t.Errorf("enriched lead breaks its contract: %v", err)
			}
		})
	}
}

func TestContractReasons(t *testing.T) {
	tooHigh := 140.0
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name          string
		lead          contracts.LeadEnriched
		wantFields    []string
		wantPermanent bool
	}{
		{name: "valid", lead: contracts.LeadEnriched{Lead: contracts.Lead{Email: "ada@example.com"}}},
		{
			name:       "lead fields out of range",
			lead:       contracts.LeadEnriched{Lead: contracts.Lead{Email: "ada@example.com", FirstName: string(long), SignalScore: &tooHigh}},
			wantFields: []string{"first_name", "signal_score"},
		},
		{
			name: "enrichment breaks the contract",
			lead: contracts.LeadEnriched{Lead: contracts.Lead{Email: "ada@example.com"},
				Enrichment: contracts.Enrichment{Company: &contracts.Company{Country: "gb"}}},
			wantPermanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.lead.Enrichment.Status = map[string]contracts.ProviderStatus{}
			data, err := json.Marshal(tt.lead)
			if err != nil {
				t.Fatal(err)
			}
			reasons, err := contractReasons(contracts.TypeLeadEnriched, data)
			if (err != nil) != tt.wantPermanent {
				t.Fatalf("err = %v, want permanent %v", err, tt.wantPermanent)
			}
			var fields []string
			for _, r := range reasons {
				fields = append(fields, r.Field)
				if r.Code != CodeInvalidValue || r.Message == "" {
					t.Errorf("reason %+v", r)
				}
			}
			if !reflect.DeepEqual(fields, tt.wantFields) {
				t.Errorf("fields = %v, want %v", fields, tt.wantFields)
			}
		})
	}
}
