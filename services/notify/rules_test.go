package notify_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

func TestNewEngineListsEveryProblem(t *testing.T) {
	rules := []notify.Rule{
		{Name: "broken-when", On: []string{contracts.TypeContactCreated}, When: "data.contact.signal_score >",
			Action: contracts.ChannelSlack, Target: "#x"},
		{Name: "unknown-name", On: []string{contracts.TypeContactCreated}, When: "score > 80",
			Action: contracts.ChannelSlack, Target: "#x"},
		{Name: "not-bool", On: []string{contracts.TypeContactCreated}, When: `"yes"`,
			Action: contracts.ChannelEmail, Target: "{{.data.contact.email}}"},
		{Name: "bad-action", On: []string{"com.example.nope"}, Action: "sms", Target: "{{.data.contact.email"},
		{Name: "bad-action", Action: contracts.ChannelEmail, Target: "x@example.com", Dedupe: "{{if}}"},
		{On: []string{contracts.TypeContactCreated}, Action: contracts.ChannelSlack},
		{Name: "typo", On: []string{contracts.TypeContactCreated, contracts.TypeContactUpdated},
			When:   `data.contact?.signal_scor > 80 && data["contat"].email != "" && data.changes[0].field == "x"`,
			Action: contracts.ChannelEmail, Target: "{{.data.contact.emial}}", Dedupe: "{{.data.contact.email}}"},
	}
	_, err := notify.NewEngine(rules)
	if err == nil {
		t.Fatal("NewEngine compiled broken rules")
	}
	cfgErr := notify.Config{Rules: rules, DedupeWindow: time.Hour}.Validate()
	if cfgErr == nil {
		t.Fatal("Validate accepted broken rules")
	}
	for _, wantNone := range []string{"data.changes", "data.contact.email:"} {
		if strings.Contains(err.Error(), wantNone) {
			t.Errorf("NewEngine error names %s, which the contracts declare:\n%v", wantNone, err)
		}
	}
	for _, want := range []string{
		`rule "broken-when": when: unexpected token EOF`,
		`rule "unknown-name": when: unknown name score`,
		`rule "not-bool": when: expected bool`,
		`rule "bad-action": on: unknown event type "com.example.nope"`,
		`rule "bad-action": action "sms": want slack, email, hubspot or airtable`,
		`rule "bad-action": target: template`,
		`rule "bad-action": name is used by another rule`,
		`rule "bad-action": on: at least one event type is required`,
		`rule "bad-action": dedupe: template`,
		`rule "#6": name is required`,
		`rule "#6": target is required`,
		`rule "typo": data.contact.signal_scor: com.gtmhub.contact.created has no field "signal_scor" in contact; it has`,
		`rule "typo": data.contat.email: com.gtmhub.contact.created has no field "contat" in the data; it has changes, contact, provenance`,
		`rule "typo": data.contact.emial: com.gtmhub.contact.created has no field "emial"`,
	} {
		for name, err := range map[string]error{"NewEngine": err, "Validate": cfgErr} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error does not contain %q:\n%v", name, want, err)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := notify.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	cfg := notify.DefaultConfig()
	cfg.DedupeWindow = 0
	cfg.Slack.WebhookURL = "http://hooks.example.test/services/T000/B000/secret-token"
	cfg.SMTP.Templates = map[string]notify.EmailTemplate{
		"new-lead-nurture": {Subject: "Welcome", Text: "Hello"},
		"new-lead-nuture":  {Subject: "Welcome", Text: "Hello"},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a zero window, a plain-http webhook and a template for no rule")
	}
	if strings.Contains(err.Error(), `"new-lead-nurture"`) {
		t.Errorf("Validate refused the template of a rule: %v", err)
	}
	for _, want := range []string{"notify_dedupe_window must be positive", "slack.webhook_url must be an https URL",
		`smtp.templates["new-lead-nuture"]: no rule has that name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not contain %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("Validate error repeats the webhook URL: %v", err)
	}
}

func TestConfigFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := `
notify_replays: true
notify_dedupe_window: 2h
slack:
  webhook_url: https://hooks.example.test/services/x
rules:
  - name: big-company
    on: [com.gtmhub.company.created]
    when: (data.company?.employees ?? 0) >= 1000
    action: slack
    target: "#enterprise"
    dedupe: "{{.data.company.domain}}"
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := notify.DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	want := []notify.Rule{{Name: "big-company", On: []string{contracts.TypeCompanyCreated},
		When: "(data.company?.employees ?? 0) >= 1000", Action: contracts.ChannelSlack, Target: "#enterprise",
		Dedupe: "{{.data.company.domain}}"}}
	if !reflect.DeepEqual(cfg.Rules, want) || !cfg.NotifyReplays || cfg.DedupeWindow != 2*time.Hour ||
		cfg.Slack.WebhookURL == "" {
		t.Fatalf("loaded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if got := cfg.EffectiveRules(); !reflect.DeepEqual(got, want) {
		t.Errorf("EffectiveRules = %+v, want the declared rules only", got)
	}
	if got := notify.DefaultConfig().EffectiveRules(); !reflect.DeepEqual(got, notify.DefaultRules()) {
		t.Errorf("EffectiveRules without rules = %+v, want the defaults", got)
	}
}

// TestRuleKeysAreStrict: a misspelled key in a rule is an error naming it,
// not a rule without its condition.
func TestRuleKeysAreStrict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := `
unknown_to_notify: kept for another service
rules:
  - name: vip
    on: [com.gtmhub.contact.created]
    whn: "false"
    action: email
    target: "{{.data.contact.email}}"
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := notify.DefaultConfig()
	if err := service.LoadFile(path, &cfg); err == nil || !strings.Contains(err.Error(), `rule "vip": unknown field "whn"`) {
		t.Fatalf("LoadFile = %v, want an error naming the rule and whn", err)
	}
}

func contactData(email string, score any) map[string]any {
	return contactChange(email, nil, score)
}

// contactChange is a contact change's data whose signal score went from
// old to score.
func contactChange(email string, old, score any) map[string]any {
	contact := map[string]any{"email": email}
	changes := []any{map[string]any{"field": "email", "old": nil, "new": email}}
	if score != nil {
		contact["signal_score"] = score
		changes = append(changes, map[string]any{"field": "signal_score", "old": old, "new": score})
	}
	return map[string]any{"contact": contact, "changes": changes}
}

func TestEvaluateDefaultRules(t *testing.T) {
	engine, err := notify.NewEngine(notify.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   notify.Input
		want []notify.Match
	}{
		{
			name: "new high-intent contact",
			in:   notify.Input{ID: "e1", Type: contracts.TypeContactCreated, Data: contactData("ada@example.com", 90.0)},
			want: []notify.Match{
				{Rule: "high-intent", Channel: contracts.ChannelSlack, Target: "#high-intent", DedupeKey: "ada@example.com"},
				{Rule: "new-lead-nurture", Channel: contracts.ChannelEmail, Target: "ada@example.com", DedupeKey: "ada@example.com"},
			},
		},
		{
			name: "updated high-intent contact",
			in:   notify.Input{ID: "e2", Type: contracts.TypeContactUpdated, Data: contactData("ada@example.com", 80.5)},
			want: []notify.Match{{Rule: "high-intent", Channel: contracts.ChannelSlack, Target: "#high-intent", DedupeKey: "ada@example.com"}},
		},
		{
			name: "a contact that was high-intent already",
			in:   notify.Input{ID: "e7", Type: contracts.TypeContactUpdated, Data: contactChange("ada@example.com", 85.0, 90.0)},
		},
		{
			name: "a high-intent contact whose score did not change",
			in: notify.Input{ID: "e8", Type: contracts.TypeContactUpdated, Data: map[string]any{
				"contact": map[string]any{"email": "ada@example.com", "signal_score": 90.0, "title": "CTO"},
				"changes": []any{map[string]any{"field": "title", "old": nil, "new": "CTO"}}}},
		},
		{
			name: "a contact that became high-intent",
			in:   notify.Input{ID: "e9", Type: contracts.TypeContactUpdated, Data: contactChange("ada@example.com", 80.0, 81.0)},
			want: []notify.Match{{Rule: "high-intent", Channel: contracts.ChannelSlack, Target: "#high-intent", DedupeKey: "ada@example.com"}},
		},
		{
			name: "score of exactly 80 is not above 80",
			in:   notify.Input{ID: "e3", Type: contracts.TypeContactUpdated, Data: contactData("ada@example.com", 80.0)},
		},
		{
			name: "new low-intent contact",
			in:   notify.Input{ID: "e4", Type: contracts.TypeContactCreated, Data: contactData("bob@example.com", 10.0)},
			want: []notify.Match{{Rule: "new-lead-nurture", Channel: contracts.ChannelEmail, Target: "bob@example.com", DedupeKey: "bob@example.com"}},
		},
		{
			name: "new contact without a score",
			in:   notify.Input{ID: "e5", Type: contracts.TypeContactCreated, Data: contactData("bob@example.com", nil)},
			want: []notify.Match{{Rule: "new-lead-nurture", Channel: contracts.ChannelEmail, Target: "bob@example.com", DedupeKey: "bob@example.com"}},
		},
		{
			name: "company events fire no default rule",
			in:   notify.Input{ID: "e6", Type: contracts.TypeCompanyCreated, Data: map[string]any{"company": map[string]any{"domain": "example.com"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := engine.Evaluate(tt.in)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Evaluate =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestEvaluateErrorsAndKeys(t *testing.T) {
	engine, err := notify.NewEngine([]notify.Rule{
		{Name: "strict", On: []string{contracts.TypeContactUpdated}, When: "data.contact.signal_score > 80",
			Action: contracts.ChannelSlack, Target: "#strict"},
		{Name: "needs-title", On: []string{contracts.TypeContactUpdated}, Action: contracts.ChannelEmail,
			Target: "{{.data.contact.title}}"},
		{Name: "per-event", On: []string{contracts.TypeContactUpdated}, When: `subject startsWith "sha256:"`,
			Action: contracts.ChannelSlack, Target: "#all"},
		{Name: "long-key", On: []string{contracts.TypeContactUpdated}, Action: contracts.ChannelSlack,
			Target: "#all", Dedupe: strings.Repeat("k", 600)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.Evaluate(notify.Input{ID: "e7", Type: contracts.TypeContactUpdated, Subject: "sha256:ab",
		Data: contactData("ada@example.com", nil)})
	if err == nil || !strings.Contains(err.Error(), `rule "strict": when:`) || !strings.Contains(err.Error(), "?? default") ||
		!strings.Contains(err.Error(), `rule "needs-title": target:`) {
		t.Errorf("Evaluate error = %v, want the strict and needs-title rules named", err)
	}
	if len(got) != 2 || got[0].Rule != "per-event" || got[0].DedupeKey != "e7" || got[1].Rule != "long-key" ||
		!strings.HasPrefix(got[1].DedupeKey, "sha256:") || len(got[1].DedupeKey) > 512 {
		t.Errorf("Evaluate = %+v, want per-event keyed by the event id and long-key hashed", got)
	}
}

func TestDecisionID(t *testing.T) {
	a := notify.DecisionID("high-intent", "ada@example.com")
	if a != notify.DecisionID("high-intent", "ada@example.com") {
		t.Error("DecisionID is not deterministic")
	}
	if a == notify.DecisionID("new-lead-nurture", "ada@example.com") || a == notify.DecisionID("high-intent", "bob@example.com") {
		t.Error("DecisionID collides across rules or keys")
	}
}

func TestConfigSecretsFromEnv(t *testing.T) {
	cfg := notify.DefaultConfig()
	cfg.Slack.WebhookURLEnv = "GTMHUB_TEST_SLACK_WEBHOOK"
	cfg.Slack.WebhooksEnv = map[string]string{"#high-intent": "GTMHUB_TEST_SLACK_HIGH_INTENT"}
	cfg.Alerts.WebhookURLEnv = "GTMHUB_TEST_ALERTS_WEBHOOK"
	cfg.SMTP = notify.SMTP{Host: "smtp.example.com", From: "a@example.com", Username: "u", PasswordEnv: "GTMHUB_TEST_SMTP_PASSWORD"}
	err := cfg.Validate()
	for _, want := range []string{"slack.webhook_url_env: GTMHUB_TEST_SLACK_WEBHOOK is not set", "smtp.password_env: GTMHUB_TEST_SMTP_PASSWORD is not set",
		`slack.webhooks_env["#high-intent"]: GTMHUB_TEST_SLACK_HIGH_INTENT is not set`, "alerts.webhook_url_env: GTMHUB_TEST_ALERTS_WEBHOOK is not set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
	t.Setenv("GTMHUB_TEST_SLACK_WEBHOOK", "https://hooks.slack.com/services/T/B/secret")
	t.Setenv("GTMHUB_TEST_SLACK_HIGH_INTENT", "https://hooks.slack.com/services/T/C/secret")
	t.Setenv("GTMHUB_TEST_ALERTS_WEBHOOK", "https://hooks.slack.com/services/T/D/secret")
	t.Setenv("GTMHUB_TEST_SMTP_PASSWORD", "pw")
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with the variables set = %v", err)
	}
	if ch := cfg.Channels(); !ch[0].Ready || !ch[1].Ready {
		t.Errorf("channels %+v, want both ready", ch)
	}
	for _, name := range []string{"GTMHUB_TEST_SLACK_WEBHOOK", "GTMHUB_TEST_SLACK_HIGH_INTENT", "GTMHUB_TEST_ALERTS_WEBHOOK"} {
		t.Run(name+" not https", func(t *testing.T) {
			t.Setenv(name, "http://hooks.slack.com/services/T/X/secret")
			if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate = %v, want an error without the URL", err)
			}
		})
	}
}
