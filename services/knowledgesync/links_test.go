package knowledgesync_test

import (
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// pageURL returns the url of the page of a synced file, as Notion gives it.
func (e *env) pageURL(name string) string {
	e.t.Helper()
	page, ok := e.fake.Page(e.pageOf(name))
	if !ok || !strings.HasPrefix(page.URL, "https://www.notion.so/") {
		e.t.Fatalf("page of %s has url %q", name, page.URL)
	}
	return page.URL
}

// editInNotion appends a paragraph to a page, as a person in Notion would,
// keeping what the page holds.
func (e *env) editInNotion(name, text string) {
	e.t.Helper()
	id := e.pageOf(name)
	must(e.t, e.fake.EditPage(id, append(e.fake.Content(id), mdnotion.ToBlocks([]byte(text+"\n"))...)))
}

// TestSyncMapsLinksBetweenFiles: a relative link to another synced file is,
// in Notion, a link to that file's page, and an edit made in Notion reads
// back with the relative link; a link naming anything else keeps its text.
// Every file is new in the first sync, so a page linking to a page created
// after it is written again once that page exists.
func TestSyncMapsLinksBetweenFiles(t *testing.T) {
	tests := []struct {
		name string
		file string // the file holding the link
		dest string // the link's destination in the file
		// target is the file whose page the link opens in Notion, with
		// fragment; "" when the link is text.
		target, fragment string
		// pulled is the destination read back from Notion; dest when "".
		pulled string
	}{
		{"same folder", "overview.md", "./pricing.md", "pricing.md", "", ""},
		{"without ./", "overview.md", "pricing.md", "pricing.md", "", "./pricing.md"},
		{"subfolder", "overview.md", "./sales/playbook.md", "sales/playbook.md", "", ""},
		{"parent folder", "product/overview.md", "../sales/playbook.md", "sales/playbook.md", "", ""},
		{"to the top", "sales/notes.md", "../pricing.md", "pricing.md", "", ""},
		{"path cleaned", "sales/notes.md", "./../sales/./playbook.md", "sales/playbook.md", "", "./playbook.md"},
		{"fragment", "overview.md", "./pricing.md#tiers", "pricing.md", "#tiers", ""},
		{"page created before", "zz.md", "./pricing.md", "pricing.md", "", ""},
		{"spaces", "overview.md", "./team%20plans.md", "team plans.md", "", ""},
		{"no such file", "overview.md", "./missing.md", "", "", ""},
		{"anchor", "overview.md", "#plans", "", "", ""},
		{"not Markdown", "overview.md", "./data.csv", "", "", ""},
		{"hidden folder", "overview.md", "./.drafts/plan.md", "", "", ""},
		{"outside the folder", "overview.md", "../outside.md", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "pricing.md", "# Pricing\n\nTeam plan.\n")
			writeFile(t, e.dir, "team plans.md", "# Team plans\n")
			writeFile(t, e.dir, "sales/playbook.md", "# Playbook\n")
			writeFile(t, e.dir, "data.csv", "plan,seats\n")
			writeFile(t, e.dir, ".drafts/plan.md", "# Draft\n")
			writeFile(t, e.dir, tt.file, "# Links\n\nSee [it]("+tt.dest+").\n")

			e.run(false)
			want := "See it."
			if tt.target != "" {
				want = "See [it](" + e.pageURL(tt.target) + tt.fragment + ")."
			}
			if got := e.notionText(e.pageOf(tt.file)); got != "# Links\n\n"+want+"\n" {
				t.Errorf("Notion has\n%q\nwant\n%q", got, "# Links\n\n"+want+"\n")
			}
			e.checkStable()

			e.editInNotion(tt.file, "Edited in Notion.")
			if rep := e.run(false); rep.ToLocal != 1 {
				t.Fatalf("edit in Notion not pulled: %+v", rep)
			}
			want = "See it."
			if tt.target != "" {
				want = "See [it](" + tt.dest + ")."
				if tt.pulled != "" {
					want = "See [it](" + tt.pulled + ")."
				}
			}
			if got := e.read(tt.file); !strings.HasSuffix(got, "\n# Links\n\n"+want+"\n\nEdited in Notion.\n") {
				t.Errorf("%s after the edit in Notion:\n%s\nwant the paragraph %q", tt.file, got, want)
			}
			e.checkStable()
		})
	}
}

// TestSyncMapsLinksToPagesCreatedLater: a link to a file that gets its page
// in the same sync as the page holding the link is written once the page
// exists, whichever page is written first and whether the linking file
// changed; the sync after writes nothing.
func TestSyncMapsLinksToPagesCreatedLater(t *testing.T) {
	tests := []struct {
		name   string
		before map[string]string // files synced first
		after  map[string]string // files written for the second sync
		links  map[string]string // file → the file its page links to
	}{
		{"both new, each linking the other", nil,
			map[string]string{"a.md": "# A\n\nSee [b](./b.md).\n", "b.md": "# B\n\nSee [a](./a.md).\n"},
			map[string]string{"a.md": "b.md", "b.md": "a.md"}},
		{"a new page linking to itself", nil,
			map[string]string{"a.md": "# A\n\nSee [top](./a.md#a).\n"},
			map[string]string{"a.md": "a.md"}},
		{"a changed file linking a new file", map[string]string{"a.md": "# A\n"},
			map[string]string{"a.md": "# A\n\nSee [b](./b.md).\n", "b.md": "# B\n"},
			map[string]string{"a.md": "b.md"}},
		{"an unchanged file linking a file created since", map[string]string{"a.md": "# A\n\nSee [b](./b.md).\n"},
			map[string]string{"b.md": "# B\n"},
			map[string]string{"a.md": "b.md"}},
		{"a nested file linking a new file above", map[string]string{"x/a.md": "# A\n"},
			map[string]string{"x/a.md": "# A\n\nSee [b](../b.md).\n", "b.md": "# B\n"},
			map[string]string{"x/a.md": "b.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for name, content := range tt.before {
				writeFile(t, e.dir, name, content)
			}
			if len(tt.before) > 0 {
				e.run(false)
			}
			for name, content := range tt.after {
				if old, ok := tt.before[name]; ok { // keep the notion_id the first sync wrote
					content = strings.Replace(e.read(name), old, content, 1)
				}
				writeFile(t, e.dir, name, content)
			}
			e.run(false)
			for from, to := range tt.links {
				url := e.pageURL(to)
				if got := e.notionText(e.pageOf(from)); !strings.Contains(got, "]("+url) {
					t.Errorf("page of %s reads\n%s\nwant a link to %s", from, got, url)
				}
			}
			e.checkStable()
		})
	}
}

// TestSyncPullsLinksToSyncedPages: a link made in Notion to the page of a
// synced file, in any of the forms Notion gives, reads as the relative
// link to the file; a link to any other page stays as it is.
func TestSyncPullsLinksToSyncedPages(t *testing.T) {
	tests := []struct {
		name string
		url  func(e *env) string
		want string
	}{
		{"page url", func(e *env) string { return e.pageURL("sales/playbook.md") }, "../sales/playbook.md"},
		{"workspace path", func(e *env) string { return "/" + hexID(e.pageOf("sales/playbook.md")) }, "../sales/playbook.md"},
		{"with title and query", func(e *env) string {
			return "https://www.notion.so/acme/Playbook-" + hexID(e.pageOf("sales/playbook.md")) + "?pvs=4"
		}, "../sales/playbook.md"},
		{"block on the page", func(e *env) string { return e.pageURL("pricing.md") + "#0f8fad5bd9cb469fa16570867728950e" },
			"../pricing.md#0f8fad5bd9cb469fa16570867728950e"},
		{"same folder", func(e *env) string { return e.pageURL("product/specs.md") }, "./specs.md"},
		{"page not synced", func(*env) string { return "https://www.notion.so/Elsewhere-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
			"https://www.notion.so/Elsewhere-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"page not synced, by the path Notion gives", func(*env) string { return "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#b" },
			"https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "pricing.md", "# Pricing\n")
			writeFile(t, e.dir, "sales/playbook.md", "# Playbook\n")
			writeFile(t, e.dir, "product/specs.md", "# Specs\n")
			writeFile(t, e.dir, "product/overview.md", "# Overview\n")
			e.run(false)

			must(t, e.fake.EditPage(e.pageOf("product/overview.md"), linkParagraph("it", tt.url(e))))
			if rep := e.run(false); rep.ToLocal != 1 {
				t.Fatalf("edit in Notion not pulled: %+v", rep)
			}
			if got, want := e.read("product/overview.md"), "\nSee [it]("+tt.want+").\n"; !strings.HasSuffix(got, want) {
				t.Errorf("product/overview.md:\n%s\nwant it to end with %q", got, want)
			}
			e.checkStable()
		})
	}
}

// TestSyncKeepsLinksToPagesNotSynced: a link Notion gives as a path alone
// to a page that is not synced is pulled as the page's address, and a push
// of the paragraph edited keeps it a link to that page.
func TestSyncKeepsLinksToPagesNotSynced(t *testing.T) {
	const elsewhere = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	e := newEnv(t)
	writeFile(t, e.dir, "overview.md", "# Overview\n")
	e.run(false)
	id := e.pageOf("overview.md")
	must(t, e.fake.EditPage(id, linkParagraph("elsewhere", "/"+elsewhere)))
	e.run(false)
	pulled := "See [elsewhere](https://www.notion.so/" + elsewhere + ")."
	if got := e.read("overview.md"); !strings.HasSuffix(got, "\n"+pulled+"\n") {
		t.Fatalf("overview.md after the edit in Notion:\n%s\nwant it to end with %q", got, pulled)
	}

	writeFile(t, e.dir, "overview.md", strings.Replace(e.read("overview.md"), pulled, "Now see [elsewhere](https://www.notion.so/"+elsewhere+").", 1))
	if rep := e.run(false); rep.ToNotion != 1 {
		t.Fatalf("edit not pushed: %+v", rep)
	}
	content := e.fake.Content(id)
	if len(content) != 1 || len(content[0].Content.RichText) < 2 {
		t.Fatalf("Notion holds %s, want the edited paragraph", mdnotion.ToMarkdown(content))
	}
	if got, want := content[0].Content.RichText[1].URL(), "https://www.notion.so/"+elsewhere; got != want {
		t.Errorf("the link in Notion goes to %q, want %q", got, want)
	}
	e.checkStable()
}

// linkParagraph is a paragraph "See <text>." linking text to url, which
// may be a link Notion gives but does not take, such as a path alone.
func linkParagraph(text, url string) []notion.Block {
	link := notion.RichText{Type: "text", Text: &notion.TextContent{Content: text, Link: &notion.Link{URL: url}}}
	return []notion.Block{{Type: "paragraph", Content: notion.BlockContent{
		RichText: []notion.RichText{{Type: "text", Text: &notion.TextContent{Content: "See "}}, link,
			{Type: "text", Text: &notion.TextContent{Content: "."}}}}}}
}

// hexID is a page id without its hyphens, as page URLs hold it.
func hexID(id string) string { return strings.ReplaceAll(id, "-", "") }

// TestSyncPullsNewPagesLinkingEachOther: pages new in Notion that link to
// each other are written as files with relative links to each other,
// whichever is written first; the sync after writes nothing.
func TestSyncPullsNewPagesLinkingEachOther(t *testing.T) {
	e := newEnv(t)
	a, err := e.fake.AddPage(e.db, "Alpha", nil, nil)
	must(t, err)
	b, err := e.fake.AddPage(e.db, "Sales/Beta", nil, linkParagraph("alpha", "/"+hexID(a)))
	must(t, err)
	bPage, _ := e.fake.Page(b)
	must(t, e.fake.EditPage(a, linkParagraph("beta", bPage.URL)))

	e.run(false)
	for name, want := range map[string]string{"alpha.md": "See [beta](./sales-beta.md).", "sales-beta.md": "See [alpha](./alpha.md)."} {
		if got := e.read(name); !strings.HasSuffix(got, "\n"+want+"\n") {
			t.Errorf("%s:\n%s\nwant it to end with %q", name, got, want)
		}
	}
	e.checkStable()
}

// TestSyncKeepsBlocksLinkingPagesAsNotionWroteThem: a push leaves alone a
// block linking a synced page in the form Notion gave (a path alone), as
// it reads the same as the block the file gives.
func TestSyncKeepsBlocksLinkingPagesAsNotionWroteThem(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "pricing.md", "# Pricing\n")
	writeFile(t, e.dir, "overview.md", "# Overview\n")
	e.run(false)
	id := e.pageOf("overview.md")
	inNotion := "/" + hexID(e.pageOf("pricing.md"))
	must(t, e.fake.EditPage(id, append(linkParagraph("pricing", inNotion), mdnotion.ToBlocks([]byte("Second.\n"))...)))
	e.run(false)
	if got := e.read("overview.md"); !strings.HasSuffix(got, "\nSee [pricing](./pricing.md).\n\nSecond.\n") {
		t.Fatalf("overview.md after the edit in Notion:\n%s", got)
	}

	writeFile(t, e.dir, "overview.md", strings.Replace(e.read("overview.md"), "Second.", "Second, edited.", 1))
	deletes := e.fake.Count(fakenotion.KindDeleteBlock)
	if rep := e.run(false); rep.ToNotion != 1 {
		t.Fatalf("edit not pushed: %+v", rep)
	}
	if d := e.fake.Count(fakenotion.KindDeleteBlock) - deletes; d != 1 {
		t.Errorf("the push deleted %d blocks, want only the edited one", d)
	}
	if content := e.fake.Content(id); len(content) != 2 || content[0].Content.RichText[1].URL() != inNotion {
		t.Errorf("Notion holds %s, want the link as Notion wrote it, then the edited paragraph",
			mdnotion.ToMarkdown(content))
	}
	e.checkStable()
}
