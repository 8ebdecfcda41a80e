package ingest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/services/ingest"
)

// printer is a Publisher that acknowledges every event and prints where it
// went. In a service it is an *events.Publisher on JetStream.
type printer struct{}

func (printer) PublishAck(_ context.Context, subject string, ev event.Event) (*jetstream.PubAck, error) {
	fmt.Println("published", ev.Type(), "on", subject)
	return &jetstream.PubAck{Stream: "LEADS", Sequence: 1}, nil
}

func (printer) PublishMsg(_ context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	fmt.Println("quarantined on", msg.Subject)
	return &jetstream.PubAck{Stream: "QUARANTINE", Sequence: 1}, nil
}

func ExampleNewHandler() {
	h, err := ingest.NewHandler(ingest.DefaultConfig(), printer{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	post := func(path, body string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "submission-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	post("/webhooks/form", `{"email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","company":"Example Inc"}`)
	post("/webhooks/form", `{"first_name":"Ada"}`)
	// Output:
	// published com.gtmhub.lead.captured on gtm.leads.captured.form
	// 202 {"id":"0b0fa0bc-05cd-5d5a-b886-9718ea54ffee","subject":"gtm.leads.captured.form","duplicate":false}
	// 422 {"error":"the lead does not satisfy the com.gtmhub.lead.captured contract","details":[{"pointer":"/email","message":"is required"}],"fields":[{"pointer":"/email","message":"is required"}]}
}

func ExampleConfig_Validate() {
	cfg := ingest.DefaultConfig()
	cfg.Sources = append(cfg.Sources, ingest.Source{
		Name:    "Typeform",
		Scheme:  "hmac",
		Mapping: map[string]string{"Your email": "e-mail"},
	})
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration:
	// source "Typeform": name "Typeform" must be a subject token of lowercase letters, digits, '_' and '-'
	// source "Typeform": unknown scheme "hmac" (one of airtable, github, hmac-sha256, hubspot-v3, none, notion, shared-secret, slack, standard-webhooks, stripe)
	// source "Typeform": mapping "Your email": unknown lead field "e-mail" (known: email, first_name, last_name, company, status, created_at, domain, title, phone, signal_score, intent_score, fit_score)
}

// A GitHub source verifies X-Hub-Signature-256; here with the secret and
// signature of GitHub's own documentation.
func ExampleNewHandler_github() {
	cfg := ingest.DefaultConfig()
	cfg.Sources = []ingest.Source{{Name: "github", Scheme: "github", Kind: ingest.KindRaw,
		Secrets: []ingest.Secret{{Value: "It's a Secret to Everybody"}}}}
	h, err := ingest.NewHandler(cfg, printer{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	post := func(event, signature string) {
		req := httptest.NewRequest("POST", "/webhooks/github", strings.NewReader("Hello, World!"))
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		req.Header.Set("X-Hub-Signature-256", "sha256="+signature)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	post("push", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	post("push", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18")
	post("ping", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	// Output:
	// published com.gtmhub.webhook.received on gtm.raw.github.push
	// 202 {"id":"991b8e3b-91e6-5ec2-862c-404c6b3bfb0a","subject":"gtm.raw.github.push","duplicate":false}
	// quarantined on gtm.quarantine.github
	// 401 {"error":"verification failed: credentials do not match: X-Hub-Signature-256 header does not match the body","details":[]}
	// 200 {"handshake":"ping"}
}
