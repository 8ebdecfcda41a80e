package notify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakeairtable"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakehubspot"
)

const (
	hubspotToken  = "pat-na1-hubspot-secret-token"
	airtableToken = "patAIRTABLE.secret-token"
	airtableBase  = "appTESTBASE000001"
)

// crmRules are the seed's two outbound flows: every contact change to
// HubSpot, and to the Airtable Leads table.
func crmRules() []notify.Rule {
	on := []string{contracts.TypeContactCreated, contracts.TypeContactUpdated}
	return []notify.Rule{
		{Name: "crm", On: on, Action: contracts.ChannelHubSpot},
		{Name: "airtable-leads", On: on, Action: contracts.ChannelAirtable},
	}
}

func crmConfig(hs *fakehubspot.Server, at *fakeairtable.Server) notify.Config {
	cfg := notify.DefaultConfig()
	cfg.Rules = crmRules()
	cfg.HubSpot = notify.HubSpot{Token: hubspotToken, BaseURL: hs.URL, HTTPClient: hs.Client()}
	cfg.Airtable = notify.Airtable{Token: airtableToken, Base: airtableBase, Table: "Leads", BaseURL: at.URL,
		HTTPClient: at.Client(), RateLimitWait: time.Second}
	return cfg
}

func startCRM(t *testing.T) (*eventstest.Server, *fakehubspot.Server, *fakeairtable.Server) {
	t.Helper()
	srv := eventstest.RunServer(t)
	hs := fakehubspot.New(t, hubspotToken)
	at := fakeairtable.New(t, airtableToken, airtableBase, "Leads")
	startNotify(t, srv, crmConfig(hs, at))
	return srv, hs, at
}

var created = time.Date(2025, 11, 20, 9, 14, 3, 0, time.UTC)

// ada is the contact of the tests, as the store holds it.
func ada(mod func(c *contracts.Contact)) contracts.Contact {
	now := time.Now().UTC()
	c := contracts.Contact{Lead: contracts.Lead{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
		Company: "Analytical Engines", Domain: "example.com", Title: "Head of Engineering", Status: "new",
		Source: "form", CreatedAt: &created, SignalScore: ptr(86.0)}, UpdatedAt: &now}
	if mod != nil {
		mod(&c)
	}
	return c
}

// change is a store change event: its fields changed, each from source.
func change(t *testing.T, typ string, c contracts.Contact, source string, fields map[string][2]any) event.Event {
	t.Helper()
	data := contracts.ContactChanged{Contact: c, Provenance: map[string]contracts.Provenance{}}
	for f, v := range fields {
		data.Changes = append(data.Changes, contracts.FieldChange{Field: f, Old: v[0], New: v[1]})
		data.Provenance[f] = contracts.Provenance{Source: source, EventID: "in-" + f, At: created}
	}
	if _, ok := data.Provenance["email"]; !ok {
		data.Provenance["email"] = contracts.Provenance{Source: "form", EventID: "first", At: created}
	}
	ev := eventstest.NewEvent(t, typ, data)
	sum := sha256.Sum256([]byte(c.Email))
	ev.SetSubject("sha256:" + hex.EncodeToString(sum[:])) // as the store keys a contact's changes
	return ev
}

func createdEvent(t *testing.T) event.Event {
	c := ada(nil)
	return change(t, contracts.TypeContactCreated, c, "form", map[string][2]any{
		"email": {nil, c.Email}, "first_name": {nil, "Ada"}, "last_name": {nil, "Lovelace"}, "company": {nil, c.Company},
		"domain": {nil, c.Domain}, "title": {nil, c.Title}, "status": {nil, "new"}, "created_at": {nil, created.Format(time.RFC3339)}})
}

func TestCRMWritesContactCompanyAndRecordOnce(t *testing.T) {
	srv, hs, at := startCRM(t)

	publish(t, srv, createdEvent(t))
	if !hs.Wait(wait, func(s *fakehubspot.Server) bool { return len(s.Associations()) == 1 }) {
		t.Fatalf("HubSpot: contacts %+v, companies %+v, associations %+v", hs.Contacts(), hs.Companies(), hs.Associations())
	}
	contact := hs.Contacts()["ada@example.com"]
	want := map[string]string{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace",
		"company": "Analytical Engines", "jobtitle": "Head of Engineering", "hs_lead_status": "NEW"}
	for k, v := range want {
		if contact.Properties[k] != v {
			t.Errorf("HubSpot contact property %s = %q, want %q", k, contact.Properties[k], v)
		}
	}
	companies := hs.Companies()
	if len(companies) != 1 || companies[0].Properties["domain"] != "example.com" || companies[0].Properties["name"] != "Analytical Engines" {
		t.Errorf("HubSpot companies %+v", companies)
	}
	if a := hs.Associations()[0]; a.ContactID != contact.ID || a.CompanyID != companies[0].ID {
		t.Errorf("association %+v, want contact %s with company %s", a, contact.ID, companies[0].ID)
	}
	if !at.Wait(wait, func(s *fakeairtable.Server) bool { return len(s.Records()) == 1 }) {
		t.Fatal("no Airtable record")
	}
	wantFields := map[string]any{"Email": "ada@example.com", "First Name": "Ada", "Last Name": "Lovelace",
		"Company": "Analytical Engines", "Status": "new", "Created": "2025-11-20T09:14:03Z"}
	if got := at.Records()[0].Fields; len(got) != len(wantFields) {
		t.Errorf("Airtable record %v, want %v", got, wantFields)
	} else {
		for k, v := range wantFields {
			if got[k] != v {
				t.Errorf("Airtable field %s = %v, want %v", k, got[k], v)
			}
		}
	}

	// An update: the same records change, nothing is added.
	update := change(t, contracts.TypeContactUpdated, ada(func(c *contracts.Contact) { c.Title, c.Status = "CTO", "open" }),
		"form", map[string][2]any{"title": {"Head of Engineering", "CTO"}, "status": {"new", "open"}})
	publish(t, srv, update)
	if !hs.Wait(wait, func(s *fakehubspot.Server) bool {
		return s.Contacts()["ada@example.com"].Properties["jobtitle"] == "CTO"
	}) {
		t.Fatalf("HubSpot contact not updated: %+v", hs.Contacts())
	}
	if !at.Wait(wait, func(s *fakeairtable.Server) bool { return s.Records()[0].Fields["Status"] == "open" }) {
		t.Fatalf("Airtable record not updated: %+v", at.Records())
	}
	awaitSettled(t, srv)
	if len(hs.Contacts()) != 1 || len(hs.Companies()) != 1 || len(hs.Associations()) != 1 || len(at.Records()) != 1 {
		t.Errorf("after the update: %d contacts, %d companies, %d associations, %d records; want one each",
			len(hs.Contacts()), len(hs.Companies()), len(hs.Associations()), len(at.Records()))
	}

	// Redelivered and replayed with side effects: no call is made again.
	calls := len(hs.Requests()) + len(at.Requests())
	redeliver(t, srv, update, 0)
	replay(t, srv, update, true)
	awaitSettled(t, srv)
	awaitReplaysSettled(t, srv)
	if n := len(hs.Requests()) + len(at.Requests()); n != calls {
		t.Errorf("%d more calls after a redelivery and a replay, want none", n-calls)
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 4 {
		t.Errorf("%d sent decisions, want 4", n)
	}
	for _, d := range decisions(t, srv, 4) {
		if d.Outcome == contracts.OutcomeSent && d.Channel != contracts.ChannelHubSpot && d.Channel != contracts.ChannelAirtable {
			t.Errorf("decision %+v", d)
		}
	}
}

func TestCRMRateLimitsAreWaitedOut(t *testing.T) {
	srv := eventstest.RunServer(t)
	hs := fakehubspot.New(t, hubspotToken)
	at := fakeairtable.New(t, airtableToken, airtableBase, "Leads")
	hs.FailNext(fakehubspot.Response{Status: 429, RetryAfter: 2 * time.Second})
	at.FailNext(fakeairtable.Response{Status: 429}) // Airtable sends no Retry-After: its documented wait (1s here)
	startNotify(t, srv, crmConfig(hs, at))

	start := time.Now()
	publish(t, srv, createdEvent(t))
	if !hs.Wait(wait, func(s *fakehubspot.Server) bool { return len(s.Associations()) == 1 }) {
		t.Fatal("HubSpot not written after its 429")
	}
	if !at.Wait(wait, func(s *fakeairtable.Server) bool { return len(s.Records()) == 1 }) {
		t.Fatal("Airtable not written after its 429")
	}
	hsCalls, atCalls := hs.Requests(), at.Requests()
	if len(hsCalls) < 2 || len(atCalls) < 2 {
		t.Fatalf("%d HubSpot and %d Airtable calls", len(hsCalls), len(atCalls))
	}
	if d := hsCalls[1].At.Sub(start); d < 2*time.Second {
		t.Errorf("HubSpot called again %s after the event, want at least the 2s it asked for", d)
	}
	if d := atCalls[1].At.Sub(start); d < time.Second {
		t.Errorf("Airtable called again %s after the event, want at least its documented wait", d)
	}
	awaitSettled(t, srv)
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 2 {
		t.Errorf("%d sent decisions, want 2", n)
	}
}

func TestCRMRefusalDeadLettersWithoutTheToken(t *testing.T) {
	srv := eventstest.RunServer(t)
	hs := fakehubspot.New(t, hubspotToken) // has no gtmhub_signal_score property
	at := fakeairtable.New(t, airtableToken, airtableBase, "Leads")
	cfg := crmConfig(hs, at)
	cfg.Rules = cfg.Rules[:1]
	cfg.HubSpot.Properties = map[string]string{"signal_score": "gtmhub_signal_score"}
	startNotify(t, srv, cfg)

	ev := createdEvent(t)
	publish(t, srv, ev)
	dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(notify.Name, ">"), 1, wait)
	h := dead[0].Headers()
	reason := h.Get(events.DLQHeaderError)
	if h.Get("ce-id") != ev.ID() || h.Get(events.DLQHeaderReason) != "permanent" ||
		!strings.Contains(reason, "hubspot answered 400 VALIDATION_ERROR") || !strings.Contains(reason, "gtmhub_signal_score") {
		t.Errorf("dead letter %s: reason %q, error %q", h.Get("ce-id"), h.Get(events.DLQHeaderReason), reason)
	}
	if strings.Contains(reason, "secret-token") || strings.Contains(reason, "ada@example.com") {
		t.Errorf("dead letter error repeats the token or the email: %s", reason)
	}
	for _, d := range decisions(t, srv, 1) {
		if d.Outcome != contracts.OutcomeFailed || !strings.Contains(d.Reason, "400") || strings.Contains(d.Reason, "secret-token") {
			t.Errorf("decision %+v", d)
		}
	}
	if len(hs.Contacts()) != 0 {
		t.Errorf("HubSpot holds %d contacts after refusing the write", len(hs.Contacts()))
	}
}

// TestCRMChangesAreNotWrittenBack: a change that came from Airtable goes to
// HubSpot only, one from HubSpot to Airtable only, and the echo of a write
// (only the contact's source changes) goes nowhere.
func TestCRMChangesAreNotWrittenBack(t *testing.T) {
	srv, hs, at := startCRM(t)
	fromAirtable := change(t, contracts.TypeContactUpdated, ada(func(c *contracts.Contact) { c.Title, c.Source = "CTO", "airtable" }),
		"airtable", map[string][2]any{"title": {"Head of Engineering", "CTO"}, "status": {"open", "new"}, "source": {"form", "airtable"}})
	publish(t, srv, fromAirtable)
	if !hs.Wait(wait, func(s *fakehubspot.Server) bool {
		return s.Contacts()["ada@example.com"].Properties["jobtitle"] == "CTO"
	}) {
		t.Fatal("the change from Airtable did not reach HubSpot")
	}
	awaitSettled(t, srv)
	if n := len(at.Requests()); n != 0 {
		t.Errorf("the change from Airtable was written back to it (%d calls)", n)
	}

	fromHubSpot := change(t, contracts.TypeContactUpdated, ada(func(c *contracts.Contact) { c.Phone, c.Source = "+44 20 7946 0958", "hubspot" }),
		"hubspot", map[string][2]any{"phone": {nil, "+44 20 7946 0958"}, "last_name": {"L.", "Lovelace"}})
	calls := len(hs.Requests())
	publish(t, srv, fromHubSpot)
	if !at.Wait(wait, func(s *fakeairtable.Server) bool { return len(s.Records()) == 1 }) {
		t.Fatal("the change from HubSpot did not reach Airtable")
	}
	awaitSettled(t, srv)
	if n := len(hs.Requests()) - calls; n != 0 {
		t.Errorf("the change from HubSpot was written back to it (%d calls)", n)
	}

	echo := change(t, contracts.TypeContactUpdated, ada(func(c *contracts.Contact) { c.Source = "airtable" }),
		"airtable", map[string][2]any{"source": {"hubspot", "airtable"}})
	calls = len(hs.Requests()) + len(at.Requests())
	publish(t, srv, echo)
	awaitSettled(t, srv)
	if n := len(hs.Requests()) + len(at.Requests()) - calls; n != 0 {
		t.Errorf("an echo was written %d times", n)
	}

	// Each write not made is on record, with its reason.
	var notBack, echoes int
	for _, d := range decisions(t, srv, int(srv.Count(t, events.StreamNotify, "gtm.notify.>"))) {
		switch {
		case d.Outcome == contracts.OutcomeSuppressed && strings.Contains(d.Reason, "not written back"):
			notBack++
		case d.Outcome == contracts.OutcomeSuppressed && strings.Contains(d.Reason, "changed"):
			echoes++
		}
	}
	if notBack != 2 || echoes != 2 {
		t.Errorf("%d writes back and %d echoes suppressed, want 2 and 2", notBack, echoes)
	}
}

func TestCRMConfigValidate(t *testing.T) {
	t.Setenv("HUBSPOT_TOKEN_TEST", "")
	cfg := notify.DefaultConfig()
	on := []string{contracts.TypeContactUpdated}
	cfg.Rules = []notify.Rule{
		{Name: "ok-hubspot", On: on, Action: contracts.ChannelHubSpot},
		{Name: "ok-airtable", On: on, Action: contracts.ChannelAirtable, Target: "Contacts"},
		{Name: "company", On: []string{contracts.TypeCompanyCreated}, Action: contracts.ChannelHubSpot},
		{Name: "deduped", On: on, Action: contracts.ChannelAirtable, Dedupe: "{{.data.contact.email}}"},
		{Name: "targeted", On: on, Action: contracts.ChannelHubSpot, Target: "#sales"},
	}
	cfg.HubSpot = notify.HubSpot{TokenEnv: "HUBSPOT_TOKEN_TEST", Properties: map[string]string{"email": "work_email", "nickname": "x"}}
	cfg.Airtable = notify.Airtable{Token: airtableToken, Base: "Leads", Fields: map[string]string{"email": ""}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken configuration")
	}
	for _, want := range []string{
		`rule "company": on: hubspot writes contacts`,
		`rule "deduped": dedupe: airtable writes every change once`,
		`rule "targeted": target: hubspot takes none`,
		`hubspot.token_env: HUBSPOT_TOKEN_TEST is not set`,
		`hubspot.properties["email"]: contacts are upserted by their email property`,
		`hubspot.properties["nickname"]: not a contact field`,
		`airtable.base must be a base id`,
		`airtable.table is required`,
		`airtable.fields["email"]: records are merged on the email's column`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not contain %q:\n%v", want, err)
		}
	}
	for _, name := range []string{"ok-hubspot", "ok-airtable"} {
		if strings.Contains(err.Error(), `rule "`+name+`"`) {
			t.Errorf("Validate refused rule %s:\n%v", name, err)
		}
	}
	if strings.Contains(err.Error(), airtableToken) {
		t.Errorf("Validate repeats the token:\n%v", err)
	}
}

func TestCRMChannels(t *testing.T) {
	cfg := notify.DefaultConfig()
	if n := len(cfg.Channels()); n != 2 {
		t.Errorf("%d channels without CRM rules or configuration, want slack and email", n)
	}
	cfg.Rules = crmRules()
	cfg.Airtable = notify.Airtable{Token: airtableToken, Base: airtableBase, Table: "Leads"}
	got := map[contracts.Channel]notify.ChannelStatus{}
	for _, c := range cfg.Channels() {
		got[c.Channel] = c
	}
	if hs := got[contracts.ChannelHubSpot]; hs.Ready || !strings.Contains(hs.Reason, "hubspot.token") || len(hs.Rules) != 1 {
		t.Errorf("hubspot %+v, want inert for rule crm", hs)
	}
	if at := got[contracts.ChannelAirtable]; !at.Ready || len(at.Rules) != 1 || at.Rules[0] != "airtable-leads" {
		t.Errorf("airtable %+v, want ready for rule airtable-leads", at)
	}
}

// TestCRMOneCompanyForManyNewContacts: new contacts of one new company,
// written at once while HubSpot's search does not show the company yet,
// share one company.
func TestCRMOneCompanyForManyNewContacts(t *testing.T) {
	srv := eventstest.RunServer(t)
	hs := fakehubspot.New(t, hubspotToken, fakehubspot.WithSearchLag(time.Minute))
	at := fakeairtable.New(t, airtableToken, airtableBase, "Leads")
	cfg := crmConfig(hs, at)
	cfg.Rules = cfg.Rules[:1]
	const n = 6
	for i := range n {
		c := ada(func(c *contracts.Contact) { c.Email = string(rune('a'+i)) + "@example.com" })
		publish(t, srv, change(t, contracts.TypeContactCreated, c, "form", map[string][2]any{"email": {nil, c.Email}}))
	}
	startNotify(t, srv, cfg) // after the events, so that it handles them at once
	if !hs.Wait(wait, func(s *fakehubspot.Server) bool { return len(s.Associations()) == n }) {
		t.Fatalf("%d associations, want %d", len(hs.Associations()), n)
	}
	if c := hs.Companies(); len(c) != 1 {
		t.Errorf("%d companies for one domain, want 1", len(c))
	}
}

// TestCRMBackfillIsBatched: many changes at once share requests (at most
// 100 contacts to HubSpot, 10 records to Airtable), and a batch HubSpot
// refuses is sent again contact by contact, so none is lost to it.
func TestCRMBackfillIsBatched(t *testing.T) {
	srv := eventstest.RunServer(t)
	hs := fakehubspot.New(t, hubspotToken)
	at := fakeairtable.New(t, airtableToken, airtableBase, "Leads")
	hs.FailNext(fakehubspot.Response{Status: 400, Body: `{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR"}`})
	const n = 30
	for i := range n {
		c := ada(func(c *contracts.Contact) { c.Email, c.Domain = fmt.Sprintf("lead%02d@example.com", i), "" })
		publish(t, srv, change(t, contracts.TypeContactCreated, c, "form", map[string][2]any{"email": {nil, c.Email}}))
	}
	startNotify(t, srv, crmConfig(hs, at)) // after the events, as a backfill
	// The refused batch's contacts come back after the consumer's backoff
	// (1 s, then 2 s): on a loaded machine the last of them may take
	// longer than the usual wait.
	if !hs.Wait(3*wait, func(s *fakehubspot.Server) bool { return len(s.Contacts()) == n }) {
		t.Fatalf("%d HubSpot contacts, want %d", len(hs.Contacts()), n)
	}
	if !at.Wait(wait, func(s *fakeairtable.Server) bool { return len(s.Records()) == n }) {
		t.Fatalf("%d Airtable records, want %d", len(at.Records()), n)
	}
	awaitSettled(t, srv)
	var refused, singles, batches int
	for _, r := range hs.Requests() {
		var body struct{ Inputs []json.RawMessage }
		_ = json.Unmarshal(r.Body, &body)
		switch {
		case r.Status == 400:
			refused++
		case len(body.Inputs) == 1:
			singles++
		default:
			batches++
		}
	}
	if refused != 1 || batches == 0 {
		t.Errorf("HubSpot: %d refused, %d single and %d batch upserts for %d contacts", refused, singles, batches, n)
	}
	if r := len(at.Requests()); r > n/2 {
		t.Errorf("Airtable: %d requests for %d records", r, n)
	}
	if d := srv.Count(t, events.StreamDLQ, events.DLQSubject(notify.Name, ">")); d != 0 {
		t.Errorf("%d dead letters", d)
	}
}
