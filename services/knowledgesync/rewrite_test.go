package knowledgesync_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// rewriteAction marks the report line of a page written again because the
// conversion changed.
const rewriteAction = "rewritten (conversion changed)"

// clocks are the two ways a sync learns that a page is unchanged: its edit
// time is recent, so its content is read and compared, or a whole minute
// older than the last sync, so the state alone says so.
var clocks = []struct {
	name string
	// stateOnly says the edit times are old enough for the state alone to
	// say a page is unchanged.
	stateOnly bool
	opts      []fakenotion.Option
}{
	{"edited within the minute", false, []fakenotion.Option{fakenotion.WithRateLimit(300, 50)}},
	{"edited minutes before", true, []fakenotion.Option{fakenotion.WithRateLimit(300, 50),
		fakenotion.WithClock(func() time.Time { return time.Now().Add(-2 * time.Minute) })}},
}

// unmapLinks makes the page of a synced file, and its state, what a sync
// that did not map links left: the file's body converted without them,
// each link between files written as its text.
func (e *env) unmapLinks(name string) {
	e.t.Helper()
	doc, err := knowledgesync.ParseDocument(name, []byte(e.read(name)))
	must(e.t, err)
	must(e.t, e.fake.EditPage(doc.NotionID, mdnotion.ToBlocks(doc.Body)))
	must(e.t, knowledgesync.RecordUnmappedContent(context.Background(), e.sync, doc.NotionID, doc.Body))
}

// linkURLs returns the URLs the rich text of blocks, and of their
// children, links to.
func linkURLs(blocks []notion.Block) []string {
	var out []string
	for _, b := range blocks {
		for _, rt := range b.Content.RichText {
			if u := rt.URL(); u != "" {
				out = append(out, u)
			}
		}
		out = append(out, linkURLs(b.Children)...)
	}
	return out
}

// rewrites returns the report's lines of pages written again because the
// conversion changed.
func rewrites(rep knowledgesync.Report) []string {
	var out []string
	for _, a := range rep.Actions {
		if strings.Contains(a, rewriteAction) {
			out = append(out, a)
		}
	}
	return out
}

// TestSyncRewritesContentOfAnEarlierConversion: a page synced before links
// between files were mapped holds each such link as its text. While
// neither side changes, a sync writes the page again with the link (a dry
// run only says so), the sync after writes nothing, and an edit made in
// Notion then reads back with the relative link.
func TestSyncRewritesContentOfAnEarlierConversion(t *testing.T) {
	tests := []struct {
		name, file, body string
		// target is the file whose page the link opens, with fragment.
		target, fragment string
		// pulled is the line holding the link once read back from Notion.
		pulled string
	}{
		{"same folder", "overview.md", "# Overview\n\nSee [the plans](./pricing.md).\n", "pricing.md", "",
			"See [the plans](./pricing.md)."},
		{"parent folder with fragment", "sales/notes.md", "# Notes\n\nSee [tiers](../pricing.md#tiers).\n",
			"pricing.md", "#tiers", "See [tiers](../pricing.md#tiers)."},
		{"written loosely", "overview.md", "Overview\n========\n\n* first\n* see [pricing](pricing.md)\n",
			"pricing.md", "", "- see [pricing](./pricing.md)"},
	}
	for _, clock := range clocks {
		for _, tt := range tests {
			t.Run(clock.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, clock.opts...)
				writeFile(t, e.dir, "pricing.md", "# Pricing\n\nTeam plan.\n")
				writeFile(t, e.dir, tt.file, tt.body)
				e.run(false)
				e.unmapLinks(tt.file)
				id, want := e.pageOf(tt.file), e.pageURL(tt.target)+tt.fragment
				if got := linkURLs(e.fake.Content(id)); len(got) != 0 {
					t.Fatalf("the earlier conversion left links %v", got)
				}
				file := e.read(tt.file)

				before, writes := e.states(), e.fake.Writes()
				rep := e.run(true)
				if rep.ToNotion != 1 || len(rewrites(rep)) != 1 || !strings.Contains(rewrites(rep)[0], tt.file) {
					t.Errorf("dry run report %+v, want the page to be written again", rep)
				}
				if e.fake.Writes() != writes || !maps.Equal(e.states(), before) || len(linkURLs(e.fake.Content(id))) != 0 {
					t.Errorf("a dry run wrote: %d writes", e.fake.Writes()-writes)
				}

				rep = e.run(false)
				if rep.ToNotion != 1 || rep.ToLocal != 0 || rep.Conflicts != 0 || len(rewrites(rep)) != 1 {
					t.Errorf("report %+v, want the page written again and nothing else", rep)
				}
				if got := linkURLs(e.fake.Content(id)); !slices.Equal(got, []string{want}) {
					t.Errorf("Notion links to %v, want %s", got, want)
				}
				if got := e.read(tt.file); got != file {
					t.Errorf("%s changed:\n%s\nwant\n%s", tt.file, got, file)
				}
				e.checkStable()

				e.editInNotion(tt.file, "Edited in Notion.")
				if rep := e.run(false); rep.ToLocal != 1 || rep.ToNotion != 0 {
					t.Fatalf("edit in Notion not pulled alone: %+v", rep)
				}
				if got := e.read(tt.file); !strings.Contains(got, "\n"+tt.pulled+"\n") || !strings.HasSuffix(got, "\nEdited in Notion.\n") {
					t.Errorf("%s after the edit in Notion:\n%s\nwant the line %q and the edit", tt.file, got, tt.pulled)
				}
				e.checkStable()
			})
		}
	}
}

// TestSyncRewritesNotAPageChangedSince: a page the earlier conversion wrote
// that was edited since, in the file or in Notion, is pushed or pulled as
// any other, and not written again besides.
func TestSyncRewritesNotAPageChangedSince(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *env)
		// toNotion and toLocal are the pages pushed and pulled.
		toNotion, toLocal int
		// link says Notion ends with the link to pricing.md's page.
		link bool
	}{
		{"file edited", func(e *env) {
			writeFile(e.t, e.dir, "overview.md", e.read("overview.md")+"\nEdited.\n")
		}, 1, 0, true},
		{"page edited in Notion", func(e *env) { e.editInNotion("overview.md", "Edited in Notion.") }, 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "pricing.md", "# Pricing\n")
			writeFile(t, e.dir, "overview.md", "# Overview\n\nSee [the plans](./pricing.md).\n")
			e.run(false)
			e.unmapLinks("overview.md")
			tt.edit(e)
			rep := e.run(false)
			if rep.ToNotion != tt.toNotion || rep.ToLocal != tt.toLocal || rep.Conflicts != 0 || len(rewrites(rep)) != 0 {
				t.Errorf("report %+v, want %d pushed, %d pulled, none written again", rep, tt.toNotion, tt.toLocal)
			}
			if got := linkURLs(e.fake.Content(e.pageOf("overview.md"))); (len(got) == 1) != tt.link {
				t.Errorf("Notion links to %v, want a link: %v", got, tt.link)
			}
			e.checkStable()
		})
	}
}

// TestSyncNeverRewritesUnchangedPages: pages whose content today's
// conversion writes as it was written, or that Notion holds as the file
// reads (pulled, even with a link in a form Notion gives but does not take), are
// not written while neither side changes, sync after sync; once the edit
// times are old enough, their content is not even read. Unmapping a
// property, which changes what the state's fingerprints cover, writes
// nothing either.
func TestSyncNeverRewritesUnchangedPages(t *testing.T) {
	files := map[string]string{
		"plain.md":    "# Plain\n\nText with **bold**, `code` and a [site](https://example.com/a).\n",
		"loose.md":    "Loose\n=====\n\n* one\n* two\n\n__strong__ and *em*\n\n1) first\n",
		"table.md":    "# Table\n\n| Plan | Seats |\n|---|---|\n| Team | 5 |\n\n![Logo](https://example.com/logo.png)\n",
		"gaps.md":     "# Gaps\n\nSee [nothing](./missing.md) and [top](#top).\n",
		"sub/deep.md": "---\nstatus: Draft\n---\n# Deep\n\nSee [plain](../plain.md).\n",
	}
	// elsewhere is a page that is not synced, linked the way Notion's API
	// gives a link within the workspace: a path, which Notion does not take
	// back. The file holds the page's address instead, which writes a link
	// Notion holds in another form than it gave.
	elsewhere := "/" + strings.Repeat("ab", 16)
	for _, clock := range clocks {
		t.Run(clock.name, func(t *testing.T) {
			e, stateOnly := newEnv(t, clock.opts...), clock.stateOnly
			must(t, e.fake.AddProperty(e.db, "Status", "select"))
			e.mapProperties(map[string]string{"status": "Status"})
			for name, content := range files {
				writeFile(t, e.dir, name, content)
			}
			_, err := e.fake.AddPage(e.db, "From Notion", nil, linkParagraph("elsewhere", elsewhere))
			must(t, err)
			e.run(false)
			e.run(false) // settles what the first sync wrote within the minute
			if got := e.read("from-notion.md"); !strings.HasSuffix(got, "\nSee [elsewhere](https://www.notion.so"+elsewhere+").\n") {
				t.Fatalf("from-notion.md:\n%s", got)
			}
			for i := range 4 {
				if i == 2 {
					e.mapProperties(nil)
				}
				writes, reads := e.fake.Writes(), e.fake.Count(fakenotion.KindListChildren)
				rep := e.run(false)
				if d := e.fake.Writes() - writes; d != 0 || rep.ToNotion != 0 || len(rewrites(rep)) != 0 {
					t.Errorf("sync %d made %d writes to Notion: %+v", i+1, d, rep)
				}
				// Unmapping makes the pages read within the minute differ
				// from the state, and they are pulled.
				if (i != 2 || stateOnly) && (rep.ToLocal != 0 || len(rep.Actions) != 0) {
					t.Errorf("sync %d changed something: %+v", i+1, rep)
				}
				// Unmapping changes what the state's fingerprints cover: each
				// page is read once, then the state alone says it is unchanged.
				if d := e.fake.Count(fakenotion.KindListChildren) - reads; stateOnly && i != 2 && d != 0 {
					t.Errorf("sync %d read content %d times", i+1, d)
				}
			}
			if got := linkURLs(e.fake.Content(e.pageOf("from-notion.md"))); !slices.Equal(got, []string{elsewhere}) {
				t.Errorf("the page made in Notion links to %v, want %s", got, elsewhere)
			}
		})
	}
}
