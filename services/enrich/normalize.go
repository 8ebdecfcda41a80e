package enrich

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/publicsuffix"

	"github.com/gtmhub/gtmhub/contracts"
)

// Reason codes of a rejected lead.
const (
	CodeRequired      = "required"       // the field is missing or blank
	CodeInvalidFormat = "invalid_format" // the value is not of the field's form
	CodeMissingDomain = "missing_domain" // an email with nothing after the @
	CodeInvalidDomain = "invalid_domain" // an email whose domain is not a DNS host name
	CodeInvalidValue  = "invalid_value"  // the value breaks the enriched lead's contract
)

// maxEmailLen is the RFC 5321 limit the contracts also enforce.
const maxEmailLen = 254

//go:embed freemail.txt
var freeMailList string

// DefaultFreeMailDomains returns the built-in free-mail patterns: one domain
// each, or "name.*" for a provider that uses its name under many top-level
// domains.
func DefaultFreeMailDomains() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(freeMailList))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// FreeMail is a set of free-mail provider domains. An address at one of them
// says nothing about the lead's company. The zero value matches nothing.
type FreeMail struct {
	exact    map[string]struct{}
	families []string // "gmx." for the pattern "gmx.*"
}

// NewFreeMail compiles patterns: a domain such as "gmail.com", or "name.*",
// which matches name under any suffix ("gmx.*" matches gmx.de and gmx.co.uk).
// Patterns are case-insensitive; a malformed one is an error.
func NewFreeMail(patterns []string) (*FreeMail, error) {
	f := &FreeMail{exact: make(map[string]struct{}, len(patterns))}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if name, ok := strings.CutSuffix(p, ".*"); ok {
			if !validLabel(name) {
				return nil, fmt.Errorf("free-mail pattern %q: want a single label before .*", p)
			}
			f.families = append(f.families, name+".")
			continue
		}
		if !validHostname(p) {
			return nil, fmt.Errorf("free-mail pattern %q: want a domain such as gmail.com or a name.* pattern", p)
		}
		f.exact[p] = struct{}{}
	}
	return f, nil
}

// Contains reports whether domain, in lower case, is a free-mail domain.
func (f *FreeMail) Contains(domain string) bool {
	if f == nil {
		return false
	}
	if _, ok := f.exact[domain]; ok {
		return true
	}
	for _, fam := range f.families {
		if rest, ok := strings.CutPrefix(domain, fam); ok && validLabels(rest) {
			return true
		}
	}
	return false
}

// FieldError says why one lead field cannot be normalized. Its message never
// repeats the value, which may be personal data.
type FieldError struct {
	Field   string // the lead field, e.g. "email"
	Code    string // a stable snake_case code, e.g. invalid_format
	Message string // for people
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Reason returns the error as a reason of a rejected lead.
func (e *FieldError) Reason() contracts.Reason {
	return contracts.Reason{Field: e.Field, Code: e.Code, Message: e.Message}
}

// NormalizeEmail trims and lowercases raw and checks that it is a bare
// address (no display name, no angle brackets or comments) whose domain is a
// DNS host name. A failure is a *[FieldError].
func NormalizeEmail(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	invalid := func(code, msg string) (string, error) {
		return "", &FieldError{Field: "email", Code: code, Message: msg}
	}
	at := strings.LastIndexByte(s, '@')
	switch {
	case s == "":
		return invalid(CodeRequired, "email is required")
	case len(s) > maxEmailLen:
		return invalid(CodeInvalidFormat, fmt.Sprintf("email is longer than %d characters", maxEmailLen))
	case at < 0:
		return invalid(CodeInvalidFormat, "email has no @")
	case at == len(s)-1:
		return invalid(CodeMissingDomain, "email has no domain after the @")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return invalid(CodeInvalidFormat, "email is not a valid address")
	}
	if addr.Name != "" || addr.Address != s {
		return invalid(CodeInvalidFormat, "email must be a bare address such as ada@example.com, without a display name, brackets or comments")
	}
	if !validHostname(s[at+1:]) {
		return invalid(CodeInvalidDomain, "email domain is not a host name such as example.com")
	}
	return s, nil
}

// NormalizeDomain turns what a person typed as a company domain or website
// ("https://blog.Example.co.uk/about") into its registrable domain
// ("example.co.uk"), by the public suffix list. A failure, including a
// public suffix itself such as co.uk, is a *[FieldError].
func NormalizeDomain(raw string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(raw))
	if _, rest, ok := strings.Cut(d, "://"); ok {
		d = rest
	}
	d, _, _ = strings.Cut(d, "/")
	d = strings.TrimSuffix(d, ".")
	for strings.HasPrefix(d, "www.") {
		d = d[len("www."):]
	}
	if !validHostname(d) {
		return "", &FieldError{Field: "domain", Code: CodeInvalidFormat,
			Message: "domain is not a host name such as example.com"}
	}
	reg, err := RegistrableDomain(d)
	if err != nil {
		return "", &FieldError{Field: "domain", Code: CodeInvalidFormat,
			Message: "domain is a public suffix, not a company's domain"}
	}
	return reg, nil
}

// RegistrableDomain returns the part of the host name host that an
// organisation registers: its public suffix and one more label
// ("mail.example.co.uk" → "example.co.uk"). host must be lowercase.
func RegistrableDomain(host string) (string, error) {
	return publicsuffix.EffectiveTLDPlusOne(host)
}

// NormalizePhone returns raw in E.164 form ("+442071838750") when it is a
// valid number written in international form (with + or 00), else raw
// trimmed: a national number says nothing of its country.
func NormalizePhone(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return s
	}
	intl := s
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		intl = "+" + rest
	}
	n, err := phonenumbers.Parse(intl, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return s
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// Normalize returns l in canonical form, or every reason it cannot be:
//   - email trimmed, lowercased and checked by [NormalizeEmail];
//   - domain: the registrable domain of the email's, unless c finds the
//     email at a free-mail or disposable-mail provider
//     ([Notes.AtMailProvider]), in which case the domain or website the lead
//     gave (normalized by [NormalizeDomain]) or none;
//   - names, company (the display name; see [CompanyKey] for matching),
//     title and status trimmed;
//   - phone in E.164 form when [NormalizePhone] can tell, else trimmed;
//   - created_at in UTC, defaulting to capturedAt when the lead has none.
//
// Normalize is idempotent: normalizing its output again changes nothing.
func Normalize(l contracts.Lead, capturedAt time.Time, c *Classifier) (contracts.Lead, []contracts.Reason) {
	var reasons []contracts.Reason
	reject := func(err error) {
		if fe := (*FieldError)(nil); errors.As(err, &fe) {
			reasons = append(reasons, fe.Reason())
		}
	}

	email, err := NormalizeEmail(l.Email)
	reject(err)
	l.Email = email

	given := l.Domain
	l.Domain = ""
	switch {
	case email != "" && !c.Classify(email).AtMailProvider():
		l.Domain, _ = RegistrableDomain(email[strings.LastIndexByte(email, '@')+1:]) // none for an address at a public suffix
	case strings.TrimSpace(given) != "":
		d, err := NormalizeDomain(given)
		reject(err)
		l.Domain = d
	}

	for _, f := range []*string{&l.FirstName, &l.LastName, &l.Company, &l.Title, &l.Status} {
		*f = strings.TrimSpace(*f)
	}
	l.Phone = NormalizePhone(l.Phone)

	switch {
	case l.CreatedAt != nil:
		t := l.CreatedAt.UTC()
		l.CreatedAt = &t
	case !capturedAt.IsZero():
		t := capturedAt.UTC()
		l.CreatedAt = &t
	}

	if len(reasons) > 0 {
		return contracts.Lead{}, reasons
	}
	return l, nil
}

// validHostname reports whether d is a DNS host name of at least two ASCII
// labels, such as example.com.
func validHostname(d string) bool {
	return len(d) <= 253 && strings.Contains(d, ".") && validLabels(d)
}

// validLabels reports whether d is one or more dot-separated [validLabel]s.
func validLabels(d string) bool {
	for l := range strings.SplitSeq(d, ".") {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

// validLabel reports whether l is one lowercase DNS label: letters, digits
// and inner hyphens, at most 63 characters.
func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
