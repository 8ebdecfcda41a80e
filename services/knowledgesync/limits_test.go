package knowledgesync_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

// TestSyncStaysWithinNotionsLimits: files that once broke Notion's limits
// sync (run fails on any request the fake refuses): a page over 500KB of
// CJK text, links Notion cannot open, and tags written as one string of
// comma-separated tags; a list tag holding a comma is reported.
func TestSyncStaysWithinNotionsLimits(t *testing.T) {
	e := newEnv(t)
	var big strings.Builder
	big.WriteString("# Big\n\n")
	for range 100 {
		big.WriteString(strings.Repeat("漢", 1900) + "\n\n") // 584,668 bytes in one request before
	}
	writeFile(t, e.dir, "big.md", big.String())
	writeFile(t, e.dir, "links.md", "# Links\n\nSee [pricing](./pricing.md), [plans](#plans) and [the site](<https://example.com/a b>).\n")
	writeFile(t, e.dir, "tags.md", "---\ntags: sales, outbound\n---\n# Tags\n")
	writeFile(t, e.dir, "comma.md", "---\ntags: [\"Doe, Jane\"]\n---\n# Comma\n")

	rep := e.run(false)
	if rep.ToNotion != 3 || len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], knowledgesync.ErrTagComma) ||
		!strings.Contains(rep.Problems[0].Error(), "comma.md") {
		t.Fatalf("report: to Notion %d, problems %v; want 3 pages and comma.md reported", rep.ToNotion, rep.Problems)
	}
	if got := e.notionText(e.pageOf("big.md")); got != strings.TrimSuffix(big.String(), "\n") {
		t.Errorf("big page reads back %d bytes, want %d", len(got), big.Len())
	}
	if got, want := e.notionText(e.pageOf("links.md")),
		"# Links\n\nSee pricing, plans and [the site](https://example.com/a%20b).\n"; got != want {
		t.Errorf("links page reads\n%q\nwant\n%q", got, want)
	}
	if page, _ := e.fake.Page(e.pageOf("tags.md")); len(page.Properties["Tags"].MultiSelect) != 2 {
		t.Errorf("tags.md's page has tags %+v, want sales and outbound", page.Properties["Tags"].MultiSelect)
	}
	writes := e.fake.Writes()
	if e.run(false); e.fake.Writes() != writes {
		t.Errorf("a second sync made %d writes", e.fake.Writes()-writes)
	}
}
