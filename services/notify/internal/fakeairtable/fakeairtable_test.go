package fakeairtable_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakeairtable"
)

const (
	token = "patTEST.secret"
	base  = "appTESTBASE000001"
	table = "Leads"
	path  = "/v0/" + base + "/" + table
)

func call(t *testing.T, s *fakeairtable.Server, auth, method, p, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+p, strings.NewReader(body))
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
		t.Fatalf("%s %s answered %d with a body that is not JSON: %s", method, p, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func upsertBody(n int, fields string) string {
	var recs []string
	for i := range n {
		recs = append(recs, fmt.Sprintf(`{"fields":{"Email":"p%d@example.com"%s}}`, i, fields))
	}
	return `{"performUpsert":{"fieldsToMergeOn":["Email"]},"typecast":true,"records":[` + strings.Join(recs, ",") + `]}`
}

// errorType returns the type of Airtable's error body.
func errorType(body map[string]any) string {
	switch e := body["error"].(type) {
	case map[string]any:
		s, _ := e["type"].(string)
		return s
	case string:
		return e
	}
	if errs, ok := body["errors"].([]any); ok && len(errs) > 0 {
		s, _ := errs[0].(map[string]any)["error"].(string)
		return s
	}
	return ""
}

func TestContract(t *testing.T) {
	tests := []struct {
		name, auth, method, path, body string
		status                         int
		typ                            string
	}{
		{"no token", "", "PATCH", path, upsertBody(1, ""), 401, "AUTHENTICATION_REQUIRED"},
		{"10 records", token, "PATCH", path, upsertBody(10, `,"First Name":"Ada"`), 200, ""},
		{"11 records", token, "PATCH", path, upsertBody(11, ""), 422, "INVALID_RECORDS"},
		{"unknown field", token, "PATCH", path, upsertBody(1, `,"Title":"CTO"`), 422, "UNKNOWN_FIELD_NAME"},
		{"unknown key", token, "PATCH", path, `{"records":[],"upsert":true}`, 422, "INVALID_REQUEST_UNKNOWN"},
		{"no performUpsert", token, "PATCH", path, `{"records":[{"fields":{"Email":"a@example.com"}}]}`, 422, "INVALID_REQUEST_UNKNOWN"},
		{"no merge value", token, "PATCH", path,
			`{"performUpsert":{"fieldsToMergeOn":["Email"]},"records":[{"fields":{"Company":"x"}}]}`, 422, "INVALID_VALUE_FOR_COLUMN"},
		{"new option without typecast", token, "PATCH", path,
			`{"performUpsert":{"fieldsToMergeOn":["Email"]},"records":[{"fields":{"Email":"a@example.com","Status":"qualified"}}]}`, 422, "INVALID_MULTIPLE_CHOICE_OPTIONS"},
		{"new option with typecast", token, "PATCH", path, upsertBody(1, `,"Status":"qualified"`), 200, ""},
		{"other table", token, "PATCH", "/v0/" + base + "/Other", upsertBody(1, ""), 404, "NOT_FOUND"},
		{"other base", token, "PATCH", "/v0/appOTHER/" + table, upsertBody(1, ""), 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeairtable.New(t, token, base, table)
			status, body := call(t, s, tt.auth, tt.method, tt.path, tt.body)
			if status != tt.status || errorType(body) != tt.typ {
				t.Errorf("answered %d %v, want %d %s", status, body, tt.status, tt.typ)
			}
		})
	}
}

func TestUpsertMergesOnEmail(t *testing.T) {
	s := fakeairtable.New(t, token, base, table)
	_, first := call(t, s, token, "PATCH", path, upsertBody(1, `,"First Name":"Ada","Status":"new"`))
	_, second := call(t, s, token, "PATCH", path, upsertBody(1, `,"Company":"Analytical Engines","Status":"open"`))
	recs := s.Records()
	if len(recs) != 1 || recs[0].Fields["First Name"] != "Ada" || recs[0].Fields["Company"] != "Analytical Engines" ||
		recs[0].Fields["Status"] != "open" {
		t.Fatalf("records %+v, want one, updated", recs)
	}
	if len(first["createdRecords"].([]any)) != 1 || len(second["updatedRecords"].([]any)) != 1 {
		t.Errorf("answers %v and %v: want created, then updated", first, second)
	}
}

func TestRateLimitAndPenalty(t *testing.T) {
	s := fakeairtable.New(t, token, base, table, fakeairtable.WithPenalty(300*time.Millisecond))
	var statuses []int
	for range fakeairtable.PerSecond + 2 {
		status, body := call(t, s, token, "PATCH", path, upsertBody(1, ""))
		statuses = append(statuses, status)
		if status == 429 && errorType(body) != "RATE_LIMIT_REACHED" {
			t.Errorf("429 body %v", body)
		}
	}
	if statuses[fakeairtable.PerSecond-1] != 200 || statuses[fakeairtable.PerSecond] != 429 || statuses[fakeairtable.PerSecond+1] != 429 {
		t.Fatalf("statuses %v: want %d answered, then 429", statuses, fakeairtable.PerSecond)
	}
	time.Sleep(time.Second)
	if status, _ := call(t, s, token, "PATCH", path, upsertBody(1, "")); status != 200 {
		t.Errorf("after the penalty: %d", status)
	}
}
