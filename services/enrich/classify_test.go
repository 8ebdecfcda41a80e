package enrich_test

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/services/enrich"
)

func TestCompanyKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ACME, Inc.", "acme"},
		{"Acme Inc", "acme"},
		{"acme", "acme"},
		{"  Acme Corporation ", "acme"},
		{"Acme Ltd.", "acme"},
		{"Müller GmbH & Co. KG", "muller"},
		{"Société Générale S.A.", "societe generale"},
		{"Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo"},
		{"Toyota Kabushiki Kaisha", "toyota"},
		{"Nokia Oyj", "nokia"},
		{"Volvo AB", "volvo"},
		{"Orlen Sp. z o.o.", "orlen"},
		{"Philips N.V.", "philips"},
		{"Infosys Pvt. Ltd", "infosys"},
		{"Yandex OOO", "yandex"},
		{"O'Reilly Media", "oreilly media"},
		{"Ltd", "ltd"}, // nothing but a legal word: kept
		{"", ""},
	}
	for _, tt := range tests {
		if got := enrich.CompanyKey(tt.in); got != tt.want {
			t.Errorf("CompanyKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCompanyKeyProperties(t *testing.T) {
	suffixes := []string{"Inc.", ", Inc.", "LLC", "Ltd", "GmbH", "S.A.", "AG", "B.V.", "Oy", "S.p.A.", "K.K.", "Pty Ltd", "SARL"}
	rapid.Check(t, func(t *rapid.T) {
		words := rapid.SliceOfN(rapid.StringMatching(`[A-Za-z][a-z]{3,9}x`), 1, 3).Draw(t, "words")
		base := strings.Join(words, " ")
		key := enrich.CompanyKey(base)
		if again := enrich.CompanyKey(key); again != key {
			t.Fatalf("CompanyKey is not idempotent: %q → %q → %q", base, key, again)
		}
		suffix := rapid.SampledFrom(suffixes).Draw(t, "suffix")
		upper := rapid.Bool().Draw(t, "upper")
		variant := base + " " + suffix
		if upper {
			variant = strings.ToUpper(variant)
		}
		if got := enrich.CompanyKey(variant); got != key {
			t.Fatalf("CompanyKey(%q) = %q, want %q as for %q", variant, got, key, base)
		}
	})
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+44 20 7183 8750", "+442071838750"},
		{"0044 20 7183 8750", "+442071838750"},
		{"+1 (415) 555-2671", "+14155552671"},
		{" +49 30 901820 ", "+4930901820"},
		{"020 7183 8750", "020 7183 8750"}, // no country: as given
		{"+44 1", "+44 1"},                 // not a valid number: as given
		{"call me", "call me"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := enrich.NormalizePhone(tt.in); got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		raw := rapid.OneOf(rapid.StringMatching(`\+?[0-9 ()-]{0,20}`), rapid.String()).Draw(t, "phone")
		once := enrich.NormalizePhone(raw)
		if twice := enrich.NormalizePhone(once); twice != once {
			t.Fatalf("NormalizePhone(%q) = %q, then %q", raw, once, twice)
		}
	})
}

func TestRegistrableDomainProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		labels := rapid.SliceOfN(rapid.StringMatching(`[a-z][a-z0-9]{0,8}`), 0, 3).Draw(t, "labels")
		suffix := rapid.SampledFrom([]string{"com", "co.uk", "de", "com.au", "io", "github.io"}).Draw(t, "suffix")
		// "gtm" keeps clear of names that are suffixes themselves (za.com is one).
		name := "gtm" + rapid.StringMatching(`[a-z0-9-]{0,10}[a-z0-9]`).Draw(t, "name")
		host := strings.Join(append(labels, name, suffix), ".")
		reg, err := enrich.NormalizeDomain("https://" + host + "/x")
		if err != nil {
			t.Fatalf("NormalizeDomain(%q): %v", host, err)
		}
		if reg != name+"."+suffix {
			t.Fatalf("NormalizeDomain(%q) = %q, want %q", host, reg, name+"."+suffix)
		}
		if again, err := enrich.NormalizeDomain(reg); err != nil || again != reg {
			t.Fatalf("NormalizeDomain(%q) = %q, %v: not idempotent", reg, again, err)
		}
	})
}

func TestClassify(t *testing.T) {
	c := enrich.NewClassifier(defaultFreeMail(t))
	tests := []struct {
		email string
		want  enrich.Notes
	}{
		{"ada@acme.io", enrich.Notes{}},
		{"bob@gmail.com", enrich.Notes{FreeMail: true}},
		{"x@mailinator.com", enrich.Notes{Disposable: true}},
		{"x@eu.mailinator.com", enrich.Notes{Disposable: true}},
		{"sales@acme.io", enrich.Notes{Role: true}},
		{"info+leads@acme.io", enrich.Notes{Role: true}},
		{"no-reply@gmail.com", enrich.Notes{FreeMail: true, Role: true}},
		{"salesman@acme.io", enrich.Notes{}},
	}
	for _, tt := range tests {
		if got := c.Classify(tt.email); got != tt.want {
			t.Errorf("Classify(%q) = %+v, want %+v", tt.email, got, tt.want)
		}
	}
}
