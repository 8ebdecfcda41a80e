package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestOneThingCommandsPrintJSON: commands that do one thing print JSON with
// --json, nothing else on standard output.
func TestOneThingCommandsPrintJSON(t *testing.T) {
	srv := eventstest.RunServer(t)
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"com.gtmhub.lead.captured",`+
		`"datacontenttype":"application/json","data":{"email":"ada@example.com"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	deadLetterOn(t, srv, "store", "store", events.SubjectLeadsEnriched)
	tests := []struct {
		args []string
		want string // a key the JSON holds
	}{
		{[]string{"init"}, "topology"},
		{[]string{"contracts", "validate", event}, "valid"},
		{[]string{"dlq", "purge", "--all", "--yes"}, "purged"},
		{[]string{"dlq", "purge", "--all", "--yes"}, "purged"}, // nothing left to purge
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := gtmhubTo(srv, &out, &errOut, "", append(tt.args, "--json")...); err != nil {
				t.Fatalf("%v: %s", err, errOut.String())
			}
			var v map[string]any
			if err := json.Unmarshal(out.Bytes(), &v); err != nil || v[tt.want] == nil {
				t.Errorf("output %q: %v, want JSON with %q", out.String(), err, tt.want)
			}
		})
	}
}

// TestDLQPurgeAsksOnStandardError: the question goes to standard error, so
// it does not mix with what the command prints, and --json without --yes is
// refused, there being no one to answer.
func TestDLQPurgeAsksOnStandardError(t *testing.T) {
	srv := eventstest.RunServer(t)
	deadLetterOn(t, srv, "store", "store", events.SubjectLeadsEnriched)
	var out, errOut bytes.Buffer
	if err := gtmhubTo(srv, &out, &errOut, "n\n", "dlq", "purge", "--all"); err == nil {
		t.Error("purge went ahead on a no")
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "[y/N]") {
		t.Errorf("stdout %q, stderr %q: want the question on stderr only", out.String(), errOut.String())
	}
	out.Reset()
	err := gtmhubTo(srv, &out, &out, "y\n", "dlq", "purge", "--all", "--json")
	if err == nil || !strings.Contains(err.Error(), "--json needs --yes") {
		t.Errorf("purge --json without --yes: %v", err)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 1 {
		t.Errorf("DLQ holds %d, want the dead letter kept", n)
	}
}
