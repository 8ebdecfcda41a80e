package fakehubspot_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakehubspot"
)

const token = "pat-na1-test-token"

func call(t *testing.T, s *fakehubspot.Server, auth, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func upsertBody(n int, props string) string {
	var inputs []string
	for i := range n {
		inputs = append(inputs, fmt.Sprintf(`{"id":"p%d@example.com","idProperty":"email","properties":%s}`, i, props))
	}
	return `{"inputs":[` + strings.Join(inputs, ",") + `]}`
}

func TestContract(t *testing.T) {
	const upsert = "/crm/v3/objects/contacts/batch/upsert"
	tests := []struct {
		name, auth, method, path, body string
		status                         int
		category                       string
	}{
		{"no token", "", "POST", upsert, upsertBody(1, `{}`), 401, "INVALID_AUTHENTICATION"},
		{"wrong token", "other", "POST", upsert, upsertBody(1, `{}`), 401, "INVALID_AUTHENTICATION"},
		{"100 inputs", token, "POST", upsert, upsertBody(100, `{"firstname":"Ada"}`), 200, ""},
		{"101 inputs", token, "POST", upsert, upsertBody(101, `{}`), 400, "VALIDATION_ERROR"},
		{"duplicate ids", token, "POST", upsert, `{"inputs":[{"id":"a@example.com","idProperty":"email","properties":{}},{"id":"A@example.com","idProperty":"email","properties":{}}]}`, 400, "VALIDATION_ERROR"},
		{"no inputs", token, "POST", upsert, `{"inputs":[]}`, 400, "VALIDATION_ERROR"},
		{"unknown key", token, "POST", upsert, `{"inputs":[],"extra":1}`, 400, "VALIDATION_ERROR"},
		{"malformed", token, "POST", upsert, `{"inputs":`, 400, "VALIDATION_ERROR"},
		{"unknown property", token, "POST", upsert, upsertBody(1, `{"gtmhub_signal_score":"90"}`), 400, "VALIDATION_ERROR"},
		{"unknown status option", token, "POST", upsert, upsertBody(1, `{"hs_lead_status":"qualified"}`), 400, "VALIDATION_ERROR"},
		{"id property not unique", token, "POST", upsert, `{"inputs":[{"id":"Ada","idProperty":"firstname","properties":{}}]}`, 400, "VALIDATION_ERROR"},
		{"object value", token, "POST", upsert, upsertBody(1, `{"firstname":{"a":1}}`), 400, "VALIDATION_ERROR"},
		{"search", token, "POST", "/crm/v3/objects/companies/search",
			`{"filterGroups":[{"filters":[{"propertyName":"domain","operator":"EQ","value":"example.com"}]}],"properties":["domain"],"limit":1}`, 200, ""},
		{"create company", token, "POST", "/crm/v3/objects/companies", `{"properties":{"domain":"example.com","name":"Example"}}`, 201, ""},
		{"company property unknown", token, "POST", "/crm/v3/objects/companies", `{"properties":{"nope":"x"}}`, 400, "VALIDATION_ERROR"},
		{"association of unknown records", token, "PUT", "/crm/v4/objects/contact/1/associations/default/company/2", `{}`, 404, "OBJECT_NOT_FOUND"},
		{"unknown route", token, "GET", "/crm/v3/objects/contacts", ``, 404, "OBJECT_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakehubspot.New(t, token)
			status, body := call(t, s, tt.auth, tt.method, tt.path, tt.body)
			if status != tt.status || (tt.category != "" && body["category"] != tt.category) {
				t.Errorf("answered %d %v, want %d %s", status, body, tt.status, tt.category)
			}
			if tt.status >= 400 && (body["status"] != "error" || body["message"] == "") {
				t.Errorf("error body %v lacks status and message", body)
			}
		})
	}
}

func TestUpsertSearchAssociate(t *testing.T) {
	s := fakehubspot.New(t, token)
	for _, props := range []string{`{"firstname":"Ada","jobtitle":"Engineer"}`, `{"jobtitle":"CTO","hs_lead_status":"OPEN"}`} {
		status, body := call(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert",
			`{"inputs":[{"id":"Ada@Example.com","idProperty":"email","properties":`+props+`}]}`)
		if status != 200 || body["status"] != "COMPLETE" {
			t.Fatalf("upsert answered %d %v", status, body)
		}
	}
	contacts := s.Contacts()
	ada, ok := contacts["ada@example.com"]
	if len(contacts) != 1 || !ok || ada.Properties["firstname"] != "Ada" || ada.Properties["jobtitle"] != "CTO" ||
		ada.Properties["hs_lead_status"] != "OPEN" {
		t.Fatalf("contacts %+v, want ada once, updated", contacts)
	}
	_, created := call(t, s, token, "POST", "/crm/v3/objects/companies", `{"properties":{"domain":"example.com"}}`)
	search := `{"filterGroups":[{"filters":[{"propertyName":"domain","operator":"EQ","value":"example.com"}]}],"limit":1}`
	if _, found := call(t, s, token, "POST", "/crm/v3/objects/companies/search", search); found["total"] != 1.0 {
		t.Errorf("search found %v", found)
	}
	path := fmt.Sprintf("/crm/v4/objects/contact/%s/associations/default/company/%s", ada.ID, created["id"])
	for range 2 {
		if status, body := call(t, s, token, "PUT", path, `{}`); status != 200 {
			t.Fatalf("associate answered %d %v", status, body)
		}
	}
	if a := s.Associations(); len(a) != 1 || a[0].ContactID != ada.ID {
		t.Errorf("associations %+v, want one", a)
	}
}

func TestRateLimits(t *testing.T) {
	s := fakehubspot.New(t, token, fakehubspot.WithRateLimit(3))
	for i := range 4 {
		status, body := call(t, s, token, "POST", "/crm/v3/objects/companies", `{"properties":{"domain":"example.com"}}`)
		if i < 3 && status != 201 {
			t.Fatalf("request %d answered %d", i, status)
		}
		if i == 3 && (status != 429 || body["errorType"] != "RATE_LIMIT" || body["policyName"] != "TEN_SECONDLY_ROLLING") {
			t.Errorf("request over the limit answered %d %v", status, body)
		}
	}

	s = fakehubspot.New(t, token)
	search := `{"filterGroups":[],"limit":1}`
	var limited bool
	for range fakehubspot.SearchesPerSecond + 1 {
		status, body := call(t, s, token, "POST", "/crm/v3/objects/companies/search", search)
		limited = limited || (status == 429 && body["policyName"] == "SECONDLY")
	}
	if !limited {
		t.Error("searches over the limit were answered")
	}
}
