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

// pattern is a compiled pattern that remembers the values it matched
// lately. The values a contract checks against a pattern come again and
// again (sources, field names, and an event's time, which the provenance
// of every field it set repeats), and a map look-up costs a fraction of a
// match. Only matches are remembered, at most patternMemory of them.
type pattern struct {
	re   jsonschema.Regexp
	mu   sync.RWMutex
	seen map[string]struct{}
}

// patternMemory bounds what a pattern remembers; when full it forgets all.
const patternMemory = 1024

func newPattern(re jsonschema.Regexp) *pattern {
	return &pattern{re: re, seen: make(map[string]struct{})}
}

// match reports whether the pattern matches b.
func (p *pattern) match(b []byte) bool {
	p.mu.RLock()
	_, ok := p.seen[string(b)]
	p.mu.RUnlock()
	if ok {
		return true
	}
	if !matches(p.re, b) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) >= patternMemory {
		clear(p.seen)
	}
	p.seen[string(b)] = struct{}{}
	return true
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
