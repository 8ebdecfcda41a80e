package enrich

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/gtmhub/gtmhub/contracts"
)

// ScoringConfig is enrich.scoring in gtmhub.yaml: rules that add points to
// a lead's fit_score (how well the company and person match the ideal
// customer profile) and intent_score (how strongly the lead signals
// interest). Each score is the sum of the points of the rules that match,
// clamped to 0–100, and signal_score = round(intent*weights.intent +
// fit*weights.fit), also clamped.
//
// A rule's when is an expr-lang expression (https://expr-lang.org) over
// [Facts], compiled once at start. Setting fit or intent replaces the
// built-in rules of that list (see [DefaultScoring]).
//
// A lead from a source in TrustScoresFrom keeps the scores that source sent
// (a Clay table that computes its own, say): a fit_score or intent_score it
// sent replaces the one the rules give, and signal_score is the one it sent,
// or else the weighted sum of the final fit and intent. Leads from other
// sources are scored by the rules alone, so a public form cannot raise its
// own score. Default: clay; an empty list trusts no source.
type ScoringConfig struct {
	Weights         Weights  `yaml:"weights"`
	Fit             []Rule   `yaml:"fit"`
	Intent          []Rule   `yaml:"intent"`
	TrustScoresFrom []string `yaml:"trust_scores_from"`
}

// Weights weigh intent and fit in signal_score. Defaults 0.4 and 0.6.
type Weights struct {
	Intent float64 `yaml:"intent"`
	Fit    float64 `yaml:"fit"`
}

// Rule adds Points to a score when its When expression is true.
type Rule struct {
	// Name identifies the rule in errors; default "fit[i]" or "intent[i]".
	Name string `yaml:"name"`
	// When is a boolean expr-lang expression over [Facts], such as
	// `company.employees >= 50 && company.employees <= 5000`.
	When string `yaml:"when"`
	// Points may be negative.
	Points float64 `yaml:"points"`
}

// Facts are what scoring rules can see, by the names in their expr tags.
type Facts struct {
	Lead    LeadFacts    `expr:"lead"`
	Company CompanyFacts `expr:"company"`
	Email   EmailFacts   `expr:"email"`
	Signals SignalFacts  `expr:"signals"`
}

// LeadFacts are the normalized lead's fields and what normalization found.
type LeadFacts struct {
	Email      string `expr:"email"`
	Domain     string `expr:"domain"`
	Company    string `expr:"company"`
	Title      string `expr:"title"`
	Phone      string `expr:"phone"`
	Source     string `expr:"source"`
	FreeMail   bool   `expr:"free_mail"`   // the address is at a free-mail provider
	Disposable bool   `expr:"disposable"`  // the address is at a disposable-mail provider
	Role       bool   `expr:"role"`        // a role address such as sales@
	CompanyKey string `expr:"company_key"` // see [CompanyKey]
}

// CompanyFacts are what the company lookup found; Known is false when it
// found nothing, and the other fields are then zero.
type CompanyFacts struct {
	Known     bool   `expr:"known"`
	Name      string `expr:"name"`
	Domain    string `expr:"domain"`
	Industry  string `expr:"industry"`
	Employees int    `expr:"employees"`
	Country   string `expr:"country"`
}

// EmailFacts are the email verification's status ("" when none ran) and
// score.
type EmailFacts struct {
	Status string  `expr:"status"`
	Score  float64 `expr:"score"`
}

// SignalFacts are the lead's signals from the capture's attributes:
// form_type (attributes.form_type, else attributes.form), pages
// (attributes.pages, a list of paths, or attributes.page), source (the
// ingest source), and every attribute verbatim.
type SignalFacts struct {
	FormType   string         `expr:"form_type"`
	Pages      []string       `expr:"pages"`
	Source     string         `expr:"source"`
	Attributes map[string]any `expr:"attributes"`
}

// DefaultScoring returns the built-in rules: a B2B software profile of
// 50–5,000 employees in a few markets, decision-maker titles, demo and
// pricing interest.
func DefaultScoring() ScoringConfig {
	return ScoringConfig{
		Weights:         Weights{Intent: 0.4, Fit: 0.6},
		TrustScoresFrom: []string{"clay"},
		Fit: []Rule{
			{Name: "employees", When: `company.employees >= 50 && company.employees <= 5000`, Points: 35},
			{Name: "industry", When: `company.industry in ["Software", "Internet", "Information Technology and Services", "Computer Software"]`, Points: 25},
			{Name: "country", When: `company.country in ["US", "CA", "GB", "DE", "FR", "NL", "SE"]`, Points: 15},
			{Name: "title", When: `lead.title matches "(?i)\\b(chief|vp|vice president|head|director|founder|owner|ceo|cto|cro|cmo)\\b"`, Points: 25},
			{Name: "role_address", When: `lead.role`, Points: -20},
			{Name: "disposable", When: `lead.disposable`, Points: -50},
		},
		Intent: []Rule{
			{Name: "demo_form", When: `signals.form_type in ["demo", "demo_request", "trial"]`, Points: 50},
			{Name: "contact_form", When: `signals.form_type in ["contact", "contact_sales", "pricing"]`, Points: 30},
			{Name: "pricing_page", When: `any(signals.pages, # contains "pricing")`, Points: 25},
			{Name: "engaged", When: `len(signals.pages) >= 3`, Points: 10},
			{Name: "inbound", When: `signals.source in ["form", "website"]`, Points: 15},
		},
	}
}

// scorer holds the compiled rules.
type scorer struct {
	weights Weights
	fit     []compiledRule
	intent  []compiledRule
	trusted []string
}

type compiledRule struct {
	name    string
	program *vm.Program
	points  float64
}

// newScorer compiles every rule, reporting every problem at once to p.
func newScorer(c ScoringConfig, p interface{ Addf(string, ...any) }) *scorer {
	s := &scorer{weights: c.Weights, trusted: c.TrustScoresFrom}
	if c.Weights.Intent < 0 || c.Weights.Fit < 0 || c.Weights.Intent+c.Weights.Fit == 0 {
		p.Addf("enrich.scoring.weights: intent %g and fit %g must not be negative nor both zero", c.Weights.Intent, c.Weights.Fit)
	}
	s.fit = compileRules("fit", c.Fit, p)
	s.intent = compileRules("intent", c.Intent, p)
	return s
}

func compileRules(list string, rules []Rule, p interface{ Addf(string, ...any) }) []compiledRule {
	out := make([]compiledRule, 0, len(rules))
	for i, r := range rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("%s[%d]", list, i)
		}
		if strings.TrimSpace(r.When) == "" {
			p.Addf("enrich.scoring.%s %q: when is required", list, name)
			continue
		}
		prog, err := expr.Compile(r.When, expr.Env(Facts{}), expr.AsBool())
		if err != nil {
			p.Addf("enrich.scoring.%s %q: %v", list, name, err)
			continue
		}
		out = append(out, compiledRule{name: name, program: prog, points: r.Points})
	}
	return out
}

// Scores are a lead's three scores.
type Scores struct{ Fit, Intent, Signal float64 }

// score evaluates the rules on f. A rule that fails at run time counts as
// not matched and is returned in failed.
func (s *scorer) score(f Facts) (sc Scores, failed []error) {
	// One machine runs every rule, reusing its stack, on a pointer to f:
	// expr.Run would make a machine per rule and copy f into each call.
	var machine vm.VM
	env := &f
	sum := func(rules []compiledRule) float64 {
		var total float64
		for _, r := range rules {
			out, err := machine.Run(r.program, env)
			if err != nil {
				failed = append(failed, fmt.Errorf("rule %s: %w", r.name, err))
				continue
			}
			if ok, _ := out.(bool); ok {
				total += r.points
			}
		}
		return clampScore(total)
	}
	sc.Fit = sum(s.fit)
	sc.Intent = sum(s.intent)
	sc.Signal = s.signal(sc)
	return sc, failed
}

// signal is the weighted sum of sc's intent and fit, rounded and clamped.
func (s *scorer) signal(sc Scores) float64 {
	return clampScore(math.Round(sc.Intent*s.weights.Intent + sc.Fit*s.weights.Fit))
}

// keepSent gives a lead from a trusted source the scores it was sent with
// in place of the rules' (see [ScoringConfig]); other leads keep sc. The
// lead's source must also be the one whose subject it arrived on (from),
// which only that source's verified webhooks publish on.
func (s *scorer) keepSent(sc Scores, lead contracts.Lead, from string) Scores {
	if lead.Source != from || !slices.Contains(s.trusted, lead.Source) {
		return sc
	}
	if lead.FitScore != nil {
		sc.Fit = clampScore(*lead.FitScore)
	}
	if lead.IntentScore != nil {
		sc.Intent = clampScore(*lead.IntentScore)
	}
	sc.Signal = s.signal(sc)
	if lead.SignalScore != nil {
		sc.Signal = clampScore(*lead.SignalScore)
	}
	return sc
}

func clampScore(v float64) float64 { return min(max(v, 0), 100) }

// facts gathers what rules see about a normalized lead and its enrichment.
func facts(lead contracts.Lead, attrs map[string]any, e contracts.Enrichment, n Notes) Facts {
	f := Facts{
		Lead: LeadFacts{Email: lead.Email, Domain: lead.Domain, Company: lead.Company, Title: lead.Title,
			Phone: lead.Phone, Source: lead.Source, FreeMail: n.FreeMail, Disposable: n.Disposable,
			Role: n.Role, CompanyKey: CompanyKey(lead.Company)},
		Signals: SignalFacts{Source: lead.Source, Attributes: attrs, Pages: []string{}},
	}
	if f.Signals.Attributes == nil {
		f.Signals.Attributes = map[string]any{}
	}
	if c := e.Company; c != nil {
		f.Company = CompanyFacts{Known: true, Name: c.Name, Domain: c.Domain, Industry: c.Industry, Country: c.Country}
		if c.Employees != nil {
			f.Company.Employees = *c.Employees
		}
	}
	if v := e.EmailVerification; v != nil {
		f.Email.Status = v.Status
		if v.Score != nil {
			f.Email.Score = *v.Score
		}
	}
	for _, k := range []string{"form_type", "form"} {
		if s, ok := attrs[k].(string); ok && s != "" {
			f.Signals.FormType = strings.ToLower(strings.TrimSpace(s))
			break
		}
	}
	switch pages := attrs["pages"].(type) {
	case []any:
		for _, p := range pages {
			if s, ok := p.(string); ok {
				f.Signals.Pages = append(f.Signals.Pages, s)
			}
		}
	case string:
		f.Signals.Pages = append(f.Signals.Pages, pages)
	}
	if s, ok := attrs["page"].(string); ok && s != "" {
		f.Signals.Pages = append(f.Signals.Pages, s)
	}
	return f
}
