package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestRecordCredentials: a first sighting records first_seen; the same
// secret again keeps it and moves last_seen; a rotated secret starts again.
func TestRecordCredentials(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	day := func(n int) time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	steps := []struct {
		name            string
		value           string
		at              time.Time
		first, last     time.Time
		sameFingerprint bool // as the step before
	}{
		{"first registration", "xoxb-first-secret", day(0), day(0), day(0), false},
		{"same secret again", "xoxb-first-secret", day(10), day(0), day(10), true},
		{"rotated secret", "xoxb-second-secret", day(20), day(20), day(20), false},
		{"rotated secret again", "xoxb-second-secret", day(30), day(20), day(30), true},
	}
	var before string
	for _, st := range steps {
		secret := service.SecretFrom("webhook.slack", "SLACK_WEBHOOK_URL", st.value)
		if err := service.RecordCredentials(ctx, srv.JS, "notify", []service.Secret{secret}, st.at); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := service.ListCredentials(ctx, srv.JS)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: ListCredentials = %v, %v", st.name, got, err)
		}
		c := got[0]
		if c.Service != "notify" || c.Name != "webhook.slack" || c.Origin != "env SLACK_WEBHOOK_URL" {
			t.Errorf("%s: credential %+v", st.name, c)
		}
		if !c.FirstSeen.Equal(st.first) || !c.LastSeen.Equal(st.last) {
			t.Errorf("%s: first seen %s, last seen %s; want %s, %s", st.name, c.FirstSeen, c.LastSeen, st.first, st.last)
		}
		if len(c.Fingerprint) != 16 || (c.Fingerprint == before) != st.sameFingerprint {
			t.Errorf("%s: fingerprint %q after %q", st.name, c.Fingerprint, before)
		}
		before = c.Fingerprint
	}
}

// TestRecordCredentialsKeepsSecretsOut: neither the bucket's raw values nor
// a plain SHA-256 of a secret give it away, services are kept apart, and a
// secret without a value is not recorded.
func TestRecordCredentialsKeepsSecretsOut(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	secrets := []service.Secret{
		service.SecretFrom("provider.clearbit", "CLEARBIT_API_KEY", "sk_live_clearbit_0123456789"),
		service.SecretFrom("smtp.password", "", "hunter2-password"),
		service.SecretFrom("provider.hunter", "HUNTER_API_KEY", ""),
	}
	if err := service.RecordCredentials(ctx, srv.JS, "enrich", secrets[:1], time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := service.RecordCredentials(ctx, srv.JS, "notify", secrets[1:], time.Now()); err != nil {
		t.Fatal(err)
	}
	kv, err := srv.JS.KeyValue(ctx, service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[_fingerprint-key enrich.provider.clearbit notify.smtp.password]"; fmt.Sprint(keys) != want {
		t.Errorf("keys %v, want %s", keys, want)
	}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets[:2] {
			if bytes.Contains(e.Value(), []byte(s.Value)) {
				t.Errorf("%s holds the secret of %s: %s", k, s.Name, e.Value())
			}
		}
	}
	got, err := service.ListCredentials(ctx, srv.JS)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListCredentials = %v, %v", got, err)
	}
	if got[1].Origin != "inline" || got[0].Fingerprint == got[1].Fingerprint {
		t.Errorf("credentials %+v", got)
	}

	// Printing or logging a secret shows its name and origin only.
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("secret", "s", secrets[0], "all", secrets)
	b, _ := json.Marshal(secrets)
	out.Write(b)
	fmt.Fprintf(&out, "%v %+v %#v %s", secrets[0], secrets, secrets[0], secrets[0])
	if strings.Contains(out.String(), secrets[0].Value) || !strings.Contains(out.String(), "CLEARBIT_API_KEY") {
		t.Errorf("printed: %s", out.String())
	}
}

// TestRecordCredentialsRejectsBadNames: a name that cannot be a key is an
// error naming it, and the others are still recorded.
func TestRecordCredentialsRejectsBadNames(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	err := service.RecordCredentials(ctx, srv.JS, "ingest", []service.Secret{
		{Name: "webhook.a b", Value: "s3cret-a"}, {Name: "webhook.ok", Value: "s3cret-b"}}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "ingest.webhook.a b") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v", err)
	}
	if got, err := service.ListCredentials(ctx, srv.JS); err != nil || len(got) != 1 || got[0].Name != "webhook.ok" {
		t.Errorf("ListCredentials = %v, %v", got, err)
	}
}

func TestCredentialRotation(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	days := func(n float64) time.Time { return now.Add(-time.Duration(n * float64(24*time.Hour))) }
	tests := []struct {
		firstSeen   time.Time
		rotateAfter time.Duration
		want        service.Rotation
	}{
		{now, 0, service.RotationOK},
		{days(59.9), 0, service.RotationOK},
		{days(60), 0, service.RotationDueSoon},
		{days(89.9), 0, service.RotationDueSoon},
		{days(90), 0, service.RotationOverdue},
		{days(400), 0, service.RotationOverdue},
		{now.Add(time.Hour), 0, service.RotationOK}, // a clock behind another's
		{days(20), 30 * 24 * time.Hour, service.RotationDueSoon},
		{days(30), 30 * 24 * time.Hour, service.RotationOverdue},
		{days(70), 180 * 24 * time.Hour, service.RotationOK},
	}
	for _, tt := range tests {
		c := service.Credential{FirstSeen: tt.firstSeen}
		if got := c.Rotation(now, tt.rotateAfter); got != tt.want {
			t.Errorf("age %s of %s: %s, want %s", c.Age(now), tt.rotateAfter, got, tt.want)
		}
	}
}

func TestCredentialsConfig(t *testing.T) {
	tests := []struct {
		yaml string
		want time.Duration
		err  bool
	}{
		{"rotate_after: 90d", 90 * 24 * time.Hour, false},
		{"rotate_after: 1.5d", 36 * time.Hour, false},
		{"rotate_after: 2160h", 90 * 24 * time.Hour, false},
		{"rotate_after: ninety", 0, true},
		{"rotate_after: xd", 0, true},
	}
	for _, tt := range tests {
		var cfg service.CredentialsConfig
		err := yaml.Unmarshal([]byte(tt.yaml), &cfg)
		if (err != nil) != tt.err || time.Duration(cfg.RotateAfter) != tt.want {
			t.Errorf("%s: %v, %v; want %v (error %v)", tt.yaml, time.Duration(cfg.RotateAfter), err, tt.want, tt.err)
		}
	}
	if b, _ := service.Days(60 * 24 * time.Hour).MarshalText(); string(b) != "60d" {
		t.Errorf("60 days marshalled as %s", b)
	}
}

// TestForgetCredential: a forgotten credential is no longer listed and the
// others are kept; forgetting one nobody recorded, or a name that is not a
// credential's, is an error that says so; recorded again, it is first seen
// anew.
func TestForgetCredential(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	day0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if err := service.ForgetCredential(ctx, srv.JS, "enrich.clearbit.key"); !errors.Is(err, service.ErrNoCredential) {
		t.Errorf("before any was recorded: %v, want ErrNoCredential", err)
	}
	secrets := []service.Secret{service.SecretFrom("clearbit.key", "CLEARBIT_API_KEY", "ck-1"), service.SecretFrom("hunter.key", "", "hk-1")}
	if err := service.RecordCredentials(ctx, srv.JS, "enrich", secrets, day0); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key      string
		wantErr  string // "" for forgotten
		wantLeft []string
	}{
		{"enrich.clearbit.key", "", []string{"enrich.hunter.key"}},
		{"enrich.clearbit.key", "no such credential", []string{"enrich.hunter.key"}},
		{"enrich.nothing", "no such credential", []string{"enrich.hunter.key"}},
		{"_fingerprint", "want service.name", []string{"enrich.hunter.key"}},
		{"enrich", "want service.name", []string{"enrich.hunter.key"}},
		{"enrich.hunter.key", "", nil},
	} {
		err := service.ForgetCredential(ctx, srv.JS, tt.key)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("forget %q: %v, want %q", tt.key, err, tt.wantErr)
		}
		if tt.wantErr == "no such credential" && !errors.Is(err, service.ErrNoCredential) {
			t.Errorf("forget %q: %v is not ErrNoCredential", tt.key, err)
		}
		got, err := service.ListCredentials(ctx, srv.JS)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, c := range got {
			left = append(left, c.Key())
		}
		if !slices.Equal(left, tt.wantLeft) {
			t.Errorf("after forgetting %q: %v left, want %v", tt.key, left, tt.wantLeft)
		}
	}
	if err := service.RecordCredentials(ctx, srv.JS, "enrich", secrets[:1], day0.AddDate(0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	got, err := service.ListCredentials(ctx, srv.JS)
	if err != nil || len(got) != 1 || !got[0].FirstSeen.Equal(day0.AddDate(0, 0, 5)) {
		t.Errorf("recorded again: %+v, %v; want first seen anew", got, err)
	}
}

// TestKeepCredentialsSeen: a running service records its secrets at once
// and again every interval, so their last sighting follows the clock while
// the first stays; after stop nothing more is written.
func TestKeepCredentialsSeen(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	r, closeFn, err := service.Deps{Conn: srv.Conn}.Resolve(ctx, "", "store")
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	secret := service.SecretFrom("database_url", "GTMHUB_DATABASE_URL", "postgres://gtmhub:s3cret@db/gtmhub")
	read := func() service.Credential {
		t.Helper()
		got, err := service.ListCredentials(ctx, srv.JS)
		if err != nil || len(got) != 1 {
			t.Fatalf("ListCredentials = %v, %v", got, err)
		}
		return got[0]
	}

	stop := r.KeepCredentialsSeen(ctx, "store", []service.Secret{secret}, 30*time.Millisecond)
	first := read() // recorded before KeepCredentialsSeen returned
	deadline := time.Now().Add(5 * time.Second)
	for read().LastSeen.Equal(first.LastSeen) {
		if time.Now().After(deadline) {
			t.Fatalf("last seen still %s after 5 s", first.LastSeen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c := read(); !c.FirstSeen.Equal(first.FirstSeen) || !c.LastSeen.After(first.LastSeen) {
		t.Errorf("refreshed: first seen %s, last seen %s; want first seen kept at %s, last seen after %s",
			c.FirstSeen, c.LastSeen, first.FirstSeen, first.LastSeen)
	}

	stop()
	stopped := read()
	time.Sleep(150 * time.Millisecond)
	if c := read(); !c.LastSeen.Equal(stopped.LastSeen) {
		t.Errorf("recorded again after stop: last seen %s, was %s", c.LastSeen, stopped.LastSeen)
	}
}
