package ingest

import (
	"fmt"

	"github.com/gtmhub/gtmhub/events/service"
)

// credentials are the secrets ingest holds: each source's webhook secrets
// and the bearer tokens of POST /events. A secret is named by its
// environment variable, which stays its name when another secret is added
// beside it for a rotation; an inline one by its place in the list.
func (c Config) credentials(lookupEnv func(string) (string, bool)) []service.Secret {
	var out []service.Secret
	for _, s := range c.Sources {
		out = append(out, secretsOf("webhook."+s.Name, s.Secrets, lookupEnv)...)
	}
	out = append(out, secretsOf("events.token", c.Events.Tokens, lookupEnv)...)
	if v, ok := lookupEnv(EventsTokenEnv); ok {
		out = append(out, service.SecretFrom("events.token."+EventsTokenEnv, EventsTokenEnv, v))
	}
	return out
}

// secretsOf names secrets under prefix and reads their values; those
// without one are recorded by nobody.
func secretsOf(prefix string, secrets []Secret, lookupEnv func(string) (string, bool)) []service.Secret {
	out := make([]service.Secret, 0, len(secrets))
	for i, s := range secrets {
		if s.Env != "" {
			v, _ := lookupEnv(s.Env)
			out = append(out, service.SecretFrom(prefix+"."+s.Env, s.Env, v))
			continue
		}
		out = append(out, service.SecretFrom(fmt.Sprintf("%s.inline-%d", prefix, i+1), "", s.Value))
	}
	return out
}
