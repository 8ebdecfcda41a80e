package mdnotion_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// roundTrip converts md to blocks and back.
func roundTrip(md string) string { return string(mdnotion.ToMarkdown(mdnotion.ToBlocks([]byte(md)))) }

// checkRoundTrip checks that md reads back as want (md itself when want is
// empty), and that want reads back as itself.
func checkRoundTrip(t *testing.T, md, want string) {
	t.Helper()
	if want == "" {
		want = md
	}
	if got := roundTrip(md); got != want {
		t.Errorf("round trip\n got %q\nwant %q", got, want)
	}
	if again := roundTrip(want); again != want {
		t.Errorf("not stable: %q", again)
	}
}

func TestRoundTripKeepsMarkdown(t *testing.T) {
	tests := []struct{ name, md string }{
		{"headings", "# One\n\n## Two\n\n### Three\n"},
		{"paragraph with styles", "Plain **bold** _italic_ `code` ~~gone~~ and [a link](https://example.com/x).\n"},
		{"bold italic", "**_both_** and **bold** **_inner_** **bold**\n"},
		{"soft break", "line one\nline two\n"},
		{"bullets nested", "- one\n- two\n  - two a\n    - deep\n- three\n"},
		{"numbered", "1. first\n2. second\n   1. inner\n3. third\n"},
		{"todo", "- [ ] open\n- [x] done\n  - [ ] child\n"},
		{"quote", "> quoted\n> text\n"},
		{"quote with list", "> intro\n> - a\n> - b\n"},
		{"code", "```go\nfunc main() {}\n\n// end\n```\n"},
		{"code with fence inside", "````\n```\nnot a fence\n```\n````\n"},
		{"divider", "before\n\n---\n\nafter\n"},
		{"escapes", "\\# not a heading, 1. not a list, \\*stars\\*, \\_under\\_, \\[brackets\\], \\<tag>, a\\~b, \\&amp;\n"},
		{"item with paragraph", "- item\n\n  more text\n"},
		{"link with styles", "[**bold** link](https://example.com/a_b)\n"},
		{"placeholder", `<!-- notion:block {"object":"block","type":"callout","callout":{"icon":{"emoji":"💡","type":"emoji"},"rich_text":[{"annotations":{"bold":false,"code":false,"color":"default","italic":false,"strikethrough":false,"underline":false},"text":{"content":"Tip"},"type":"text"}]}} -->` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := roundTrip(tt.md); got != tt.md {
				t.Errorf("round trip\n got %q\nwant %q", got, tt.md)
			}
		})
	}
}

// TestLinksNotionCannotOpen: a link Notion refuses keeps its text without
// the link; blanks in a URL are escaped.
func TestLinksNotionCannotOpen(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 1981)
	for _, tt := range []struct{ md, text, url string }{
		{"[pricing](./pricing.md)", "pricing", ""},
		{"[plans](#plans)", "plans", ""},
		{"[up](../README.md)", "up", ""},
		{"[site](www.example.com)", "site", ""},
		{"[x](javascript:alert(1))", "x", ""},
		{"[long](" + long + ")", "long", ""},
		{"[ok](" + long[:2000] + ")", "ok", long[:2000]},
		{"[x](<https://example.com/a b>)", "x", "https://example.com/a%20b"},
		{"[web](https://example.com/p?q=1#top)", "web", "https://example.com/p?q=1#top"},
		{"[mail](mailto:ada@example.com)", "mail", "mailto:ada@example.com"},
		{"<https://example.com>", "https://example.com", "https://example.com"},
		{"<ada@example.com>", "ada@example.com", "mailto:ada@example.com"},
	} {
		t.Run(tt.md[:min(len(tt.md), 40)], func(t *testing.T) {
			blocks := mdnotion.ToBlocks([]byte(tt.md + "\n"))
			if len(blocks) != 1 {
				t.Fatalf("%d blocks", len(blocks))
			}
			rt := blocks[0].Content.RichText
			if len(rt) != 1 || rt[0].Content() != tt.text || rt[0].URL() != tt.url {
				t.Errorf("rich text %q → %q, want %q → %q", notion.PlainText(rt), rt[0].URL(), tt.text, tt.url)
			}
		})
	}
}

func TestToBlocks(t *testing.T) {
	md := "# Title\n\n#### deep\n\nSome *it* and [l](https://u.example)\n\n- [x] done\n  1. sub\n\n> q\n\n```js\nx\n```\n\n***\n"
	blocks := mdnotion.ToBlocks([]byte(md))
	var types []string
	for _, b := range blocks {
		types = append(types, b.Type)
	}
	want := "heading_1 heading_3 paragraph to_do quote code divider"
	if strings.Join(types, " ") != want {
		t.Fatalf("types %v, want %s", types, want)
	}
	if p := blocks[2].Content.RichText; len(p) != 4 || !p[1].Annotations.Italic || p[3].URL() != "https://u.example" {
		t.Errorf("paragraph rich text %+v", p)
	}
	if todo := blocks[3]; !*todo.Content.Checked || len(todo.Children) != 1 || todo.Children[0].Type != "numbered_list_item" {
		t.Errorf("to-do %+v", todo)
	}
	if code := blocks[5]; code.Content.Language != "javascript" || notion.PlainText(code.Content.RichText) != "x" {
		t.Errorf("code %+v", code)
	}
}

func TestLongTextSplitsAtTheLimit(t *testing.T) {
	long := strings.Repeat("ü", 4500)
	blocks := mdnotion.ToBlocks([]byte(long + " **" + strings.Repeat("b", 2001) + "**\n\n```\n" + long + "\n```\n"))
	for _, b := range blocks {
		for _, rt := range b.Content.RichText {
			if n := len([]rune(rt.Text.Content)); n > notion.MaxTextLength {
				t.Errorf("%s rich text of %d characters", b.Type, n)
			}
		}
	}
	if n := len(blocks[0].Content.RichText); n != 5 {
		t.Errorf("paragraph in %d rich text objects, want 5", n)
	}
	if got := roundTrip(long + "\n"); got != long+"\n" {
		t.Error("split text does not join back")
	}
}

func TestUnsupportedBlocksArePlaceholders(t *testing.T) {
	image := notion.Block{Type: "image", Raw: json.RawMessage(`{"caption":[],"file":{"expiry_time":"2025-01-01T00:00:00.000Z","url":"https://s3.example.com/a.png"},"type":"file"}`)}
	toggle := notion.Block{Type: "toggle", Content: notion.BlockContent{}, Raw: json.RawMessage(`{"rich_text":[{"type":"text","text":{"content":"More -->"}}]}`),
		Children: []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text("hidden")}}}}
	para := notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text("parent")},
		Children: []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text("indented")}}}}
	in := []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text("before")}}, image, toggle, para}
	md := mdnotion.ToMarkdown(in)
	if strings.Count(string(md), "<!-- notion:block ") != 3 {
		t.Fatalf("markdown:\n%s", md)
	}
	out := mdnotion.ToBlocks(md)
	if len(out) != 4 || out[1].Type != "image" || out[2].Type != "toggle" || len(out[2].Children) != 1 ||
		out[3].Type != "paragraph" || notion.PlainText(out[3].Children[0].Content.RichText) != "indented" {
		t.Fatalf("blocks back: %+v", out)
	}
	a, _ := json.Marshal(in[1:])
	b, _ := json.Marshal(out[1:])
	if string(a) != string(b) {
		t.Errorf("placeholders changed the blocks:\n%s\n%s", a, b)
	}
}

func TestRichTextArraysStayWithinTheLimit(t *testing.T) {
	var md strings.Builder
	for i := range 250 {
		fmt.Fprintf(&md, "**b%d** i%d ", i, i)
	}
	blocks := mdnotion.ToBlocks([]byte(md.String() + "\n"))
	total := 0
	for _, b := range blocks {
		if n := len(b.Content.RichText); n > notion.MaxChildren {
			t.Errorf("%s with %d rich text objects", b.Type, n)
		}
		total += len(b.Content.RichText)
	}
	if len(blocks) != 5 || total != 500 {
		t.Errorf("%d blocks with %d rich text objects, want 5 and 500", len(blocks), total)
	}
}
