package ingest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/ingest/internal/payload"
	"github.com/gtmhub/gtmhub/services/ingest/internal/signature"
)

// source is a configured Source made ready to serve requests.
type source struct {
	Source
	verifier signature.Verifier
	mapper   *payload.LeadMapper // kind lead only
	limiter  *rate.Limiter       // nil when unlimited
	// quarantineLimiter bounds the failed requests stored in QUARANTINE.
	quarantineLimiter *rate.Limiter
	sender            sender
	// disabled says why an optional source cannot take requests yet.
	disabled string
	// defaultMaxBody says MaxBody is the default, not the operator's.
	defaultMaxBody bool
	// secretHeaders are the canonical names of the headers the scheme
	// treats as secret, redacted from raw events.
	secretHeaders map[string]bool
	ceSource      string
	allowFrom     allowList
}

// newSource applies the defaults to s, resolves its secrets and builds its
// verifier and mapper, returning every problem found.
func newSource(s Source, schemes *signature.Registry, lookupEnv func(string) (string, bool)) (*source, []error) {
	var errs []error
	if s.Kind == "" {
		s.Kind = KindLead
	}
	defaultMaxBody := s.MaxBody == 0
	if defaultMaxBody {
		s.MaxBody = DefaultMaxBody
	}
	if s.DeliveryIDHeaders == nil {
		s.DeliveryIDHeaders = DefaultDeliveryIDHeaders()
	}
	snd := senderOf(s.Scheme)
	if s.DeliveryIDField == "" {
		s.DeliveryIDField = snd.deliveryIDField
	}
	if s.TypeHeader == "" {
		s.TypeHeader = snd.typeHeader
	}
	if s.TypeField == "" {
		s.TypeField = cmp.Or(snd.typeField, DefaultTypeField)
	}
	if s.QuarantineRateLimit == 0 {
		s.QuarantineRateLimit = DefaultQuarantineRateLimit
	}
	if s.QuarantineBurst == 0 {
		s.QuarantineBurst = DefaultQuarantineBurst
	}
	src := &source{Source: s, sender: snd, ceSource: "/gtmhub/ingest/" + s.Name, secretHeaders: map[string]bool{},
		quarantineLimiter: rate.NewLimiter(rate.Limit(s.QuarantineRateLimit), s.QuarantineBurst),
		defaultMaxBody:    defaultMaxBody}
	verifier, disabled, err := newVerifier(s, schemes, lookupEnv)
	switch {
	case err != nil:
		errs = append(errs, err)
	case disabled != "":
		src.disabled = disabled
	default:
		src.verifier = verifier
		for _, h := range verifier.SecretHeaders() {
			src.secretHeaders[http.CanonicalHeaderKey(h)] = true
		}
	}
	switch s.Kind {
	case KindLead, KindRaw:
	default:
		errs = append(errs, fmt.Errorf("kind %q must be %s or %s", s.Kind, KindLead, KindRaw))
	}
	if s.FieldsAt != "" && slices.Contains(strings.Split(s.FieldsAt, "."), "") {
		errs = append(errs, fmt.Errorf("fields_at %q: empty path element", s.FieldsAt))
	}
	if s.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("max_body %d must be positive", s.MaxBody))
	}
	if s.RateLimit < 0 || math.IsNaN(s.RateLimit) || math.IsInf(s.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate_limit %v must be a positive number of requests per second, or 0 for none", s.RateLimit))
	}
	if s.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d must be positive", s.Burst))
	}
	if s.QuarantineRateLimit < 0 || math.IsNaN(s.QuarantineRateLimit) || math.IsInf(s.QuarantineRateLimit, 0) {
		errs = append(errs, fmt.Errorf("quarantine_rate_limit %v must be a positive number of requests per second", s.QuarantineRateLimit))
	}
	if s.QuarantineBurst < 0 {
		errs = append(errs, fmt.Errorf("quarantine_burst %d must be positive", s.QuarantineBurst))
	}
	if src.allowFrom, err = parseAllowList(s.AllowFrom); err != nil {
		errs = append(errs, err)
	}
	for _, h := range s.DeliveryIDHeaders {
		if strings.TrimSpace(h) == "" {
			errs = append(errs, errors.New("delivery_id_headers: empty header name"))
		}
	}

	if s.Kind == KindLead {
		m, err := payload.NewLeadMapper(s.Mapping, payload.FieldsAt(s.FieldsAt))
		if err != nil {
			errs = append(errs, err)
		}
		src.mapper = m
	} else {
		if len(s.Mapping) > 0 {
			errs = append(errs, fmt.Errorf("mapping applies to kind %s only", KindLead))
		}
		if s.FieldsAt != "" {
			errs = append(errs, fmt.Errorf("fields_at applies to kind %s only", KindLead))
		}
	}
	if s.RateLimit > 0 {
		burst := s.Burst
		if burst == 0 {
			burst = int(math.Ceil(s.RateLimit))
		}
		src.limiter = rate.NewLimiter(rate.Limit(s.RateLimit), burst)
	}

	if len(errs) > 0 {
		return nil, errs
	}
	return src, nil
}

// newVerifier resolves the source's secrets and builds its verifier. An
// optional source whose secret_env variables are all unset is disabled rather
// than an error; disabled then says why.
func newVerifier(s Source, schemes *signature.Registry, lookupEnv func(string) (string, bool)) (v signature.Verifier, disabled string, err error) {
	if _, ok := schemes.Lookup(s.Scheme); !ok {
		if s.Scheme == "" {
			return nil, "", fmt.Errorf("scheme is required (one of %s)", strings.Join(schemes.Names(), ", "))
		}
		return nil, "", fmt.Errorf("unknown scheme %q (one of %s)", s.Scheme, strings.Join(schemes.Names(), ", "))
	}
	secrets, unset, err := resolveSecrets(s.Secrets, lookupEnv)
	if err != nil {
		return nil, "", err
	}
	hint := ""
	if len(secrets) == 0 && len(unset) > 0 {
		hint = "set " + strings.Join(unset, " or ")
		if s.Optional {
			return nil, "no secret is configured: " + hint, nil
		}
	}
	v, err = schemes.New(s.Scheme, signature.Params{Header: s.Header, Secrets: secrets, Prefix: s.Prefix,
		Encoding: s.Encoding, Tolerance: s.Tolerance, PublicURL: s.PublicURL})
	if err != nil && hint != "" {
		return nil, "", fmt.Errorf("%w (%s)", err, hint)
	}
	return v, "", err
}

// resolveSecrets returns the secrets that have a value, and the environment
// variables that were named but are unset.
func resolveSecrets(secrets []Secret, lookupEnv func(string) (string, bool)) (values [][]byte, unset []string, err error) {
	var errs []error
	for i, s := range secrets {
		switch {
		case s.Value != "" && s.Env != "":
			errs = append(errs, fmt.Errorf("secrets[%d]: give value or secret_env, not both", i))
		case s.Value != "":
			values = append(values, []byte(s.Value))
		case s.Env != "":
			if v, ok := lookupEnv(s.Env); ok && v != "" {
				values = append(values, []byte(v))
			} else {
				unset = append(unset, s.Env)
			}
		default:
			errs = append(errs, fmt.Errorf("secrets[%d]: give value or secret_env", i))
		}
	}
	return values, unset, errors.Join(errs...)
}

// leadSubject is the subject of the source's leads.
func (s *source) leadSubject() string {
	return events.SubjectLeadsCaptured + "." + s.Name
}
