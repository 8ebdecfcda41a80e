package store

import (
	"net/url"

	"github.com/gtmhub/gtmhub/events/service"
)

// databaseURLEnv is the variable the binaries read DatabaseURL from.
const databaseURLEnv = "GTMHUB_DATABASE_URL"

// credentials are the secrets the store holds: the PostgreSQL password in
// DatabaseURL, if it has one.
func (c Config) credentials(getenv func(string) string) []service.Secret {
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || u.User == nil {
		return nil
	}
	password, ok := u.User.Password()
	if !ok {
		return nil
	}
	env := ""
	if getenv(databaseURLEnv) == c.DatabaseURL {
		env = databaseURLEnv
	}
	return []service.Secret{service.SecretFrom("database.password", env, password)}
}
