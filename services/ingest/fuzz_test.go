package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackingPublisher acknowledges every publish without storing anything.
type ackingPublisher struct{}

func (ackingPublisher) PublishAck(context.Context, string, event.Event) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{Stream: "TEST", Sequence: 1}, nil
}

func (ackingPublisher) PublishMsg(context.Context, *nats.Msg) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{Stream: "TEST", Sequence: 1}, nil
}

// FuzzCloudEvents posts arbitrary bodies to POST /events in structured and
// batch mode: every answer is JSON with a status the binding allows.
func FuzzCloudEvents(f *testing.F) {
	f.Add(MediaCloudEvents, []byte(`{"specversion":"1.0","id":"a","source":"/s","type":"com.example.x","data":{"a":1}}`))
	f.Add(MediaCloudEventsBatch, []byte(`[{"specversion":"1.0","id":"a","source":"/s","type":"com.gtmhub.lead.captured","data":{"email":"a@b.co"}},{}]`))
	f.Add(MediaCloudEventsBatch, []byte(`[null,1,"x",{"specversion":"0.3"}]`))
	h, err := NewHandler(testConfig(), ackingPublisher{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		rec := request{path: "/events", contentType: contentType, body: string(body)}.do(t, h)
		switch rec.Code {
		case http.StatusAccepted, http.StatusMultiStatus, http.StatusBadRequest, http.StatusUnsupportedMediaType,
			http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
	})
}

// FuzzWebhookDelivery posts arbitrary bodies and delivery headers to a raw
// and a lead source: the answer is JSON, and the event id depends only on
// the source and the delivery id or body.
func FuzzWebhookDelivery(f *testing.F) {
	f.Add("/webhooks/hubspot", []byte(`[{"eventId":1}]`), "")
	f.Add("/webhooks/form", []byte(`email=a%40b.co`), "key-1")
	h, err := NewHandler(testConfig(), ackingPublisher{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string, body []byte, key string) {
		if path != "/webhooks/hubspot" && path != "/webhooks/form" {
			return
		}
		req := request{path: path, contentType: "application/json", body: string(body),
			header: map[string]string{"Idempotency-Key": key}}
		first, second := req.do(t, h), req.do(t, h)
		if !json.Valid(first.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", first.Body)
		}
		if first.Code == http.StatusAccepted && first.Body.String() != second.Body.String() {
			t.Fatalf("the same delivery twice: %s then %s", first.Body, second.Body)
		}
	})
}
