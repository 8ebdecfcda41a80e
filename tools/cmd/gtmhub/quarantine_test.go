package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/ingest"
)

// TestQuarantineReplayExitStatus: `quarantine replay` fails, saying why,
// when a request's source cannot verify it (it is no longer configured, or
// its secret is missing), and succeeds when every request is published or
// still unverified.
func TestQuarantineReplayExitStatus(t *testing.T) {
	tests := []struct {
		source      string
		wantOutcome string
		wantErr     string
	}{
		{"form", ingest.ReplayPublished, ""},
		{"partner", ingest.ReplayUnready, "1 of 1 requests could not be verified: their source is not configured or not ready"},
		{"clay", ingest.ReplayUnready, "1 of 1 requests could not be verified: their source is not configured or not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			r := httptest.NewRequest("POST", "/webhooks/"+tt.source, strings.NewReader(`{"email":"ada@example.com"}`))
			r.Header.Set("Content-Type", "application/json")
			msg := ingest.QuarantineMsg(tt.source, r, []byte(`{"email":"ada@example.com"}`), "no secret configured yet", time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
			out, err := gtmhub(t, srv, "", "quarantine", "replay")
			if !strings.Contains(out, tt.wantOutcome) {
				t.Errorf("output %q, want the outcome %s", out, tt.wantOutcome)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("quarantine replay: %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("quarantine replay: %v, want an error saying %q", err, tt.wantErr)
			}
			if n := srv.Count(t, events.StreamQuarantine, ">"); (n == 0) != (tt.wantErr == "") {
				t.Errorf("%d left in quarantine", n)
			}
		})
	}
}

// TestQuarantineReplayNamesWhatIsMissing: sequences that are not in
// quarantine fail the command, each named; the rest is replayed.
func TestQuarantineReplayNamesWhatIsMissing(t *testing.T) {
	srv := eventstest.RunServer(t)
	r := httptest.NewRequest("POST", "/webhooks/form", strings.NewReader(`{"email":"ada@example.com"}`))
	r.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := srv.JS.PublishMsg(ctx, ingest.QuarantineMsg("form", r, []byte(`{"email":"ada@example.com"}`), "bad signature", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := gtmhub(t, srv, "", "quarantine", "replay", fmt.Sprint(ack.Sequence), "99", "98")
	if err == nil || !strings.Contains(err.Error(), "no request 99 in quarantine") || !strings.Contains(err.Error(), "no request 98 in quarantine") {
		t.Errorf("quarantine replay: %v, want both missing sequences named", err)
	}
	if !strings.Contains(out, ingest.ReplayPublished) {
		t.Errorf("output %q, want the one found published", out)
	}
}

func TestReplayProblems(t *testing.T) {
	unready := ingest.ReplayResult{Seq: 1, Source: "clay", Outcome: ingest.ReplayUnready, Error: `source "clay" is not ready: secret_env CLAY_SECRET is not set`}
	failed := ingest.ReplayResult{Seq: 2, Source: "form", Outcome: ingest.ReplayFailed, Error: "store unavailable"}
	unverified := ingest.ReplayResult{Seq: 3, Source: "clay", Outcome: ingest.ReplayUnverified}
	tests := []struct {
		name    string
		results []ingest.ReplayResult
		opts    ingest.ReplayOptions
		want    []string // in the error; none: no error
		notWant string
	}{
		{"all unready", []ingest.ReplayResult{unready, unready}, ingest.ReplayOptions{},
			[]string{"2 of 2 requests could not be verified"}, "verify but could not be published"},
		{"one of each", []ingest.ReplayResult{unready, failed, unverified}, ingest.ReplayOptions{},
			[]string{"1 of 3 requests could not be verified", "1 of 3 requests verify but could not be published"}, ""},
		{"unverified only", []ingest.ReplayResult{unverified}, ingest.ReplayOptions{}, nil, ""},
		{"missing of a source", []ingest.ReplayResult{unverified}, ingest.ReplayOptions{Source: "clay", Seqs: []uint64{3, 7, 7}},
			[]string{"no request 7 of source clay in quarantine"}, "no request 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replayProblems(tt.results, tt.opts)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("replayProblems = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("replayProblems = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("replayProblems = %v, want it to say %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("replayProblems = %v, want it not to say %q", err, tt.notWant)
			}
			if n := strings.Count(err.Error(), "no request 7"); n > 1 {
				t.Errorf("sequence 7 named %d times", n)
			}
		})
	}
}
