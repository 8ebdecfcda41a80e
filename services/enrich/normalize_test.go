package enrich_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/enrich"
)

func defaultFreeMail(t testing.TB) *enrich.FreeMail {
	t.Helper()
	f, err := enrich.NewFreeMail(enrich.DefaultFreeMailDomains())
	if err != nil {
		t.Fatalf("built-in free-mail list: %v", err)
	}
	return f
}

// defaultClassifier classifies with the built-in lists.
func defaultClassifier(t testing.TB) *enrich.Classifier {
	t.Helper()
	return enrich.NewClassifier(defaultFreeMail(t))
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wantCode string
	}{
		{in: "ada@example.com", want: "ada@example.com"},
		{in: "  Ada.Lovelace@Example.COM \t", want: "ada.lovelace@example.com"},
		{in: "ada+news@mail.example.co.uk", want: "ada+news@mail.example.co.uk"},
		{in: "", wantCode: enrich.CodeRequired},
		{in: "   ", wantCode: enrich.CodeRequired},
		{in: "ada.example.com", wantCode: enrich.CodeInvalidFormat},
		{in: "ada@", wantCode: enrich.CodeMissingDomain},
		{in: "@example.com", wantCode: enrich.CodeInvalidFormat},
		{in: "Ada Lovelace <ada@example.com>", wantCode: enrich.CodeInvalidFormat},
		{in: "<ada@example.com>", wantCode: enrich.CodeInvalidFormat},
		{in: "ada@example.com (Ada)", wantCode: enrich.CodeInvalidFormat},
		{in: `"ada lovelace"@example.com`, wantCode: enrich.CodeInvalidFormat},
		{in: "ada@@example.com", wantCode: enrich.CodeInvalidFormat},
		{in: "ada lovelace@example.com", wantCode: enrich.CodeInvalidFormat},
		{in: "ada@localhost", wantCode: enrich.CodeInvalidDomain},
		{in: "ada@[192.0.2.1]", wantCode: enrich.CodeInvalidDomain},
		{in: "ada@-example.com", wantCode: enrich.CodeInvalidDomain},
		{in: "ada@exa_mple.com", wantCode: enrich.CodeInvalidDomain},
		{in: strings.Repeat("a", 250) + "@example.com", wantCode: enrich.CodeInvalidFormat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := enrich.NormalizeEmail(tt.in)
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var fe *enrich.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want a *FieldError %s", tt.in, got, err, tt.wantCode)
			}
			if fe.Field != "email" || fe.Code != tt.wantCode {
				t.Errorf("error = %s/%s (%s), want email/%s", fe.Field, fe.Code, fe.Message, tt.wantCode)
			}
			if in := strings.ToLower(strings.TrimSpace(tt.in)); in != "" && strings.Contains(strings.ToLower(fe.Message), in) {
				t.Errorf("message %q repeats the address", fe.Message)
			}
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "example.com", want: "example.com"},
		{in: " Example.COM. ", want: "example.com"},
		{in: "https://www.example.com/about?x=1", want: "example.com"},
		{in: "www.www.example.com", want: "example.com"},
		{in: "https://blog.Example.co.uk/about", want: "example.co.uk"},
		{in: "a.b.example.com", want: "example.com"},
		{in: "acme.test", want: "acme.test"},
		{in: "co.uk", wantErr: true},
		{in: "github.io", wantErr: true},
		{in: "example", wantErr: true},
		{in: "exa mple.com", wantErr: true},
		{in: "example.com:8080", wantErr: true},
		{in: "http://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := enrich.NormalizeDomain(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("NormalizeDomain(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFreeMail(t *testing.T) {
	f := defaultFreeMail(t)
	for domain, want := range map[string]bool{
		"gmail.com": true, "googlemail.com": true, "proton.me": true, "163.com": true,
		"gmx.de": true, "gmx.net": true, "gmx.co.uk": true, "yandex.ru": true, "web.de": true,
		"example.com": false, "mail.gmail.com": false, "gmx": false, "notgmx.de": false,
		"gmail.com.evil.io": false, "webde.com": false,
	} {
		if got := f.Contains(domain); got != want {
			t.Errorf("Contains(%q) = %v, want %v", domain, got, want)
		}
	}

	if _, err := enrich.NewFreeMail([]string{"gmail.com", "bad domain", "*.x", "ok.*"}); err == nil {
		t.Error("NewFreeMail accepted malformed patterns")
	}
	var zero enrich.FreeMail
	if zero.Contains("gmail.com") {
		t.Error("the zero FreeMail matched a domain")
	}
}

func TestNormalize(t *testing.T) {
	captured := time.Date(2025, 11, 20, 9, 14, 3, 0, time.UTC)
	given := time.Date(2025, 11, 19, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	givenUTC := given.UTC()
	score := 72.0
	tests := []struct {
		name        string
		in          contracts.Lead
		want        contracts.Lead
		wantReasons []string // field:code
	}{
		{
			name: "business email gives the domain",
			in:   contracts.Lead{Email: " Ada@Example.COM ", FirstName: "  Ada ", LastName: "Lovelace  ", Company: " Engines ", SignalScore: &score},
			want: contracts.Lead{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Company: "Engines",
				Domain: "example.com", CreatedAt: &captured, SignalScore: &score},
		},
		{
			name: "email domain wins over the given one",
			in:   contracts.Lead{Email: "ada@example.com", Domain: "other.io"},
			want: contracts.Lead{Email: "ada@example.com", Domain: "example.com", CreatedAt: &captured},
		},
		{
			name: "free-mail without a domain",
			in:   contracts.Lead{Email: "bob@GMAIL.com"},
			want: contracts.Lead{Email: "bob@gmail.com", CreatedAt: &captured},
		},
		{
			name: "free-mail family",
			in:   contracts.Lead{Email: "bob@gmx.co.uk"},
			want: contracts.Lead{Email: "bob@gmx.co.uk", CreatedAt: &captured},
		},
		{
			name: "corporate subdomain gives the registrable domain",
			in:   contracts.Lead{Email: "ada@mail.Example.co.uk"},
			want: contracts.Lead{Email: "ada@mail.example.co.uk", Domain: "example.co.uk", CreatedAt: &captured},
		},
		{
			name: "disposable without a domain",
			in:   contracts.Lead{Email: "x@Mailinator.com"},
			want: contracts.Lead{Email: "x@mailinator.com", CreatedAt: &captured},
		},
		{
			name: "disposable subdomain without a domain",
			in:   contracts.Lead{Email: "x@eu.mailinator.com"},
			want: contracts.Lead{Email: "x@eu.mailinator.com", CreatedAt: &captured},
		},
		{
			name: "disposable keeps the given domain",
			in:   contracts.Lead{Email: "x@yopmail.com", Domain: "acme.io"},
			want: contracts.Lead{Email: "x@yopmail.com", Domain: "acme.io", CreatedAt: &captured},
		},
		{
			name: "free-mail keeps the given domain",
			in:   contracts.Lead{Email: "bob@gmail.com", Domain: "https://www.Acme.io/"},
			want: contracts.Lead{Email: "bob@gmail.com", Domain: "acme.io", CreatedAt: &captured},
		},
		{
			name: "created_at kept, in UTC",
			in:   contracts.Lead{Email: "ada@example.com", CreatedAt: &given, Title: " CTO ", Phone: " +44 1 ", Status: " new "},
			want: contracts.Lead{Email: "ada@example.com", Domain: "example.com", CreatedAt: &givenUTC, Title: "CTO", Phone: "+44 1", Status: "new"},
		},
		{
			name:        "invalid email",
			in:          contracts.Lead{Email: "not-an-email", FirstName: "X"},
			wantReasons: []string{"email:invalid_format"},
		},
		{
			name:        "every reason at once",
			in:          contracts.Lead{Email: "", Domain: "not a domain"},
			wantReasons: []string{"email:required", "domain:invalid_format"},
		},
		{
			name:        "free-mail with a bad given domain",
			in:          contracts.Lead{Email: "bob@gmail.com", Domain: "acme"},
			wantReasons: []string{"domain:invalid_format"},
		},
	}
	c := defaultClassifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := enrich.Normalize(tt.in, captured, c)
			var codes []string
			for _, r := range reasons {
				codes = append(codes, r.Field+":"+r.Code)
				if r.Message == "" {
					t.Errorf("reason %s:%s has no message", r.Field, r.Code)
				}
			}
			if !reflect.DeepEqual(codes, tt.wantReasons) {
				t.Fatalf("reasons = %v, want %v", codes, tt.wantReasons)
			}
			if tt.wantReasons != nil {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestNormalizeWithoutCaptureTime(t *testing.T) {
	got, reasons := enrich.Normalize(contracts.Lead{Email: "ada@example.com"}, time.Time{}, nil)
	if reasons != nil || got.CreatedAt != nil {
		t.Fatalf("Normalize = %+v, %v; want no created_at and no reasons", got, reasons)
	}
}

// emailGen draws addresses that are mostly valid, with random case and
// surrounding space, and sometimes arbitrary text.
func emailGen() *rapid.Generator[string] {
	valid := rapid.Custom(func(t *rapid.T) string {
		local := rapid.StringMatching(`[A-Za-z0-9]([A-Za-z0-9._+-]{0,20}[A-Za-z0-9])?`).Draw(t, "local")
		domain := rapid.SampledFrom([]string{"example.com", "Example.ORG", "gmail.com", "GMX.de", "sub.acme.co.uk", "web.de", "Mailinator.com", "eu.yopmail.com"}).Draw(t, "domain")
		pad := rapid.SampledFrom([]string{"", " ", "\t", "  \n"})
		return pad.Draw(t, "pre") + local + "@" + domain + pad.Draw(t, "post")
	})
	return rapid.OneOf(valid, valid, rapid.String())
}

func leadGen() *rapid.Generator[contracts.Lead] {
	return rapid.Custom(func(t *rapid.T) contracts.Lead {
		l := contracts.Lead{
			Email:     emailGen().Draw(t, "email"),
			FirstName: rapid.String().Draw(t, "first_name"),
			LastName:  rapid.String().Draw(t, "last_name"),
			Company:   rapid.String().Draw(t, "company"),
			Domain:    rapid.SampledFrom([]string{"", "acme.io", " https://www.Acme.io/x ", "bad domain"}).Draw(t, "domain"),
		}
		if rapid.Bool().Draw(t, "has_created_at") {
			ts := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "created_at"), 0).In(time.FixedZone("X", 7200))
			l.CreatedAt = &ts
		}
		return l
	})
}

func TestNormalizeProperties(t *testing.T) {
	c := defaultClassifier(t)
	captured := time.Date(2025, 11, 20, 9, 14, 3, 0, time.UTC)
	rapid.Check(t, func(t *rapid.T) {
		in := leadGen().Draw(t, "lead")
		once, reasons := enrich.Normalize(in, captured, c)
		if len(reasons) > 0 {
			return
		}
		if once.Email != strings.ToLower(once.Email) || once.Email != strings.TrimSpace(once.Email) {
			t.Fatalf("email %q is not lowercase and trimmed", once.Email)
		}
		if once.CreatedAt == nil {
			t.Fatal("created_at not set")
		}
		twice, reasons := enrich.Normalize(once, captured.Add(time.Hour), c)
		if len(reasons) > 0 {
			t.Fatalf("normalized lead %+v rejected on the second pass: %v", once, reasons)
		}
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("normalizing twice differs:\nonce  %+v\ntwice %+v", once, twice)
		}
	})
}

func TestNormalizeEmailProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		raw := emailGen().Draw(t, "email")
		once, err := enrich.NormalizeEmail(raw)
		if err != nil {
			return
		}
		if once != strings.ToLower(strings.TrimSpace(once)) {
			t.Fatalf("NormalizeEmail(%q) = %q: not lowercase and trimmed", raw, once)
		}
		if twice, err := enrich.NormalizeEmail(once); err != nil || twice != once {
			t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", once, twice, err, once)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	c := defaultClassifier(b)
	captured := time.Now()
	leads := []contracts.Lead{
		{Email: "  Ada.Lovelace@Example.COM ", FirstName: " Ada ", LastName: "Lovelace", Company: "Engines"},
		{Email: "bob@gmx.co.uk", Domain: "https://www.acme.io/"},
		{Email: "Ada Lovelace <ada@example.com>"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		enrich.Normalize(leads[i%len(leads)], captured, c)
	}
}
