package ingest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Setenv("CLAY_WEBHOOK_SECRET", "")
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8080" || cfg.MaxInFlight != 1024 {
		t.Errorf("defaults: %+v", cfg)
	}
	names := cfg.sourceNames()
	if names != "clay,form" {
		t.Errorf("default sources = %s", names)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	t.Setenv("UNSET_SECRET_FOR_TEST", "")
	cfg := Config{
		HTTPAddr:        "no-port",
		MaxInFlight:     0,
		PublishTimeout:  time.Second,
		ShutdownTimeout: time.Second,
		MaxEventBody:    1,
		Sources: []Source{
			{Name: "Bad.Name", Scheme: "none"},
			{Name: "ok", Scheme: "hmac-sha999"},
			{Name: "ok", Scheme: "none"},
			{Name: "clay", Scheme: "shared-secret", Secrets: []Secret{{Env: "UNSET_SECRET_FOR_TEST"}}},
			{Name: "nosecret", Scheme: "shared-secret"},
			{Name: "both", Scheme: "shared-secret", Secrets: []Secret{{Value: "a", Env: "B"}}},
			{Name: "form", Scheme: "none", Mapping: map[string]string{"E-mail": "emial"}, Kind: "lead"},
			{Name: "weird", Scheme: "none", Kind: "pdf", MaxBody: -1, RateLimit: -1},
			{Name: "raw", Scheme: "none", Kind: KindRaw, Mapping: map[string]string{"a": "email"}, FieldsAt: "data"},
			{Name: "nested", Scheme: "none", FieldsAt: "row_data..x"},
			{Name: "noscheme"},
			{Name: "signed-form", Scheme: "none", Secrets: []Secret{{Value: "s"}}},
			{Name: strings.Repeat("x", 65), Scheme: "none"},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, want := range []string{
		`http_addr "no-port"`,
		"max_in_flight 0",
		`name "Bad.Name" must be a subject token`,
		`unknown scheme "hmac-sha999"`,
		`source "ok": declared more than once`,
		`source "clay": scheme shared-secret: at least one secret is required (set UNSET_SECRET_FOR_TEST)`,
		`source "nosecret": scheme shared-secret: at least one secret is required`,
		`source "both": secrets[0]: give value or secret_env, not both`,
		`unknown lead field "emial"`,
		`kind "pdf"`,
		"max_body -1",
		"rate_limit -1",
		`source "raw": mapping applies to kind lead only`,
		`source "raw": fields_at applies to kind lead only`,
		`source "nested": fields_at "row_data..x": empty path element`,
		`source "noscheme": scheme is required`,
		`source "signed-form": scheme none: takes no secrets`,
		"name is longer than 64 characters",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() does not report %q in:\n%v", want, err)
		}
	}
}

func TestValidateSecretFromEnvironment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sources = []Source{{Name: "clay", Scheme: "shared-secret", Secrets: []Secret{{Env: "TEST_CLAY_SECRET"}}}}
	t.Setenv("TEST_CLAY_SECRET", "")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "TEST_CLAY_SECRET") {
		t.Fatalf("unset secret_env: Validate() = %v", err)
	}
	t.Setenv("TEST_CLAY_SECRET", "s3cret")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("set secret_env: Validate() = %v", err)
	}
}

func TestLoadFileReplacesDefaultSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := `
http_addr: 127.0.0.1:9090
max_in_flight: 16
publish_timeout: 3s
sources:
  - name: typeform
    scheme: shared-secret
    header: X-Typeform-Secret
    secrets:
      - value: inline-secret
    mapping:
      "Your email": email
    rate_limit: 5
    delivery_id_headers: []
  - name: stripe
    scheme: none
    kind: raw
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9090" || cfg.MaxInFlight != 16 || cfg.PublishTimeout != 3*time.Second ||
		cfg.ShutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("config = %+v", cfg)
	}
	if got := cfg.sourceNames(); got != "stripe,typeform" {
		t.Fatalf("sources = %s, want the file's only", got)
	}
	b, problems := cfg.build(os.LookupEnv)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	srcs := b.sources
	tf := srcs[0]
	if tf.Header != "X-Typeform-Secret" || tf.MaxBody != DefaultMaxBody || tf.Kind != KindLead ||
		tf.limiter == nil || len(tf.DeliveryIDHeaders) != 0 || tf.DeliveryIDHeaders == nil {
		t.Errorf("typeform = %+v", tf.Source)
	}
	if st := srcs[1]; st.TypeField != DefaultTypeField || len(st.DeliveryIDHeaders) == 0 {
		t.Errorf("stripe = %+v", st.Source)
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	s := Secret{Value: "hunter2"}
	var b strings.Builder
	src := Source{Name: "clay", Scheme: "shared-secret", Secrets: []Secret{s}}
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "secret", s, "sources", []Source{src})
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "secret", s, "source", src)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %+v %#v", s, []Secret{s}, s, src, src), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret revealed: %s", out)
		}
	}
}

func TestLoadFileSignedSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := `
sources:
  - name: hubspot
    scheme: hubspot-v3
    kind: raw
    public_url: https://hooks.example.com
    tolerance: 2m
    secrets:
      - secret_env: TEST_HUBSPOT_SECRET
  - name: clay
    scheme: hmac-sha256
    header: X-Clay-Signature
    prefix: "sha256="
    encoding: base64
    quarantine_rate_limit: 2
    quarantine_burst: 4
    secrets:
      - value: old
      - value: new
  - name: typeform
    scheme: standard-webhooks
    kind: raw
    delivery_id_field: event_id
    secrets:
      - value: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_HUBSPOT_SECRET", "client-secret")
	cfg := DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	b, problems := cfg.build(os.LookupEnv)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	srcs := b.sources
	hs, clay, tf := srcs[0], srcs[1], srcs[2]
	if hs.PublicURL != "https://hooks.example.com" || hs.Tolerance != 2*time.Minute || hs.DeliveryIDField != "eventId" ||
		hs.TypeField != "subscriptionType" || hs.QuarantineRateLimit != DefaultQuarantineRateLimit {
		t.Errorf("hubspot = %+v", hs.Source)
	}
	if clay.Prefix != "sha256=" || clay.Encoding != "base64" || clay.QuarantineRateLimit != 2 || clay.QuarantineBurst != 4 {
		t.Errorf("clay = %+v", clay.Source)
	}
	if tf.DeliveryIDField != "event_id" {
		t.Errorf("typeform = %+v", tf.Source)
	}
}

func TestValidateSignedSources(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sources = []Source{
		{Name: "hubspot", Scheme: "hubspot-v3", Secrets: []Secret{{Value: "s"}}},
		{Name: "github", Scheme: "github", Header: "X-Other", Secrets: []Secret{{Value: "s"}}},
		{Name: "slack", Scheme: "slack", Tolerance: -time.Second, Secrets: []Secret{{Value: "s"}}},
		{Name: "hmac", Scheme: "hmac-sha256", Encoding: "base32", Secrets: []Secret{{Value: "s"}}},
		{Name: "airtable", Scheme: "airtable", Secrets: []Secret{{Value: "not base64!"}}},
		{Name: "flood", Scheme: "none", QuarantineRateLimit: -1, QuarantineBurst: -1},
		{Name: "events", Scheme: "none"},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, want := range []string{
		`source "hubspot": scheme hubspot-v3: public_url is required`,
		`source "github": scheme github: takes no header setting`,
		`source "slack": scheme slack: tolerance -1s must be positive`,
		`source "hmac": scheme hmac-sha256: encoding "base32"`,
		`source "airtable": scheme airtable: secret 1: not base64`,
		`source "flood": quarantine_rate_limit -1`,
		`source "flood": quarantine_burst -1`,
		`source "events": name "events" is reserved`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() does not report %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "not base64!") {
		t.Errorf("Validate() quotes a secret: %v", err)
	}
}
