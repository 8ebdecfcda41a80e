package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

// Airtable API facts the client follows.
const (
	// AirtableURL is the API's base URL.
	AirtableURL = "https://api.airtable.com"
	// AirtableBatchLimit is the most records of one request.
	AirtableBatchLimit = 10
	// AirtableRateLimitWait is how long Airtable documents to wait after a
	// 429 before any request to the base succeeds again.
	AirtableRateLimitWait = 30 * time.Second
)

// DefaultAirtableFields maps contact fields to the columns of the seed's
// Leads table.
func DefaultAirtableFields() map[string]string {
	return map[string]string{"email": "Email", "first_name": "First Name", "last_name": "Last Name",
		"company": "Company", "status": "Status", "created_at": "Created"}
}

// Airtable is the airtable: section of gtmhub.yaml: the table rules with
// action airtable upsert contacts into, matched on their Email column.
// Until a token is set the airtable channel is not configured and its rules
// are inert.
type Airtable struct {
	// Token is a personal access token with the data.records:write scope on
	// the base. It is a secret: never logged.
	Token string `yaml:"token"`
	// TokenEnv names an environment variable holding Token.
	TokenEnv string `yaml:"token_env"`
	// Base is the base id, appXXXXXXXXXXXXXX.
	Base string `yaml:"base"`
	// Table is the table's name or id. A rule's target, when set, names
	// another table of the base.
	Table string `yaml:"table"`
	// BaseURL is the API's base URL. Default https://api.airtable.com.
	BaseURL string `yaml:"base_url"`
	// Sources are the ingest sources whose webhooks come from this base. A
	// change whose every field came from them is not written back. Default
	// [airtable].
	Sources []string `yaml:"sources"`
	// Fields maps contact fields to the table's columns, over
	// [DefaultAirtableFields]; an empty column drops the field. The email's
	// column is the one records are merged on.
	Fields map[string]string `yaml:"fields"`
	// PerSecond is the most requests a second to the base. Default 4:
	// Airtable allows 5, and requests sent 200ms apart can arrive closer
	// together, while one 429 blocks the base for 30 seconds.
	PerSecond float64 `yaml:"per_second"`
	// RateLimitWait is the wait after a 429 without Retry-After. Default 30s.
	RateLimitWait time.Duration `yaml:"rate_limit_wait"`
	// BatchWindow is how long an upsert waits for others to share its
	// request (up to 10 records). Default 10ms.
	BatchWindow time.Duration `yaml:"batch_window"`
	// Timeout bounds one call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// HTTPClient makes the calls; nil means a client with Timeout.
	HTTPClient *http.Client `yaml:"-"`
}

// resolveEnv fills Token from TokenEnv.
func (a Airtable) resolveEnv(getenv func(string) string) Airtable {
	if a.Token == "" && a.TokenEnv != "" {
		a.Token = getenv(a.TokenEnv)
	}
	return a
}

// configured reports whether a token is set.
func (a Airtable) configured() bool { return a.Token != "" }

// validate adds the problems of the airtable section to p, without the token.
func (a Airtable) validate(p interface{ Addf(string, ...any) }) {
	apiProblems(p, "airtable", a.Token, a.TokenEnv, a.BaseURL, a.Sources)
	if a.configured() || a.Base != "" || a.Table != "" {
		if !strings.HasPrefix(a.Base, "app") || len(a.Base) < 4 || strings.ContainsAny(a.Base, "/?# ") {
			p.Addf("airtable.base must be a base id such as appXXXXXXXXXXXXXX")
		}
		if strings.TrimSpace(a.Table) == "" {
			p.Addf("airtable.table is required: the name or id of the table contacts are written to")
		}
	}
	mappingProblems(p, "airtable.fields", a.Fields)
	if a.fields()["email"] == "" {
		p.Addf("airtable.fields[\"email\"]: records are merged on the email's column; it cannot be dropped")
	}
	if a.PerSecond < 0 || a.RateLimitWait < 0 || a.Timeout < 0 || a.BatchWindow < 0 {
		p.Addf("airtable.per_second, rate_limit_wait, batch_window and timeout must not be negative")
	}
}

func (a Airtable) sources() []string {
	if len(a.Sources) == 0 {
		return []string{"airtable"}
	}
	return a.Sources
}

func (a Airtable) fields() map[string]string { return mergedMapping(DefaultAirtableFields(), a.Fields) }

// AirtableDestination returns the name of a base's circuit breaker.
func AirtableDestination(base string) string { return "airtable:" + base }

// AirtableClient writes records to one Airtable base: upserts of at most
// [AirtableBatchLimit] records merged on a field, with typecast so that a
// new Status becomes a select option. Requests wait for a limiter at the
// base's rate (5 a second). A 429 makes every request wait out Airtable's
// 30 seconds (or its Retry-After); 5xx and transport failures are retried
// and count against the base's circuit breaker; any other 4xx (422 for an
// unknown column, say) is refused for good. Errors never contain the token.
type AirtableClient struct {
	api   *apiClient
	base  string // the base id
	limit *rate.Limiter
}

// NewAirtableClient returns a client for cfg's base; nil breakers means a
// set of its own.
func NewAirtableClient(cfg Airtable, breakers *events.Breakers) *AirtableClient {
	if breakers == nil {
		breakers = events.NewBreakers()
	}
	perSecond := cfg.PerSecond
	if perSecond == 0 {
		perSecond = 4
	}
	wait := cfg.RateLimitWait
	if wait == 0 {
		wait = AirtableRateLimitWait
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = AirtableURL
	}
	api := &apiClient{service: "airtable", base: base, token: cfg.Token, client: httpClient(cfg.HTTPClient, cfg.Timeout),
		breakers: breakers, dest: AirtableDestination(cfg.Base)}
	api.classify = func(a apiAnswer) error { return classifyAirtable(a, wait) }
	return &AirtableClient{api: api, base: cfg.Base, limit: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// classifyAirtable maps an answer other than 2xx to the error contract.
// Airtable's error is {"error": {"type", "message"}}, or {"error": "TYPE"}
// for some, or a list under "errors" for a 429.
func classifyAirtable(a apiAnswer, wait time.Duration) error {
	var body struct {
		Error  json.RawMessage `json:"error"`
		Errors []struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(a.body, &body)
	e := &APIError{Service: "airtable", Status: a.status}
	var detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	switch {
	case json.Unmarshal(body.Error, &detail) == nil && (detail.Type != "" || detail.Message != ""):
		e.Code, e.Message = detail.Type, detail.Message
	case json.Unmarshal(body.Error, &e.Code) == nil:
	case len(body.Errors) > 0:
		e.Code, e.Message = body.Errors[0].Error, body.Errors[0].Message
	}
	return apiErrorFor(a, e, wait)
}

// AirtableRecord is a record as Airtable returns it.
type AirtableRecord struct {
	ID     string         `json:"id"`
	Fields map[string]any `json:"fields"`
}

// AirtableUpsert is the answer to an upsert.
type AirtableUpsert struct {
	Records        []AirtableRecord `json:"records"`
	CreatedRecords []string         `json:"createdRecords"`
	UpdatedRecords []string         `json:"updatedRecords"`
}

// Upsert creates or updates records of table, merged on the field mergeOn:
// a record whose mergeOn value matches an existing one updates it.
func (c *AirtableClient) Upsert(ctx context.Context, table, mergeOn string, records []map[string]any) (AirtableUpsert, error) {
	if len(records) == 0 || len(records) > AirtableBatchLimit {
		return AirtableUpsert{}, fmt.Errorf("airtable upsert: %d records, want 1 to %d", len(records), AirtableBatchLimit)
	}
	type record struct {
		Fields map[string]any `json:"fields"`
	}
	req := struct {
		PerformUpsert struct {
			FieldsToMergeOn []string `json:"fieldsToMergeOn"`
		} `json:"performUpsert"`
		Typecast bool     `json:"typecast"`
		Records  []record `json:"records"`
	}{Typecast: true}
	req.PerformUpsert.FieldsToMergeOn = []string{mergeOn}
	for _, r := range records {
		req.Records = append(req.Records, record{Fields: r})
	}
	var resp AirtableUpsert
	path := "/v0/" + url.PathEscape(c.base) + "/" + url.PathEscape(table)
	if err := c.api.call(ctx, c.limit, http.MethodPatch, path, req, &resp); err != nil {
		return AirtableUpsert{}, err
	}
	return resp, nil
}

// AirtableSender is the [Sender] for the airtable channel: it upserts the
// contact into the table (the rule's target, else airtable.table), merged
// on the email's column. Records written to a table at the same moment
// share one request.
type AirtableSender struct {
	cfg    Airtable
	client *AirtableClient
	fields map[string]string

	mu      sync.Mutex
	batches map[string]*batcher[map[string]any, struct{}] // by table
}

// NewAirtableSender returns the Airtable sender for cfg calling through client.
func NewAirtableSender(cfg Airtable, client *AirtableClient) *AirtableSender {
	return &AirtableSender{cfg: cfg, client: client, fields: cfg.fields(),
		batches: map[string]*batcher[map[string]any, struct{}]{}}
}

// batcher returns the batcher of table.
func (s *AirtableSender) batcher(table string) *batcher[map[string]any, struct{}] {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[table]
	if !ok {
		b = newBatcher(AirtableBatchLimit, s.cfg.BatchWindow, func(ctx context.Context, records []map[string]any) ([]struct{}, error) {
			_, err := s.client.Upsert(ctx, table, s.fields["email"], records)
			return make([]struct{}, len(records)), err
		})
		s.batches[table] = b
	}
	return b
}

// SkipReason returns why the change in m need not be written: no field
// written to Airtable changed, or every one that did came from Airtable.
func (s *AirtableSender) SkipReason(m Message) string {
	c, err := contactChange(m)
	if err != nil {
		return "" // Send reports it
	}
	held := func(f string) bool { _, ok := s.fields[f]; return ok }
	return echoReason("airtable", c, held, s.cfg.sources())
}

// Send writes the contact of m's change to the table.
func (s *AirtableSender) Send(ctx context.Context, m Message) error {
	c, err := contactChange(m)
	if err != nil {
		return err
	}
	table := m.Target
	if table == "" {
		table = s.cfg.Table
	}
	_, err = s.batcher(table).do(ctx, s.record(contactValues(c.Contact)))
	return err
}

// record maps a contact's values to the table's columns.
func (s *AirtableSender) record(values map[string]any) map[string]any {
	out := map[string]any{}
	for field, column := range s.fields {
		if v, ok := values[field]; ok {
			out[column] = v
		}
	}
	return out
}
