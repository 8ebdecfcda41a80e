package contracts

import (
	"fmt"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Two checks the plan makes for most members of an event read the value's
// bytes in place where the library would first copy them to a string: a
// pattern, when the library compiled it with Go's regexp (its default
// engine), and a date-time that is plainly valid. Anything else goes to
// the library as before, so the verdicts are the library's.

// bytesMatcher is a compiled pattern that can read bytes, as Go's
// *regexp.Regexp can.
type bytesMatcher interface {
	Match(b []byte) bool
}

// matches reports whether re matches b.
func matches(re jsonschema.Regexp, b []byte) bool {
	if m, ok := re.(bytesMatcher); ok {
		return m.Match(b)
	}
	return re.MatchString(string(b))
}

// accepted remembers the values a check accepted lately. The values a
// contract checks against a pattern or a string format come again and again
// (sources, field names, an event's time, which the provenance of every
// field it set repeats, a contact's email and domain), and a map look-up
// costs a fraction of a match or of the library's format checker. Only what
// was accepted is remembered, at most acceptedMemory values of at most
// acceptedLength bytes; when full it forgets them all.
type accepted struct {
	mu   sync.RWMutex
	seen map[string]struct{}
}

// acceptedMemory bounds how many values one check remembers, and
// acceptedLength which: the values that come again are short (names, ids,
// times, emails), and a long one, which a schema may well accept (a time
// with a thousand fraction digits), is not held.
const (
	acceptedMemory = 1024
	acceptedLength = 256
)

func newAccepted() *accepted { return &accepted{seen: make(map[string]struct{})} }

// check reports whether ok accepts b, asking it only for a value not
// accepted lately.
func (a *accepted) check(b []byte, ok func([]byte) bool) bool {
	a.mu.RLock()
	_, seen := a.seen[string(b)]
	a.mu.RUnlock()
	if seen {
		return true
	}
	if !ok(b) {
		return false
	}
	if len(b) > acceptedLength {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) >= acceptedMemory {
		clear(a.seen)
	}
	a.seen[string(b)] = struct{}{}
	return true
}

// pattern is a compiled pattern that remembers the values it matched.
type pattern struct {
	re jsonschema.Regexp
	*accepted
}

func newPattern(re jsonschema.Regexp) *pattern { return &pattern{re: re, accepted: newAccepted()} }

// match reports whether the pattern matches b.
func (p *pattern) match(b []byte) bool {
	return p.check(b, func(b []byte) bool { return matches(p.re, b) })
}

// plainDateTime reports whether b is an RFC 3339 date-time that the
// library's date-time format accepts: yyyy-mm-ddThh:mm:ss, an optional
// fraction and Z or a ±hh:mm offset, every field in range and no leap
// second. It returns false for what it does not judge (a leap second, for
// one), which the library then checks.
func plainDateTime(b []byte) bool {
	const minLen = len("2006-01-02T15:04:05Z")
	if len(b) < minLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' && b[10] != 't' ||
		b[13] != ':' || b[16] != ':' {
		return false
	}
	year, okY := digits(b[0:4])
	month, okM := digits(b[5:7])
	day, okD := digits(b[8:10])
	hour, okH := digits(b[11:13])
	minute, okMin := digits(b[14:16])
	sec, okS := digits(b[17:19])
	if !okY || !okM || !okD || !okH || !okMin || !okS ||
		month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return false
	}
	return plainZone(skipFraction(b[19:]))
}

// skipFraction returns rest without a leading '.' and the digits after it,
// or rest unchanged when the '.' has no digit after it (the zone check then
// fails on it).
func skipFraction(rest []byte) []byte {
	if len(rest) < 2 || rest[0] != '.' {
		return rest
	}
	i := 1
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 1 {
		return rest
	}
	return rest[i:]
}

// plainZone reports whether zone is Z, z or an offset ±hh:mm in range.
func plainZone(zone []byte) bool {
	if len(zone) == 1 {
		return zone[0] == 'Z' || zone[0] == 'z'
	}
	if len(zone) != 6 || zone[0] != '+' && zone[0] != '-' || zone[3] != ':' {
		return false
	}
	h, okH := digits(zone[1:3])
	m, okM := digits(zone[4:6])
	return okH && okM && h <= 23 && m <= 59
}

// digits returns the number b spells in decimal digits only.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of month in year.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// formatUTCTimestamp names the format of a date-time that stays within the
// years 0000 to 9999 once converted to UTC: Go's time.Time, and RFC 3339
// itself, cannot write a year outside them, so a consumer that normalizes
// "9999-12-31T23:59:59-01:00" to UTC could not encode it again.
const formatUTCTimestamp = "utc-timestamp"

// validateUTCTimestamp checks a string that has already passed date-time
// and the timestamp pattern. Years 0001 to 9998 are in range whatever the
// offset; only the first and last years are converted to tell.
func validateUTCTimestamp(v any) error {
	s, ok := v.(string)
	if !ok || len(s) < 4 {
		return nil
	}
	if year, ok := digits([]byte(s[:4])); !ok || year > 0 && year < 9999 {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil // not a date-time: the format and the pattern say so
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("falls in the year %d in UTC, outside 0000 to 9999", y)
	}
	return nil
}
