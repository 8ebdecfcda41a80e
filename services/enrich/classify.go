package enrich

import (
	"bufio"
	_ "embed"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

//go:embed disposable.txt
var disposableList string

//go:embed roles.txt
var roleList string

// Notes are what normalization learns about a lead's address beyond its
// form. They feed scoring and spare provider calls.
type Notes struct {
	FreeMail   bool // at a free-mail provider: the domain says nothing of the company
	Disposable bool // at a disposable-mail provider
	Role       bool // a function's mailbox, such as sales@, rather than a person's
}

// AtMailProvider reports whether the address is at a free-mail or a
// disposable-mail provider, whose domain names the mail service rather than
// the lead's company.
func (n Notes) AtMailProvider() bool { return n.FreeMail || n.Disposable }

// Classifier tells free-mail, disposable and role addresses apart. A nil
// Classifier finds nothing.
type Classifier struct {
	free       *FreeMail
	disposable map[string]bool
	roles      map[string]bool
}

// NewClassifier returns a classifier using free and the built-in
// disposable-domain and role-address lists.
func NewClassifier(free *FreeMail) *Classifier {
	return &Classifier{free: free, disposable: lineSet(disposableList), roles: lineSet(roleList)}
}

// Classify returns the notes on a normalized email.
func (c *Classifier) Classify(email string) Notes {
	at := strings.LastIndexByte(email, '@')
	if c == nil || at < 0 {
		return Notes{}
	}
	local, domain := email[:at], email[at+1:]
	local, _, _ = strings.Cut(local, "+")
	reg, _ := RegistrableDomain(domain)
	return Notes{
		FreeMail:   c.free.Contains(domain),
		Disposable: c.disposable[domain] || c.disposable[reg],
		Role:       c.roles[local],
	}
}

// lineSet reads a list of one entry a line, skipping blanks and # comments.
func lineSet(list string) map[string]bool {
	set := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = true
		}
	}
	return set
}

// legalSuffixes are legal-form words that end company names in many
// languages, after punctuation is removed and dots dropped ("S.A." is
// "sa", "Sp. z o.o." is "sp z oo").
var legalSuffixes = map[string]bool{
	// English
	"inc": true, "incorporated": true, "corp": true, "corporation": true, "co": true, "company": true,
	"llc": true, "llp": true, "lp": true, "ltd": true, "limited": true, "plc": true, "pllc": true,
	"pty": true, "pvt": true, "pte": true, "lc": true,
	// German, Austrian, Swiss
	"gmbh": true, "ag": true, "kg": true, "kgaa": true, "ohg": true, "ug": true, "mbh": true, "ev": true,
	// French, Spanish, Italian, Portuguese
	"sa": true, "sas": true, "sasu": true, "sarl": true, "eurl": true, "sl": true, "slu": true,
	"srl": true, "spa": true, "sapa": true, "snc": true, "ltda": true, "lda": true, "eireli": true, "me": true,
	"sab": true, "cv": true, "de": true, "rl": true,
	// Dutch, Belgian
	"bv": true, "nv": true, "bvba": true, "vof": true,
	// Nordic
	"ab": true, "as": true, "asa": true, "aps": true, "oy": true, "oyj": true, "hf": true, "ehf": true,
	// Central and Eastern Europe
	"sp": true, "z": true, "oo": true, "sro": true, "kft": true, "zrt": true, "nyrt": true,
	"doo": true, "dd": true, "ooo": true, "zao": true, "oao": true, "pao": true,
	// Asia
	"kk": true, "kabushiki": true, "kaisha": true, "yk": true, "bhd": true, "sdn": true, "tbk": true, "pt": true,
	"jsc": true,
}

// CompanyKey returns the key under which company names match: accents
// removed, lowercase, dots dropped, other punctuation as spaces, and legal
// forms at the end removed ("ACME, Inc.", "Acme Inc" and "acme" all give
// "acme"; "Müller GmbH & Co. KG" gives "muller"). A name made only of legal
// words keeps its first. The display name is kept as given elsewhere.
func CompanyKey(name string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r), r == '.', r == '\'', r == '’':
			// accents, dots and apostrophes join what they separate
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	for len(words) > 1 && legalSuffixes[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}
