package events

import (
	"context"
	"maps"
	"net/url"
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
func TestEncodeAsTheSDKWrites(t *testing.T) {
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
