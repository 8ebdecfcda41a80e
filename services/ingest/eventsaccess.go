package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
)

// EventsTokenEnv names the environment variable whose value, when set, is
// accepted as a bearer token of POST /events besides events.tokens, so that
// a deployment configured by environment alone can open it.
const EventsTokenEnv = "GTMHUB_EVENTS_TOKEN"

// EventsConfig says who may post to POST /events, and which event types.
type EventsConfig struct {
	// Tokens are the bearer tokens POST /events accepts, sent as
	// "Authorization: Bearer <token>"; any one matches, so a new token can
	// be added before the old one is removed. The value of EventsTokenEnv
	// (GTMHUB_EVENTS_TOKEN), when set, is accepted too. A token whose
	// secret_env is unset is a configuration error. With no token, POST
	// /events is open only while ingest listens on a loopback address (the
	// default 127.0.0.1:8080 of gtmhub up); listening on any other address
	// it answers every request 403 until a token is set.
	Tokens []Secret `yaml:"tokens"`
	// Types are the types of the contracts catalog POST /events accepts;
	// unset means [DefaultEventTypes], the types ingest itself publishes.
	// A catalog type not listed is answered 403, since a
	// com.gtmhub.lead.enriched or com.gtmhub.contact.created posted here
	// would skip enrichment. Types outside the com.gtmhub catalog (other
	// producers' events, stored on gtm.raw.events.{type}) are accepted
	// without being listed. In the deploy/ cluster, ingest's NATS user may
	// publish only the subjects of the default types.
	//
	// Whatever the types, an event whose {source} subject token names a
	// configured source that guards its requests (any scheme but none, or
	// allow_from) is answered 403: that source's events come through
	// /webhooks/{source}.
	Types []string `yaml:"types"`
}

// DefaultEventTypes are the catalog types POST /events accepts unless
// events.types says otherwise: those ingest itself publishes.
func DefaultEventTypes() []string {
	return []string{contracts.TypeLeadCaptured, contracts.TypeWebhookReceived}
}

// eventsAccess decides who may post to POST /events, and what.
type eventsAccess struct {
	// tokens are the SHA-256 digests of the accepted tokens, compared in
	// constant time whatever their length.
	tokens [][sha256.Size]byte
	// closed, when set, is why every request is refused: no token, and a
	// listener that others than this host can reach.
	closed string
	// types are the catalog types accepted.
	types map[string]bool
	// verified are the sources that guard their requests: a scheme that
	// verifies them, or allow_from.
	verified map[string]bool
}

// newEventsAccess builds the access rules of c for a listener on httpAddr
// serving sources, returning every problem found.
func newEventsAccess(c EventsConfig, httpAddr string, sources []Source, lookupEnv func(string) (string, bool)) (*eventsAccess, []error) {
	var errs []error
	a := &eventsAccess{types: map[string]bool{}, verified: map[string]bool{}}
	values, unset, err := resolveSecrets(c.Tokens, lookupEnv)
	if err != nil {
		errs = append(errs, fmt.Errorf("events.tokens: %w", err))
	}
	for _, name := range unset {
		errs = append(errs, fmt.Errorf("events.tokens: secret_env %s is unset", name))
	}
	if v, ok := lookupEnv(EventsTokenEnv); ok && v != "" {
		values = append(values, []byte(v))
	}
	for _, v := range values {
		a.tokens = append(a.tokens, sha256.Sum256(v))
	}
	if len(a.tokens) == 0 && !loopbackOnly(httpAddr) {
		a.closed = "POST /events is closed: ingest listens beyond this host and no token is configured; " +
			"set events.tokens in gtmhub.yaml (or " + EventsTokenEnv + ")"
	}
	types := c.Types
	if types == nil {
		types = DefaultEventTypes()
	}
	for _, t := range types {
		if _, ok := contracts.Lookup(t); !ok {
			errs = append(errs, fmt.Errorf("events.types: %q is not a type of the contracts catalog (see gtmhub contracts); "+
				"other producers' types are accepted without being listed", t))
			continue
		}
		a.types[t] = true
	}
	for _, s := range sources {
		// A source guarded by a signature or by the networks it takes
		// requests from is one /events must not speak for.
		if s.Scheme != "" && s.Scheme != "none" || len(s.AllowFrom) > 0 {
			a.verified[s.Name] = true
		}
	}
	return a, errs
}

// loopbackOnly reports whether a listener on addr is reachable from this
// host alone: its host is a loopback IP or localhost. An empty or
// unspecified host (all interfaces), any other name, or an address that
// does not parse is not.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorize checks the request's bearer token: 401 without an accepted
// one, 403 when /events is closed. The token is never repeated.
func (a *eventsAccess) authorize(header http.Header) error {
	if len(a.tokens) == 0 {
		if a.closed != "" {
			return &apiError{Status: http.StatusForbidden, Message: a.closed}
		}
		return nil
	}
	token, ok := bearerToken(header.Get("Authorization"))
	if !ok {
		return &apiError{Status: http.StatusUnauthorized, Authenticate: "Bearer",
			Message: "POST /events needs a token: send Authorization: Bearer <token>"}
	}
	if !a.accepts(token) {
		return &apiError{Status: http.StatusUnauthorized, Authenticate: "Bearer",
			Message: "the bearer token is not accepted"}
	}
	return nil
}

// accepts compares token with every accepted token in constant time.
func (a *eventsAccess) accepts(token string) bool {
	sum := sha256.Sum256([]byte(token))
	match := 0
	for _, t := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

// bearerToken reads the token of an "Authorization: Bearer <token>" value;
// the scheme's name is case-insensitive.
func bearerToken(v string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// allowEvent refuses a catalog event that /events does not take: a type not
// in events.types, or an event of a source that verifies its requests.
func (a *eventsAccess) allowEvent(entry contracts.Entry, ev *event.Event, data map[string]any) error {
	if !a.types[entry.Type] {
		return &apiError{Status: http.StatusForbidden,
			Message: fmt.Sprintf("type %s is not accepted at POST /events: list it in events.types", entry.Type)}
	}
	if !strings.Contains(entry.Subject, "{source}") {
		return nil
	}
	if src := subjectToken("source", ev, data); a.verified[src] {
		return &apiError{Status: http.StatusForbidden,
			Message: fmt.Sprintf("source %s is verified: post to /webhooks/%s", src, src)}
	}
	return nil
}
