package contracts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// dateTimeCases are RFC 3339 edges: what plainDateTime must accept, and
// what it must leave to the library (want false) though the library may
// accept it.
var dateTimeCases = []struct {
	in   string
	want bool
}{
	{"2025-11-20T09:14:03Z", true},
	{"2025-11-20t09:14:03z", true},
	{"2025-11-20T09:14:03.123456789Z", true},
	{"2025-11-20T09:14:03.5+01:00", true},
	{"2025-11-20T23:59:59-23:59", true},
	{"2024-02-29T00:00:00Z", true},
	{"0000-01-01T00:00:00Z", true},
	{"2025-02-29T00:00:00Z", false},
	{"2025-04-31T00:00:00Z", false},
	{"2025-13-01T00:00:00Z", false},
	{"2025-00-10T00:00:00Z", false},
	{"2025-01-00T00:00:00Z", false},
	{"2025-11-20T24:00:00Z", false},
	{"2025-11-20T09:60:00Z", false},
	{"2016-12-31T23:59:60Z", false}, // a leap second: the library judges it
	{"2025-11-20T09:14:03.Z", false},
	{"2025-11-20T09:14:03.", false},
	{"2025-11-20T09:14:03", false},
	{"2025-11-20T09:14:03+0100", false},
	{"2025-11-20T09:14:03+24:00", false},
	{"2025-11-20T09:14:03+01:60", false},
	{"2025-11-20 09:14:03Z", false},
	{"2025-11-20T+9:14:03Z", false},
	{"2025-11-20T09:14:03Zx", false},
	{"+025-11-20T09:14:03Z", false},
	{"2025-1-20T09:14:03Z", false},
	{"", false},
}

// TestPlainDateTime checks the date-time fast path against the table and,
// for every case, against the library: what the fast path accepts, the
// library's date-time format accepts too.
func TestPlainDateTime(t *testing.T) {
	format := dateTimeSchema(t)
	for _, tt := range dateTimeCases {
		t.Run(tt.in, func(t *testing.T) {
			got := plainDateTime([]byte(tt.in))
			if got != tt.want {
				t.Errorf("plainDateTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err := format.Validate(tt.in); got && err != nil {
				t.Errorf("plainDateTime accepts %q, the library does not: %v", tt.in, err)
			}
		})
	}
}

// FuzzPlainDateTime checks that the fast path never accepts what the
// library's date-time format rejects.
func FuzzPlainDateTime(f *testing.F) {
	for _, tt := range dateTimeCases {
		f.Add(tt.in)
	}
	format := dateTimeSchema(f)
	f.Fuzz(func(t *testing.T, in string) {
		if plainDateTime([]byte(in)) {
			if err := format.Validate(in); err != nil {
				t.Errorf("plainDateTime accepts %q, the library does not: %v", in, err)
			}
		}
	})
}

func dateTimeSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("dt.json", map[string]any{"format": "date-time"}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("dt.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMatches checks that a pattern gives the same answer on bytes as the
// library's regexp does on the string, whichever engine compiled it.
func TestMatches(t *testing.T) {
	re := regexp.MustCompile(`^[a-z]+@[a-z.]+$`)
	engines := map[string]jsonschema.Regexp{"go regexp": re, "string only": stringOnly{re}}
	for name, engine := range engines {
		for _, in := range []string{"ada@example.com", "Ada@example.com", "", "a@b", "\xff@x"} {
			if got, want := matches(engine, []byte(in)), re.MatchString(in); got != want {
				t.Errorf("%s: matches(%q) = %v, want %v", name, in, got, want)
			}
		}
	}
}

// stringOnly is an engine's regexp that matches strings only.
type stringOnly struct{ re *regexp.Regexp }

func (s stringOnly) MatchString(in string) bool { return s.re.MatchString(in) }
func (s stringOnly) String() string             { return s.re.String() }

// TestPatternRemembersOnlyMatches: a pattern's memory of the values it
// matched never makes another value match, stays within acceptedMemory, and
// holds under concurrent checks.
func TestPatternRemembersOnlyMatches(t *testing.T) {
	p := newPattern(regexp.MustCompile(`^[a-z][a-z0-9_]{0,3}$`))
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"abc", true}, {"abc", true}, {"abcde", false}, {"Abc", false}, {"", false},
		{"a_1", true}, {"1ab", false}, {"abc\n", false}, {"abc", true},
	} {
		if got := p.match([]byte(tt.value)); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
	if _, ok := p.seen["abcde"]; ok || len(p.seen) != 2 {
		t.Errorf("remembered %v, want only abc and a_1", p.seen)
	}

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2 * acceptedMemory {
				v := fmt.Sprintf("v%03d", (i*7+w)%1000)
				if !p.match([]byte(v)) || p.match([]byte(v+"x")) {
					t.Errorf("%q or %q judged wrong", v, v+"x")
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(p.seen); n > acceptedMemory {
		t.Errorf("remembers %d values, want at most %d", n, acceptedMemory)
	}

	// A long value is judged, and judged again, but not held.
	long := newPattern(regexp.MustCompile(`^[a-z]+$`))
	for range 2 {
		if !long.match([]byte(strings.Repeat("a", acceptedLength+1))) || !long.match([]byte("short")) {
			t.Error("a long or a short value did not match")
		}
	}
	if _, held := long.seen[strings.Repeat("a", acceptedLength+1)]; held || len(long.seen) != 1 {
		t.Errorf("remembers %d values, the long one %v; want only the short one", len(long.seen), held)
	}
}

// TestAcceptedFormatsStayChecked: a string a format accepted is answered
// from memory, and one it refused is checked, and refused, every time,
// however the two alternate.
func TestAcceptedFormatsStayChecked(t *testing.T) {
	raw := string(example(t, TypeLeadCaptured))
	for i, tt := range []struct {
		email, created string
		ok             bool
	}{
		{"ada@example.com", "2025-11-20T09:14:03Z", true},
		{"ada@@example.com", "2025-11-20T09:14:03Z", false},
		{"ada@example.com", "2025-11-20T09:14:03Z", true},
		{"ada@@example.com", "2025-11-20T09:14:03Z", false},
		{"ada@example.com", "2025-11-20T09:14:03", false}, // no offset: not a utc-timestamp
		{"ada@example.com", "2025-11-20T09:14:03Z", true},
		{"ada@example.com", "2025-11-20T09:14:03", false},
	} {
		doc := strings.Replace(strings.Replace(raw, `"ada@example.com"`, strconv.Quote(tt.email), 1),
			`"2025-11-20T09:14:03Z"`, strconv.Quote(tt.created), 1)
		if err := Validate(TypeLeadCaptured, []byte(doc)); (err == nil) != tt.ok {
			t.Errorf("%d: %s, %s: Validate = %v, want ok %v", i, tt.email, tt.created, err, tt.ok)
		}
	}
}
