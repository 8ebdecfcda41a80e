package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/events"
)

func sampleEvent(t testing.TB) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID("5f0c6a2e-1d2b-4c3a-9e8f-123456789abc")
	ev.SetSource("/gtmhub/ingest/form")
	ev.SetType("com.gtmhub.lead.captured")
	ev.SetSubject("Euro € 😀")
	ev.SetTime(time.Date(2026, 11, 23, 8, 30, 0, 123456789, time.UTC))
	ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ev.SetExtension("gtmreplay", "true")
	if err := ev.SetData(event.ApplicationJSON, map[string]string{"email": "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestEncodeBinaryHeaders(t *testing.T) {
	msg, err := events.Encode("gtm.leads.captured.form", sampleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ce-specversion":   "1.0",
		"ce-id":            "5f0c6a2e-1d2b-4c3a-9e8f-123456789abc",
		"ce-source":        "/gtmhub/ingest/form",
		"ce-type":          "com.gtmhub.lead.captured",
		"ce-subject":       "Euro%20%E2%82%AC%20%F0%9F%98%80",
		"ce-time":          "2026-11-23T08:30:00.123456789Z",
		"ce-traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"ce-gtmreplay":     "true",
		"Content-Type":     "application/json",
		events.HeaderMsgID: "5f0c6a2e-1d2b-4c3a-9e8f-123456789abc",
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if string(msg.Data) != `{"email":"ada@example.com"}` {
		t.Errorf("body = %s", msg.Data)
	}
}

func TestDecode(t *testing.T) {
	structured, err := json.Marshal(sampleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	binary, err := events.Encode("s", sampleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		header  nats.Header
		data    []byte
		wantErr error
	}{
		{"binary", binary.Header, binary.Data, nil},
		{"structured", nats.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}, structured, nil},
		{"binary lowercase content-type", lowerContentType(binary.Header), binary.Data, nil},
		{"not a cloudevent", nats.Header{"Content-Type": {"application/json"}}, []byte(`{}`), events.ErrNotCloudEvent},
		{"no headers", nil, []byte(`{}`), events.ErrNotCloudEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := events.Decode(tt.header, tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Subject() != "Euro € 😀" || ev.ID() != "5f0c6a2e-1d2b-4c3a-9e8f-123456789abc" {
				t.Errorf("subject %q id %q", ev.Subject(), ev.ID())
			}
			if ev.Extensions()["gtmreplay"] != "true" || events.TraceID(ev) != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("extensions lost: %v", ev.Extensions())
			}
			if ev.DataContentType() != "application/json" || string(ev.Data()) != `{"email":"ada@example.com"}` {
				t.Errorf("data %q %s", ev.DataContentType(), ev.Data())
			}
		})
	}
}

func lowerContentType(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if k == "Content-Type" {
			k = "content-type"
		}
		out[k] = v
	}
	return out
}

func TestDecodeRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		header nats.Header
	}{
		{"bad percent escape", nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"x%zz"}, "ce-source": {"/s"}, "ce-type": {"t"}}},
		{"missing id", nats.Header{"ce-specversion": {"1.0"}, "ce-source": {"/s"}, "ce-type": {"t"}}},
		{"unknown specversion", nats.Header{"ce-specversion": {"9.9"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}}},
		{"invalid utf-8", nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"%FF"}, "ce-source": {"/s"}, "ce-type": {"t"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := events.Decode(tt.header, nil); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

// TestRoundTripProperty: any valid event survives Encode then Decode, with
// extension values compared in their canonical string form (the wire form).
func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ev := genEvent(t)
		msg, err := events.Encode(rapid.StringMatching(`gtm(\.[a-z0-9_-]{1,8}){1,4}`).Draw(t, "subject"), ev)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		for k, vs := range msg.Header {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					t.Fatalf("header %s has a line break", k)
				}
			}
		}
		got, err := events.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		assertSameEvent(t, ev, got)
	})
}

func genEvent(t *rapid.T) event.Event {
	text := rapid.StringOfN(rapid.Rune(), 1, 40, -1)
	ev := event.New()
	ev.SetID(text.Filter(func(s string) bool { return strings.TrimSpace(s) != "" }).Draw(t, "id"))
	ev.SetSource(rapid.StringMatching(`/[a-z]{1,10}(/[a-z0-9]{1,5}){0,2}`).Draw(t, "source"))
	ev.SetType(rapid.StringMatching(`com\.gtmhub\.[a-z]{1,10}\.[a-z]{1,10}`).Draw(t, "type"))
	if rapid.Bool().Draw(t, "hasSubject") {
		ev.SetSubject(text.Draw(t, "subject"))
	}
	if rapid.Bool().Draw(t, "hasTime") {
		ev.SetTime(time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec")).UTC())
	}
	for i, n := 0, rapid.IntRange(0, 3).Draw(t, "exts"); i < n; i++ {
		name := rapid.StringMatching(`[a-z][a-z0-9]{0,10}`).Draw(t, "extname")
		if isCoreAttribute(name) {
			continue
		}
		ev.SetExtension(name, text.Draw(t, "extval"))
	}
	if rapid.Bool().Draw(t, "hasData") {
		data := rapid.MapOf(rapid.StringMatching(`[a-z_]{1,8}`), text).Draw(t, "data")
		if err := ev.SetData(event.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
	}
	return ev
}

func isCoreAttribute(name string) bool {
	switch name {
	case "id", "source", "type", "subject", "time", "specversion", "dataschema", "datacontenttype":
		return true
	}
	return false
}

func assertSameEvent(t *rapid.T, want, got event.Event) {
	if got.ID() != want.ID() || got.Source() != want.Source() || got.Type() != want.Type() ||
		got.Subject() != want.Subject() || !got.Time().Equal(want.Time()) {
		t.Fatalf("attributes differ:\nwant %v\n got %v", want, got)
	}
	if got.DataContentType() != want.DataContentType() || string(got.Data()) != string(want.Data()) {
		t.Fatalf("data differs: %q %q vs %q %q", want.DataContentType(), want.Data(), got.DataContentType(), got.Data())
	}
	if len(got.Extensions()) != len(want.Extensions()) {
		t.Fatalf("extensions %v, want %v", got.Extensions(), want.Extensions())
	}
	for k, v := range want.Extensions() {
		ws, _ := types.Format(v)
		if gs, _ := types.Format(got.Extensions()[k]); gs != ws {
			t.Fatalf("extension %s = %q, want %q", k, gs, ws)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("1.0", "id-1", "/src", "com.gtmhub.x", "Euro%20%E2%82%AC", []byte(`{"a":1}`))
	f.Add("1.0", "%", "/src", "t", "%zz", []byte(nil))
	f.Fuzz(func(t *testing.T, spec, id, source, typ, subject string, data []byte) {
		h := nats.Header{"ce-specversion": {spec}, "ce-id": {id}, "ce-source": {source}, "ce-type": {typ}, "ce-subject": {subject}}
		ev, err := events.Decode(h, data)
		if err != nil {
			return
		}
		msg, err := events.Encode("gtm.fuzz", ev)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		again, err := events.Decode(msg.Header, msg.Data)
		if err != nil || again.ID() != ev.ID() || again.Subject() != ev.Subject() {
			t.Fatalf("re-decode: %v (%q vs %q)", err, again.ID(), ev.ID())
		}
	})
}
