package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestDigestDryRun(t *testing.T) {
	srv := eventstest.RunServer(t)
	score := 91.0
	now := time.Now().UTC()
	srv.Publish(t, events.SubjectContactCreated, eventstest.NewEvent(t, contracts.TypeContactCreated, contracts.ContactChanged{
		Contact: contracts.Contact{Lead: contracts.Lead{Email: "ada@example.com", FirstName: "Ada", Source: "form",
			SignalScore: &score}, UpdatedAt: &now},
		Changes: []contracts.FieldChange{{Field: "email", New: "ada@example.com"}},
	}))
	out, err := gtmhub(t, srv, "", "digest", "--date", now.Format(time.DateOnly), "--dry-run")
	if err != nil {
		t.Fatalf("digest --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"New leads: 1", "form: 1", "91  Ada via form"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := gtmhub(t, srv, "", "digest", "--date", "yesterday"); err == nil {
		t.Error("digest accepted a bad date")
	}
	if _, err := gtmhub(t, srv, "", "digest", "--date", now.AddDate(0, 0, -1).Format(time.DateOnly)); err == nil ||
		!strings.Contains(err.Error(), "smtp.host") {
		t.Errorf("digest without SMTP = %v, want it to name smtp.host", err)
	}
}
