package events

import (
	"context"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// TestEncodeAsTheSDKWrites checks Encode against the SDK's binary-mode
// writer driving the same header writer: the same headers, the same body.
// fullEvent returns a 1.0 event with every attribute, extensions of every
// kind, a time outside UTC and data.
func fullEvent(t *testing.T) event.Event {
	t.Helper()
	full := event.New()
	full.SetID("a b/ü%")
	full.SetSource("/gtmhub/ingest?x=1")
	full.SetType("com.gtmhub.lead.captured")
	full.SetSubject("sha256:00ff")
	full.SetTime(time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("X", 3600)))
	full.SetDataSchema("https://schemas.gtmhub.dev/com.gtmhub.lead.captured.v1.json")
	full.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	full.SetExtension("replay", true)
	full.SetExtension("attempt", 3)
	full.SetExtension("seen", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	full.SetExtension("link", types.URI{URL: url.URL{Scheme: "https", Host: "example.com", Path: "/a"}})
	if err := full.SetData(event.ApplicationJSON, []byte(`{"email":"ada@example.com"}`)); err != nil {
		t.Fatal(err)
	}
	return full
}

func TestEncodeAsTheSDKWrites(t *testing.T) {
	full := fullEvent(t)
	bare := event.New()
	bare.SetID("1")
	bare.SetSource("s")
	bare.SetType("t")
	v03 := full.Clone()
	v03.SetSpecVersion(event.CloudEventsVersionV03)

	for name, ev := range map[string]event.Event{"all attributes": full, "required only": bare, "spec 0.3": v03} {
		t.Run(name, func(t *testing.T) {
			got, err := Encode("gtm.x", ev)
			if err != nil {
				t.Fatal(err)
			}
			want := &binaryWriter{header: nats.Header{}}
			if _, err := binding.Write(binding.WithForceBinary(context.Background()), binding.ToMessage(&ev), nil, want); err != nil {
				t.Fatal(err)
			}
			want.header.Set(HeaderMsgID, percentEncode(ev.ID()))
			if !maps.EqualFunc(got.Header, want.header, slices.Equal) {
				t.Errorf("headers\n got %v\nwant %v", got.Header, want.header)
			}
			if string(got.Data) != string(want.data) {
				t.Errorf("data %q, want %q", got.Data, want.data)
			}
			back, err := Decode(got.Header, got.Data)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != ev.ID() || back.Source() != ev.Source() || back.Type() != ev.Type() ||
				back.Subject() != ev.Subject() || !back.Time().Equal(ev.Time()) ||
				back.DataSchema() != ev.DataSchema() || string(back.Data()) != string(ev.Data()) {
				t.Errorf("decoded\n%s\nwant\n%s", back, ev)
			}
			for name, v := range ev.Extensions() {
				want, _ := types.Format(v)
				if v, ok := v.(time.Time); ok {
					want = v.UTC().Format(time.RFC3339Nano)
				}
				if got := back.Extensions()[name]; got != want {
					t.Errorf("extension %s: decoded %v, want %q", name, got, want)
				}
			}
		})
	}
}

// TestDecodeAsTheSDKReads holds decodeV1 to the SDK's reader: every
// message it reads, the SDK reads to the same event, and every message it
// refuses is left to the SDK (which reads it or explains what is wrong).
func TestDecodeAsTheSDKReads(t *testing.T) {
	full := fullEvent(t)
	encoded, err := Encode("gtm.x", full)
	if err != nil {
		t.Fatal(err)
	}
	base := func(extra ...string) nats.Header {
		h := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(h, extra[i])
				continue
			}
			h[extra[i]] = []string{extra[i+1]}
		}
		return h
	}
	tests := []struct {
		name   string
		header nats.Header
		data   string
		read   bool // decodeV1 reads it
	}{
		{"as Encode writes it", encoded.Header, string(encoded.Data), true},
		{"required only, no data", base(), "", true},
		{"names in any case", base("ce-id", "", "Ce-Id", "2", "ce-type", "", "CE-TYPE", "u", "content-type", "text/plain"), "x", true},
		{"extension named in capitals", base("ce-MyExt", "v"), "", true},
		{"spaces around the id", base("ce-id", "  7 "), "", true},
		{"datacontenttype as a ce- header", base("ce-datacontenttype", "application/json"), "{}", true},
		{"percent-encoded subject", base("ce-subject", "a%20b%C3%BC"), "", true},
		{"a header with no value", func() nats.Header { h := base("ce-subject", "s"); h["ce-empty"] = nil; return h }(), "", true},
		{"bad percent encoding", base("ce-subject", "a%zz"), "", false},
		{"extension name not allowed", base("ce-my_ext", "v"), "", false},
		{"time that is not a time", base("ce-time", "yesterday"), "", false},
		{"source that is not a URI reference", base("ce-source", "http://[::1"), "", false},
		{"no id", base("ce-id", ""), "", false},
		{"blank type", base("ce-type", "  "), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			got, ok := decodeV1(h, []byte(tt.data))
			if ok != tt.read {
				t.Fatalf("decodeV1 read it: %v, want %v", ok, tt.read)
			}
			want, err := binding.ToEvent(context.Background(), &message{header: h, data: []byte(tt.data), encoding: binding.EncodingBinary})
			if err == nil {
				err = want.Validate()
			}
			if !ok {
				return
			}
			if err != nil {
				t.Fatalf("decodeV1 read what the SDK refuses: %v", err)
			}
			if !reflect.DeepEqual(got, *want) {
				t.Errorf("decodeV1\n%s\nSDK\n%s", got, want)
			}
		})
	}
}
