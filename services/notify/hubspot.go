package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

// HubSpot API facts the client follows.
const (
	// HubSpotURL is the API's base URL.
	HubSpotURL = "https://api.hubapi.com"
	// HubSpotBatchLimit is the most inputs of one batch request.
	HubSpotBatchLimit = 100
	// hubspotRollingWait is the wait after a 429 of the ten-second rolling
	// limit without a Retry-After header.
	hubspotRollingWait = 10 * time.Second
	// hubspotDailyWait is how long a 429 of the daily limit waits before
	// trying again: the limit resets at midnight in the account's time zone,
	// which the answer does not say.
	hubspotDailyWait = time.Hour
)

// DefaultHubSpotProperties maps contact fields to the HubSpot contact
// properties they are written to.
func DefaultHubSpotProperties() map[string]string {
	return map[string]string{"email": "email", "first_name": "firstname", "last_name": "lastname",
		"company": "company", "title": "jobtitle", "phone": "phone", "status": "hs_lead_status"}
}

// DefaultHubSpotStatuses maps lead statuses to the options of HubSpot's
// hs_lead_status property.
func DefaultHubSpotStatuses() map[string]string {
	return map[string]string{"new": "NEW", "open": "OPEN", "in_progress": "IN_PROGRESS", "open_deal": "OPEN_DEAL",
		"unqualified": "UNQUALIFIED", "attempted_to_contact": "ATTEMPTED_TO_CONTACT", "connected": "CONNECTED",
		"bad_timing": "BAD_TIMING"}
}

// HubSpot is the hubspot: section of gtmhub.yaml: where rules with action
// hubspot upsert contacts. Until a token is set the hubspot channel is not
// configured and its rules are inert.
type HubSpot struct {
	// Token is a private app's access token, sent as a bearer token. It is a
	// secret: never logged. The app needs the crm.objects.contacts.write and
	// crm.objects.companies.write scopes (and their read scopes).
	Token string `yaml:"token"`
	// TokenEnv names an environment variable holding Token.
	TokenEnv string `yaml:"token_env"`
	// BaseURL is the API's base URL. Default https://api.hubapi.com.
	BaseURL string `yaml:"base_url"`
	// Sources are the ingest sources whose webhooks come from this HubSpot
	// account. A change whose every field came from them is not written
	// back. Default [hubspot].
	Sources []string `yaml:"sources"`
	// Properties maps contact fields to HubSpot contact properties, over
	// [DefaultHubSpotProperties]; an empty property drops the field. Map the
	// scores to custom properties you created to write them, e.g.
	// signal_score: gtmhub_signal_score.
	Properties map[string]string `yaml:"properties"`
	// Statuses maps lead statuses (lowercase, '_' for spaces) to options of
	// the status property, over [DefaultHubSpotStatuses]. A status without
	// an option is not written (HubSpot refuses an unknown option), the rest
	// of the contact is.
	Statuses map[string]string `yaml:"statuses"`
	// RequestsPer10s is the account's limit per rolling ten seconds: 100
	// (default) or 190 for private apps on Professional and Enterprise.
	RequestsPer10s int `yaml:"requests_per_10s"`
	// SearchPerSecond is the search endpoints' limit a second. Default 4.
	SearchPerSecond float64 `yaml:"search_per_second"`
	// BatchWindow is how long a contact upsert waits for others to share
	// its request (up to 100 contacts). Default 10ms.
	BatchWindow time.Duration `yaml:"batch_window"`
	// Timeout bounds one call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// HTTPClient makes the calls; nil means a client with Timeout.
	HTTPClient *http.Client `yaml:"-"`
}

// resolveEnv fills Token from TokenEnv.
func (h HubSpot) resolveEnv(getenv func(string) string) HubSpot {
	if h.Token == "" && h.TokenEnv != "" {
		h.Token = getenv(h.TokenEnv)
	}
	return h
}

// configured reports whether a token is set.
func (h HubSpot) configured() bool { return h.Token != "" }

// validate adds the problems of the hubspot section to p, without the token.
func (h HubSpot) validate(p interface{ Addf(string, ...any) }) {
	apiProblems(p, "hubspot", h.Token, h.TokenEnv, h.BaseURL, h.Sources)
	mappingProblems(p, "hubspot.properties", h.Properties)
	if v, ok := h.Properties["email"]; ok && v != "email" {
		p.Addf("hubspot.properties[\"email\"]: contacts are upserted by their email property; it cannot be remapped")
	}
	if h.RequestsPer10s < 0 || h.SearchPerSecond < 0 || h.Timeout < 0 || h.BatchWindow < 0 {
		p.Addf("hubspot.requests_per_10s, search_per_second, batch_window and timeout must not be negative")
	}
}

func (h HubSpot) sources() []string {
	if len(h.Sources) == 0 {
		return []string{"hubspot"}
	}
	return h.Sources
}

func (h HubSpot) properties() map[string]string {
	return mergedMapping(DefaultHubSpotProperties(), h.Properties)
}

func (h HubSpot) statuses() map[string]string {
	return mergedMapping(DefaultHubSpotStatuses(), h.Statuses)
}

// HubSpotClient calls the HubSpot CRM API: contacts upserted by email,
// companies found by domain or created, and the default contact to company
// association. Requests share one limiter shaped like HubSpot's rolling
// ten-second window, and searches another, at the search endpoints' rate.
// 429 is retried after HubSpot's Retry-After (else 10s, or an hour for the
// daily limit), 5xx and transport failures are retried and count against
// the "hubspot" circuit breaker, any other 4xx is refused for good. Errors
// never contain the token.
type HubSpotClient struct {
	api    *apiClient
	limit  *rate.Limiter
	search *rate.Limiter
}

// NewHubSpotClient returns a client for cfg; nil breakers means a set of
// its own.
func NewHubSpotClient(cfg HubSpot, breakers *events.Breakers) *HubSpotClient {
	if breakers == nil {
		breakers = events.NewBreakers()
	}
	per10s := cfg.RequestsPer10s
	if per10s == 0 {
		per10s = 100
	}
	// A burst of a tenth, then the rest spread: never more than per10s in
	// any ten seconds.
	burst := max(1, per10s/10)
	perSecond := cfg.SearchPerSecond
	if perSecond == 0 {
		perSecond = 4
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = HubSpotURL
	}
	api := &apiClient{service: "hubspot", base: base, token: cfg.Token, client: httpClient(cfg.HTTPClient, cfg.Timeout),
		breakers: breakers, dest: HubSpotDestination, classify: classifyHubSpot}
	return &HubSpotClient{api: api,
		limit:  rate.NewLimiter(rate.Limit(float64(per10s-burst)/10), burst),
		search: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// HubSpotDestination is the name of HubSpot's circuit breaker.
const HubSpotDestination = "hubspot"

// hubspotError is HubSpot's error body.
type hubspotError struct {
	Status     string `json:"status"`
	Message    string `json:"message"`
	Category   string `json:"category"`
	ErrorType  string `json:"errorType"`
	PolicyName string `json:"policyName"`
}

// classifyHubSpot maps an answer other than 2xx to the error contract.
func classifyHubSpot(a apiAnswer) error {
	var body hubspotError
	_ = json.Unmarshal(a.body, &body)
	code := body.Category
	if code == "" {
		code = body.ErrorType
	}
	wait := hubspotRollingWait
	switch body.PolicyName {
	case "DAILY":
		wait = hubspotDailyWait
	case "SECONDLY":
		wait = time.Second
	}
	if body.PolicyName != "" {
		code += " " + body.PolicyName
	}
	return apiErrorFor(a, &APIError{Service: "hubspot", Status: a.status, Code: strings.TrimSpace(code), Message: body.Message}, wait)
}

// HubSpotContact is one contact to upsert: its email and properties.
type HubSpotContact struct {
	Email      string
	Properties map[string]string
}

// HubSpotObject is a record as HubSpot returns it.
type HubSpotObject struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
	// New is set on an upsert that created the record.
	New bool `json:"new,omitempty"`
}

// UpsertContacts creates or updates contacts by email, at most
// [HubSpotBatchLimit] in one request, and returns them in HubSpot, in no
// particular order.
func (c *HubSpotClient) UpsertContacts(ctx context.Context, contacts []HubSpotContact) ([]HubSpotObject, error) {
	if len(contacts) == 0 || len(contacts) > HubSpotBatchLimit {
		return nil, fmt.Errorf("hubspot upsert: %d contacts, want 1 to %d", len(contacts), HubSpotBatchLimit)
	}
	type input struct {
		ID         string            `json:"id"`
		IDProperty string            `json:"idProperty"`
		Properties map[string]string `json:"properties"`
	}
	req := struct {
		Inputs []input `json:"inputs"`
	}{}
	for _, ct := range contacts {
		req.Inputs = append(req.Inputs, input{ID: ct.Email, IDProperty: "email", Properties: ct.Properties})
	}
	var resp struct {
		Results []HubSpotObject `json:"results"`
		// A 207 answer lists the inputs it refused.
		NumErrors int `json:"numErrors"`
		Errors    []struct {
			Category string `json:"category"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if err := c.api.call(ctx, c.limit, http.MethodPost, "/crm/v3/objects/contacts/batch/upsert", req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 || resp.NumErrors > 0 {
		e := &APIError{Service: "hubspot", Status: http.StatusMultiStatus}
		var msgs []string
		for _, x := range resp.Errors {
			e.Code = cmp.Or(e.Code, x.Category)
			msgs = append(msgs, x.Message)
		}
		e.Code = truncate(events.Redact(events.MaskEmails(e.Code)), 100)
		e.Message = truncate(events.Redact(events.MaskEmails(strings.Join(msgs, "; "))), 500)
		return resp.Results, events.Permanent(fmt.Errorf("POST /crm/v3/objects/contacts/batch/upsert: %w", e))
	}
	return resp.Results, nil
}

// FindCompany returns the id of the company whose domain property is
// domain, and whether there is one.
func (c *HubSpotClient) FindCompany(ctx context.Context, domain string) (string, bool, error) {
	type filter struct {
		PropertyName string `json:"propertyName"`
		Operator     string `json:"operator"`
		Value        string `json:"value"`
	}
	type group struct {
		Filters []filter `json:"filters"`
	}
	req := struct {
		FilterGroups []group  `json:"filterGroups"`
		Properties   []string `json:"properties"`
		Limit        int      `json:"limit"`
	}{FilterGroups: []group{{Filters: []filter{{PropertyName: "domain", Operator: "EQ", Value: domain}}}},
		Properties: []string{"domain", "name"}, Limit: 1}
	if err := c.search.Wait(ctx); err != nil {
		return "", false, fmt.Errorf("hubspot search rate limiter: %w", err)
	}
	var resp struct {
		Total   int             `json:"total"`
		Results []HubSpotObject `json:"results"`
	}
	if err := c.api.call(ctx, c.limit, http.MethodPost, "/crm/v3/objects/companies/search", req, &resp); err != nil {
		return "", false, err
	}
	if len(resp.Results) == 0 {
		return "", false, nil
	}
	return resp.Results[0].ID, true, nil
}

// CreateCompany creates a company with domain and name (name may be empty)
// and returns its id.
func (c *HubSpotClient) CreateCompany(ctx context.Context, domain, name string) (string, error) {
	props := map[string]string{"domain": domain}
	if name != "" {
		props["name"] = name
	}
	req := struct {
		Properties map[string]string `json:"properties"`
	}{props}
	var resp HubSpotObject
	if err := c.api.call(ctx, c.limit, http.MethodPost, "/crm/v3/objects/companies", req, &resp); err != nil {
		return "", err
	}
	if resp.ID == "" {
		return "", errors.New("hubspot created a company without an id")
	}
	return resp.ID, nil
}

// AssociateCompany gives the contact the default (unlabelled) association
// with the company. Associating again is harmless.
func (c *HubSpotClient) AssociateCompany(ctx context.Context, contactID, companyID string) error {
	path := "/crm/v4/objects/contact/" + url.PathEscape(contactID) + "/associations/default/company/" + url.PathEscape(companyID)
	return c.api.call(ctx, c.limit, http.MethodPut, path, struct{}{}, nil)
}

// HubSpotSender is the [Sender] for the hubspot channel: it upserts the
// contact by email and, when the contact has a domain, finds the company by
// domain (or creates it) and associates the two. Contacts written at the
// same moment share one batch upsert.
type HubSpotSender struct {
	cfg      HubSpot
	client   *HubSpotClient
	upserts  *batcher[HubSpotContact, string]
	props    map[string]string
	statuses map[string]string
	// companies remembers the company id of a domain, so a retry does not
	// search again, where a company just created may not show yet.
	companies *idCache
	// lookups makes one lookup of a domain at a time: two new contacts of
	// a new company must not both create it.
	lookups singleflight.Group
	// claims does the same across replicas; nil for none.
	claims *companyClaims
}

// HubSpotSenderOption configures a [HubSpotSender].
type HubSpotSenderOption func(*HubSpotSender)

// WithCompanyClaims makes the replicas of notify that share kv
// ([HubSpotBucket]) agree on the company of each domain, so that contacts
// of a new company written by several replicas at once get one company in
// HubSpot, not one per replica. Without it, only the contacts one sender
// writes share a company.
func WithCompanyClaims(kv jetstream.KeyValue) HubSpotSenderOption {
	return func(s *HubSpotSender) { s.claims = newCompanyClaims(kv, s.cfg.Token) }
}

// NewHubSpotSender returns the HubSpot sender for cfg calling through client.
func NewHubSpotSender(cfg HubSpot, client *HubSpotClient, opts ...HubSpotSenderOption) *HubSpotSender {
	s := &HubSpotSender{cfg: cfg, client: client, props: cfg.properties(), statuses: cfg.statuses(),
		companies: newIDCache(10000)}
	for _, opt := range opts {
		opt(s)
	}
	s.upserts = newBatcher(HubSpotBatchLimit, cfg.BatchWindow, s.upsertContacts)
	return s
}

// upsertContacts upserts contacts in one request and returns their ids in
// order; HubSpot answers in no particular order.
func (s *HubSpotSender) upsertContacts(ctx context.Context, contacts []HubSpotContact) ([]string, error) {
	objs, err := s.client.UpsertContacts(ctx, contacts)
	if err != nil {
		return nil, err
	}
	byEmail := make(map[string]string, len(objs))
	for _, o := range objs {
		byEmail[strings.ToLower(o.Properties["email"])] = o.ID
	}
	ids := make([]string, len(contacts))
	for i, c := range contacts {
		ids[i] = byEmail[strings.ToLower(c.Email)]
	}
	if len(contacts) == 1 && ids[0] == "" && len(objs) == 1 {
		ids[0] = objs[0].ID
	}
	return ids, nil
}

// SkipReason returns why the change in m need not be written: no field
// written to HubSpot changed, or every one that did came from HubSpot.
func (s *HubSpotSender) SkipReason(m Message) string {
	c, err := contactChange(m)
	if err != nil {
		return "" // Send reports it
	}
	held := func(f string) bool { _, ok := s.props[f]; return ok || f == "domain" }
	return echoReason("hubspot", c, held, s.cfg.sources())
}

// Send writes the contact of m's change to HubSpot.
func (s *HubSpotSender) Send(ctx context.Context, m Message) error {
	c, err := contactChange(m)
	if err != nil {
		return err
	}
	id, err := s.upserts.do(ctx, HubSpotContact{Email: c.Contact.Email, Properties: s.contactProperties(contactValues(c.Contact))})
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("hubspot upsert answered without the contact")
	}
	if c.Contact.Domain == "" {
		return nil
	}
	companyID, err := s.company(ctx, c.Contact.Domain, c.Contact.Company)
	if err != nil {
		return err
	}
	return s.client.AssociateCompany(ctx, id, companyID)
}

// contactProperties maps a contact's values to HubSpot properties.
func (s *HubSpotSender) contactProperties(values map[string]any) map[string]string {
	out := map[string]string{}
	for field, prop := range s.props {
		v, ok := values[field]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case float64:
			out[prop] = formatNumber(v)
		case string:
			if field == "status" {
				option, ok := s.statuses[statusKey(v)]
				if !ok {
					continue
				}
				v = option
			}
			out[prop] = v
		}
	}
	return out
}

// statusKey is a status as the statuses map is keyed: lowercase, '_' for
// spaces and '-'.
func statusKey(s string) string {
	return strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// company returns the id of the company with domain, creating it with name
// when HubSpot has none. Concurrent calls for one domain share one lookup.
func (s *HubSpotSender) company(ctx context.Context, domain, name string) (string, error) {
	if id, ok := s.companies.get(domain); ok {
		return id, nil
	}
	id, err, _ := s.lookups.Do(domain, func() (any, error) {
		if id, ok := s.companies.get(domain); ok {
			return id, nil
		}
		look := companyLookup{
			search: func(ctx context.Context) (string, bool, error) { return s.client.FindCompany(ctx, domain) },
			create: func(ctx context.Context) (string, error) { return s.client.CreateCompany(ctx, domain, name) },
		}
		var (
			id  string
			err error
		)
		if s.claims != nil {
			id, err = s.claims.resolve(ctx, domain, look)
		} else {
			id, err = look.find(ctx)
		}
		if err != nil {
			return "", err
		}
		s.companies.put(domain, id)
		return id, nil
	})
	if err != nil {
		return "", err
	}
	return id.(string), nil
}

// idCache is a bounded map of record ids; when full it starts again empty.
type idCache struct {
	mu  sync.Mutex
	max int
	ids map[string]string
}

func newIDCache(n int) *idCache { return &idCache{max: n, ids: make(map[string]string)} }

func (c *idCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[key]
	return id, ok
}

func (c *idCache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) >= c.max {
		clear(c.ids)
	}
	c.ids[key] = id
}
