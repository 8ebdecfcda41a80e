package events

import (
	"regexp"
	"strings"
)

// secretPatterns match credentials that can end up in an error message: query
// parameters and key=value pairs named like secrets, bearer tokens, Slack
// webhook paths, URL user-info (a password, or a lone token as NATS URLs
// carry one) and whsec_ keys.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)((?:api[_-]?key|apikey|token|secret|password|passwd|pwd|signature|auth|authorization|access[_-]?key|client[_-]?secret)["']?\s*[=:]\s*["']?)([^\s&"',;}]+)`),
	regexp.MustCompile(`(?i)(bearer\s+)([a-z0-9._~+/=-]+)`),
	regexp.MustCompile(`(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)([^\s"']+)`),
	regexp.MustCompile(`(://[^/\s:@]+:)([^/\s]+)(@)`), // to the authority's last @: a password may hold one
	regexp.MustCompile(`(://)([^/\s:@\[]+)(@)`),
	regexp.MustCompile(`(whsec_)([A-Za-z0-9+/=]+)`),
	regexp.MustCompile(`(xox[abposr]-)([A-Za-z0-9-]+)`),
}

// Redact replaces credentials in s with "[REDACTED]". It is applied to every
// error recorded in a dead letter and is safe to use on log messages.
func Redact(s string) string {
	for _, re := range secretPatterns {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			if v := strings.ToLower(sub[2]); v == "bearer" || v == "basic" || v == "[redacted]" {
				return m // the scheme, not the secret: the bearer pattern takes the token
			}
			out := sub[1] + "[REDACTED]"
			if len(sub) > 3 {
				out += strings.Join(sub[3:], "")
			}
			return out
		})
	}
	return s
}

// emailPattern matches an email address, ASCII or internationalized. Its
// local part leaves out '/', '=', '?' and '#', rare in addresses and common
// around them in URLs.
var emailPattern = regexp.MustCompile(`[\p{L}\p{N}.!$%&'*+^_{|}~-]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+`)

// MaskEmails replaces every email address in s with "[EMAIL]". Logs apply it
// to what they write at info level and above, where personal data does not
// belong: an SMTP server's refusal, say, names the recipient. The user
// information of a URL (postgres://gtmhub:xxxxx@db:5432) is not an address
// and is left to [Redact].
func MaskEmails(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range emailPattern.FindAllStringIndex(s, -1) {
		if inURLAuthority(s[:m[0]]) {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString("[EMAIL]")
		last = m[1]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// inURLAuthority reports whether the text that follows before is a URL's
// user information: before ends with "scheme://" and, at most, a user name
// and a colon.
func inURLAuthority(before string) bool {
	i := strings.LastIndex(before, "://")
	if i < 0 {
		return false
	}
	for _, r := range before[i+3:] {
		if !userinfoRune(r) {
			return false
		}
	}
	return true
}

// userinfoRune reports whether r may be in a URL's user information (RFC
// 3986: unreserved, percent-encoded, sub-delims but quote and comma, and
// ':'), as it is written before an '@'.
func userinfoRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-._~%!$&()*+;=:", r)
}
