package enrich

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

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
