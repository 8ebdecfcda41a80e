package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/goccy/go-yaml"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// maxDedupeKey is the contract's limit on a notification's dedupe_key;
// longer keys are replaced by their hash.
const maxDedupeKey = 512

// Rule says when to notify whom. A user declares rules under rules: in
// gtmhub.yaml:
//
//	rules:
//	  - name: high-intent
//	    on: [com.gtmhub.contact.created, com.gtmhub.contact.updated]
//	    when: (data.contact?.signal_score ?? 0) > 80
//	    action: slack
//	    target: "#high-intent"
//	    dedupe: "{{.data.contact.email}}"
type Rule struct {
	// Name identifies the rule in decisions and metrics: lowercase letters,
	// digits, '_' and '-'.
	Name string `yaml:"name"`
	// On lists the event types the rule looks at.
	On []string `yaml:"on"`
	// When is an expr-lang expression over id, type, subject and data (the
	// event's decoded JSON). Empty means every event of the types in On.
	When string `yaml:"when"`
	// Action is the channel to notify on: slack or email, or hubspot or
	// airtable to write the contact there (contact events only).
	Action contracts.Channel `yaml:"action"`
	// Target is a text/template over the same values giving where to send:
	// a Slack channel, or an email address such as {{.data.contact.email}}.
	// For airtable it names a table other than airtable.table; hubspot
	// takes none.
	Target string `yaml:"target"`
	// Dedupe is a text/template giving the dedupe key: one notification per
	// rule and key within the dedupe window. Empty means the event id,
	// which is the only key hubspot and airtable rules take: every change
	// is written once.
	Dedupe string `yaml:"dedupe"`
}

// UnmarshalYAML reads a rule strictly: a key it does not know (whn: for
// when:) is an error. Elsewhere in gtmhub.yaml an unknown key is another
// service's, but a rule that silently lost its condition would notify on
// every event.
func (r *Rule) UnmarshalYAML(b []byte) error {
	type plain Rule
	err := yaml.UnmarshalWithOptions(b, (*plain)(r), yaml.DisallowUnknownField())
	if err == nil {
		return nil
	}
	// The position is within the rule, not the file: name the rule instead.
	var loose plain
	_ = yaml.Unmarshal(b, &loose)
	msg := yaml.FormatError(err, false, false)
	if _, rest, ok := strings.Cut(msg, "] "); ok && strings.HasPrefix(msg, "[") {
		msg = rest
	}
	return fmt.Errorf("rule %q: %s", loose.Name, msg)
}

// DefaultRules are the rules used when gtmhub.yaml declares none: Slack
// #high-intent for contacts whose signal score rises above 80, and a
// nurture email to every new contact.
func DefaultRules() []Rule {
	return []Rule{
		{
			Name: "high-intent",
			On:   []string{contracts.TypeContactCreated, contracts.TypeContactUpdated},
			// When the contact becomes high-intent: a score above 80 that
			// was 80 or less (or none) before this change, so that a hot
			// contact's every later update does not post it again.
			When:   `(data.contact?.signal_score ?? 0) > 80 && any(data.changes ?? [], .field == "signal_score" && (.old ?? 0) <= 80)`,
			Action: contracts.ChannelSlack,
			Target: "#high-intent",
			Dedupe: "{{.data.contact.email}}",
		},
		{
			Name:   "new-lead-nurture",
			On:     []string{contracts.TypeContactCreated},
			Action: contracts.ChannelEmail,
			Target: "{{.data.contact.email}}",
			Dedupe: "{{.data.contact.email}}",
		},
	}
}

// Input is what rules are evaluated against: one event.
type Input struct {
	ID      string
	Type    string
	Subject string
	// Data is the event's data decoded from JSON.
	Data map[string]any
}

// env is the variables expressions and templates see.
func (in Input) env() map[string]any {
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	return map[string]any{"id": in.ID, "type": in.Type, "subject": in.Subject, "data": data}
}

// Match is one rule that fires for an input.
type Match struct {
	Rule      string
	Channel   contracts.Channel
	Target    string
	DedupeKey string
}

// Engine evaluates a fixed set of rules, compiled once.
type Engine struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	on     map[string]bool
	when   *vm.Program // nil: always
	target *template.Template
	dedupe *template.Template
}

// NewEngine compiles rules. The error lists every problem with every rule.
func NewEngine(rules []Rule) (*Engine, error) {
	compiled, errs := compileRules(rules)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Engine{rules: compiled}, nil
}

// Len returns the number of rules.
func (e *Engine) Len() int { return len(e.rules) }

// Evaluate returns the rules that fire for in, in declaration order. A rule
// that cannot be evaluated (its expression fails on this data, a template
// refers to a missing field) is left out and reported in the error; the
// other rules' matches are still returned.
func (e *Engine) Evaluate(in Input) ([]Match, error) {
	env := in.env()
	var (
		matches []Match
		errs    []error
		machine vm.VM // runs every rule's expression, reusing its stack
	)
	for _, r := range e.rules {
		m, ok, err := r.evaluate(&machine, in, env)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("rule %q: %w", r.Name, err))
		case ok:
			matches = append(matches, m)
		}
	}
	return matches, errors.Join(errs...)
}

func (r compiledRule) evaluate(machine *vm.VM, in Input, env map[string]any) (Match, bool, error) {
	if !r.on[in.Type] {
		return Match{}, false, nil
	}
	if r.when != nil {
		out, err := machine.Run(r.when, env)
		if err != nil && strings.Contains(err.Error(), "<nil>") {
			return Match{}, false, fmt.Errorf("when: %w (a field it reads has no value in this event: "+
				"write data.contact?.field ?? default for a field that may be missing)", err)
		}
		if err != nil {
			return Match{}, false, fmt.Errorf("when: %w", err)
		}
		if fire, _ := out.(bool); !fire {
			return Match{}, false, nil
		}
	}
	target, err := execute(r.target, env)
	if err != nil {
		return Match{}, false, fmt.Errorf("target: %w", err)
	}
	key, err := execute(r.dedupe, env)
	switch {
	case err != nil:
		return Match{}, false, fmt.Errorf("dedupe: %w", err)
	case key == "":
		return Match{}, false, errors.New("dedupe: the key is empty")
	case len(key) > maxDedupeKey:
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return Match{Rule: r.Name, Channel: r.Action, Target: target, DedupeKey: key}, true, nil
}

// crmRuleProblems lists what a hubspot or airtable rule may not say.
func crmRuleProblems(r Rule) []string {
	var out []string
	for _, typ := range r.On {
		if typ != contracts.TypeContactCreated && typ != contracts.TypeContactUpdated {
			out = append(out, fmt.Sprintf("on: %s writes contacts: want %s or %s, not %s",
				r.Action, contracts.TypeContactCreated, contracts.TypeContactUpdated, typ))
		}
	}
	if strings.TrimSpace(r.Dedupe) != "" {
		out = append(out, fmt.Sprintf("dedupe: %s writes every change once, by its event id: leave dedupe out", r.Action))
	}
	if r.Action == contracts.ChannelHubSpot && strings.TrimSpace(r.Target) != "" {
		out = append(out, "target: hubspot takes none")
	}
	return out
}

func execute(t *template.Template, env map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	if err := t.Execute(&b, env); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// compileRules compiles every rule and returns every problem found.
func compileRules(rules []Rule) ([]compiledRule, []error) {
	var errs []error
	seen := make(map[string]bool, len(rules))
	out := make([]compiledRule, 0, len(rules))
	for i, r := range rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		problem := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("rule %q: %s", name, fmt.Sprintf(format, args...)))
		}
		switch {
		case r.Name == "":
			problem("name is required")
		case !events.ValidToken(r.Name):
			problem("name must be at most %d lowercase letters, digits, '_' or '-'", events.MaxTokenLen)
		case seen[r.Name]:
			problem("name is used by another rule")
		}
		seen[r.Name] = true

		c := compiledRule{Rule: r, on: make(map[string]bool, len(r.On))}
		if len(r.On) == 0 {
			problem("on: at least one event type is required")
		}
		for _, typ := range r.On {
			if _, ok := contracts.Lookup(typ); !ok {
				problem("on: unknown event type %q", typ)
			}
			c.on[typ] = true
		}
		crm := r.Action == contracts.ChannelHubSpot || r.Action == contracts.ChannelAirtable
		if !crm && r.Action != contracts.ChannelSlack && r.Action != contracts.ChannelEmail {
			problem("action %q: want slack, email, hubspot or airtable", r.Action)
		}
		if crm {
			for _, p := range crmRuleProblems(r) {
				problem("%s", p)
			}
		}
		if strings.TrimSpace(r.When) != "" {
			p, err := expr.Compile(r.When, expr.Env(Input{}.env()), expr.AsBool())
			if err != nil {
				problem("when: %v", err)
			}
			c.when = p
		}
		var err error
		switch {
		case strings.TrimSpace(r.Target) == "" && !crm:
			problem("target is required: a Slack channel or an email address template")
		case strings.TrimSpace(r.Target) == "":
		default:
			if c.target, err = parseTemplate("target", r.Target); err != nil {
				problem("%v", err)
			}
		}
		dedupe := r.Dedupe
		if strings.TrimSpace(dedupe) == "" {
			dedupe = "{{.id}}"
		}
		if c.dedupe, err = parseTemplate("dedupe", dedupe); err != nil {
			problem("%v", err)
		}
		for _, err := range checkFields(r.On, c.when, c.target, c.dedupe) {
			problem("%v", err)
		}
		out = append(out, c)
	}
	return out, errs
}

func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}
