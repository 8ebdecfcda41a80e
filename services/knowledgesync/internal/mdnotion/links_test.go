package mdnotion_test

import (
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

const (
	pricingURL = "https://www.notion.so/251d2b5f268c4de2afe9c71ff92ca95c"
	otherURL   = "https://www.notion.so/Pricing-251d2b5f268c4de2afe9c71ff92ca95c"
)

// fileLinks maps link destinations to URLs, as a sync does for the files
// of its folder; extra are other URLs of the same pages.
type fileLinks struct {
	urls  map[string]string // URL by destination
	extra map[string]string // destination by URL
}

func (f fileLinks) NotionURL(dest string) (string, bool) {
	u, ok := f.urls[dest]
	return u, ok
}

func (f fileLinks) MarkdownDest(u string) (string, bool) {
	for d, x := range f.urls {
		if x == u {
			return d, true
		}
	}
	d, ok := f.extra[u]
	return d, ok
}

var testLinks = fileLinks{
	urls: map[string]string{
		"./pricing.md":         pricingURL,
		"./pricing.md#tiers":   pricingURL + "#tiers",
		"../sales/deck.md":     "https://www.notion.so/0f8fad5bd9cb469fa16570867728950e",
		"./broken.md":          "not a URL",
		"https://example.com/": "https://example.org/",
	},
	extra: map[string]string{otherURL: "./pricing.md", "/251d2b5f268c4de2afe9c71ff92ca95c": "./pricing.md"},
}

// TestWithLinksToBlocks: a link Notion refuses takes the URL the mapping
// gives, if Notion takes it; other links and images are not mapped. The
// blocks are shown as Markdown without the mapping: the URLs Notion gets.
func TestWithLinksToBlocks(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"relative link", "See [pricing](./pricing.md).", "See [pricing](" + pricingURL + ")."},
		{"fragment", "[tiers](./pricing.md#tiers)", "[tiers](" + pricingURL + "#tiers)"},
		{"parent folder", "[deck](../sales/deck.md)", "[deck](https://www.notion.so/0f8fad5bd9cb469fa16570867728950e)"},
		{"not mapped", "[gone](./gone.md) and [plans](#plans)", "gone and plans"},
		{"mapped to what Notion refuses", "[broken](./broken.md)", "broken"},
		{"absolute URL not asked", "[site](https://example.com/)", "[site](https://example.com/)"},
		{"path to a page not synced", "[x](/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#b)", "[x](https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#b)"},
		{"absolute path that names no page", "[docs](/docs/pricing)", "docs"},
		{"image", "![chart](./pricing.md)", "chart"},
		{"styles", "**[bold](./pricing.md)**", "[**bold**](" + pricingURL + ")"},
		{"table cell", "| a |\n| --- |\n| [p](./pricing.md) |", "| a |\n| --- |\n| [p](" + pricingURL + ") |"},
		{"wide row", "| a |\n| --- |\n| x | [p](./pricing.md) |",
			"| a |  |\n| --- | --- |\n| x | [p](" + pricingURL + ") |"},
		{"list item", "- [p](./pricing.md)\n  - [d](../sales/deck.md)",
			"- [p](" + pricingURL + ")\n  - [d](https://www.notion.so/0f8fad5bd9cb469fa16570867728950e)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := mdnotion.ToBlocks([]byte(tt.md+"\n"), mdnotion.WithLinks(testLinks))
			if got := string(mdnotion.ToMarkdown(blocks)); got != tt.want+"\n" {
				t.Errorf("Notion gets\n%q\nwant\n%q", got, tt.want+"\n")
			}
		})
	}
}

// TestWithLinksToMarkdown: a link whose URL the mapping knows is written
// with the mapping's destination; runs whose links map to one destination
// are one link.
func TestWithLinksToMarkdown(t *testing.T) {
	link := func(text, url string) notion.RichText {
		return notion.RichText{Type: "text", Text: &notion.TextContent{Content: text, Link: &notion.Link{URL: url}}}
	}
	para := func(rts ...notion.RichText) []notion.Block {
		return []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: rts}}}
	}
	tests := []struct {
		name   string
		blocks []notion.Block
		want   string
	}{
		{"page URL", para(link("pricing", pricingURL)), "[pricing](./pricing.md)"},
		{"another URL of the page", para(link("pricing", otherURL)), "[pricing](./pricing.md)"},
		{"path Notion gives", para(link("pricing", "/251d2b5f268c4de2afe9c71ff92ca95c")), "[pricing](./pricing.md)"},
		{"two URLs of one page", para(link("pri", pricingURL), link("cing", otherURL)), "[pricing](./pricing.md)"},
		{"fragment", para(link("tiers", pricingURL+"#tiers")), "[tiers](./pricing.md#tiers)"},
		{"unknown page", para(link("x", "https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")),
			"[x](https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)"},
		{"unknown page by the path Notion gives", para(link("x", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")),
			"[x](https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)"},
		{"table cell", mdnotion.ToBlocks([]byte("| a |\n| --- |\n| [p](" + pricingURL + ") |\n")),
			"| a |\n| --- |\n| [p](./pricing.md) |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(mdnotion.ToMarkdown(tt.blocks, mdnotion.WithLinks(testLinks))); got != tt.want+"\n" {
				t.Errorf("Markdown\n%q\nwant\n%q", got, tt.want+"\n")
			}
		})
	}
}

// TestWithLinksRoundTrip: Markdown with mapped links reads back the same
// through Notion.
func TestWithLinksRoundTrip(t *testing.T) {
	for _, md := range []string{
		"See [pricing](./pricing.md) and [**tiers**](./pricing.md#tiers).\n",
		"> [deck](../sales/deck.md)\n",
		"| plan | link |\n| --- | --- |\n| Team | [pricing](./pricing.md) |\n",
		"- [ ] read [pricing](./pricing.md)\n",
	} {
		opt := mdnotion.WithLinks(testLinks)
		if got := string(mdnotion.ToMarkdown(mdnotion.ToBlocks([]byte(md), opt), opt)); got != md {
			t.Errorf("round trip\n got %q\nwant %q", got, md)
		}
	}
}
