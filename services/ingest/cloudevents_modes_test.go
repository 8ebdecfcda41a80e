package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestCloudEventModesAgree posts the same event in binary, structured and
// batch mode, each to its own server, and finds the same attributes and data
// in JetStream: for a catalog type and for a type of another producer.
func TestCloudEventModesAgree(t *testing.T) {
	tests := []struct {
		name, typ, data, subject, stream string
		ceSubject, tenant                string
	}{
		{"catalog type", "com.gtmhub.lead.captured", `{"email":"ada@example.com","source":"crm","first_name":"Ada"}`,
			"gtm.leads.captured.crm", "LEADS", "lead/42", "acme"},
		{"another producer's type", "com.example.Invoice.Paid", `{"invoice":"in_1","amount":4200}`,
			"gtm.raw.events.com_example_invoice_paid", "RAW", "lead/42", "acme"},
		{"attributes that need percent-encoding in headers", "com.gtmhub.lead.captured", `{"email":"ada@example.com","source":"crm"}`,
			"gtm.leads.captured.crm", "LEADS", "café x", `Zoë "100%"`},
		{"another producer's type, attributes that need percent-encoding", "com.example.Invoice.Paid", `{"invoice":"in_1"}`,
			"gtm.raw.events.com_example_invoice_paid", "RAW", "caf\u00e9 x\u00a0€", "a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := map[string]string{"specversion": "1.0", "id": "ev-modes-1", "source": "/crm/sync", "type": tt.typ,
				"subject": tt.ceSubject, "time": "2026-11-23T09:30:00.123Z", "datacontenttype": "application/json",
				"dataschema": "https://example.com/schema.json", "tenant": tt.tenant}
			header := map[string]string{}
			structured := map[string]any{"data": json.RawMessage(tt.data)}
			for k, v := range attrs {
				structured[k] = v
				if k != "datacontenttype" {
					header["Ce-"+k] = percentEncodeHeader(v)
				}
			}
			one, err := json.Marshal(structured)
			if err != nil {
				t.Fatal(err)
			}
			posts := map[string]request{
				"binary":     {path: "/events", contentType: "application/json", header: header, body: tt.data},
				"structured": {path: "/events", contentType: MediaCloudEvents, body: string(one)},
				"batch":      {path: "/events", contentType: MediaCloudEventsBatch, body: "[" + string(one) + "]"},
			}
			got := map[string]event.Event{}
			for mode, req := range posts {
				srv := eventstest.RunServer(t)
				rec := req.do(t, newTestHandler(t, srv, testConfig()))
				if rec.Code != http.StatusAccepted {
					t.Fatalf("%s: %d %s", mode, rec.Code, rec.Body)
				}
				ev, _ := awaitEvent(t, srv, tt.stream, tt.subject)
				got[mode] = ev
			}
			want := got["binary"]
			if want.ID() != "ev-modes-1" || want.Source() != "/crm/sync" || want.Extensions()["tenant"] != tt.tenant ||
				want.Subject() != tt.ceSubject || want.DataContentType() != "application/json" {
				t.Fatalf("binary-mode event = %s", want)
			}
			for _, mode := range []string{"structured", "batch"} {
				ev := got[mode]
				if !reflect.DeepEqual(ev.Context, want.Context) || !reflect.DeepEqual(ev.Extensions(), want.Extensions()) {
					t.Errorf("%s-mode attributes differ:\n%s\nbinary:\n%s", mode, ev, want)
				}
				if !bytes.Equal(compactJSON(t, ev.Data()), compactJSON(t, want.Data())) {
					t.Errorf("%s-mode data %s, binary %s", mode, ev.Data(), want.Data())
				}
			}
		})
	}
}

// percentEncodeHeader encodes v as the HTTP binding (1.0.2, 3.1.3.2) tells
// a sender to: space, '"', '%' and every byte outside printable ASCII as
// %XX of its UTF-8 encoding.
func percentEncodeHeader(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7F || c == '"' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("data %q: %v", b, err)
	}
	return buf.Bytes()
}

func TestCloudEventMissingAttributes(t *testing.T) {
	tests := []struct {
		name string
		req  request
		want []string
	}{
		{"binary", request{path: "/events", contentType: "application/json",
			header: map[string]string{"Ce-Specversion": "1.0", "Ce-Type": "com.gtmhub.lead.captured"}, body: `{"email":"a@b.co"}`},
			[]string{"id", "source"}},
		{"structured", request{path: "/events", contentType: MediaCloudEvents,
			body: `{"specversion":"1.0","id":"","data":{"email":"a@b.co"}}`}, []string{"id", "source", "type"}},
		{"structured without specversion", request{path: "/events", contentType: MediaCloudEvents,
			body: `{"id":"x","source":"/s","type":"com.example.x"}`}, []string{"specversion"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			rec := tt.req.do(t, newTestHandler(t, srv, testConfig()))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			a := readAnswer(t, rec)
			var named []string
			for _, d := range a.Details {
				named = append(named, d.Attribute)
			}
			if !slices.Equal(named, tt.want) {
				t.Fatalf("details name %v, want %v: %s", named, tt.want, rec.Body)
			}
			for _, n := range tt.want {
				if !strings.Contains(a.Error, n) {
					t.Errorf("error %q does not name %s", a.Error, n)
				}
			}
		})
	}
}

// TestCloudEventBatch posts a batch with a good event, an invalid one and
// one of another producer, and reads a result per event.
func TestCloudEventBatch(t *testing.T) {
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, testConfig())
	batch := `[
		{"specversion":"1.0","id":"b-1","source":"/crm","type":"com.gtmhub.lead.captured","data":{"email":"ada@example.com"}},
		{"specversion":"1.0","id":"b-2","source":"/crm","type":"com.gtmhub.lead.captured","data":{"fit_score":101}},
		{"specversion":"1.0","source":"/crm","type":"com.gtmhub.lead.captured","data":{"email":"ada@example.com"}},
		{"specversion":"1.0","id":"b-4","source":"/billing","type":"com.example.invoice.paid","data":{"invoice":"in_1"}}
	]`
	rec := request{path: "/events", contentType: MediaCloudEventsBatch, body: batch}.do(t, h)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", rec.Code, rec.Body)
	}
	var reply struct {
		Error   string         `json:"error"`
		Details []detailAnswer `json:"details"`
		Results []BatchResult  `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for _, r := range reply.Results {
		statuses = append(statuses, r.Status)
	}
	if want := []int{202, 422, 400, 202}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v: %s", statuses, want, rec.Body)
	}
	if r := reply.Results[0]; r.ID != "b-1" || r.Subject != "gtm.leads.captured.crm" {
		t.Errorf("result 0 = %+v", r)
	}
	if r := reply.Results[3]; r.Subject != "gtm.raw.events.com_example_invoice_paid" {
		t.Errorf("result 3 = %+v", r)
	}
	if len(reply.Details) != 2 || *reply.Details[0].Index != 1 || *reply.Details[1].Index != 2 || reply.Error == "" {
		t.Errorf("error %q details %+v", reply.Error, reply.Details)
	}
	if n := srv.Count(t, "LEADS", ">"); n != 1 {
		t.Errorf("%d leads stored, want 1", n)
	}
	if n := srv.Count(t, "RAW", ">"); n != 1 {
		t.Errorf("%d raw events stored, want 1", n)
	}

	// The same batch again: the stored events are duplicates.
	rec = request{path: "/events", contentType: MediaCloudEventsBatch, body: batch}.do(t, h)
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	if !reply.Results[0].Duplicate || !reply.Results[3].Duplicate {
		t.Errorf("second post: %s", rec.Body)
	}

	for _, bad := range []string{`{}`, `[1]`, `null`} {
		rec := request{path: "/events", contentType: MediaCloudEventsBatch, body: bad}.do(t, h)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("batch %s: %d, want 400", bad, rec.Code)
		}
		readAnswer(t, rec)
	}
}

// TestCloudEventEmptyBatch: the HTTP binding says a batch may be empty; it
// is accepted with no results and stores nothing.
func TestCloudEventEmptyBatch(t *testing.T) {
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, testConfig())
	for _, body := range []string{`[]`, " [ ]\n"} {
		rec := request{path: "/events", contentType: MediaCloudEventsBatch, body: body}.do(t, h)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("batch %q: %d, want 202: %s", body, rec.Code, rec.Body)
		}
		if got := strings.TrimSpace(rec.Body.String()); got != `{"results":[]}` {
			t.Errorf("batch %q: answer %s, want {\"results\":[]}", body, got)
		}
	}
	for _, stream := range []string{"LEADS", "RAW"} {
		if n := srv.Count(t, stream, ">"); n != 0 {
			t.Errorf("%d messages in %s after an empty batch", n, stream)
		}
	}
}
