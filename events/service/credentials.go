package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// CredentialsBucket is the KV bucket where each service records, at start,
// the credentials it uses: under {service}.{name}, a fingerprint of the
// secret and when that fingerprint was first and last seen. A changed
// fingerprint is a rotation. `gtmhub status` rates each credential's age
// with [Credential.Rotation].
//
// The bucket never holds a secret. A fingerprint is the first 8 bytes of
// an HMAC-SHA256 of the secret under a random key made once per
// installation and kept in the bucket (under [FingerprintKey]): unlike a
// plain hash it cannot be looked up in a precomputed table, nor matched
// against another installation's, and a weak secret (an SMTP password, a
// hand-made shared secret) can only be guessed by someone who may read the
// bucket's key, which each service's NATS user may do beside its own
// entries only.
const CredentialsBucket = "credentials"

// FingerprintKey is the bucket key holding the installation's fingerprint
// key. It is not a credential, and [ListCredentials] skips it.
const FingerprintKey = "_fingerprint-key"

// DefaultRotateAfter is how old a credential may grow before it is overdue
// for rotation: 90 days, the end of the 60 to 90 days the integration hub's
// security policy asks for.
const DefaultRotateAfter = 90 * 24 * time.Hour

// Secret is a secret a service holds, to be recorded with
// [RecordCredentials]. Its value never leaves the process: it is printed,
// logged and marshalled as its name and origin only.
type Secret struct {
	// Name is the credential's name within its service, dotted lowercase
	// tokens such as "webhook.clay" or "provider.clearbit".
	Name string
	// Origin says where the secret comes from, for the operator who has to
	// rotate it: "env SLACK_WEBHOOK_URL", or "inline" for a value written
	// in gtmhub.yaml.
	Origin string
	// Value is the secret.
	Value string
}

// SecretFrom is the secret held in the environment variable env, or
// inline in the configuration when env is empty.
func SecretFrom(name, env, value string) Secret {
	origin := "inline"
	if env != "" {
		origin = "env " + env
	}
	return Secret{Name: name, Origin: origin, Value: value}
}

// String describes the secret without revealing it.
func (s Secret) String() string { return s.Name + " (" + s.Origin + ")" }

// GoString describes the secret without revealing it, for %#v.
func (s Secret) GoString() string { return "service.Secret{" + s.String() + "}" }

// LogValue keeps the secret out of logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the description, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Credential is what the credentials bucket knows of one secret.
type Credential struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	Origin  string `json:"origin,omitempty"`
	// Fingerprint tells one value of the secret from another, and nothing
	// else (see [CredentialsBucket]).
	Fingerprint string `json:"fingerprint"`
	// FirstSeen is when the service first started with this value: the
	// time of the last rotation, or of the first start that used it.
	FirstSeen time.Time `json:"first_seen"`
	// LastSeen is when the service last recorded this value: at its start,
	// and every [CredentialsRefresh] while it runs.
	LastSeen time.Time `json:"last_seen"`
}

// Key is the credential's key in [CredentialsBucket].
func (c Credential) Key() string { return c.Service + "." + c.Name }

// Age is how long the credential has had its current value at now.
func (c Credential) Age(now time.Time) time.Duration { return max(now.Sub(c.FirstSeen), 0) }

// Rotation rates the credential's age against rotateAfter (the
// [DefaultRotateAfter] when not positive): overdue from rotateAfter on, due
// soon from two thirds of it (60 days of 90), ok before.
func (c Credential) Rotation(now time.Time, rotateAfter time.Duration) Rotation {
	if rotateAfter <= 0 {
		rotateAfter = DefaultRotateAfter
	}
	switch age := c.Age(now); {
	case age >= rotateAfter:
		return RotationOverdue
	case age >= rotateAfter*2/3:
		return RotationDueSoon
	}
	return RotationOK
}

// Rotation says whether a credential is due for rotation.
type Rotation string

// Rotation states.
const (
	RotationOK      Rotation = "ok"
	RotationDueSoon Rotation = "due_soon"
	RotationOverdue Rotation = "overdue"
)

// RecordCredentials records that service holds secrets at now: a secret
// seen for the first time, or with a value other than the last recorded
// (a rotation), is first seen now; one seen again with the same value keeps
// its first sighting and is last seen now. It records every secret it can
// and returns every failure, naming the credentials but never their
// values. Secrets without a value are skipped.
func RecordCredentials(ctx context.Context, js jetstream.JetStream, service string, secrets []Secret, now time.Time) error {
	secrets = slices.DeleteFunc(slices.Clone(secrets), func(s Secret) bool { return s.Value == "" })
	if len(secrets) == 0 {
		return nil
	}
	kv, err := bucket(ctx, js, CredentialsBucket)
	if err != nil {
		return err
	}
	key, err := fingerprintKey(ctx, kv)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range secrets {
		c := Credential{Service: service, Name: s.Name, Origin: s.Origin, Fingerprint: fingerprint(key, s.Value),
			FirstSeen: now.UTC(), LastSeen: now.UTC()}
		if err := recordCredential(ctx, kv, c); err != nil {
			errs = append(errs, fmt.Errorf("credential %s: %w", c.Key(), err))
		}
	}
	return errors.Join(errs...)
}

// CredentialsRefresh is how often a running service records its secrets
// again, so that their last sighting stays within this of now while it
// runs.
const CredentialsRefresh = 6 * time.Hour

// RecordCredentials records the service's secrets as [RecordCredentials]
// does, logging a failure as a warning: the service runs without them.
func (r Resolved) RecordCredentials(ctx context.Context, service string, secrets []Secret) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := RecordCredentials(ctx, r.JS, service, secrets, time.Now()); err != nil {
		r.Logger.WarnContext(ctx, "record credentials: gtmhub status will not show their age", "err", err)
	}
}

// KeepCredentialsSeen records the service's secrets now, as
// [Resolved.RecordCredentials] does, and again every interval (the
// [CredentialsRefresh] when not positive) until ctx ends or the returned
// stop is called; stop returns once no recording runs. A credential a
// running service holds so never looks unused.
func (r Resolved) KeepCredentialsSeen(ctx context.Context, service string, secrets []Secret, interval time.Duration) (stop func()) {
	if interval <= 0 {
		interval = CredentialsRefresh
	}
	r.RecordCredentials(ctx, service, secrets)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Tick(ctx, interval, func(ctx context.Context) { r.RecordCredentials(ctx, service, secrets) })
	}()
	return func() { cancel(); <-done }
}

// recordCredential writes c, keeping the first sighting of an unchanged
// fingerprint; it retries when another instance wrote the key meanwhile.
func recordCredential(ctx context.Context, kv jetstream.KeyValue, c Credential) error {
	if !validCredentialKey(c.Key()) {
		return errors.New("not a valid key")
	}
	for attempt := 0; ; attempt++ {
		var rev uint64
		e, err := kv.Get(ctx, c.Key())
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			rev = e.Revision()
			var old Credential
			if json.Unmarshal(e.Value(), &old) == nil && old.Fingerprint == c.Fingerprint && !old.FirstSeen.IsZero() {
				c.FirstSeen = old.FirstSeen
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, c.Key(), b)
		} else {
			_, err = kv.Update(ctx, c.Key(), b, rev)
		}
		if err == nil || attempt == 2 || !events.KVConflict(err) {
			return err
		}
	}
}

// validCredentialKey reports whether key can name a credential: dotted
// tokens of KV key characters, none empty.
func validCredentialKey(key string) bool {
	for tok := range strings.SplitSeq(key, ".") {
		if tok == "" || strings.IndexFunc(tok, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '=' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) >= 0 {
			return false
		}
	}
	return !strings.HasPrefix(key, "_")
}

// fingerprintKey returns the installation's fingerprint key, making it if
// no service has yet.
func fingerprintKey(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	e, err := kv.Get(ctx, FingerprintKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		key := make([]byte, 32)
		_, _ = rand.Read(key) // never fails
		if _, err = kv.Create(ctx, FingerprintKey, []byte(hex.EncodeToString(key))); err == nil {
			return key, nil
		}
		if events.KVConflict(err) {
			e, err = kv.Get(ctx, FingerprintKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	key, err := hex.DecodeString(string(e.Value()))
	if err != nil || len(key) < 16 {
		return nil, errors.New("fingerprint key: not a key")
	}
	return key, nil
}

// fingerprint is the first 8 bytes of the HMAC-SHA256 of secret under key,
// in hex.
func fingerprint(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ErrNoCredential is returned by [ForgetCredential] for a credential no
// service recorded.
var ErrNoCredential = errors.New("no such credential (gtmhub credentials lists those recorded)")

// ForgetCredential removes the credential key, "service.name" as
// [Credential.Key] gives it, from the record: one no service uses any more,
// which would otherwise be rated, and alerted on, for ever. A service that
// still holds it records it again within [CredentialsRefresh], or at its
// next start, first seen then.
func ForgetCredential(ctx context.Context, js jetstream.JetStream, key string) error {
	if !validCredentialKey(key) || !strings.Contains(key, ".") {
		return fmt.Errorf("credential %q: want service.name, as gtmhub credentials lists it", key)
	}
	kv, err := js.KeyValue(ctx, CredentialsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("credential %s: %w", key, ErrNoCredential)
	}
	if err != nil {
		return fmt.Errorf("bucket %s: %w", CredentialsBucket, err)
	}
	if _, err := kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("credential %s: %w", key, ErrNoCredential)
	} else if err != nil {
		return fmt.Errorf("credential %s: %w", key, err)
	}
	if err := kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("forget credential %s: %w", key, err)
	}
	return nil
}

// ListCredentials returns every recorded credential, sorted by service and
// name.
func ListCredentials(ctx context.Context, js jetstream.JetStream) ([]Credential, error) {
	out, err := listJSON[Credential](ctx, js, CredentialsBucket)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Credential) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

// Days is a duration that YAML may give in days ("90d") as well as in Go's
// notation ("2160h").
type Days time.Duration

// UnmarshalText reads "90d", "2160h" or "1h30m".
func (d *Days) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return fmt.Errorf("duration %q: want days such as 90d, or hours such as 2160h", s)
		}
		*d = Days(days * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want days such as 90d, or hours such as 2160h", s)
	}
	*d = Days(v)
	return nil
}

// MarshalText writes whole days as "90d", other durations as Go does.
func (d Days) MarshalText() ([]byte, error) {
	if v := time.Duration(d); v%(24*time.Hour) == 0 && v != 0 {
		return []byte(strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(time.Duration(d).String()), nil
}

// CredentialsConfig is the credentials: section of gtmhub.yaml.
type CredentialsConfig struct {
	// RotateAfter is how old a credential may grow before it is overdue
	// for rotation, "90d" by default; it is due soon from two thirds of
	// it.
	RotateAfter Days `yaml:"rotate_after"`
}
