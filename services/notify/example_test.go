package notify_test

import (
	"fmt"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/notify"
)

func ExampleEngine_Evaluate() {
	engine, err := notify.NewEngine(notify.DefaultRules())
	if err != nil {
		panic(err)
	}
	for _, score := range []float64{90, 10} {
		matches, err := engine.Evaluate(notify.Input{
			ID:   "evt-1",
			Type: contracts.TypeContactCreated,
			Data: map[string]any{"contact": map[string]any{"email": "ada@example.com", "signal_score": score},
				"changes": []any{map[string]any{"field": "signal_score", "old": nil, "new": score}}},
		})
		if err != nil {
			panic(err)
		}
		for _, m := range matches {
			fmt.Printf("score %v: %s via %s to %s (dedupe %s)\n", score, m.Rule, m.Channel, m.Target, m.DedupeKey)
		}
	}
	// Output:
	// score 90: high-intent via slack to #high-intent (dedupe ada@example.com)
	// score 90: new-lead-nurture via email to ada@example.com (dedupe ada@example.com)
	// score 10: new-lead-nurture via email to ada@example.com (dedupe ada@example.com)
}

func ExampleConfig_Validate() {
	cfg := notify.DefaultConfig()
	cfg.Rules = []notify.Rule{
		{Name: "typo", On: []string{contracts.TypeContactUpdated}, When: "data.contact.signal_score >> 80",
			Action: contracts.ChannelSlack, Target: "#sales"},
		{Name: "sms", On: []string{contracts.TypeContactUpdated}, Action: "sms", Target: "#sales"},
	}
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration:
	// rules: rule "typo": when: unexpected token Operator(">") (1:28)
	//  | data.contact.signal_score >> 80
	//  | ...........................^
	// rules: rule "sms": action "sms": want slack, email, hubspot or airtable
}

func ExampleConfig_Channels() {
	cfg := notify.DefaultConfig()
	cfg.SMTP = notify.SMTP{Host: "smtp.example.com", From: "growth@example.com"}
	for _, c := range cfg.Channels() {
		if c.Ready {
			fmt.Printf("%s: ready for %v\n", c.Channel, c.Rules)
		} else {
			fmt.Printf("%s: %v inert: %s\n", c.Channel, c.Rules, c.Reason)
		}
	}
	// Output:
	// slack: [high-intent] inert: channel not configured: set slack.webhook_url in gtmhub.yaml
	// email: ready for [new-lead-nurture]
}
